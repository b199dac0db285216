// Tests wait on a clock they hold, not on the wall clock. In test/unit no test sleeps for a fixed time (a
// promise resolved by setTimeout, or vitest's fake timers standing in for an injected clock): time is a
// dependency (src/lib/clock.ts) and test/helpers/manual-clock.ts moves it. In test/integration, where real
// processes, Postgres and subscribers run, a wall-clock wait or duration assertion is allowed only with a
// comment on the line or the one above it that starts `wall clock:` and says why. Exits 1 and lists the
// offenders.
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { typeScriptFiles } from "./lib/source-files.js";

const ROOT = join(import.meta.dirname, "..");
/** A fixed sleep: a promise resolved by a timer. */
const SLEEP = /new Promise[^;]*=>\s*setTimeout\(\s*(r|resolve)\b|(?<![.\w])sleep\(\s*\d/;
/** A duration measured on the wall clock and asserted on. */
const DURATION = /expect\(.*\s-\s.*\)\.toBe(GreaterThan|LessThan)(OrEqual)?\(\s*[\d_]{3,}/;

const problems: string[] = [];
for (const [dir, allowWithReason] of [
  ["test/unit", false],
  ["test/integration", true],
] as const) {
  for (const file of typeScriptFiles(join(ROOT, dir))) {
    const lines = readFileSync(file, "utf8").split("\n");
    lines.forEach((line, i) => {
      const what = SLEEP.test(line) ? "a fixed sleep" : DURATION.test(line) ? "a wall-clock duration" : /vi\.useFakeTimers/.test(line) ? "fake timers" : null;
      if (!what) return;
      const reason = /wall clock:/.test(line) || /wall clock:/.test(lines[i - 1] ?? "");
      if (allowWithReason && reason) return;
      problems.push(`  ${relative(ROOT, file)}:${i + 1}: ${what}${allowWithReason ? " without a `wall clock:` comment saying why" : ""}`);
    });
  }
}
if (problems.length > 0) {
  console.error(`tests that wait on the wall clock (${problems.length}):\n${problems.join("\n")}`);
  process.exit(1);
}
console.log("test clocks: no fixed sleep in test/unit; every wall-clock wait in test/integration says why");
