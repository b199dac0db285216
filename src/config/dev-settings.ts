// `npm run dev` writes the settings it made (database and Redis URLs, port, tokens) to .data/dev.env while it
// runs, so the admin CLI and the scripts beside it reach the same instance without copying them by hand.
// They fill only what the environment does not set, and never in production.
import { existsSync } from "node:fs";
import path from "node:path";

export const DEV_SETTINGS_FILE = path.join(".data", "dev.env");

/** Loads .data/dev.env (from the working directory) when it exists; returns its path, or null. */
export function loadDevSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | null {
  if (env.NODE_ENV === "production") return null;
  const file = path.join(cwd, DEV_SETTINGS_FILE);
  if (!existsSync(file)) return null;
  process.loadEnvFile(file); // never overrides a variable that is already set
  return file;
}
