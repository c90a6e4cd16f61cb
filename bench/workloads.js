// The benchmark workloads (run one per child process by bench/run.js). Each returns records:
//   { id, child, workload, timed, seconds (tinybench median per run), runs, peakBytes, cycles,
//     instructions, macs, cyclesPerSecond, instructionsPerSecond, macsPerSecond, note,
//     reference (a limit, no emulation), rate }
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { streamWeightsProgram } from './stream-weights.js';
import { controlKernelProgram } from './control-kernel.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = new URL('../dist/', import.meta.url);
const imp = (p) => import(new URL(p, dist));
const { loadCoreWasm } = await imp('chip/wasm-node.js');
const { Core, instructionCount } = await imp('chip/core.js');
const { assemble } = await imp('asm/assemble.js');
const { loadChipPreset } = await imp('chip/preset.js');
const { assembleSystem } = await imp('system/source.js');
const { loadSystemPreset } = await imp('system/topology.js');
const { runSystem } = await imp('system/system.js');
const { loadModelConfig } = await imp('models/config.js');
const { buildLayerGraph } = await imp('models/graph.js');
const { compileLayer } = await imp('compiler/layer.js');
const { runCompiledLayer } = await imp('compiler/run-layer.js');

const wasm = loadCoreWasm();
const MODEL = 'llama-3-8b';
/** Decode: one new token after `past` cached ones; prefill: `tokens` new tokens, none cached. */
const DECODE = { phase: 'decode', batch: 1, tokens: 1, past: 1023, dtype: 'int8' };
const PREFILL = { phase: 'prefill', batch: 1, tokens: 16, past: 0, dtype: 'int8' };

// ---- measuring ------------------------------------------------------------------------------

