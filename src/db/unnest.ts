// Many rows in one statement as `unnest($1::text[], $2::int[], …) AS x(a, b, …)`, with the column list, the
// parameter numbers and the values all built from ONE typed spec per row kind: a column's name, its type and
// the value it takes from a row sit on one line, so a statement's columns and its parameters cannot drift
// apart (two swapped lines swap both).

/** A column: its Postgres element type and how a row gives its value. */
type Column<T> = readonly [pgType: string, value: (row: T) => unknown];

export type Columns<T> = Readonly<Record<string, Column<T>>>;

/** A kind's columns, for rows of type T (named, so each value function knows its row). */
export function columnsFor<T>(columns: Columns<T>): Columns<T> {
  return columns;
}

type RowOf<C> = C extends Columns<infer T> ? T : never;

export interface UnnestLayout<S extends Record<string, Columns<never>>> {
  /** `unnest($n::type[], …)` for a kind's columns, in the spec's order. */
  unnest(kind: keyof S): string;
  /** The kind's column names, in the same order (for `AS x(…)` and insert lists). */
  names(kind: keyof S): string;
  /** One column's parameter, `$n::type[]` (to use it again, e.g. its cardinality). */
  param<K extends keyof S>(kind: K, column: keyof S[K] & string): string;
  /** The statement's parameters: every kind's columns' values, in numbering order. */
  values(rows: { [K in keyof S]: readonly RowOf<S[K]>[] }): unknown[][];
}

/** Numbers the parameters of several kinds in turn, starting at $1 (kinds in the object's order). */
export function unnestLayout<S extends Record<string, Columns<never>>>(spec: S): UnnestLayout<S> {
  const numbered = new Map<keyof S, { name: string; pgType: string; n: number }[]>();
  let n = 0;
  for (const kind of Object.keys(spec) as (keyof S)[])
    numbered.set(
      kind,
      Object.entries(spec[kind]!).map(([name, [pgType]]) => ({ name, pgType, n: ++n })),
    );
  const columnsOf = (kind: keyof S) => numbered.get(kind)!;
  return {
    unnest: (kind) =>
      `unnest(${columnsOf(kind)
        .map((c) => `$${c.n}::${c.pgType}[]`)
        .join(", ")})`,
    names: (kind) =>
      columnsOf(kind)
        .map((c) => c.name)
        .join(", "),
    param(kind, column) {
      const found = columnsOf(kind).find((c) => c.name === column);
      if (!found) throw new Error(`no column ${String(column)} in ${String(kind)}`);
      return `$${found.n}::${found.pgType}[]`;
    },
    values: (rows) =>
      (Object.keys(spec) as (keyof S)[]).flatMap((kind) =>
        Object.values(spec[kind]!).map(([, value]) => (rows[kind] as readonly never[]).map((row) => (value as (row: never) => unknown)(row))),
      ),
  };
}
