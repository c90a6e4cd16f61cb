// The layer compiler's driver: one decoder layer of a model config (src/models graph) into one
// chip program with a static schedule, its predicted cycle count, a per-op breakdown, the chip
// roofline and a symbol table, plus the data files the program loads.
//
// Ops are lowered in graph order, each from the cycle on which the previous op's outputs are all
// in SRAM (an op boundary): the schedule inside an op is as tight as streams, ports and units
// allow, and each op's cycles are its own in the breakdown. See docs/compiler.md.
import type { ChipConfig } from '../chip/config.js';
import { floorplan } from '../chip/floorplan.js';
import { SfError } from '../util/errors.js';
import type { ModelConfig } from '../models/config.js';
import { buildLayerGraph, type GraphOp, type LayerGraph, type LayerOptions } from '../models/graph.js';
import { randomInputs, randomWeights, storeWeights, type LayerInputs, type StoredWeights } from '../models/weights.js';
import { runReference } from '../models/reference.js';
import type { Act, LayerCtx, Lowering, Share } from './context.js';
import { lastGroupWeightsBound, lowerAccReduce, lowerDequant, lowerMatmul } from './linear.js';
import { encodeF32 } from './rows.js';
import { Schedule } from './schedule.js';
import { FitError, Sram } from './sram.js';
import { lowerActivation, lowerBinary, lowerQuantizeFloat, lowerQuantizeInt8, lowerRmsNorm } from './vector-ops.js';
import { maxGroupsPerPlane, WeightStore, WeightsFull } from './weight-store.js';
import { ATTENTION, OWN_WAIT } from './registry.js';
import './attention.js'; // registers the attention lowerings and read-back decoders

export interface CompileLayerOptions extends LayerOptions {
  chip: ChipConfig;
  /** Chips sharing the layer (tensor parallel); default: the fewest that hold it. */
  chips?: number;
  /** Seed of the generated weights and inputs (default 1). */
  seed?: number;
  weights?: StoredWeights;
  inputs?: LayerInputs;
  /** Compile the ops up to and including this one only (tests). */
  stopAfter?: string;
  /** Start at this op: the tensors it and later ops need from earlier ops are placed as data,
   * from the reference (a segment of the layer: tests, and layers whose early ops are skipped). */
  from?: string;
  /** Data files go to `<dataDir>/<tensor>.bin` (default "layer.data"); per chip under ${chip}/. */
  dataDir?: string;
  /** No data at all (no weights generated, tensors start as zeros): for timing-only runs of big
   * layers, where the values do not matter and generating them costs seconds and gigabytes. */
  timingOnly?: boolean;
  /** Called as each op is lowered (progress of long compiles). */
  onOp?: OnOp;
}

/** Progress of a compile: op `index` of `ops` is being lowered, for `chips` chips. */
export type OnOp = (op: string, index: number, ops: number, chips: number) => void;

export interface OpTiming {
  name: string;
  kind: string;
  start: number;
  end: number;
  cycles: number;
  units: string[];
  /** What bounds it: the op's own floor on this chip, in words and cycles. */
  bound: string;
  floorCycles: number;
}

export interface Roofline {
  cycles: number;
  weightCycles: number;
  macCycles: number;
  /** Unavoidable chip-to-chip time of the tensor-parallel partition (0 on one chip). */
  c2cCycles: number;
  bound: string;
}

export interface SymbolEntry {
  tensor: string;
  chip: string;
  dtype: string;
  shape: [number, number];
  at: string;
}

export interface CompiledLayer {
  config: ModelConfig;
  graph: LayerGraph;
  chip: ChipConfig;
  chips: number;
  weights: StoredWeights;
  inputs: LayerInputs;
  source: string;
  dataDir: string;
  /** Data files by path relative to the program (per chip when chips > 1). */
  data: Map<string, Uint8Array>;
  predictedCycles: number;
  ops: OpTiming[];
  roofline: Roofline;
  symbols: SymbolEntry[];
  /** Graph tensor -> its layout on the chip (the same on every chip). */
  acts: Map<string, Act>;
  /** Ops compiled (all, or up to stopAfter). */
  compiled: string[];
}


