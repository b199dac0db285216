import { describe, expect, it } from "vitest";
import { allows, consumerMay, requiredRole, uncovered } from "../../src/domain/access.js";

describe("roles", () => {
  it("reads need a viewer, changes an operator, tokens and consumers an admin", () => {
    expect(requiredRole("GET", "/subscriptions")).toBe("viewer");
    expect(requiredRole("HEAD", "/admin/queues")).toBe("viewer");
    expect(requiredRole("POST", "/admin/webhooks/x/replay")).toBe("operator");
    expect(requiredRole("DELETE", "/subscriptions/x")).toBe("operator");
    expect(requiredRole("GET", "/admin/tokens")).toBe("admin");
    expect(requiredRole("DELETE", "/admin/consumers/x/tokens/y")).toBe("admin");
    expect(requiredRole("GET", "/admin/tokensmith")).toBe("viewer");
    expect(allows("admin", "operator")).toBe(true);
    expect(allows("operator", "admin")).toBe(false);
    expect(allows("viewer", "viewer")).toBe(true);
  });
});

describe("consumers", () => {
  it("may call their subscriptions' routes and the event log, nothing else", () => {
    expect(consumerMay("POST", "/subscriptions")).toBe(true);
    expect(consumerMay("HEAD", "/subscriptions/abc")).toBe(true);
    expect(consumerMay("POST", "/subscriptions/abc/deliveries/def/retry")).toBe(true);
    expect(consumerMay("GET", "/events")).toBe(true);
    expect(consumerMay("POST", "/events")).toBe(false);
    expect(consumerMay("GET", "/subscriptions/abc/deliveries/def")).toBe(false);
    expect(consumerMay("GET", "/admin/queues")).toBe(false);
    expect(consumerMay("GET", "/reservations/x")).toBe(false);
  });

  it("subscribe only to patterns their allowed ones cover", () => {
    expect(uncovered(["reservation.*"], ["reservation.created", "reservation.*"])).toEqual([]);
    expect(uncovered(["reservation.*"], ["*", "rental.reserved"])).toEqual(["*", "rental.reserved"]);
    expect(uncovered(["reservation.created"], ["reservation.*"])).toEqual(["reservation.*"]);
    expect(uncovered(["*"], ["*", "shipment.exception"])).toEqual([]);
    expect(uncovered(["rental.*"], ["rentals.x"])).toEqual(["rentals.x"]);
  });
});
