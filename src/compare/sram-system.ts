// Whole-model timing of an SRAM system (tsp-v1 chips by default), from emulated cycles.
//
// The system (docs/compare.md): the N decoder layers are pipelined over N chip groups, each layer
// on its own group of `layer.chips` chips (tensor parallel inside the group, as the layer compiler
// splits it), the groups in a chain. A token passes
//   embedding -> hop -> layer 0 -> hop -> layer 1 -> ... -> layer N-1 -> hop -> head
// where the embedding is a table lookup on its own chips (analytical, labelled), each hop sends
// the fp32 hidden rows over one C2C link (hop.ts; every chip of a group sends to its counterpart
// in the next group, in parallel), and the head (final norm + LM head, head.ts) has the
// vocabulary split over its own chips. Sampling is out of scope.
//
// Each distinct program (one per set of layers with the same attention window, and the head) is
// compiled timing-only and emulated: the emulator is deterministic, so identical programs take
// identical cycles and one layer's emulated cycles serve every layer with that program. Its
// emulated cycles must equal the compiler's prediction (checked). The chain's total is
// chainCycles (hop.ts): each program until its last HALT, plus the hops, plus one final superlane
// stagger; a test checks that against a real multi-chip program on the tiny model.
import { createHash } from 'node:crypto';
import type { ChipConfig } from '../chip/config.js';
import { loadCoreWasm } from '../chip/wasm-node.js';
import { slidingWindowFor, type ModelConfig } from '../models/config.js';
import { DTYPE_BYTES, type ModelDtype } from '../models/quant.js';
import { compileLayer, type CompiledLayer, type OpTiming, type Roofline } from '../compiler/layer.js';
import { runCompiledLayer } from '../compiler/run-layer.js';
import { ScheduleConflict } from '../compiler/schedule.js';
import { SfError } from '../util/errors.js';
import { addTo, opShares, type Breakdown } from './breakdown.js';
import { compileHead } from './head.js';
import { chainCycles, planHop, type HopTensor } from './hop.js';
import type { PowerFigure } from './power.js';

export const SRAM_LABEL = 'emulated, cycle-level';
export const EMBEDDING_LABEL = 'analytical, not emulated';

export interface SramProgress {
  stage: 'compiling' | 'emulating';
  /** What, e.g. "layer program (decode, batch 1, context 2048, 2 x tsp-v1)". */
  what: string;
  /** Emulating: the cycle reached, and the program's cycles. */
  cycle: number;
  of: number;
}

export interface SramSystemOptions {
  chip: ChipConfig;
  /** Sequences decoded (or prefilled) together. */
  batch: number;
  /** Decode: tokens in each sequence's cache after the step (the new token included). */
  context: number;
  /** Prompt for the time to first token (null: no prefill run). */
  prompt: number | null;
  dtype: ModelDtype;
  /** Decode the per-token figures (false: prefill only). */
  decode: boolean;
  /** Chips per layer group (default: the fewest that hold a layer). */
  chipsPerLayer?: number;
  threads?: number;
  power: PowerFigure | null;
  onProgress?: (p: SramProgress) => void;
}

/** One distinct program and how it ran. */
export interface ProgramTiming {
  kind: 'layer' | 'head';
  /** Layers it serves (layer programs), in order. */
  layers: number[];
  chips: number;
  /** Chips actually emulated (a timing-only head runs the same program on every chip: one). */
  emulatedChips: number;
  cycles: number;
  predictedCycles: number;
  roofline: Roofline;
  ops: OpTiming[];
  /** Host seconds the emulation took (0 when an identical program was emulated before). */
  emulationSeconds: number;
}

/** One step (a decode step or a prefill) of the whole system. */
export interface SramStep {
  phase: 'decode' | 'prefill';
  batch: number;
  /** New tokens per sequence (1 for decode, the prompt for prefill). */
  tokens: number;
  past: number;
  cycles: number;
  seconds: number;
  programs: ProgramTiming[];
  hops: { count: number; rows: number; vectors: number; cycles: number }[];
  embedding: { cycles: number; label: typeof EMBEDDING_LABEL };
  /** Wall seconds per breakdown group; adds up to `seconds`. */
  breakdown: Breakdown;
}

