// Test helper: run the built command line (bin/sramflow.js) as a child process.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The repository root (the child's working directory). */
export const root = new URL('../..', import.meta.url).pathname;
const bin = join(root, 'bin/sramflow.js');

/** Run `sramflow ...args` from the repository root; its exit status, stdout and stderr. */
export function sramflow(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
