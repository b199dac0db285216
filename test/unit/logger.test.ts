import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/observability/logger.js";

function capture() {
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on("data", (b: Buffer) => lines.push(...b.toString().split("\n").filter(Boolean)));
  return { log: createLogger({ level: "info", destination: stream }), lines };
}

describe("log redaction", () => {
  it("never writes a Postgres error's detail or where (they quote personal data)", async () => {
    const { log, lines } = capture();
    const err = Object.assign(new Error("duplicate key value violates unique constraint"), {
      code: "23505",
      detail: "Key (email)=(jane.doe@example.com) already exists.",
      where: "SQL function \"f\" statement 1 with lastname Doe",
    });
    log.error({ err }, "job failed");
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("23505");
    expect(lines[0]).not.toContain("jane.doe@example.com");
    expect(lines[0]).not.toContain("Doe");
  });

  it("never writes secrets, signatures or a lastname", async () => {
    const { log, lines } = capture();
    log.info({ req: { headers: { authorization: "Bearer sekret-token", "x-hub-signature": "sha256=abc" } }, booking: { lastname: "Doe" } }, "x");
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).not.toMatch(/sekret-token|sha256=abc|Doe/);
  });
});
