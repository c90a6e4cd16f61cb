// A user-facing error: one line, naming where (file:line:col or a field path). The CLI prints
// `sramflow: <where>: <message>` and exits non-zero; it never prints a stack for these.

export class SfError extends Error {
  readonly where: string | undefined;
  constructor(message: string, where?: string) {
    super(where ? `${where}: ${message}` : message);
    this.name = 'SfError';
    this.where = where;
  }
}

/** `file:line:col` for messages; line and col are 1-based. */
export function at(file: string, line: number, col: number): string {
  return `${file}:${line}:${col}`;
}

/** A file name as a place in a message: as it is, or JSON-quoted when it is empty or holds
 * control characters (a line break in a name must not break the one-line error). */
export function placeName(name: string): string {
  return name.length > 0 && !/[\x00-\x1f\x7f]/.test(name) ? name : JSON.stringify(name);
}

/** JSON.stringify for a value quoted in a message. JSON.stringify recurses: a value nested too
 * deeply (an input file can hold 100,000 levels) would overflow the stack, so it reads as
 * "a deeply nested value" instead. */
export function quoteJson(v: unknown): string | undefined {
  try {
    return JSON.stringify(v);
  } catch {
    return 'a deeply nested value';
  }
}
