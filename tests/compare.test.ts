// sramflow compare: the whole-model SRAM system against GPUs and a wafer. The composition (layer
// after layer over C2C hops, then the head) is checked against a real multi-chip program that
// chains two compiled decoder layers and the compiled LM head of the tiny model on three chips:
// its emulated cycles must equal the composition's, and every stage must compute exactly on what
// the previous one sent. Then the library on the tiny model, the command line end to end, sweeps
// (CSV and SVG) and bad inputs.
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../src/asm/assemble.js';
import { Core } from '../src/chip/core.js';
import { loadChipPreset } from '../src/chip/preset.js';
import { loadCoreWasm } from '../src/chip/wasm-node.js';
import type { ChipConfig } from '../src/chip/config.js';
import { loadModelConfig } from '../src/models/config.js';
import { compileLayer, type CompiledLayer } from '../src/compiler/layer.js';
import '../src/compiler/attention.js';
import { assembleSystem } from '../src/system/source.js';
import { loadSystemPreset } from '../src/system/topology.js';
import { runSystem } from '../src/system/system.js';
import { decodeElements } from '../src/util/numerics.js';
import { compileHead } from '../src/compare/head.js';
import { chainCycles, planHop } from '../src/compare/hop.js';
import { pipelineProgram, type PipelineStage } from '../src/compare/pipeline-program.js';
import { sramSystem } from '../src/compare/sram-system.js';
import { compare } from '../src/compare/compare.js';
import { parseSweep, runSweep, sweepCsv, sweepSvg } from '../src/compare/sweep.js';
import { chipPower } from '../src/compare/power.js';
import { loadGpuPreset } from '../src/gpu/index.js';
import { loadWaferPreset } from '../src/wafer/index.js';
import { runCompiledLayer } from '../src/compiler/run-layer.js';
import { sramflow, root } from './helpers/cli.js';
import { expectSfError } from './helpers/expect-error.js';

