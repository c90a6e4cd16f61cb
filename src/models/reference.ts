// The reference: evaluates a layer graph (graph.ts) op by op, in float64 and exact integers.
//
// What it computes is the graph's meaning under its precision (quant.ts):
//  - the only roundings are the quantisations the graph names: weights stored in their dtype
//    (int8 codes with fp32 per-output-channel scales, or fp16/bf16/fp32 values), the `quantize`
//    ops (int8 with a dynamic per-row scale: max|row| / 127 in fp32, codes half-to-even and
//    saturated; or a float cast, nearest even), and kv_append's rounding into the cache dtype;
//  - int8 linears accumulate codes x codes exactly (the int32 accumulator; an overflow past
//    int32 is an error), then dequantise in float64: y = acc * s_x[row] * s_w[col] (+ bias);
//  - float matmuls multiply the stored operands and add in float64 (for fp16/bf16 operands
//    each product is exact, so this is fp32 accumulation without its rounding);
//  - RMSNorm, RoPE (tables from float64 cos/sin), softmax, the activation, residual adds and
//    the gating product are float64 on the values the quantised tensors mean.
//
// The bound an fp32 implementation (the chip, a GPU kernel) must meet, per op, given the same
// inputs (bounds.ts, fp32ErrorBounds with local: true; checkOpByOp applies it), u = 2^-24:
//   matmul, float operands:  |y' - y| <= gamma_{K+2} (sum_k |a_k||w_k| + |b|), gamma_n = nu/(1-nu)
//   matmul, int8 operands:   the int32 accumulator equal; |y' - y| <= 4u (|y| + |b|)
//   quantize:                the same codes/values, except that an element within a few u of a
//                            rounding boundary may go one step either way
//   rmsnorm, rope, softmax, activation, add, mul: a few u of the result (softmax also
//                            u (4 (max z - z) + 4 ln n + ...) relatively; see bounds.ts)
// and the same rules propagated through the layer give a rigorous but worst-case end-to-end
// bound (fp32ErrorBounds without local). docs/models.md states both in full.
import { SfError } from '../util/errors.js';
import type { HiddenAct, ModelConfig } from './config.js';
import { buildLayerGraph, firstKey, type GraphOp, type LayerGraph, type LayerOptions, type LayerShape } from './graph.js';
import { int8Code, int8Scale, roundFloat, type FloatDtype } from './quant.js';
import { randomInputs, randomWeights, storeWeights, type LayerInputs, type RawWeights, type StoredWeights } from './weights.js';

export interface ReferenceResult {
  graph: LayerGraph;
  weights: StoredWeights;
  /**
   * Every tensor of the graph by name. fp32 activations hold float64 values; int8 tensors hold
   * their codes (the "<name>.scale" tensor holds the row scales); fp16/bf16 tensors hold their
   * (exactly representable) values; the caches hold [B, kv_heads, S, D]. Scores outside the
   * attended window are -Infinity, probs there 0.
   */
  values: Record<string, Float64Array>;
  /** int8 linear ops: the int32 accumulators [rows, out] (exact integers). */
  accumulators: Record<string, Float64Array>;
}

/** RoPE inverse frequencies (with rope_scaling applied), float64. */
export function ropeInvFreq(config: ModelConfig): Float64Array {
  const D = config.headDim;
  const inv = new Float64Array(D / 2);
  const sc = config.ropeScaling;
  for (let i = 0; i < D / 2; i++) {
    let f = Math.pow(config.ropeTheta, (-2 * i) / D);
    if (sc?.type === 'linear') f /= sc.factor;
    else if (sc?.type === 'llama3') {
      const wavelen = (2 * Math.PI) / f;
      const lowWavelen = sc.originalMaxPositionEmbeddings / sc.lowFreqFactor;
      const highWavelen = sc.originalMaxPositionEmbeddings / sc.highFreqFactor;
      if (wavelen > lowWavelen) f /= sc.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (sc.originalMaxPositionEmbeddings / wavelen - sc.lowFreqFactor) / (sc.highFreqFactor - sc.lowFreqFactor);
        f = (1 - smooth) * (f / sc.factor) + smooth * f;
      }
    }
    inv[i] = f;
  }
  return inv;
}

