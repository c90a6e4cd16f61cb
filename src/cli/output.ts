// Writing what a command produces: never over a file it read, and only once complete (a
// temporary file renamed into place), so that an interrupted or failed write leaves the user's
// files as they were.
import { existsSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SfError } from '../util/errors.js';

/** An output must not be one of the files read (checked before any work, and again on writing). */
export function checkNotInput(path: string, inputs: string[]): void {
  if (!existsSync(path)) return;
  const real = realpathSync(path);
  for (const i of inputs) if (existsSync(i) && realpathSync(i) === real) throw new SfError(inputs.length > 1 ? 'refusing to overwrite an input file' : 'refusing to overwrite the input file', path);
}

/** Writes `data` to `path` only once complete, never over one of `inputs`. */
export function writeOutput(path: string, data: Uint8Array | string, inputs: string[]): void {
  checkNotInput(path, inputs);
  const tmp = `${resolve(path)}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw new SfError(`cannot write (${(e as NodeJS.ErrnoException).code ?? 'error'})`, path);
  }
}
