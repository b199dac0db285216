// The admin CLI as people run it: its bin (`npx hub`), compiled and bundled, in a process of its own, run
// elsewhere than this checkout (whose .data/dev.env, from a running `npm run dev`, it would otherwise read).
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

export const HUB_BIN = path.resolve(import.meta.dirname, "../../bin/hub.mjs");
const run = promisify(execFile);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `hub <args>` with this environment; a failing command resolves with its exit code, never throws. */
export function runHub(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliResult> {
  return run(process.execPath, [HUB_BIN, ...args], { env, cwd: tmpdir() }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}