/** The RoPE tables of a step: [T, D/2], row t for position past + t. */
export function ropeTables(config: ModelConfig, shape: Pick<LayerShape, 'past' | 'tokens'>): { cos: Float64Array; sin: Float64Array } {
  const half = config.headDim / 2;
  const inv = ropeInvFreq(config);
  const cos = new Float64Array(shape.tokens * half);
  const sin = new Float64Array(shape.tokens * half);
  for (let t = 0; t < shape.tokens; t++) {
    const p = shape.past + t;
    for (let i = 0; i < half; i++) {
      cos[t * half + i] = Math.cos(p * inv[i]!);
      sin[t * half + i] = Math.sin(p * inv[i]!);
    }
  }
  return { cos, sin };
}

/**
 * erf(x) to within a few units of float64 rounding: 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) /
 * (1*3*...*(2n+1)), a series of positive terms (no cancellation); |erf(x)| = 1 in float64 beyond 6.
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a >= 6) return Math.sign(x);
  let term = a;
  let sum = a;
  for (let n = 1; n < 200; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  const r = (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
  return x < 0 ? -r : r;
}

/** The MLP activation in float64. */
export function activation(fn: HiddenAct, x: number): number {
  switch (fn) {
    case 'silu':
    case 'swish':
      return x / (1 + Math.exp(-x));
    case 'gelu':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    case 'relu':
      return x > 0 ? x : 0;
  }
}

function need(values: Record<string, Float64Array>, name: string): Float64Array {
  const v = values[name];
  if (!v) throw new Error(`internal: tensor ${name} not computed`);
  return v;
}

/** Evaluate a graph on stored weights and inputs. */
export function runReference(graph: LayerGraph, weights: StoredWeights, inputs: LayerInputs): ReferenceResult {
  const { config, shape } = graph;
  const { batch: B, past: P, seq: S, rows: M } = shape;
  const H = config.hiddenSize;
  const nkv = config.numKeyValueHeads;
  const D = config.headDim;
  for (const name of Object.keys(graph.weights)) {
    const w = weights[name];
    if (!w || w.length !== graph.weights[name]!.elements) {
      throw new SfError(`stored weight "${name}" is ${w ? `${w.length} values` : 'missing'}; the graph needs ${graph.weights[name]!.elements}`);
    }
  }
  const pastN = B * nkv * P * D;
  if (inputs.x.length !== M * H) throw new SfError(`input x has ${inputs.x.length} values; [${M}, ${H}] needs ${M * H}`);
  if (inputs.kPast.length !== pastN || inputs.vPast.length !== pastN) {
    throw new SfError(`past keys/values have ${inputs.kPast.length}/${inputs.vPast.length} values; [${B}, ${nkv}, ${P}, ${D}] needs ${pastN}`);
  }

  const values: Record<string, Float64Array> = {};
  const accumulators: Record<string, Float64Array> = {};
  values.x = Float64Array.from(inputs.x);
  const tables = ropeTables(config, shape);
  values.rope_cos = tables.cos;
  values.rope_sin = tables.sin;
  const cacheDtype = shape.precision.attention;
  const kc = new Float64Array(B * nkv * S * D);
  const vc = new Float64Array(B * nkv * S * D);
  for (let bg = 0; bg < B * nkv; bg++) {
    for (let i = 0; i < P * D; i++) {
      kc[bg * S * D + i] = roundFloat(inputs.kPast[bg * P * D + i]!, cacheDtype);
      vc[bg * S * D + i] = roundFloat(inputs.vPast[bg * P * D + i]!, cacheDtype);
    }
  }
  values.k_cache = kc;
  values.v_cache = vc;
  for (const op of graph.ops) {
    const acc = evaluateOp(graph, weights, op, values);
    if (acc) accumulators[op.name] = acc;
  }
  return { graph, weights, values, accumulators };
}

/**
 * Evaluate one op of the graph: reads its inputs from `values`, writes its outputs there (the
 * int8 quantize op also its ".scale" tensor; kv_append writes the new positions into the
 * k_cache and v_cache arrays already in `values`). Returns the int32 accumulators of an int8
 * linear, else null. A compiler checks a program op by op with this: put the chip's input
 * tensors in `values`, evaluate, compare the chip's output within fp32ErrorBounds(..., local).
 */
