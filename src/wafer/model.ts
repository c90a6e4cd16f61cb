// An analytical model of decode and prefill on wafer-scale SRAM systems (Cerebras-style): every
// weight and the whole KV cache live in on-wafer SRAM, layers are laid out as a pipeline over
// regions of cores. Analytical, not emulated: nothing here runs a program; it counts bytes and
// flops of the same layer graph the SRAM chip is compiled from (src/models/graph.ts) and prices
// them with the preset's figures and a stated pipeline assumption.
//
// The layout (the assumption the figures rest on):
//  - capacity: the model's bytes (weights, embedding table, LM head, the KV cache of every
//    sequence in flight) fill `wafers = ceil(bytes / (sramGB x usableSramFraction))` wafers,
//    spread evenly over all their cores;
//  - regions: each pipeline stage (one decoder layer; the final norm with the LM head) owns a
//    region of cores in proportion to the bytes it holds, so its share of the SRAM bandwidth and
//    of the peak is that fraction; the embedding table holds SRAM but is only gathered from;
//  - a stage's time for a micro-batch is stageLatencyUs (moving the activation across the region,
//    reductions, synchronisation) + max(bytes it reads / its bandwidth, flops / its compute);
//    where the pipeline crosses from one wafer to the next it also pays interWaferLatencyUs plus
//    the activation's bytes over interWaferGBps;
//  - decode: a token passes every stage in turn, so per-token latency is the sum of the stages.
//    With `microBatches` groups of `batch` sequences in flight the stages overlap, and each group
//    makes a token every max(latency, microBatches x slowest stage);
//  - prefill: the prompt streams through the pipeline in chunks of prefillChunkTokens; the time
//    to first token is when the last chunk leaves the LM head.
import { slidingWindowFor, type ModelConfig } from '../models/config.js';
import { buildLayerGraph, type AttentionAttrs, type Phase } from '../models/graph.js';
import { DTYPE_BYTES } from '../models/quant.js';
import { SfError } from '../util/errors.js';
import { withWaferKnobs, type WaferKnobs, type WaferPreset } from './preset.js';

export const WAFER_LABEL = 'analytical, not emulated';

/** Number formats of the weights: 16-bit, or int8 with fp32 per-channel scales (16-bit KV cache). */
export const WAFER_DTYPES = ['bf16', 'fp16', 'int8'] as const;
export type WaferDtype = (typeof WAFER_DTYPES)[number];

export interface WaferRunOptions {
  dtype?: WaferDtype;
  /** Sequences per micro-batch (default 1). */
  batch?: number;
  /** Micro-batches in flight in the layer pipeline (default 1). */
  microBatches?: number;
  knobs?: Partial<WaferKnobs>;
}

export interface WaferDecodeOptions extends WaferRunOptions {
  /** Tokens already in each sequence's KV cache. */
  context: number;
}

export interface WaferPrefillOptions extends WaferRunOptions {
  prompt: number;
}

/** One pipeline stage, for one micro-batch (decode) or the last prompt chunk (prefill). */
export interface WaferStage {
  /** layer.<i>, or lm_head (final norm + LM head). */
  name: string;
  /** SRAM the stage holds: its weights and its KV cache for every sequence in flight. */
  capacityBytes: number;
  /** Its share of the wafers' cores, bandwidth and peak: capacityBytes / all bytes held. */
  share: number;
  /** SRAM bytes read and written for the micro-batch: weights, the KV positions attended, new K and V. */
  bytes: number;
  /** Floating-point operations (2 x MACs + vector work). */
  flops: number;
  memSeconds: number;
  computeSeconds: number;
  /** Inter-wafer hops paid entering this stage, and their time. */
  hops: number;
  hopSeconds: number;
  /** stageLatencyUs + max(memSeconds, computeSeconds) + hopSeconds. */
  seconds: number;
  bound: 'memory' | 'compute';
}

