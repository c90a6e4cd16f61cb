// The decoder layer as a graph of ops: what a compiler schedules, what a roofline or GPU model
// counts, and what the reference (src/models/reference.ts) evaluates, op by op, in this order.
//
// One layer of a Llama-family model (llama, mistral, qwen2), pre-norm:
//
//   xn = RMSNorm(x) * g1                      attn_norm
//   q, k, v = xn Wq^T (+bq), xn Wk^T, xn Wv^T q_proj, k_proj, v_proj  (GQA: k, v have kv heads)
//   q, k = RoPE(q), RoPE(k)                   rope_q, rope_k (HF "rotate_half" pairing: i, i+D/2)
//   cache <- k, v                             kv_append (the new tokens go after `past` ones)
//   s = q K^T                                 attn_scores (each q head reads kv head h / group)
//   p = softmax(s / sqrt(D), causal)          attn_softmax
//   a = p V                                   attn_values
//   h = x + a Wo^T                            o_proj, attn_residual
//   hn = RMSNorm(h) * g2                      mlp_norm
//   y = h + (act(hn Wg^T) * (hn Wu^T)) Wd^T   gate_proj, up_proj, act, gated, down_proj, mlp_residual
//
// Shapes. B sequences (batch), T new tokens each, P tokens already in each one's KV cache,
// S = P + T. Token rows are M = B*T, row m = b*T + t; new token t of every sequence sits at
// position P + t. Decode is T = 1 by default (P from the caller), prefill P = 0 by default (T the
// prompt); both are the same computation: new token t attends the keys at positions
// lo(P+t) .. P+t, lo(p) = 0, or p - W + 1 (at least 0) under a sliding window of W.
// q/attn rows are [M, heads*D] with head h at columns h*D .. h*D+D-1 (HF's layout); the cache is
// [B, kv_heads, S, D]; scores and probs [B, heads, T, S].
//
// Quantisation is explicit: with --dtype int8/fp16/bf16, a `quantize` op turns each fp32 matmul
// operand into the stored dtype (int8 with one fp32 scale per row, or a float cast), so one
// quantised xn feeds q, k and v. With fp32 there are no quantize ops. See quant.ts (Precision).
//
// Counting conventions (every op carries these; totals add them up):
//  - weightBytes: bytes of the op's weights in their stored dtypes (int8 matrices count their
//    fp32 per-channel scales too).
//  - activationBytesRead / Written: bytes of the op's non-weight operands, each distinct
//    element counted once; the KV cache counts only the positions some query attends; scores
//    and probs count only attended (unmasked) entries. Tensor shapes give dense extents.
//  - macs: multiply-accumulates of the matmuls (attention: attended pairs only).
//  - flops: the vector work besides the MACs, per element: rmsnorm 4 (square, sum, x g, x r)
//    + 3 per row (/H, +eps, rsqrt); quantize int8 5 (|x|, max, /s, round, clamp) + 1 per row,
//    float cast 1; linear 2 per output for int8 dequantisation (acc sx sw), 1 for a bias; rope 3
//    (4 mul + 2 add per pair); kv_append 1 (the cast into the cache); softmax 6 per attended
//    entry (scale, max, subtract, exp, sum, normalise) + 1 per row (reciprocal); silu 4
//    (exp, add, reciprocal, mul), gelu 8, relu 1; add and mul 1.
//    Total floating-point operations = 2 * macs + flops.
import { SfError } from '../util/errors.js';
import { slidingWindowFor, type HiddenAct, type ModelConfig, type RopeScaling } from './config.js';
import { DTYPE_BYTES, MODEL_DTYPES, precisionFor, type FloatDtype, type ModelDtype, type Precision } from './quant.js';

export type Phase = 'decode' | 'prefill';

export interface LayerOptions {
  phase: Phase;
  /** Sequences (default 1). */
  batch?: number;
  /** New tokens per sequence (decode: default 1; prefill: required, the prompt length). */
  tokens?: number;
  /** Tokens already in each sequence's KV cache (default 0). */
  past?: number;
  /** Number format (default int8). */
  dtype?: ModelDtype;
  /** Layer index: HF tensor names and the sliding window (default 0). */
  layer?: number;
}

export interface LayerShape {
  phase: Phase;
  batch: number;
  tokens: number;
  past: number;
  /** past + tokens: the cache length after this step. */
  seq: number;
  /** batch * tokens: token rows. */
  rows: number;
  dtype: ModelDtype;
  precision: Precision;
  layer: number;
  /** Sliding window of this layer, or null. */
  window: number | null;
}

