// What an attempt's send answered, as the delivery decisions (./decisions.ts) read it: an HTTP answer, or a
// broker's confirm, refusal or absence (./brokers).
import type { HttpOutcome } from "./http-client.js";

/** What the subscriber answered, as the decisions read it: the raw answer with its Retry-After in milliseconds. */
export interface AttemptAnswer extends Omit<HttpOutcome, "retryAfter"> {
  retryAfterMs: number | null;
  /** A broker confirmed the publish (a broker destination's success; it has no status code). */
  confirmed?: boolean;
  /** A broker could not be reached or blocked publishing: the lane pauses as for a 429, using no attempt. */
  unavailable?: boolean;
}
