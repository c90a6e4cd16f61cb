// Benchmarks, run with plain node after `npm run build`: `npm run bench` (all), or
// `node bench/run.js system` for the many-chip workloads only. Prints each figure and writes
// bench/results.md and bench/results.json (committed: they are the project's measured record).
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { streamWeightsProgram } from './stream-weights.js';

const dist = new URL('../dist/', import.meta.url);
if (!existsSync(new URL('system/system.js', dist))) {
  console.error('bench: build first (npm run build)');
  process.exit(2);
}
const { assembleSystem } = await import(new URL('system/source.js', dist));
const { loadSystemPreset } = await import(new URL('system/topology.js', dist));
const { runSystem } = await import(new URL('system/system.js', dist));
const { loadCoreWasm } = await import(new URL('chip/wasm-node.js', dist));
const { Core, instructionCount } = await import(new URL('chip/core.js', dist));
const { assemble } = await import(new URL('asm/assemble.js', dist));
const { loadChipPreset } = await import(new URL('chip/preset.js', dist));

// `node bench/run.js [kernels|limits|system] [--check]`: --check compares with the committed
// bench/results.json instead of rewriting it, and fails on a slowdown beyond THRESHOLD.
const args = process.argv.slice(2);
const check = args.includes('--check');
const only = args.find((a) => !a.startsWith('--'));
const THRESHOLD = 1.25; // a workload more than 25% slower than its committed figure fails the check
const results = [];

/** Peak resident memory while fn runs, sampled every 20 ms (RSS covers worker threads too). */
async function measure(fn) {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  try {
    const value = await fn();
    return { value, seconds: (performance.now() - t0) / 1000, peakBytes: Math.max(peak, process.memoryUsage().rss) };
  } finally {
    clearInterval(timer);
  }
}

function record(r) {
  results.push(r);
  const mib = (r.peakBytes / 2 ** 20).toFixed(0);
  console.log(`${r.workload.padEnd(44)} ${r.seconds.toFixed(2).padStart(7)} s  ${mib.padStart(5)} MiB peak  ${(r.cyclesPerSecond / 1e6).toFixed(2)} M emulated cycles/s  ${(r.instructionsPerSecond / 1e6).toFixed(2)} M instr/s  ${r.note ?? ''}`);
}

async function kernels() {
  const wasm = loadCoreWasm();
  for (const k of ['gemv-int8', 'gemv-fp16', 'vector-add-fp32']) {
    const path = new URL(`../programs/kernels/${k}.sfa`, import.meta.url);
    if (!existsSync(path)) continue;
    const text = readFileSync(path, 'utf8');
    const chip = loadChipPreset(/^\s*\.chip\s+(\S+)/m.exec(text)?.[1] ?? 'tsp-v1');
    const program = assemble(text, { file: `programs/kernels/${k}.sfa`, chip });
    const core = await Core.create(chip, wasm, { maxInstructions: instructionCount(program) });
    core.load(program);
    // repeat the run until the runs (not the resets between them) took half a second
    let runs = 0;
    let inRun = 0;
    const m = await measure(async () => {
      while (inRun < 500) {
        core.reset();
        const t0 = performance.now();
        core.run();
        inRun += performance.now() - t0;
        runs++;
      }
    });
    m.seconds = inRun / 1000;
    const cycles = core.programCycles;
    record({
      workload: `${k} (1 chip, functional)`, seconds: m.seconds / runs, peakBytes: m.peakBytes, cycles,
      cyclesPerSecond: (cycles * runs) / m.seconds, instructionsPerSecond: (core.instructionsIssued * runs) / m.seconds,
      note: `${runs} runs`,
    });
  }
}

async function system576() {
  const wasm = loadCoreWasm();
  const text = streamWeightsProgram('pod-576');
  const sys = loadSystemPreset('pod-576');
  const sp = assembleSystem(text, 'bench/stream-weights.js (pod-576)', sys);
  const times = {};
  for (const threads of [1, 2]) {
    const m = await measure(() => runSystem(sp, wasm, { functional: false, threads }));
    const r = m.value;
    const instr = r.chips.reduce((n, c) => n + c.report.instructions, 0);
    times[threads] = m.seconds;
    record({
      workload: `576 chips x 200 MiB weights (timing-only, ${threads} thread${threads > 1 ? 's' : ''})`,
      seconds: m.seconds, peakBytes: m.peakBytes, cycles: r.cycles,
      cyclesPerSecond: (r.cycles * sys.chips) / m.seconds, instructionsPerSecond: instr / m.seconds,
      note: `system cycles ${r.cycles}; target < 30 s and < 2 GB`,
    });
  }
  record({
    workload: 'speed-up of 2 threads on 576 chips', seconds: times[2], peakBytes: 0, cycles: 0, cyclesPerSecond: 0, instructionsPerSecond: 0,
    note: `${(times[1] / times[2]).toFixed(2)}x`,
  });
}

