// Models: shipped configs and their validation, the layer graph's counts against hand counts,
// the reference against an independent float32 implementation (tfjs-core on its CPU backend)
// within the stated fp32 bound, the int8 path against exact integer recomputation and against
// the float path within the quantisation bound, and safetensors reading, writing and refusing.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/asm/fill.js';
import { f32ToBf16Bits, f32ToFp16Bits, fp16BitsToF32, bf16BitsToF32 } from '../src/util/numerics.js';
import {
  activation,
  attentionCounts,
  erf,
  buildLayerGraph,
  checkOpByOp,
  compareWithin,
  encodeSafetensors,
  fp32ErrorBounds,
  hfTensorMap,
  listModelConfigs,
  loadLayerWeights,
  loadModelConfig,
  openSafetensors,
  parseModelConfig,
  parseSafetensors,
  quantizationBounds,
  quantizeRowsInt8,
  randomInputs,
  randomWeights,
  referenceLayer,
  ropeInvFreq,
  roundFloat,
  streamSeed,
  tensorValues,
  weightValues,
  WEIGHT_ORDER,
  type LayerOptions,
  type ModelConfig,
  type ReferenceRun,
  type TensorToWrite,
} from '../src/models/index.js';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sramflow-models-'));
  tf.env().set('PROD', true); // no "install tfjs-node" banner
  await tf.setBackend('cpu');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHIPPED = ['llama-3-8b', 'llama-2-7b', 'llama-2-70b', 'mistral-7b', 'qwen2.5-7b', 'tiny'];

// ---- configs ---------------------------------------------------------------------------------

