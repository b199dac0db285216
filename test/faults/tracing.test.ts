// OpenTelemetry end to end, in real processes: a Flovi webhook sent with a W3C traceparent is one trace from
// the api's receipt to the subscriber's request, across the worker's batch and a retry made by another
// worker process. Spans arrive at an in-process OTLP/HTTP receiver (JSON), as a collector would get them.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeServer, type FakeServer } from "../../scripts/lib/fakes/http-server.js";
import { freePort } from "../../scripts/lib/local-services.js";
import { ADMIN, createWorld, signedWebhook, subscribeAll, until, type World } from "./harness.js";

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  links?: { traceId: string; spanId: string }[];
  attributes?: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
  pid: number;
  role: string;
}

let receiver: FakeServer;
let world: World;
const spans: ExportedSpan[] = [];

function collect(body: string) {
  const payload = JSON.parse(body) as { resourceSpans: { resource: { attributes: ExportedSpan["attributes"] }; scopeSpans: { spans: ExportedSpan[] }[] }[] };
  for (const rs of payload.resourceSpans) {
    const attr = (key: string) => rs.resource.attributes?.find((a) => a.key === key)?.value;
    for (const scope of rs.scopeSpans) {
      for (const span of scope.spans)
        spans.push({ ...span, pid: Number(attr("process.pid")?.intValue), role: String(attr("service.instance.role")?.stringValue) });
    }
  }
}

beforeAll(async () => {
  receiver = await startFakeServer((req) => {
    if (req.method === "POST" && req.path === "/v1/traces") collect(req.body);
    return { status: 200, body: {} };
  });
  world = await createWorld({
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "200",
      OTEL_SERVICE_NAME: "hub-under-test",
    },
  });
  await world.startApi();
}, 120_000);
afterAll(async () => {
  await world?.close();
  await receiver?.close();
});

/** A signed Flovi webhook sent with a new trace's `traceparent` (the caller's span): its ids, once answered 202. */
async function sendTraced(reservationId: string): Promise<{ traceId: string; parentId: string; deliveryId: string }> {
  const traceId = randomBytes(16).toString("hex");
  const parentId = randomBytes(8).toString("hex");
  const { body, signature } = signedWebhook(reservationId);
  const sent = await fetch(`http://127.0.0.1:${world.apiPort}/webhooks/flovi`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-hub-signature": signature, traceparent: `00-${traceId}-${parentId}-01` },
    body,
  });
  expect(sent.status).toBe(202);
  return { traceId, parentId, deliveryId: ((await sent.json()) as { id: string }).id };
}

