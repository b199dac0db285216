import { describe, expect, it } from "vitest";
import { createLauncher } from "../../src/delivery/launcher.js";

/** A launcher whose turns run when the test says so. */
function launcherWithTurns(perTurn: number) {
  const turns: (() => void)[] = [];
  const started: string[] = [];
  const launcher = createLauncher(perTurn, (next) => turns.push(next));
  return {
    launch: (destination: string, name: string) => launcher.launch(destination, () => started.push(name)),
    started,
    /** Runs the next turn; false when none was asked for. */
    nextTurn: () => {
      const next = turns.shift();
      next?.();
      return next !== undefined;
    },
    turnsAsked: () => turns.length,
  };
}

describe("attempt launcher", () => {
  it("starts a quiet turn's attempts at once, up to its share", () => {
    const l = launcherWithTurns(3);
    l.launch("http://a", "a1");
    l.launch("http://b", "b1");
    l.launch("http://a", "a2");
    expect(l.started).toEqual(["a1", "b1", "a2"]);
    l.launch("http://a", "a3");
    expect(l.started).toEqual(["a1", "b1", "a2"]);
    expect(l.nextTurn()).toBe(true);
    expect(l.started).toEqual(["a1", "b1", "a2", "a3"]);
  });

  it("serves every destination in a turn before any twice: one host's burst does not hold another's attempt", () => {
    const l = launcherWithTurns(2);
    for (let i = 1; i <= 6; i++) l.launch("http://slow", `slow${i}`);
    l.launch("http://fast", "fast1");
    expect(l.started).toEqual(["slow1", "slow2"]);
    l.nextTurn();
    expect(l.started.slice(2)).toEqual(["slow3", "fast1"]);
    l.nextTurn();
    expect(l.started.slice(4)).toEqual(["slow4", "slow5"]);
    l.nextTurn();
    expect(l.started.slice(6)).toEqual(["slow6"]);
    expect(l.nextTurn()).toBe(false);
  });

  it("goes quiet once its queue is empty, and starts the next attempt at once", () => {
    const l = launcherWithTurns(2);
    for (let i = 1; i <= 3; i++) l.launch("http://a", `a${i}`);
    l.nextTurn();
    expect(l.started).toEqual(["a1", "a2", "a3"]);
    expect(l.turnsAsked()).toBe(0);
    l.launch("http://b", "b1");
    expect(l.started.at(-1)).toBe("b1");
  });
});
