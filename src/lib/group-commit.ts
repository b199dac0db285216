// Group commit: callers that arrive while one batch is being written wait for the next batch, so a burst
// of N concurrent writes costs a few statements, not N. A lone caller is written at once (no timer, no
// added wait). A batch that fails rejects every caller in it.

export interface GroupWriter<I, O> {
  write(input: I): Promise<O>;
  /** Resolves once nothing is pending or being written. */
  idle(): Promise<void>;
}

export function createGroupWriter<I, O>(writeBatch: (inputs: I[]) => Promise<O[]>, maxBatch = 256): GroupWriter<I, O> {
  let pending: { input: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  let draining: Promise<void> | undefined;

  async function drain() {
    while (pending.length > 0) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      try {
        const results = await writeBatch(batch.map((p) => p.input));
        for (const [i, p] of batch.entries()) p.resolve(results[i]!);
      } catch (error) {
        for (const p of batch) p.reject(error);
      }
    }
  }

  function schedule() {
    if (draining !== undefined) return;
    // setImmediate lets the requests of one event-loop turn join the first batch.
    draining = new Promise<void>((r) => setImmediate(r)).then(drain).finally(() => {
      draining = undefined;
      // A caller answered by the last batch may have written again before this ran: its write saw a drain
      // under way and waited for it, so it is this drain's to start (it would wait for the next caller else).
      if (pending.length > 0) schedule();
    });
  }

  return {
    write(input) {
      return new Promise<O>((resolve, reject) => {
        pending.push({ input, resolve, reject });
        schedule();
      });
    },
    async idle() {
      while (draining !== undefined) await draining;
    },
  };
}
