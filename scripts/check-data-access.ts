// The half of the data-layer rule an import graph cannot see: outside src/db, no code reaches through the
// Database handle to Prisma or the pg pool, opens a transaction of its own, or writes SQL. (The other half,
// that only src/db imports Prisma or pg, is .dependency-cruiser.cjs.) Exits 1 and lists each violation.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const ALLOWED = /^src\/(db|generated)\//;

const RULES: { pattern: RegExp; why: string }[] = [
  { pattern: /\.prisma\b(?!\.config)/, why: "reaches the Prisma client: add a function to a src/db module" },
  { pattern: /\.pool\b/, why: "reaches the pg pool: add a function to a src/db module" },
  { pattern: /\$(transaction|queryRaw|executeRaw)/, why: "runs Prisma SQL or a transaction: use withTransaction / a src/db module" },
  { pattern: /["'`]\s*(SELECT|INSERT INTO|UPDATE\s+\w+\s+SET|DELETE FROM|BEGIN|COMMIT)\b/i, why: "SQL outside src/db: move the statement into a src/db module" },
];

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

const violations: string[] = [];
for (const file of files(join(ROOT, "src"))) {
  const rel = relative(ROOT, file);
  if (ALLOWED.test(rel)) continue;
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (/^\s*(\/\/|\*)/.test(line)) return; // comments may talk about these
      for (const rule of RULES) if (rule.pattern.test(line)) violations.push(`${rel}:${i + 1}: ${rule.why}\n    ${line.trim()}`);
    });
}
if (violations.length > 0) {
  console.error(`data access outside src/db (${violations.length}):\n${violations.join("\n")}`);
  process.exit(1);
}
console.log("data access: every statement, transaction and Prisma call is in src/db");
