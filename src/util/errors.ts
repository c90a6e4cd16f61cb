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
