// Searching a subscription's deliveries (GET /subscriptions/:id/deliveries): by status, answer, event type,
// subject and time, with cursor paging; and the console's form over the same search. Real Postgres, Redis,
// worker and a verifying subscriber on loopback.
import { randomUUID } from "node:crypto";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, eventually, TEST_ADMIN_TOKEN, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { startSubscriber, type Subscriber } from "../helpers/subscriber.js";

const auth = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
let ctx: TestContext;
let subscriber: Subscriber;
let subscriptionId: string;
const tag = randomUUID().slice(0, 6);
const good = [`search-a-${tag}`, `search-c-${tag}`];
const bad = `search-b-${tag}`;

interface Row {
  id: string;
  eventType: string;
  subject: string;
  status: string;
  lastStatusCode: number | null;
  createdAt: string;
}
const search = async (query: string) => request(ctx.app).get(`/subscriptions/${subscriptionId}/deliveries?${query}`).set(auth);
const found = async (query: string) => {
  const res = await search(query);
  expect(res.status).toBe(200);
  return res.body as { data: Row[]; nextCursor: string | null };
};

beforeAll(async () => {
  // Retries far apart: the delivery answered 503 stays pending with that answer while the test reads it.
  ctx = await createTestContext({ DELIVERY_RETRY_SCHEDULE: "0,1h,1h" });
  await ctx.startWorker();
  subscriber = await startSubscriber();
  subscriber.respond = (req) => (String(req.body).includes(bad) ? { status: 503 } : { status: 204 });
  const res = await request(ctx.app)
    .post("/subscriptions")
    .set(auth)
    .send({ url: subscriber.url, eventTypes: ["reservation.*"] });
  subscriber.secrets.push(res.body.secret);
  subscriptionId = res.body.id;
  // One at a time, so that the deliveries' creation order is the order sent.
  const send = async (state: string, id: string, n: number) => {
    expect((await postFlovi(ctx.app, statusChange(state, id))).status).toBe(202);
    await eventually(async () => subscriber.attempts.length >= n, 15_000, `attempt ${n}`);
  };
  await send("created", good[0]!, 1);
  await send("created", bad, 2);
  await send("created", good[1]!, 3);
  await send("taken", good[0]!, 4);
  // An attempt's answer is recorded just after the subscriber sent it: wait for the four records.
  await eventually(async () => (await found("")).data.filter((d) => d.lastStatusCode !== null).length === 4, 15_000, "the four attempts recorded");
}, 60_000);
afterAll(async () => {
  await subscriber?.close();
  await ctx?.close();
});

describe("GET /subscriptions/:id/deliveries searches", () => {
  it("newest first, each with the answer its latest attempt got", async () => {
    const { data, nextCursor } = await found("");
    expect(data.map((d) => [d.subject, d.eventType, d.lastStatusCode])).toEqual([
      [`reservation/${good[0]}`, "reservation.taken", 204],
      [`reservation/${good[1]}`, "reservation.created", 204],
      [`reservation/${bad}`, "reservation.created", 503],
      [`reservation/${good[0]}`, "reservation.created", 204],
    ]);
    expect(nextCursor).toBeNull();
  });

  it("by status and answer, by event type (exact or entity.*) and by subject", async () => {
    expect((await found("status=pending&responseStatus=503")).data.map((d) => d.subject)).toEqual([`reservation/${bad}`]);
    expect((await found("responseStatus=204")).data).toHaveLength(3);
    expect((await found("status=succeeded&responseStatus=503")).data).toEqual([]);
    expect((await found("type=reservation.taken")).data.map((d) => d.subject)).toEqual([`reservation/${good[0]}`]);
    expect((await found("type=reservation.*")).data).toHaveLength(4);
    expect((await found("type=shipment.*")).data).toEqual([]);
    expect((await found(`subject=reservation/${good[0]}`)).data.map((d) => d.eventType)).toEqual(["reservation.taken", "reservation.created"]);
  });

  it("by the time the delivery was made: since inclusive, until exclusive", async () => {
    const all = (await found("")).data;
    const third = all[1]!; // the second newest
    const since = (await found(`since=${third.createdAt}`)).data.map((d) => d.id);
    expect(since).toEqual([all[0]!.id, third.id]);
    const until = (await found(`until=${third.createdAt}`)).data.map((d) => d.id);
    expect(until).toEqual([all[2]!.id, all[3]!.id]);
  });

  it("pages with nextCursor through the same search: every row once, in order", async () => {
    const all = (await found("")).data.map((d) => d.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: { data: Row[]; nextCursor: string | null } = await found(`limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      seen.push(...res.data.map((d) => d.id));
      cursor = res.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(all);
    // A filter holds across pages.
    const first = await found("responseStatus=204&limit=2");
    expect(first.data).toHaveLength(2);
    const second = await found(`responseStatus=204&limit=2&cursor=${encodeURIComponent(first.nextCursor!)}`);
    expect(second.data.map((d) => d.lastStatusCode)).toEqual([204]);
    expect(second.nextCursor).toBeNull();
  });

  it("a bad filter is a 400 naming it", async () => {
    const cases: [string, RegExp][] = [
      ["type=reservation.create", /type: unknown event type "reservation.create"; valid: /],
      ["responseStatus=42", /responseStatus/],
      ["since=yesterday", /since/],
      ["since=2026-12-04T10:00:00Z&until=2026-12-04T09:00:00Z", /until: since must be before until/],
      ["cursor=abc", /cursor: a cursor returned by this endpoint/],
      ["status=done", /status/],
    ];
    for (const [query, message] of cases) {
      const res = await search(query);
      expect(res.status, query).toBe(400);
      expect(res.body.message, query).toMatch(message);
    }
  });
});

describe("the console's subscription page", () => {
  it("searches with the same filters, and its next-page link keeps them", async () => {
    const page = async (query: string) =>
      (await request(ctx.app).get(`/admin/console/subscriptions/${subscriptionId}?${query}`).auth("admin", TEST_ADMIN_TOKEN)).text;
    const rows = (html: string) => [...html.matchAll(/<tr data-delivery="([0-9a-f-]{36})"/g)].map((m) => m[1]);
    // Nothing asked: the failed ones (none here).
    expect(rows(await page(""))).toEqual([]);
    const all = (await found("")).data.map((d) => d.id);
    expect(rows(await page("status=all"))).toEqual(all);
    expect(rows(await page("status=pending&responseStatus=503"))).toEqual([all[2]]);
    expect(rows(await page(`status=all&subject=${encodeURIComponent(`reservation/${good[0]}`)}&type=reservation.taken`))).toEqual([all[0]]);
    // datetime-local's value (no seconds, no offset) is read as UTC.
    expect(rows(await page("status=all&since=2000-01-01T00:00"))).toEqual(all);
    expect(rows(await page("status=all&until=2000-01-01T00:00"))).toEqual([]);
    // A filter that does not parse is named, and the page still answers.
    expect(await page("status=all&type=nope")).toMatch(/filters left out: type: unknown event type/);
  });
});
