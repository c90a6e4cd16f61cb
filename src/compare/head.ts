// The model's head as a chip program: the final RMSNorm, the int8 quantisation of its output and
// the LM head (the vocabulary projection, vocab x hidden int8: often the largest matrix), built as
// a three-op graph and compiled with the layer compiler's own lowerings (RMSNorm, quantise,
// weight-streamed matmul + dequantise) and its SRAM and MXM-plane machinery, so that its cycles
// come from the same kind of schedule as the layers' and are emulated like them.
//
// The vocabulary is split over the head's chips (linearShare's 'lm_head' case: each chip computes
// a contiguous slice of the logits; no all-reduce, sampling is out of scope). Every chip runs the
// same program with no chip-to-chip traffic, so a timing-only head is emulated on one chip: the
// others run the identical schedule (SPMD, no data). With values (tests) and several chips it runs
// as a system program like a tensor-parallel layer.
//
// It is compiled by the layer compiler's compileGraph (src/compiler/layer.ts); see docs/compare.md.
import type { ChipConfig } from '../chip/config.js';
import { mulberry32 } from '../asm/fill.js';
import type { ModelConfig } from '../models/config.js';
import { resolveShape, type GraphOp, type LayerGraph, type TensorSpec, type WeightSpec } from '../models/graph.js';
import { DTYPE_BYTES, quantizeRowsInt8, roundFloat, type FloatDtype, type ModelDtype } from '../models/quant.js';
import { streamSeed, type LayerInputs, type StoredWeights } from '../models/weights.js';
import { compileGraph, type CompiledLayer } from '../compiler/layer.js';
import { Schedule } from '../compiler/schedule.js';
import { WeightStore } from '../compiler/weight-store.js';
import { SfError } from '../util/errors.js';

export interface HeadOptions {
  chip: ChipConfig;
  /** Sequences: the head sees the last token of each (default 1). */
  batch?: number;
  dtype?: ModelDtype;
  /** Chips sharing the vocabulary (default: the fewest whose weight slices hold it). */
  chips?: number;
  /** No values: timing only (no weights generated). */
  timingOnly?: boolean;
  seed?: number;
  dataDir?: string;
}

export interface CompiledHead extends CompiledLayer {
  /** Chips the vocabulary is split over (the head's chip count). */
  ranks: number;
}

/**
 * The three ops of the head on `batch` rows (the last token of each sequence), in the layer's
 * precision: int8 (codes with a scale per row, and per vocabulary row for the weights) or a float
 * format (a cast, float weights), as buildLayerGraph quantises a projection's input.
 */
