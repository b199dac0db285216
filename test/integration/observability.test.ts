// Alerts and the dashboard are code: every metric name they use must be one the service really exports. A
// real run (a webhook applied and delivered to a verifying subscriber) is scraped, and the names in
// deploy/prometheus/alerts.yml and deploy/grafana/dashboard.json are checked against it.
import { readFileSync } from "node:fs";
import path from "node:path";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type TestContext } from "../helpers/context.js";
import { postFlovi, statusChange } from "../helpers/flovi.js";
import { contextWithSubscriber } from "../helpers/subscriber.js";

const root = path.resolve(import.meta.dirname, "../..");
let ctx: TestContext;
let close: () => Promise<void>;
let scraped: string;

/** The metric names a PromQL expression reads (functions, keywords, labels, durations and numbers left out). */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "") // label values
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // grouping labels
    .replace(/\[[^\]]*\]/g, " "); // ranges
  const names = [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)].filter((m) => !m[2]).map((m) => m[1]!);
  const keywords = new Set(["and", "or", "unless", "bool", "offset", "le", "inf", "nan"]);
  return names.filter((n) => !keywords.has(n.toLowerCase()));
}

/** Families exported (TYPE lines), with a histogram's _bucket, _sum and _count series. */
function exported(text: string): Set<string> {
  const names = new Set<string>(["up"]); // set by Prometheus itself for every scrape target
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === "histogram" || m[2] === "summary") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(m[1]! + suffix);
  }
  return names;
}

beforeAll(async () => {
  ({ ctx, close } = await contextWithSubscriber());
  await ctx.startWorker();
  await postFlovi(ctx.app, statusChange("created", "8800001")).expect(202);
  await eventually(async () => (await ctx.prisma.webhookDelivery.count({ where: { status: "succeeded" } })) > 0, 15_000, "a delivery made");
  scraped = (await request(ctx.app).get("/metrics").expect(200)).text;
});
afterAll(() => close());

describe("metrics the alerts and the dashboard rely on", () => {
  it("the scrape has the pipeline's gauges and the per-subscription attempts", () => {
    expect(scraped).toMatch(/^flovi_inbox_oldest_waiting_seconds \d/m);
    expect(scraped).toMatch(/^subscriptions\{status="active"\} [1-9]/m);
    expect(scraped).toMatch(/^webhook_delivery_attempts_total\{subscription_id="[0-9a-f-]{36}",outcome="succeeded"\} [1-9]/m);
    expect(scraped).toMatch(/^hub_ready\{role="api"\} 1/m);
    expect(scraped).toMatch(/^retention_horizon_seconds\{kind="events"\} 7776000/m);
    expect(scraped).toMatch(/^provider_paused\{provider="mfb"\} 0/m);
  });

  it("every metric named in deploy/prometheus/alerts.yml is exported", () => {
    const rules = readFileSync(path.join(root, "deploy/prometheus/alerts.yml"), "utf8");
    const exprs = [...rules.matchAll(/expr: (?:\|\n((?:\s{10,}.*\n)+)|(.*))/g)].map((m) => (m[1] ?? m[2])!);
    expect(exprs.length).toBe([...rules.matchAll(/- alert: /g)].length);
    const names = new Set(exprs.flatMap(metricNames));
    expect(names.size).toBeGreaterThan(8);
    const known = exported(scraped);
    expect([...names].filter((n) => !known.has(n))).toEqual([]);
  });

  it("every metric named in deploy/grafana/dashboard.json is exported", () => {
    const dashboard = JSON.parse(readFileSync(path.join(root, "deploy/grafana/dashboard.json"), "utf8")) as { panels: { targets?: { expr: string }[] }[] };
    const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr);
    expect(exprs.length).toBeGreaterThan(20);
    const known = exported(scraped);
    expect([...new Set(exprs.flatMap(metricNames))].filter((n) => !known.has(n))).toEqual([]);
  });

  it("the name check itself catches a misspelt metric", () => {
    expect(metricNames('sum by (outcome) (rate(webhook_delivery_atempts_total{outcome!="succeeded"}[5m])) > 0.5')).toEqual(["webhook_delivery_atempts_total"]);
    expect(metricNames("histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))")).toEqual([
      "http_request_duration_seconds_bucket",
    ]);
  });
});
