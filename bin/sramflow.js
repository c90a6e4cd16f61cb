#!/usr/bin/env node
// Entry point of the `sramflow` command. The TypeScript sources are compiled to dist/ by
// `npm install` (the prepare script).
import { spawn } from 'node:child_process';
import { constants, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';

// A long prompt on a big model places millions of reservations (Llama-2-70B's 128-token prefill
// layer peaks at ~3.2 GB while it compiles), more than node's default heap of ~4 GB leaves room
// for: where the machine has the memory, the commands that compile layers run once more with a
// heap of up to 8 GB (3/4 of it), passing on the signals and the exit status (the others start
// without the second node, ~0.1 s).
const wantMiB = Math.min(8192, Math.floor((totalmem() / 2 ** 20) * 0.75));
const compiles = ['run', 'compile', 'compare'].includes(process.argv[2] ?? '');
if (compiles && !process.env.SRAMFLOW_HEAP_SET && getHeapStatistics().heap_size_limit / 2 ** 20 < wantMiB - 512) {
  const child = spawn(process.execPath, [...process.execArgv, `--max-old-space-size=${wantMiB}`, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, SRAMFLOW_HEAP_SET: '1' },
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('error', (e) => {
    console.error(`sramflow: cannot start node with a larger heap: ${e.message}`);
    process.exit(70);
  });
  child.on('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
} else {
  let main;
  try {
    ({ main } = await import('../dist/cli/main.js'));
  } catch (e) {
    if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
      console.error('sramflow: not built yet; run `npm install` (or `npm run build`) in the sramflow folder');
      process.exit(2);
    }
    throw e;
  }
  process.exitCode = await main(process.argv.slice(2));
}
