#!/usr/bin/env node
// The long fuzz run: `npm run fuzz -- --runs N [--target T[,T...]] [--seed S] [--jobs J]`.
// Runs every target (tests/fuzz/targets.ts, the same definitions as the small runs in
// tests/fuzz/*.test.ts) N times against the compiled dist/ and prints, per target, the inputs
// tried, how many were accepted (valid all the way) and rejected (a clean error), failures and
// the time. A failure prints its minimal counterexample and the seed to replay it; the exit
// status is then 1. Each target runs in its own worker thread, stopped if it makes no progress
// for --stall seconds (a hang). Plain JavaScript: it transpiles targets.ts with TypeScript (a
// dev dependency) into dist/fuzz/, its imports of ../../src/ pointing at the compiled ../.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readFileSync, writeFileSync, mkdirSync, existsSync, statSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'dist/fuzz/targets.js');

function usage(msg) {
  if (msg) console.error(`fuzz: ${msg}`);
  console.error('usage: npm run fuzz -- [--runs N] [--target NAME[,NAME...]] [--seed S] [--path P] [--jobs J] [--stall SECONDS] [--list]');
  process.exit(2);
}

function parse(argv) {
  const o = { runs: 1000, targets: null, seed: null, path: null, jobs: Math.min(2, availableParallelism()), stall: 120, list: false };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i].split(/=(.*)/s, 2);
    const val = () => (inline !== undefined ? inline : argv[++i] ?? usage(`${k} needs a value`));
    const int = (v, min) => (/^\d+$/.test(v) && Number(v) >= min ? Number(v) : usage(`${k}: "${v}" is not a whole number >= ${min}`));
    if (k === '--runs') o.runs = int(val(), 1);
    else if (k === '--target') o.targets = val().split(',').filter(Boolean);
    else if (k === '--seed') o.seed = int(val(), 0);
    else if (k === '--jobs') o.jobs = int(val(), 1);
    else if (k === '--stall') o.stall = int(val(), 1);
    else if (k === '--path') {
      const v = val();
      o.path = /^\d+(:\d+)*$/.test(v) ? v : usage(`--path: "${v}" is not a replay path such as 12:0:3`);
    }
    else if (k === '--list') o.list = true;
    else usage(`unknown option "${argv[i]}"`);
  }
  return o;
}

/** Newest modification time under a folder (for "dist/ is older than src/"). */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