function lowering(op: GraphOp): Lowering[] {
  const a = op.attrs;
  switch (a.kind) {
    case 'rmsnorm':
      return [lowerRmsNorm];
    case 'quantize':
      if (a.to === 'int8') return [lowerQuantizeInt8];
      if (!ATTENTION.has(op.name)) return [lowerQuantizeFloat];
      break;
    case 'linear':
      return [lowerMatmul, lowerAccReduce, lowerDequant];
    case 'add':
    case 'mul':
      return [lowerBinary];
    case 'activation':
      return [lowerActivation];
    default:
      break;
  }
  const l = ATTENTION.get(op.name);
  if (!l) throw new SfError(`the layer compiler has no lowering for op ${op.name} (${op.kind})`);
  return [l];
}

/** Tensor-parallel shares: heads, kv heads and intermediate features divide evenly. */
export function shareFor(config: ModelConfig, ranks: number, rank = 0): Share {
  const bad = [
    [config.numAttentionHeads, 'num_attention_heads'],
    [config.numKeyValueHeads, 'num_key_value_heads'],
    [config.intermediateSize, 'intermediate_size'],
  ].find(([n]) => (n as number) % ranks !== 0);
  if (bad) throw new SfError(`${ranks} chips cannot share a layer: ${bad[1]} (${bad[0]}) is not a multiple of ${ranks}`);
  return { rank, ranks, heads: config.numAttentionHeads / ranks, kvHeads: config.numKeyValueHeads / ranks, intermediate: config.intermediateSize / ranks };
}

function chipRoofline(chip: ChipConfig, graph: LayerGraph, ranks: number): Roofline {
  const S = chip.streamsPerDirection;
  const streamBytes = 2 * S * chip.lanes;
  // a float weight set is lanes/2 rows and its MM issues in 2 cycles: a quarter of the int8 rate
  const macsPerCycle = (2 * chip.mxmPlanesPerHemisphere * chip.lanes * chip.lanes) / (graph.shape.precision.linear === 'int8' ? 1 : 4);
  // what must cross the streams into the MXMs: the weights, and the KV cache that attention
  // installs as weight sets (q K^T, P V) once a step
  const weightCycles = Math.ceil((graph.totals.weightBytes + graph.totals.kvCacheBytes) / ranks / streamBytes);
  const macCycles = Math.ceil(graph.totals.macs / ranks / macsPerCycle);
  const c2cCycles = c2cFloor(chip, graph, ranks);
  const c2c = c2cCycles ? ` + ${c2cCycles} cycles of C2C (tensor-parallel exchanges)` : '';
  return weightCycles >= macCycles
    ? { cycles: weightCycles + c2cCycles, weightCycles, macCycles, c2cCycles, bound: `weight and KV-cache bytes / stream bandwidth into the MXMs (${streamBytes} B/cycle)${c2c}` }
    : { cycles: macCycles + c2cCycles, weightCycles, macCycles, c2cCycles, bound: `MACs / MXM peak (${macsPerCycle} ${graph.shape.precision.linear} MAC/cycle)${c2c}` };
}

/**
 * The C2C time no schedule of this partition avoids: the two all-reduces of the row-split
 * projections' int32 sums (M x ceil(hidden / lanes) rows of 4 stream vectors) and the two
 * all-reduces of split rows' maxima (ceil(M / lanes) packed rows), each at least min(1, 2/N) of its rows per link
 * (a reduce-scatter then all-gather moves 2/N of them) plus one link latency.
 */
function c2cFloor(chip: ChipConfig, graph: LayerGraph, ranks: number): number {
  if (ranks < 2 || !graph.ops.some((op) => op.name === 'o_proj' || op.name === 'down_proj')) return 0;
  const M = graph.shape.rows;
  const busy = 4 * chip.c2cVectorCycles;
  const exchange = (rows: number) => Math.ceil(rows * Math.min(1, 2 / ranks)) * busy + chip.c2cLatencyCycles;
  const quantised = graph.shape.precision.linear === 'int8';
  // (the row maxima of M rows pack into ceil(M / lanes) vectors: vector-ops.ts)
  return 2 * exchange(M * Math.ceil(graph.config.hiddenSize / chip.lanes)) + (quantised ? 2 * exchange(Math.ceil(M / chip.lanes)) : 0);
}