function status(key) {
  try {
    const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
/** Peak resident set of this process (worker threads included) since the last resetPeak(). */
const peak = () => status('VmHWM') || process.memoryUsage().rss;
/** Starts a new peak (Linux: VmHWM := VmRSS); returns the resident set it starts from. */
function resetPeak() {
  globalThis.gc?.();
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    /* elsewhere the peak is since the process started */
  }
  return status('VmRSS') || process.memoryUsage().rss;
}
const mib = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** Runs fn under tinybench; returns the median and mean seconds per run and the run count. */
async function tb(name, fn, { iterations = 10, time = 1000, warmup = true, beforeEach, afterEach } = {}) {
  const bench = new Bench({ name, iterations, time, warmup, warmupIterations: warmup ? 2 : 0, warmupTime: 0, throws: true });
  bench.add(name, fn, { beforeEach, afterEach });
  await bench.run();
  const r = bench.tasks[0].result;
  if (!r || r.state === 'errored') throw r?.error ?? new Error(`${name}: no result`);
  return { seconds: r.latency.p50 / 1000, best: r.latency.min / 1000, mean: r.latency.mean / 1000, runs: r.latency.samplesCount ?? r.latency.samples?.length ?? iterations };
}

/** What two busy worker threads get on this machine now (1 to 2: the parallelism on offer while
 * the speed-ups are measured; other processes on a shared machine take some). */
export async function parallelCapacity() {
  const { Worker } = await import('node:worker_threads');
  const code = "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (n) => { let x = 1; for (let i = 0; i < n; i++) x = (Math.imul(x, 1664525) + 1013904223) >>> 0; parentPort.postMessage(x); });";
  const ws = [new Worker(code, { eval: true }), new Worker(code, { eval: true })];
  const job = (w, n) => new Promise((r) => { w.once('message', r); w.postMessage(n); });
  await Promise.all(ws.map((w) => job(w, 1e6)));
  const n = 1e8;
  let t = performance.now();
  await job(ws[0], n);
  const one = performance.now() - t;
  t = performance.now();
  await Promise.all(ws.map((w) => job(w, n)));
  const two = performance.now() - t;
  await Promise.all(ws.map((w) => w.terminate()));
  return (2 * one) / two;
}

function record(o) {
  const s = o.seconds;
  return {
    ...o,
    cyclesPerSecond: o.cycles && s ? o.cycles / s : 0,
    instructionsPerSecond: o.instructions && s ? o.instructions / s : 0,
    macsPerSecond: o.macs && s ? o.macs / s : 0,
  };
}

const ms = (s) => `${(s * 1000).toFixed(s < 0.01 ? 2 : 0)} ms`;

// ---- one-chip kernels -----------------------------------------------------------------------

async function kernel(child, label, text, file, verify) {
  const chip = loadChipPreset(/^\s*\.chip\s+(\S+)/m.exec(text)?.[1] ?? 'tsp-v1');
  const program = assemble(text, { file, chip });
  resetPeak();
  const core = await Core.create(chip, wasm, { maxInstructions: instructionCount(program) });
  core.load(program);
  core.run();
  if (core.error() || !core.halted) throw new Error(`${child}: did not halt cleanly`);
  verify?.(core);
  const reset = await tb(`${child} reset`, () => core.reset(), { iterations: 10, time: 200 });
  core.reset();
  const t = await tb(child, () => core.run(), { iterations: 20, time: 300, beforeEach: () => core.reset() });
  if (core.error() || !core.halted) throw new Error(`${child}: did not halt cleanly`);
  return [record({
    id: child, child, workload: label, timed: 'core.run() of the loaded program',
    seconds: t.seconds, best: t.best, runs: t.runs, peakBytes: peak(),
    cycles: core.programCycles, instructions: core.instructionsIssued, macs: core.planeMacs().reduce((a, b) => a + b, 0),
    note: `${core.instructionsIssued} instructions, ${core.programCycles} cycles; Core.reset() between runs ${ms(reset.seconds)} (not timed)`,
  })];
}

async function programKernel(name, label) {
  const file = `programs/kernels/${name}.sfa`;
  return kernel(name, label, readFileSync(join(root, file), 'utf8'), file);
}

async function controlKernel() {
  const cycles = 1000;
  const text = controlKernelProgram({ cycles });
  return kernel('control', `control-heavy: 88 MEM queues x ${cycles} single-vector READ/WRITE (1 chip, functional)`, text, 'bench/control-kernel.js', (core) => {
    // every WRITE copies what its neighbour READ: b == a
    for (const t of ['aW0', 'aE21']) {
      const a = core.readTensorBytes(t);
      const b = core.readTensorBytes(t.replace('a', 'b'));
      if (!a.every((v, i) => v === b[i])) throw new Error(`control: ${t.replace('a', 'b')} differs from ${t}`);
    }
  });
}

// ---- the references (no emulation) ----------------------------------------------------------

let refModule = null;
/** The reference module, built with the project's asc into build/bench-gemv.wasm when that is
 * missing or older than its source. */
async function reference(pages) {
  if (!refModule) {
    const src = join(root, 'bench/assembly/gemv.ts');
    const out = join(root, 'build/bench-gemv.wasm');
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
      const tmp = join(mkdtempSync(join(tmpdir(), 'sramflow-bench-')), 'gemv.wasm');
      execFileSync(process.execPath, [join(root, 'node_modules/assemblyscript/bin/asc.js'), 'bench/assembly/gemv.ts', '--config', 'bench/assembly/asconfig.json', '-o', tmp], { cwd: root });
      writeFileSync(out, readFileSync(tmp));
    }
    refModule = await WebAssembly.compile(readFileSync(out));
  }
  const { exports: g } = await WebAssembly.instantiate(refModule, {});
  const have = g.memory.buffer.byteLength >>> 16;
  if (pages > have && g.grow(pages - have) < 0) throw new Error('reference: cannot grow memory');
  return g;
}

function fillInt8(mem, from, n, seed) {
  let s = seed >>> 0;
  const v = new Int8Array(mem.buffer, from, n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = (s >>> 24) - 128;
  }
}