export type TensorKind = 'input' | 'constant' | 'state' | 'activation' | 'output';

export interface TensorSpec {
  name: string;
  shape: number[];
  dtype: ModelDtype;
  kind: TensorKind;
  elements: number;
  bytes: number;
  description: string;
}

export type WeightKind = 'matrix' | 'scale' | 'gain' | 'bias';

export interface WeightSpec {
  /** Graph name: "q_proj.weight", "q_proj.scale", "q_proj.bias", "attn_norm.weight", ... */
  name: string;
  /** The HF checkpoint tensor (model.layers.N....), or null for int8 scales (derived). */
  hfName: string | null;
  /** Matrices are HF's [out, in]. */
  shape: number[];
  dtype: ModelDtype;
  kind: WeightKind;
  elements: number;
  bytes: number;
}

export interface TensorRef {
  name: string;
  shape: number[];
  dtype: ModelDtype;
}

export type OpKind =
  | 'rmsnorm'
  | 'quantize'
  | 'linear'
  | 'rope'
  | 'kv_append'
  | 'attn_scores'
  | 'softmax'
  | 'attn_values'
  | 'add'
  | 'mul'
  | 'activation';

export interface AttentionAttrs {
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Query heads per kv head: q head h reads kv head floor(h / group). */
  group: number;
  batch: number;
  tokens: number;
  past: number;
  seq: number;
  window: number | null;
  /** Attended (query, key) pairs per sequence and head. */
  attended: number;
  /** Distinct cache positions read per sequence and kv head. */
  keysRead: number;
}

export type OpAttrs =
  | { kind: 'rmsnorm'; rows: number; dim: number; eps: number; weight: string }
  | { kind: 'quantize'; rows: number; cols: number; to: ModelDtype; scale: string | null }
  | {
      kind: 'linear';
      rows: number;
      inFeatures: number;
      outFeatures: number;
      weight: string;
      weightScale: string | null;
      bias: string | null;
      inputScale: string | null;
    }
  | {
      kind: 'rope';
      rows: number;
      heads: number;
      headDim: number;
      theta: number;
      scaling: RopeScaling | null;
      /** Position of token t of every sequence: firstPosition + t. */
      firstPosition: number;
      tokens: number;
    }
  | ({ kind: 'kv_append'; cacheDtype: FloatDtype } & AttentionAttrs)
  | ({ kind: 'attn_scores' } & AttentionAttrs)
  | ({ kind: 'softmax'; scale: number } & AttentionAttrs)
  | ({ kind: 'attn_values' } & AttentionAttrs)
  | { kind: 'add'; elements: number }
  | { kind: 'mul'; elements: number }
  | { kind: 'activation'; fn: HiddenAct; elements: number };

export interface GraphOp {
  name: string;
  kind: OpKind;
  inputs: TensorRef[];
  outputs: TensorRef[];
  weights: TensorRef[];
  /** The dtype the op computes in: its matmul operand dtype, or fp32 for vector ops. */
  dtype: ModelDtype;
  weightBytes: number;
  activationBytesRead: number;
  activationBytesWritten: number;
  macs: number;
  flops: number;
  attrs: OpAttrs;
}

export interface GraphTotals {
  weightBytes: number;
  /** Elements of the 7 projection matrices. */
  matrixElements: number;
  /** All weight elements (matrices, gains, biases; int8 scales excluded). */
  weightElements: number;
  activationBytesRead: number;
  activationBytesWritten: number;
  macs: number;
  flops: number;
  /** 2 * macs + flops. */
  totalFlops: number;
  /** Bytes of the whole KV cache of this layer after the step (B * 2 * kv_heads * S * D). */
  kvCacheBytes: number;
}

export interface LayerGraph {
  config: ModelConfig;
  shape: LayerShape;
  tensors: Record<string, TensorSpec>;
  weights: Record<string, WeightSpec>;
  ops: GraphOp[];
  /** Tensors the caller provides: x, the RoPE tables, the cache's first `past` positions. */
  inputs: string[];
  /** Tensors the step produces: y and the updated caches. */
  outputs: string[];
  totals: GraphTotals;
}

