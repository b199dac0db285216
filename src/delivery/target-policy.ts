// Which URLs a subscription may target. In production, private, loopback, link-local and other
// non-public addresses are refused unless SUBSCRIPTION_ALLOWED_HOSTS lists the host or a CIDR holding it,
// so that a subscription cannot turn the service against its own network. Checked at creation and before
// every delivery, and the delivery connects only to an address checked at connect time
// (delivery/http-client.ts), so a name that answers public first and internal later gets nowhere.
import { lookup } from "node:dns/promises";
import ipaddr from "ipaddr.js";
import type { Config } from "../config/env.js";

/** The policy the configuration sets: public addresses only in production, SUBSCRIPTION_ALLOWED_HOSTS excepted. */
export function targetPolicyOf(config: Pick<Config, "NODE_ENV" | "SUBSCRIPTION_ALLOWED_HOSTS">): TargetPolicy {
  return { enforcePublic: config.NODE_ENV === "production", allowedHosts: config.SUBSCRIPTION_ALLOWED_HOSTS };
}

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
        const candidate =
          range.kind() === "ipv4" && address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress()
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

/** Why an address may not be targeted under the policy, or null when it may. */
export function refusedAddress(policy: TargetPolicy, hostname: string, text: string): string | null {
  if (!policy.enforcePublic) return null;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  let compatible = false;
  try {
    const parsed = ipaddr.parse(text);
    // IPv4-compatible IPv6 (::a.b.c.d, deprecated) reaches the IPv4 address on many stacks: never public.
    compatible = parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0) && (parsed as ipaddr.IPv6).parts[6] !== 0;
    address = ipaddr.process(text);
  } catch {
    return `${text} is not an IP address`;
  }
  const range = compatible ? "ipv4Compatible" : address.range();
  if (range === "unicast" || allowListed(policy, hostname, address)) return null;
  return `${hostname} resolves to a ${range} address; allow it with SUBSCRIPTION_ALLOWED_HOSTS`;
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
    const reason = refusedAddress(policy, hostname, text);
    if (reason) return { ok: false, reason };
  }
  return { ok: true };
}

/** A target the policy refuses (thrown by the connect-time checks). */
export class RefusedTarget extends Error {}

/**
 * A broker host's address to connect to: resolved once and checked, so the connection goes to the address
 * that was checked (as the HTTP client's connect-time guard does). Throws RefusedTarget when the policy
 * refuses it, and the resolver's error when the name does not resolve.
 */
export async function checkedAddress(policy: TargetPolicy, hostname: string): Promise<string> {
  const host = hostname.replace(/^\[|\]$/g, "");
  const addresses = ipaddr.isValid(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  for (const text of addresses) {
    const reason = refusedAddress(policy, host, text);
    if (reason) throw new RefusedTarget(reason);
  }
  if (addresses.length === 0) throw Object.assign(new Error(`cannot resolve ${host}`), { code: "ENOTFOUND" });
  return addresses[0]!;
}

/** A broker's host checked against the policy (at creation: docs/delivery.md, "Destinations"). */
export async function checkBrokerTarget(policy: TargetPolicy, url: URL): Promise<TargetCheck> {
  if (!policy.enforcePublic) return { ok: true };
  try {
    await checkedAddress(policy, url.hostname);
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: error instanceof RefusedTarget ? error.message : `cannot resolve ${url.hostname}` };
  }
}
