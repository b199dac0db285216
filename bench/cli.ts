// How fast the admin CLI answers, against a running `npm run dev` (its .data/dev.env tells the CLI where):
// `subscriptions list` through the bin (`node bin/hub.mjs`, what `npx hub` runs), through `npm run -s admin`,
// and the old way (TypeScript compiled on every call by tsx), and how long `tail` takes to print its first
// line. Medians of --runs (default 5), each command alternated with the others; the load average before.
//   npm run dev                    (in another terminal)
//   npm run bench:cli -- --runs 5
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
if (!existsSync(path.join(root, ".data/dev.env"))) {
  process.stderr.write("bench:cli measures against a running `npm run dev`: start it first\n");
  process.exit(2);
}
const runs = Number(process.argv[process.argv.indexOf("--runs") + 1] ?? 5) || 5;

/** Milliseconds from spawn until the process exits, or until `until` matches its output. */
function timed(command: string, args: string[], until?: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      if (until?.test(out)) {
        resolve(performance.now() - started);
        child.kill("SIGINT");
      }
    });
    child.on("exit", (code) =>
      until
        ? reject(new Error(`${args.join(" ")} exited ${code} before its first line`))
        : code === 0
          ? resolve(performance.now() - started)
          : reject(new Error(`${args.join(" ")}: exit ${code}`)),
    );
  });
}

const commands: Record<string, () => Promise<number>> = {
  "bin: subscriptions list": () => timed(process.execPath, ["bin/hub.mjs", "subscriptions", "list"]),
  "npm run -s admin: subscriptions list": () => timed("npm", ["run", "-s", "admin", "--", "subscriptions", "list"]),
  "tsx (before): subscriptions list": () => timed(process.execPath, ["--import", "tsx", "src/admin/cli.ts", "subscriptions", "list"]),
  "bin: tail, first line": () => timed(process.execPath, ["bin/hub.mjs", "tail"], /tailing/),
};
// One untimed call each: the bundle is built and the compile cache written, as after a first use.
for (const run of Object.values(commands)) await run();
const times = new Map<string, number[]>(Object.keys(commands).map((k) => [k, []]));
const loads: string[] = [];
for (let i = 0; i < runs; i++) {
  loads.push(loadavg()[0]!.toFixed(2));
  for (const [name, run] of Object.entries(commands)) times.get(name)!.push(await run());
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`node ${process.version}, ${runs} runs, load average (1 min) before each round: ${loads.join(", ")}`);
console.table(
  [...times].map(([name, xs]) => ({
    command: name,
    "median ms": Math.round(median(xs)),
    "min ms": Math.round(Math.min(...xs)),
    "max ms": Math.round(Math.max(...xs)),
  })),
);
