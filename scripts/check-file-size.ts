// No module in src/ (the generated Prisma client aside) is longer than 250 lines: past that, a file holds
// more than one concern and is split by concern (docs/architecture.md). Exits 1 and lists the long ones.
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { typeScriptFiles } from "./lib/source-files.js";

const ROOT = join(import.meta.dirname, "..");
const LIMIT = 250;

const long = [...typeScriptFiles(join(ROOT, "src"))]
  .map((file) => ({ file: relative(ROOT, file), lines: readFileSync(file, "utf8").trimEnd().split("\n").length }))
  .filter(({ file, lines }) => !file.startsWith("src/generated/") && lines > LIMIT)
  .sort((a, b) => b.lines - a.lines);
if (long.length > 0) {
  console.error(`modules over ${LIMIT} lines (${long.length}):\n${long.map((l) => `  ${l.file}: ${l.lines}`).join("\n")}`);
  process.exit(1);
}
console.log(`file size: every module in src/ is ${LIMIT} lines or fewer`);