export function evaluateOp(
  graph: LayerGraph,
  weights: StoredWeights,
  op: GraphOp,
  values: Record<string, Float64Array>,
): Float64Array | null {
  const { config, shape } = graph;
  const { batch: B, tokens: T, past: P, seq: S, rows: M } = shape;
  const nkv = config.numKeyValueHeads;
  const D = config.headDim;
  const half = D / 2;
  const a = op.attrs;
  switch (a.kind) {
    case 'rmsnorm': {
      const x = need(values, op.inputs[0]!.name);
      const g = weights[a.weight]!;
      const y = new Float64Array(a.rows * a.dim);
      for (let r = 0; r < a.rows; r++) {
        let ss = 0;
        for (let i = 0; i < a.dim; i++) ss += x[r * a.dim + i]! * x[r * a.dim + i]!;
        const inv = 1 / Math.sqrt(ss / a.dim + a.eps);
        for (let i = 0; i < a.dim; i++) y[r * a.dim + i] = x[r * a.dim + i]! * inv * g[i]!;
      }
      values[op.outputs[0]!.name] = y;
      return null;
    }
    case 'quantize': {
      const x = need(values, op.inputs[0]!.name);
      const q = new Float64Array(x.length);
      if (a.to === 'int8') {
        const scales = new Float64Array(a.rows);
        for (let r = 0; r < a.rows; r++) {
          const s = int8Scale(x, r * a.cols, a.cols);
          scales[r] = s;
          for (let c = 0; c < a.cols; c++) q[r * a.cols + c] = int8Code(x[r * a.cols + c]!, s);
        }
        values[a.scale!] = scales;
      } else {
        for (let i = 0; i < x.length; i++) q[i] = roundFloat(x[i]!, a.to as FloatDtype);
      }
      values[op.outputs[0]!.name] = q;
      return null;
    }
    case 'linear': {
      const x = need(values, op.inputs[0]!.name);
      const w = weights[a.weight]!;
      const bias = a.bias ? weights[a.bias]! : null;
      const K = a.inFeatures;
      const N = a.outFeatures;
      const y = new Float64Array(a.rows * N);
      let acc: Float64Array | null = null;
      if (a.weightScale) {
        const sx = need(values, a.inputScale!);
        const sw = weights[a.weightScale]!;
        acc = new Float64Array(a.rows * N);
        for (let m = 0; m < a.rows; m++) {
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += x[m * K + k]! * w[n * K + k]!;
            if (s > 2147483647 || s < -2147483648) {
              throw new SfError(`${op.name}: int32 accumulator overflow at row ${m}, column ${n} (${s})`);
            }
            acc[m * N + n] = s;
            y[m * N + n] = s * sx[m]! * sw[n]! + (bias ? bias[n]! : 0);
          }
        }
      } else {
        for (let m = 0; m < a.rows; m++) {
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += x[m * K + k]! * w[n * K + k]!;
            y[m * N + n] = s + (bias ? bias[n]! : 0);
          }
        }
      }
      values[op.outputs[0]!.name] = y;
      return acc;
    }
    case 'rope': {
      const x = need(values, op.inputs[0]!.name);
      const cos = need(values, 'rope_cos');
      const sin = need(values, 'rope_sin');
      const W = a.heads * D;
      const y = new Float64Array(x.length);
      for (let m = 0; m < a.rows; m++) {
        const t = m % a.tokens;
        for (let h = 0; h < a.heads; h++) {
          const o = m * W + h * D;
          for (let i = 0; i < half; i++) {
            const c = cos[t * half + i]!;
            const s = sin[t * half + i]!;
            const x1 = x[o + i]!;
            const x2 = x[o + i + half]!;
            y[o + i] = x1 * c - x2 * s;
            y[o + i + half] = x2 * c + x1 * s;
          }
        }
      }
      values[op.outputs[0]!.name] = y;
      return null;
    }
    case 'kv_append': {
      const k = need(values, 'k_rope');
      const v = need(values, 'v');
      const kc = need(values, 'k_cache');
      const vc = need(values, 'v_cache');
      const KV = nkv * D;
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const m = b * T + t;
          for (let g = 0; g < nkv; g++) {
            for (let d = 0; d < D; d++) {
              const dst = ((b * nkv + g) * S + P + t) * D + d;
              kc[dst] = roundFloat(k[m * KV + g * D + d]!, a.cacheDtype);
              vc[dst] = roundFloat(v[m * KV + g * D + d]!, a.cacheDtype);
            }
          }
        }
      }
      return null;
    }
    case 'attn_scores': {
      const q = need(values, op.inputs[0]!.name);
      const kc = need(values, 'k_cache');
      const Q = a.heads * D;
      const s = new Float64Array(B * a.heads * T * S).fill(-Infinity);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < a.heads; h++) {
          const g = Math.floor(h / a.group);
          for (let t = 0; t < T; t++) {
            const p = P + t;
            const qo = (b * T + t) * Q + h * D;
            for (let j = firstKey(p, a.window); j <= p; j++) {
              const ko = ((b * nkv + g) * S + j) * D;
              let acc = 0;
              for (let d = 0; d < D; d++) acc += q[qo + d]! * kc[ko + d]!;
              s[((b * a.heads + h) * T + t) * S + j] = acc;
            }
          }
        }
      }
      values[op.outputs[0]!.name] = s;
      return null;
    }
    case 'softmax': {
      const s = need(values, op.inputs[0]!.name);
      const p = new Float64Array(s.length);
      for (let r = 0; r < B * a.heads * T; r++) {
        const t = r % T;
        const lo = firstKey(P + t, a.window);
        const hi = P + t;
        let mx = -Infinity;
        for (let j = lo; j <= hi; j++) mx = Math.max(mx, s[r * S + j]! * a.scale);
        let sum = 0;
        for (let j = lo; j <= hi; j++) {
          const e = Math.exp(s[r * S + j]! * a.scale - mx);
          p[r * S + j] = e;
          sum += e;
        }
        for (let j = lo; j <= hi; j++) p[r * S + j] = p[r * S + j]! / sum;
      }
      values[op.outputs[0]!.name] = p;
      return null;
    }
    case 'attn_values': {
      const p = need(values, op.inputs[0]!.name);
      const vc = need(values, 'v_cache');
      const Q = a.heads * D;
      const out = new Float64Array(M * Q);
      for (let b = 0; b < B; b++) {
        for (let h = 0; h < a.heads; h++) {
          const g = Math.floor(h / a.group);
          for (let t = 0; t < T; t++) {
            const pp = P + t;
            const po = ((b * a.heads + h) * T + t) * S;
            const oo = (b * T + t) * Q + h * D;
            for (let d = 0; d < D; d++) {
              let acc = 0;
              for (let j = firstKey(pp, a.window); j <= pp; j++) acc += p[po + j]! * vc[((b * nkv + g) * S + j) * D + d]!;
              out[oo + d] = acc;
            }
          }
        }
      }
      values[op.outputs[0]!.name] = out;
      return null;
    }
    case 'add':
    case 'mul': {
      const x = need(values, op.inputs[0]!.name);
      const y = need(values, op.inputs[1]!.name);
      const z = new Float64Array(x.length);
      if (a.kind === 'add') for (let i = 0; i < z.length; i++) z[i] = x[i]! + y[i]!;
      else for (let i = 0; i < z.length; i++) z[i] = x[i]! * y[i]!;
      values[op.outputs[0]!.name] = z;
      return null;
    }
    case 'activation': {
      const x = need(values, op.inputs[0]!.name);
      const z = new Float64Array(x.length);
      for (let i = 0; i < z.length; i++) z[i] = activation(a.fn, x[i]!);
      values[op.outputs[0]!.name] = z;
      return null;
    }
  }
}

