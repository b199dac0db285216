// The HTTP client that delivers webhooks: node:http(s) with keep-alive agents (one connection pool per
// process, reused across deliveries), a deadline over the whole exchange, and a connect-time guard: every
// address a host name resolves to is checked against the target policy by the agents' own `lookup`, so the
// socket is opened to an address that was checked, never to a second, unchecked resolution (DNS rebinding).
// Host header and TLS server name stay the URL's host.
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { storableText, storableTextOrNull } from "../lib/text.js";
import { RefusedTarget, refusedAddress, type TargetPolicy } from "./target-policy.js";

const EXCERPT_BYTES = 1024;
/** A response body is read (so the connection can be reused) up to this size; past it the socket is dropped. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

export interface HttpOutcome {
  statusCode: number | null;
  error: string | null;
  excerpt: string | null;
  retryAfter: string | null;
  durationMs: number;
  /** The target was refused before any byte was sent (policy): retrying cannot help. */
  refused: boolean;
}

export interface DeliveryClient {
  post(url: URL, body: string, headers: Record<string, string>, timeoutMs: number): Promise<HttpOutcome>;
  close(): void;
}

/** A resolver (for tests: one that answers what they choose); defaults to the system's. */
export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) => dns.lookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))));

export function createDeliveryClient(policy: TargetPolicy, opts: { resolve?: Resolve; maxSockets?: number } = {}): DeliveryClient {
  const resolve = opts.resolve ?? systemResolve;
  const lookup: LookupFunction = (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const allowed = found.filter((a) => (options.family ? a.family === options.family : true));
        for (const a of allowed) {
          const reason = refusedAddress(policy, hostname, a.address);
          if (reason) return callback(new RefusedTarget(reason), "", 0);
        }
        if (allowed.length === 0) return callback(Object.assign(new Error(`cannot resolve ${hostname}`), { code: "ENOTFOUND" }), "", 0);
        if (options.all) return (callback as unknown as (e: null, a: typeof allowed) => void)(null, allowed);
        callback(null, allowed[0]!.address, allowed[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };
  const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 64, lookup };
  const agents = { http: new http.Agent(agentOptions), https: new https.Agent(agentOptions) };

  return {
    post(url, body, headers, timeoutMs) {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      return new Promise<HttpOutcome>((done) => {
        let settled = false;
        const finish = (outcome: Omit<HttpOutcome, "durationMs">) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          done({ ...outcome, durationMs: elapsed() });
        };
        const fail = (error: Error) =>
          finish({
            statusCode: null,
            error: storableText(error instanceof RefusedTarget ? `target refused: ${error.message}` : describe(error)),
            excerpt: null,
            retryAfter: null,
            refused: error instanceof RefusedTarget,
          });
        const client = url.protocol === "https:" ? https : http;
        const req = client.request(
          url,
          {
            method: "POST",
            headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
            agent: url.protocol === "https:" ? agents.https : agents.http,
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on("data", (chunk: Buffer) => {
              if (size < EXCERPT_BYTES) chunks.push(chunk);
              size += chunk.length;
              if (size > DRAIN_LIMIT_BYTES) res.destroy();
            });
            const settle = () => {
              const status = res.statusCode ?? 0;
              const retryAfter = res.headers["retry-after"];
              finish({
                statusCode: status,
                error: status >= 200 && status < 300 ? null : `HTTP ${status}`,
                // A subscriber's answer is stored as text: whatever bytes it sent must not break the attempt's record.
                excerpt: storableTextOrNull(chunks.length ? Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString("utf8") : null),
                retryAfter: typeof retryAfter === "string" ? retryAfter : null,
                refused: false,
              });
            };
            res.on("end", settle);
            res.on("close", settle); // dropped past the drain limit, or the server closed early: the status stands
            res.on("error", () => undefined);
          },
        );
        const timer = setTimeout(() => {
          req.destroy();
          finish({ statusCode: null, error: `timed out after ${timeoutMs} ms`, excerpt: null, retryAfter: null, refused: false });
        }, timeoutMs);
        req.on("error", fail);
        req.end(body);
      });
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/** Connection errors in plain words: what was refused, and why. */
function describe(error: NodeJS.ErrnoException & { address?: string; port?: number }): string {
  const where = error.address ? `${error.address}${error.port ? `:${error.port}` : ""}` : "";
  switch (error.code) {
    case "ECONNREFUSED":
      return `connection refused by ${where} (nothing listens there)`;
    case "ECONNRESET":
      return "the connection was reset by the subscriber";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot resolve the host (${error.code})`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `no route to ${where}`;
    default:
      return error.message;
  }
}