async function transpile() {
  if (!existsSync(join(ROOT, 'dist/cli/main.js')) || !existsSync(join(ROOT, 'build/core.wasm'))) {
    console.error('fuzz: sramflow is not built; run `npm run build` first');
    process.exit(2);
  }
  if (newest(join(ROOT, 'src')) > newest(join(ROOT, 'dist')) || newest(join(ROOT, 'assembly')) > statSync(join(ROOT, 'build/core.wasm')).mtimeMs) {
    console.error('fuzz: warning: src/ or assembly/ is newer than the build; run `npm run build` to fuzz the current code');
  }
  const ts = (await import('typescript')).default;
  const src = readFileSync(join(ROOT, 'tests/fuzz/targets.ts'), 'utf8');
  const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
    .replace(/(['"])\.\.\/\.\.\/src\//g, '$1../');
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, js);
}

function fmtTime(ms) {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

async function runTarget(name, runs, seed, path) {
  const fc = (await import('fast-check')).default;
  const mod = await import(pathToFileURL(OUT).href);
  const t = mod.targetByName(name);
  const counts = { accepted: 0, rejected: 0 };
  let calls = 0;
  let failing = false; // after the first failure fast-check only shrinks: not counted as inputs
  let last = 0;
  const t0 = performance.now();
  const details = await fc.check(
    fc.asyncProperty(t.arbitrary(), async (x) => {
      calls++;
      const now = performance.now();
      if (now - last > 1000) {
        parentPort.postMessage({ type: 'progress', tried: calls });
        last = now;
      }
      try {
        const outcome = await t.check(x);
        if (!failing) counts[outcome]++;
      } catch (e) {
        failing = true;
        throw e;
      }
    }),
    { numRuns: runs, seed, endOnFailure: false, ...(path ? { path } : {}) },
  );
  const ms = performance.now() - t0;
  mod.cleanup();
  const out = { type: 'done', name, tried: details.numRuns, shrinks: details.numShrinks, ...counts, ms, seed: details.seed, failed: details.failed };
  if (details.failed) {
    out.error = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    out.path = details.counterexamplePath;
    try {
      out.input = details.counterexample ? t.show(details.counterexample[0]) : '(none)';
    } catch (e) {
      out.input = `(could not show the input: ${e?.message ?? e})`;
    }
  }
  parentPort.postMessage(out);
}

async function mainThread() {
  const o = parse(process.argv.slice(2));
  await transpile();
  const mod = await import(pathToFileURL(OUT).href);
  const all = mod.TARGETS.map((t) => t.name);
  if (o.list) {
    for (const t of mod.TARGETS) console.log(`${t.name.padEnd(14)} ${t.generates}`);
    return 0;
  }
  const names = o.targets ?? all;
  for (const n of names) if (!all.includes(n)) usage(`no target "${n}" (targets: ${all.join(', ')})`);
  const seed = o.seed ?? (Date.now() % 2 ** 31);
  console.log(`fuzz: ${names.length} targets x ${o.runs} inputs, seed ${seed}, ${o.jobs} at a time`);
  const results = [];
  const queue = [...names];
  const t0 = performance.now();
  async function worker() {
    while (queue.length) {
      const name = queue.shift();
      results.push(await new Promise((resolve) => {
        const w = new Worker(fileURLToPath(import.meta.url), { workerData: { name, runs: o.runs, seed, path: o.path }, resourceLimits: { maxOldGenerationSizeMb: 4096 } });
        let tried = 0;
        let lastProgress = performance.now();
        let settled = false;
        const settle = (r) => {
          if (settled) return;
          settled = true;
          clearInterval(timer);
          resolve(r);
        };
        const timer = setInterval(() => {
          if (performance.now() - lastProgress > o.stall * 1000) {
            w.terminate();
            settle({ name, failed: true, tried, accepted: 0, rejected: 0, ms: performance.now() - t0, seed, error: `no progress for ${o.stall} s after ${tried} inputs: a hang (replay: --target ${name} --seed ${seed} --runs ${tried})` });
          }
        }, 1000);
        w.on('message', (m) => {
          if (m.type === 'progress') {
            tried = m.tried;
            lastProgress = performance.now();
          } else {
            settle(m);
            w.terminate();
          }
        });
        w.on('error', (e) => settle({ name, failed: true, tried, accepted: 0, rejected: 0, ms: 0, seed, error: `the worker died: ${e?.stack ?? e}` }));
        w.on('exit', (code) => settle({ name, failed: true, tried, accepted: 0, rejected: 0, ms: 0, seed, error: `the worker exited (${code}) after ${tried} inputs` }));
      }));
      const r = results[results.length - 1];
      console.log(`  ${r.name.padEnd(14)} ${r.failed ? 'FAILED' : 'ok    '} ${String(r.tried).padStart(7)} inputs  ${String(r.accepted).padStart(6)} accepted  ${String(r.rejected).padStart(6)} rejected  ${fmtTime(r.ms).padStart(7)}`);
    }
  }
  await Promise.all(Array.from({ length: Math.min(o.jobs, names.length) }, worker));
  results.sort((a, b) => names.indexOf(a.name) - names.indexOf(b.name));
  console.log('');
  console.log('| target | inputs | accepted | rejected | failures | time |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${r.tried} | ${r.accepted} | ${r.rejected} | ${r.failed ? 1 : 0} | ${fmtTime(r.ms)} |`);
  console.log(`\nwall time ${fmtTime(performance.now() - t0)}, seed ${seed}`);
  const failed = results.filter((r) => r.failed);
  for (const r of failed) {
    console.log(`\n---- ${r.name}: FAILED on input ${r.tried} (seed ${r.seed}; shrunk in ${r.shrinks ?? 0} steps; replay with --target ${r.name} --seed ${r.seed} --path ${r.path ?? '?'})`);
    console.log(r.error);
    if (r.input !== undefined) console.log(`minimal input:\n${r.input.length > 6000 ? `${r.input.slice(0, 6000)}... (${r.input.length} characters)` : r.input}`);
  }
  return failed.length ? 1 : 0;
}

if (isMainThread) {
  process.exitCode = await mainThread();
} else {
  await runTarget(workerData.name, workerData.runs, workerData.seed, workerData.path);
}