const tsp = loadChipPreset('tsp-v1');
const wasm = loadCoreWasm();
const tiny = loadModelConfig('tiny');
const tmp = mkdtempSync(join(tmpdir(), 'sramflow-compare-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const slices = (l: CompiledLayer, t: string) => l.symbols.find((s) => s.tensor === t)!.at.split(', ').map((p) => p.split(':')[0]!);

/** Runs a one-chip compiled program alone with values; the named tensors' bytes. */
async function runAlone(l: CompiledLayer, chip: ChipConfig, names: string[]): Promise<Record<string, Uint8Array>> {
  const program = assemble(l.source, {
    file: 'alone.sfa',
    chip,
    readFile: (f: string) => {
      const k = [...l.data.keys()].find((x) => f.endsWith(x));
      if (!k) throw new Error(`no data ${f}`);
      return l.data.get(k)!;
    },
  });
  const core = await Core.create(chip, wasm, { functional: true, checked: true });
  core.load(program);
  core.run();
  expect(core.error()).toBeNull();
  expect(core.programCycles).toBe(l.predictedCycles);
  return Object.fromEntries(names.map((n) => [n, core.readTensorBytes(n)]));
}

/** An fp32 [rows, hidden] tensor in the rows layout (vector m * tiles + j, lane f % lanes) as values. */
function rowsValues(bytes: Uint8Array, rows: number, cols: number, lanes: number): Float64Array {
  const el = decodeElements('fp32', bytes);
  const tiles = Math.ceil(cols / lanes);
  const out = new Float64Array(rows * cols);
  for (let m = 0; m < rows; m++) for (let f = 0; f < cols; f++) out[m * cols + f] = el[(m * tiles + Math.floor(f / lanes)) * lanes + (f % lanes)]!;
  return out;
}

describe('the composition equals a multi-chip run of two layers and the head (tiny model, tsp-v1)', () => {
  it('cycles: chain of programs + hops == emulated system; values: each stage computes on what it received', async () => {
    const o = { chip: tsp, phase: 'decode' as const, past: 5 };
    const A = compileLayer(tiny, { ...o, layer: 0, seed: 1, dataDir: 's0.data' });
    const B = compileLayer(tiny, { ...o, layer: 1, seed: 2, dataDir: 's1.data' });
    const H = compileHead(tiny, { chip: tsp, seed: 3, dataDir: 'h.data' });
    expect([A.chips, B.chips, H.chips]).toEqual([1, 1, 1]);
    const tiles = Math.ceil(tiny.hiddenSize / tsp.lanes);
    const stage = (l: CompiledLayer, input: string, output: string | null): PipelineStage => ({
      source: l.source, data: l.data, cycles: l.predictedCycles,
      input: { name: input, slices: slices(l, input) },
      output: output ? { name: output, slices: slices(l, output) } : { name: '-', slices: ['MEM.W0', 'MEM.W1'] },
      rows: tiles,
    });
    const stages = [stage(A, 'x', 'y'), stage(B, 'x', 'y'), stage(H, 'x', null)];
    // the three programs alone (with values: verified against the reference op by op)
    for (const l of [A, B, H]) {
      const r = await runCompiledLayer(l, wasm);
      expect(r.verified).toBe(true);
      expect(r.cycles).toBe(l.predictedCycles);
    }
    const p = pipelineProgram(tsp, stages, 'node-4');
    const sp = assembleSystem(p.source, 'pipeline.sfa', loadSystemPreset('node-4', tsp), (f) => p.data.get([...p.data.keys()].find((k) => f.endsWith(k))!)!);
    const res = await runSystem(sp, wasm, { functional: true, checked: true, threads: 1, readBack: ['x', 'y', 'logits'] });
    expect(res.error).toBeUndefined();
    expect(res.stop).toBe('halt');
    const composed = chainCycles(tsp, stages.map((s) => s.cycles), p.hops.map((h) => h.cycles));
    expect(res.cycles).toBe(composed);
    // the hops are what the whole-model composition adds between stages
    expect(p.hops[0]!.cycles).toBe(planHop(tsp, { name: 'y', slices: slices(A, 'y') }, { name: 'x', slices: slices(B, 'x') }, tiles).cycles);
    expect(p.hops[0]!.vectors).toBe(4 * tiles);

    // values: chip 0 computes layer 0 as alone; chip 1 runs layer 1 on chip 0's y; chip 2 the head on chip 1's y
    const t = res.tensors!;
    const a = await runAlone(A, tsp, ['y']);
    expect(Buffer.from(t[0]!.y!.bytes).equals(Buffer.from(a.y!))).toBe(true);
    expect(Buffer.from(t[1]!.x!.bytes).equals(Buffer.from(t[0]!.y!.bytes))).toBe(true);
    const yA = rowsValues(t[0]!.y!.bytes, 1, tiny.hiddenSize, tsp.lanes);
    const B2 = compileLayer(tiny, { ...o, layer: 1, weights: B.weights, inputs: { x: yA, kPast: B.inputs.kPast, vPast: B.inputs.vPast }, dataDir: 's1.data' });
    const b = await runAlone(B2, tsp, ['y']);
    expect(Buffer.from(t[1]!.y!.bytes).equals(Buffer.from(b.y!))).toBe(true);
    expect(Buffer.from(t[2]!.x!.bytes).equals(Buffer.from(t[1]!.y!.bytes))).toBe(true);

    // the library's whole-model figure is the same chain plus the embedding in front
    const est = await sramSystem(tiny, { chip: tsp, batch: 1, context: 6, prompt: null, dtype: 'int8', decode: true, power: null });
    const d = est.decode!;
    expect(d.programs.map((q) => q.cycles)).toEqual([A.predictedCycles, H.predictedCycles]);
    expect(d.cycles - d.embedding.cycles - d.hops[0]!.cycles).toBe(composed);
  }, 60_000);
});

describe('sramSystem on the tiny model', () => {
  it('composes emulated programs, hops and the embedding; the breakdown adds up; chips and energy', async () => {
    const est = await sramSystem(tiny, { chip: tsp, batch: 2, context: 32, prompt: 8, dtype: 'int8', decode: true, power: chipPower(tsp) });
    const d = est.decode!;
    const p = est.prefill!;
    expect(est.label).toBe('emulated, cycle-level');
    for (const s of [d, p]) {
      for (const q of s.programs) expect(q.cycles).toBe(q.predictedCycles);
      const sum = Object.values(s.breakdown).reduce((x, y) => x + y!, 0);
      expect(sum).toBeCloseTo(s.seconds, 12);
      expect(s.seconds).toBeCloseTo(s.cycles / tsp.clockHz, 15);
    }
    // one layer program serves both layers
    expect(d.programs.filter((q) => q.kind === 'layer')).toHaveLength(1);
    expect(d.programs[0]!.layers).toEqual([0, 1]);
    expect(est.chips).toBe(2 * est.chipsPerLayer + est.headChips + est.embeddingChips);
    expect(est.tokensPerSecondPerUser).toBeCloseTo(1 / d.seconds, 9);
    expect(est.systemTokensPerSecond).toBeCloseTo(2 / d.seconds, 9);
    expect(est.ttftSeconds).toBe(p.seconds);
    expect(est.energyPerTokenJoules).toBeCloseTo((300 * est.chips * d.seconds) / 2, 12);
    // the pipeline full of micro-batches serves more users per second, never faster per user
    expect(est.pipelineFull!.systemTokensPerSecond).toBeGreaterThan(est.systemTokensPerSecond!);
    expect(1 / est.pipelineFull!.tokenIntervalSeconds).toBeLessThanOrEqual(est.tokensPerSecondPerUser! * (1 + 1e-12));
  }, 60_000);

  it('compare() puts GPUs (fewest that fit) and the wafer beside it', async () => {
    const c = await compare(tiny, {
      phase: 'decode', batch: 1, context: 16, prompt: null, dtype: 'int8', chip: tsp,
      gpus: [loadGpuPreset('h100-sxm'), loadGpuPreset('h200')], gpuDtype: 'int8', wafer: loadWaferPreset('cs-3'),
    });
    expect(c.gpus.map((g) => [g.gpu, g.chips])).toEqual([['h100-sxm', 1], ['h200', 1]]);
    expect(c.gpus[0]!.tokensPerSecondPerUser).toBeCloseTo(1 / c.gpus[0]!.decode!.seconds, 9);
    expect(c.wafer!.label).toBe('analytical, not emulated');
    expect(c.sram.ttftSeconds).toBeNull();
  }, 60_000);

  it('the head compiles in the layer format and verifies against the reference (int8, fp16; 1 and 2 chips)', async () => {
    for (const [dtype, chips] of [['int8', 1], ['fp16', 1], ['int8', 2]] as const) {
      const h = compileHead(tiny, { chip: tsp, dtype, chips, batch: 2 });
      const r = await runCompiledLayer(h, wasm);
      expect(r.verified, `${dtype} on ${chips}`).toBe(true);
      expect(r.checks.map((c) => c.op)).toEqual(['final_norm', 'head_quant', 'lm_head']);
      expect(r.cycles).toBe(h.predictedCycles);
    }
  }, 60_000);

  it('a shape the compiler cannot take is an error naming it, never a number', async () => {
    const tinyChip = loadChipPreset('tiny');
    const big = loadModelConfig('llama-3-8b');
    await expect(sramSystem(big, { chip: tinyChip, batch: 1, context: 16, prompt: null, dtype: 'int8', decode: true, power: null })).rejects.toThrow(/cannot compile Llama-3-8B's decode layer.*does not fit/);
  });
});

describe('sweeps', () => {
  it('parses axes and refuses bad ones', () => {
    expect(parseSweep('batch=1,2,4')).toEqual({ axis: 'batch', values: [1, 2, 4] });
    expectSfError(() => parseSweep('width=1,2'), '--sweep must be AXIS=');
    expectSfError(() => parseSweep('batch=4,2'), 'values must increase');
    expectSfError(() => parseSweep('context=1,x'), '"x" is not a whole number');
    expectSfError(() => parseSweep('chips=0'), 'out of range');
  });

  it('records every system at every point; CSV and SVG from the records', async () => {
    const base = {
      phase: 'decode' as const, batch: 1, context: 16, prompt: null, dtype: 'int8' as const, chip: tsp,
      gpus: [loadGpuPreset('h200')], gpuDtype: 'int8' as const, wafer: null,
    };
    const sweep = parseSweep('batch=1,2,4');
    const recs = await runSweep(tiny, base, sweep);
    expect(recs.map((r) => `${r.value}:${r.system}`)).toEqual(['1:tsp-v1 system', '1:h200', '2:tsp-v1 system', '2:h200', '4:tsp-v1 system', '4:h200']);
    for (const r of recs) {
      expect(r.error).toBeNull();
      expect(r.system_tokens_per_s).toBeCloseTo(r.value * r.tokens_per_s_per_user!, 6);
    }
    const csv = sweepCsv(recs).split('\r\n');
    expect(csv[0]).toBe('axis,value,system,how,chips,latency_s,tokens_per_s_per_user,system_tokens_per_s,ttft_s,energy_per_token_j,error');
    expect(csv).toHaveLength(recs.length + 2);
    const svg = sweepSvg(recs, { model: 'tiny', phase: 'decode', fixed: 'context 16', sweep });
    checkSvg(svg);
    expect(svg).toContain('data-name="tsp-v1 (emulated): per user"');
    expect(svg).toContain('data-name="h200 (GPU model): system"');
  }, 60_000);
});

/** Well-formed enough: one svg root, every tag closed in order, attributes quoted, no stray < or >. */
function checkSvg(svg: string): void {
  expect(svg.startsWith('<svg ')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  const tags = [...svg.matchAll(/<(\/?)([a-z]+)((?:\s+[A-Za-z][\w:-]*="[^"<]*")*)\s*(\/?)>/g)];
  const stack: string[] = [];
  for (const m of tags) {
    if (m[1]) expect(stack.pop()).toBe(m[2]);
    else if (!m[4]) stack.push(m[2]!);
  }
  expect(stack).toEqual([]);
  expect(svg.match(/</g)!.length).toBe(tags.length);
  expect(svg.replace(/<[^>]*>/g, '')).not.toMatch(/[<>]/);
}

describe('sramflow compare (command line)', () => {
  it('prints the side-by-side table for the tiny model', () => {
    const r = sramflow('compare', 'programs/models/tiny.json', '--context', '32', '--prompt', '8', '--threads', '1');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    for (const s of ['tiny, decode: batch 1, context 32', 'tsp-v1 system', 'h100-sxm', 'h200', 'cs-3', 'emulated', 'GPU model', 'analytical',
      'per-token latency', 'tokens/s per user', 'system tokens/s', 'time to first token', 'energy per token', 'time per token by operator', 'lm_head', 'links']) {
      expect(r.out).toContain(s);
    }
  }, 60_000);

  it('--json gives the comparison as one object; --gpus takes preset files', () => {
    const mine = join(tmp, 'my-gpu.json');
    const preset = JSON.parse(readFileSync(join(root, 'presets/gpus/h100-sxm.json'), 'utf8'));
    writeFileSync(mine, JSON.stringify({ ...preset, name: 'my-gpu', hbmGBps: 6000 }));
    const r = sramflow('compare', 'tiny', '--context', '16', '--gpus', `a100-80gb,${mine}`, '--wafer', 'none', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.model).toBe('tiny');
    expect(j.sram.decode.cycles).toBeGreaterThan(0);
    expect(j.gpus.map((g: { gpu: string }) => g.gpu)).toEqual(['a100-80gb', 'my-gpu']);
    expect(j.wafer).toBeNull();
  }, 60_000);

  it('--sweep writes a CSV and an SVG, atomically and never over an input', () => {
    const csv = join(tmp, 'sweep.csv');
    const svg = join(tmp, 'sweep.svg');
    const r = sramflow('compare', 'tiny', '--context', '16', '--sweep', 'context=8,16,32', '--csv', csv, '--svg', svg, '--gpus', 'h200');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('sweep over context');
    expect(readFileSync(csv, 'utf8').split('\r\n')).toHaveLength(2 + 3 * 3);
    checkSvg(readFileSync(svg, 'utf8'));
    const model = join(tmp, 'tiny.json');
    copyFileSync(join(root, 'programs/models/tiny.json'), model);
    const before = readFileSync(model, 'utf8');
    const bad = sramflow('compare', model, '--sweep', 'batch=1', '--csv', model);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/refusing to overwrite an input file/);
    expect(readFileSync(model, 'utf8')).toBe(before);
    // a shipped preset named by its name is an input too
    const shippedGpu = join(root, 'presets/gpus/h200.json');
    const gpuBefore = readFileSync(shippedGpu, 'utf8');
    const bad2 = sramflow('compare', 'tiny', '--gpus', 'h200', '--sweep', 'batch=1', '--svg', 'presets/gpus/h200.json');
    expect(bad2.code).toBe(2);
    expect(bad2.err).toMatch(/presets\/gpus\/h200\.json: refusing to overwrite an input file/);
    expect(readFileSync(shippedGpu, 'utf8')).toBe(gpuBefore);
  }, 60_000);

  it('bad inputs are one-line errors (exit 2)', () => {
    const nonsense = join(tmp, 'nonsense-gpu.json');
    writeFileSync(nonsense, JSON.stringify({ name: 'x', hbmGB: 80, hbmGBps: -3, peakTflops: {} }));
    const notJson = join(tmp, 'broken.json');
    writeFileSync(notJson, '{ "hbmGB": ');
    const cases: [string[], RegExp][] = [
      [['compare'], /usage: sramflow compare/],
      [['compare', 'tiny', '--frobnicate'], /unknown option "--frobnicate"/],
      [['compare', 'tiny', '--gpus', nonsense], /nonsense-gpu\.json: field "hbmGBps"/],
      [['compare', 'tiny', '--gpus', notJson], /broken\.json:1:/],
      [['compare', 'tiny', '--gpus', 'h300'], /no such GPU preset file/],
      [['compare', 'tiny', '--gpus', 'h200,'], /--gpus: an empty name/],
      [['compare', 'tiny', '--context', '100000'], /exceeds tiny's max_position_embeddings/],
      [['compare', 'tiny', '--phase', 'train'], /--phase must be one of decode, prefill/],
      [['compare', 'tiny', '--dtype', 'bf16'], /cannot compile tiny's decode layer.*no bf16 MXM/],
      [['compare', 'tiny', '--dtype', 'int4'], /--dtype must be one of/],
      [['compare', 'tiny', '--chip-power', '-5'], /--chip-power/],
      [['compare', 'tiny', '--chips', '3'], /tensor parallelism 3 must divide|3 chips cannot share a layer/],
      [['compare', 'tiny', '--csv', join(tmp, 'x.csv')], /--csv and --svg write a sweep/],
      [['compare', 'tiny', '--sweep', 'batch=2,1'], /values must increase/],
      [['compare', 'llama-3-8b', '--chip', 'tiny', '--gpus', 'none', '--wafer', 'none'], /does not fit/],
      [['compare', 'llama-2-70b', '--gpus', 'tpu-v5e', '--context', '4096', '--batch', '4096', '--wafer', 'none'], /does not fit on up to 64 x tpu-v5e/],
    ];
    for (const [args, re] of cases) {
      const r = sramflow(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(re);
      expect(r.err.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.out).toBe('');
    }
    expect(existsSync(join(tmp, 'x.csv'))).toBe(false);
  }, 60_000);
});
