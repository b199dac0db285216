// The runtime check every npm entry point (`npm run dev`, `npm test`) runs first: on an older Node it stops
// with one line naming the version package.json requires; on the required one it says nothing.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const script = path.join(root, "scripts/check-node.mjs");

/** The check as it runs in a checkout whose package.json asks for `range`. */
function checkIn(range: string) {
  const dir = mkdtempSync(path.join(tmpdir(), "hub-node-check-"));
  mkdirSync(path.join(dir, "scripts"));
  copyFileSync(script, path.join(dir, "scripts/check-node.mjs"));
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module", engines: { node: range } }));
  return spawnSync(process.execPath, [path.join(dir, "scripts/check-node.mjs")], { encoding: "utf8" });
}

describe("the Node version check", () => {
  it("stops an older runtime with one line naming the required version", () => {
    const run = checkIn(">=99.1");
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("Node 99.1 or newer");
    expect(lines[0]).toContain(`this is Node ${process.version}`);
    expect(lines[0]).toContain("Install Node 99");
  });

  it("passes quietly on the version this project requires, which the suite itself runs on", () => {
    const required = /^>=(\d+)/.exec(JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")).engines.node)![1];
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(Number(required));
    const run = spawnSync(process.execPath, [script], { encoding: "utf8" });
    expect([run.status, run.stderr]).toEqual([0, ""]);
    expect(checkIn(`>=${process.versions.node.split(".")[0]}`).status).toBe(0);
  });
});