export interface SramSystemEstimate {
  label: typeof SRAM_LABEL;
  chip: string;
  clockHz: number;
  model: string;
  dtype: ModelDtype;
  layers: number;
  chipsPerLayer: number;
  headChips: number;
  embeddingChips: number;
  /** layers x chipsPerLayer + headChips + embeddingChips. */
  chips: number;
  decode: SramStep | null;
  prefill: SramStep | null;
  /** 1 / decode latency. */
  tokensPerSecondPerUser: number | null;
  /** batch / decode latency: one micro-batch in the pipeline, as a GPU step. */
  systemTokensPerSecond: number | null;
  /** With a micro-batch in every pipeline stage (batch x stages users). */
  pipelineFull: { microBatches: number; users: number; systemTokensPerSecond: number; tokenIntervalSeconds: number; energyPerTokenJoules: number | null } | null;
  ttftSeconds: number | null;
  power: PowerFigure | null;
  /** chips x power x decode latency / batch. */
  energyPerTokenJoules: number | null;
  assumptions: string[];
}

/** Emulated cycles of programs already run in this process, by chip and program text. */
const emulated = new Map<string, number>();

function key(chip: ChipConfig, source: string): string {
  return `${chip.file}\0${chip.name}\0${createHash('sha256').update(source).digest('hex')}`;
}

async function emulate(layer: CompiledLayer, what: string, o: SramSystemOptions): Promise<{ cycles: number; seconds: number }> {
  const k = key(layer.chip, layer.source);
  const hit = emulated.get(k);
  if (hit !== undefined) return { cycles: hit, seconds: 0 };
  const onProgress = o.onProgress ? (cycle: number) => o.onProgress!({ stage: 'emulating', what, cycle: Math.min(cycle, layer.predictedCycles), of: layer.predictedCycles }) : undefined;
  const { cycles, seconds } = await runCompiledLayer(layer, loadCoreWasm(), { functional: false, checked: false, threads: o.threads ?? 1, onProgress });
  if (cycles !== layer.predictedCycles) {
    throw new Error(`internal: ${what} emulated in ${cycles} cycles, the compiler predicted ${layer.predictedCycles}`);
  }
  emulated.set(k, cycles);
  return { cycles, seconds };
}

/** The slices of a compiled program's tensor. */
function placement(layer: CompiledLayer, tensor: string): HopTensor {
  const s = layer.symbols.find((x) => x.tensor === tensor);
  if (!s) throw new Error(`internal: the compiled program has no tensor ${tensor}`);
  return { name: tensor, slices: s.at.split(', ').map((p) => p.split(':')[0]!) };
}

/** Sets of layers that run the same program: the attention window, where it is shorter than the sequence. */
function layerSets(config: ModelConfig, seq: number): number[][] {
  const sets = new Map<string, number[]>();
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const w = slidingWindowFor(config, l);
    const k = w === null || w >= seq ? 'full' : String(w);
    if (!sets.has(k)) sets.set(k, []);
    sets.get(k)!.push(l);
  }
  return [...sets.values()];
}

/** Bytes of SRAM on one chip. */
function chipBytes(chip: ChipConfig): number {
  return 2 * chip.memSlicesPerHemisphere * chip.memVectorsPerSlice * chip.lanes;
}

/** Chips holding the embedding table in the layers' format (int8: codes + an fp32 scale per row), 98% of SRAM used. */
export function embeddingChips(config: ModelConfig, chip: ChipConfig, dtype: ModelDtype = 'int8'): number {
  const bytes = dtype === 'int8' ? config.vocabSize * (config.hiddenSize + 4) : config.vocabSize * config.hiddenSize * DTYPE_BYTES[dtype];
  return Math.max(1, Math.ceil(bytes / (chipBytes(chip) * 0.98)));
}

/**
 * The embedding lookup, analytical: each token's int8 row (tiles vectors) is read from the
 * table's slice, dequantised at the VXM (CVT, then x the row's scale) and written as fp32 rows
 * ready for the hop: memRead + the trip from the farthest slice to the VXM, one vector per cycle,
 * the two ALU delays, the trip to an output slice beside the VXM and its write.
 */
function embeddingCycles(chip: ChipConfig, rows: number): number {
  const d = chip.delays;
  return d.memRead + chip.memSlicesPerHemisphere * chip.hopCycles + rows + d.vxmLarge + d.vxmAlu + 2 * chip.hopCycles + 2;
}

/** A compiler refusal or failure as a one-line error naming what was compiled (and, in the
 * compiler's message, the op): never a number made up in its place. */
function compileError(e: unknown, what: string): Error {
  if (e instanceof SfError) return new SfError(`the layer compiler cannot compile ${what}: ${e.message}`);
  if (e instanceof ScheduleConflict) return new SfError(`the layer compiler failed to schedule ${what} (a compiler limitation, not your input): ${e.message}`);
  return e instanceof Error ? e : new Error(String(e));
}

