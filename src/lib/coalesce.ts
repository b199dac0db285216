// A task that many callers ask for and that only needs to run once for all of them: a call while a run is
// under way asks for one more run after it, and resolves when that one ends. So every caller is answered by
// a run that started after its call (nothing it wrote before calling is missed), and N concurrent callers
// cost at most two runs.

export interface Coalesced<T> {
  run(): Promise<T>;
  /** Resolves once no run is under way (failures included). */
  idle(): Promise<void>;
  /** The run under way, if any (without asking for another). */
  current(): Promise<T> | undefined;
}

export function coalesce<T>(task: () => Promise<T>, combine: (a: T, b: T) => T): Coalesced<T> {
  let running: Promise<T> | undefined;
  let again = false;
  return {
    run() {
      if (running) {
        again = true;
        return running;
      }
      let current: Promise<T> | undefined;
      current = (async () => {
        let total: T | undefined;
        try {
          do {
            again = false;
            // Always after an await: `running` is assigned before anything below can run.
            const result = await Promise.resolve().then(task);
            total = total === undefined ? result : combine(total, result);
          } while (again);
          return total;
        } finally {
          // In the same step as the last `again` check: a call from here on starts a run of its own, never
          // joins this one after its last pass (which started before that call).
          if (running === current) running = undefined;
        }
      })();
      running = current;
      return running;
    },
    async idle() {
      while (running) await running.catch(() => undefined);
    },
    current: () => running,
  };
}
