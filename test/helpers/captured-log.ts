// A real logger (the service's own, with its redaction) whose lines a test reads back as parsed JSON.
import { PassThrough } from "node:stream";
import { createLogger, type Logger } from "../../src/observability/logger.js";

export function capturedLog(level = "info"): { log: Logger; lines: Record<string, unknown>[] } {
  const stream = new PassThrough();
  const lines: Record<string, unknown>[] = [];
  stream.on("data", (b: Buffer) => {
    for (const line of b.toString().split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { log: createLogger({ level, destination: stream }), lines };
}
