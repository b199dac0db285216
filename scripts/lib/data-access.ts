// The half of the data-layer rule an import graph cannot see: outside src/db, no code reaches a Database's
// Prisma client or pg pool (by property or by destructuring), opens a transaction of its own, or writes SQL,
// in a one-line string or a multi-line template alike. Types hold the first (a Database outside src/db has
// no `prisma` or `pool`); this scan is the second net, and the only one for SQL text.

export interface Violation {
  file: string;
  line: number;
  why: string;
  text: string;
}

const CODE_RULES: { pattern: RegExp; why: string }[] = [
  { pattern: /\.prisma\b(?!\.config)/g, why: "reaches the Prisma client: add a function to a src/db module" },
  { pattern: /\.pool\b/g, why: "reaches the pg pool: add a function to a src/db module" },
  { pattern: /\{[^{}]*\b(prisma|pool)\b[^{}]*\}\s*=(?!=)/g, why: "destructures the Prisma client or the pg pool: add a function to a src/db module" },
  {
    pattern: /\$(transaction|queryRaw|queryRawUnsafe|executeRaw|executeRawUnsafe)\b/g,
    why: "runs Prisma SQL or a transaction: use withTransaction / a src/db module",
  },
];

// Statements as src/db writes them (keywords in capitals), and lower-case ones in a shape prose does not take.
const SQL = [
  /^\s*(SELECT\b|INSERT\s+INTO\b|UPDATE\s+\w+\s+SET\b|DELETE\s+FROM\b|WITH\s+\w+\s+AS\b|BEGIN\b|COMMIT\b|ROLLBACK\b|TRUNCATE\b)/,
  /^\s*(select\s[\s\S]*\sfrom\s+\w|insert\s+into\s+\w+\s*\(|update\s+\w+\s+set\s+\w+\s*=|delete\s+from\s+\w+\s+where\b|with\s+\w+\s+as\s*\()/i,
];
const SQL_WHY = "SQL outside src/db: move the statement into a src/db module";

/**
 * Splits TypeScript source into code (string and comment contents blanked, line breaks kept, so offsets and
 * line numbers hold) and the string literals' contents with their offsets. Template literals are followed
 * through `${…}` at any depth.
 */
export function splitSource(source: string): { code: string; strings: { offset: number; text: string }[] } {
  const code = source.split("");
  const strings: { offset: number; text: string }[] = [];
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (code[k] !== "\n") code[k] = " ";
  };
  // Each open template literal remembers the brace depth of the `${` that left it.
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  const readTemplate = () => {
    // From just after a backtick or a closing `}` of an interpolation, to the next backtick or `${`.
    const start = i;
    while (i < source.length && source[i] !== "`" && !(source[i] === "$" && source[i + 1] === "{")) i += source[i] === "\\" ? 2 : 1;
    strings.push({ offset: start, text: source.slice(start, i) });
    blank(start, i);
    if (source[i] === "`") i += 1;
    else {
      templates.push(depth);
      depth += 1;
      i += 2;
    }
  };
  while (i < source.length) {
    const c = source[i]!;
    if (c === "/" && source[i + 1] === "/") {
      const end = source.indexOf("\n", i);
      blank(i, end === -1 ? source.length : end);
      i = end === -1 ? source.length : end;
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      blank(i, end === -1 ? source.length : end + 2);
      i = end === -1 ? source.length : end + 2;
    } else if (c === '"' || c === "'") {
      const start = ++i;
      while (i < source.length && source[i] !== c && source[i] !== "\n") i += source[i] === "\\" ? 2 : 1;
      strings.push({ offset: start, text: source.slice(start, i) });
      blank(start, i);
      i += 1;
    } else if (c === "`") {
      i += 1;
      readTemplate();
    } else if (c === "{") {
      depth += 1;
      i += 1;
    } else if (c === "}") {
      depth -= 1;
      i += 1;
      if (templates.length > 0 && templates[templates.length - 1] === depth) {
        templates.pop();
        readTemplate();
      }
    } else i += 1;
  }
  return { code: code.join(""), strings };
}

const lineOf = (source: string, offset: number) => source.slice(0, offset).split("\n").length;

/** Every violation in one file's source. */
export function findViolations(file: string, source: string): Violation[] {
  const { code, strings } = splitSource(source);
  const lines = source.split("\n");
  const found: Violation[] = [];
  const add = (offset: number, why: string) => {
    const line = lineOf(source, offset);
    found.push({ file, line, why, text: lines[line - 1]!.trim() });
  };
  for (const rule of CODE_RULES) for (const match of code.matchAll(rule.pattern)) add(match.index, rule.why);
  for (const string of strings)
    if (SQL.some((pattern) => pattern.test(string.text))) add(string.offset + (string.text.length - string.text.trimStart().length), SQL_WHY);
  return found.sort((a, b) => a.line - b.line);
}
