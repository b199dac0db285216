// Starts attempts a few per turn of the event loop, taking destinations in turn. Building, signing and sending
// one request costs about a tenth of a millisecond of this process's one thread; a claim that leased 256
// attempts at one host (a crowd of subscriptions answering together) would spend 30 ms sending them in one
// turn, and every other lane's attempt would wait behind them: the one a committing writer leased, the
// responses to record, the next webhook's drain. Between two turns the event loop reads its sockets, and the
// next turn serves every destination with attempts queued before it serves any of them twice.

/** Attempts started in one turn of the event loop at most (the first ones of a quiet turn start at once). */
const LAUNCHES_PER_TURN = 16;

export interface Launcher {
  /** Runs `start` now, or in a later turn when this turn has started its share already. */
  launch(destination: string, start: () => void): void;
}

/** `defer` runs a function in a later turn, after pending I/O (setImmediate; a test passes its own). */
export function createLauncher(perTurn = LAUNCHES_PER_TURN, defer: (next: () => void) => void = setImmediate): Launcher {
  /** Waiting starts by destination; the map's order is the round robin (a destination served goes last). */
  const queued = new Map<string, (() => void)[]>();
  let startedThisTurn = 0;
  let armed = false;

  const arm = () => {
    if (armed) return;
    armed = true;
    defer(turn);
  };

  function turn() {
    armed = false;
    startedThisTurn = 0;
    while (startedThisTurn < perTurn && queued.size > 0) {
      const [destination, starts] = queued.entries().next().value!;
      queued.delete(destination);
      const start = starts.shift()!;
      if (starts.length > 0) queued.set(destination, starts);
      startedThisTurn += 1;
      start();
    }
    if (queued.size > 0) arm();
  }

  return {
    launch(destination, start) {
      if (queued.size === 0 && startedThisTurn < perTurn) {
        startedThisTurn += 1;
        // The count starts again in the next turn.
        arm();
        start();
        return;
      }
      const starts = queued.get(destination);
      if (starts) starts.push(start);
      else queued.set(destination, [start]);
      arm();
    },
  };
}
