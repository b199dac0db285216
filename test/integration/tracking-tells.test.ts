// Issue: tracking that tells. Every way polling ends short of a final status emits `<entity>.tracking_stopped`;
// one GreenFlow booking is one entity whichever code it was registered by; carrier messages at the same time
// are kept; exception reasons and money are first-class fields; GreenFlow times are read in the booking's zone.
import { randomUUID } from "node:crypto";
import Ajv2020 from "ajv/dist/2020.js";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mfbEvent, type FakeGreenflow, type FakeMfb } from "../../scripts/lib/fakes/providers.js";
import { eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { startProviderContext, type ProviderContext } from "../helpers/providers.js";
import { startSubscriber, subscribe, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
let fakes: ProviderContext;
let mfb: FakeMfb;
let greenflow: FakeGreenflow;
let ctx: TestContext;
let sub: Subscriber;

beforeAll(async () => {
  fakes = await startProviderContext({
    MFB_POLL_INTERVAL_MS: "300",
    GREENFLOW_POLL_INTERVAL_MS: "300",
    POLL_SWEEP_INTERVAL_MS: "150",
    PROVIDER_TIMEOUT_MS: "500",
  });
  ({ mfb, greenflow, ctx } = fakes);
  sub = await startSubscriber();
  await subscribe(ctx.app, sub, ["shipment.*", "rental.*"]);
});
afterAll(async () => {
  await sub.close();
  await fakes.close();
});

const t = (minute: number) => new Date(Date.UTC(2026, 5, 1, 4, minute)).toISOString();
const trackOrder = (orderId: string) => request(ctx.app).post("/tracking/mfb-orders").set(auth).send({ orderId });
const trackBooking = (bookingCode: string, lastname = "Silva", extra: Record<string, unknown> = {}) =>
  request(ctx.app)
    .post("/tracking/greenflow-bookings")
    .set(auth)
    .send({ bookingCode, lastname, ...extra });
const receivedFor = (subject: string) => sub.received.filter((r) => r.event.subject === subject);
const receivedTypes = (subject: string) =>
  receivedFor(subject)
    .sort((a, b) => a.event.data.sequence - b.event.data.sequence)
    .map((r) => r.event.type);
const detailsOf = (r: { event: { data: { [k: string]: unknown } } }) => r.event.data.details as Record<string, any>;
const stoppedEvent = (subject: string) =>
  eventually(async () => receivedFor(subject).find((r) => r.event.type.endsWith(".tracking_stopped")), 10_000, `${subject} tracking_stopped`);

describe("tracking_stopped: polling never ends silently", () => {
  it("MFB order not found: shipment.tracking_stopped, reason not_found, status unknown", async () => {
    const id = randomUUID();
    await trackOrder(id).expect(201);
    const stopped = await stoppedEvent(`shipment/${id}`);
    expect(stopped.event.data).toMatchObject({ status: "unknown", previousStatus: null, phase: "exception", timeSource: "hub" });
    expect(detailsOf(stopped)).toMatchObject({ reason: "not_found", message: expect.stringContaining("does not know") });
    expect((await request(ctx.app).get(`/tracking/mfb-orders/${id}`).set(auth)).body.polling).toMatchObject({ active: false, stoppedReason: "not_found" });
  });

  it("MFB order of another account (access_denied while our credentials work): reason access_denied, MFB polling goes on", async () => {
    const id = randomUUID();
    mfb.orders.set(id, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(0))] }]);
    mfb.foreign.add(id);
    await trackOrder(id).expect(201);
    const stopped = await stoppedEvent(`shipment/${id}`);
    expect(detailsOf(stopped)).toMatchObject({ reason: "access_denied" });
    expect(await ctx.prisma.providerState.findUnique({ where: { provider: "mfb" } })).toBeNull();
  });

  it("stopped by an operator: one event; registering again resumes without a new event until the status changes", async () => {
    const id = randomUUID();
    const subject = `shipment/${id}`;
    mfb.orders.set(id, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(0))] }]);
    await trackOrder(id).expect(201);
    await eventually(async () => receivedTypes(subject).includes("shipment.created"), 10_000, "created");
    await request(ctx.app).delete(`/tracking/mfb-orders/${id}`).set(auth).expect(200);
    // A second DELETE finds it stopped already: nothing to say twice.
    await request(ctx.app).delete(`/tracking/mfb-orders/${id}`).set(auth).expect(200);
    const stopped = await stoppedEvent(subject);
    expect(stopped.event.data).toMatchObject({ status: "created", previousStatus: "created", phase: "booked" });
    expect(detailsOf(stopped)).toMatchObject({ reason: "stopped_by_operator", carrier: "dhl", price: { amount: 56.5, currency: "EUR", amountMinor: 5650 } });

    await trackOrder(id).expect(200);
    const polls = mfb.pollsOf(id);
    await eventually(async () => mfb.pollsOf(id) >= polls + 2, 10_000, "polled again twice");
    await ctx.settled();
    expect(receivedTypes(subject)).toEqual(["shipment.tracking_event", "shipment.created", "shipment.tracking_stopped"]);

    mfb.orders.set(id, [{ parcel_index: 0, events: [mfbEvent("shipment_created", t(0)), mfbEvent("picked_up", t(5))] }]);
    await eventually(async () => receivedTypes(subject).includes("shipment.picked_up"), 10_000, "picked up after resuming");
    expect(receivedTypes(subject).filter((type) => type === "shipment.tracking_stopped")).toHaveLength(1);
    expect(
      receivedFor(subject)
        .map((r) => r.event.data.sequence)
        .sort((a, b) => a - b),
    ).toEqual([1, 2, 3, 4, 5]);
  });

  it("GreenFlow: a 404 on the first read is not_found; a 404 after earlier reads is gone", async () => {
    greenflow.bookings.set("BR-404001", { lastname: "Silva", status: "RESERVED" });
    await trackBooking("BR-404001", "Souza").expect(201);
    const wrongName = await stoppedEvent("rental/BR-404001");
    expect(wrongName.event.data).toMatchObject({ status: "unknown", phase: "exception" });
    expect(detailsOf(wrongName)).toMatchObject({ reason: "not_found", bookingCode: "BR-404001" });
    expect(JSON.stringify(wrongName.event)).not.toContain("Souza");

    greenflow.bookings.set("BR-404002", { lastname: "Silva", status: "RESERVED" });
    await trackBooking("BR-404002").expect(201);
    await eventually(async () => receivedTypes("rental/BR-404002").includes("rental.reserved"), 10_000, "reserved");
    greenflow.bookings.delete("BR-404002");
    const gone = await stoppedEvent("rental/BR-404002");
    expect(gone.event.data).toMatchObject({ status: "reserved", phase: "booked", sequence: 2 });
    expect(detailsOf(gone)).toMatchObject({ reason: "gone", localNumber: "GFCBR404002" });
    expect((await request(ctx.app).get("/tracking/greenflow-bookings/BR-404002").set(auth)).body.polling).toMatchObject({
      active: false,
      stoppedReason: "gone",
    });
  });
});