export interface WaferEstimate {
  label: typeof WAFER_LABEL;
  phase: Phase;
  wafer: string;
  model: string;
  dtype: WaferDtype;
  batch: number;
  microBatches: number;
  /** New tokens per sequence (decode 1, prefill the prompt). */
  tokens: number;
  /** Tokens in each sequence's cache before the step. */
  past: number;
  /** Wafers (systems) needed to hold weights + KV cache. */
  wafers: number;
  weightBytes: number;
  kvCacheBytes: number;
  /** SRAM usable per wafer for weights and cache. */
  usableBytesPerWafer: number;
  /** Decode: per-token latency of one micro-batch; prefill: time to first token. */
  seconds: number;
  /** Decode: time between tokens of one sequence with every micro-batch in flight. */
  tokenIntervalSeconds: number;
  /** The slowest stage. */
  maxStageSeconds: number;
  /** stageLatencyUs x stages: the part of `seconds` that is the pipeline/fabric assumption. */
  fixedSeconds: number;
  stages: WaferStage[];
  /** Decode: 1 / tokenIntervalSeconds. Prefill: prompt tokens / seconds for one sequence. */
  tokensPerSecondPerUser: number;
  /** Decode: batch x microBatches / tokenIntervalSeconds. Prefill: batch x prompt / seconds. */
  systemTokensPerSecond: number;
  /** powerW x wafers x the step (decode: one token interval; prefill: the time to first token). */
  energyJoules: number;
  energyPerTokenJoules: number;
}

