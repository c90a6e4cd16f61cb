// The HBM accelerator model: a per-kernel roofline over the layer graph (src/models/graph.ts).
//
// The graph's ops are grouped into the kernels a tuned inference stack launches (KERNELS below:
// fused QKV, fused gate/up, residual-add fused into the next RMSNorm, one fused attention
// kernel). Each kernel's time is
//     max(bytes / (BW x bwEfficiency(bytes) x parallelism), flops / (peak[dtype] x computeEfficiency x waveUtil))
// where bytes is its HBM traffic (weights, the KV positions it reads, activations that cross
// kernel boundaries), flops the tensor-unit work of its matmuls. Kernels run back to back with a
// gap each; without CUDA Graphs the host launches each one and the GPU idles when kernels are
// shorter than a launch; a forward pass adds a fixed step overhead. Tensor parallelism (tp.ts)
// runs a narrower layer per chip plus two all-reduces per layer. Whole-model pieces: the
// embedding gather, N layers, the final norm and the LM head (sampling is out of scope).
//
// The knobs live in the preset (preset.ts) and each one is explained in docs/gpu-model.md.
import { slidingWindowFor, type ModelConfig } from '../models/config.js';
import { buildLayerGraph, type GraphOp, type LayerGraph } from '../models/graph.js';
import { DTYPE_BYTES, type ModelDtype } from '../models/quant.js';
import { SfError } from '../util/errors.js';
import { withKnobs, type GpuKnobs, type GpuPreset, type PeakDtype } from './preset.js';
import { allGatherSeconds, allReduceSeconds, splitConfig } from './tp.js';

/**
 * Precision schemes of the weights and matmuls:
 *  - bf16, fp16: 16-bit weights, activations and math;
 *  - fp8, int8: 8-bit weights and activations (W8A8), 8-bit tensor math; the LM head stays 16-bit;
 *  - int8-wo: weight-only int8 (int8 weights, 16-bit activations and math, as gpt-fast's
 *    int8 mode), LM head included.
 * Weights are priced as the graph's int8 (one byte each plus an fp32 scale per output channel).
 */
export const GPU_DTYPES = ['bf16', 'fp16', 'fp8', 'int8', 'int8-wo'] as const;
export type GpuDtype = (typeof GPU_DTYPES)[number];

/** KV cache formats. */
export const KV_DTYPES = ['bf16', 'fp16', 'fp8'] as const;
export type KvDtype = (typeof KV_DTYPES)[number];

export interface GpuRunOptions {
  /** Precision scheme (default bf16). */
  dtype?: GpuDtype;
  /** Tensor-parallel chips (default 1). */
  tp?: number;
  /** Launch the step as one CUDA Graph (default true). */
  cudaGraphs?: boolean;
  /** Split-KV (Flash-Decoding) decode attention (default true). */
  splitKv?: boolean;
  /** KV cache format (default: the scheme's 16-bit type, fp16 for fp16 and int8 schemes, else bf16). */
  kvDtype?: KvDtype;
  /** Knob overrides for this run (validated like preset knobs). */
  knobs?: Partial<GpuKnobs>;
}

export interface DecodeOptions extends GpuRunOptions {
  /** Sequences decoded together (default 1). */
  batch?: number;
  /** Tokens already in each sequence's KV cache. */
  context: number;
}

export interface PrefillOptions extends GpuRunOptions {
  /** Prompts processed together (default 1). */
  batch?: number;
  /** Prompt length in tokens. */
  prompt: number;
}

/** One kernel of the step: its per-instance figures and how many instances the step runs. */
export interface KernelEstimate {
  /** Kernel name: embedding, attn_norm, qkv_proj, rope_kv, attention, attn_reduce, o_proj, mlp_norm, gate_up_proj, act, down_proj, final_norm, lm_head, all_reduce, all_gather. */
  name: string;
  /** The graph ops it runs (empty for kernels outside the layer graph). */
  ops: string[];
  /** Instances per step (layers, or 1). */
  count: number;
  /** HBM bytes moved per instance (per chip). */
  bytes: number;
  /** Tensor-unit flops per instance (2 x MACs, per chip). */
  flops: number;
  memSeconds: number;
  computeSeconds: number;
  /** Collective time (all_reduce/all_gather only). */
  commSeconds: number;
  /** GPU time per instance: max(memSeconds, computeSeconds) (+ reduceSeconds) or commSeconds. */
  seconds: number;
  bound: 'memory' | 'compute' | 'link';
  /** GEMMs: K slices of a split-K run (1: no split). */
  splitK?: number;
  /** Split-K GEMMs: the reduction of the partial sums (its in-graph gap and its bytes), included in seconds. */
  reduceSeconds?: number;
}