/** The emulator against a tight Wasm SIMD GEMV of the same shape, and a memory sweep. */
async function limits() {
  const { execFileSync } = await import('node:child_process');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'sramflow-bench-'));
  const out = join(dir, 'gemv.wasm');
  const root = new URL('..', import.meta.url).pathname;
  execFileSync(process.execPath, [join(root, 'node_modules/assemblyscript/bin/asc.js'), 'bench/assembly/gemv.ts', '--config', 'bench/assembly/asconfig.json', '-o', out], { cwd: root });
  const { instance } = await WebAssembly.instantiate(readFileSync(out), {});
  const g = instance.exports;
  const K = 640;
  const N = 640;
  const w = 1 << 16;
  const x = w + K * N;
  const y = x + K;
  const mem = new Int8Array(g.memory.buffer);
  for (let i = 0; i < K * N + K; i++) mem[w + i] = ((i * 7919) % 255) - 127;
  const time = (fn) => {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 500) {
      fn();
      n++;
    }
    return (performance.now() - t0) / 1000 / n;
  };
  const tGemv = time(() => g.gemvInt8(w, x, y, K, N));
  const tSweep = time(() => g.sweep(w, K * N));
  const emu = results.find((r) => r.workload.startsWith('gemv-int8'));
  record({ workload: 'reference: Wasm SIMD GEMV int8 640x640 (no emulation)', seconds: tGemv, peakBytes: 0, cycles: 0, cyclesPerSecond: 0, instructionsPerSecond: 0, note: `${((K * N) / tGemv / 1e9).toFixed(2)} GMAC/s${emu ? `; emulator / reference = ${(emu.seconds / tGemv).toFixed(2)}x (target 1.3x)` : ''}` });
  record({ workload: 'reference: memory sweep over 640x640 int8 weights', seconds: tSweep, peakBytes: 0, cycles: 0, cyclesPerSecond: 0, instructionsPerSecond: 0, note: `${((K * N) / tSweep / 1e9).toFixed(2)} GB/s${emu ? `; emulator / sweep = ${(emu.seconds / tSweep).toFixed(2)}x` : ''}` });
}

if (!only || only === 'kernels') await kernels();
if (!only || only === 'kernels' || only === 'limits') await limits();
if (!only || only === 'system') await system576();

// a partial run keeps the other workloads' last figures
const jsonPath = new URL('results.json', import.meta.url);
if (only && !check && existsSync(jsonPath)) {
  const old = JSON.parse(readFileSync(jsonPath, 'utf8')).results ?? [];
  const mine = new Set(results.map((r) => r.workload));
  results.unshift(...old.filter((r) => !mine.has(r.workload)));
}
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`;
const table = [
  '# Benchmark results',
  '',
  `Measured by \`npm run bench\` on ${machine}, ${new Date().toISOString().slice(0, 10)}.`,
  'Cycles/s counts emulated chip cycles (summed over chips) per host second.',
  '',
  '| workload | wall s (per run) | peak MiB | emulated cycles | M cycles/s | M instructions/s | note |',
  '|---|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.workload} | ${r.seconds.toPrecision(3)} | ${r.peakBytes ? (r.peakBytes / 2 ** 20).toFixed(0) : '-'} | ${r.cycles || '-'} | ${r.cyclesPerSecond ? (r.cyclesPerSecond / 1e6).toFixed(2) : '-'} | ${r.instructionsPerSecond ? (r.instructionsPerSecond / 1e6).toFixed(2) : '-'} | ${r.note ?? ''} |`),
  '',
];
if (check) {
  // compare per-run wall time with the committed figures; nothing is written
  const committed = existsSync(jsonPath) ? JSON.parse(readFileSync(jsonPath, 'utf8')).results ?? [] : [];
  let slower = 0;
  for (const r of results) {
    const old = committed.find((c) => c.workload === r.workload);
    if (!old || !old.seconds || !r.seconds || r.workload.startsWith('reference') || r.workload.startsWith('speed-up')) continue;
    const ratio = r.seconds / old.seconds;
    const flag = ratio > THRESHOLD ? '  SLOWER' : '';
    if (flag) slower++;
    console.log(`check: ${r.workload}: ${ratio.toFixed(2)}x the committed time${flag}`);
  }
  console.log(slower ? `check: ${slower} workload(s) more than ${((THRESHOLD - 1) * 100).toFixed(0)}% slower` : 'check: no slowdown beyond the threshold');
  process.exit(slower ? 1 : 0);
}
writeFileSync(new URL('results.md', import.meta.url), table.join('\n'));
writeFileSync(new URL('results.json', import.meta.url), JSON.stringify({ machine, date: new Date().toISOString(), results }, null, 2) + '\n');
console.log('wrote bench/results.md and bench/results.json');
