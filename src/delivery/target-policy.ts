// Which URLs a subscription may target. In production, private, loopback, link-local and other
// non-public addresses are refused unless SUBSCRIPTION_ALLOWED_HOSTS lists the host or a CIDR holding it,
// so that a subscription cannot turn the service against its own network. Checked at creation and again
// before every delivery (DNS may have changed since).
import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";

export interface TargetPolicy {
  enforcePublic: boolean;
  allowedHosts: readonly string[];
}

export type TargetCheck = { ok: true } | { ok: false; reason: string };

function allowListed(policy: TargetPolicy, hostname: string, address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return policy.allowedHosts.some((entry) => {
    if (entry.includes("/")) {
      try {
        const [range, bits] = ipaddr.parseCIDR(entry);
        const candidate = range.kind() === "ipv4" && address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()
          ? (address as ipaddr.IPv6).toIPv4Address()
          : address;
        return candidate.kind() === range.kind() && candidate.match(range, bits);
      } catch {
        return false;
      }
    }
    return entry.toLowerCase() === hostname.toLowerCase();
  });
}

export function parseTargetUrl(raw: string): URL | undefined {
  try {
    const url = new URL(raw);
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
    if (url.username || url.password) return undefined;
    return url;
  } catch {
    return undefined;
  }
}

export async function checkTarget(policy: TargetPolicy, raw: string): Promise<TargetCheck> {
  const url = parseTargetUrl(raw);
  if (!url) return { ok: false, reason: "url must be an absolute http(s) URL without credentials" };
  if (!policy.enforcePublic) return { ok: true };
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  try {
    addresses = ipaddr.isValid(hostname) ? [hostname] : (await lookup(hostname, { all: true })).map((a) => a.address);
  } catch {
    return { ok: false, reason: `cannot resolve ${hostname}` };
  }
  for (const text of addresses) {
    const address = ipaddr.process(text);
    if (address.range() !== "unicast" && !allowListed(policy, hostname, address)) {
      return { ok: false, reason: `${hostname} resolves to a ${address.range()} address; allow it with SUBSCRIPTION_ALLOWED_HOSTS` };
    }
  }
  return { ok: true };
}