function intAtLeast(what: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new SfError(`${what} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

interface StageWork {
  name: string;
  bytes: number;
  flops: number;
  /** Activation rows leaving the stage (for a hop after it). */
  rows: number;
}

/** The decoder layers' work for one micro-batch of `batch` sequences, `tokens` new tokens after `past`. */
function layerWork(config: ModelConfig, dtype: WaferDtype, batch: number, tokens: number, past: number, phase: Phase): StageWork[] {
  const byWindow = new Map<string, StageWork>();
  const out: StageWork[] = [];
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const key = String(slidingWindowFor(config, l));
    let w = byWindow.get(key);
    if (!w) {
      const g = buildLayerGraph(config, { phase, batch, tokens, past, dtype, layer: l });
      const a = g.ops.find((o) => o.kind === 'attn_scores')!.attrs as AttentionAttrs;
      const kvb = DTYPE_BYTES[g.shape.precision.attention];
      const kvRead = 2 * batch * a.kvHeads * a.keysRead * a.headDim * kvb;
      const kvWrite = 2 * batch * tokens * a.kvHeads * a.headDim * kvb;
      w = { name: '', bytes: g.totals.weightBytes + kvRead + kvWrite, flops: g.totals.totalFlops, rows: batch * tokens };
      byWindow.set(key, w);
    }
    out.push({ ...w, name: `layer.${l}` });
  }
  return out;
}

/** Bytes held per layer: weights, and the KV cache of `sequences` sequences of `seq` tokens. */
function layerCapacity(config: ModelConfig, dtype: WaferDtype, sequences: number, seq: number): { weights: number; kv: number }[] {
  const out: { weights: number; kv: number }[] = [];
  const byWindow = new Map<string, { weights: number; kv: number }>();
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const key = String(slidingWindowFor(config, l));
    let c = byWindow.get(key);
    if (c === undefined) {
      const g = buildLayerGraph(config, { phase: 'decode', batch: sequences, tokens: 1, past: seq - 1, dtype, layer: l });
      c = { weights: g.totals.weightBytes, kv: g.totals.kvCacheBytes };
      byWindow.set(key, c);
    }
    out.push(c);
  }
  return out;
}

/** LM head weights in the run's format (int8: one byte each plus an fp32 scale per vocabulary row). */
function headWeightBytes(config: ModelConfig, dtype: WaferDtype): number {
  const V = config.vocabSize;
  const H = config.hiddenSize;
  return dtype === 'int8' ? V * H + V * 4 : V * H * 2;
}

/** The head stage's work: the final RMSNorm and the LM head on the last token of `batch` sequences. */
function headWork(config: ModelConfig, dtype: WaferDtype, batch: number): StageWork {
  const H = config.hiddenSize;
  const V = config.vocabSize;
  return { name: 'lm_head', bytes: headWeightBytes(config, dtype) + H * 2 + batch * V * 4, flops: 2 * batch * H * V + 4 * batch * H, rows: batch };
}

interface Layout {
  wafers: number;
  weightBytes: number;
  kvCacheBytes: number;
  usable: number;
  /** Capacity of each timed stage (layers..., lm_head). */
  capacity: number[];
  total: number;
  /** Inter-wafer crossings charged on entering each timed stage. */
  hops: number[];
}

function layout(p: WaferPreset, config: ModelConfig, dtype: WaferDtype, sequences: number, seq: number): Layout {
  const layers = layerCapacity(config, dtype, sequences, seq);
  const head = headWeightBytes(config, dtype);
  // The embedding table is 16-bit; tied embeddings share the head's copy when the head is 16-bit too.
  const embedding = config.tieWordEmbeddings && dtype !== 'int8' ? 0 : config.vocabSize * config.hiddenSize * 2;
  const capacity = [...layers.map((c) => c.weights + c.kv), head];
  const total = embedding + capacity.reduce((a, b) => a + b, 0);
  const kvCacheBytes = layers.reduce((a, c) => a + c.kv, 0);
  const usable = p.sramGB * 1e9 * p.knobs.usableSramFraction;
  const wafers = Math.max(1, Math.ceil(total / usable));
  // Stages fill the wafers in order, each wafer holding total / wafers; the crossing at k x that
  // is charged to the first timed stage that reaches past it.
  const hops = capacity.map(() => 0);
  const per = total / wafers;
  let end = embedding;
  let k = 1;
  for (let s = 0; s < capacity.length; s++) {
    end += capacity[s]!;
    while (k < wafers && k * per <= end * (1 + 1e-12)) {
      hops[s]!++;
      k++;
    }
  }
  return { wafers, weightBytes: total - kvCacheBytes, kvCacheBytes, usable, capacity, total, hops };
}

function stageTimes(p: WaferPreset, lay: Layout, work: StageWork[], hiddenSize: number): WaferStage[] {
  const k = p.knobs;
  const bw = lay.wafers * p.sramTBps * 1e12 * k.sramBwEfficiency;
  const peak = lay.wafers * p.peakTflops * 1e12 * k.computeEfficiency;
  return work.map((w, s) => {
    const share = lay.capacity[s]! / lay.total;
    const memSeconds = w.bytes / (bw * share);
    const computeSeconds = w.flops / (peak * share);
    const hops = lay.hops[s]!;
    // The activation entering this stage crosses the wafer boundary: the previous stage's rows.
    const rows = s > 0 ? work[s - 1]!.rows : w.rows;
    const hopSeconds = hops * (k.interWaferLatencyUs * 1e-6 + (rows * hiddenSize * 2) / (p.interWaferGBps * 1e9));
    const seconds = k.stageLatencyUs * 1e-6 + Math.max(memSeconds, computeSeconds) + hopSeconds;
    return {
      name: w.name,
      capacityBytes: lay.capacity[s]!,
      share,
      bytes: w.bytes,
      flops: w.flops,
      memSeconds,
      computeSeconds,
      hops,
      hopSeconds,
      seconds,
      bound: computeSeconds > memSeconds ? 'compute' : 'memory',
    };
  });
}

function common(presetIn: WaferPreset, o: WaferRunOptions) {
  const p = o.knobs ? withWaferKnobs(presetIn, o.knobs) : presetIn;
  const dtype = o.dtype ?? 'bf16';
  if (!(WAFER_DTYPES as readonly string[]).includes(dtype)) throw new SfError(`dtype must be one of ${WAFER_DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
  const batch = intAtLeast('batch', o.batch ?? 1, 1);
  const microBatches = intAtLeast('microBatches', o.microBatches ?? 1, 1);
  return { p, dtype, batch, microBatches };
}

/** One decode step: each sequence of a micro-batch makes one token after `context` cached ones. */
export function waferDecode(preset: WaferPreset, config: ModelConfig, o: WaferDecodeOptions): WaferEstimate {
  const { p, dtype, batch, microBatches } = common(preset, o);
  const past = intAtLeast('context', o.context, 0);
  const lay = layout(p, config, dtype, batch * microBatches, past + 1);
  const work = [...layerWork(config, dtype, batch, 1, past, 'decode'), headWork(config, dtype, batch)];
  const stages = stageTimes(p, lay, work, config.hiddenSize);
  const latency = stages.reduce((a, s) => a + s.seconds, 0);
  const maxStage = Math.max(...stages.map((s) => s.seconds));
  const interval = Math.max(latency, microBatches * maxStage);
  const tokens = batch * microBatches;
  const energy = p.powerW * lay.wafers * interval;
  return {
    label: WAFER_LABEL,
    phase: 'decode',
    wafer: p.name,
    model: config.name,
    dtype,
    batch,
    microBatches,
    tokens: 1,
    past,
    wafers: lay.wafers,
    weightBytes: lay.weightBytes,
    kvCacheBytes: lay.kvCacheBytes,
    usableBytesPerWafer: lay.usable,
    seconds: latency,
    tokenIntervalSeconds: interval,
    maxStageSeconds: maxStage,
    fixedSeconds: stages.length * p.knobs.stageLatencyUs * 1e-6,
    stages,
    tokensPerSecondPerUser: 1 / interval,
    systemTokensPerSecond: tokens / interval,
    energyJoules: energy,
    energyPerTokenJoules: energy / tokens,
  };
}

/** Prefill of `prompt` tokens for each sequence of one micro-batch: the time to first token. */
export function waferPrefill(preset: WaferPreset, config: ModelConfig, o: WaferPrefillOptions): WaferEstimate {
  const { p, dtype, batch, microBatches } = common(preset, o);
  const prompt = intAtLeast('prompt', o.prompt, 1);
  const lay = layout(p, config, dtype, batch * microBatches, prompt);
  const chunk = Math.min(prompt, p.knobs.prefillChunkTokens);
  // Finish times of the previous chunk at each stage (a stage takes one chunk at a time).
  let prev: number[] = [];
  let last: WaferStage[] = [];
  for (let start = 0; start < prompt; start += chunk) {
    const tokens = Math.min(chunk, prompt - start);
    const final = start + tokens === prompt;
    const work = [...layerWork(config, dtype, batch, tokens, start, 'prefill'), headWork(config, dtype, batch)];
    const stages = stageTimes(p, lay, work, config.hiddenSize);
    // Only the last chunk's last tokens go through the LM head.
    if (!final) stages[stages.length - 1] = { ...stages[stages.length - 1]!, bytes: 0, flops: 0, memSeconds: 0, computeSeconds: 0, seconds: 0 };
    const fin: number[] = [];
    for (let s = 0; s < stages.length; s++) {
      const ready = Math.max(prev[s] ?? 0, s > 0 ? fin[s - 1]! : 0);
      fin.push(ready + stages[s]!.seconds);
    }
    prev = fin;
    last = stages;
  }
  const ttft = prev[prev.length - 1]!;
  const energy = p.powerW * lay.wafers * ttft;
  const tokens = batch * prompt;
  return {
    label: WAFER_LABEL,
    phase: 'prefill',
    wafer: p.name,
    model: config.name,
    dtype,
    batch,
    microBatches,
    tokens: prompt,
    past: 0,
    wafers: lay.wafers,
    weightBytes: lay.weightBytes,
    kvCacheBytes: lay.kvCacheBytes,
    usableBytesPerWafer: lay.usable,
    seconds: ttft,
    tokenIntervalSeconds: ttft,
    maxStageSeconds: Math.max(...last.map((s) => s.seconds)),
    fixedSeconds: last.length * p.knobs.stageLatencyUs * 1e-6,
    stages: last,
    tokensPerSecondPerUser: prompt / ttft,
    systemTokensPerSecond: tokens / ttft,
    energyJoules: energy,
    energyPerTokenJoules: energy / tokens,
  };
}

/** Wafers needed to hold the model's weights and the KV cache of `sequences` sequences of `tokens` tokens. */
export function wafersNeeded(preset: WaferPreset, config: ModelConfig, o: { dtype?: WaferDtype; sequences?: number; tokens: number }): number {
  const dtype = o.dtype ?? 'bf16';
  return layout(preset, config, dtype, intAtLeast('sequences', o.sequences ?? 1, 1), intAtLeast('tokens', o.tokens, 1)).wafers;
}
