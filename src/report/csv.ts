// CSV writer (RFC 4180): records separated by CRLF, a field quoted when it holds a comma, a
// double quote, CR or LF (or starts or ends with a space), a double quote inside a quoted field
// doubled. Numbers are written in JavaScript's shortest round-trip form, so the same values give
// the same bytes; null and undefined are empty fields; non-finite numbers are refused.

export type CsvValue = string | number | boolean | null | undefined;

/** One field, quoted where RFC 4180 needs it. */
export function csvField(v: CsvValue): string {
  if (v === null || v === undefined) return '';
  let s: string;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError(`CSV: cannot write the number ${v}`);
    s = Object.is(v, -0) ? '0' : String(v);
  } else s = String(v);
  return /[",\r\n]|^ | $/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Rows (the first may be a header) as CSV text, each record ending in CRLF. */
export function toCsv(rows: readonly (readonly CsvValue[])[]): string {
  return rows.map((r) => r.map(csvField).join(',') + '\r\n').join('');
}

/** Records as CSV with a header row: `columns` (default: the keys of the first record, in order). */
export function recordsToCsv(records: readonly Record<string, CsvValue>[], columns?: readonly string[]): string {
  const cols = columns ?? (records.length > 0 ? Object.keys(records[0]!) : []);
  return toCsv([cols, ...records.map((r) => cols.map((c) => r[c]))]);
}
