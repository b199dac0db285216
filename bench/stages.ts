// Where an event's time goes, end to end (bench:e2e --stages): for the events a phase delivered, each stage's
// p50 and p99 and, for the slowest 1 % by total, each stage's mean and when in the phase they were sent (a
// tail made at one moment, a stall or a step in the rate, or spread over the phase). Stages are read from the
// rows the hub wrote (Postgres's clock and the worker's are this machine's, as the bench's):
//   ingress: the bench sent the webhook (the event's `time`) → the api's insert began (inbound_deliveries.received_at)
//   to pass: → the drain's pass that applied it began (inbound_deliveries.processed_at, its transaction's start)
//   to write: → the pass's write statement began (events.created_at): the pass's key claim and load
//   to send: → the worker began the first attempt (delivery_attempts.attempted_at): the write, its commit, the launch
//   send: → the subscriber here verified it (signing, the POST, this process reading it)
import type pg from "pg";
import { percentile } from "./lib.js";

const STAGES = ["ingress", "to pass", "to write", "to send", "send"] as const;

export async function stageTable(
  client: pg.Client,
  arrivals: Map<string, number>,
  since: number,
): Promise<{ rows: Record<string, string | number>[]; when: string }> {
  const ids = [...arrivals].filter(([, at]) => at >= since).map(([id]) => id);
  const { rows } = await client.query<{ id: string; sent: number; stored: number; passed: number; written: number; attempted: number }>(
    `SELECT e.id::text AS id,
            extract(epoch FROM e.time) * 1000 AS sent,
            extract(epoch FROM i.received_at) * 1000 AS stored,
            extract(epoch FROM i.processed_at) * 1000 AS passed,
            extract(epoch FROM e.created_at) * 1000 AS written,
            extract(epoch FROM a.attempted_at) * 1000 AS attempted
       FROM events e
       JOIN inbound_deliveries i ON i.provider = 'flovi' AND i.ordering_key = e.entity_id
       JOIN webhook_deliveries d ON d.event_id = e.id
       JOIN delivery_attempts a ON a.webhook_delivery_id = d.id AND a.attempt = 1
      WHERE e.id = ANY($1::uuid[]) /* bench-counter */`,
    [ids],
  );
  const events = rows.map((r) => {
    const points = [Number(r.sent), Number(r.stored), Number(r.passed), Number(r.written), Number(r.attempted), arrivals.get(r.id)!];
    const spans = STAGES.map((_, i) => points[i + 1]! - points[i]!);
    return { sent: points[0]!, spans, total: spans.reduce((a, b) => a + b, 0) };
  });
  // A broker destination has no HTTP subscriber here, so no arrivals to split.
  if (events.length === 0) return { rows: [], when: "(no events delivered to the HTTP subscriber)" };
  const tail = [...events].sort((a, b) => b.total - a.total).slice(0, Math.max(1, Math.ceil(events.length / 100)));
  const row = (name: string, pick: (e: (typeof events)[number]) => number) => {
    const values = events.map(pick).sort((a, b) => a - b);
    return {
      stage: name,
      p50: Math.round(percentile(values, 50)),
      p99: Math.round(percentile(values, 99)),
      "slowest 1 %, mean": Math.round(tail.reduce((sum, e) => sum + pick(e), 0) / tail.length),
    };
  };
  const seconds = new Map<number, number>();
  for (const e of tail) {
    const second = Math.floor((e.sent - since) / 1000);
    seconds.set(second, (seconds.get(second) ?? 0) + 1);
  }
  return {
    rows: [...STAGES.map((name, i) => row(name, (e) => e.spans[i]!)), row(`total (${events.length} events)`, (e) => e.total)],
    when: [...seconds]
      .sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s}: ${n}`)
      .join(", "),
  };
}
