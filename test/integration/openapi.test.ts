import type { Express } from "express";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestContext, type TestContext } from "../helpers/context.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  name?: string;
}

/** Every (METHOD path) the app registers, walking nested routers (the HTML pages, Bull Board and the console, excluded: docs/console.md). */
function registeredRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths) {
          for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== "_all") out.push(`${method.toUpperCase()} ${path}`);
        }
      } else if (layer.handle?.stack && layer.name === "router") {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return [...new Set(out)].filter((r) => !r.includes("/admin/ui") && !r.includes("/admin/console")).sort();
}

describe("OpenAPI document", () => {
  it("is served as OpenAPI 3.1", async () => {
    const res = await request(ctx.app).get("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
  });

  it("describes exactly the routes the app registers", async () => {
    const doc = (await request(ctx.app).get("/openapi.json")).body as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ":$1")}`))
      .sort();
    const registered = registeredRoutes(ctx.app);
    expect(registered.length).toBeGreaterThan(25);
    expect(registered).toEqual(documented);
  });

  it("declares the interface's fixed endpoints", async () => {
    const doc = (await request(ctx.app).get("/openapi.json")).body as { paths: Record<string, unknown> };
    for (const path of [
      "/webhooks/flovi",
      "/healthz",
      "/readyz",
      "/metrics",
      "/events",
      "/subscriptions",
      "/admin/queues",
      "/admin/webhooks/{id}/replay",
      "/admin/deliveries/{id}/retry",
    ]) {
      expect(doc.paths).toHaveProperty([path]);
    }
  });
});