export interface StepEstimate {
  phase: 'decode' | 'prefill';
  gpu: string;
  model: string;
  dtype: GpuDtype;
  kvDtype: KvDtype;
  tp: number;
  batch: number;
  /** New tokens per sequence in this step (1 for decode, the prompt for prefill). */
  tokens: number;
  /** Tokens in each sequence's cache before the step. */
  past: number;
  cudaGraphs: boolean;
  splitKv: boolean;
  /** Wall time of the step (decode: per-token latency; prefill: time to first token). */
  seconds: number;
  /** GPU busy time: sum of kernel times (collectives included). */
  busySeconds: number;
  /** seconds - busySeconds: gaps between kernels, launch stalls, the step overhead. */
  overheadSeconds: number;
  /** Time in collectives. */
  commSeconds: number;
  /** Busy time per kernel name, summed over instances. */
  byKernel: Record<string, number>;
  /**
   * Wall time per kernel name: each instance's run plus the gap and any launch wait before it.
   * Sums to seconds minus the graph launch and the step overhead.
   */
  wallByKernel: Record<string, number>;
  kernels: KernelEstimate[];
  /** Kernel launches per step. */
  launches: number;
  /** Weights held per chip, bytes. */
  weightBytesPerChip: number;
  /** KV cache held per chip after the step, bytes (GQA: kv heads, not query heads). */
  kvCacheBytesPerChip: number;
  /** HBM traffic per chip per step, bytes. */
  hbmBytesPerChip: number;
  /** Tensor-unit flops per chip per step. */
  flopsPerChip: number;
  /** Weights + KV cache fit in HBM (activations and runtime reserves not counted). */
  fitsInHbm: boolean;
  /** Achieved HBM bandwidth: hbmBytesPerChip / seconds / peak. */
  bandwidthUtilization: number;
  /** Achieved tensor throughput: flopsPerChip / seconds / peak of the scheme's math type. */
  computeUtilization: number;
  /** Decode: batch / seconds (tokens/s over all sequences); prefill: prompt tokens / seconds. */
  tokensPerSecond: number;
  /** Energy estimate: powerW x tp x seconds (joules). */
  energyJoules: number;
  /** energyJoules per token (decode: per generated token; prefill: per prompt token). */
  energyPerTokenJoules: number;
}

/** Which graph ops each kernel runs. The residual add is fused into the RMSNorm after it. */
export const KERNELS: { name: string; ops: string[] }[] = [
  { name: 'attn_norm', ops: ['attn_norm', 'attn_in_quant', 'mlp_residual'] },
  { name: 'qkv_proj', ops: ['q_proj', 'k_proj', 'v_proj'] },
  { name: 'rope_kv', ops: ['rope_q', 'rope_k', 'q_quant', 'kv_append'] },
  { name: 'attention', ops: ['attn_scores', 'attn_softmax', 'probs_quant', 'attn_values'] },
  { name: 'o_proj', ops: ['attn_out_quant', 'o_proj'] },
  { name: 'mlp_norm', ops: ['attn_residual', 'mlp_norm', 'mlp_in_quant'] },
  { name: 'gate_up_proj', ops: ['gate_proj', 'up_proj'] },
  { name: 'act', ops: ['act', 'gated', 'mlp_out_quant'] },
  { name: 'down_proj', ops: ['down_proj'] },
];

/** Activation bytes per element in HBM between kernels (GPU stacks keep them 16-bit). */
const ACT_BYTES = 2;

interface Ctx {
  preset: GpuPreset;
  knobs: GpuKnobs;
  dtype: GpuDtype;
  kvDtype: KvDtype;
  kvBytes: number;
  mathDtype: PeakDtype;
  halfDtype: PeakDtype;
  tp: number;
  cudaGraphs: boolean;
  splitKv: boolean;
}