/** The floor of one op on this chip and what it is (a lower bound, not a promise: ops are
 * placed one after another where they depend on each other). */
function opFloor(chip: ChipConfig, op: GraphOp, ranks: number): { cycles: number; bound: string } {
  const streamBytes = 2 * chip.streamsPerDirection * chip.lanes;
  if (op.kind === 'linear') return { cycles: Math.ceil(op.weightBytes / ranks / streamBytes), bound: 'its weights through the streams into the MXMs' };
  const vectors = Math.ceil((op.activationBytesRead + op.activationBytesWritten) / ranks / chip.lanes);
  const streams = Math.ceil(vectors / (2 * chip.streamsPerDirection));
  if (op.macs > 0) {
    const macs = Math.ceil(op.macs / ranks / (2 * chip.mxmPlanesPerHemisphere * chip.lanes * chip.lanes));
    return { cycles: Math.max(macs, streams), bound: 'its operands through the streams / the MXM peak' };
  }
  // a reduction across lanes makes at least one trip VXM -> SXM -> VXM
  const reduces = op.kind === 'rmsnorm' || op.kind === 'softmax' || (op.kind === 'quantize' && op.attrs.kind === 'quantize' && op.attrs.to === 'int8');
  const plan = floorplan(chip);
  const pos = (n: string) => plan.slices.find((x) => x.name === n)!.position;
  const trip = 2 * Math.abs(pos('SXM.E') - pos('VXM')) * chip.hopCycles + chip.delays.sxmReduce;
  return reduces
    ? { cycles: streams + trip, bound: 'its operands through the streams + one SXM round trip' }
    : { cycles: streams, bound: 'its operands through the streams' };
}

/** How compileGraph shares the graph over chips and names what it made. */
export interface GraphCompileOptions {
  chip: ChipConfig;
  share: Share;
  /** Run as a system program of share.ranks chips (per-chip data, `.system node-N`); false: the
   * program of one chip (timing only: every chip runs the same schedule). */
  system: boolean;
  timingOnly?: boolean;
  dataDir?: string;
  stopAfter?: string;
  from?: string;
  /** The first header line of the program (what it is). */
  title: string;
  onOp?: OnOp;
  /** Activations may take the top of the last feeding groups' slices when the activation pairs
   * are full (Sram headroom): the last resort, when no more chips can share the layer. */
  headroom?: boolean;
}

/** Compiles one layer for `ranks` chips (the program every chip runs, with per-chip data). */
function compileFor(config: ModelConfig, o: CompileLayerOptions, graph: LayerGraph, weights: StoredWeights, inputs: LayerInputs, ranks: number, headroom = false): CompiledLayer {
  const sh = graph.shape;
  return compileGraph(config, graph, weights, inputs, {
    chip: o.chip, share: shareFor(config, ranks), system: ranks > 1, timingOnly: o.timingOnly, dataDir: o.dataDir, stopAfter: o.stopAfter, from: o.from, onOp: o.onOp, headroom,
    title: `${config.name ?? 'model'} layer ${sh.layer}, ${sh.phase}: batch ${sh.batch}, ${sh.tokens} new token(s), ${sh.past} past, dtype ${sh.dtype}, on ${ranks} x ${o.chip.name}`,
  });
}

/** Compiles a graph of layer-format ops (a decoder layer, or the model's head) for one chip's
 * share: every op lowered in graph order from the cycle its inputs are in SRAM. */