/** Random finite fp16 bits (no infinities or NaNs), like the kernel's random(). */
function fillFp16(mem, from, n, seed) {
  let s = seed >>> 0;
  const v = new Uint16Array(mem.buffer, from, n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = ((s >>> 16) % 0x7800) | (s & 0x8000);
  }
}

/** Pair-interleaved int8 weights (byte ((k >> 1) * N + n) * 2 + (k & 1)) rearranged into the
 * blocked layout of gemvInt8Blocked. */
function blockInt8(mem, from, to, K, N) {
  const src = new Int8Array(mem.buffer, from, K * N);
  const dst = new Int8Array(mem.buffer, to, K * N);
  const pairs = K >> 1;
  for (let j = 0; j < pairs; j++) {
    for (let n = 0; n < N; n++) {
      const o = ((n >> 4) * pairs + j) * 32 + (n & 15) * 2;
      dst[o] = src[(j * N + n) * 2];
      dst[o + 1] = src[(j * N + n) * 2 + 1];
    }
  }
}

/** The faster of the int8 GEMV's two weight layouts, after checking both against a scalar product. */
async function tightInt8(g, { w, wb, x, y, xs, K, N, rows = 1, label, iterations, time }) {
  const X = new Int8Array(g.memory.buffer, x, K);
  const W = new Int8Array(g.memory.buffer, w, K * N);
  for (const [name, f, at] of [['pair', g.gemvInt8, w], ['blocked', g.gemvInt8Blocked, wb]]) {
    f(at, x, y, K, N, xs);
    const Y = new Int32Array(g.memory.buffer, y, N);
    for (const n of [0, 17 % N, N - 1]) {
      let s = 0;
      for (let k = 0; k < K; k++) s += X[k] * W[((k >> 1) * N + n) * 2 + (k & 1)];
      if (s !== Y[n]) throw new Error(`reference ${name} int8 GEMV ${label} wrong at ${n}: ${Y[n]} != ${s}`);
    }
  }
  const run = (f, at) => () => { for (let r = 0; r < rows; r++) f(at, x, y, K, N, xs); };
  const pair = await tb(`${label} pair`, run(g.gemvInt8, w), { iterations, time });
  const blocked = await tb(`${label} blocked`, run(g.gemvInt8Blocked, wb), { iterations, time });
  return { pair, blocked, best: pair.best <= blocked.best ? { layout: 'pair-interleaved', ...pair } : { layout: 'blocked', ...blocked } };
}

async function limitsKernels() {
  const out = [];
  const g = await reference(64 + 160);
  const xs = 1 << 16;
  const y = xs + 64 * 1024;
  const x = y + 64 * 1024;
  const w = x + 64 * 1024;
  const wb = w + 1024 * 1024;
  {
    const K = 640;
    const N = 640;
    fillInt8(g.memory, x, K, 1);
    fillInt8(g.memory, w, K * N, 2);
    blockInt8(g.memory, w, wb, K, N);
    const simple = await tb('ref gemv int8 simple', () => g.gemvInt8Simple(w, x, y, K, N));
    const r = await tightInt8(g, { w, wb, x, y, xs, K, N, label: 'gemv-int8' });
    const t = r.best;
    out.push(record({ id: 'ref-gemv-int8', child: 'limits-kernels', reference: true, workload: `Wasm SIMD GEMV int8 ${K}x${N} (gemv-int8's shape)`, seconds: t.seconds, best: t.best, runs: t.runs, rate: `${((K * N) / t.best / 1e9).toFixed(2)} GMAC/s`, note: `the faster layout (${t.layout}); best of: pair-interleaved ${(r.pair.best * 1e6).toFixed(1)} us, blocked ${(r.blocked.best * 1e6).toFixed(1)} us; the suite's first version (8 outputs a pass, x splatted in the loop) ${(simple.best * 1e6).toFixed(1)} us` }));
    const sw = await tb('sweep', () => g.sweep(w, K * N));
    out.push(record({ id: 'ref-sweep-gemv-int8', child: 'limits-kernels', reference: true, workload: `memory sweep over ${K}x${N} int8 weight bytes`, seconds: sw.seconds, best: sw.best, runs: sw.runs, rate: `${((K * N) / sw.best / 1e9).toFixed(2)} GB/s`, note: 'in cache: 400 KiB' }));
  }
  {
    const K = 320;
    const N = 320;
    fillFp16(g.memory, x, K, 3);
    fillFp16(g.memory, w, K * N, 4);
    const t = await tb('ref gemv fp16', () => g.gemvFp16(w, x, y, K, N, xs));
    out.push(record({ id: 'ref-gemv-fp16', child: 'limits-kernels', reference: true, workload: `Wasm SIMD GEMV fp16 ${K}x${N} (gemv-fp16's shape)`, seconds: t.seconds, best: t.best, runs: t.runs, rate: `${((K * N) / t.best / 1e9).toFixed(2)} GMAC/s`, note: 'fp16 widened exactly in SIMD (the same conversion as the core), fp32 mul then add in ascending k' }));
  }
  return out;
}

