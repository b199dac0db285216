// npm run docs:events: rewrites the generated part of docs/events.md from the event catalog.
// `--check` only compares, and exits 1 when the file is stale (CI runs the same comparison as a test).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { withCatalog } from "./lib/event-docs.js";

const path = join(import.meta.dirname, "..", "docs", "events.md");
const current = readFileSync(path, "utf8");
const next = withCatalog(current);
if (process.argv.includes("--check")) {
  if (next !== current) {
    console.error("docs/events.md is stale: run npm run docs:events");
    process.exit(1);
  }
  console.log("docs/events.md matches the event catalog");
} else {
  writeFileSync(path, next);
  console.log(next === current ? "docs/events.md already up to date" : "docs/events.md: event catalog regenerated");
}
