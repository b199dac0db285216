// .env.example says it lists every variable: checked against the one config schema.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { envSchema } from "../../src/config/env.js";

describe(".env.example", () => {
  it("names exactly the variables the config schema reads", () => {
    const text = readFileSync(path.resolve(import.meta.dirname, "../../.env.example"), "utf8");
    const listed = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    expect(new Set(listed).size).toBe(listed.length); // none twice
    expect([...listed].sort()).toEqual(Object.keys(envSchema.shape).sort());
  });
});