// ---- layers ---------------------------------------------------------------------------------

/** The layer to run: the whole layer (every op has a lowering since session 2; this compiled it
 * once more to find out, which doubled the compile's measured peak). */
function layerPlan() {
  return { config: loadModelConfig(MODEL), extra: {}, label: 'whole layer' };
}

/** Reads the compiled layer's data files (the assembler's file("...") reader). */
function dataReader(layer, programFile) {
  const dir = programFile.includes('/') ? programFile.slice(0, programFile.lastIndexOf('/') + 1) : '';
  return (full) => {
    const rel = full.startsWith(dir) ? full.slice(dir.length) : full;
    for (const [k, d] of layer.data) if (full.endsWith(`/${k}`) || full === k || rel === k) return d;
    throw new Error(`no data file ${rel}`);
  };
}

async function layerWorkload(id, shape, functional) {
  const chip = loadChipPreset('tsp-v1');
  const name = `Llama-3-8B ${shape.phase} layer${shape.phase === 'prefill' ? ` (${shape.tokens} tokens)` : ` (${shape.past} past)`}`;
  const mode = functional ? 'functional' : 'timing-only';
  resetPeak();
  const plan = layerPlan();
  let t0 = performance.now();
  const layer = compileLayer(plan.config, { chip, ...shape, ...plan.extra, timingOnly: !functional });
  const compileS = (performance.now() - t0) / 1000;
  const compilePeak = peak();
  const what = `${name}, ${plan.label}, ${mode}, ${layer.chips} x tsp-v1`;
  const weightBytes = layer.graph.ops.filter((op) => layer.compiled.includes(op.name)).reduce((a, op) => a + op.weightBytes, 0);
  const out = [];
  const common = { child: id };
  out.push(record({ ...common, id: `${id}-compile`, workload: `${what}: compile`, timed: 'compileLayer (host; weights generated when functional)', seconds: compileS, best: compileS, runs: 1, peakBytes: compilePeak, note: `predicted ${layer.predictedCycles} cycles; ${(weightBytes / 2 ** 20).toFixed(1)} MiB of weights` }));

  resetPeak();
  const file = 'layer.sfa';
  const readFile = dataReader(layer, file);
  t0 = performance.now();
  const system = loadSystemPreset(`node-${layer.chips}`, chip);
  if (layer.chips < 2) throw new Error(`${id}: the bench expects a multi-chip layer, got ${layer.chips} chip`);
  const sp = assembleSystem(layer.source, file, system, readFile);
  const assembleS = (performance.now() - t0) / 1000;
  out.push(record({ ...common, id: `${id}-assemble`, workload: `${what}: assemble`, timed: 'assemble the compiled source (host)', seconds: assembleS, best: assembleS, runs: 1, peakBytes: peak(), note: `${sp.programs.reduce((n, p) => n + instructionCount(p), 0)} instructions in ${sp.programs.length} program(s)` }));

  // runSystem, timed in two parts: load (cores made, programs and SRAM images placed, worker
  // threads started) up to its onStart, and the emulation (the lockstep windows) after it
  for (const threads of [1, 2]) {
    const rss0 = resetPeak();
    let res = null;
    const loads = [];
    const runs = [];
    const capacity = threads > 1 ? await parallelCapacity() : null;
    const t = await tb(`${id} system ${threads}`, async () => {
      const t1 = performance.now();
      let ready = t1;
      res = await runSystem(sp, wasm, { functional, threads, hashes: false, onStart: () => (ready = performance.now()) });
      const t2 = performance.now();
      loads.push((ready - t1) / 1000);
      runs.push((t2 - ready) / 1000);
    }, { iterations: 3, time: 0, warmup: true, beforeEach: () => globalThis.gc?.() });
    const sysPeak = peak();
    if (res.stop !== 'halt' || res.error) throw new Error(`${id}: ${res.error?.message ?? res.stop}`);
    if (res.cycles !== layer.predictedCycles) throw new Error(`${id}: emulated ${res.cycles} cycles, the compiler predicted ${layer.predictedCycles}`);
    const cycles = res.chips.reduce((a, c) => a + c.report.cycles, 0);
    const instructions = res.chips.reduce((a, c) => a + c.report.instructions, 0);
    const macs = res.chips.reduce((a, c) => a + c.report.mxm.macs, 0);
    const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const thr = `${threads} thread${threads > 1 ? 's' : ''}`;
    const cap = `; peak ${mib(Math.max(0, sysPeak - rss0))} above the ${mib(rss0)} held before (the compiled layer)${capacity === null ? '' : `; 2 busy threads got ${capacity.toFixed(2)}x on this machine meanwhile`}`;
    out.push(record({ ...common, id: `${id}-load-${threads}`, workload: `${what}: load, ${thr}`, timed: 'runSystem up to onStart: cores made, programs and SRAM images placed', seconds: med(loads), best: Math.min(...loads), runs: loads.length, peakBytes: 0, note: '' }));
    out.push(record({ ...common, id: `${id}-emulate-${threads}`, workload: `${what}: emulation, ${thr}`, timed: 'runSystem after onStart: the lockstep run of the loaded chips', seconds: med(runs), best: Math.min(...runs), runs: runs.length, peakBytes: sysPeak, cycles, instructions, macs, note: `${res.cycles} system cycles (= predicted), ${res.windows} lockstep windows${threads === 1 ? `; ${(weightBytes / 2 ** 20).toFixed(1)} MiB of weights streamed` : ''}${cap}` }));
    out.push(record({ ...common, id: `${id}-system-${threads}`, workload: `${what}: runSystem, ${thr}`, timed: 'runSystem: load + emulation', seconds: t.seconds, best: t.best, runs: t.runs, peakBytes: sysPeak, cycles, instructions, macs, note: cap.replace(/^; /, '') }));
    if (threads === 1 && functional) globalThis.gc?.();
  }
  if (functional) {
    resetPeak();
    t0 = performance.now();
    const r = await runCompiledLayer(layer, wasm, { functional: true, checked: false, threads: 1 });
    const e2e = (performance.now() - t0) / 1000;
    out.push(record({ ...common, id: `${id}-e2e`, workload: `${what}: end to end`, timed: 'runCompiledLayer: assemble, load, emulate, hash, read back, verify op by op', seconds: e2e, best: e2e, runs: 1, peakBytes: peak(), note: r.verified ? `verified: every op within its bound (${r.checks.length} checks)` : 'NOT VERIFIED' }));
    if (!r.verified) throw new Error(`${id}: the layer's values are wrong`);
  }
  return out;
}

