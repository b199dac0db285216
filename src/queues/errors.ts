import { UnrecoverableError } from "bullmq";

/**
 * How a job failure is classified (see the README's "Failure handling"):
 * - ExpectedError: part of normal operation (a subscriber or provider down); retried, logged as a warning.
 * - ParkedFailure: a job that exists to be failed; BullMQ fails it at once (UnrecoverableError).
 * - BullMQ's RateLimitError: the queue waits, the attempt is not counted.
 * - anything else: a bug or an outage; retried with backoff, logged as an error.
 */
export class ExpectedError extends Error {
  constructor(
    message: string,
    readonly delayMs?: number,
  ) {
    super(message);
    this.name = "ExpectedError";
  }
}

/** Not a fault: a job that exists to be failed (a parked delivery, see the catalog's parkDelivery). */
export class ParkedFailure extends UnrecoverableError {
  constructor(message: string) {
    super(message);
    this.name = "ParkedFailure";
  }
}
