// Runs the data-access scan (scripts/lib/data-access.ts) over src outside src/db and src/generated; the
// other half of the rule, that only src/db imports Prisma or pg, is .dependency-cruiser.cjs. Exits 1 and
// lists each violation.
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { typeScriptFiles } from "./lib/source-files.js";
import { findViolations } from "./lib/data-access.js";

const ROOT = join(import.meta.dirname, "..");
const ALLOWED = /^src\/(db|generated)\//;

const violations = [...typeScriptFiles(join(ROOT, "src"))]
  .map((file) => relative(ROOT, file))
  .filter((rel) => !ALLOWED.test(rel))
  .flatMap((rel) => findViolations(rel, readFileSync(join(ROOT, rel), "utf8")));
if (violations.length > 0) {
  console.error(`data access outside src/db (${violations.length}):\n${violations.map((v) => `${v.file}:${v.line}: ${v.why}\n    ${v.text}`).join("\n")}`);
  process.exit(1);
}
console.log("data access: every statement, transaction and Prisma call is in src/db");
