// Every TypeScript file below a folder, for the checks that read the sources (data access, module size).
import { readdirSync } from "node:fs";
import { join } from "node:path";

export function* typeScriptFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* typeScriptFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}
