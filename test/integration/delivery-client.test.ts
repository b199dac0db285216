// The delivery HTTP client against real servers on loopback, with a resolver the test controls.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDeliveryClient, type Resolve } from "../../src/delivery/http-client.js";
import { refusedAddress } from "../../src/delivery/target-policy.js";

let server: http.Server;
let port: number;
const hits: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits.push(String(req.headers.host));
    if (req.url === "/nul") return void res.writeHead(200).end(Buffer.from([0x6f, 0x6b, 0x00, 0x21]));
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const enforce = { enforcePublic: true, allowedHosts: [] };

describe("delivery client", () => {
  it("connects only to the address it checked: a name that turns internal after the first look-up is refused", async () => {
    // First answer public (what a creation-time check would have seen), then loopback (the rebinding).
    let calls = 0;
    const rebinding: Resolve = async () => (calls++ === 0 ? [{ address: "93.184.216.34", family: 4 }] : [{ address: "127.0.0.1", family: 4 }]);
    await rebinding("hooks.example"); // the earlier, public answer
    const client = createDeliveryClient(enforce, { resolve: rebinding });
    const before = hits.length;
    const outcome = await client.post(new URL(`http://hooks.example:${port}/x`), "{}", {}, 2_000);
    client.close();
    expect(outcome).toMatchObject({ statusCode: null, refused: true });
    expect(outcome.error).toContain("loopback");
    expect(hits.length).toBe(before); // nothing reached the internal server
  });

  it("keeps the Host header of the URL while connecting to the resolved, allowed address", async () => {
    const allowed = { enforcePublic: true, allowedHosts: ["127.0.0.0/8"] };
    const client = createDeliveryClient(allowed, { resolve: async () => [{ address: "127.0.0.1", family: 4 }] });
    const outcome = await client.post(new URL(`http://hooks.example:${port}/x`), "{}", {}, 2_000);
    client.close();
    expect(outcome.statusCode).toBe(204);
    expect(hits.at(-1)).toBe(`hooks.example:${port}`);
  });

  it("stores a subscriber's answer with a NUL byte as text", async () => {
    const client = createDeliveryClient({ enforcePublic: false, allowedHosts: [] });
    const outcome = await client.post(new URL(`http://127.0.0.1:${port}/nul`), "{}", {}, 2_000);
    client.close();
    expect(outcome).toMatchObject({ statusCode: 200, excerpt: "ok!" });
  });

  it("says what was refused on a closed port", async () => {
    const client = createDeliveryClient({ enforcePublic: false, allowedHosts: [] });
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const outcome = await client.post(new URL(`http://127.0.0.1:${closedPort}/x`), "{}", {}, 2_000);
    client.close();
    expect(outcome.error).toBe(`connection refused by 127.0.0.1:${closedPort} (nothing listens there)`);
  });

  it("refuses IPv4-compatible IPv6 (::/96) and other non-public addresses in production", () => {
    // What `new URL("http://[::127.0.0.1]/")` hands over: ::7f00:1, "unicast" to ipaddr.js.
    expect(refusedAddress(enforce, "::7f00:1", "::7f00:1")).toContain("ipv4Compatible");
    expect(refusedAddress(enforce, "::127.0.0.1", "::127.0.0.1")).not.toBeNull();
    expect(refusedAddress(enforce, "::ffff:127.0.0.1", "::ffff:127.0.0.1")).toContain("loopback");
    expect(refusedAddress(enforce, "x", "10.1.2.3")).toContain("private");
    expect(refusedAddress(enforce, "x", "93.184.216.34")).toBeNull();
  });
});
