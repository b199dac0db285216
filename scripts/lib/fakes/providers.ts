// Fake MyFlyingBox and GreenFlow APIs built from the seed documentation, scriptable per test.
import { startFakeServer, type FakeServer, type Reply } from "./http-server.js";

export const MFB_LOGIN = "mfb-login";
export const MFB_PASSWORD = "mfb-password";
export const GREENFLOW_KEY = "gfc_test_key";

type MfbEvent = { code: string; happened_at: string; label?: Record<string, string>; location?: Record<string, string>; details?: unknown };

export interface FakeMfb {
  server: FakeServer;
  url: string;
  /** Tracking per order: parcel index → events (served in the order given). */
  orders: Map<string, { parcel_index: number; events: MfbEvent[] }[]>;
  /** Per-order scripted failures, consumed one per request before the real answer. */
  failures: Map<string, Reply[]>;
  /** Per-order GET /orders/:id data (the order: parcels and offer); unset orders answer with one parcel and a DHL offer. */
  orderDetails: Map<string, unknown>;
  /** Orders of another account: access_denied for them, while GET / (our credentials) succeeds. */
  foreign: Set<string>;
  /** Per-order tracking `data` served as is (for the optional-attribute cases the documentation warns about). */
  rawTracking: Map<string, unknown>;
  /** When set, every request gets this answer (e.g. 401 for bad credentials). */
  override?: Reply;
  pollsOf(orderId: string): number;
  close(): Promise<void>;
}

const LABELS: Record<string, Record<string, string>> = {
  shipment_created: { en: "Shipment created", fr: "Expédition créée" },
  picked_up: { en: "Package picked up", fr: "Paquet enlevé" },
  in_transit: { en: "In transit", fr: "En transit" },
  arrived_at_facility: { en: "Arrived at hub", fr: "Arrivé à la plateforme" },
  departed_from_facility: { en: "Departed from hub", fr: "Parti de la plateforme" },
  delivery_in_progress: { en: "Delivery in progress", fr: "Livraison en cours" },
  delivery_exception: { en: "Delivery exception", fr: "Problème de livraison" },
  delivered: { en: "Delivered", fr: "Livré" },
};

export function mfbEvent(code: string, happenedAt: string, extra: Partial<MfbEvent> = {}): MfbEvent {
  return { code, happened_at: happenedAt, label: LABELS[code] ?? { en: `Carrier says: ${code}` }, ...extra };
}

/** A parcel's simulated story for `npm run dev -- --simulate`: one step every `stepMs` after it was first asked for. */
const SIMULATED_STEPS = ["shipment_created", "picked_up", "in_transit", "arrived_at_facility", "delivery_in_progress", "delivered"];

function simulatedParcel(firstSeen: number, now: number, stepMs: number) {
  const steps = Math.min(SIMULATED_STEPS.length, 1 + Math.floor((now - firstSeen) / stepMs));
  return [{ parcel_index: 0, events: SIMULATED_STEPS.slice(0, steps).map((code, i) => mfbEvent(code, new Date(firstSeen + i * stepMs).toISOString())) }];
}

/**
 * `simulate`: any order id, and any booking code with any lastname, exists; orders move one carrier step and
 * bookings change status every `stepMs` (for trying polling locally without real credentials).
 */
export interface SimulateOptions {
  simulate?: boolean;
  stepMs?: number;
  /** Listen on this port (0 or absent: a free one). */
  port?: number;
}

