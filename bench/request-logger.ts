// What a request's logger costs the api: pino-http makes a child of the process's logger for every request
// and writes one line with it. Compared in one process, rounds alternated: pino's own child, and the child of
// the logger that hands lost connections to the outage tracker (src/observability/outages.ts). Lines go to
// /dev/null through the service's own logger (its redaction included). Medians of --rounds (default 5).
//   npm run bench:request-logger [-- --rounds 5 --requests 200000]
import { loadavg } from "node:os";
import { pino } from "pino";
import { createLogger, type Logger } from "../src/observability/logger.js";
import { createOutages, quietOutages } from "../src/observability/outages.js";
import { machine } from "./lib.js";

const arg = (name: string, fallback: number) => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || fallback;
const rounds = arg("rounds", 5);
const requests = arg("requests", 200_000);

const processLog = createLogger({ level: "info", destination: pino.destination({ dest: "/dev/null", sync: true }) });
const outages = createOutages({ log: processLog, meanwhile: { redis: "", postgres: "" }, probes: { redis: async () => 1, postgres: async () => 1 } });
const loggers: Record<string, Logger> = {
  "pino's own child": processLog,
  "the outage-quieting logger's child": quietOutages(processLog, outages, { postgresPorts: [5432], redisPorts: [6379] }),
};

/** Microseconds per request: a child with the request's bindings, and its one line. */
function perRequest(root: Logger, n: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const log = root.child({ req: { id: i, method: "POST", url: "/webhooks/flovi" } });
    log.info({ res: { statusCode: 202 }, responseTime: 3 }, "request completed");
  }
  return Number(process.hrtime.bigint() - started) / n / 1_000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `${machine()}; load average before ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}; ${requests} requests a round, ${rounds} rounds`,
);
for (const root of Object.values(loggers)) perRequest(root, requests / 4); // warm-up
const times = Object.fromEntries(Object.keys(loggers).map((k) => [k, [] as number[]]));
for (let r = 0; r < rounds; r++) for (const [name, root] of Object.entries(loggers)) times[name]!.push(perRequest(root, requests));
console.table(
  Object.entries(times).map(([logger, xs]) => ({
    logger,
    "µs per request (median)": median(xs).toFixed(2),
    rounds: xs.map((x) => x.toFixed(2)).join(" · "),
  })),
);
outages.close();
