// A production process started with the secrets this repository publishes (npm run dev's, the demo's,
// docker-compose.yml's placeholder) stops before it listens or connects, saying why (exit 78, EX_CONFIG).
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";

const MAIN = path.resolve(import.meta.dirname, "../../src/main.ts");

function start(env: Record<string, string>) {
  return spawnSync(process.execPath, ["--import", "tsx", MAIN, "api"], {
    env: { PATH: process.env.PATH ?? "", DATABASE_URL: "postgresql://u:p@127.0.0.1:9/none", REDIS_URL: "redis://127.0.0.1:9", PORT: "0", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
}

describe("a production start with published secrets", () => {
  it("exits 78 with one line per refused setting, naming it and what to do", () => {
    const run = start({ NODE_ENV: "production", ADMIN_TOKEN: "dev-admin-token-change-me", FLOVI_WEBHOOK_SECRET: "dev-webhook-secret" });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain("invalid configuration:");
    expect(run.stderr).toMatch(/- ADMIN_TOKEN is a published development default, refused with NODE_ENV=production: set a long random value/);
    expect(run.stderr).toMatch(/- FLOVI_WEBHOOK_SECRET is a published development default/);
    // It stopped before connecting to anything: no connection error beside the refusal.
    expect(run.stderr).not.toMatch(/ECONNREFUSED/);
  });
});