export async function startFakeMfb(opts: SimulateOptions = {}): Promise<FakeMfb> {
  const firstSeen = new Map<string, number>();
  const fake: FakeMfb = {
    server: undefined as unknown as FakeServer,
    url: "",
    orders: new Map(),
    failures: new Map(),
    orderDetails: new Map(),
    foreign: new Set(),
    rawTracking: new Map(),
    pollsOf: (id) => fake.server.requests.filter((r) => r.path === `/v2/orders/${id}/tracking`).length,
    close: () => fake.server.close(),
  };
  const expected = `Basic ${Buffer.from(`${MFB_LOGIN}:${MFB_PASSWORD}`).toString("base64")}`;
  fake.server = await startFakeServer((req) => {
    const self = `${fake.url}${req.path}`;
    if (fake.override) return fake.override;
    const failure = (status: number, type: string, message: string): Reply => ({ status, body: { status: "failure", error: { type, message }, self } });
    if (req.headers.authorization !== expected) return failure(401, "access_denied", "Unauthorized");
    // GET /: "basic information about the MFB Web Service", for authenticated callers.
    if (req.path === "/v2" || req.path === "/v2/") return { status: 200, body: { status: "success", self, data: { name: "MFB Web Service", version: "v2" } } };
    const order = /^\/v2\/orders\/([^/]+)$/.exec(req.path);
    if (order) {
      const id = order[1]!;
      if (fake.foreign.has(id)) return failure(401, "access_denied", "Unauthorized");
      if (!fake.orders.has(id) && !fake.rawTracking.has(id) && !opts.simulate) return failure(404, "resource_not_found", "Order not found");
      const data = fake.orderDetails.get(id) ?? {
        id,
        parcels: (fake.orders.get(id) ?? [{}]).map(() => ({ weight: "3", length: "40", width: "30", height: "10", description: "Books" })),
        offer: {
          product: { code: "dhl_express_worldwide", carrier_code: "dhl", name: "Worldwide Express" },
          total_price: { formatted: "56,50 €", currency: "EUR", amount: 56.5, amount_in_cents: 5650 },
        },
      };
      return { status: 200, body: { status: "success", self: `${self}.json`, data } };
    }
    const match = /^\/v2\/orders\/([^/]+)\/tracking$/.exec(req.path);
    if (!match) return failure(404, "not_found", "Not found");
    const id = match[1]!;
    if (fake.foreign.has(id)) return failure(401, "access_denied", "Unauthorized");
    const scripted = fake.failures.get(id)?.shift();
    if (scripted) return scripted;
    if (fake.rawTracking.has(id)) return { status: 200, body: { status: "success", self: `${self}.json`, data: fake.rawTracking.get(id) } };
    if (opts.simulate && !fake.orders.has(id)) {
      if (!firstSeen.has(id)) firstSeen.set(id, Date.now());
      return { status: 200, body: { status: "success", self: `${self}.json`, data: simulatedParcel(firstSeen.get(id)!, Date.now(), opts.stepMs ?? 10_000) } };
    }
    const parcels = fake.orders.get(id);
    if (!parcels) return failure(404, "resource_not_found", "Order not found");
    return { status: 200, body: { status: "success", self: `${self}.json`, data: parcels } };
  }, opts.port ?? 0);
  fake.url = `${fake.server.url}/v2`;
  return fake;
}

export interface FakeGreenflow {
  server: FakeServer;
  url: string;
  bookings: Map<string, { lastname: string; status: string; gdsStatus?: string; localNumber?: string; pickupDate?: string; dropoffDate?: string }>;
  failures: Map<string, Reply[]>;
  override?: Reply;
  pollsOf(code: string): number;
  close(): Promise<void>;
}

