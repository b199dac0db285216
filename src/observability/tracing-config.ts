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
