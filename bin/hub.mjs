#!/usr/bin/env node
// hub: the admin CLI (docs/cli.md) as `npx hub <command>` or `npm run admin -- <command>`. It runs the CLI
// bundled into one file (dist/cli/hub.mjs, built by scripts/build-cli.mjs), with V8's compile cache on, so a
// command answers in a fraction of a second. In a checkout, the bundle is rebuilt first whenever it is missing
// or older than the source or the installed packages, so it never runs stale code; in the image (no src/)
// the bundle built with it is used as is.
import { existsSync } from "node:fs";
import module from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

module.enableCompileCache?.();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const bundle = path.join(root, "dist/cli/hub.mjs");
if (existsSync(path.join(root, "src"))) {
  const { buildCliIfStale } = await import("../scripts/build-cli.mjs");
  await buildCliIfStale(root);
}
await import(bundle);