function oneOf<T extends string>(what: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new SfError(`${what} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

function intAtLeast(what: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new SfError(`${what} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function context(presetIn: GpuPreset, o: GpuRunOptions): Ctx {
  const preset = o.knobs ? withKnobs(presetIn, o.knobs) : presetIn;
  const dtype = oneOf('dtype', o.dtype ?? 'bf16', GPU_DTYPES);
  const halfDtype: PeakDtype = dtype === 'fp16' ? 'fp16' : preset.peakTflops.bf16 !== null ? 'bf16' : 'fp16';
  const mathDtype: PeakDtype = dtype === 'fp8' || dtype === 'int8' ? dtype : dtype === 'int8-wo' ? halfDtype : dtype;
  if (preset.peakTflops[mathDtype] === null) {
    const have = (Object.keys(preset.peakTflops) as PeakDtype[]).filter((d) => preset.peakTflops[d] !== null);
    throw new SfError(`${preset.name} has no ${mathDtype} tensor math (peakTflops.${mathDtype} is null); its peaks: ${have.join(', ')}`, preset.file);
  }
  const kvDtype = oneOf('kvDtype', o.kvDtype ?? (dtype === 'bf16' ? 'bf16' : 'fp16'), KV_DTYPES);
  if (kvDtype === 'fp8' && preset.peakTflops.fp8 === null) {
    throw new SfError(`${preset.name} has no fp8 support (peakTflops.fp8 is null), so kvDtype fp8 is not available`, preset.file);
  }
  const tp = intAtLeast('tp', o.tp ?? 1, 1);
  return {
    preset,
    knobs: preset.knobs,
    dtype,
    kvDtype,
    kvBytes: kvDtype === 'fp8' ? 1 : 2,
    mathDtype,
    halfDtype,
    tp,
    cudaGraphs: o.cudaGraphs ?? true,
    splitKv: o.splitKv ?? true,
  };
}

/** Graph dtype whose byte counts match the scheme's weights. */
function graphDtype(dtype: GpuDtype): ModelDtype {
  return dtype === 'bf16' ? 'bf16' : dtype === 'fp16' ? 'fp16' : 'int8';
}

/** HBM bandwidth efficiency for a kernel moving `bytes`: the knob's curve, log-interpolated. */
export function bandwidthEfficiency(knobs: GpuKnobs, bytes: number): number {
  const pts = knobs.bwEfficiency;
  const mb = bytes / 1e6;
  if (mb <= pts[0]![0]) return pts[0]![1];
  for (let i = 1; i < pts.length; i++) {
    const [x1, y1] = pts[i]!;
    if (mb <= x1) {
      const [x0, y0] = pts[i - 1]!;
      const f = Math.log(mb / x0) / Math.log(x1 / x0);
      return y0 + f * (y1 - y0);
    }
  }
  return pts[pts.length - 1]![1];
}

/** Fraction of the compute units busy over the waves of `tiles` tiles. */
export function waveUtilization(tiles: number, units: number): number {
  if (tiles <= 0) return 1;
  return tiles / (Math.ceil(tiles / units) * units);
}

function kernelTime(
  c: Ctx,
  name: string,
  ops: string[],
  bytes: number,
  flops: number,
  opt: { peak?: PeakDtype; tiles?: number; parallelism?: number; weightOnly?: boolean } = {},
): KernelEstimate {
  const p = c.preset;
  let eff = bandwidthEfficiency(c.knobs, bytes) * (opt.parallelism ?? 1);
  if (opt.weightOnly) eff *= c.knobs.weightOnlyBwFactor;
  const memSeconds = bytes / (p.hbmGBps * 1e9 * eff);
  let computeSeconds = 0;
  if (flops > 0) {
    const d = opt.peak ?? c.mathDtype;
    const peak = p.peakTflops[d]! * 1e12;
    const ce = c.knobs.computeEfficiency[d]!;
    const util = opt.tiles === undefined ? 1 : waveUtilization(opt.tiles, p.computeUnits);
    computeSeconds = flops / (peak * ce * util);
  }
  const seconds = Math.max(memSeconds, computeSeconds);
  return { name, ops, count: 1, bytes, flops, memSeconds, computeSeconds, commSeconds: 0, seconds, bound: computeSeconds > memSeconds ? 'compute' : 'memory' };
}

/**
 * A GEMM y[rows, n] = x[rows, k] W^T moving `bytes` (weights and activations), priced as a GEMM
 * library runs it:
 *  - wide tiles (rows >= gemmTile's): gemmTile output tiles spread over the compute units, one
 *    per unit per wave, no split-K (waveUtilization; what prefill-sized GEMMs run);
 *  - skinny (fewer rows than gemmTile's): skinnyTile tiles; when they fill under half
 *    the compute units, K is split into S = floor(units / tiles) slices so every unit streams
 *    weights. The slices write fp32 partial sums (S x rows x n x 4 bytes) that a reduction reads
 *    back: one more dependent kernel, priced as an in-graph gap (graphKernelUs; its host launch,
 *    if any, hides behind the GEMM's run) plus its bytes.
 */
function gemmKernel(
  c: Ctx,
  name: string,
  ops: string[],
  g: { rows: number; n: number; k: number; bytes: number; flops: number; peak?: PeakDtype; weightOnly?: boolean },
): KernelEstimate {
  const [tm, tn] = c.knobs.gemmTile;
  const wideTiles = Math.ceil(g.rows / tm) * Math.ceil(g.n / tn);
  const base = { ...(g.peak ? { peak: g.peak } : {}), ...(g.weightOnly ? { weightOnly: true } : {}) };
  if (g.rows >= tm) return { ...kernelTime(c, name, ops, g.bytes, g.flops, { ...base, tiles: wideTiles }), splitK: 1 };
  const [sm, sn] = c.knobs.skinnyTile;
  const units = c.preset.computeUnits;
  const tiles = Math.ceil(g.rows / sm) * Math.ceil(g.n / sn);
  const split = 2 * tiles <= units ? Math.max(1, Math.min(Math.floor(units / tiles), Math.floor(g.k / SPLIT_K_MIN))) : 1;
  const partials = split > 1 ? split * g.rows * g.n * 4 : 0;
  const skinny = kernelTime(c, name, ops, g.bytes + partials, g.flops, { ...base, tiles: tiles * split });
  if (split > 1) {
    const reduce = kernelTime(c, name, [], partials, 0);
    const reduceSeconds = c.knobs.graphKernelUs * 1e-6 + reduce.seconds;
    Object.assign(skinny, { seconds: skinny.seconds + reduceSeconds, reduceSeconds });
  }
  return { ...skinny, splitK: split };
}

/** The shortest K slice a split-K GEMM makes (one slice still runs a pipelined main loop). */
const SPLIT_K_MIN = 256;

/** Bytes per element of a graph tensor once it sits in GPU memory between kernels. */
function tensorBytes(c: Ctx, dtype: ModelDtype): number {
  if (dtype === 'fp32') return ACT_BYTES;
  if (dtype === 'int8' && c.dtype === 'int8-wo') return ACT_BYTES; // weight-only: activations stay 16-bit
  return DTYPE_BYTES[dtype];
}

/** The kernels of one layer graph (per chip). */
function layerKernels(c: Ctx, g: LayerGraph): KernelEstimate[] {
  const byName = new Map(g.ops.map((o) => [o.name, o]));
  const producer = new Map<string, string>(); // tensor -> kernel
  const consumers = new Map<string, Set<string>>(); // tensor -> kernels
  const groups = KERNELS.map((k) => ({ name: k.name, ops: k.ops.map((n) => byName.get(n)).filter((o): o is GraphOp => o !== undefined) }));
  const known = new Set(KERNELS.flatMap((k) => k.ops));
  const stray = g.ops.filter((o) => !known.has(o.name)).map((o) => o.name);
  if (stray.length > 0) throw new Error(`internal: graph ops with no GPU kernel: ${stray.join(', ')}`);
  for (const k of groups) {
    for (const o of k.ops) {
      for (const t of o.outputs) producer.set(t.name, k.name);
      for (const t of o.inputs) {
        if (!consumers.has(t.name)) consumers.set(t.name, new Set());
        consumers.get(t.name)!.add(k.name);
      }
    }
  }
  const cache = new Set(['k_cache', 'v_cache']);
  const elements = (t: string) => g.tensors[t]!.elements * tensorBytes(c, g.tensors[t]!.dtype);
  const shape = g.shape;
  const cfg = g.config;
  const out: KernelEstimate[] = [];
  for (const k of groups) {
    if (k.ops.length === 0) continue;
    const ins = new Set<string>();
    const outs = new Set<string>();
    for (const o of k.ops) {
      for (const t of o.inputs) if (!cache.has(t.name) && producer.get(t.name) !== k.name) ins.add(t.name);
      for (const t of o.outputs) {
        if (cache.has(t.name)) continue;
        const used = consumers.get(t.name);
        const external = g.outputs.includes(t.name) || (used !== undefined && [...used].some((n) => n !== k.name));
        if (external) outs.add(t.name);
      }
    }
    let bytes = k.ops.reduce((a, o) => a + o.weightBytes, 0);
    for (const t of ins) bytes += elements(t);
    for (const t of outs) bytes += elements(t);
    const macs = k.ops.reduce((a, o) => a + o.macs, 0);
    const ops = k.ops.map((o) => o.name);

    if (k.name === 'rope_kv') {
      // The new keys and values written into the cache.
      bytes += 2 * shape.rows * cfg.numKeyValueHeads * cfg.headDim * c.kvBytes;
      out.push(kernelTime(c, k.name, ops, bytes, 0));
      continue;
    }
    if (k.name === 'attention') {
      const a = k.ops[0]!.attrs as Extract<GraphOp['attrs'], { kind: 'attn_scores' }>;
      // K and V of every attended position, once per kv head (GQA: kv heads, not query heads).
      bytes += 2 * a.batch * a.kvHeads * a.keysRead * a.headDim * c.kvBytes;
      if (shape.phase === 'decode' && a.tokens === 1) {
        const splits = c.splitKv ? Math.max(1, Math.ceil(a.keysRead / c.knobs.splitKvTokens)) : 1;
        const ctas = a.batch * a.heads * splits;
        const parallelism = Math.min(1, ctas / c.preset.computeUnits);
        out.push(kernelTime(c, k.name, ops, bytes, 2 * macs, { peak: c.halfDtype, parallelism }));
        if (splits > 1) {
          // Flash-Decoding's second kernel: combine the partial outputs (fp32 values + log-sum-exp).
          const partial = a.batch * a.heads * splits * (a.headDim + 1) * 4;
          out.push(kernelTime(c, 'attn_reduce', [], partial + a.batch * a.heads * a.headDim * ACT_BYTES, 0));
        }
      } else {
        const tiles = a.batch * a.heads * Math.ceil(a.tokens / c.knobs.gemmTile[0]);
        out.push(kernelTime(c, k.name, ops, bytes, 2 * macs, { peak: c.halfDtype, tiles }));
      }
      continue;
    }
    const linears = k.ops.filter((o) => o.kind === 'linear');
    if (linears.length > 0) {
      const n = linears.reduce((a, o) => a + (o.attrs as { outFeatures: number }).outFeatures, 0);
      const kIn = (linears[0]!.attrs as { inFeatures: number }).inFeatures;
      out.push(gemmKernel(c, k.name, ops, { rows: shape.rows, n, k: kIn, bytes, flops: 2 * macs, weightOnly: c.dtype === 'int8-wo' }));
      continue;
    }
    out.push(kernelTime(c, k.name, ops, bytes, 0));
  }
  return out;
}

/**
 * One 16-bit linear layer alone, y[rows, out] = x[rows, in] W^T, priced as layerKernels prices a
 * projection kernel: its weights plus its input and output activations in HBM, 2 x rows x in x
 * out flops, as gemmKernel runs it (wide tiles, or skinny tiles with split-K). `seconds` excludes the per-kernel cost
 * (graphKernelUs in a CUDA Graph, launchUs without). For comparing single kernels with
 * measurements (calibrate.ts); decodeStep and prefill price the same shapes the same way.
 */
export function linearKernel(
  preset: GpuPreset,
  o: { rows: number; inFeatures: number; outFeatures: number; dtype?: 'bf16' | 'fp16'; knobs?: Partial<GpuKnobs> },
): KernelEstimate {
  const c = context(preset, { dtype: oneOf('dtype', o.dtype ?? 'bf16', ['bf16', 'fp16'] as const), ...(o.knobs ? { knobs: o.knobs } : {}) });
  const rows = intAtLeast('rows', o.rows, 1);
  const k = intAtLeast('inFeatures', o.inFeatures, 1);
  const n = intAtLeast('outFeatures', o.outFeatures, 1);
  const bytes = k * n * 2 + rows * (k + n) * ACT_BYTES;
  return gemmKernel(c, 'linear', [], { rows, n, k, bytes, flops: 2 * rows * k * n });
}

/** A purely memory-bound kernel moving `bytes` (read plus written), e.g. a device-to-device copy. */
export function streamKernel(preset: GpuPreset, bytes: number, knobs?: Partial<GpuKnobs>): KernelEstimate {
  const c = context(preset, knobs ? { knobs } : {});
  if (!(bytes > 0) || !Number.isFinite(bytes)) throw new SfError(`bytes must be a finite number > 0, got ${bytes}`);
  return kernelTime(c, 'stream', [], bytes, 0);
}

/** Sets of layers that share a graph: [layer index to build, how many layers]. */
function layerClasses(config: ModelConfig): [number, number][] {
  const seen = new Map<string, [number, number]>();
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const key = String(slidingWindowFor(config, l));
    const e = seen.get(key);
    if (e) e[1]++;
    else seen.set(key, [l, 1]);
  }
  return [...seen.values()];
}

interface Piece {
  k: KernelEstimate;
  count: number;
}

function estimate(presetIn: GpuPreset, config: ModelConfig, o: GpuRunOptions, phase: 'decode' | 'prefill', batch: number, tokens: number, past: number): StepEstimate {
  const c = context(presetIn, o);
  const p = c.preset;
  const chip = splitConfig(config, c.tp);
  const H = config.hiddenSize;
  const rows = batch * tokens;
  const gdt = graphDtype(c.dtype);

  // Pieces (a kernel and its instances per step) and the step's kernel sequence, in order.
  const pieces: Piece[] = [];
  const sequence: KernelEstimate[] = [];
  const add = (k: KernelEstimate, count = 1) => {
    pieces.push({ k, count });
    for (let r = 0; r < count; r++) sequence.push(k);
  };
  const collective = (name: string, s: number): KernelEstimate => {
    return { name, ops: [], count: 1, bytes: 0, flops: 0, memSeconds: 0, computeSeconds: 0, commSeconds: s, seconds: s, bound: 'link' };
  };

  // Embedding: gather one row per token (16-bit table, replicated on every chip).
  add(kernelTime(c, 'embedding', [], rows * H * (2 + ACT_BYTES) + rows * 8, 0));

  let weightBytes = config.vocabSize * H * 2; // the embedding table
  let kvCache = 0;
  for (const [layer, count] of layerClasses(config)) {
    const g = buildLayerGraph(chip, { phase, batch, tokens, past, dtype: gdt, layer });
    weightBytes += g.totals.weightBytes * count;
    kvCache += (g.totals.kvCacheBytes / DTYPE_BYTES[g.shape.precision.attention]) * c.kvBytes * count;
    const block: KernelEstimate[] = [];
    for (const k of layerKernels(c, g)) {
      block.push(k);
      if (c.tp > 1 && (k.name === 'o_proj' || k.name === 'down_proj')) {
        block.push(collective('all_reduce', allReduceSeconds(p, c.tp, rows * H * ACT_BYTES)));
      }
    }
    for (const k of block) pieces.push({ k, count });
    for (let r = 0; r < count; r++) sequence.push(...block);
  }

  // Final norm over the step's rows, then the LM head on the last token of each sequence.
  add(kernelTime(c, 'final_norm', [], rows * H * ACT_BYTES * 2 + H * 2, 0));
  const headBytes = c.dtype === 'int8-wo' ? 1 : 2;
  const vocabPerChip = Math.ceil(config.vocabSize / c.tp);
  const headWeights = vocabPerChip * H * headBytes + (headBytes === 1 ? vocabPerChip * 4 : 0);
  if (!config.tieWordEmbeddings || c.tp > 1 || headBytes !== 2) weightBytes += headWeights;
  const headIo = batch * H * ACT_BYTES + batch * vocabPerChip * 4;
  add(
    gemmKernel(c, 'lm_head', [], {
      rows: batch,
      n: vocabPerChip,
      k: H,
      bytes: headWeights + headIo,
      flops: 2 * batch * H * vocabPerChip,
      peak: c.halfDtype,
      weightOnly: c.dtype === 'int8-wo',
    }),
  );
  if (c.tp > 1) add(collective('all_gather', allGatherSeconds(p, c.tp, batch * config.vocabSize * 4)));

  // The timeline: kernels run back to back, each after a fixed per-kernel cost: the launch
  // without CUDA Graphs, the smaller in-graph gap with them (plus one launch for the graph).
  // Each kernel's wall share is its run plus the cost before it, as a per-op profile shows it.
  const perKernel = (c.cudaGraphs ? c.knobs.graphKernelUs : c.knobs.launchUs) * 1e-6;
  const wallByKernel: Record<string, number> = {};
  let end = c.cudaGraphs ? c.knobs.launchUs * 1e-6 : 0;
  for (const k of sequence) {
    wallByKernel[k.name] = (wallByKernel[k.name] ?? 0) + perKernel + k.seconds;
    end += perKernel + k.seconds;
  }
  const seconds = end + c.knobs.stepOverheadUs * 1e-6;

  const byKernel: Record<string, number> = {};
  const kernels: KernelEstimate[] = [];
  let busy = 0;
  let comm = 0;
  let hbm = 0;
  let flops = 0;
  for (const x of pieces) {
    const k = { ...x.k, count: x.count };
    kernels.push(k);
    byKernel[k.name] = (byKernel[k.name] ?? 0) + k.seconds * k.count;
    busy += k.seconds * k.count;
    comm += k.commSeconds * k.count;
    hbm += k.bytes * k.count;
    flops += k.flops * k.count;
  }
  const newTokens = phase === 'decode' ? batch : batch * tokens;
  const energyJoules = p.powerW * c.tp * seconds;
  return {
    phase,
    gpu: p.name,
    model: config.name,
    dtype: c.dtype,
    kvDtype: c.kvDtype,
    tp: c.tp,
    batch,
    tokens,
    past,
    cudaGraphs: c.cudaGraphs,
    splitKv: c.splitKv,
    seconds,
    busySeconds: busy,
    overheadSeconds: seconds - busy,
    commSeconds: comm,
    byKernel,
    wallByKernel,
    kernels,
    launches: sequence.length,
    weightBytesPerChip: weightBytes,
    kvCacheBytesPerChip: kvCache,
    hbmBytesPerChip: hbm,
    flopsPerChip: flops,
    fitsInHbm: weightBytes + kvCache <= p.hbmGB * 1e9,
    bandwidthUtilization: hbm / seconds / (p.hbmGBps * 1e9),
    computeUtilization: flops / seconds / (p.peakTflops[c.mathDtype]! * 1e12),
    tokensPerSecond: newTokens / seconds,
    energyJoules,
    energyPerTokenJoules: energyJoules / newTokens,
  };
}

/** One decode step: every sequence of the batch generates one token after `context` cached ones. */
export function decodeStep(preset: GpuPreset, config: ModelConfig, options: DecodeOptions): StepEstimate {
  const batch = intAtLeast('batch', options.batch ?? 1, 1);
  const past = intAtLeast('context', options.context, 0);
  return estimate(preset, config, options, 'decode', batch, 1, past);
}

/** Prefill of `prompt` tokens per sequence: the time to first token (sampling excluded). */
export function prefill(preset: GpuPreset, config: ModelConfig, options: PrefillOptions): StepEstimate {
  const batch = intAtLeast('batch', options.batch ?? 1, 1);
  const prompt = intAtLeast('prompt', options.prompt, 1);
  return estimate(preset, config, options, 'prefill', batch, prompt, 0);
}

/**
 * KV-cache bytes of the whole model: 2 (K and V) x layers x kv heads x head_dim x bytes per
 * token per sequence. Uses num_key_value_heads (GQA), not num_attention_heads.
 */
export function kvCacheBytes(config: ModelConfig, o: { batch?: number; tokens: number; kvDtype?: KvDtype }): number {
  const bytes = (o.kvDtype ?? 'bf16') === 'fp8' ? 1 : 2;
  return 2 * (o.batch ?? 1) * config.numHiddenLayers * config.numKeyValueHeads * config.headDim * bytes * o.tokens;
}
