// What every op lowering of the layer compiler shares: the chip's schedule, its SRAM, where each
// graph tensor lives on the chip and in which layout, and this chip's share of the layer under
// tensor parallelism.
//
// Activation layout ("tiles"): a graph tensor [M, C] (C features on this chip) is stored as
// M * tiles vectors: token row m's features j*per .. j*per+per-1 in vector m*tiles + j, lane
// f - j*per; lanes >= per are zero. Two layouts are used:
//  - rows:  per = lanes (x, xn, h, hn, o, down, y, gate, up, act, g and their int8 codes);
//  - heads: per = floor(lanes / head_dim) * head_dim, whole heads per vector (q, k, v, their RoPE,
//           attn), so that RoPE's pair swap and attention stay inside a vector.
// An int8 operand's per-row scale is a tensor of M vectors, the scale in every lane.
import type { ChipConfig } from '../chip/config.js';
import type { GraphOp, LayerGraph } from '../models/graph.js';
import type { LayerInputs, StoredWeights } from '../models/weights.js';
import type { Schedule } from './schedule.js';
import type { ChipTensor, Sram } from './sram.js';
import type { WeightStore } from './weight-store.js';

export interface Act {
  t: ChipTensor;
  /** Token rows M. */
  tokens: number;
  /** Vectors per token row. */
  tiles: number;
  /** Features per vector. */
  per: number;
  /** Features of this tensor on this chip. */
  cols: number;
  /** Global index of this chip's first feature (tensor parallelism; 0 on one chip). */
  first: number;
  /** int8 codes: the tensor of per-row scales (M vectors, the scale in every lane). */
  scale?: ChipTensor;
  /** A projection's operand: `t` lies west of the VXM and this copy east of it, so that each MXM
   * plane reads x from its own side and x's flights never cross the chip. */
  mirror?: ChipTensor;
}

/** Tensor parallelism: this chip's rank among `ranks` chips that share the layer. */
export interface Share {
  rank: number;
  ranks: number;
  /** Query heads, kv heads and intermediate features on each chip. */
  heads: number;
  kvHeads: number;
  intermediate: number;
}

export interface LayerCtx {
  chip: ChipConfig;
  sch: Schedule;
  sram: Sram;
  weightStore: WeightStore;
  graph: LayerGraph;
  /** All of the layer's stored weights (each lowering takes this chip's share). */
  weights: StoredWeights;
  /** The step's inputs (x, the past KV cache), for the lowerings that place them. */
  inputs: LayerInputs;
  /** This chip's share; the program is the same on every chip, initial data is given per rank. */
  share: Share;
  acts: Map<string, Act>;
  /** No values: matrices are empty and data given to the allocator is dropped (timing only). */
  timingOnly: boolean;
  /** Position of the VXM. */
  vxm: number;
  /** The lowering's notes for the per-op report: units used and what bounds the op. */
  units: Set<string>;
  /** Ops another op's lowering did as part of its own (op name -> that op's name). */
  fused: Map<string, string>;
  /** Placements an op leaves for after every op is lowered (they fill the gaps the others leave;
   * nothing in the layer waits for them), each returning the cycle its op's outputs are complete;
   * absent: each op places everything itself. */
  deferred?: { op: string; place: () => number }[];
  /** The decode KV cache in the activation slices, not in the planes' last feeding groups (where
   * the weights would not fit beside it). */
  cacheNear?: boolean;
}

/** A lowering places one op's instructions from cycle `start` on and returns the first cycle on
 * which all of its outputs are in SRAM (the next op's start). */
export type Lowering = (ctx: LayerCtx, op: GraphOp, start: number) => number;

/** Head-layout features per vector. */
export function headsPer(chip: ChipConfig, headDim: number): number {
  return Math.max(1, Math.floor(chip.lanes / headDim)) * headDim;
}

export function act(ctx: LayerCtx, name: string): Act {
  const a = ctx.acts.get(name);
  if (!a) throw new Error(`internal: tensor ${name} is not on the chip yet`);
  return a;
}

/** A new activation tensor in the tile layout (and `padRows` more rows after its last). */
export function newAct(ctx: LayerCtx, name: string, dtype: ChipTensor['dtype'], tokens: number, cols: number, per: number, first = 0, mirrored = false, avoid: string[] = [], padRows = 0): Act {
  const tiles = Math.ceil(cols / per);
  const base = name.replace(/\./g, '_');
  const t = ctx.sram.alloc(base, dtype, tokens * tiles + padRows, { ...(mirrored ? { side: 'W' as const } : {}), ...(avoid.length ? { avoid } : {}) });
  const a: Act = { t, tokens, tiles, per, cols, first };
  if (mirrored) a.mirror = ctx.sram.alloc(`${base}_e`, dtype, tokens * tiles, { side: 'E' });
  ctx.acts.set(name, a);
  return a;
}
