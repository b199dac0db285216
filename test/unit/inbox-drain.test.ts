// The Flovi inbox's drain, without a database: the store is an in-memory fake of the small interface the
// drain takes. What is checked is the drain's own logic: passes until nothing waits, a batch refused on its
// data applied again key by key and row by row with only the bad row set aside, retries while another
// process holds a reservation, misfiled rows applied one by one, and no empty pass for a job whose delivery
// this process just applied. (flovi-processing.test.ts and the ordering suites run it for real.)
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { ApplyResult } from "../../src/pipeline/flovi/apply-stored.js";
import { type Committed, createFloviInbox } from "../../src/pipeline/flovi/inbox.js";
import type { InboxStore, Pass } from "../../src/pipeline/flovi/inbox-store.js";

const log = pino({ level: "silent" });

interface Row {
  id: string;
  key: string;
  bad?: boolean;
  misfiled?: boolean;
}

/** Rows waiting per key, applied in order; a pass containing a bad row fails whole, like a refused statement. */
function fakeStore(rows: Row[], opts: { contendedPasses?: number } = {}) {
  const waiting = [...rows];
  const done: string[] = [];
  const setAside: string[] = [];
  let contended = opts.contendedPasses ?? 0;
  let passes = 0;
  const dataError = () => Object.assign(new Error("value too long for type character varying(200)"), { code: "22001" });
  const take = (keys: string[] | undefined, limit: number) => {
    const chosen: Row[] = [];
    for (const row of waiting) {
      if (chosen.length >= limit) break;
      if (keys && !keys.includes(row.key)) continue;
      chosen.push(row);
    }
    return chosen;
  };
  const store: InboxStore = {
    async pass(keys, limit): Promise<Pass> {
      passes += 1;
      const chosen = take(keys, limit);
      const busy = contended > 0 ? 1 : 0;
      if (contended > 0) contended -= 1;
      if (busy) return { applied: 0, contended: 1, outcomeIds: [], events: [], deliveries: [], misfiled: [] };
      if (chosen.some((r) => r.bad)) throw dataError();
      for (const r of chosen) waiting.splice(waiting.indexOf(r), 1);
      const applied = chosen.filter((r) => !r.misfiled);
      done.push(...applied.map((r) => r.id));
      return {
        applied: applied.length,
        contended: 0,
        outcomeIds: applied.map((r) => r.id),
        events: applied.map((r) => ({ id: `event-${r.id}` }) as unknown as Committed["events"][number]),
        deliveries: [],
        misfiled: chosen.filter((r) => r.misfiled).map((r) => r.id),
      };
    },
    claimKeys: async (limit) => [...new Set(waiting.map((r) => r.key))].slice(0, limit),
    oldestWaiting: async (key) => waiting.find((r) => r.key === key)?.id ?? null,
    async setAside(id) {
      const row = waiting.find((r) => r.id === id)!;
      waiting.splice(waiting.indexOf(row), 1);
      setAside.push(id);
    },
    async applyOne(id): Promise<ApplyResult> {
      done.push(id);
      return { kind: "applied", events: [], deliveries: [], outcome: "processed" };
    },
  };
  return { store, done, setAside, waiting, passes: () => passes };
}

describe("the Flovi inbox drain", () => {
  it("applies everything waiting, in passes of the batch size, and reports what it emitted", async () => {
    const rows = Array.from({ length: 7 }, (_, i) => ({ id: `d${i}`, key: `r${i % 3}` }));
    const fake = fakeStore(rows);
    const committed: Committed[] = [];
    const inbox = createFloviInbox({ store: fake.store, log, batchSize: 3, onCommitted: (c) => committed.push(c) });
    expect(await inbox.drain()).toEqual({ applied: 7, events: 7, failed: 0 });
    expect(fake.done).toEqual(rows.map((r) => r.id));
    expect(committed.flatMap((c) => c.events)).toHaveLength(7);
  });

  it("a batch refused on its data is applied key by key, then row by row: only the bad row is set aside", async () => {
    const rows: Row[] = [
      { id: "a1", key: "a" },
      { id: "b1", key: "b" },
      { id: "b2", key: "b", bad: true },
      { id: "b3", key: "b" },
      { id: "c1", key: "c" },
    ];
    const fake = fakeStore(rows);
    const result = await createFloviInbox({ store: fake.store, log, batchSize: 10 }).drain();
    expect(fake.setAside).toEqual(["b2"]);
    expect(fake.done.sort()).toEqual(["a1", "b1", "b3", "c1"]);
    expect(result).toMatchObject({ applied: 4, failed: 1 });
    expect(fake.waiting).toEqual([]);
  });

  it("keeps trying while another process holds a waiting reservation, then applies it", async () => {
    const fake = fakeStore([{ id: "d1", key: "r1" }], { contendedPasses: 3 });
    expect(await createFloviInbox({ store: fake.store, log }).drain()).toMatchObject({ applied: 1 });
    expect(fake.passes()).toBe(4); // three contended, then the one that applies (and finds nothing more held)
  });

  it("applies rows filed under another key one by one", async () => {
    const fake = fakeStore([
      { id: "d1", key: "r1" },
      { id: "old", key: "r1", misfiled: true },
    ]);
    await createFloviInbox({ store: fake.store, log }).drain();
    expect(fake.done).toEqual(["d1", "old"]);
  });

  it("a job for a delivery this process just applied costs no pass", async () => {
    const fake = fakeStore([{ id: "d1", key: "r1" }]);
    const inbox = createFloviInbox({ store: fake.store, log });
    await inbox.drain("d1");
    const after = fake.passes();
    expect(await inbox.drain("d1")).toEqual({ applied: 0, events: 0, failed: 0 });
    expect(fake.passes()).toBe(after);
  });

  it("an error that is not about the data is the job's: it propagates, nothing is set aside", async () => {
    const fake = fakeStore([{ id: "d1", key: "r1" }]);
    fake.store.pass = async () => {
      throw Object.assign(new Error("connection terminated"), { code: "57P01" });
    };
    await expect(createFloviInbox({ store: fake.store, log }).drain()).rejects.toThrow(/connection terminated/);
    expect(fake.setAside).toEqual([]);
  });
});
