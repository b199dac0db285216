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

describe("redaction by value, in other languages, and of free text", () => {
  it("hides French, Spanish, German and Portuguese key names, accents and all", () => {
    const contact = {
      nom: "Dupont",
      Prénom: "Jeanne",
      courriel: "jd@exemple.fr",
      téléphone: "0612345678",
      telefono: "612345678",
      correo_electronico: "x@y.es",
      nombre: "Lucía",
      apellidos: "García",
      Vorname: "Jörg",
      Nachname: "Müller",
      Telefonnummer: "01701234567",
      adresse: { rue: "1 rue de la Paix", ville: "Paris" },
      nome: "João",
      sobrenome: "Silva",
      endereco: "Rua B",
      celular: "11987654321",
    };
    const shown = JSON.stringify(redactForDisplay({ reservation: { contact } }));
    for (const value of [
      "Dupont",
      "Jeanne",
      "jd@",
      "0612345678",
      "612345678",
      "x@y",
      "Lucía",
      "García",
      "Jörg",
      "Müller",
      "0170",
      "rue de la Paix",
      "João",
      "Silva",
      "Rua B",
      "1198",
    ]) {
      expect(shown).not.toContain(value);
    }
  });

  it("hides e-mail addresses and phone numbers under any key, and e-mail addresses inside text", () => {
    const shown = redactForDisplay({
      contact: { who: "jane.doe+fleet@example.co.uk", reach: "+33 6 12 34 56 78", alt: "06.12.34.56.78", us: "(555) 123-4567", raw: "+4915112345678" },
      message: "please call back, or write to jane.doe@example.com today",
    }) as { contact: Record<string, string>; message: string };
    expect(Object.values(shown.contact)).toEqual(Array(5).fill("[redacted]"));
    expect(shown.message).toBe("please call back, or write to [redacted] today");
  });

  it("leaves ids, dates, times, amounts, versions and addresses of machines as they are", () => {
    const plain = {
      reservationId: "4711",
      externalId: "1234567890123",
      uuid: "6e5698db-c07f-4a6e-85b2-768f474cd8c6",
      occurredAt: "2026-12-03T14:05:09.123Z",
      date: "2026-12-03",
      dotted: "03.12.2026",
      dashed: "03-12-2026",
      slashed: "03/12/2026",
      time: "14:05:09",
      epoch: "1764770709",
      amount: "1.234.567,50",
      spaced: "1 234 567",
      price: "129.90",
      version: "26.12.1",
      ip: "10.0.0.12",
      tracking: "1Z999AA10123456784",
      carrier: "ups",
      numbers: 33612345678,
    };
    expect(redactForDisplay(plain)).toEqual(plain);
  });

  it("shows free text (notes, comments) only when asked, and never in the logs", async () => {
    const body = { reservation: { id: "4711", notes: "gate code 4411, ask for Jeanne", Commentaire: "fragile", remarks: ["x"] } };
    expect(redactForDisplay(body)).toEqual({
      reservation: { id: "4711", notes: "[free text: admins only]", Commentaire: "[free text: admins only]", remarks: "[free text: admins only]" },
    });
    expect(redactForDisplay(body, { freeText: true })).toEqual(body);
    const { log, lines } = capture();
    log.info({ body }, "x");
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).not.toContain("gate code");
    expect(lines[0]).not.toContain("fragile");
  });
});
