// A/B: the same benchmark on two checkouts, runs alternated on this machine so both see the same noise.
//   git worktree add ../hub-base <commit> && (cd ../hub-base && npm ci && npm run build)
//   npm run bench:ab -- --base ../hub-base [--runs 3] [--script bench:e2e] -- --rates 100,300,600 --duration 20
// Each run is `npm run -s <script> -- <args after -->` in one checkout, then in the other, with the load
// average printed before each, and the machine's speed (the CPU time of a fixed piece of work on each CPU:
// bench/lib.ts speedMs; a run on a slower machine costs more per event on both sides); the tables are the scripts' own.
// Report medians over the runs, per side.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { loadAverage, speedMs } from "./lib.js";

const argv = process.argv.slice(2);
const split = argv.indexOf("--");
const own = split >= 0 ? argv.slice(0, split) : argv;
const passed = split >= 0 ? argv.slice(split + 1) : [];
const opts = new Map(own.map((a, i, all) => [a.replace(/^--/, ""), all[i + 1] ?? ""]));
const base = opts.get("base");
if (!base) {
  console.error("usage: npm run bench:ab -- --base <other checkout> [--runs 3] [--script bench:e2e] -- <the script's arguments>");
  process.exit(2);
}
const runs = Number(opts.get("runs") || 3);
const script = opts.get("script") || "bench:e2e";
const sides = [
  { name: "base", dir: path.resolve(base) },
  { name: "this", dir: process.cwd() },
];

for (let run = 1; run <= runs; run++) {
  // Alternate which side goes first, so neither always runs on a warmer (or more tired) machine.
  const order = run % 2 === 1 ? sides : [...sides].reverse();
  for (const side of order) {
    console.log(`\n=== run ${run}/${runs}, ${side.name} (${side.dir}); load average before ${loadAverage()}; fixed work ${speedMs()} ms CPU per CPU`);
    // Each side on its own runtime: npm put this checkout's node_modules/.bin (where its Node may be) first
    // on PATH; the other checkout's npm puts its own there instead.
    const PATH = (process.env.PATH ?? "")
      .split(path.delimiter)
      .filter((dir) => !dir.endsWith(`${path.sep}node_modules${path.sep}.bin`))
      .join(path.delimiter);
    const result = spawnSync("npm", ["run", "-s", script, "--", ...passed], { cwd: side.dir, stdio: "inherit", env: { ...process.env, PATH } });
    if (result.status !== 0) console.log(`=== ${side.name} exited ${result.status}`);
  }
}