async function step(config: ModelConfig, o: SramSystemOptions, phase: 'decode' | 'prefill'): Promise<{ step: SramStep; layerChips: number; headChips: number }> {
  const chip = o.chip;
  const tokens = phase === 'decode' ? 1 : o.prompt!;
  const past = phase === 'decode' ? o.context - 1 : 0;
  const M = o.batch * tokens;
  const tiles = Math.ceil(config.hiddenSize / chip.lanes);
  const stagger = chip.superlanes - 1;
  const desc = (chips: number) => `${phase}, batch ${o.batch}${phase === 'prefill' ? `, ${tokens} tokens` : `, context ${o.context}`}, ${chips} x ${chip.name}`;

  // the layer programs
  const programs: ProgramTiming[] = [];
  const byLayer: { layer: CompiledLayer; cycles: number }[] = [];
  let layerChips = 0;
  for (const layers of layerSets(config, past + tokens)) {
    let layer: CompiledLayer;
    o.onProgress?.({ stage: 'compiling', what: `layer program (${desc(o.chipsPerLayer ?? 0).replace(/, 0 x /, ', on ')})`, cycle: 0, of: 0 });
    try {
      layer = compileLayer(config, { chip, phase, batch: o.batch, tokens, past, dtype: o.dtype, layer: layers[0], chips: o.chipsPerLayer, timingOnly: true });
    } catch (e) {
      throw compileError(e, `${config.name}'s ${phase} layer (batch ${o.batch}, ${tokens} token(s) after ${past})`);
    }
    layerChips = layer.chips;
    const run = await emulate(layer, `layer program${layers.length < config.numHiddenLayers ? ` ${programs.length + 1}` : ''} (${desc(layer.chips)})`, o);
    programs.push({ kind: 'layer', layers, chips: layer.chips, emulatedChips: layer.chips, cycles: run.cycles, predictedCycles: layer.predictedCycles, roofline: layer.roofline, ops: layer.ops, emulationSeconds: run.seconds });
    for (const l of layers) byLayer[l] = { layer, cycles: run.cycles };
  }

  // the head: the last token of each sequence
  let head: ReturnType<typeof compileHead>;
  o.onProgress?.({ stage: 'compiling', what: `LM head (batch ${o.batch})`, cycle: 0, of: 0 });
  try {
    head = compileHead(config, { chip, batch: o.batch, dtype: o.dtype, timingOnly: true });
  } catch (e) {
    throw compileError(e, `${config.name}'s LM head (batch ${o.batch})`);
  }
  const hrun = await emulate(head, `LM head (batch ${o.batch}, vocabulary over ${head.ranks} x ${chip.name}, one emulated)`, o);
  programs.push({ kind: 'head', layers: [], chips: head.ranks, emulatedChips: 1, cycles: hrun.cycles, predictedCycles: head.predictedCycles, roofline: head.roofline, ops: head.ops, emulationSeconds: hrun.seconds });

  // hops: embedding -> layer 0, layer l -> l + 1, last layer -> head
  const first = byLayer[0]!.layer;
  const embRows = M * tiles;
  const embCycles = embeddingCycles(chip, embRows);
  const hopIn = planHop(chip, placement(first, 'y'), placement(first, 'x'), embRows);
  const hopCycles: number[] = [];
  const hopKinds = new Map<string, { count: number; rows: number; vectors: number; cycles: number }>();
  const note = (rows: number, vectors: number, cycles: number) => {
    const k = `${rows}:${cycles}`;
    const e = hopKinds.get(k);
    if (e) e.count++;
    else hopKinds.set(k, { count: 1, rows, vectors, cycles });
  };
  note(hopIn.rows, hopIn.vectors, hopIn.cycles);
  for (let l = 0; l + 1 < config.numHiddenLayers; l++) {
    const h = planHop(chip, placement(byLayer[l]!.layer, 'y'), placement(byLayer[l + 1]!.layer, 'x'), M * tiles);
    hopCycles.push(h.cycles);
    note(h.rows, h.vectors, h.cycles);
  }
  const toHead = planHop(chip, placement(byLayer[config.numHiddenLayers - 1]!.layer, 'y'), placement(head, 'x'), o.batch * tiles);
  hopCycles.push(toHead.cycles);
  note(toHead.rows, toHead.vectors, toHead.cycles);

  const chain = chainCycles(chip, [...byLayer.map((b) => b.cycles), hrun.cycles], hopCycles);
  const cycles = embCycles + hopIn.cycles + chain;
  const sec = (c: number) => c / chip.clockHz;

  // breakdown: every program's cycles up to its last HALT by op share, the hops, the embedding,
  // and the final stagger (other)
  const b: Breakdown = {};
  addTo(b, 'embedding', sec(embCycles));
  addTo(b, 'links', sec(hopIn.cycles + hopCycles.reduce((a, h) => a + h, 0)));
  for (const p of programs) {
    const n = p.kind === 'layer' ? p.layers.length : 1;
    for (const [g, c] of Object.entries(opShares(p.ops, p.cycles - stagger))) addTo(b, g as keyof Breakdown, sec((c ?? 0) * n));
  }
  addTo(b, 'other', sec(stagger));

  const hops = [...hopKinds.values()];
  return {
    step: { phase, batch: o.batch, tokens, past, cycles, seconds: sec(cycles), programs, hops, embedding: { cycles: embCycles, label: EMBEDDING_LABEL }, breakdown: b },
    layerChips,
    headChips: head.ranks,
  };
}