const attribute = (span: ExportedSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value.stringValue;

describe("tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set)", () => {
  it("one trace from the webhook's traceparent to the subscriber, across the batch and a retry in another worker", async () => {
    const first = await world.startWorker();
    await subscribeAll(world);
    // The subscriber refuses until told otherwise: the first attempts fail, the retry succeeds elsewhere.
    let refusing = true;
    world.subscriber.respond = () => ({ status: refusing ? 503 : 204 });

    const { traceId, parentId, deliveryId } = await sendTraced("9100001");

    const tried = () => world.subscriber.server.requests.filter((r) => r.path === new URL(world.subscriber.url).pathname);
    await until(() => tried().length >= 1, "a first attempt");
    // That worker goes (gracefully: its spans are flushed); another process makes the retry.
    first.child.kill("SIGTERM");
    await first.exited;
    const second = await world.startWorker();
    refusing = false;
    await until(() => world.subscriber.received.some((r) => r.event.subject === "reservation/9100001"), "delivered by the second worker");

    // The subscriber's requests carry the trace: every attempt, in both processes.
    for (const request of tried()) expect(String(request.headers.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    await until(
      () => spans.some((s) => s.name === "webhook.deliver" && s.pid === second.child.pid && s.traceId === traceId),
      "the retry's span exported",
      20_000,
    );
    const inTrace = spans.filter((s) => s.traceId === traceId);
    const byName = (name: string) => inTrace.filter((s) => s.name === name);

    // The api's server span (named by its Express route) continues the caller's span and says what became of
    // the webhook: no second span for the same request.
    const receive = byName("POST /webhooks/flovi");
    expect(receive).toHaveLength(1);
    expect(receive[0]!.role).toBe("api");
    expect(receive[0]!.parentSpanId).toBe(parentId);
    expect(attribute(receive[0]!, "hub.inbound_delivery_id")).toBe(deliveryId);
    expect(attribute(receive[0]!, "hub.outcome")).toBe("accepted");
    expect(inTrace.filter((s) => s.parentSpanId === receive[0]!.spanId && s.role === "api").map((s) => s.name)).toEqual([
      expect.stringMatching(/^pg\.query:INSERT/),
    ]);

    // The worker applies the delivery under the stored context, in a batch that links to it.
    const apply = byName("flovi.delivery.apply");
    expect(apply).toHaveLength(1);
    expect(apply[0]!.role).toBe("worker");
    expect(apply[0]!.parentSpanId).toBe(receive[0]!.spanId);
    const batch = spans.find((s) => s.name === "flovi.inbox.apply_batch" && s.links?.some((l) => l.spanId === receive[0]!.spanId));
    expect(batch, "a batch span linked to the delivery").toBeTruthy();
    expect(apply[0]!.links?.map((l) => l.spanId)).toContain(batch!.spanId);
    // The batch's write statement is the batch's child, in the batch's own trace.
    expect(spans.some((s) => s.parentSpanId === batch!.spanId && s.name.startsWith("pg.query"))).toBe(true);

    // The flovi-events job only rings the inbox (the trace rides on the stored row): no BullMQ spans for it,
    // and its Redis commands make none either.
    expect(spans.filter((s) => /flovi-events/.test(s.name)).map((s) => s.name)).toEqual([]);
    // Other queues' jobs are BullMQ spans. `process` runs the hub's work, whose statements are its children;
    // BullMQ's own Redis commands (a job's add, its completion) are its spans' business: no span each.
    const processed = new Set(spans.filter((s) => s.name === "process maintenance").map((s) => s.spanId));
    expect(spans.some((s) => s.name.startsWith("pg.query") && processed.has(s.parentSpanId ?? ""))).toBe(true);
    expect(spans.some((s) => s.name === "complete maintenance")).toBe(true);
    expect(spans.filter((s) => /^(evalsha|eval|multi|exec)\b/.test(s.name)).map((s) => s.name)).toEqual([]);

    // Every attempt is a child of the apply span, in the process that made it.
    const attempts = byName("webhook.deliver");
    expect(new Set(attempts.map((s) => s.parentSpanId))).toEqual(new Set([apply[0]!.spanId]));
    expect(new Set(attempts.map((s) => s.pid))).toEqual(new Set([first.child.pid, second.child.pid]));
  });

  it("log lines carry trace_id and span_id", async () => {
    const lines = world.api!.output.split("\n").filter((l) => l.includes('"trace_id"'));
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.parse(lines[0]!)).toMatchObject({ trace_id: expect.stringMatching(/^[0-9a-f]{32}$/), span_id: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });

  it("in the default profile an operator's request is traced too: one server span named by its route", async () => {
    const traceId = randomBytes(16).toString("hex");
    const parentId = randomBytes(8).toString("hex");
    const listed = await fetch(`http://127.0.0.1:${world.apiPort}/subscriptions?limit=5`, {
      headers: { authorization: `Bearer ${ADMIN}`, traceparent: `00-${traceId}-${parentId}-01` },
    });
    expect(listed.status).toBe(200);
    await until(() => spans.some((s) => s.traceId === traceId && s.parentSpanId === parentId), "the operator request's span exported", 20_000);
    const server = spans.filter((s) => s.traceId === traceId && s.parentSpanId === parentId);
    expect(server.map((s) => [s.name, s.kind, s.role])).toEqual([["GET /subscriptions", 2, "api"]]);
    expect(attribute(server[0]!, "http.route")).toBe("/subscriptions");
    // The hub's own span (the default profile leaves the HTTP instrumentation out): none of its attributes.
    expect(server[0]!.attributes?.some((a) => a.key === "network.peer.address" || a.key === "net.peer.ip")).toBe(false);
    // Its statements are its children.
    expect(spans.some((s) => s.parentSpanId === server[0]!.spanId && s.name.startsWith("pg.query"))).toBe(true);
  });

  // Last: it replaces the api whose log lines the tests above read.
  it("with every instrumentation (OTEL_NODE_ENABLED_INSTRUMENTATIONS), the HTTP instrumentation's span is the request's only one", async () => {
    world.api!.child.kill("SIGTERM");
    await world.api!.exited;
    await world.startApi({ OTEL_NODE_ENABLED_INSTRUMENTATIONS: "http,express,pg,ioredis,undici,bullmq" });
    const { traceId, parentId } = await sendTraced("9100003");
    // Each process exports on its own schedule: wait for the api's span and the worker's.
    await until(
      () => spans.some((s) => s.role === "api" && s.parentSpanId === parentId) && spans.some((s) => s.name === "flovi.delivery.apply" && s.traceId === traceId),
      "the api's server span and the worker's apply span exported",
      20_000,
    );
    const inTrace = spans.filter((s) => s.traceId === traceId);
    const server = inTrace.filter((s) => s.role === "api" && s.parentSpanId === parentId);
    expect(server.map((s) => [s.name, s.kind])).toEqual([["POST /webhooks/flovi", 2]]);
    expect(attribute(server[0]!, "http.route")).toBe("/webhooks/flovi");
    expect(attribute(server[0]!, "hub.outcome")).toBe("accepted");
    // The HTTP instrumentation's own attributes: the hub's span would not carry these.
    expect(server[0]!.attributes?.some((a) => a.key === "network.peer.address" || a.key === "net.peer.ip")).toBe(true);
    expect(inTrace.some((s) => s.parentSpanId === server[0]!.spanId && s.name.startsWith("pg.query"))).toBe(true);
    expect(inTrace.find((s) => s.name === "flovi.delivery.apply")!.parentSpanId).toBe(server[0]!.spanId);
  });
});

describe("tracing off (no OTEL_* variables)", () => {
  it("sends no trace headers and exports nothing; a worker serves its metrics on WORKER_METRICS_PORT", async () => {
    const quiet = await createWorld();
    try {
      await quiet.startApi();
      const metricsPort = await freePort();
      await quiet.startWorker({ WORKER_METRICS_PORT: String(metricsPort) });
      await subscribeAll(quiet);
      const { body, signature } = signedWebhook("9100002");
      const sent = await fetch(`http://127.0.0.1:${quiet.apiPort}/webhooks/flovi`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-hub-signature": signature,
          traceparent: `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`,
        },
        body,
      });
      expect(sent.status).toBe(202);
      await until(() => quiet.subscriber.received.length === 1, "delivered");
      expect(quiet.subscriber.server.requests.every((r) => r.headers.traceparent === undefined && r.headers.tracestate === undefined)).toBe(true);
      // The traced world above may still be exporting: nothing comes from this world's processes.
      const quietPids = new Set([...quiet.apis, ...quiet.workers].map((p) => p.child.pid));
      expect(spans.filter((s) => quietPids.has(s.pid))).toEqual([]);
      const stored = await quiet.db.query(
        "SELECT count(*)::int AS n FROM inbound_deliveries WHERE trace_context IS NOT NULL UNION ALL SELECT count(*)::int FROM events WHERE trace_context IS NOT NULL",
      );
      expect(stored.rows.map((r) => r.n)).toEqual([0, 0]);
      expect(quiet.api!.output).not.toContain("trace_id");
      // The worker serves its own metrics (delivery attempts are counted there) and readiness.
      const scrape = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(scrape).toMatch(/^webhook_delivery_attempts_total\{subscription_id="[0-9a-f-]{36}",outcome="succeeded"\} 1$/m);
      expect(scrape).toMatch(/^hub_ready\{role="worker"\} 1$/m);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status).toBe(200);
    } finally {
      await quiet.close();
    }
  });
});
