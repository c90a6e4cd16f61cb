// The layer compiler end to end: compile a decoder layer of a model config, emulate it in checked
// mode, and check every compiled op against the reference within its rounding bound; emulated
// cycles must equal the compiler's prediction exactly.
import { describe, expect, test } from 'vitest';
import { loadModelConfig, parseModelConfig } from '../src/models/config.js';
import { loadChipPreset } from '../src/chip/preset.js';
import { loadCoreWasm } from '../src/chip/wasm-node.js';
import { compileLayer, type CompileLayerOptions } from '../src/compiler/layer.js';
import { runCompiledLayer } from '../src/compiler/run-layer.js';
import { sramflow } from './helpers/cli.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tsp = loadChipPreset('tsp-v1');
const wasm = loadCoreWasm();
const tiny = loadModelConfig('tiny');
/** A mid-size Llama (GQA 4:1, two K-tiles of hidden on tsp-v1, heads of 64). */
const mid = parseModelConfig({
  architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: 640, intermediate_size: 1280,
  num_attention_heads: 10, num_key_value_heads: 2, head_dim: 64, max_position_embeddings: 1024, num_hidden_layers: 2,
  rms_norm_eps: 1e-5, rope_theta: 10000, vocab_size: 1000,
}, 'mid');

const STOP = process.env.SF_LAYER_STOP; // all ops by default

async function check(config: typeof tiny, o: Omit<CompileLayerOptions, 'chip'>) {
  const layer = compileLayer(config, { chip: tsp, stopAfter: STOP, ...o });
  const run = await runCompiledLayer(layer, wasm, { checked: true });
  const bad = run.checks.filter((c) => !c.comparison.ok).map((c) => `${c.op}/${c.output}: ${JSON.stringify(c.comparison.worst)}`);
  expect(bad).toEqual([]);
  expect(run.cycles).toBe(layer.predictedCycles);
  expect(run.checks.length).toBeGreaterThan(0);
  return { layer, run };
}

describe('compileLayer', () => {
  test('tiny decode on one tsp-v1: every op within its bound, cycles as predicted', async () => {
    const { layer } = await check(tiny, { phase: 'decode', past: 5 });
    expect(layer.chips).toBe(1);
    // ops overlap where they do not depend on each other; each lies within the program
    for (const op of layer.ops) expect(op.start >= 0 && op.end >= op.start && op.end <= layer.predictedCycles).toBe(true);
  }, 60_000);

  test('tiny decode at batch 2, and prefill of 7 tokens', async () => {
    await check(tiny, { phase: 'decode', past: 5, batch: 2 });
    await check(tiny, { phase: 'prefill', tokens: 7 });
  }, 120_000);

  test('tensor parallel over 2 chips gives the same verified result', async () => {
    const { layer } = await check(tiny, { phase: 'decode', past: 5, chips: 2 });
    expect(layer.source).toContain('.system node-2');
  }, 60_000);

  test('a mid-size layer (640 hidden, GQA) decodes and prefills within bounds', async () => {
    await check(mid, { phase: 'decode', past: 40 });
    // several token rows: weight-stationary projections with running sums
    await check(mid, { phase: 'prefill', tokens: 12 });
  }, 120_000);

  test('a layer too big for the chips names the shortfall and a chip count', () => {
    const big = loadModelConfig('llama-3-8b');
    expect(() => compileLayer(big, { chip: tsp, phase: 'decode', past: 10, chips: 1 })).toThrow(/do not fit on 1 x tsp-v1.*try --chips 2/);
  });

  test('the decode KV cache: in the feeding groups, or in the activation slices where the weights would not fit beside it', async () => {
    const big = loadModelConfig('llama-3-8b');
    const slicesOf = (l: { source: string }) => [...l.source.matchAll(/^\.tensor kc_\S+ \S+ @ (MEM\.[WE])(\d+):/gm)].map((m) => Number(m[2]));
    // batch 1: 8 slices a plane, beyond the 12 activation slices of a side
    const one = compileLayer(big, { chip: tsp, phase: 'decode', past: 2047, timingOnly: true });
    expect(slicesOf(one).length).toBe(4 * 8);
    expect(Math.min(...slicesOf(one))).toBeGreaterThanOrEqual(12);
    // batch 8: 33.5 MB of cache a chip; the weights need both groups, so the cache moves
    const eight = compileLayer(big, { chip: tsp, phase: 'decode', past: 2047, batch: 8, timingOnly: true });
    expect(Math.max(...slicesOf(eight))).toBeLessThan(12);
    const run = await runCompiledLayer(eight, wasm, { functional: false, checked: false });
    expect(run.cycles).toBe(eight.predictedCycles);
  }, 180_000);

  test('on four chips the row-split all-reduces are a reduce-scatter and an all-gather through per-chip index tables, verified', async () => {
    // 4 KV heads: one a chip; a 6-token prefill: 12 rows of o/down sums, 6 messages a link, not 12
    const four = parseModelConfig({
      architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: 512, intermediate_size: 1024,
      num_attention_heads: 8, num_key_value_heads: 4, max_position_embeddings: 1024, num_hidden_layers: 2,
      rms_norm_eps: 1e-5, rope_theta: 10000, vocab_size: 1000,
    }, 'four-kv');
    const { layer: l } = await check(four, { phase: 'prefill', tokens: 6, chips: 4 });
    expect(l.source).toMatch(/; o_proj all-reduce: reduce-scatter/);
    expect(l.source).toMatch(/; down_proj all-reduce: all-gather/);
    expect(l.source).toMatch(/GATHER o_proj_acc\[0\]/);
    expect(l.source).toMatch(/SCATTER down_proj_acc\[0\]/);
    // each link of a chip sends 2 x 3 messages an all-reduce (the direct exchange: 12), and one
    // for each of the two split quantisations' packed row maxima
    const sends = (l.source.split('.queue C2C.0')[1]!.split('.queue')[0]!.match(/SEND/g) ?? []).length;
    expect(sends).toBe(2 * 2 * 3 + 2);
  }, 120_000);

  test('chip counts that do not divide the heads are refused by name', () => {
    expect(() => compileLayer(tiny, { chip: tsp, phase: 'decode', past: 5, chips: 3 })).toThrow(/num_attention_heads \(4\) is not a multiple of 3/);
  });
});