export function headGraph(config: ModelConfig, batch: number, dtype: ModelDtype): LayerGraph {
  const shape = resolveShape(config, { phase: 'decode', batch, tokens: 1, past: 0, dtype });
  const M = shape.rows;
  const H = config.hiddenSize;
  const V = config.vocabSize;
  const prec = shape.precision;
  const int8 = prec.linear === 'int8';
  const quantised = prec.linear !== 'fp32';
  const tensors: Record<string, TensorSpec> = {};
  const tensor = (name: string, sh: number[], dt: ModelDtype, kind: TensorSpec['kind'], description: string) => {
    const elements = sh.reduce((a, b) => a * b, 1);
    tensors[name] = { name, shape: sh, dtype: dt, kind, elements, bytes: elements * DTYPE_BYTES[dt], description };
  };
  const weight = (name: string, sh: number[], dt: ModelDtype, kind: WeightSpec['kind'], hfName: string | null): WeightSpec => {
    const elements = sh.reduce((a, b) => a * b, 1);
    return { name, hfName, shape: sh, dtype: dt, kind, elements, bytes: elements * DTYPE_BYTES[dt] };
  };
  const weights: Record<string, WeightSpec> = {
    'final_norm.weight': weight('final_norm.weight', [H], prec.side, 'gain', 'model.norm.weight'),
    'lm_head.weight': weight('lm_head.weight', [V, H], prec.linear, 'matrix', config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'),
  };
  if (int8) weights['lm_head.scale'] = weight('lm_head.scale', [V], 'fp32', 'scale', null);
  tensor('x', [M, H], 'fp32', 'input', 'the last layer output of the last token of each sequence');
  // what the reference evaluator sets up for any graph (unused by the head's ops)
  const D = config.headDim;
  tensor('rope_cos', [1, D / 2], 'fp32', 'constant', 'unused by the head');
  tensor('rope_sin', [1, D / 2], 'fp32', 'constant', 'unused by the head');
  tensor('k_cache', [batch, config.numKeyValueHeads, shape.seq, D], prec.attention, 'state', 'unused by the head');
  tensor('v_cache', [batch, config.numKeyValueHeads, shape.seq, D], prec.attention, 'state', 'unused by the head');
  tensor('xn', [M, H], 'fp32', 'activation', 'RMSNorm(x) * final_norm.weight');
  const operand = quantised ? 'xn_q' : 'xn';
  if (quantised) tensor('xn_q', [M, H], prec.linear, 'activation', int8 ? 'xn as int8 codes, one scale per row' : `xn rounded to ${prec.linear}`);
  if (int8) tensor('xn_q.scale', [M], 'fp32', 'activation', 'per-row int8 scale of xn');
  tensor('logits', [M, V], 'fp32', 'output', `${operand} x lm_head.weight^T`);
  const ref = (n: string) => {
    const t = tensors[n] ?? weights[n]!;
    return { name: n, shape: t.shape, dtype: t.dtype };
  };
  const headWeights = Object.keys(weights).filter((n) => n.startsWith('lm_head.'));
  const ops: GraphOp[] = [
    {
      name: 'final_norm', kind: 'rmsnorm', inputs: [ref('x')], outputs: [ref('xn')], weights: [ref('final_norm.weight')], dtype: 'fp32',
      weightBytes: weights['final_norm.weight']!.bytes, activationBytesRead: tensors.x!.bytes, activationBytesWritten: tensors.xn!.bytes,
      macs: 0, flops: 4 * M * H + 3 * M, attrs: { kind: 'rmsnorm', rows: M, dim: H, eps: config.rmsNormEps, weight: 'final_norm.weight' },
    },
  ];
  if (quantised) {
    const outs = int8 ? ['xn_q', 'xn_q.scale'] : ['xn_q'];
    ops.push({
      name: 'head_quant', kind: 'quantize', inputs: [ref('xn')], outputs: outs.map(ref), weights: [], dtype: 'fp32',
      weightBytes: 0, activationBytesRead: tensors.xn!.bytes, activationBytesWritten: outs.reduce((a, n) => a + tensors[n]!.bytes, 0),
      macs: 0, flops: int8 ? 5 * M * H + M : M * H, attrs: { kind: 'quantize', rows: M, cols: H, to: prec.linear, scale: int8 ? 'xn_q.scale' : null },
    });
  }
  const ins = int8 ? ['xn_q', 'xn_q.scale'] : [operand];
  ops.push({
    name: 'lm_head', kind: 'linear', inputs: ins.map(ref), outputs: [ref('logits')], weights: headWeights.map(ref), dtype: prec.linear,
    weightBytes: headWeights.reduce((a, n) => a + weights[n]!.bytes, 0),
    activationBytesRead: ins.reduce((a, n) => a + tensors[n]!.bytes, 0), activationBytesWritten: tensors.logits!.bytes,
    macs: M * H * V, flops: (int8 ? 2 : 0) * M * V,
    attrs: { kind: 'linear', rows: M, inFeatures: H, outFeatures: V, weight: 'lm_head.weight', weightScale: int8 ? 'lm_head.scale' : null, bias: null, inputScale: int8 ? 'xn_q.scale' : null },
  });
  const weightBytes = Object.values(weights).reduce((a, w) => a + w.bytes, 0);
  const macs = M * H * V;
  const flops = ops.reduce((a, o) => a + o.flops, 0);
  return {
    config, shape, tensors, weights, ops,
    inputs: ['x'],
    outputs: ['logits'],
    totals: {
      weightBytes,
      matrixElements: V * H,
      weightElements: V * H + H,
      activationBytesRead: ops.reduce((a, o) => a + o.activationBytesRead, 0),
      activationBytesWritten: ops.reduce((a, o) => a + o.activationBytesWritten, 0),
      macs, flops, totalFlops: 2 * macs + flops,
      kvCacheBytes: 0,
    },
  };
}

/** Seeded head weights and input (streams 19, 20, 21: after the layer's 0..18). */
function headValues(config: ModelConfig, graph: LayerGraph, seed: number): { weights: StoredWeights; inputs: LayerInputs } {
  const H = config.hiddenSize;
  const V = config.vocabSize;
  const draw = (j: number, n: number, lo: number, hi: number) => {
    const next = mulberry32(streamSeed(seed, j));
    return Float64Array.from({ length: n }, () => lo + (hi - lo) * next());
  };
  const prec = graph.shape.precision;
  const gain = draw(19, H, 0.75, 1.25).map((v) => roundFloat(v, prec.side));
  const raw = draw(20, V * H, -1 / Math.sqrt(H), 1 / Math.sqrt(H));
  const x = draw(21, graph.shape.rows * H, -1, 1).map((v) => Math.fround(v));
  const inputs = { x, kPast: new Float64Array(0), vPast: new Float64Array(0) };
  if (prec.linear === 'int8') {
    const q = quantizeRowsInt8(raw, V, H);
    return { weights: { 'final_norm.weight': gain, 'lm_head.weight': q.codes, 'lm_head.scale': q.scales }, inputs };
  }
  return { weights: { 'final_norm.weight': gain, 'lm_head.weight': raw.map((v) => roundFloat(v, prec.linear as FloatDtype)) }, inputs };
}

/** Int8 weight bytes one chip's MXM feeding slices hold. */
export function weightCapacity(chip: ChipConfig): number {
  return new WeightStore(new Schedule(chip)).capacityBytes(chip);
}

/** The fewest chips whose weight slices hold the LM head's matrix (the same 2% margin as the layer compiler). */
export function headChips(config: ModelConfig, chip: ChipConfig, dtype: ModelDtype = 'int8'): number {
  return Math.max(1, Math.ceil((config.vocabSize * config.hiddenSize * DTYPE_BYTES[dtype]) / (weightCapacity(chip) * 0.98)));
}


/** Compile the head for the chip (see the file header). */
export function compileHead(config: ModelConfig, o: HeadOptions): CompiledHead {
  const chip = o.chip;
  const batch = o.batch ?? 1;
  const dtype = o.dtype ?? 'int8';
  const graph = headGraph(config, batch, dtype);
  const wbytes = DTYPE_BYTES[graph.shape.precision.linear];
  const ranks = o.chips ?? headChips(config, chip, graph.shape.precision.linear);
  if (!Number.isInteger(ranks) || ranks < 1) throw new SfError(`head chips must be a positive integer, not ${ranks}`);
  const cap = weightCapacity(chip);
  const per = Math.ceil(config.vocabSize / ranks) * config.hiddenSize * wbytes;
  if (per > cap * 0.98) {
    throw new SfError(`the LM head (${config.vocabSize} x ${config.hiddenSize} ${graph.shape.precision.linear}) does not fit on ${ranks} x ${chip.name}: try ${headChips(config, chip, graph.shape.precision.linear)} chips`);
  }
  const timingOnly = o.timingOnly === true;
  // several chips with values run as a system program (node-N presets exist for 2, 4, 8)
  if (!timingOnly && ranks > 1 && ![2, 4, 8].includes(ranks)) throw new SfError(`a head with values runs on 1, 2, 4 or 8 chips, not ${ranks}`);
  const { weights, inputs } = timingOnly
    ? {
        weights: {
          'final_norm.weight': new Float64Array(config.hiddenSize),
          'lm_head.weight': new Float64Array(0),
          ...(graph.weights['lm_head.scale'] ? { 'lm_head.scale': new Float64Array(config.vocabSize) } : {}),
        },
        inputs: { x: new Float64Array(graph.shape.rows * config.hiddenSize), kPast: new Float64Array(0), vPast: new Float64Array(0) },
      }
    : headValues(config, graph, o.seed ?? 1);

  // several chips with values run as a system program; timing only, one chip stands for all
  const system = !timingOnly && ranks > 1;
  const layer = compileGraph(config, graph, weights, inputs, {
    chip, system, timingOnly, dataDir: o.dataDir ?? 'head.data',
    // no heads or intermediate features are split here: only the vocabulary (linearShare 'lm_head')
    share: { rank: 0, ranks, heads: config.numAttentionHeads, kvHeads: config.numKeyValueHeads, intermediate: config.intermediateSize },
    title: `${config.name ?? 'model'} head (final norm, ${graph.shape.precision.linear} operand, LM head ${config.vocabSize} x ${config.hiddenSize}): batch ${batch}, vocabulary split over ${ranks} x ${chip.name}${timingOnly && ranks > 1 ? ' (every chip runs this program; one is emulated)' : ''}`,
  });
  return { ...layer, ranks };
}