/** Whole-model decode (and/or prefill) on the SRAM system. */
export async function sramSystem(config: ModelConfig, o: SramSystemOptions): Promise<SramSystemEstimate> {
  if (!o.decode && o.prompt === null) throw new SfError('nothing to time: no decode and no prompt');
  let dec = o.decode ? await step(config, o, 'decode') : null;
  let pre = o.prompt !== null ? await step(config, o, 'prefill') : null;
  // one system runs both: its layer groups are as wide as the wider phase needs (a long prompt's
  // activations can need more chips than decode's weights)
  let widened: number | null = null;
  if (dec && pre && o.chipsPerLayer === undefined && dec.layerChips !== pre.layerChips) {
    const w = { ...o, chipsPerLayer: Math.max(dec.layerChips, pre.layerChips) };
    widened = w.chipsPerLayer;
    if (dec.layerChips < w.chipsPerLayer) dec = await step(config, w, 'decode');
    else pre = await step(config, w, 'prefill');
  }
  const any = (dec ?? pre)!;
  const N = config.numHiddenLayers;
  const emb = embeddingChips(config, o.chip, o.dtype);
  const chips = N * any.layerChips + any.headChips + emb;
  const lat = dec?.step.seconds ?? null;
  const watts = o.power?.watts ?? null;
  let pipelineFull: SramSystemEstimate['pipelineFull'] = null;
  if (dec) {
    // stages: embedding, N layer groups, head; the slowest stage (with its hop out) sets the interval
    const s = dec.step;
    const stagger = o.chip.superlanes - 1;
    const layerStage = Math.max(...s.programs.filter((p) => p.kind === 'layer').map((p) => p.cycles - stagger)) + Math.max(...s.hops.map((h) => h.cycles));
    const headStage = s.programs.find((p) => p.kind === 'head')!.cycles;
    const stages = N + 2;
    const maxStage = Math.max(layerStage, headStage, s.embedding.cycles + s.hops[0]!.cycles) / o.chip.clockHz;
    const interval = Math.max(s.seconds, stages * maxStage);
    const users = stages * o.batch;
    pipelineFull = {
      microBatches: stages,
      users,
      tokenIntervalSeconds: interval,
      systemTokensPerSecond: users / interval,
      energyPerTokenJoules: watts === null ? null : (watts * chips * interval) / users,
    };
  }
  return {
    label: SRAM_LABEL,
    chip: o.chip.name,
    clockHz: o.chip.clockHz,
    model: config.name,
    dtype: o.dtype,
    layers: N,
    chipsPerLayer: any.layerChips,
    headChips: any.headChips,
    embeddingChips: emb,
    chips,
    decode: dec?.step ?? null,
    prefill: pre?.step ?? null,
    tokensPerSecondPerUser: lat === null ? null : 1 / lat,
    systemTokensPerSecond: lat === null ? null : o.batch / lat,
    pipelineFull,
    ttftSeconds: pre?.step.seconds ?? null,
    power: o.power,
    energyPerTokenJoules: lat === null || watts === null ? null : (watts * chips * lat) / o.batch,
    assumptions: [
      `layers pipelined over ${N} groups of ${any.layerChips} chip(s), one group per layer; a token passes them in turn${widened ? ` (${widened} chips a group: the ${o.prompt}-token prompt needs them; decode alone would take fewer)` : ''}`,
      'one program per distinct layer (same window) emulated; identical programs take identical cycles on the deterministic machine',
      `each hop sends the fp32 hidden rows over one C2C link: ${o.chip.c2cLatencyCycles} cycles latency + 4 x ${o.chip.c2cVectorCycles} cycles per row + the reads, RECV and writes (hop.ts)`,
      `embedding: ${o.dtype} table on ${emb} chip(s) of its own, one SRAM read per token row, ${EMBEDDING_LABEL}`,
      `LM head: vocabulary split over ${any.headChips} chip(s), compiled and emulated (one chip: all run the same program)`,
      'prefill: each layer group takes the whole prompt before passing it on (no chunked pipelining across layers)',
      o.power ? `energy: ${o.power.watts} W per chip (${o.power.kind}) x every chip x the step time, per token` : 'energy: no power figure for this chip (give --chip-power W)',
    ],
  };
}