describe("one GreenFlow booking, one identity", () => {
  it("registered by its local number, then by its booking code: tracked once, one cancellation, under the booking code", async () => {
    greenflow.bookings.set("BR-5550001", { lastname: "Silva", status: "RESERVED", localNumber: "GFC555AAA" });
    const byLocal = await trackBooking("GFC555AAA").expect(201);
    expect(byLocal.body.registeredAs).toBe("GFC555AAA");
    await eventually(async () => receivedTypes("rental/BR-5550001").includes("rental.reserved"), 10_000, "reserved under the booking code");
    const byCode = await trackBooking("BR-5550001");
    expect(byCode.status).toBe(200);
    expect(byCode.body).toMatchObject({ bookingCode: "BR-5550001", localNumber: "GFC555AAA", registeredAs: "GFC555AAA" });
    expect(await ctx.prisma.greenflowBooking.count({ where: { OR: [{ bookingCode: "BR-5550001" }, { bookingCode: "GFC555AAA" }] } })).toBe(1);

    greenflow.bookings.set("BR-5550001", { lastname: "Silva", status: "CANCELLED", localNumber: "GFC555AAA" });
    await eventually(async () => receivedTypes("rental/BR-5550001").includes("rental.cancelled"), 10_000, "cancelled");
    await ctx.settled();
    const cancellations = sub.received.filter(
      (r) => r.event.type === "rental.cancelled" && (detailsOf(r).localNumber === "GFC555AAA" || r.event.subject === "rental/GFC555AAA"),
    );
    expect(cancellations).toHaveLength(1);
    expect(cancellations[0]!.event.data).toMatchObject({ entityId: "BR-5550001", externalId: "GFC555AAA" });
    // Either code reads the one booking; the console's search finds it by both.
    for (const code of ["BR-5550001", "GFC555AAA"]) {
      expect((await request(ctx.app).get(`/tracking/greenflow-bookings/${code}`).set(auth)).body).toMatchObject({
        bookingCode: "BR-5550001",
        status: "cancelled",
      });
      const page = await request(ctx.app)
        .get(`/admin/console?q=${code}`)
        .set("authorization", `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString("base64")}`);
      expect(page.text).toContain("BR-5550001");
    }
  });

  it("registered by both codes before the first poll: the two rows fold into one, and nothing is emitted twice", async () => {
    greenflow.bookings.set("BR-5550002", { lastname: "Silva", status: "RESERVED", localNumber: "GFC555BBB" });
    await Promise.all([trackBooking("GFC555BBB"), trackBooking("BR-5550002")]);
    await eventually(
      async () => (await ctx.prisma.greenflowBooking.count({ where: { bookingCode: { in: ["BR-5550002", "GFC555BBB"] } } })) === 1,
      10_000,
      "one row",
    );
    await eventually(async () => receivedTypes("rental/BR-5550002").includes("rental.reserved"), 10_000, "reserved");
    greenflow.bookings.set("BR-5550002", { lastname: "Silva", status: "CANCELLED", localNumber: "GFC555BBB" });
    await eventually(async () => receivedTypes("rental/BR-5550002").includes("rental.cancelled"), 10_000, "cancelled");
    await ctx.settled();
    expect(receivedFor("rental/GFC555BBB")).toEqual([]);
    expect(receivedTypes("rental/BR-5550002")).toEqual(["rental.reserved", "rental.cancelled"]);
  });
});

