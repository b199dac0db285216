// The production topologies under fault (npm run test:faults): several api processes behind a load balancer
// with several workers, a Sentinel failover and a Redis Cluster failover during steady traffic. Each scenario
// checks the same end state as the single-node suite (every state once, in sequence, one webhook-id per event,
// nothing accepted lost) and prints its figures on a `[figures]` line (docs/operations.md quotes them).
import { afterEach, describe, expect, it } from "vitest";
import { queuePrefix } from "../../src/queues/queues.js";
import { createWorld, expectWalksInOrder, reservationIds, sendWebhooks, subscribeAll, until, type SendResult, type World } from "./harness.js";

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const STATES = ["created", "taken", "driving", "sealed", "final_costs"];

/** What a failover run reports: traffic, refusals and their window, duplicates, and how long deliveries paused. */
function figures(name: string, w: World, sent: SendResult, faultAt: number, extra: Record<string, number>) {
  const byId = new Map<string, number>();
  for (const r of w.subscriber.received) byId.set(r.webhookId, (byId.get(r.webhookId) ?? 0) + 1);
  const after = w.subscriber.received
    .map((r) => r.at)
    .filter((at) => at >= faultAt)
    .sort((a, b) => a - b);
  let pause = after.length > 0 ? after[0]! - faultAt : 0;
  for (let i = 1; i < after.length; i++) pause = Math.max(pause, after[i]! - after[i - 1]!);
  const refusedAfter = sent.refusedAt.filter((at) => at >= faultAt);
  const report = {
    scenario: name,
    sent: sent.accepted.size + sent.refusedAt.length,
    accepted: sent.accepted.size,
    refusals: Object.fromEntries(sent.refusals),
    refusingMs: refusedAfter.length > 0 ? Math.max(...refusedAfter) - Math.min(...refusedAfter) : 0,
    delivered: w.subscriber.received.length,
    distinctEvents: byId.size,
    redeliveredSameId: w.subscriber.received.length - byId.size,
    longestDeliveryPauseMs: pause,
    ...extra,
  };
  process.stdout.write(`[figures] ${JSON.stringify(report)}\n`);
  return report;
}

/** Only what a durable store allows: 202, or 503/a dropped connection that the sender retries. Never a 4xx or another 5xx. */
function onlyRetryableRefusals(sent: SendResult): string[] {
  return [...sent.refusals.keys()].filter((status) => status !== "503" && status !== "network");
}

/**
 * An api and two workers; 200 reservations walk their five states; after 300 are accepted `failover` breaks
 * Redis and returns once it is serving again. Then the same end state as ever, and the figures.
 */
async function walkThroughFailover(w: World, name: string, failover: () => Promise<void>) {
  await w.startApi();
  await w.startWorker();
  await w.startWorker();
  await subscribeAll(w);
  const ids = reservationIds(200, name);
  const walking = sendWebhooks(w, ids, { concurrency: 20, states: STATES, giveUpAt: Date.now() + 150_000 });
  await until(() => walking.progress.accepted.size >= 300, "300 accepted before the failover");
  const killedAt = Date.now();
  await failover();
  const promotedMs = Date.now() - killedAt;
  const sent = await walking;
  expect(sent.accepted.size).toBe(ids.length * STATES.length);
  expect(onlyRetryableRefusals(sent)).toEqual([]);
  const verdict = await expectWalksInOrder(w, ids, STATES, 180_000);
  expect(verdict.problems).toEqual([]);
  figures(name, w, sent, killedAt, { promotedMs });
}

describe("production topologies", () => {
  it("2 api processes behind a load balancer and 3 workers, one api SIGKILLed midway: every state once, in receipt order", async () => {
    world = await createWorld();
    await world.startApi();
    await world.addApi();
    for (let i = 0; i < 3; i++) await world.startWorker();
    await subscribeAll(world);
    const w = world;
    const ids = reservationIds(300, "many");
    const walking = sendWebhooks(w, ids, { concurrency: 30, states: STATES });
    await until(() => walking.progress.accepted.size >= 400, "400 accepted before the api is killed");
    const killedAt = Date.now();
    const victim = w.apis[0]!;
    victim.child.kill("SIGKILL");
    await victim.exited;
    const sent = await walking;
    expect(sent.accepted.size).toBe(ids.length * STATES.length);
    expect(onlyRetryableRefusals(sent)).toEqual([]);
    const verdict = await expectWalksInOrder(w, ids, STATES, 180_000);
    expect(verdict.problems).toEqual([]);
    figures("many-processes", w, sent, killedAt, {});
  });

  it("Sentinel failover during steady traffic (primary SIGKILLed, replica promoted): nothing lost, no state twice", async () => {
    world = await createWorld({ redis: "sentinel" });
    const set = world.sentinel!;
    await walkThroughFailover(world, "sentinel-failover", async () => {
      await set.primary.kill();
      // Usually about 2 s. A sentinel whose process stalled for 2 s enters TILT and acts on nothing for 30 s, and a
      // split leader vote waits twice the failover timeout (10 s) before the next try: so allow 90 s, and say why.
      await until(async () => (await set.currentMaster().catch(() => 0)) === set.replica.port, "the sentinels to promote the replica", 90_000).catch(
        async (error: Error) => {
          throw new Error(`${error.message}\n${await set.describe()}`);
        },
      );
    });
  });

  it("Cluster failover during steady traffic (the inbound queue's master SIGKILLed, its replica takes over): nothing lost, no state twice", async () => {
    world = await createWorld({ redis: "cluster-with-replicas" });
    const cluster = world.cluster!;
    // The master that holds the Flovi queue's hash slot: losing it stops intake's enqueue and the workers' fetch.
    const key = `${queuePrefix("faults", "flovi-events")}:x`;
    const port = await cluster.masterFor(key);
    await walkThroughFailover(world, "cluster-failover", async () => {
      await cluster.nodes.find((n) => n.port === port)!.kill();
      await until(async () => (await cluster.masterFor(key).catch(() => port)) !== port, "a replica to take the slot over", 30_000);
      await cluster.healthy();
    });
  });
});