/**
 * The values a tensor means: int8 codes times their row scale; everything else as stored.
 * (For a compiler's checks: compare a chip tensor, dequantised the same way, with this.)
 */
export function tensorValues(result: ReferenceResult, name: string): Float64Array {
  const spec = result.graph.tensors[name];
  const v = result.values[name];
  if (!spec || !v) throw new SfError(`no tensor "${name}" in the graph`);
  if (spec.dtype !== 'int8') return v;
  const scales = result.values[`${name}.scale`]!;
  const cols = spec.shape[spec.shape.length - 1]!;
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * scales[Math.floor(i / cols)]!;
  return out;
}

export interface ReferenceRun extends ReferenceResult {
  raw: RawWeights;
  inputs: LayerInputs;
}

/**
 * Build the graph and run the reference in one call: weights and inputs from `seed` unless
 * given (raw weights, e.g. from loadLayerWeights; inputs from randomInputs or the caller).
 */
export function referenceLayer(
  config: ModelConfig,
  options: LayerOptions,
  given: { seed?: number; weights?: RawWeights; inputs?: LayerInputs } = {},
): ReferenceRun {
  const graph = buildLayerGraph(config, options);
  const seed = given.seed ?? 1;
  const raw = given.weights ?? randomWeights(config, seed);
  const inputs = given.inputs ?? randomInputs(config, graph.shape, seed);
  const stored = storeWeights(config, raw, graph.shape.precision);
  return { ...runReference(graph, stored, inputs), raw, inputs };
}
