import type { z } from "zod";
import { HttpError } from "./errors.js";

/** Parses input against a schema; a 400 naming every invalid field otherwise. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = "request body"): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    throw new HttpError(400, "invalid_request", `invalid ${what}`, {
      issues: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    });
  }
  return parsed.data;
}
