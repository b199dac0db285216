import type { Logger } from "pino";

export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown>;
}

/** Runs every step once, in order, continuing past failures, bounded by the timeout. Safe to call twice. */
export type Shutdown = (reason: string) => Promise<{ clean: boolean }>;

export function createShutdown(opts: { steps: () => ShutdownStep[]; timeoutMs: number; log: Logger }): Shutdown {
  let done: Promise<{ clean: boolean }> | undefined;
  return (reason) => {
    done ??= (async () => {
      opts.log.info({ reason, timeoutMs: opts.timeoutMs }, "shutting down");
      let clean = true;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), opts.timeoutMs);
        timer.unref();
      });
      const sequence = (async () => {
        for (const step of opts.steps()) {
          const started = Date.now();
          try {
            await step.run();
            opts.log.debug({ step: step.name, ms: Date.now() - started }, "shutdown step done");
          } catch (error) {
            clean = false;
            opts.log.error({ step: step.name, err: error }, "shutdown step failed");
          }
        }
      })();
      const result = await Promise.race([sequence.then(() => "done" as const), deadline]);
      clearTimeout(timer);
      if (result === "timeout") {
        opts.log.error({ timeoutMs: opts.timeoutMs }, "shutdown timed out");
        return { clean: false };
      }
      opts.log.info({ clean }, "shutdown complete");
      return { clean };
    })();
    return done;
  };
}
