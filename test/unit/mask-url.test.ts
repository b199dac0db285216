// maskUrl on request paths: a plain path is returned as it is without parsing it (every request's log line
// masks its URL), and anything a URL parser would change or mask still goes through the parser.
import { describe, expect, it } from "vitest";
import { maskUrl } from "../../src/lib/text.js";

describe("maskUrl on a request's path", () => {
  it("gives a plain path back as it is", () => {
    for (const path of ["/", "/webhooks/flovi", "/subscriptions/4f6c1a2e-0b7d-4c3e-9a51-2f8e6d1c0a9b/", "/admin/console/v1.2/x_y~z-"])
      expect(maskUrl(path)).toBe(path);
  });

  it("masks query values, drops the fragment and resolves what a parser resolves", () => {
    expect(maskUrl("/hooks?token=abc&x=1")).toBe("/hooks?token=***&x=***");
    expect(maskUrl("/hooks#secret")).toBe("/hooks");
    expect(maskUrl("/a/../b")).toBe("/b");
    expect(maskUrl("/a/./b")).toBe("/a/b");
    expect(maskUrl("/.hidden/..")).toBe("/");
    expect(maskUrl("/a b")).toBe("/a%20b");
    // Two slashes make a host, not a path: shown as the URL it is.
    expect(maskUrl("//evil.example/x")).toBe("http://evil.example/x");
  });

  it("answers a long segment followed by a query (a pattern that could split the name many ways would never return)", () => {
    const name = "a".repeat(64);
    expect(maskUrl(`/${name}?token=x`)).toBe(`/${name}?token=***`);
    expect(maskUrl(`/subscriptions/${name}/deliveries?status=failed`)).toBe(`/subscriptions/${name}/deliveries?status=***`);
  });
});