export function compileGraph(config: ModelConfig, graph: LayerGraph, weights: StoredWeights, inputs: LayerInputs, o: GraphCompileOptions): CompiledLayer {
  // the fewest feeding groups that hold this chip's weights; the rest of SRAM holds activations
  // (and the decode KV cache in the last groups, or, where the weights then do not fit beside
  // it, in the activation slices: a batch of long sequences)
  const most = maxGroupsPerPlane(o.chip);
  const withGroups = (cacheNear: boolean): CompiledLayer => {
    for (let groups = WeightStore.groupsFor(o.chip, matrixBytes(graph) / o.share.ranks); ; groups++) {
      try {
        return compileWith(config, graph, weights, inputs, o, groups, cacheNear);
      } catch (e) {
        if (!(e instanceof WeightsFull) || groups >= most) throw e;
      }
    }
  };
  try {
    return withGroups(false);
  } catch (e) {
    // (only a decode layer keeps its cache in the groups: attention.ts)
    const decodeCache = graph.shape.tokens === 1 && graph.ops.some((op) => op.name === 'kv_append');
    if (!(e instanceof WeightsFull) || !decodeCache) throw e;
    return withGroups(true);
  }
}

function compileWith(config: ModelConfig, graph: LayerGraph, weights: StoredWeights, inputs: LayerInputs, o: GraphCompileOptions, groups: number, cacheNear: boolean): CompiledLayer {
  const chip = o.chip;
  const ranks = o.share.ranks;
  const sch = new Schedule(chip);
  const weightStore = new WeightStore(sch, groups);
  const sram = new Sram(sch, weightStore.activationSlices, o.timingOnly === true, weightStore.spareSlices, o.headroom ? weightStore.planes.flatMap((pl) => pl.groups[pl.groups.length - 1]!) : []);
  const ctx: LayerCtx = {
    chip, sch, sram, weightStore, graph, weights, inputs,
    share: o.share,
    acts: new Map(),
    timingOnly: o.timingOnly === true,
    vxm: sch.position('VXM'),
    units: new Set(),
    fused: new Map(),
    deferred: [],
    cacheNear,
  };
  // the weights' share of the last feeding groups (the groups fill first to last), kept from the
  // activations that find every activation pair full
  if (o.headroom) sram.reserveForWeights(lastGroupWeightsBound(ctx, graph.ops));
  const { rows: M } = graph.shape;
  const H = config.hiddenSize;
  const L = chip.lanes;
  // the input, replicated on every chip
  const xt = sram.alloc('x', 'fp32', M * Math.ceil(H / L), { data: encodeF32(inputs.x, M, H, L) });
  ctx.acts.set('x', { t: xt, tokens: M, tiles: Math.ceil(H / L), per: L, cols: H, first: 0 });

  const ops: OpTiming[] = [];
  const compiled: string[] = [];
  const first = o.from ? graph.ops.findIndex((op) => op.name === o.from) : 0;
  if (first < 0) throw new SfError(`no op "${o.from}" in the layer graph`);
  if (first > 0) {
    // the segment's inputs from earlier ops: residual-stream tensors [M, hidden], from the reference
    const ref = o.timingOnly ? null : runReference(graph, weights, inputs);
    const made = new Set(graph.ops.slice(first).flatMap((op) => op.outputs.map((t) => t.name)));
    for (const op of graph.ops.slice(first)) {
      for (const t of op.inputs) {
        if (made.has(t.name) || ctx.acts.has(t.name) || graph.weights[t.name]) continue;
        if (t.shape.length !== 2 || t.shape[1] !== H || t.dtype !== 'fp32') throw new SfError(`a segment from ${o.from} needs ${t.name}, which is not a [tokens, hidden] fp32 tensor`);
        const tt = sram.alloc(t.name, 'fp32', M * Math.ceil(H / L), { data: ref ? encodeF32(ref.values[t.name]!, M, H, L) : undefined });
        ctx.acts.set(t.name, { t: tt, tokens: M, tiles: Math.ceil(H / L), per: L, cols: H, first: 0 });
      }
    }
  }
  // each op starts when its inputs are in SRAM (ops that do not depend on each other overlap,
  // and the Schedule's reservations keep them apart)
  const ready = new Map<string, number>();
  const began = new Map<string, number>();
  const todo = graph.ops.slice(first);
  for (const op of todo) {
    o.onOp?.(op.name, ops.length, todo.length, ranks);
    ctx.units = new Set();
    // (but an input whose rows the lowering waits for itself, registry.ts OWN_WAIT, counts from
    // the cycle its producer began; a state tensor, which holds the past from the start, from 0)
    const own = OWN_WAIT.get(op.name)?.(op, graph) ?? [];
    const from = (t: { name: string }) => (!own.includes(t.name) ? ready.get(t.name) : graph.tensors[t.name]?.kind === 'state' ? 0 : began.get(t.name));
    const start = Math.max(0, ...op.inputs.map((t) => from(t) ?? 0));
    // the stages of an op (matmul, all-reduce, dequantise) all start with the op: each row waits
    // for its own producer (Schedule.checkReady), so they overlap row by row
    let end = start;
    for (const lower of lowering(op)) end = Math.max(end, lower(ctx, op, start));
    for (const t of op.outputs) {
      ready.set(t.name, end);
      began.set(t.name, start);
    }
    const into = ctx.fused.get(op.name);
    const f = into ? { cycles: 0, bound: `done by ${into} (fused)` } : opFloor(chip, op, ranks);
    ops.push({ name: op.name, kind: op.kind, start, end, cycles: end - start, units: [...ctx.units].sort(), bound: f.bound, floorCycles: f.cycles });
    compiled.push(op.name);
    if (o.stopAfter === op.name) break;
  }
  // what ops left to place last, in the gaps (their ops end when these are done)
  for (const job of ctx.deferred!) {
    const t = ops.find((x) => x.name === job.op)!;
    t.end = Math.max(t.end, job.place());
    t.cycles = t.end - t.start;
  }
  const outputs = new Set(graph.outputs);
  for (const t of sch.tensors) if (outputs.has(t.name)) t.output = true;

  const dataDir = o.dataDir ?? 'layer.data';
  const perChip = o.system && ranks > 1;
  const data = new Map<string, Uint8Array>();
  for (const t of sch.tensors) {
    if (!t.data) continue;
    const arr = Array.isArray(t.data) ? t.data : null;
    for (let r = 0; r < (perChip ? ranks : 1); r++) {
      const bytes = arr ? arr[r] ?? arr[0] : (t.data as Uint8Array);
      data.set(Schedule.dataFile(perChip ? `${dataDir}/${r}` : dataDir, t.name), bytes);
    }
  }
  const predictedCycles = sch.predictedCycles();
  const roofline = chipRoofline(chip, graph, ranks);
  const header = [
    o.title,
    `generated by sramflow's layer compiler (src/compiler/layer.ts); predicted ${predictedCycles} cycles; chip roofline ${roofline.cycles} cycles (${roofline.bound})`,
    ...ops.map((op) => `  ${op.name.padEnd(16)} ${String(op.cycles).padStart(8)} cycles  from ${op.start}  [${op.units.join(' ')}]`),
  ];
  const lines = perChip ? [`.system node-${ranks}`, '.program all'] : [];
  const source = sch.toSource(header, { dataDir: perChip ? `${dataDir}/\${chip}` : dataDir, lines });
  const symbols: SymbolEntry[] = sch.tensors.map((t) => ({
    tensor: t.name,
    chip: perChip ? 'every chip' : '0',
    dtype: t.dtype,
    shape: [t.rows, t.cols],
    at: t.placement.map((p) => `${p.slice}:${p.addr}`).join(', '),
  }));
  return { config, graph, chip, chips: perChip ? ranks : 1, weights, inputs, source, dataDir, data, predictedCycles, ops, roofline, symbols, acts: ctx.acts, compiled };
}