function intOption(name: string, v: unknown, min: number, def?: number): number {
  if (v === undefined) {
    if (def === undefined) throw new SfError(`layer option "${name}" is required`);
    return def;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new SfError(`layer option "${name}" must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

/** Validate layer options against a config. */
export function resolveShape(config: ModelConfig, options: LayerOptions): LayerShape {
  const phase = options.phase;
  if (phase !== 'decode' && phase !== 'prefill') {
    throw new SfError(`layer option "phase" must be decode or prefill, got ${String(phase)}`);
  }
  const dtype = options.dtype ?? 'int8';
  if (!(MODEL_DTYPES as readonly string[]).includes(dtype)) {
    throw new SfError(`layer option "dtype" must be one of ${MODEL_DTYPES.join(', ')}, got ${String(dtype)}`);
  }
  const batch = intOption('batch', options.batch, 1, 1);
  const tokens = intOption('tokens', options.tokens, 1, phase === 'decode' ? 1 : undefined);
  const past = intOption('past', options.past, 0, 0);
  const layer = intOption('layer', options.layer, 0, 0);
  if (layer >= config.numHiddenLayers) {
    throw new SfError(`layer option "layer" must be below num_hidden_layers (${config.numHiddenLayers}), got ${layer}`);
  }
  const seq = past + tokens;
  if (seq > config.maxPositionEmbeddings) {
    throw new SfError(
      `past + tokens = ${seq} exceeds max_position_embeddings (${config.maxPositionEmbeddings}) of ${config.name}`,
    );
  }
  return {
    phase,
    batch,
    tokens,
    past,
    seq,
    rows: batch * tokens,
    dtype,
    precision: precisionFor(dtype),
    layer,
    window: slidingWindowFor(config, layer),
  };
}

/** First key position a query at position p attends. */
export function firstKey(p: number, window: number | null): number {
  return window === null ? 0 : Math.max(0, p - window + 1);
}

/** Attended (query, key) pairs per sequence and head, and distinct keys read per sequence. */
export function attentionCounts(shape: Pick<LayerShape, 'past' | 'tokens' | 'window'>): { attended: number; keysRead: number } {
  let attended = 0;
  for (let t = 0; t < shape.tokens; t++) {
    const p = shape.past + t;
    attended += p - firstKey(p, shape.window) + 1;
  }
  const keysRead = shape.past + shape.tokens - firstKey(shape.past, shape.window);
  return { attended, keysRead };
}

/** Per-layer weights in the order the seeded generator draws them (src/models/weights.ts). */
export const WEIGHT_ORDER = [
  'attn_norm.weight',
  'q_proj.weight',
  'q_proj.bias',
  'k_proj.weight',
  'k_proj.bias',
  'v_proj.weight',
  'v_proj.bias',
  'o_proj.weight',
  'o_proj.bias',
  'mlp_norm.weight',
  'gate_proj.weight',
  'gate_proj.bias',
  'up_proj.weight',
  'up_proj.bias',
  'down_proj.weight',
  'down_proj.bias',
] as const;
export type WeightName = (typeof WEIGHT_ORDER)[number];

/** The HF checkpoint name of a layer weight. */
export function hfWeightName(name: WeightName, layer: number): string {
  const [mod, param] = name.split('.') as [string, string];
  const path =
    mod === 'attn_norm'
      ? 'input_layernorm'
      : mod === 'mlp_norm'
        ? 'post_attention_layernorm'
        : ['q_proj', 'k_proj', 'v_proj', 'o_proj'].includes(mod)
          ? `self_attn.${mod}`
          : `mlp.${mod}`;
  return `model.layers.${layer}.${path}.${param}`;
}

/** [out, in] of each projection, and which have biases. */
export function projections(config: ModelConfig): { name: string; out: number; in: number; bias: boolean }[] {
  const H = config.hiddenSize;
  const Q = config.numAttentionHeads * config.headDim;
  const KV = config.numKeyValueHeads * config.headDim;
  const I = config.intermediateSize;
  return [
    { name: 'q_proj', out: Q, in: H, bias: config.qkvBias },
    { name: 'k_proj', out: KV, in: H, bias: config.qkvBias },
    { name: 'v_proj', out: KV, in: H, bias: config.qkvBias },
    { name: 'o_proj', out: H, in: Q, bias: config.oBias },
    { name: 'gate_proj', out: I, in: H, bias: config.mlpBias },
    { name: 'up_proj', out: I, in: H, bias: config.mlpBias },
    { name: 'down_proj', out: H, in: I, bias: config.mlpBias },
  ];
}

/** The weights a layer has (in WEIGHT_ORDER, int8 scales after their matrix) under a precision. */
export function layerWeights(config: ModelConfig, precision: Precision, layer = 0): WeightSpec[] {
  const out: WeightSpec[] = [];
  const add = (name: string, hfName: string | null, shape: number[], dtype: ModelDtype, kind: WeightKind) => {
    const elements = shape.reduce((a, b) => a * b, 1);
    out.push({ name, hfName, shape, dtype, kind, elements, bytes: elements * DTYPE_BYTES[dtype] });
  };
  const proj = new Map(projections(config).map((p) => [p.name, p]));
  for (const name of WEIGHT_ORDER) {
    const [mod, param] = name.split('.') as [string, string];
    if (mod === 'attn_norm' || mod === 'mlp_norm') {
      add(name, hfWeightName(name, layer), [config.hiddenSize], precision.side, 'gain');
      continue;
    }
    const p = proj.get(mod)!;
    if (param === 'bias') {
      if (p.bias) add(name, hfWeightName(name, layer), [p.out], precision.side, 'bias');
      continue;
    }
    add(name, hfWeightName(name, layer), [p.out, p.in], precision.linear, 'matrix');
    if (precision.linear === 'int8') add(`${mod}.scale`, null, [p.out], 'fp32', 'scale');
  }
  return out;
}

/** Build the graph of one decoder layer. */
export function buildLayerGraph(config: ModelConfig, options: LayerOptions): LayerGraph {
  const shape = resolveShape(config, options);
  const { batch: B, tokens: T, seq: S, rows: M, precision: prec } = shape;
  const H = config.hiddenSize;
  const nh = config.numAttentionHeads;
  const nkv = config.numKeyValueHeads;
  const D = config.headDim;
  const I = config.intermediateSize;
  const Q = nh * D;
  const KV = nkv * D;
  const attnQuantised = prec.attention !== 'fp32';

  const tensors: Record<string, TensorSpec> = {};
  const tensor = (name: string, shp: number[], dtype: ModelDtype, kind: TensorKind, description: string) => {
    const elements = shp.reduce((a, b) => a * b, 1);
    tensors[name] = { name, shape: shp, dtype, kind, elements, bytes: elements * DTYPE_BYTES[dtype], description };
  };
  const weightList = layerWeights(config, prec, shape.layer);
  const weights: Record<string, WeightSpec> = {};
  for (const w of weightList) weights[w.name] = w;

  const counts = attentionCounts(shape);
  const attn: AttentionAttrs = {
    heads: nh,
    kvHeads: nkv,
    headDim: D,
    group: nh / nkv,
    batch: B,
    tokens: T,
    past: shape.past,
    seq: S,
    window: shape.window,
    attended: counts.attended,
    keysRead: counts.keysRead,
  };
  const pairs = B * nh * counts.attended; // attended entries of scores/probs
  const cacheRead = B * nkv * counts.keysRead * D * DTYPE_BYTES[prec.attention];

  tensor('x', [M, H], 'fp32', 'input', 'the layer input (residual stream), one row per new token');
  tensor('rope_cos', [T, D / 2], 'fp32', 'constant', 'cos(position * inv_freq[i]) of new token t, i < D/2');
  tensor('rope_sin', [T, D / 2], 'fp32', 'constant', 'sin(position * inv_freq[i]) of new token t, i < D/2');
  tensor('k_cache', [B, nkv, S, D], prec.attention, 'state', 'keys (after RoPE): positions < past are inputs, the rest written by kv_append');
  tensor('v_cache', [B, nkv, S, D], prec.attention, 'state', 'values: positions < past are inputs, the rest written by kv_append');

  const ops: GraphOp[] = [];
  const ref = (n: string): TensorRef => {
    const t = tensors[n] ?? weights[n];
    if (!t) throw new Error(`internal: no tensor ${n}`);
    return { name: n, shape: t.shape, dtype: t.dtype };
  };
  const bytesOf = (n: string) => (tensors[n] ?? weights[n])!.bytes;
  const op = (
    name: string,
    attrs: OpAttrs,
    io: { in: string[]; out: string[]; w?: string[]; dtype?: ModelDtype },
    counts: { read?: number; written?: number; macs?: number; flops: number },
  ) => {
    const w = io.w ?? [];
    ops.push({
      name,
      kind: attrs.kind,
      inputs: io.in.map(ref),
      outputs: io.out.map(ref),
      weights: w.map(ref),
      dtype: io.dtype ?? 'fp32',
      weightBytes: w.reduce((a, n) => a + bytesOf(n), 0),
      activationBytesRead: counts.read ?? io.in.reduce((a, n) => a + bytesOf(n), 0),
      activationBytesWritten: counts.written ?? io.out.reduce((a, n) => a + bytesOf(n), 0),
      macs: counts.macs ?? 0,
      flops: counts.flops,
      attrs,
    });
  };

  const rmsnorm = (name: string, src: string, dst: string, weight: string) => {
    tensor(dst, [M, H], 'fp32', 'activation', `RMSNorm(${src}) * ${weight}`);
    op(name, { kind: 'rmsnorm', rows: M, dim: H, eps: config.rmsNormEps, weight }, { in: [src], out: [dst], w: [weight] }, { flops: 4 * M * H + 3 * M });
  };
  /** Quantise a [rows, cols] fp32 tensor for a matmul; returns the operand's name(s). */
  const quantize = (name: string, src: string, to: ModelDtype, rows: number, cols: number, shp: number[]): { data: string; scale: string | null } => {
    if (to === 'fp32') return { data: src, scale: null };
    const data = `${src}_q`;
    tensor(data, shp, to, 'activation', to === 'int8' ? `${src} as int8 codes, one scale per row` : `${src} rounded to ${to}`);
    let scale: string | null = null;
    if (to === 'int8') {
      scale = `${data}.scale`;
      tensor(scale, [rows], 'fp32', 'activation', `per-row int8 scale of ${src}: max|row| / 127`);
    }
    const flops = to === 'int8' ? 5 * rows * cols + rows : rows * cols;
    op(name, { kind: 'quantize', rows, cols, to, scale }, { in: [src], out: scale ? [data, scale] : [data] }, { flops });
    return { data, scale };
  };
  const linear = (name: string, src: { data: string; scale: string | null }, dst: string, out: number, inF: number) => {
    const w = [`${name}.weight`];
    const weightScale = weights[`${name}.scale`] ? `${name}.scale` : null;
    const bias = weights[`${name}.bias`] ? `${name}.bias` : null;
    if (weightScale) w.push(weightScale);
    if (bias) w.push(bias);
    tensor(dst, [M, out], 'fp32', 'activation', `${src.data} x ${name}.weight^T${bias ? ' + bias' : ''}`);
    const epilogue = (prec.linear === 'int8' ? 2 : 0) + (bias ? 1 : 0);
    op(
      name,
      { kind: 'linear', rows: M, inFeatures: inF, outFeatures: out, weight: `${name}.weight`, weightScale, bias, inputScale: src.scale },
      { in: src.scale ? [src.data, src.scale] : [src.data], out: [dst], w, dtype: prec.linear },
      { macs: M * inF * out, flops: epilogue * M * out },
    );
  };
  const rope = (name: string, src: string, dst: string, heads: number) => {
    tensor(dst, [M, heads * D], 'fp32', 'activation', `RoPE(${src})`);
    op(
      name,
      { kind: 'rope', rows: M, heads, headDim: D, theta: config.ropeTheta, scaling: config.ropeScaling, firstPosition: shape.past, tokens: T },
      { in: [src, 'rope_cos', 'rope_sin'], out: [dst] },
      { flops: 3 * M * heads * D },
    );
  };

  // ---- attention block ----
  rmsnorm('attn_norm', 'x', 'xn', 'attn_norm.weight');
  const xnq = quantize('attn_in_quant', 'xn', prec.linear, M, H, [M, H]);
  linear('q_proj', xnq, 'q', Q, H);
  linear('k_proj', xnq, 'k', KV, H);
  linear('v_proj', xnq, 'v', KV, H);
  rope('rope_q', 'q', 'q_rope', nh);
  rope('rope_k', 'k', 'k_rope', nkv);
  const qa = quantize('q_quant', 'q_rope', prec.attention, M, Q, [M, Q]);
  op(
    'kv_append',
    { kind: 'kv_append', cacheDtype: prec.attention, ...attn },
    { in: ['k_rope', 'v'], out: ['k_cache', 'v_cache'], dtype: prec.attention },
    { written: 2 * M * KV * DTYPE_BYTES[prec.attention], flops: 2 * M * KV },
  );
  tensor('scores', [B, nh, T, S], 'fp32', 'activation', 'q K^T per head (entries outside the causal window are never formed)');
  op(
    'attn_scores',
    { kind: 'attn_scores', ...attn },
    { in: [qa.data, 'k_cache'], out: ['scores'], dtype: prec.attention },
    { read: bytesOf(qa.data) + cacheRead, written: 4 * pairs, macs: pairs * D, flops: 0 },
  );
  tensor('probs', [B, nh, T, S], 'fp32', 'activation', 'softmax(scores / sqrt(head_dim)) over the attended keys; 0 elsewhere');
  op(
    'attn_softmax',
    { kind: 'softmax', scale: 1 / Math.sqrt(D), ...attn },
    { in: ['scores'], out: ['probs'] },
    { read: 4 * pairs, written: 4 * pairs, flops: 6 * pairs + B * nh * T },
  );
  let probs = 'probs';
  if (attnQuantised) {
    probs = 'probs_q';
    tensor(probs, [B, nh, T, S], prec.attention, 'activation', `probs rounded to ${prec.attention}`);
    op(
      'probs_quant',
      { kind: 'quantize', rows: B * nh * T, cols: S, to: prec.attention, scale: null },
      { in: ['probs'], out: [probs] },
      { read: 4 * pairs, written: DTYPE_BYTES[prec.attention] * pairs, flops: pairs },
    );
  }
  tensor('attn', [M, Q], 'fp32', 'activation', 'probs V per head, heads side by side');
  op(
    'attn_values',
    { kind: 'attn_values', ...attn },
    { in: [probs, 'v_cache'], out: ['attn'], dtype: prec.attention },
    { read: DTYPE_BYTES[prec.attention] * pairs + cacheRead, macs: pairs * D, flops: 0 },
  );
  const aq = quantize('attn_out_quant', 'attn', prec.linear, M, Q, [M, Q]);
  linear('o_proj', aq, 'o', H, Q);
  tensor('h', [M, H], 'fp32', 'activation', 'x + o');
  op('attn_residual', { kind: 'add', elements: M * H }, { in: ['x', 'o'], out: ['h'] }, { flops: M * H });

  // ---- MLP block ----
  rmsnorm('mlp_norm', 'h', 'hn', 'mlp_norm.weight');
  const hnq = quantize('mlp_in_quant', 'hn', prec.linear, M, H, [M, H]);
  linear('gate_proj', hnq, 'gate', I, H);
  linear('up_proj', hnq, 'up', I, H);
  tensor('act', [M, I], 'fp32', 'activation', `${config.hiddenAct}(gate)`);
  const actFlops = config.hiddenAct === 'relu' ? 1 : config.hiddenAct === 'silu' || config.hiddenAct === 'swish' ? 4 : 8;
  op('act', { kind: 'activation', fn: config.hiddenAct, elements: M * I }, { in: ['gate'], out: ['act'] }, { flops: actFlops * M * I });
  tensor('g', [M, I], 'fp32', 'activation', 'act * up');
  op('gated', { kind: 'mul', elements: M * I }, { in: ['act', 'up'], out: ['g'] }, { flops: M * I });
  const gq = quantize('mlp_out_quant', 'g', prec.linear, M, I, [M, I]);
  linear('down_proj', gq, 'down', H, I);
  tensor('y', [M, H], 'fp32', 'output', 'the layer output: h + down');
  op('mlp_residual', { kind: 'add', elements: M * H }, { in: ['h', 'down'], out: ['y'] }, { flops: M * H });

  const totals: GraphTotals = {
    weightBytes: weightList.reduce((a, w) => a + w.bytes, 0),
    matrixElements: weightList.filter((w) => w.kind === 'matrix').reduce((a, w) => a + w.elements, 0),
    weightElements: weightList.filter((w) => w.kind !== 'scale').reduce((a, w) => a + w.elements, 0),
    activationBytesRead: ops.reduce((a, o) => a + o.activationBytesRead, 0),
    activationBytesWritten: ops.reduce((a, o) => a + o.activationBytesWritten, 0),
    macs: ops.reduce((a, o) => a + o.macs, 0),
    flops: ops.reduce((a, o) => a + o.flops, 0),
    totalFlops: 0,
    kvCacheBytes: tensors.k_cache!.bytes + tensors.v_cache!.bytes,
  };
  totals.totalFlops = 2 * totals.macs + totals.flops;
  return {
    config,
    shape,
    tensors,
    weights,
    ops,
    inputs: ['x', 'rope_cos', 'rope_sin', 'k_cache', 'v_cache'],
    outputs: ['y', 'k_cache', 'v_cache'],
    totals,
  };
}
