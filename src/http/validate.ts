import type { RequestHandler } from "express";
import type { z } from "zod";
import { unstorableValue } from "../lib/text.js";
import { HttpError } from "./errors.js";

/** Parses input against a schema; a 400 naming every invalid field otherwise. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = "request body"): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    // The message names what is wrong (the first problems), so a client that shows only it still learns which field.
    const summary = issues
      .slice(0, 3)
      .map((i) => (i.path ? `${i.path}: ${i.message}` : i.message))
      .join("; ");
    throw new HttpError(400, "invalid_request", `invalid ${what}: ${summary}`, { issues });
  }
  return parsed.data;
}

/**
 * A path, query or body that Postgres could not store or compare (a NUL, a lone surrogate, an infinite
 * number) is a 400 naming what is wrong, before any route runs: never a 500 from the database.
 */
export const refuseUnstorable: RequestHandler = (req, _res, next) => {
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    return next(new HttpError(400, "invalid_request", "the path is not valid percent-encoded UTF-8"));
  }
  const problem =
    (unstorableValue(path) && `path: ${unstorableValue(path)}`) ||
    (unstorableValue(req.query) && `query: ${unstorableValue(req.query)}`) ||
    (unstorableValue(req.body) && `body: ${unstorableValue(req.body)}`);
  next(problem ? new HttpError(400, "invalid_characters", `invalid request ${problem}`) : undefined);
};
