// The layer compiler with float projections (--dtype fp16) and with biases (Qwen2's q/k/v):
// verified op by op, cycles as predicted, on one chip and tensor parallel.
import { describe, expect, test } from 'vitest';
import { loadModelConfig, parseModelConfig } from '../src/models/config.js';
import { loadChipPreset } from '../src/chip/preset.js';
import { loadCoreWasm } from '../src/chip/wasm-node.js';
import { compileLayer, type CompileLayerOptions } from '../src/compiler/layer.js';
import { runCompiledLayer } from '../src/compiler/run-layer.js';

const tsp = loadChipPreset('tsp-v1');
const wasm = loadCoreWasm();
const tiny = loadModelConfig('tiny');
/** A mid-size Qwen2 (biases on q/k/v), GQA 5:1, head_dim 64. */
const midQwen = parseModelConfig({
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_act: 'silu', hidden_size: 640, intermediate_size: 1280,
  num_attention_heads: 10, num_key_value_heads: 2, max_position_embeddings: 1024, num_hidden_layers: 2,
  rms_norm_eps: 1e-6, rope_theta: 1000000, vocab_size: 1000,
}, 'mid-qwen');

/** hidden 704 = 2 x 320 + 64: the projections from hidden pack the last K-tiles of five N-tiles
 * into one weight set (linear.ts: tail sets). */
const tailQwen = parseModelConfig({
  architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_act: 'silu', hidden_size: 704, intermediate_size: 1600,
  num_attention_heads: 11, num_key_value_heads: 1, max_position_embeddings: 1024, num_hidden_layers: 2,
  rms_norm_eps: 1e-6, rope_theta: 1000000, vocab_size: 1000,
}, 'tail-qwen');

async function check(config: typeof tiny, o: Omit<CompileLayerOptions, 'chip'>) {
  const layer = compileLayer(config, { chip: tsp, ...o });
  const run = await runCompiledLayer(layer, wasm, { checked: true });
  const bad = run.checks.filter((c) => !c.comparison.ok).map((c) => `${c.op}/${c.output}: ${JSON.stringify(c.comparison.worst)}`);
  expect(bad).toEqual([]);
  expect(run.checks.length).toBe(layer.graph.ops.reduce((a, op) => a + op.outputs.filter((t) => !t.name.endsWith('.scale')).length, 0));
  expect(run.cycles).toBe(layer.predictedCycles);
  return layer;
}

describe('compileLayer: float projections and biases', () => {
  test('fp16 decode on one chip and on two', async () => {
    await check(tiny, { phase: 'decode', past: 9, dtype: 'fp16' });
    const l = await check(tiny, { phase: 'decode', past: 9, dtype: 'fp16', chips: 2 });
    expect(l.chips).toBe(2);
  }, 60_000);

  test('mid-size Qwen2 with q/k/v biases: int8 and fp16, decode and a short prefill', async () => {
    await check(midQwen, { phase: 'decode', past: 20 });
    await check(midQwen, { phase: 'decode', past: 20, dtype: 'fp16' });
    await check(midQwen, { phase: 'prefill', tokens: 6, dtype: 'fp16' });
  }, 120_000);

  test('last K-tiles of 64 features: five N-tiles share a weight set, verified', async () => {
    const l = await check(tailQwen, { phase: 'decode', past: 20 });
    // gate and up: 5 N-tiles each, their tails in one set each; q (11 heads, 4 a vector: 3
    // N-tiles) and o (input 11 heads, 5 a vector: 3 K-tiles, the last of 64) in one; k and v (one
    // N-tile) as they were
    const sets = l.source.match(/; \w+_proj last k-tile of n-tiles [\d, ]+/g) ?? [];
    expect(sets.map((x) => x.replace(/^; /, '')).sort()).toEqual(['gate_proj last k-tile of n-tiles 0, 1, 2, 3, 4', 'o_proj last k-tile of n-tiles 0, 1, 2', 'q_proj last k-tile of n-tiles 0, 1, 2', 'up_proj last k-tile of n-tiles 0, 1, 2, 3, 4']);
    expect(l.source).toMatch(/SHIFT\.int8 \S+, \S+, 256/);
  }, 60_000);

  test('a dtype the chip has no MXM for is refused by name', () => {
    expect(() => compileLayer(tiny, { chip: tsp, phase: 'decode', past: 3, dtype: 'bf16' })).toThrow(/tsp-v1 has no bf16 MXM \(it has int8, fp16\)/);
  });
});