/** The reference for the decode layer: Wasm SIMD GEMVs of every matrix product of the ops the
 * emulated layer runs, on one thread: the int8 projections (each layout, the faster counts)
 * and the fp16 attention products (q K^T and P V, one GEMV per query head), and a memory sweep
 * over the layer's weight bytes. */
async function limitsLayer() {
  const chip = loadChipPreset('tsp-v1');
  const plan = layerPlan();
  const graph = buildLayerGraph(plan.config, DECODE);
  const first = plan.extra.from ? graph.ops.findIndex((op) => op.name === plan.extra.from) : 0;
  const ops = graph.ops.slice(first);
  const mats = ops.filter((op) => op.attrs.kind === 'linear').map((op) => ({ name: op.name, K: op.attrs.inFeatures, N: op.attrs.outFeatures, rows: op.attrs.rows }));
  // attention: per query head, scores [1 x D] . [D x S] and values [1 x S] . [S x D] in fp16
  const attn = ops.filter((op) => op.attrs.kind === 'attn_scores' || op.attrs.kind === 'attn_values').map((op) => {
    const a = op.attrs;
    const S = a.attended ?? a.seq;
    const rows = a.heads * a.batch * a.tokens;
    return op.attrs.kind === 'attn_scores' ? { name: op.name, K: a.headDim, N: S, rows, kv: a.kvHeads } : { name: op.name, K: S, N: a.headDim, rows, kv: a.kvHeads };
  });
  const bytes = mats.reduce((a, m) => a + m.K * m.N, 0);
  const attnBytes = attn.reduce((a, m) => a + m.K * m.N * m.kv * 2, 0);
  resetPeak();
  const base = 1 << 20;
  const g = await reference(Math.ceil((base + 2 * bytes + attnBytes + (4 << 20)) / 65536));
  const xs = 1 << 16;
  const x = xs + 256 * 1024;
  const y = x + 64 * 1024;
  let at = base;
  for (const m of mats) {
    m.w = at;
    fillInt8(g.memory, at, m.K * m.N, m.K + m.N);
    at += m.K * m.N;
    m.wb = at;
    blockInt8(g.memory, m.w, m.wb, m.K, m.N);
    at += m.K * m.N;
  }
  for (const m of attn) {
    m.w = at;
    fillFp16(g.memory, at, m.K * m.N * m.kv, m.K);
    at += m.K * m.N * m.kv * 2;
  }
  fillInt8(g.memory, x, 65536, 7);
  const xh = x + 32 * 1024;
  fillFp16(g.memory, xh, 8192, 8);
  const int8Layer = (layout) => () => {
    for (const m of mats) for (let r = 0; r < m.rows; r++) (layout === 'pair' ? g.gemvInt8 : g.gemvInt8Blocked)(layout === 'pair' ? m.w : m.wb, x, y, m.K, m.N, xs);
  };
  const attnAll = () => {
    // each query head reads its kv head's matrix (group query heads share one)
    for (const m of attn) for (let r = 0; r < m.rows; r++) g.gemvFp16(m.w + (r % m.kv) * m.K * m.N * 2, xh, y, m.K, m.N, xs);
  };
  const pair = await tb('layer gemvs pair', int8Layer('pair'), { iterations: 5, time: 0 });
  const blocked = await tb('layer gemvs blocked', int8Layer('blocked'), { iterations: 5, time: 0 });
  const at16 = await tb('layer attention fp16', attnAll, { iterations: 5, time: 0 });
  // the pair layout's copy: the sweep reads the bytes the GEMVs read
  const sw = await tb('layer sweep', () => g.sweep(mats[0].w, 2 * bytes), { iterations: 5, time: 0 });
  const best = pair.best <= blocked.best ? { layout: 'pair-interleaved', ...pair } : { layout: 'blocked', ...blocked };
  const macs = mats.reduce((a, m) => a + m.K * m.N * m.rows, 0);
  const attnMacs = attn.reduce((a, m) => a + m.K * m.N * m.rows, 0);
  const list = mats.map((m) => `${m.name} ${m.K}x${m.N}`).join(', ');
  const attnList = attn.map((m) => `${m.name} ${m.rows} x ${m.K}x${m.N}`).join(', ');
  const label = plan.label.replace(/ \(.*/, '');
  return [
    record({ id: 'ref-layer-gemv', child: 'limits-layer', reference: true, workload: `Wasm SIMD GEMVs of the decode layer's matrix products (${label}), 1 thread`, seconds: best.seconds + at16.seconds, best: best.best + at16.best, runs: best.runs, peakBytes: peak(), rate: `${((macs + attnMacs) / (best.best + at16.best) / 1e9).toFixed(2)} GMAC/s`, note: `int8 projections, the faster layout (${best.layout}): ${(best.best * 1e3).toFixed(1)} ms (pair-interleaved ${(pair.best * 1e3).toFixed(1)} ms, blocked ${(blocked.best * 1e3).toFixed(1)} ms; ${(bytes / 2 ** 20).toFixed(1)} MiB: ${list}); fp16 attention ${(at16.best * 1e3).toFixed(1)} ms (${attnList})` }),
    record({ id: 'ref-layer-sweep', child: 'limits-layer', reference: true, workload: `memory sweep over the decode layer's ${(bytes / 2 ** 20).toFixed(1)} MiB of int8 weights`, seconds: sw.seconds / 2, best: sw.best / 2, runs: sw.runs, rate: `${((2 * bytes) / sw.best / 1e9).toFixed(2)} GB/s`, note: 'the bandwidth floor: each weight byte read once (swept over twice the bytes, halved, so no pass starts in cache)' }),
  ];
}

// ---- the 576-chip system --------------------------------------------------------------------

async function system576() {
  const text = streamWeightsProgram('pod-576');
  const sys = loadSystemPreset('pod-576');
  const sp = assembleSystem(text, 'bench/stream-weights.js (pod-576)', sys);
  const out = [];
  for (const threads of [1, 2]) {
    resetPeak();
    const capacity = threads > 1 ? await parallelCapacity() : null;
    let r = null;
    const t = await tb(`576 x ${threads}`, async () => (r = await runSystem(sp, wasm, { functional: false, threads })), { iterations: 1, time: 0, warmup: false });
    const instructions = r.chips.reduce((n, c) => n + c.report.instructions, 0);
    const macs = r.chips.reduce((n, c) => n + c.report.mxm.macs, 0);
    out.push(record({
      id: `system-576-t${threads}`, child: 'system-576', workload: `576 chips x 200 MiB weights (timing-only, ${threads} thread${threads > 1 ? 's' : ''})`,
      timed: 'runSystem: cores made and loaded, run, hashes', seconds: t.seconds, best: t.best, runs: t.runs, peakBytes: peak(),
      cycles: r.cycles * sys.chips, instructions, macs,
      note: `system cycles ${r.cycles}, ${r.windows} lockstep windows; target < 30 s and < 2 GB${capacity === null ? '' : `; 2 busy threads got ${capacity.toFixed(2)}x on this machine meanwhile`}`,
    }));
  }
  return out;
}

// ---- dispatch -------------------------------------------------------------------------------

export async function runWorkload(name) {
  switch (name) {
    case 'control': return controlKernel();
    case 'gemv-int8': return programKernel('gemv-int8', 'gemv-int8 640x640 (1 chip, functional)');
    case 'gemv-fp16': return programKernel('gemv-fp16', 'gemv-fp16 320x320 (1 chip, functional)');
    case 'vector-add-fp32': return programKernel('vector-add-fp32', 'vector-add-fp32 8x320 (1 chip, functional)');
    case 'limits-kernels': return limitsKernels();
    case 'decode-functional': return layerWorkload('decode-functional', DECODE, true);
    case 'decode-timing': return layerWorkload('decode-timing', DECODE, false);
    case 'prefill-timing': return layerWorkload('prefill-timing', PREFILL, false);
    case 'limits-layer': return limitsLayer();
    case 'system-576': return system576();
    default: throw new Error(`no workload ${name}`);
  }
}