/** Chip counts to try: those that divide the heads, kv heads and intermediate size. */
export function chipCounts(config: ModelConfig, max = 64): number[] {
  const out: number[] = [];
  for (let n = 1; n <= max; n *= 2) {
    if (config.numAttentionHeads % n === 0 && config.numKeyValueHeads % n === 0 && config.intermediateSize % n === 0) out.push(n);
  }
  return out;
}

/** Compile a layer: on `chips` chips, or on the fewest that hold it. */
export function compileLayer(config: ModelConfig, o: CompileLayerOptions): CompiledLayer {
  const graph = buildLayerGraph(config, o);
  let stored: { weights: StoredWeights; inputs: LayerInputs } | null = null;
  const data = () => (stored ??= o.timingOnly ? placeholders(config, graph) : {
    weights: o.weights ?? storeWeights(config, randomWeights(config, o.seed ?? 1), graph.shape.precision),
    inputs: o.inputs ?? randomInputs(config, graph.shape, o.seed ?? 1),
  });
  if (o.chips !== undefined) {
    if (!Number.isInteger(o.chips) || o.chips < 1) throw new SfError(`--chips must be a positive integer, not ${o.chips}`);
    shareFor(config, o.chips);
    if (!fitsRoughly(o.chip, graph, o.chips)) {
      const need = chipCounts(config).find((n) => n > o.chips! && fitsRoughly(o.chip, graph, n));
      const ws = new WeightStore(new Schedule(o.chip));
      throw new SfError(`the layer's weights (${mib(matrixBytes(graph))} of int8 matrices) do not fit on ${o.chips} x ${o.chip.name} (${mib(ws.capacityBytes(o.chip) * o.chips)} of weight slices)${need ? `: try --chips ${need}` : ''}`);
    }
    // (the chips asked for, with the weight slices' headroom if the activations need it)
    let miss: FitError | null = null;
    for (const headroom of [false, true]) {
      try {
        return compileFor(config, o, graph, data().weights, data().inputs, o.chips, headroom);
      } catch (e) {
        if (!(e instanceof FitError)) throw e;
        miss = e;
      }
    }
    const need = chipCounts(config).find((n) => n > o.chips! && fitsRoughly(o.chip, graph, n));
    throw new SfError(`${miss!.message}; the layer does not fit on ${o.chips} x ${o.chip.name}${need ? `: try --chips ${need}` : ''}`);
  }
  // the fewest chips that hold the layer; the weight slices' headroom only where no chip count
  // holds it without (more chips keep the activations near the VXM: Llama-2-7B's 128-token
  // prefill fits 2 chips with it, and runs in half the cycles on 4 without)
  let last: FitError | null = null;
  for (const headroom of [false, true]) {
    for (const n of chipCounts(config)) {
      if (!fitsRoughly(o.chip, graph, n)) continue;
      try {
        return compileFor(config, o, graph, data().weights, data().inputs, n, headroom);
      } catch (e) {
        if (!(e instanceof FitError)) throw e;
        last = e;
      }
    }
  }
  // weights that fit with room for nothing else, or a prompt's activations: say which
  const prompt = graph.shape.rows > 1 ? `; activations grow with the tokens of a step (${graph.shape.rows} here): try a shorter --context${graph.shape.batch > 1 ? ' or a smaller --batch' : ''}` : '';
  throw new SfError(`the layer does not fit on up to ${chipCounts(config).at(-1)} x ${o.chip.name} (the most that divide its heads)${last ? `: ${last.message}` : ''}${prompt}`);
}

/** Timing-only: matrices empty, everything else zeros of the right size. */
function placeholders(config: ModelConfig, graph: LayerGraph): { weights: StoredWeights; inputs: LayerInputs } {
  const weights: StoredWeights = {};
  for (const [name, w] of Object.entries(graph.weights)) weights[name] = new Float64Array(w.kind === 'matrix' ? 0 : w.elements);
  const { rows: M, batch: B, past: P } = graph.shape;
  const pastN = B * config.numKeyValueHeads * P * config.headDim;
  return { weights, inputs: { x: new Float64Array(M * config.hiddenSize), kPast: new Float64Array(pastN), vPast: new Float64Array(pastN) } };
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

function matrixBytes(graph: LayerGraph): number {
  return Object.values(graph.weights).filter((w) => w.kind === 'matrix').reduce((a, w) => a + w.bytes, 0);
}

/** The weights of one chip's share fit its feeding slices (a quick test before compiling). */
export function fitsRoughly(chip: ChipConfig, graph: LayerGraph, ranks: number): boolean {
  const ws = new WeightStore(new Schedule(chip));
  return matrixBytes(graph) / ranks <= ws.capacityBytes(chip) * 0.98;
}

