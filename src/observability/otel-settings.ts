/** Tracing is on when an OTLP endpoint is set (the standard variables) and the SDK is not disabled. */
export function tracingConfigured(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) && env.OTEL_SDK_DISABLED !== "true";
}

/**
 * Span attribute values are cut at 1 KiB unless OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT (or
 * OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT) says otherwise (the SDK's own default is no limit).
 */
export function attributeValueLengthLimit(env: NodeJS.ProcessEnv = process.env): number {
  const set = Number(env.OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT ?? env.OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT);
  return Number.isFinite(set) && set > 0 ? set : 1024;
}

/**
 * A Redis span's statement: a script is named by its SHA (the arguments of BullMQ's scripts are job data, lock
 * tokens and options, which have no place in a trace); any other command by its name and first argument, the
 * key.
 */
export function redisStatement(command: string, args: unknown[]): string {
  if (/^eval/i.test(command)) return `${command} ${String(args[0] ?? "")}`.trim();
  return args.length > 0 ? `${command} ${String(args[0])}${args.length > 1 ? ` [${args.length - 1} other arguments]` : ""}` : command;
}

/** The instrumentations `OTEL_NODE_ENABLED_INSTRUMENTATIONS` and `OTEL_NODE_DISABLED_INSTRUMENTATIONS` may name. */
const INSTRUMENTATIONS = ["http", "express", "pg", "ioredis", "undici", "bullmq"] as const;
export type InstrumentationName = (typeof INSTRUMENTATIONS)[number];

/**
 * The default profile leaves out the HTTP and Express instrumentations: their hooks run on every request and
 * response whether a trace is recorded or not, and cost the api most of tracing's CPU. The hub starts every
 * request's server span itself instead (src/http/request-span.ts), so no request goes unseen.
 */
const DEFAULT_INSTRUMENTATIONS: readonly InstrumentationName[] = ["pg", "ioredis", "undici", "bullmq"];

const names = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/**
 * The instrumentations to load: `OTEL_NODE_ENABLED_INSTRUMENTATIONS` (else the default profile), minus
 * `OTEL_NODE_DISABLED_INSTRUMENTATIONS`, as the OpenTelemetry Node distribution reads those variables. An
 * unknown name is an error naming the known ones.
 */
export function enabledInstrumentations(env: NodeJS.ProcessEnv = process.env): Set<InstrumentationName> {
  const enabled = names(env.OTEL_NODE_ENABLED_INSTRUMENTATIONS);
  const disabled = names(env.OTEL_NODE_DISABLED_INSTRUMENTATIONS);
  for (const name of [...enabled, ...disabled]) {
    if (!(INSTRUMENTATIONS as readonly string[]).includes(name)) {
      throw new Error(`unknown instrumentation "${name}" in OTEL_NODE_ENABLED/DISABLED_INSTRUMENTATIONS (known: ${INSTRUMENTATIONS.join(", ")})`);
    }
  }
  const chosen = enabled.length > 0 ? (enabled as InstrumentationName[]) : DEFAULT_INSTRUMENTATIONS;
  return new Set(chosen.filter((name) => !disabled.includes(name)));
}

export type SamplerChoice = { kind: "always_on" | "always_off" | "traceidratio"; ratio: number; parentBased: boolean };

/**
 * `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` as the specification defines them (default
 * `parentbased_always_on`). The trace SDK 3.x leaves reading the environment to its caller.
 */
export function samplerChoice(env: NodeJS.ProcessEnv = process.env): SamplerChoice {
  const name = (env.OTEL_TRACES_SAMPLER ?? "parentbased_always_on").trim().toLowerCase();
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 && env.OTEL_TRACES_SAMPLER_ARG?.trim() ? arg : 1;
  const parentBased = name.startsWith("parentbased_");
  const kind = name.replace(/^parentbased_/, "");
  if (kind !== "always_on" && kind !== "always_off" && kind !== "traceidratio") {
    throw new Error(`unknown OTEL_TRACES_SAMPLER "${name}" (known: always_on, always_off, traceidratio, each also as parentbased_…)`);
  }
  return { kind, ratio, parentBased };
}

/** The batch span processor's `OTEL_BSP_*` settings that are set and valid (the SDK's defaults otherwise). */
export function batchProcessorSettings(env: NodeJS.ProcessEnv = process.env): {
  scheduledDelayMillis?: number;
  exportTimeoutMillis?: number;
  maxQueueSize?: number;
  maxExportBatchSize?: number;
} {
  const read = (name: string) => {
    const value = Number(env[name]);
    return env[name]?.trim() && Number.isFinite(value) && value > 0 ? value : undefined;
  };
  const settings = {
    scheduledDelayMillis: read("OTEL_BSP_SCHEDULE_DELAY"),
    exportTimeoutMillis: read("OTEL_BSP_EXPORT_TIMEOUT"),
    maxQueueSize: read("OTEL_BSP_MAX_QUEUE_SIZE"),
    maxExportBatchSize: read("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"),
  };
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
}
