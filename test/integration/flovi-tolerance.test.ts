// "Never refuse a state for a side field": each shape below was refused before (401 or 422) and the state was
// lost for good. Now the state reaches a subscriber, the odd field falls back (docs/events.md), and the
// warning is visible in the 202, the reservation API, the admin API, the console and /metrics.
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi } from "../helpers/flovi.js";
import { contextWithSubscriber, type Subscriber } from "../helpers/subscriber.js";

let ctx: TestContext;
let sub: Subscriber;
let close: () => Promise<void>;
beforeAll(async () => {
  ({ ctx, sub, close } = await contextWithSubscriber());
});
afterAll(() => close());

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
const delivered = (id: string, type: string) =>
  eventually(async () => sub.received.find((r) => r.event.subject === `reservation/${id}` && r.event.type === type), 10_000, `${type} of ${id} delivered`);

describe("odd side fields never cost a state", () => {
  it.each([
    ["a time without offset", "t-nooffset", { state: "taken", occurredAt: "2026-11-20 10:00:00" }, "reservation.taken", "occurredAt:no_offset"],
    ["an empty externalId", "t-emptyext", { state: "created", externalId: "" }, "reservation.created", "externalId:empty"],
    ["an empty cancellation reason", "t-emptyreason", { state: "cancelled", cancellation_reason: "" }, "reservation.cancelled", "cancellationReason:empty"],
    [
      "an unknown cancellation reason",
      "t-oddreason",
      { state: "cancelled", cancellation_reason: "WEATHER" },
      "reservation.cancelled",
      "cancellationReason:unknown_reason",
    ],
  ])("%s: 202 with the warning, the state reaches the subscriber", async (_name, id, fields, type, warning) => {
    const res = await postFlovi(ctx.app, { event: "reservation_status_change", reservationId: id, ...fields });
    expect(res.status).toBe(202);
    const [field, problem] = warning.split(":");
    expect(res.body.warnings).toEqual([expect.objectContaining({ field, problem })]);
    const event = await delivered(id, type);
    expect(event.event.data.status).toBe(fields.state);
    // The reservation API shows the warning on the transition it came with.
    const view = await request(ctx.app).get(`/reservations/${id}`).set(auth);
    expect(view.body.transitions.at(-1).warnings).toEqual([expect.objectContaining({ field, problem })]);
    // So does the admin API's list of stored deliveries.
    const stored = await request(ctx.app).get("/admin/webhooks").set(auth);
    const row = (stored.body.data as { id: string; warnings: unknown }[]).find((d) => d.id === res.body.id);
    expect(row?.warnings).toEqual([expect.objectContaining({ field, problem })]);
  });

  it("the fallbacks: receipt time for the time, no externalId, the unknown reason kept as sent", async () => {
    const before = Date.now();
    await postFlovi(ctx.app, { event: "reservation_status_change", reservationId: "t-fallbacks", state: "created", externalId: "", occurredAt: "20/11/2026" });
    const event = await delivered("t-fallbacks", "reservation.created");
    expect(event.event.data.externalId ?? null).toBeNull();
    expect(new Date((event.event as unknown as { time: string }).time).getTime()).toBeGreaterThanOrEqual(before - 1000);
    await postFlovi(ctx.app, { event: "reservation_status_change", reservationId: "t-fallbacks", state: "cancelled", cancellation_reason: "WEATHER" });
    const cancelled = await delivered("t-fallbacks", "reservation.cancelled");
    expect(cancelled.event.data.details).toMatchObject({ cancellationReason: "WEATHER" });
  });

  it("the console shows each warning on the reservation's timeline, and /metrics counts them", async () => {
    await postFlovi(ctx.app, { event: "reservation_status_change", reservationId: "t-console", state: "created", occurredAt: "2026-11-20 10:00:00" });
    await delivered("t-console", "reservation.created");
    const page = await request(ctx.app)
      .get("/admin/console/reservations/t-console")
      .set("authorization", `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString("base64")}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('data-warning="occurredAt:no_offset"');
    expect(page.text).toContain("the receipt time was used");
    const metrics = await request(ctx.app).get("/metrics");
    expect(metrics.text).toMatch(/flovi_payload_warnings_total\{field="occurredAt",problem="no_offset"\} [1-9]/);
  });

  it("a reservation id sent as a JSON number beyond 2^53 is refused with a clear 422, never stored rounded", async () => {
    const res = await postFlovi(ctx.app, Buffer.from('{"event":"reservation_status_change","reservationId":9007199254740993,"state":"created"}'));
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/beyond 2\^53.*send the id as a string/);
    expect(await ctx.prisma.reservation.findUnique({ where: { id: "9007199254740992" } })).toBeNull();
    const exact = await postFlovi(ctx.app, { event: "reservation_status_change", reservationId: "9007199254740993", state: "created" });
    expect(exact.status).toBe(202);
    await delivered("9007199254740993", "reservation.created");
  });
});