describe("GreenFlow local times", () => {
  it("reads pickup and dropoff in the registration's time zone, keeps the raw value, and refuses an unknown zone", async () => {
    greenflow.bookings.set("BR-7770001", { lastname: "Silva", status: "RESERVED", pickupDate: "2026-05-15 10:00:00", dropoffDate: "2026-05-18T10:00:00" });
    await trackBooking("BR-7770001", "Silva", { timeZone: "Asia/Tokyo" }).expect(201);
    const reserved = await eventually(async () => receivedFor("rental/BR-7770001").find((r) => r.event.type === "rental.reserved"), 10_000, "reserved");
    expect(detailsOf(reserved)).toMatchObject({
      pickupDate: "2026-05-15 10:00:00",
      pickupAt: "2026-05-15T01:00:00.000Z",
      dropoffAt: "2026-05-18T01:00:00.000Z",
      timeZone: "Asia/Tokyo",
    });

    const bad = await trackBooking("BR-7770002", "Silva", { timeZone: "Mars/Olympus_Mons" });
    expect(bad.status).toBe(400);
    expect(bad.body.issues[0]).toMatchObject({ path: "timeZone", message: expect.stringContaining("IANA") });
    expect(await ctx.prisma.greenflowBooking.count({ where: { bookingCode: "BR-7770002" } })).toBe(0);
  });
});

describe("carrier messages", () => {
  it("two messages at the same time are two events, a re-read is none; exceptions carry their reason", async () => {
    const id = randomUUID();
    const subject = `shipment/${id}`;
    const customs = [
      mfbEvent("shipment_created", t(0)),
      mfbEvent("unknown", t(30), { label: { en: "Held at customs" } }),
      mfbEvent("unknown", t(30), { label: { en: "Duties requested from recipient" } }),
    ];
    mfb.orders.set(id, [{ parcel_index: 0, events: customs }]);
    await trackOrder(id).expect(201);
    await eventually(async () => receivedTypes(subject).filter((type) => type === "shipment.tracking_event").length === 3, 10_000, "three carrier events");
    const labels = receivedFor(subject)
      .filter((r) => r.event.type === "shipment.tracking_event")
      .map((r) => detailsOf(r).label);
    expect(labels).toEqual(expect.arrayContaining(["Held at customs", "Duties requested from recipient"]));

    const exception = mfbEvent("delivery_exception", t(50), {
      location: { city: "ENFIELD", country: "GB" },
      details: { code: "not_available_or_closed", label: { en: "Customer not available or business closed" } },
    });
    // The same messages again (keys in another order), and one new: only the new one is news.
    mfb.orders.set(id, [{ parcel_index: 0, events: [...customs.map((e) => ({ label: e.label, happened_at: e.happened_at, code: e.code })), exception] }]);
    await eventually(async () => receivedTypes(subject).includes("shipment.exception"), 10_000, "exception");
    await ctx.settled();
    const tracking = receivedFor(subject).filter((r) => r.event.type === "shipment.tracking_event");
    expect(tracking).toHaveLength(4);
    expect(detailsOf(tracking.find((r) => detailsOf(r).code === "delivery_exception")!)).toMatchObject({ exceptionReason: "not_available_or_closed" });
    const status = receivedFor(subject).find((r) => r.event.type === "shipment.exception")!;
    expect(detailsOf(status)).toMatchObject({ exceptionReason: "not_available_or_closed" });
    expect(await ctx.prisma.mfbTrackingEvent.count({ where: { orderId: id } })).toBe(4);
  });
});

describe("the catalog, as subscribers get it", () => {
  it("GET /schemas/events.json (no token) validates every event this file's polls emitted", async () => {
    const catalog = await request(ctx.app).get("/schemas/events.json").expect(200);
    const ajv = new Ajv2020.default({ strict: false });
    ajv.addFormat("date-time", true).addFormat("uuid", true);
    const validators = new Map<string, ReturnType<typeof ajv.compile>>(
      catalog.body.types.map((t: { type: string; schema: object }) => [t.type, ajv.compile(t.schema)]),
    );
    const events = await ctx.prisma.event.findMany({ where: { entity: { in: ["shipment", "rental"] } } });
    const types = new Set(events.map((e) => e.type));
    for (const type of [
      "shipment.tracking_stopped",
      "rental.tracking_stopped",
      "shipment.tracking_event",
      "shipment.exception",
      "rental.reserved",
      "rental.cancelled",
    ])
      expect(types).toContain(type);
    for (const event of events) {
      const validate = validators.get(event.type) ?? validators.get("rental.<status>")!;
      expect(validate(event.envelope), `${event.type}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
  });
});
