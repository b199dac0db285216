import { describe, expect, it } from "vitest";
import { coalesce } from "../../src/lib/coalesce.js";

describe("coalesce", () => {
  it("every caller is answered by a run that started after its call", async () => {
    // A store that the task reads: a caller's write before calling must be seen by the run that answers it.
    const store: number[] = [];
    const gates: (() => void)[] = [];
    let runs = 0;
    const seen = coalesce(
      async () => {
        runs += 1;
        const snapshot = [...store];
        await new Promise<void>((r) => gates.push(r));
        return snapshot;
      },
      (_a, b) => b,
    );
    store.push(1);
    const first = seen.run();
    await Promise.resolve();
    store.push(2); // written after the first run took its snapshot
    const second = seen.run();
    gates.shift()!(); // end the first run: the second caller asked during it, so one more run follows
    await new Promise((r) => setImmediate(r));
    gates.shift()!();
    expect(await second).toEqual([1, 2]);
    expect(await first).toEqual([1, 2]); // both share the combined run's result
    expect(runs).toBe(2);
  });

  it("N callers during one run cost at most one more run, whose results combine", async () => {
    let runs = 0;
    const counter = coalesce(
      async () => {
        runs += 1;
        await new Promise((r) => setImmediate(r));
        return 1;
      },
      (a, b) => a + b,
    );
    const results = await Promise.all(Array.from({ length: 10 }, () => counter.run()));
    expect(runs).toBe(2);
    expect(results).toEqual(Array(10).fill(2));
  });

  it("a failed run rejects its callers; the next call runs again; idle waits through failures", async () => {
    let fail = true;
    const task = coalesce(
      async () => {
        if (fail) throw new Error("boom");
        return "ok";
      },
      (_a, b) => b,
    );
    await expect(task.run()).rejects.toThrow("boom");
    await task.idle();
    expect(task.current()).toBeUndefined();
    fail = false;
    expect(await task.run()).toBe("ok");
  });
});

describe("coalesce, at the edge of a run", () => {
  it("a call made just as the last pass ends (before its promise settles) gets a run of its own", async () => {
    let finish!: (n: number) => void;
    let runs = 0;
    const task = coalesce(
      () => {
        runs += 1;
        return new Promise<number>((r) => (finish = r));
      },
      (_a, b) => b,
    );
    const first = task.run();
    await new Promise((r) => setImmediate(r));
    let late: Promise<number> | undefined;
    finish(1); // the run's last pass ends in the next microtask...
    queueMicrotask(() => {
      late = task.run(); // ...and this call comes right after it, before the run's promise settles
    });
    await new Promise((r) => setImmediate(r));
    finish(2); // the pass that started after the late call
    expect(await late).toBe(2);
    expect(await first).toBe(2);
    expect(runs).toBe(2);
  });
});

describe("group commit, at the edge of a batch", () => {
  it("a caller that writes again as soon as its result arrives is written without waiting for another caller", async () => {
    const { createGroupWriter } = await import("../../src/lib/group-commit.js");
    const writer = createGroupWriter(async (inputs: number[]) => inputs);
    const again = writer.write(1).then(() => writer.write(2));
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("stranded")), 1_000));
    expect(await Promise.race([again, timeout])).toBe(2);
  });
});
