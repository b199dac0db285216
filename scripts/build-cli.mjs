// Bundles the admin CLI (src/admin/cli.ts) into dist/cli/hub.mjs with esbuild, plus one chunk per command
// group it loads on demand: a few files to read and compile instead of some hundreds of modules to resolve,
// which was most of a command's start-up.
// Prisma's client stays outside (it loads its query compiler beside itself). `npm run build` runs this;
// bin/hub.mjs calls buildCliIfStale() before every command in a checkout.
//   node scripts/build-cli.mjs      build now
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** The newest modification time under `dir` (files whose name passes `keep`). */
function newest(dir, keep) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(full, keep));
    else if (keep(entry.name)) latest = Math.max(latest, statSync(full).mtimeMs);
  }
  return latest;
}

/** Whether the bundle is missing, or older than the source it was built from or than the installed packages. */
export function cliIsStale(root) {
  const bundle = path.join(root, "dist/cli/hub.mjs");
  if (!existsSync(bundle)) return true;
  const built = statSync(bundle).mtimeMs;
  const installed = path.join(root, "node_modules/.package-lock.json");
  const inputs = [
    newest(path.join(root, "src"), (name) => /\.(ts|js|sql|json)$/.test(name)),
    existsSync(installed) ? statSync(installed).mtimeMs : 0,
    statSync(path.join(here, "build-cli.mjs")).mtimeMs,
  ];
  return inputs.some((time) => time > built);
}

export async function buildCli(root) {
  const { build } = await import("esbuild");
  const outdir = path.join(root, "dist/cli");
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { hub: path.join(root, "src/admin/cli.ts") },
    outdir,
    outExtension: { ".js": ".mjs" },
    // A chunk per dynamic import: a command loads the modules it uses, not every command's.
    splitting: true,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node26",
    // Prisma's client loads its query compiler (WebAssembly) from its own package, and its adapter must share
    // the one copy of pg with the hub; pino-pretty is for dev logs.
    external: ["@prisma/client", "@prisma/adapter-pg", "pg", "pino-pretty"],
    // The bundled CommonJS packages (pg, ioredis, bullmq) call require() for Node's own modules.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    legalComments: "none",
    logLevel: "warning",
  });
}

export async function buildCliIfStale(root) {
  if (!cliIsStale(root)) return;
  const first = !existsSync(path.join(root, "dist/cli/hub.mjs"));
  process.stderr.write(`hub: building the CLI (${first ? "its first run here" : "the source changed since the last build"})…\n`);
  await buildCli(root);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildCli(path.resolve(here, ".."));
