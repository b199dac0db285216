import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactForDisplay } from "../../src/observability/logger.js";

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
      where: 'SQL function "f" statement 1 with lastname Doe',
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

describe("one redaction rule for logs and the console", () => {
  const sensitive = {
    firstName: "Jane",
    lastName: "Doe",
    phoneNumber: "+351 912 345 678",
    emailAddress: "jane@example.com",
    mobile: "912345678",
    address: { street: "Rua A 1", city: "Lisboa" },
    Authorization: "Bearer abc-secret-1",
    access_token: "tok-secret-2",
    api_key: "key-secret-3",
    clientSecret: "cs-secret-4",
    "X-Api-Key": "key-secret-5",
    LAST_NAME: "Doe",
    "e-mail": "jane@example.com",
  };
  const values = ["Jane", "Doe", "912", "jane@example.com", "Rua A 1", "secret-1", "secret-2", "secret-3", "secret-4", "secret-5"];

  it("hides every family in camelCase, snake_case, kebab-case and upper case, at any depth", () => {
    const shown = JSON.stringify(redactForDisplay({ data: { reservation: { contact: [sensitive] } }, ...sensitive }));
    for (const value of values) expect(shown).not.toContain(value);
    // What is not personal or secret stays readable.
    expect(redactForDisplay({ reservationId: "4711", state: "sealed", location: { city: "ENFIELD", country: "GB" }, webhookId: "w-1" })).toEqual({
      reservationId: "4711",
      state: "sealed",
      location: { city: "ENFIELD", country: "GB" },
      webhookId: "w-1",
    });
  });

  it("the logs apply the same rule to every line's fields", async () => {
    const { log, lines } = capture();
    log.info({ payload: { nested: { deeper: sensitive } }, reservationId: "4711" }, "x");
    await new Promise((r) => setImmediate(r));
    for (const value of values) expect(lines[0]).not.toContain(value);
    expect(lines[0]).toContain("4711");
  });
});
