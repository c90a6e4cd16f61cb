// The one way sramflow reads its JSON data files (chip, system and GPU presets, model configs):
// a shipped file by name (presets/<kind>/<name>.json, programs/models/<name>.json) or any path,
// with one-line errors naming the file, and bad JSON located at file:line:col.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SfError, at, placeName } from './errors.js';

function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let col = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      col = 1;
    } else col++;
  }
  return { line, col };
}

/** JSON.parse with errors as SfError at file:line:col (where Node says the position). */
export function parseJsonText(text: string, file: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    let where = file;
    const lc = /\(line (\d+) column (\d+)\)/.exec(msg);
    const pos = /at position (\d+)/.exec(msg);
    if (lc) where = at(file, Number(lc[1]), Number(lc[2]));
    else if (pos) {
      const p = lineCol(body, Number(pos[1]));
      where = at(file, p.line, p.col);
    } else if (/end of JSON input/i.test(msg)) {
      const p = lineCol(body, body.length);
      where = at(file, p.line, p.col);
    }
    const clean = msg
      .replace(/\s*\(line \d+ column \d+\)/, '')
      .replace(/\s*in JSON at position \d+/, '')
      .replace(/\s+/g, ' ')
      .trim();
    throw new SfError(`invalid JSON: ${clean}`, where);
  }
}

/** Names of the .json files in a shipped folder, those in `order` first. */
export function listShipped(dir: URL, order: readonly string[] = []): string[] {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
  } catch {
    return [];
  }
  const rank = (n: string) => {
    const i = order.indexOf(n);
    return i < 0 ? order.length : i;
  };
  return names.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** JSON data files are small (a preset, a config.json); anything bigger is refused unread. */
export const MAX_DATA_FILE_BYTES = 64 * 1024 * 1024;

export interface DataFileKind {
  /** The shipped folder. */
  dir: URL;
  /** How the folder is shown in messages, e.g. "presets/chips". */
  shown: string;
  /** What the file is, e.g. "chip preset". */
  what: string;
  order?: readonly string[];
}

/** Reads a shipped file by name, or any path; returns its text and the name to show. */
export function readDataFile(nameOrPath: string, kind: DataFileKind): { text: string; file: string } {
  const shipped = listShipped(kind.dir, kind.order);
  const isShipped = shipped.includes(nameOrPath);
  const path = isShipped ? fileURLToPath(new URL(`${nameOrPath}.json`, kind.dir)) : nameOrPath;
  const file = isShipped ? `${kind.shown}/${nameOrPath}.json` : placeName(nameOrPath);
  try {
    // a device or pipe (/dev/zero, a FIFO) would be read forever or block: only regular files
    const st = statSync(path);
    if (!st.isFile() && !st.isDirectory()) throw new SfError(`is not a regular file (a device, pipe or socket); a ${kind.what} is a JSON file`, file);
    if (st.size > MAX_DATA_FILE_BYTES) throw new SfError(`is ${st.size} bytes; a ${kind.what} is at most ${MAX_DATA_FILE_BYTES} bytes`, file);
    return { text: readFileSync(path, 'utf8'), file };
  } catch (e) {
    if (e instanceof SfError) throw e;
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new SfError(`no such ${kind.what} file (shipped: ${shipped.join(', ') || 'none found'})`, file);
    }
    if (code === 'EISDIR') throw new SfError(`is a directory, not a ${kind.what} file`, file);
    throw new SfError(`cannot read ${kind.what} file (${code ?? (e instanceof Error ? e.message : String(e))})`, file);
  }
}

/**
 * Reads a file the user named as bytes: a regular file only (a device or pipe such as /dev/zero
 * would be read forever or block) and at most 1 GiB; errors name the file.
 */
export function readRegularFile(path: string): Uint8Array {
  const where = placeName(path);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new SfError('no such file', where);
  }
  if (st.isDirectory()) throw new SfError('is a directory, not a program', where);
  if (!st.isFile()) throw new SfError('is not a regular file (a device, pipe or socket)', where);
  if (st.size > 1 << 30) throw new SfError(`file is ${st.size} bytes; programs are limited to 1 GiB`, where);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new SfError(`cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`, where);
  }
}
