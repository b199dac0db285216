import { describe, expect, it } from "vitest";
import { createGroupWriter } from "../../src/lib/group-commit.js";

const tick = () => new Promise((r) => setImmediate(r));

describe("group commit", () => {
  it("callers of one event-loop turn share a batch; each gets its own result, in order", async () => {
    const batches: number[][] = [];
    const writer = createGroupWriter(async (inputs: number[]) => {
      batches.push(inputs);
      return inputs.map((i) => i * 10);
    });
    const results = await Promise.all([1, 2, 3].map((i) => writer.write(i)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it("callers arriving while a batch is written wait for the next one; no batch exceeds maxBatch", async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const writer = createGroupWriter(async (inputs: number[]) => {
      batches.push(inputs);
      if (batches.length === 1) await gate;
      return inputs;
    }, 2);
    const first = writer.write(1);
    await tick();
    const later = [2, 3, 4, 5, 6].map((i) => writer.write(i));
    release();
    expect(await Promise.all([first, ...later])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(batches).toEqual([[1], [2, 3], [4, 5], [6]]);
  });

  it("a failed batch rejects every caller in it, and the next batch is written as usual", async () => {
    let calls = 0;
    const writer = createGroupWriter(async (inputs: string[]) => {
      calls += 1;
      if (calls === 1) throw new Error("connection lost");
      return inputs.map((i) => i.toUpperCase());
    });
    const failed = await Promise.allSettled([writer.write("a"), writer.write("b")]);
    expect(failed.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(failed.map((r) => (r as PromiseRejectedResult).reason.message)).toEqual(["connection lost", "connection lost"]);
    expect(await writer.write("c")).toBe("C");
  });

  it("idle resolves only once nothing is pending or being written", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let written = 0;
    const writer = createGroupWriter(async (inputs: number[]) => {
      await gate;
      written += inputs.length;
      return inputs;
    });
    void writer.write(1);
    void writer.write(2);
    let idle = false;
    const waiting = writer.idle().then(() => (idle = true));
    await tick();
    await tick();
    expect(idle).toBe(false);
    release();
    await waiting;
    expect(written).toBe(2);
  });
});
