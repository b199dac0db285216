// Process entry point: `node dist/src/main.js api|worker|all|console`. Parses the configuration once, starts the
// role and turns SIGTERM/SIGINT into an orderly shutdown (exit 0 when clean).
// Nothing instrumented by OpenTelemetry is imported statically: tracing (when configured) starts first, then
// the runtime loads.
import { ConfigError, loadConfig, type Config } from "./config/env.js";
import { createLogger } from "./observability/logger.js";
import type { Role } from "./runtime.js";

async function main() {
  const role = (process.argv[2] ?? "all") as Role;
  if (!["api", "worker", "all", "console"].includes(role)) {
    process.stderr.write(`usage: main.js api|worker|all|console (got "${role}")\n`);
    process.exit(2);
  }
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  // OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) turns tracing on; unset, its modules are never loaded.
  const { tracingConfigured } = await import("./observability/otel-settings.js");
  const leftOut = new Set<string>();
  const tracing = tracingConfigured(process.env) ? await (await import("./observability/otel-sdk.js")).startTracing(role, (name) => leftOut.add(name)) : null;
  // BullMQ's spans are the hub's to turn off (bullmq-otel is an option of its queues, not an instrumentation).
  if (leftOut.has("bullmq")) (await import("./queues/telemetry.js")).disableQueueTelemetry();
  const log = createLogger({ level: config.LOG_LEVEL, name: role, traceFields: tracing !== null });
  if (tracing)
    log.info(
      { endpoint: process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT },
      "tracing on: spans exported over OTLP/HTTP",
    );
  const { start } = await import("./runtime.js");
  let running: Awaited<ReturnType<typeof start>>;
  try {
    running = await start(role, config, log);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
      // One line that says what to do, never a stack trace.
      process.stderr.write(`port ${config.PORT} on ${config.HOST} is already in use (another instance running?): set PORT to a free port\n`);
      process.exit(1);
    }
    throw error;
  }
  const onSignal = (signal: NodeJS.Signals) => {
    void running.stop(signal).then(async ({ clean }) => {
      await tracing?.shutdown().catch(() => undefined);
      log.flush?.();
      process.exit(clean ? 0 : 1);
    });
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  process.on("unhandledRejection", (reason) => log.error({ err: reason }, "unhandled rejection"));
}

main().catch((error: unknown) => {
  process.stderr.write(`fatal: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