describe('compileLayer, the MLP block as a segment (its input h from the reference)', () => {
  test('on one chip and tensor parallel on two (split quantisation max and down_proj all-reduce)', async () => {
    for (const chips of [1, 2]) {
      const layer = compileLayer(tiny, { chip: tsp, phase: 'decode', past: 5, from: 'mlp_norm', chips });
      const run = await runCompiledLayer(layer, wasm, { checked: true });
      const bad = run.checks.filter((c) => !c.comparison.ok).map((c) => `${c.op}/${c.output}: ${JSON.stringify(c.comparison.worst)}`);
      expect(bad).toEqual([]);
      expect(run.checks.map((c) => c.op)).toContain('mlp_residual');
      expect(run.cycles).toBe(layer.predictedCycles);
    }
  }, 60_000);

  test('mid-size MLP at batch 2 on two chips', async () => {
    const layer = compileLayer(mid, { chip: tsp, phase: 'decode', past: 3, batch: 2, from: 'mlp_norm', chips: 2 });
    const run = await runCompiledLayer(layer, wasm, { checked: true });
    expect(run.checks.filter((c) => !c.comparison.ok)).toEqual([]);
    expect(run.cycles).toBe(layer.predictedCycles);
  }, 60_000);
});

describe('sramflow run/compile <model.json>: bad input', () => {
  test('a bad flag value, a layer too big, and a bad chip count are one-line errors with exit 2', () => {
    const bad = sramflow('run', 'programs/models/tiny.json', '--phase', 'sideways');
    expect(bad.code).toBe(2);
    expect(bad.err.trim()).toBe('sramflow: --phase must be decode or prefill, not "sideways"');
    const big = sramflow('run', 'programs/models/llama-3-8b.json', '--chips', '1');
    expect(big.code).toBe(2);
    expect(big.err.trim().split('\n')).toHaveLength(1);
    expect(big.err).toMatch(/do not fit on 1 x tsp-v1 .*try --chips 2/);
    const odd = sramflow('compile', 'programs/models/tiny.json', '--chips', '3', '-o', '/tmp/sf-never.sfa');
    expect(odd.code).toBe(2);
    expect(odd.err).toMatch(/num_attention_heads \(4\) is not a multiple of 3/);
    // values a machine's memory cannot hold: refused up front (13 G weights a layer), not killed
    const dir = mkdtempSync(join(tmpdir(), 'sf-huge-'));
    const huge = join(dir, 'huge.json');
    writeFileSync(huge, JSON.stringify({ architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_act: 'silu', hidden_size: 32768, intermediate_size: 131072, num_attention_heads: 256, num_key_value_heads: 256, max_position_embeddings: 4096, num_hidden_layers: 1, rms_norm_eps: 1e-5, rope_theta: 10000, vocab_size: 1000 }));
    const mem = sramflow('run', huge);
    expect(mem.code).toBe(2);
    expect(mem.err.trim().split('\n')).toHaveLength(1);
    expect(mem.err).toMatch(/values for one huge layer need about \d+ GB of host memory, more than 80% of this machine's \d+ GB; 'sramflow run --timing-only'/);
    rmSync(dir, { recursive: true });
  });
});