export async function startFakeGreenflow(opts: SimulateOptions = {}): Promise<FakeGreenflow> {
  const firstSeen = new Map<string, number>();
  const fake: FakeGreenflow = {
    server: undefined as unknown as FakeServer,
    url: "",
    bookings: new Map(),
    failures: new Map(),
    pollsOf: (code) => fake.server.requests.filter((r) => r.path === `/api/v1/bookings/${code}`).length,
    close: () => fake.server.close(),
  };
  fake.server = await startFakeServer((req) => {
    if (fake.override) return fake.override;
    if (req.headers.authorization !== `Bearer ${GREENFLOW_KEY}`) return { status: 401, body: { message: "Invalid API key" } };
    const match = /^\/api\/v1\/bookings\/([^/]+)$/.exec(req.path);
    if (!match) return { status: 404, body: { message: "Not found" } };
    const code = decodeURIComponent(match[1]!);
    const scripted = fake.failures.get(code)?.shift();
    if (scripted) return scripted;
    if (opts.simulate && !fake.bookings.has(code)) {
      if (!firstSeen.has(code)) firstSeen.set(code, Date.now());
      const cancelled = Date.now() - firstSeen.get(code)! >= 3 * (opts.stepMs ?? 10_000);
      return greenflowAnswer(code, { status: cancelled ? "CANCELLED" : "RESERVED" });
    }
    // "Each booking owns a booking_code from the provider and a local_number internal to GreenFlow; both are
    // accepted as {code}."
    const found = fake.bookings.has(code) ? ([code, fake.bookings.get(code)!] as const) : [...fake.bookings].find(([c, b]) => localNumberOf(c, b) === code);
    // The seed documents the 404 ("Cross-tenant booking or mismatched lastname") but not its body: this one is assumed.
    if (!found || found[1].lastname !== req.query.get("lastname")) return { status: 404, body: { message: "Booking not found" } };
    return greenflowAnswer(found[0], found[1]);
  }, opts.port ?? 0);
  fake.url = `${fake.server.url}/api/v1`;
  return fake;
}

/** A booking's local number: the one a test set, else one derived from its code (GFC + the code's digits and letters). */
function localNumberOf(code: string, booking: { localNumber?: string }): string {
  return booking.localNumber ?? `GFC${code.replace(/[^A-Za-z0-9]/g, "").toUpperCase()}`;
}

function greenflowAnswer(
  code: string,
  booking: { status: string; gdsStatus?: string; localNumber?: string; pickupDate?: string; dropoffDate?: string },
): Reply {
  return {
    status: 200,
    body: {
      data: {
        uuid: "01935f1e-9b0a-7c88-b9e3-3f7c8e9d1a02",
        booking_code: code,
        local_number: localNumberOf(code, booking),
        status: booking.status,
        pickup_date: booking.pickupDate ?? "2026-05-15 10:00:00",
        dropoff_date: booking.dropoffDate ?? "2026-05-18 10:00:00",
        gds: { booking_code: code, status: booking.gdsStatus ?? booking.status },
      },
    },
  };
}

export const FLOVI_API_KEY = "flo_partner_test_key";

/** A reservation as Flovi's Partner API v2 returns it (GET /customers/v2/reservation/:id and the list's items). */
export interface FloviApiReservation {
  reservationId: string;
  reservationType: string;
  createdAt: string;
  /** The API's simplified status: confirmed, driving, sealed, cancelled. */
  status: string;
  externalId?: string | null;
  price: number;
  currency: string;
  priceBreakdown: { type: string; amount: number; label: string }[];
  route: { distanceMeters: number; durationSeconds: number };
  origin: { officeId: string | null; address: Record<string, unknown>; lat: number; lng: number };
  destination: { officeId: string | null; address: Record<string, unknown>; lat: number; lng: number };
  schedule: { departAtEarliest: string; departAtLatest: string; arriveAtEarliest: string; arriveAtLatest: string };
  vehicle: Record<string, unknown>;
  returnDrive: Record<string, unknown> | null;
}

/** A full reservation object with every documented field (the seed document's shapes). */
export function floviReservation(id: string, status: string, extra: Partial<FloviApiReservation> = {}): FloviApiReservation {
  return {
    reservationId: id,
    reservationType: "officeToOffice",
    createdAt: "2026-11-01T08:00:00.000Z",
    status,
    externalId: `WO-${id}`,
    price: 154.2,
    currency: "EUR",
    priceBreakdown: [
      { type: "base", amount: 120, label: "Base price" },
      { type: "fuel", amount: 34.2, label: "Fuel" },
    ],
    route: { distanceMeters: 182_000, durationSeconds: 7_200 },
    origin: { officeId: "off-1", address: { street: "Rua A 1", city: "Lisboa", country: "PT" }, lat: 38.72, lng: -9.14 },
    destination: { officeId: null, address: { street: "Rua B 2", city: "Porto", country: "PT" }, lat: 41.15, lng: -8.61 },
    schedule: {
      departAtEarliest: "2026-11-02T08:00:00.000Z",
      departAtLatest: "2026-11-02T10:00:00.000Z",
      arriveAtEarliest: "2026-11-02T12:00:00.000Z",
      arriveAtLatest: "2026-11-02T14:00:00.000Z",
    },
    vehicle: {
      regNo: "AB-12-CD",
      make: "Toyota",
      model: "Corolla",
      year: 2022,
      vin: null,
      fuelType: "gasoline",
      fastCharge: false,
      isElectric: false,
      vehicleType: "car",
      transmission: "manual",
      fuel: "full",
      testPlates: false,
    },
    returnDrive: null,
    ...extra,
  };
}

