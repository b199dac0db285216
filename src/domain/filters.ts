// Subscription filters in the dialects of the CloudEvents Subscriptions API (docs/delivery.md, "Filters"):
// what a valid filter is, checked here with a message that names the place of each problem. The database
// evaluates them where events are fanned out (prisma/migrations/20261204160000_subscription_filters).

export type Filter =
  | { exact: Record<string, string> }
  | { prefix: Record<string, string> }
  | { suffix: Record<string, string> }
  | { all: Filter[] }
  | { any: Filter[] }
  | { not: Filter };

const MATCHING = ["exact", "prefix", "suffix"] as const;
const COMBINING = ["all", "any", "not"] as const;
/** The envelope's context attributes, or a path into its data (`data.details.carrier`). */
const ATTRIBUTE = /^(id|source|type|subject|time|specversion|datacontenttype|dataschema|data(\.[A-Za-z0-9_-]{1,64}){1,8})$/;
const MAX_FILTER_DEPTH = 5;
const MAX_FILTER_NODES = 50;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** What is wrong with an `exact`, `prefix` or `suffix` filter (`at`: below the filter), or null. */
function matchingProblem(dialect: string, arg: unknown): { at?: string[]; message: string } | null {
  if (!(MATCHING as readonly string[]).includes(dialect)) return { message: `unknown dialect "${dialect}"; known: ${[...MATCHING, ...COMBINING].join(", ")}` };
  if (!isObject(arg) || Object.keys(arg).length !== 1)
    return { at: [dialect], message: 'exactly one attribute and its value, e.g. {"type": "shipment.exception"}' };
  const [attribute, want] = Object.entries(arg)[0]!;
  const at = [dialect, attribute];
  if (!ATTRIBUTE.test(attribute))
    return { at, message: "an attribute: id, source, type, subject, time, specversion, datacontenttype, dataschema, or data.<path>" };
  if (typeof want !== "string") return { at, message: "a string to compare with" };
  if (dialect !== "exact" && want.length === 0) return { at, message: `an empty ${dialect} matches everything; leave the filter out` };
  if (want.length > 500) return { at, message: "500 characters at most" };
  return null;
}

/** Every problem of a subscription's `filters` (an array; all must match), each with its place; none: valid. */
export function filterProblems(filters: unknown): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  let nodes = 0;
  const problem = (path: (string | number)[], message: string): void => {
    problems.push({ path, message });
  };

  function list(value: unknown, path: (string | number)[], depth: number, allowEmpty: boolean): void {
    if (!Array.isArray(value)) {
      problem(path, "an array of filters");
      return;
    }
    if (value.length === 0 && !allowEmpty) {
      problem(path, "at least one filter");
      return;
    }
    for (const [i, f] of value.entries()) one(f, [...path, i], depth);
  }

  function one(value: unknown, path: (string | number)[], depth: number): void {
    nodes += 1;
    if (depth > MAX_FILTER_DEPTH) {
      problem(path, `filters nest ${MAX_FILTER_DEPTH} deep at most`);
      return;
    }
    if (!isObject(value)) {
      problem(path, `a filter: an object with one of ${[...MATCHING, ...COMBINING].join(", ")}`);
      return;
    }
    const keys = Object.keys(value);
    const dialect = keys[0];
    if (keys.length !== 1 || dialect === undefined) {
      problem(path, `exactly one dialect per filter (${[...MATCHING, ...COMBINING].join(", ")})`);
      return;
    }
    const arg = value[dialect];
    if (dialect === "all" || dialect === "any") {
      list(arg, [...path, dialect], depth + 1, false);
      return;
    }
    if (dialect === "not") {
      one(arg, [...path, dialect], depth + 1);
      return;
    }
    const why = matchingProblem(dialect, arg);
    if (why) problem(why.at ? [...path, ...why.at] : path, why.message);
  }

  list(filters, [], 1, true);
  if (nodes > MAX_FILTER_NODES) problem([], `${MAX_FILTER_NODES} filters at most, nested ones included`);
  return problems;
}
