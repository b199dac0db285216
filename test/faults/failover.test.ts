// A Postgres failover under load (docs/operations.md, "Postgres with a standby"): a primary streaming to a
// standby, the service connected through HAProxy (the standby a `backup` server), the primary SIGKILLed under
// 100 webhooks/s while the worker has a backlog to apply, the standby promoted 2 s later. With a synchronous
// standby, every webhook answered 202 is delivered; with an asynchronous one, what the standby had not received
// is lost, and the scenario measures how much.
import { afterEach, describe, expect, it } from "vitest";
import { createWorld, expectExactlyOnce, reservationIds, sendWebhooks, subscribeAll, until, type World } from "./harness.js";

let world: World | undefined;

afterEach(async () => {
  await world?.close();
  world = undefined;
});

/**
 * Sends 2,000 webhooks at 100/s and a burst beside them; while the inbox has a backlog, the standby is cut off
 * from the primary for a second (a partition), then the primary crashes; the standby is promoted 2 s later.
 */
async function failOverUnderLoad(w: World) {
  const ids = reservationIds(2_000, "failover");
  const burst = reservationIds(300, "burst");
  const steady = sendWebhooks(w, ids, { concurrency: 20, perSecond: 100, giveUpAt: Date.now() + 180_000 });
  await until(() => steady.progress.accepted.size >= 500, "500 accepted before the crash");
  // The worker mid-batch: a burst it cannot apply at once, and the crash while rows of it still wait.
  const bursting = sendWebhooks(w, burst, { concurrency: 60, giveUpAt: Date.now() + 180_000 });
  await until(async () => {
    const { rows } = await w.db.query<{ n: string }>("SELECT count(*) AS n FROM inbound_deliveries WHERE status = 'received'");
    return Number(rows[0]!.n) >= 20;
  }, "a backlog in the inbox");
  const pair = w.pgPair!;
  await pair.cutOffStandby();
  const beforeLag = steady.progress.accepted.size + bursting.progress.accepted.size;
  await new Promise((r) => setTimeout(r, 1_000));
  const duringLag = steady.progress.accepted.size + bursting.progress.accepted.size - beforeLag;
  await pair.killPrimary();
  const killedAt = Date.now();
  await new Promise((r) => setTimeout(r, 2_000));
  await pair.promote();
  const promotedAt = Date.now();
  const [sent, sentBurst] = await Promise.all([steady, bursting]);
  const accepted = new Map([...sent.accepted, ...sentBurst.accepted]);
  const acceptedAt = [...sent.acceptedAt.values(), ...sentBurst.acceptedAt.values()];
  const refusals = new Map([...sent.refusals]);
  for (const [why, n] of sentBurst.refusals) refusals.set(why, (refusals.get(why) ?? 0) + n);
  const againMs = Math.min(...acceptedAt.filter((t) => t > promotedAt)) - promotedAt;
  console.log(
    `failover: ${duringLag} answered 202 while the standby was cut off, ${accepted.size} accepted, refusals ${JSON.stringify(Object.fromEntries(refusals))}, ` +
      `the last 202 before the promotion ${killedAt - Math.max(...acceptedAt.filter((t) => t < promotedAt))} ms before the crash, accepting again ${againMs} ms after the promotion`,
  );
  return { accepted, refusals, againMs, duringLag };
}

/** The api, a worker and the subscriber on a primary with a standby of the given kind. */
async function startOnPair(postgres: "sync-standby" | "async-standby"): Promise<World> {
  world = await createWorld({ postgres });
  await world.startApi();
  await world.startWorker();
  await subscribeAll(world);
  return world;
}

describe("Postgres failover (primary, standby, HAProxy)", () => {
  it("a synchronous standby promoted under 100 webhooks/s: every 202 delivered, refusals are 503, accepting again without a restart", async () => {
    const w = await startOnPair("sync-standby");
    const { accepted, refusals } = await failOverUnderLoad(w);
    expect(accepted.size).toBe(2_300);
    // In between, the api said 503 (it could not store), never 2xx without the row, never a dropped connection.
    expect([...refusals.keys()].every((why) => why === "503")).toBe(true);
    expect(refusals.get("503") ?? 0).toBeGreaterThan(0);
    // The same processes, never restarted, applied and delivered everything after the promotion.
    for (const proc of [w.api!, ...w.workers]) expect(proc.child.exitCode).toBeNull();
    const verdict = await expectExactlyOnce(w, accepted, 180_000);
    expect(verdict.problems).toEqual([]);
  });

  it("an asynchronous standby: what it had not received at the crash is lost (measured); everything it has is delivered", async () => {
    const w = await startOnPair("async-standby");
    const { accepted, duringLag } = await failOverUnderLoad(w);
    // An asynchronous primary went on answering 202 while its standby received nothing.
    expect(duringLag).toBeGreaterThan(0);
    for (const proc of [w.api!, ...w.workers]) expect(proc.child.exitCode).toBeNull();
    // What the new primary has of the webhooks answered 202: the rest was acknowledged by the old primary only.
    const { rows } = await w.db.query<{ id: string }>("SELECT id FROM inbound_deliveries WHERE id = ANY($1::uuid[])", [[...accepted.values()]]);
    const kept = new Set(rows.map((r) => r.id));
    const survived = new Map([...accepted].filter(([, deliveryId]) => kept.has(deliveryId)));
    // Everything the new primary holds is applied and delivered.
    await until(
      async () => {
        const { rows: left } = await w.db.query<{ n: string }>("SELECT count(*) AS n FROM inbound_deliveries WHERE status = 'received'");
        return Number(left[0]!.n) === 0;
      },
      "the inbox drained on the new primary",
      120_000,
    );
    await until(
      () => {
        const delivered = new Set(w.subscriber.received.map((r) => r.event.subject));
        return [...survived.keys()].every((id) => delivered.has(`reservation/${id}`));
      },
      "every surviving webhook delivered",
      120_000,
    );
    // An event delivered before the crash whose row the standby never had is made again under a new id.
    const idsBySubject = new Map<string, Set<string>>();
    for (const r of w.subscriber.received) idsBySubject.set(r.event.subject, (idsBySubject.get(r.event.subject) ?? new Set()).add(r.webhookId));
    const twice = [...idsBySubject.values()].filter((s) => s.size > 1).length;
    const lost = [...accepted.keys()].filter((id) => !survived.has(id));
    const deliveredThenForgotten = lost.filter((id) => idsBySubject.has(`reservation/${id}`)).length;
    console.log(
      `asynchronous standby: ${lost.length} of ${accepted.size} webhooks answered 202 lost (${deliveredThenForgotten} of them delivered before the crash), ` +
        `${twice} events delivered under two ids`,
    );
    // What the standby never received is gone though it was answered 202: why docs/operations.md asks for a synchronous one.
    expect(lost.length).toBeGreaterThan(0);
    expect(survived.size).toBeGreaterThan(0);
  });
});
