// The delivery pump's books (./pump.ts): what this process has open, per lane and per destination, each known
// lane's destination, and per destination the lanes waiting for its budget (first in line first). Pure
// bookkeeping, no I/O; the fair shares themselves are ./lane-policy.ts.
import { type Capacity, destinationOf } from "./lane-policy.js";

export interface Ledger {
  /** Requests open in this process (attempts, and slots a writer's open transaction holds). */
  readonly total: number;
  known(id: string): boolean;
  /** Known lanes whose destination has no lane waiting in line for its budget. */
  offerable(): string[];
  /** Learns (or updates: a subscription's URL can change) a lane's destination. */
  learn(id: string, url: string): void;
  destinationOf(id: string): string;
  /** Counts `n` more (or, negative, fewer) requests open for a lane. */
  open(id: string, destination: string, n: number): void;
  hasOpen(id: string): boolean;
  /** What planClaims needs for these lanes, with `free` requests of `total` left. */
  capacity(lanes: string[], total: number, free: number): Capacity;
  /** The lane waits for its destination's budget (at the end of its line). */
  wait(id: string): void;
  /** Every lane waiting in a destination's line. */
  waiting(): string[];
  /** An attempt to this destination ended: the lanes it now has room for leave its line, to be claimed for. */
  admit(destination: string): string[];
}

export function createLedger(destinationLimit: (destination: string) => number): Ledger {
  const destinations = new Map<string, string>();
  const local = new Map<string, number>();
  const localAt = new Map<string, number>();
  const waitingAt = new Map<string, Set<string>>();
  let total = 0;
  const count = (map: Map<string, number>, key: string, by: number) => {
    const n = (map.get(key) ?? 0) + by;
    if (n > 0) map.set(key, n);
    else map.delete(key);
  };
  const destinationOfLane = (id: string) => destinations.get(id) ?? id;

  return {
    get total() {
      return total;
    },
    known: (id) => destinations.has(id),
    offerable: () => [...destinations].filter(([, destination]) => !waitingAt.has(destination)).map(([id]) => id),
    learn: (id, url) => void destinations.set(id, destinationOf(url)),
    destinationOf: destinationOfLane,
    open(id, destination, n) {
      total += n;
      count(local, id, n);
      count(localAt, destination, n);
    },
    hasOpen: (id) => local.has(id),
    capacity(lanes, all, free) {
      const activeAt = new Map<string, number>();
      for (const id of new Set([...local.keys(), ...lanes])) count(activeAt, destinationOfLane(id), 1);
      for (const [destination, line] of waitingAt) count(activeAt, destination, line.size);
      return {
        total: all,
        free,
        destinationOf: destinationOfLane,
        destinationLimit,
        activeDestinations: activeAt.size,
        activeLanesAt: (destination) => activeAt.get(destination) ?? 0,
        inFlight: (id) => local.get(id) ?? 0,
        inFlightAt: (destination) => localAt.get(destination) ?? 0,
      };
    },
    wait(id) {
      const destination = destinationOfLane(id);
      const line = waitingAt.get(destination) ?? new Set<string>();
      waitingAt.set(destination, line);
      line.delete(id);
      line.add(id);
    },
    waiting: () => [...waitingAt.values()].flatMap((line) => [...line]),
    admit(destination) {
      const line = waitingAt.get(destination);
      if (!line) return [];
      const room = Math.max(1, destinationLimit(destination) - (localAt.get(destination) ?? 0));
      const admitted = [...line].slice(0, room);
      for (const id of admitted) line.delete(id);
      if (line.size === 0) waitingAt.delete(destination);
      return admitted;
    },
  };
}
