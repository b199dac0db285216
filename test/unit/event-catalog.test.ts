import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { withCatalog } from "../../scripts/lib/event-docs.js";
import { catalogEntryOf, createEvent, EVENT_CATALOG, eventCatalogDocument, eventSchemaProblem, exampleEvent } from "../../src/domain/event-catalog.js";
import type { NewEvent } from "../../src/domain/events.js";

const shipment = (details: Record<string, unknown>, over: Partial<NewEvent> = {}): NewEvent => ({
  entity: "shipment",
  entityId: "eb27ff8e-b353-4a3f-8e7e-69576e64ee1a",
  externalId: null,
  type: "tracking_stopped",
  status: "in_transit",
  previousStatus: "in_transit",
  providerStatus: "in_transit",
  sequence: 4,
  time: new Date(),
  timeSource: "hub",
  details,
  dedupeKey: "k",
  ...over,
});

describe("the event catalog", () => {
  it("has one entry per type, each with a schema its own example passes", () => {
    const types = EVENT_CATALOG.map((e) => e.type);
    expect(new Set(types).size).toBe(types.length);
    for (const type of [
      "reservation.final_costs",
      "reservation.updated",
      "shipment.tracking_event",
      "shipment.tracking_stopped",
      "rental.tracking_stopped",
      "rental.reserved",
      "subscription.disabled",
    ]) {
      expect(types).toContain(type);
    }
    for (const entry of EVENT_CATALOG) expect(eventSchemaProblem(exampleEvent(entry)), entry.type).toBeNull();
  });

  it("the JSON Schemas it serves accept every example (ajv, draft 2020-12) and refuse a wrong money shape", () => {
    const ajv = new Ajv2020.default({ strict: false, allErrors: true });
    ajv.addFormat("date-time", true).addFormat("uuid", true);
    const document = eventCatalogDocument();
    expect(document.types).toHaveLength(EVENT_CATALOG.length);
    for (const served of document.types) {
      const validate = ajv.compile(served.schema as object);
      expect(validate(served.example), `${served.type}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    const finalCosts = document.types.find((t) => t.type === "reservation.final_costs")!;
    const wrong = structuredClone(finalCosts.example) as any;
    wrong.data.details.finalCosts = { price: 154.2, currency: "EUR" };
    expect(ajv.compile(finalCosts.schema as object)(wrong)).toBe(false);
    // Served schemas let a subscriber accept fields added later.
    expect(JSON.stringify(document)).not.toContain('"additionalProperties":false');
  });

  it("refuses, when the hub builds it, an event with a field the catalog does not declare or a value off its type", () => {
    expect(() => createEvent(shipment({ reason: "no_movement", message: "quiet" }))).not.toThrow();
    expect(() => createEvent(shipment({ reason: "no_movement", message: "quiet", surprise: 1 }))).toThrow(/details surprise|Unrecognized key/);
    expect(() => createEvent(shipment({ reason: "bored", message: "quiet" }))).toThrow(/reason/);
    expect(() => createEvent(shipment({ reason: "no_movement", message: "quiet", price: { amount: 1, currency: "EUR" } }))).toThrow(/amountMinor/);
    expect(() => createEvent(shipment({ reason: "no_movement", message: "quiet" }, { type: "teleported" }))).toThrow(/no catalog entry/);
  });

  it("a rental status nobody listed falls under rental.<status>; other entities' unknown types have no entry", () => {
    expect(catalogEntryOf("rental.on_request")?.type).toBe("rental.<status>");
    expect(catalogEntryOf("rental.cancelled")?.type).toBe("rental.cancelled");
    expect(catalogEntryOf("shipment.teleported")).toBeNull();
  });

  it("docs/events.md is generated from it and up to date (npm run docs:events)", () => {
    const markdown = readFileSync(join(import.meta.dirname, "..", "..", "docs", "events.md"), "utf8");
    expect(withCatalog(markdown) === markdown, "docs/events.md is stale: run npm run docs:events").toBe(true);
    for (const entry of EVENT_CATALOG) expect(markdown).toContain(`### \`${entry.type}\``);
  });
});