export interface FakeFlovi {
  url: string;
  server: FakeServer;
  /** The reservations the API knows, by id. */
  reservations: Map<string, FloviApiReservation>;
  /** Answers the next matching requests with this reply instead (429 with Retry-After, 500, ...). */
  failNext(reply: Reply, times?: number, path?: RegExp): void;
  close(): Promise<void>;
}

/** Flovi's documented error envelope, all six fields. */
export function floviError(statusCode: number, errorCode: string, message: string | string[], path: string): Reply {
  return {
    status: statusCode,
    body: {
      statusCode,
      errorCode,
      timestamp: new Date().toISOString(),
      path,
      correlationId: `c-${statusCode}-${Math.random().toString(16).slice(2, 10)}`,
      message,
    },
  };
}

/**
 * Flovi's Partner API v2, as its documentation describes it: `x-api-key`; GET /customers/v2/reservation/:id;
 * GET /customers/v2/reservations, newest first by (BigInt) id, `start` = the id to continue after, `limit`
 * default 20 and at most 100 (400 above), `status` filter, `{ data, nextStart }` with nextStart null on the
 * last page.
 */
export async function startFakeFlovi(): Promise<FakeFlovi> {
  const reservations = new Map<string, FloviApiReservation>();
  const failures: { reply: Reply; left: number; path: RegExp }[] = [];
  const server = await startFakeServer((req) => {
    if (req.headers["x-api-key"] !== FLOVI_API_KEY) return floviError(401, "UNAUTHORIZED", "The x-api-key header is missing, expired, or invalid.", req.path);
    const failure = failures.find((f) => f.left > 0 && f.path.test(req.path));
    if (failure) {
      failure.left -= 1;
      return failure.reply;
    }
    if (req.path === "/customers/v2/reservations") {
      const limit = req.query.has("limit") ? Number(req.query.get("limit")) : 20;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) return floviError(400, "VALIDATION_ERROR", ["limit must not be greater than 100"], req.path);
      const status = req.query.get("status");
      if (status && !["confirmed", "sealed", "cancelled", "driving"].includes(status))
        return floviError(400, "VALIDATION_ERROR", ["status must be one of confirmed, sealed, cancelled, driving"], req.path);
      const start = req.query.get("start");
      const all = [...reservations.values()]
        .filter((r) => !status || r.status === status)
        .sort((a, b) => (BigInt(b.reservationId) > BigInt(a.reservationId) ? 1 : -1))
        .filter((r) => start === null || BigInt(r.reservationId) < BigInt(start));
      const page = all.slice(0, limit);
      return { status: 200, body: { data: page, nextStart: all.length > limit ? page.at(-1)!.reservationId : null } };
    }
    const match = /^\/customers\/v2\/reservation\/([^/]+)$/.exec(req.path);
    const found = match ? reservations.get(decodeURIComponent(match[1]!)) : undefined;
    return found ? { status: 200, body: found } : floviError(404, "NOT_FOUND", "Reservation not found", req.path);
  });
  return {
    url: server.url,
    server,
    reservations,
    failNext(reply, times = 1, path = /./) {
      failures.push({ reply, left: times, path });
    },
    close: () => server.close(),
  };
}