describe('model configs', () => {
  // [hidden, intermediate, heads, kv heads, head_dim, layers, vocab, eps, rope_theta, max pos]
  const FIGURES: Record<string, number[]> = {
    'llama-3-8b': [4096, 14336, 32, 8, 128, 32, 128256, 1e-5, 500000, 8192],
    'llama-2-7b': [4096, 11008, 32, 32, 128, 32, 32000, 1e-5, 10000, 4096],
    'llama-2-70b': [8192, 28672, 64, 8, 128, 80, 32000, 1e-5, 10000, 4096],
    'mistral-7b': [4096, 14336, 32, 8, 128, 32, 32000, 1e-5, 10000, 32768],
    'qwen2.5-7b': [3584, 18944, 28, 4, 128, 28, 152064, 1e-6, 1000000, 131072],
    tiny: [64, 128, 4, 2, 16, 2, 256, 1e-5, 10000, 256],
  };

  it('ships every config, and each loads with its published figures and a source', () => {
    expect(listModelConfigs()).toEqual(SHIPPED);
    for (const name of SHIPPED) {
      const c = loadModelConfig(name);
      const got = [
        c.hiddenSize,
        c.intermediateSize,
        c.numAttentionHeads,
        c.numKeyValueHeads,
        c.headDim,
        c.numHiddenLayers,
        c.vocabSize,
        c.rmsNormEps,
        c.ropeTheta,
        c.maxPositionEmbeddings,
      ];
      expect(got, name).toEqual(FIGURES[name]);
      expect(c.hiddenAct).toBe('silu');
      expect(c.tieWordEmbeddings).toBe(false);
      expect(c.source, name).toMatch(name === 'tiny' ? /sramflow/ : /config\.json/);
      expect(c.file).toBe(`programs/models/${name}.json`);
    }
  });

  it('applies HF defaults and model-type rules', () => {
    const l2 = loadModelConfig('llama-2-7b');
    expect(l2.defaulted).toEqual(expect.arrayContaining(['rope_theta', 'head_dim']));
    const mistral = loadModelConfig('mistral-7b');
    expect(mistral.slidingWindow).toBe(4096);
    const qwen = loadModelConfig('qwen2.5-7b');
    expect([qwen.qkvBias, qwen.oBias, qwen.slidingWindow]).toEqual([true, false, null]);
    expect(loadModelConfig('llama-3-8b').qkvBias).toBe(false);
    expect(loadModelConfig('tiny').name).toBe('tiny');
  });

  it('reads a config.json path, accepting fields it does not use', () => {
    const raw = JSON.parse(readFileSync(fileURLToPath(new URL('../programs/models/tiny.json', import.meta.url)), 'utf8'));
    const p = join(dir, 'config.json');
    writeFileSync(p, JSON.stringify({ ...raw, _name: undefined, some_future_field: { a: [1, 2] }, head_dim: 32 }));
    const c = loadModelConfig(p);
    expect(c.headDim).toBe(32);
    expect(c.name).toBe('config');
  });

  const broken: [string, (j: Record<string, unknown>) => void, RegExp][] = [
    ['hidden_size', (j) => (j.hidden_size = 'big'), /hidden_size: must be an integer/],
    ['intermediate_size', (j) => delete j.intermediate_size, /intermediate_size: missing/],
    ['num_attention_heads', (j) => (j.num_attention_heads = 0), /num_attention_heads: must be an integer/],
    ['num_key_value_heads', (j) => (j.num_key_value_heads = 3), /num_key_value_heads: must divide num_attention_heads \(4\)/],
    ['hidden / heads', (j) => (j.num_attention_heads = 6), /num_attention_heads: .*must divide|num_key_value_heads: must divide/],
    ['head_dim', (j) => (j.head_dim = 7), /head_dim: must be even \(RoPE rotates pairs\), got 7/],
    ['rms_norm_eps', (j) => (j.rms_norm_eps = -1e-5), /rms_norm_eps: must be a finite number > 0/],
    ['rms_norm_eps missing', (j) => delete j.rms_norm_eps, /rms_norm_eps: missing/],
    ['rope_theta', (j) => (j.rope_theta = 0), /rope_theta: must be a finite number > 0/],
    ['hidden_act', (j) => (j.hidden_act = 'tanhh'), /hidden_act: must be one of silu, swish, gelu/],
    ['max_position_embeddings', (j) => (j.max_position_embeddings = 1.5), /max_position_embeddings: must be an integer/],
    ['vocab_size', (j) => delete j.vocab_size, /vocab_size: missing/],
    ['tie_word_embeddings', (j) => (j.tie_word_embeddings = 'no'), /tie_word_embeddings: must be true or false/],
    ['torch_dtype', (j) => (j.torch_dtype = 'float8'), /torch_dtype: must be one of float32/],
    ['model_type', (j) => (j.model_type = 'gemma'), /model_type: must be one of llama, mistral, qwen2/],
    ['rope_scaling', (j) => (j.rope_scaling = { rope_type: 'yarn', factor: 4 }), /rope_scaling.rope_type: "yarn" is not supported/],
    ['sliding_window', (j) => ((j.model_type = 'mistral'), (j.sliding_window = -4)), /sliding_window: must be an integer/],
  ];
  for (const [what, breakIt, message] of broken) {
    it(`names the field when ${what} is broken`, () => {
      const raw = JSON.parse(readFileSync(fileURLToPath(new URL('../programs/models/tiny.json', import.meta.url)), 'utf8'));
      breakIt(raw);
      const p = join(dir, `broken-${what.replace(/\W+/g, '_')}.json`);
      writeFileSync(p, JSON.stringify(raw, null, 2));
      expect(() => loadModelConfig(p)).toThrow(message);
      expect(() => loadModelConfig(p)).toThrow(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    });
  }

  it('models llama3 and linear rope_scaling, and accepts the newer "dtype" field', () => {
    const raw = JSON.parse(readFileSync(fileURLToPath(new URL('../programs/models/llama-3-8b.json', import.meta.url)), 'utf8'));
    const scaled = parseModelConfig(
      {
        ...raw,
        torch_dtype: undefined,
        dtype: 'bfloat16',
        rope_scaling: { factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
      },
      'llama-3.1-8b',
    );
    expect(scaled.torchDtype).toBe('bfloat16');
    const inv = ropeInvFreq(scaled);
    const plain = ropeInvFreq(loadModelConfig('llama-3-8b'));
    expect(inv[0]).toBe(plain[0]); // wavelength 2 pi < 8192 / 4: kept
    expect(inv[63]).toBeCloseTo(plain[63]! / 8, 20); // wavelength > 8192: divided by the factor
    const mid = plain.findIndex((f) => (2 * Math.PI) / f > 2048 && (2 * Math.PI) / f < 8192);
    expect(inv[mid]! < plain[mid]! && inv[mid]! > plain[mid]! / 8).toBe(true); // smoothed
    const lin = parseModelConfig({ ...raw, rope_scaling: { type: 'linear', factor: 2 } }, 'lin');
    expect(ropeInvFreq(lin)[5]).toBe(plain[5]! / 2);
  });

  it('computes the MLP activations in float64', () => {
    for (const [x, e] of [[0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [-3, -0.9999779095030014], [0, 0]]) {
      expect(Math.abs(erf(x!) - e!)).toBeLessThanOrEqual(4 * 2 ** -53);
    }
    expect(activation('silu', 2)).toBe(2 / (1 + Math.exp(-2)));
    expect(activation('gelu', 1)).toBeCloseTo(0.8413447460685429, 15);
    expect(activation('gelu_pytorch_tanh', 1)).toBeCloseTo(0.8411919906082768, 15);
    expect(activation('relu', -1)).toBe(0);
  });

  it('refuses bad JSON and missing files by name', () => {
    const p = join(dir, 'bad.json');
    writeFileSync(p, '{"hidden_size": 4,');
    expect(() => loadModelConfig(p)).toThrow(/bad\.json:1:19: invalid JSON/);
    expect(() => loadModelConfig(join(dir, 'nope.json'))).toThrow(/nope\.json: no such model config file \(shipped: llama-3-8b/);
  });
});

// ---- the graph: hand counts ------------------------------------------------------------------

describe('layer graph', () => {
  const llama3 = loadModelConfig('llama-3-8b');

  it('counts Llama-3-8B decode at batch 1 as by hand', () => {
    // Per layer: q 4096x4096, k 4096x1024, v 4096x1024, o 4096x4096, gate 4096x14336,
    // up 4096x14336, down 14336x4096.
    const perLayer =
      4096 * 4096 + 4096 * 1024 + 4096 * 1024 + 4096 * 4096 + 4096 * 14336 + 4096 * 14336 + 14336 * 4096;
    expect(perLayer).toBe(218_103_808);
    // Output channels: 4096 + 1024 + 1024 + 4096 + 14336 + 14336 + 4096 = 43,008 fp32 scales.
    const channels = 4096 + 1024 + 1024 + 4096 + 14336 + 14336 + 4096;
    expect(channels).toBe(43_008);
    const past = 1023; // S = 1024 positions after the step
    const S = past + 1;
    const g = buildLayerGraph(llama3, { phase: 'decode', batch: 1, past, dtype: 'int8' });
    expect(g.totals.matrixElements).toBe(218_103_808);
    // int8: one byte per weight, 4 per scale, two fp16 RMSNorm gains of 4096.
    expect(g.totals.weightBytes).toBe(218_103_808 + 4 * 43_008 + 2 * 2 * 4096); // 218,292,224
    expect(g.totals.weightBytes).toBe(218_292_224);
    // MACs: the projections at M = 1, plus q.K (32 heads x S x 128) and p.V (the same).
    expect(g.totals.macs).toBe(218_103_808 + 2 * 32 * S * 128); // 226,492,416
    expect(g.totals.macs).toBe(226_492_416);
    const byName = new Map(g.ops.map((o) => [o.name, o]));
    expect(byName.get('q_proj')!.macs).toBe(4096 * 4096);
    expect(byName.get('k_proj')!.weightBytes).toBe(4096 * 1024 + 4 * 1024);
    expect(byName.get('attn_scores')!.macs).toBe(32 * 1024 * 128);
    // GQA: the scores read each of the 8 kv heads' 1024 fp16 keys once, plus q (32 x 128 fp16).
    expect(byName.get('attn_scores')!.activationBytesRead).toBe(8 * 1024 * 128 * 2 + 32 * 128 * 2);
    expect(byName.get('kv_append')!.activationBytesWritten).toBe(2 * 1024 * 2);
    expect(g.totals.kvCacheBytes).toBe(2 * 8 * 1024 * 128 * 2);
    // Vector work: softmax 6 per attended entry + 1 per row; RMSNorm 4/element + 3/row.
    expect(byName.get('attn_softmax')!.flops).toBe(6 * 32 * 1024 + 32);
    expect(byName.get('attn_norm')!.flops).toBe(4 * 4096 + 3);
    expect(byName.get('act')!.flops).toBe(4 * 14336);
    expect(g.totals.totalFlops).toBe(2 * g.totals.macs + g.totals.flops);
    // fp16: two bytes per weight, no scales.
    const h = buildLayerGraph(llama3, { phase: 'decode', past, dtype: 'fp16' });
    expect(h.totals.weightBytes).toBe(2 * 218_103_808 + 2 * 2 * 4096);
    expect(h.totals.macs).toBe(226_492_416);
    expect(h.ops.map((o) => o.name)).toEqual([
      'attn_norm', 'attn_in_quant', 'q_proj', 'k_proj', 'v_proj', 'rope_q', 'rope_k', 'q_quant', 'kv_append',
      'attn_scores', 'attn_softmax', 'probs_quant', 'attn_values', 'attn_out_quant', 'o_proj', 'attn_residual',
      'mlp_norm', 'mlp_in_quant', 'gate_proj', 'up_proj', 'act', 'gated', 'mlp_out_quant', 'down_proj', 'mlp_residual',
    ]);
    // fp32: no quantize ops.
    const f = buildLayerGraph(llama3, { phase: 'decode', past, dtype: 'fp32' });
    expect(f.ops.some((o) => o.kind === 'quantize')).toBe(false);
    expect(f.totals.weightBytes).toBe(4 * 218_103_808 + 2 * 4 * 4096);
  });

  it('scales with batch, prefill is causal, and a sliding window caps the keys', () => {
    const b4 = buildLayerGraph(llama3, { phase: 'decode', batch: 4, past: 99 });
    expect(b4.totals.macs).toBe(4 * 218_103_808 + 4 * 2 * 32 * 100 * 128);
    expect(b4.totals.weightBytes).toBe(218_292_224); // weights are read once for the batch
    const pre = buildLayerGraph(llama3, { phase: 'prefill', tokens: 16 });
    expect(attentionCounts(pre.shape)).toEqual({ attended: (16 * 17) / 2, keysRead: 16 });
    expect(pre.totals.macs).toBe(16 * 218_103_808 + 2 * 32 * 136 * 128);
    const mistral = loadModelConfig('mistral-7b');
    const w = buildLayerGraph(mistral, { phase: 'decode', past: 8000 });
    expect(attentionCounts(w.shape)).toEqual({ attended: 4096, keysRead: 4096 });
    expect(w.tensors.k_cache!.shape).toEqual([1, 8, 8001, 128]);
    const qwen = buildLayerGraph(loadModelConfig('qwen2.5-7b'), { phase: 'decode', past: 10 });
    expect(qwen.weights['q_proj.bias']!.hfName).toBe('model.layers.0.self_attn.q_proj.bias');
    expect(qwen.weights['o_proj.bias']).toBeUndefined();
    expect(qwen.totals.matrixElements).toBe(3584 * 3584 * 2 + 2 * 3584 * 512 + 3 * 3584 * 18944);
  });

  it('refuses impossible shapes', () => {
    expect(() => buildLayerGraph(llama3, { phase: 'decode', past: 8192 })).toThrow(/exceeds max_position_embeddings \(8192\)/);
    expect(() => buildLayerGraph(llama3, { phase: 'prefill' })).toThrow(/"tokens" is required/);
    expect(() => buildLayerGraph(llama3, { phase: 'decode', batch: 0 })).toThrow(/"batch" must be an integer >= 1/);
    expect(() => buildLayerGraph(llama3, { phase: 'decode', layer: 32 })).toThrow(/"layer" must be below num_hidden_layers/);
  });
});

// ---- quantisation primitives -----------------------------------------------------------------

describe('quantisation', () => {
  it('rounds float64 to fp16/bf16 as the chip codecs do for fp32 values', () => {
    const next = mulberry32(7);
    let bad = 0;
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((next() - 0.5) * 2 ** Math.floor(next() * 40 - 28));
      if (roundFloat(x, 'fp16') !== fp16BitsToF32(f32ToFp16Bits(x))) bad++;
      if (roundFloat(x, 'bf16') !== bf16BitsToF32(f32ToBf16Bits(x))) bad++;
    }
    expect(bad).toBe(0);
    expect(roundFloat(65519.99, 'fp16')).toBe(65504);
    expect(roundFloat(65520, 'fp16')).toBe(Infinity);
    expect(roundFloat(1 + 2 ** -11, 'fp16')).toBe(1); // a tie goes to even
    expect(roundFloat(1 + 3 * 2 ** -11, 'fp16')).toBe(1 + 2 ** -9);
    // Straight from float64: one rounding, not two (via fp32 this would reach the tie and go to 1).
    expect(roundFloat(1 + 2 ** -11 + 2 ** -40, 'fp16')).toBe(1 + 2 ** -10);
  });

  it('quantises int8 symmetric per row: scale max|x|/127 in fp32, half to even', () => {
    const s = Math.fround(2.54 / 127);
    const q = quantizeRowsInt8([2.54, -2.54, 0.5 * s, 1.5 * s, 0, 0, 0, 0], 2, 4);
    expect(Array.from(q.scales)).toEqual([s, 0]);
    expect(Array.from(q.codes.subarray(0, 4))).toEqual([127, -127, 0, 2]);
    // 2.5 s in float64 divided by the same s is 2.5: to even, 2.
    const r = quantizeRowsInt8([127 * s, 2.5 * s], 1, 2);
    expect(Array.from(r.codes)).toEqual([127, 2]);
    expect(Array.from(q.codes.subarray(4))).toEqual([0, 0, 0, 0]);
  });
});

// ---- an independent float32 implementation (tfjs) --------------------------------------------

/** tfjs takes float32 data: float64 arrays are rounded to fp32 on the way in. */
const f32 = (a: Float64Array) => Float32Array.from(a);

/**
 * RoPE tables for positions P..P+T-1, [T, headDim] row-major: emb = cat(freqs, freqs),
 * freqs = position * theta^(-2i/D), cos/sin in float64.
 */
function ropeTables(c: ModelConfig, P: number, T: number): { cosT: Float64Array; sinT: Float64Array } {
  const D = c.headDim;
  const cosT = new Float64Array(T * D);
  const sinT = new Float64Array(T * D);
  for (let t = 0; t < T; t++)
    for (let i = 0; i < D; i++) {
      const f = (P + t) * Math.pow(c.ropeTheta, -(2 * (i % (D / 2))) / D);
      cosT[t * D + i] = Math.cos(f);
      sinT[t * D + i] = Math.sin(f);
    }
  return { cosT, sinT };
}

interface TfOut {
  [name: string]: Float32Array;
}

/**
 * The layer in float32 with tfjs ops, written from the HF modelling code's definition (RMSNorm,
 * rotate_half RoPE, repeat_kv GQA, causal softmax attention, SiLU-gated MLP). `w` are the
 * stored weight values (dequantised), `kPast`/`vPast` the cache contents.
 */
function tfLayer(c: ModelConfig, opt: { batch: number; tokens: number; past: number; window: number | null }, w: Record<string, Float64Array>, x: Float64Array, kPast: Float64Array, vPast: Float64Array): TfOut {
  const { batch: B, tokens: T, past: P } = opt;
  const H = c.hiddenSize;
  const nh = c.numAttentionHeads;
  const nkv = c.numKeyValueHeads;
  const D = c.headDim;
  const S = P + T;
  const M = B * T;
  return tf.tidy(() => {
    const out: TfOut = {};
    const t2 = (name: string, rows: number, cols: number) => tf.tensor2d(f32(w[name]!), [rows, cols], 'float32');
    const t1 = (name: string) => tf.tensor1d(f32(w[name]!), 'float32');
    const rms = (v: tf.Tensor2D, g: string) => v.mul(tf.rsqrt(v.square().mean(-1, true).add(c.rmsNormEps))).mul(t1(g)) as tf.Tensor2D;
    const lin = (v: tf.Tensor2D, name: string, outF: number, inF: number) => {
      let y = tf.matMul(v, t2(`${name}.weight`, outF, inF), false, true);
      if (w[`${name}.bias`]) y = y.add(t1(`${name}.bias`));
      return y as tf.Tensor2D;
    };
    const { cosT, sinT } = ropeTables(c, P, T);
    const cos = tf.tensor4d(f32(cosT), [1, T, 1, D], 'float32');
    const sin = tf.tensor4d(f32(sinT), [1, T, 1, D], 'float32');
    const rope = (v: tf.Tensor, heads: number) => {
      const r = v.reshape([B, T, heads, D]);
      const x1 = r.slice([0, 0, 0, 0], [B, T, heads, D / 2]);
      const x2 = r.slice([0, 0, 0, D / 2], [B, T, heads, D / 2]);
      const rot = tf.concat([x2.neg(), x1], 3);
      return r.mul(cos).add(rot.mul(sin)); // [B, T, heads, D]
    };

    const xt = tf.tensor2d(f32(x), [M, H], 'float32');
    const put = (name: string, t: tf.Tensor) => (out[name] = t.dataSync() as Float32Array);
    const xn = rms(xt, 'attn_norm.weight');
    put('xn', xn);
    const qLin = lin(xn, 'q_proj', nh * D, H);
    const kLin = lin(xn, 'k_proj', nkv * D, H);
    const vLin = lin(xn, 'v_proj', nkv * D, H);
    put('q', qLin);
    put('k', kLin);
    put('v', vLin);
    const qr = rope(qLin, nh); // [B, T, nh, D]
    const kr = rope(kLin, nkv);
    put('q_rope', qr);
    put('k_rope', kr);
    const q = qr.transpose([0, 2, 1, 3]); // [B, nh, T, D]
    const kNew = kr.transpose([0, 2, 1, 3]); // [B, nkv, T, D]
    const vNew = vLin.reshape([B, T, nkv, D]).transpose([0, 2, 1, 3]);
    const kAll = P > 0 ? tf.concat([tf.tensor4d(f32(kPast), [B, nkv, P, D], 'float32'), kNew], 2) : kNew;
    const vAll = P > 0 ? tf.concat([tf.tensor4d(f32(vPast), [B, nkv, P, D], 'float32'), vNew], 2) : vNew;
    put('k_cache', kAll);
    put('v_cache', vAll);
    const group = nh / nkv;
    const rep = (v: tf.Tensor) => v.expandDims(2).tile([1, 1, group, 1, 1]).reshape([B, nh, S, D]);
    const maskT = new Float32Array(T * S);
    for (let t = 0; t < T; t++)
      for (let j = 0; j < S; j++) {
        const p = P + t;
        const visible = j <= p && (opt.window === null || j > p - opt.window);
        maskT[t * S + j] = visible ? 0 : -Infinity;
      }
    const scores = tf.matMul(q, rep(kAll), false, true);
    put('scores', scores);
    const probs = tf.softmax(scores.mul(tf.scalar(1 / Math.sqrt(D))).add(tf.tensor4d(maskT, [1, 1, T, S])));
    put('probs', probs);
    const attn = tf.matMul(probs, rep(vAll)).transpose([0, 2, 1, 3]).reshape([M, nh * D]) as tf.Tensor2D;
    put('attn', attn);
    const o = lin(attn, 'o_proj', H, nh * D);
    put('o', o);
    const h = xt.add(o) as tf.Tensor2D;
    put('h', h);
    const hn = rms(h, 'mlp_norm.weight');
    put('hn', hn);
    const gate = lin(hn, 'gate_proj', c.intermediateSize, H);
    const up = lin(hn, 'up_proj', c.intermediateSize, H);
    put('gate', gate);
    put('up', up);
    const act = gate.mul(tf.sigmoid(gate));
    put('act', act);
    const g = act.mul(up) as tf.Tensor2D;
    put('g', g);
    const down = lin(g, 'down_proj', H, c.intermediateSize);
    put('down', down);
    put('y', h.add(down));
    return out;
  });
}

function storedValues(run: ReferenceRun): Record<string, Float64Array> {
  const w: Record<string, Float64Array> = {};
  for (const name of Object.keys(run.graph.weights)) {
    if (run.graph.weights[name]!.kind !== 'scale') w[name] = weightValues(run.graph, run.weights, name);
  }
  return w;
}

/** Cache contents as stored (the reference's rounding of the past inputs). */
function pastCache(run: ReferenceRun, which: 'k_cache' | 'v_cache'): Float64Array {
  const { batch: B, past: P, seq: S } = run.graph.shape;
  const nkv = run.graph.config.numKeyValueHeads;
  const D = run.graph.config.headDim;
  const all = run.values[which]!;
  const out = new Float64Array(B * nkv * P * D);
  for (let bg = 0; bg < B * nkv; bg++) out.set(all.subarray(bg * S * D, bg * S * D + P * D), bg * P * D);
  return out;
}

const tinyConfig = () => loadModelConfig('tiny');
/** tiny with a q/k/v/o bias and a sliding window of 4 (mistral-style), to cover both paths. */
const tinyVariant = () => {
  const raw = JSON.parse(readFileSync(fileURLToPath(new URL('../programs/models/tiny.json', import.meta.url)), 'utf8'));
  return parseModelConfig({ ...raw, _name: 'tiny-variant', model_type: 'mistral', sliding_window: 4, attention_bias: true }, 'tiny-variant');
};

const CASES: { what: string; config: () => ModelConfig; opt: LayerOptions }[] = [
  { what: 'decode, batch 1, past 7', config: tinyConfig, opt: { phase: 'decode', batch: 1, past: 7 } },
  { what: 'decode, batch 2, past 12', config: tinyConfig, opt: { phase: 'decode', batch: 2, past: 12 } },
  { what: 'prefill, batch 1, 9 tokens', config: tinyConfig, opt: { phase: 'prefill', batch: 1, tokens: 9 } },
  { what: 'prefill, batch 2, 6 tokens after 3', config: tinyConfig, opt: { phase: 'prefill', batch: 2, tokens: 6, past: 3 } },
  { what: 'bias + window 4, decode, batch 2, past 9', config: tinyVariant, opt: { phase: 'decode', batch: 2, past: 9 } },
  { what: 'bias + window 4, prefill, batch 1, 8 tokens', config: tinyVariant, opt: { phase: 'prefill', tokens: 8 } },
];

describe('reference vs tfjs float32 (the fp32 bound)', () => {
  for (const cs of CASES) {
    it(cs.what, () => {
      const config = cs.config();
      const run = referenceLayer(config, { ...cs.opt, dtype: 'fp32' }, { seed: 11 });
      const s = run.graph.shape;
      const got = tfLayer(config, { ...s, window: s.window }, storedValues(run), run.inputs.x, pastCache(run, 'k_cache'), pastCache(run, 'v_cache'));
      // End to end: every tensor within the propagated (worst-case) bound.
      const bounds = fp32ErrorBounds(run);
      for (const name of ['xn', 'q', 'q_rope', 'k_cache', 'v_cache', 'scores', 'probs', 'attn', 'h', 'hn', 'g', 'y']) {
        const cmp = compareWithin(tensorValues(run, name), got[name]!, bounds[name]!);
        expect(cmp.ok, `${name}: ${JSON.stringify(cmp.worst)}`).toBe(true);
      }
      const y = run.values.y!;
      const ymax = Math.max(...y.map(Math.abs));
      // tfjs sits far inside the worst case, and is close in absolute terms.
      expect(compareWithin(y, got.y!, bounds.y!).maxRatio).toBeLessThan(0.05);
      expect(Math.max(...y.map((v, i) => Math.abs(v - got.y![i]!))) / ymax).toBeLessThan(2e-6);
      // Op by op: each tfjs op's output within the op's local bound, given tfjs's own inputs.
      const actual: Record<string, Float64Array> = { rope_cos: run.values.rope_cos!, rope_sin: run.values.rope_sin!, x: run.values.x! };
      for (const [k, v] of Object.entries(got)) actual[k] = Float64Array.from(v);
      const checks = checkOpByOp(run, actual);
      expect(checks.length).toBe(run.graph.ops.length + 1); // kv_append writes two caches
      for (const c of checks) expect(c.comparison.ok, `${c.op} -> ${c.output}: ${JSON.stringify(c.comparison.worst)}`).toBe(true);
      // The local bounds are tight: a few parts per million of each output's size.
      const local = fp32ErrorBounds(run, { local: true });
      for (const name of ['xn', 'q', 'attn', 'h', 'g', 'y']) {
        const v = run.values[name]!;
        expect(Math.max(...local[name]!) / Math.max(...v.map(Math.abs)), name).toBeLessThan(3e-5);
      }
    });
  }

  it('decode of the last token equals the last row of a prefill (same cache)', () => {
    const config = tinyConfig();
    const pre = referenceLayer(config, { phase: 'prefill', tokens: 5, dtype: 'fp32' }, { seed: 3 });
    // Decode token 4 with tokens 0..3's keys and values (post-RoPE) as the past.
    const { k_cache, v_cache } = pre.values;
    const nkv = config.numKeyValueHeads;
    const D = config.headDim;
    const kPast = new Float64Array(nkv * 4 * D);
    const vPast = new Float64Array(nkv * 4 * D);
    for (let g = 0; g < nkv; g++) {
      kPast.set(k_cache!.subarray(g * 5 * D, g * 5 * D + 4 * D), g * 4 * D);
      vPast.set(v_cache!.subarray(g * 5 * D, g * 5 * D + 4 * D), g * 4 * D);
    }
    const x = pre.inputs.x.slice(4 * config.hiddenSize);
    const dec = referenceLayer(config, { phase: 'decode', past: 4, dtype: 'fp32' }, { weights: pre.raw, inputs: { x, kPast, vPast } });
    const last = pre.values.y!.subarray(4 * config.hiddenSize);
    for (let i = 0; i < last.length; i++) expect(dec.values.y![i]).toBeCloseTo(last[i]!, 12);
  });
});

// ---- the int8 path (and fp16, bf16) ----------------------------------------------------------

describe('quantised paths', () => {
  const linears = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

  for (const cs of CASES.slice(0, 5)) {
    it(`int8 accumulators are exact integers (${cs.what})`, () => {
      const run = referenceLayer(cs.config(), { ...cs.opt, dtype: 'int8' }, { seed: 5 });
      for (const name of linears) {
        const op = run.graph.ops.find((o) => o.name === name)!;
        if (op.attrs.kind !== 'linear') throw new Error('not a linear');
        const { rows, inFeatures: K, outFeatures: N } = op.attrs;
        const xq = run.values[op.inputs[0]!.name]!;
        const sx = run.values[op.attrs.inputScale!]!;
        const wq = run.weights[`${name}.weight`]!;
        const sw = run.weights[`${name}.scale`]!;
        const bias = op.attrs.bias ? run.weights[op.attrs.bias]! : null;
        const acc = run.accumulators[name]!;
        // The quantised input is int8 codes of the fp32 input with scale fround(max|row| / 127).
        const src = run.values[op.inputs[0]!.name.replace(/_q$/, '')]!;
        for (let m = 0; m < rows; m++) {
          let mx = 0;
          for (let k = 0; k < K; k++) mx = Math.max(mx, Math.abs(src[m * K + k]!));
          expect(sx[m]).toBe(Math.fround(mx / 127));
        }
        let bad = 0;
        let nonCodes = 0;
        for (let m = 0; m < rows; m++)
          for (let n = 0; n < N; n++) {
            let s = 0n;
            for (let k = 0; k < K; k++) {
              const a = xq[m * K + k]!;
              const b = wq[n * K + k]!;
              if (!(Number.isInteger(a) && a >= -128 && a <= 127 && Number.isInteger(b) && b >= -128 && b <= 127)) nonCodes++;
              s += BigInt(a) * BigInt(b);
            }
            if (BigInt(acc[m * N + n]!) !== s) bad++;
            // Dequantised: acc * s_x * s_w (+ bias), in float64.
            if (run.values[op.outputs[0]!.name]![m * N + n] !== Number(s) * sx[m]! * sw[n]! + (bias ? bias[n]! : 0)) bad++;
          }
        expect([name, nonCodes, bad]).toEqual([name, 0, 0]);
      }
    });
  }

  for (const dtype of ['int8', 'fp16', 'bf16'] as const) {
    for (const cs of [CASES[1]!, CASES[3]!, CASES[4]!]) {
      it(`${dtype}: each op within its quantisation bound of the float path (${cs.what})`, () => {
        const config = cs.config();
        const q = referenceLayer(config, { ...cs.opt, dtype }, { seed: 9 });
        const checks = quantizationBounds(q);
        const ops = Object.keys(checks);
        expect(ops).toEqual(expect.arrayContaining(['attn_norm', 'q_proj', 'down_proj', 'kv_append.k', 'attn_scores', 'attn_values']));
        for (const [op, c] of Object.entries(checks)) {
          const cmp = compareWithin(c.float, tensorValues(q, c.output), c.bound);
          expect(cmp.ok, `${op}: ${JSON.stringify(cmp.worst)}`).toBe(true);
          // Not vacuous: each matmul's worst element uses a visible part of its bound.
          if (/_proj$/.test(op)) expect(cmp.maxRatio, op).toBeGreaterThan(0.02);
        }
        // End to end (measured, not a bound: worst-case propagation through the chain of
        // matmuls is far wider than the ~sqrt(K) growth of independent rounding errors).
        const f = referenceLayer(config, { ...cs.opt, dtype: 'fp32' }, { seed: 9 });
        const y = f.values.y!;
        const ymax = Math.max(...y.map(Math.abs));
        const diff = Math.max(...y.map((v, i) => Math.abs(v - q.values.y![i]!)));
        expect(diff).toBeGreaterThan(0);
        expect(diff / ymax).toBeLessThan({ int8: 0.02, fp16: 0.001, bf16: 0.01 }[dtype]);
      });
    }
  }

  it('an fp32 emulation of the int8 path (tfjs, its own quantiser) meets the fp32 bounds', () => {
    const config = tinyConfig();
    const run = referenceLayer(config, { phase: 'prefill', batch: 2, tokens: 5, past: 4, dtype: 'int8' }, { seed: 21 });
    const got = tfInt8Layer(run);
    const actual: Record<string, Float64Array> = { rope_cos: run.values.rope_cos!, rope_sin: run.values.rope_sin!, x: run.values.x! };
    for (const [k, v] of Object.entries(got)) actual[k] = Float64Array.from(v);
    // End to end (worst case: wide once int8 flips can happen anywhere, but it must hold).
    const bounds = fp32ErrorBounds(run);
    const pseudo = { ...run, values: actual };
    for (const name of ['xn_q', 'q', 'k_cache', 'probs_q', 'attn_q', 'h', 'g_q', 'y']) {
      const cmp = compareWithin(tensorValues(run, name), tensorValues(pseudo, name), bounds[name]!);
      expect(cmp.ok, `${name}: ${JSON.stringify(cmp.worst)}`).toBe(true);
    }
    // Op by op, with rounding flips allowed only where the input sits at a rounding boundary.
    const checks = checkOpByOp(run, actual);
    for (const c of checks) expect(c.comparison.ok, `${c.op} -> ${c.output}: ${JSON.stringify(c.comparison.worst)}`).toBe(true);
    // Most int8 codes agree exactly with the reference's quantisation of tfjs's own input.
    const xq = quantizeRowsInt8(actual.hn!, run.graph.shape.rows, config.hiddenSize);
    const same = xq.codes.filter((v, i) => v === actual.hn_q![i]).length;
    expect(same / xq.codes.length).toBeGreaterThan(0.99);
  });
});

/**
 * The int8 graph in float32 with tfjs, every tensor in the reference's representation: per-row
 * int8 quantisation (tf.round is half to even) giving codes and fp32 scales, integer matmuls
 * (exact in float32 here: |acc| < 2^24), fp16 rounding of the attention operands by Veltkamp
 * splitting (subnormals on the 2^-24 grid).
 */
function tfInt8Layer(run: ReferenceRun): TfOut {
  const c = run.graph.config;
  const { batch: B, tokens: T, past: P, seq: S, rows: M } = run.graph.shape;
  const H = c.hiddenSize;
  const nh = c.numAttentionHeads;
  const nkv = c.numKeyValueHeads;
  const D = c.headDim;
  const I = c.intermediateSize;
  const W = run.weights;
  return tf.tidy(() => {
    const out: TfOut = {};
    const put = (name: string, t: tf.Tensor) => (out[name] = t.dataSync() as Float32Array);
    const fp16 = (v: tf.Tensor) => {
      const big = v.mul(tf.scalar(2 ** 13 + 1));
      const hi = big.sub(big.sub(v));
      const small = tf.round(v.mul(tf.scalar(2 ** 24))).mul(tf.scalar(2 ** -24));
      return tf.where(v.abs().less(tf.scalar(2 ** -14)), small, hi);
    };
    const quant = (v: tf.Tensor2D, name: string) => {
      const s = v.abs().max(-1, true).div(tf.scalar(127));
      const codes = tf.round(v.div(s)).clipByValue(-128, 127);
      put(name, codes);
      put(`${name}.scale`, s);
      return { codes, s };
    };
    const lin = (q: { codes: tf.Tensor; s: tf.Tensor }, name: string, outF: number, inF: number) => {
      const acc = tf.matMul(q.codes as tf.Tensor2D, tf.tensor2d(f32(W[`${name}.weight`]!), [outF, inF], 'float32'), false, true);
      return acc.mul(q.s).mul(tf.tensor1d(f32(W[`${name}.scale`]!), 'float32')) as tf.Tensor2D;
    };
    const rms = (v: tf.Tensor2D, g: string) =>
      v.mul(tf.rsqrt(v.square().mean(-1, true).add(c.rmsNormEps))).mul(tf.tensor1d(f32(W[g]!), 'float32')) as tf.Tensor2D;
    const { cosT, sinT } = ropeTables(c, P, T);
    const rope = (v: tf.Tensor, heads: number) => {
      const r = v.reshape([B, T, heads, D]);
      const rot = tf.concat([r.slice([0, 0, 0, D / 2], [B, T, heads, D / 2]).neg(), r.slice([0, 0, 0, 0], [B, T, heads, D / 2])], 3);
      return r.mul(tf.tensor4d(f32(cosT), [1, T, 1, D], 'float32')).add(rot.mul(tf.tensor4d(f32(sinT), [1, T, 1, D], 'float32')));
    };
    const xt = tf.tensor2d(f32(run.inputs.x), [M, H], 'float32');
    const xn = rms(xt, 'attn_norm.weight');
    put('xn', xn);
    const xq = quant(xn, 'xn_q');
    const qp = lin(xq, 'q_proj', nh * D, H);
    const kp = lin(xq, 'k_proj', nkv * D, H);
    const vp = lin(xq, 'v_proj', nkv * D, H);
    put('q', qp);
    put('k', kp);
    put('v', vp);
    const qr = rope(qp, nh);
    const kr = rope(kp, nkv);
    put('q_rope', qr);
    put('k_rope', kr);
    const qq = fp16(qr);
    put('q_rope_q', qq);
    const q = qq.transpose([0, 2, 1, 3]);
    const kNew = fp16(kr).transpose([0, 2, 1, 3]);
    const vNew = fp16(vp).reshape([B, T, nkv, D]).transpose([0, 2, 1, 3]);
    const kAll = tf.concat([tf.tensor4d(f32(pastCache(run, 'k_cache')), [B, nkv, P, D], 'float32'), kNew], 2);
    const vAll = tf.concat([tf.tensor4d(f32(pastCache(run, 'v_cache')), [B, nkv, P, D], 'float32'), vNew], 2);
    put('k_cache', kAll);
    put('v_cache', vAll);
    const group = nh / nkv;
    const rep = (v: tf.Tensor) => v.expandDims(2).tile([1, 1, group, 1, 1]).reshape([B, nh, S, D]);
    const maskT = new Float32Array(T * S).map((_, i) => (i % S <= P + Math.floor(i / S) ? 0 : -Infinity));
    const scores = tf.matMul(q, rep(kAll), false, true);
    put('scores', scores);
    const probs = tf.softmax(scores.mul(tf.scalar(1 / Math.sqrt(D))).add(tf.tensor4d(maskT, [1, 1, T, S])));
    put('probs', probs);
    const pq = fp16(probs);
    put('probs_q', pq);
    const attn = tf.matMul(pq, rep(vAll)).transpose([0, 2, 1, 3]).reshape([M, nh * D]) as tf.Tensor2D;
    put('attn', attn);
    const o = lin(quant(attn, 'attn_q'), 'o_proj', H, nh * D);
    put('o', o);
    const h = xt.add(o) as tf.Tensor2D;
    put('h', h);
    const hn = rms(h, 'mlp_norm.weight');
    put('hn', hn);
    const hq = quant(hn, 'hn_q');
    const gate = lin(hq, 'gate_proj', I, H);
    const up = lin(hq, 'up_proj', I, H);
    put('gate', gate);
    put('up', up);
    const act = gate.mul(tf.sigmoid(gate));
    put('act', act);
    const g = act.mul(up) as tf.Tensor2D;
    put('g', g);
    const down = lin(quant(g, 'g_q'), 'down_proj', H, I);
    put('down', down);
    put('y', h.add(down));
    return out;
  });
}

// ---- seeded weights ---------------------------------------------------------------------------

describe('seeded weights and inputs', () => {
  it('follow the documented draw order', () => {
    const c = tinyConfig();
    const w = randomWeights(c, 42);
    expect(Object.keys(w)).toEqual(WEIGHT_ORDER.filter((n) => !n.endsWith('.bias')));
    const j = WEIGHT_ORDER.indexOf('k_proj.weight');
    const next = mulberry32((42 + Math.imul(j + 1, 0x9e3779b9)) >>> 0);
    expect(streamSeed(42, j)).toBe((42 + Math.imul(j + 1, 0x9e3779b9)) >>> 0);
    const a = 1 / Math.sqrt(64);
    for (let i = 0; i < 5; i++) expect(w['k_proj.weight']![i]).toBe(-a + 2 * a * next());
    const gain = mulberry32(streamSeed(42, 0));
    expect(w['attn_norm.weight']![0]).toBe(0.75 + 0.5 * gain());
    expect(randomWeights(c, 42)['down_proj.weight']).toEqual(w['down_proj.weight']);
    const g = buildLayerGraph(c, { phase: 'decode', past: 3 });
    const inp = randomInputs(c, g.shape, 42);
    const xs = mulberry32(streamSeed(42, 16));
    expect(inp.x[0]).toBe(Math.fround(-1 + 2 * xs()));
    expect(inp.kPast.length).toBe(2 * 3 * 16);
  });
});

// ---- safetensors ------------------------------------------------------------------------------

describe('safetensors', () => {
  it('round-trips every numeric dtype, with metadata', () => {
    const tensors: TensorToWrite[] = [
      { name: 'a', dtype: 'F32', shape: [2, 3], data: [1.5, -2, 3.25, 0, 1e-3, -7] },
      { name: 'b', dtype: 'F16', shape: [3], data: [1, -0.5, 65504] },
      { name: 'c', dtype: 'BF16', shape: [2], data: [3.140625, -1e30] },
      { name: 'd', dtype: 'I8', shape: [4], data: [-128, -1, 0, 127] },
      { name: 'e', dtype: 'I32', shape: [1], data: [-2147483648] },
      { name: 'f', dtype: 'F64', shape: [1], data: [Math.PI] },
      { name: 'g', dtype: 'U8', shape: [0, 3], data: [] },
      { name: 'h', dtype: 'I64', shape: [2], data: [-(2 ** 40), 5] },
    ];
    const bytes = encodeSafetensors(tensors, { format: 'pt' });
    const f = parseSafetensors(bytes, 'x.safetensors');
    expect(f.metadata).toEqual({ format: 'pt' });
    expect((f.headerLength) % 8).toBe(0);
    expect(Array.from(f.read('a'))).toEqual([1.5, -2, 3.25, 0, Math.fround(1e-3), -7]);
    expect(Array.from(f.read('b'))).toEqual([1, -0.5, 65504]);
    expect(Array.from(f.read('c'))).toEqual([3.140625, bf16BitsToF32(f32ToBf16Bits(-1e30))]);
    expect(Array.from(f.read('d'))).toEqual([-128, -1, 0, 127]);
    expect(Array.from(f.read('e'))).toEqual([-2147483648]);
    expect(Array.from(f.read('f'))).toEqual([Math.PI]);
    expect(f.read('g').length).toBe(0);
    expect(Array.from(f.read('h'))).toEqual([-(2 ** 40), 5]);
    expect(f.tensors.get('a')!.shape).toEqual([2, 3]);
    const p = join(dir, 'rt.safetensors');
    writeFileSync(p, bytes);
    const g = openSafetensors(p);
    expect(Array.from(g.read('b'))).toEqual([1, -0.5, 65504]);
    g.close();
  });

  /** A file with a hand-written header and `data` bytes of data. */
  const handMade = (header: unknown, data: number, lengthOverride?: number) => {
    const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
    const out = new Uint8Array(8 + json.length + data);
    new DataView(out.buffer).setUint32(0, lengthOverride ?? json.length, true);
    out.set(json, 8);
    return out;
  };
  const bad: [string, Uint8Array, RegExp][] = [
    ['truncated', new Uint8Array([1, 0, 0]), /safetensors: truncated safetensors file: 3 bytes/],
    ['header past EOF', handMade({}, 0, 1000), /header length 1000 runs past the end of the file/],
    ['not JSON', handMade('{"a": ', 0), /header is not valid JSON/],
    [
      'offsets out of range',
      handMade({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 12),
      /tensor "w": data_offsets \[0, 16\] run past the end of the data \(12 bytes/,
    ],
    [
      'size mismatch',
      handMade({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 12] } }, 12),
      /tensor "w": data_offsets \[0, 12\] hold 12 bytes, but F32\[4\] needs 16/,
    ],
    [
      'overlap',
      handMade(
        { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, v: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } },
        24,
      ),
      /tensor "v" \(bytes 8\.\.24\) overlaps tensor "w" \(bytes 0\.\.16\)/,
    ],
    ['unknown dtype', handMade({ w: { dtype: 'F12', shape: [1], data_offsets: [0, 2] } }, 2), /tensor "w": unknown dtype "F12"/],
    ['gap', handMade({ w: { dtype: 'I8', shape: [2], data_offsets: [2, 4] } }, 4), /tensor "w": 2 unused bytes before its data/],
    ['trailing', handMade({ w: { dtype: 'I8', shape: [2], data_offsets: [0, 2] } }, 5), /3 bytes after the last tensor's data/],
    ['bad shape', handMade({ w: { dtype: 'I8', shape: [-2], data_offsets: [0, 2] } }, 2), /tensor "w": shape must be an array of integers >= 0/],
    ['bad metadata', handMade({ __metadata__: { a: 1 } }, 0), /__metadata__\."a" must be a string/],
  ];
  for (const [what, bytes, message] of bad) {
    it(`refuses a file with ${what}, naming the file and tensor`, () => {
      expect(() => parseSafetensors(bytes, 'bad.safetensors')).toThrow(message);
      const p = join(dir, `bad-${what.replace(/\W+/g, '_')}.safetensors`);
      writeFileSync(p, bytes);
      expect(() => openSafetensors(p)).toThrow(message);
      expect(() => openSafetensors(p)).toThrow(new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    });
  }

  it('maps HF names of one layer onto the graph weights and runs the reference on them', () => {
    const c = tinyVariant();
    const raw = randomWeights(c, 77);
    const map = hfTensorMap(c, 1);
    expect(map.get('q_proj.weight')).toBe('model.layers.1.self_attn.q_proj.weight');
    expect(map.get('o_proj.bias')).toBe('model.layers.1.self_attn.o_proj.bias');
    expect(map.get('attn_norm.weight')).toBe('model.layers.1.input_layernorm.weight');
    expect(map.get('mlp_norm.weight')).toBe('model.layers.1.post_attention_layernorm.weight');
    expect(map.get('down_proj.weight')).toBe('model.layers.1.mlp.down_proj.weight');
    // Two shards, F32 and BF16 (values rounded to bf16), plus another layer's tensor to ignore.
    const names = [...map.entries()];
    const half = Math.ceil(names.length / 2);
    const shard = (part: [string, string][], dtype: 'F32' | 'BF16') =>
      part.map(([g, hf]): TensorToWrite => {
        const shape = buildLayerGraph(c, { phase: 'decode', dtype: 'fp32' }).weights[g]!.shape;
        return { name: hf, dtype, shape, data: raw[g as keyof typeof raw]! };
      });
    const p1 = join(dir, 'model-00001.safetensors');
    const p2 = join(dir, 'model-00002.safetensors');
    writeFileSync(p1, encodeSafetensors([...shard(names.slice(0, half), 'F32'), { name: 'model.layers.0.self_attn.q_proj.weight', dtype: 'F32', shape: [1], data: [0] }]));
    writeFileSync(p2, encodeSafetensors(shard(names.slice(half), 'BF16')));
    const loaded = loadLayerWeights(c, [p1, p2], 1);
    for (const [g] of names.slice(0, half)) expect(Array.from(loaded[g as keyof typeof loaded]!)).toEqual(Array.from(raw[g as keyof typeof raw]!).map(Math.fround));
    for (const [g] of names.slice(half)) {
      expect(Array.from(loaded[g as keyof typeof loaded]!)).toEqual(Array.from(raw[g as keyof typeof raw]!).map((v) => bf16BitsToF32(f32ToBf16Bits(v))));
    }
    const opt: LayerOptions = { phase: 'decode', batch: 2, past: 3, layer: 1, dtype: 'int8' };
    const a = referenceLayer(c, opt, { weights: loaded, seed: 2 });
    const b = referenceLayer(c, opt, { weights: loaded, seed: 2 });
    expect(a.values.y).toEqual(b.values.y);
    expect(a.graph.weights['q_proj.weight']!.hfName).toBe('model.layers.1.self_attn.q_proj.weight');
  });

  it('names the file and tensor for a missing or misshapen layer tensor', () => {
    const c = tinyConfig();
    const raw = randomWeights(c, 1);
    const map = hfTensorMap(c, 0);
    const all = [...map.entries()].map(([g, hf]): TensorToWrite => {
      const shape = buildLayerGraph(c, { phase: 'decode', dtype: 'fp32' }).weights[g]!.shape;
      return { name: hf, dtype: 'F32', shape, data: raw[g as keyof typeof raw]! };
    });
    const p = join(dir, 'missing.safetensors');
    writeFileSync(p, encodeSafetensors(all.filter((t) => !t.name.endsWith('up_proj.weight'))));
    expect(() => loadLayerWeights(c, p, 0)).toThrow(/missing\.safetensors: no tensor "model\.layers\.0\.mlp\.up_proj\.weight"/);
    const q = join(dir, 'transposed.safetensors');
    writeFileSync(
      q,
      encodeSafetensors(all.map((t) => (t.name.endsWith('k_proj.weight') ? { ...t, shape: [64, 32] } : t))),
    );
    expect(() => loadLayerWeights(c, q, 0)).toThrow(
      /transposed\.safetensors: tensor "model\.layers\.0\.self_attn\.k_proj\.weight" has shape \[64, 32\], tiny needs \[32, 64\] \(\[out, in\]\)/,
    );
  });
});

describe('checkOpByOp on float casts', () => {
  it('a cast of exact inputs must be their rounding bit for bit: one ulp off fails', () => {
    const config = loadModelConfig('tiny');
    const run = referenceLayer(config, { phase: 'decode', past: 6, dtype: 'int8' }, { seed: 4 });
    const actual: Record<string, Float64Array> = {};
    for (const [k, v] of Object.entries(run.values)) actual[k] = Float64Array.from(v);
    expect(checkOpByOp(run, actual).every((c) => c.comparison.ok)).toBe(true);
    for (const name of ['q_rope_q', 'probs_q']) {
      const bad = Object.fromEntries(Object.entries(actual).map(([k, v]) => [k, Float64Array.from(v)]));
      const i = bad[name]!.findIndex((v) => v !== 0);
      bad[name]![i] = bad[name]![i]! * (1 + 2 ** -10); // one fp16 ulp
      const c = checkOpByOp(run, bad).find((x) => x.output === name)!;
      expect(c.comparison.ok, name).toBe(false);
    }
  });
});
