// Attention on one chip's share of the heads: q_quant, kv_append, attn_scores, attn_softmax,
// probs_quant, attn_values (RoPE is rope.ts). Both matrix products run on the MXM in the
// attention dtype (fp16, or bf16 where the chip has it), with the KV cache as installed weights.
//
// Geometry: L lanes, H = L/2 rows of an fp16 weight set, head_dim D <= H, B sequences, T new
// tokens, P past positions, S = P + T; Hq query heads and Hk kv heads on this chip, G = Hq/Hk,
// hpv = floor(L/D) heads per vector (the heads layout of q, k, v, attn).
//
// The KV cache lives, in decode, in each MXM plane's last feeding group of weight slices (r = F
// of them); with several new tokens, in the activation slices of the plane's side (a plane owns
// a run of them, r); a weight set of H rows is striped over them,
// row k in slice k mod r, each fp16 row in one slice (its 2 ports), so one IW installs r rows a
// cycle. An install is one IW a cycle when that fits soon, else each IW on the first cycle its
// reads fit; it may start before the op's inputs are ready (the set's rows and the plane are).
//  - K is kept transposed: a K set (sigma, jt) holds, for kpack = floor(H/D) (sequence, kv head)
//    pairs pi = sigma*kpack + s, row s*D + d = K_pi[jt*L + lane][d] (positions on lanes); rows
//    of no pair are zero. q K^T is one MM per query head and token: x = that head's q in fp16 on
//    lanes s*D .. s*D+D-1 (q_q, row m*Hq + h, zero elsewhere); the MM emits the L scores of the
//    set's positions. All query heads of a GQA group and all new tokens reuse one install. K sets
//    are dealt to the planes round robin.
//  - V is kept position-major in the heads layout: a V set (b, j, c) holds row k = v's vector j
//    (kv heads j*hpv ..) of position c*H + k. P V is one MM per query head, token and chunk c of
//    H positions, x = the probabilities of the chunk on lanes 0..H-1 (probs_q). V sets go to the
//    planes in contiguous runs. Each MM's partial passes the SXM next to its plane, which SHIFTs
//    it to the head's lanes in attn, into a row of its own (a plane has one set of accumulators,
//    shared by the heads that reuse an install); then each attn vector is the sum of its
//    partials, each masked to its head's lanes, in one chain at the VXM.
// kv_append writes V rows with one CVT each. A new key goes to lane p mod L of D rows of a K
// set: per row an SXM broadcasts element d of the key (DIST; both SXMs, each with its own staged
// copy of the keys), the VXM keeps it on that lane (MUL by a one-hot row) and adds the old row
// (zero there), and the row is written back: D broadcasts per key. In decode nothing in the layer
// reads those rows: they are placed after every op (LayerCtx.deferred), and attn_scores installs
// the tile of the new position as it was and adds the new key's score itself (newKeyScores).
// Softmax, per row r = (b, h, t) over the tiles of L positions it attends (scores rows r*nT + jt,
// in two pairs by r parity):
//  A. z = s * D^-1/2 (+ -inf outside the causal window on boundary tiles, which go first), a
//     chain of lane-wise MAX ops one vxmAlu apart (parked in SRAM between tiles where the chain
//     does not fit, on the tiny chip), RMAX at an SXM: M;
//  B. e = exp(z - M) per tile, summed by ACC, RSUM at an SXM, rsqrt(sum)^2 (there is no divide);
//  C. e again (recomputed: cheaper than a write and a read), p = e * rsqrt(sum)^2 to probs, and
//     its fp16 (CVT) to probs_q as two chunks of H positions, the upper one moved to lanes 0..H-1
//     by an SXM SHIFT, each in a slice of the plane whose V set multiplies it. probs_quant is
//     thereby done by the softmax.
// Every instruction is placed by Schedule.attempt (attn-common.ts: place) at the first cycle its
// streams, ports and queues are free, so the same code fits tiny and tsp-v1. Tensors read on the
// same cycle are kept in different pairs (a pair serves one fp32 row a cycle).
import { SfError } from '../util/errors.js';
import { encodeElements } from '../util/numerics.js';
import { firstKey, type GraphOp, type LayerGraph } from '../models/graph.js';
import { roundFloat } from '../models/quant.js';
import { act, type Act, type LayerCtx, type Lowering } from './context.js';
import { allocNear, aluQueues, chainAny, claimTo, constantApart, f32Bytes, i16Bytes, issueAny, maskVectors, place, rowTiles, readFrom, sxmNear } from './attn-common.js';
import { ATTENTION, OWN_WAIT } from './registry.js';
import { lowerBlocked } from './attn-blocks.js';
import { READ_BACK } from './read-back.js';
import { lowerRope } from './rope.js';
import { slicePositions, storeRow, writeRow } from './rows.js';
import { ScheduleConflict, type Schedule } from './schedule.js';
import { FitError, type ChipTensor } from './sram.js';

export type Adt = 'fp16' | 'bf16';

/** Everything the read-back decoder needs: plain data, the same on every chip. */
export interface AttentionLayout {
  lanes: number;
  /** H = lanes / 2: rows of an fp16 weight set, positions per probs_q chunk. */
  half: number;
  headDim: number;
  batch: number;
  tokens: number;
  past: number;
  seq: number;
  window: number | null;
  /** Query and kv heads on each chip, chips. */
  heads: number;
  kvHeads: number;
  ranks: number;
  group: number;
  kpack: number;
  /** Heads per vector in the heads layout (per / D), and vectors of v per token row. */
  hpv: number;
  tilesKV: number;
  /** Position tiles of L (scores, probs) and chunks of H (probs_q) per row. */
  nT: number;
  nC: number;
  /** Per cache plane: rows per IW (= slices), local rows per set, K and V tensor names by slice. */
  planes: { r: number; lr: number; k: string[]; v: string[] }[];
  /** K sets by sigma * nT + jt, V sets by (b * vGroups + vg) * nC + c: plane and first local row. */
  kSets: { plane: number; base: number }[];
  vSets: { plane: number; base: number }[];
  /** V sets per kv vector (vg = j, vGroups = tilesKV: each set holds v's vector j as it is) or,
   * with vDup, per kv head (vg = g, vGroups = kvHeads: the head's values on every head slot of
   * the row, so that a query head finds them on its own lanes). */
  vDup: boolean;
  vGroups: number;
  /** Chip tensor names of q_q, of the parts of scores and probs (row r of the softmax in part
   * r mod parts, local row floor(r / parts) * nT + jt), and of probs_q by plane (see pqAt). */
  tensors: { qq: string; qqParts?: string[]; scores: string[]; probs: string[]; probsQ: string[] };
  /** The blocked pipeline (attn-blocks.ts) for several new tokens: softmax row r lives in slot
   * slot[r] (in place of r above), probs_q row (r, c) in tensor pqPlane[r * nC + c] at row pqRow[..];
   * complete: no slot was reused (the chip still holds every row at the end). */
  blocked?: { slot: Int32Array; pqPlane: Int32Array; pqRow: Int32Array; complete: boolean };
  /** With vDup: q_q row (m * heads + h) in tensor tensors.qqParts[plane[..]] at row[..]. */
  qqWhere?: { plane: Int32Array; row: Int32Array };
}

export interface CachePlane {
  queue: string;
  pos: number;
  /** Direction of the streams into the plane (MXM.E reads eastward ones). */
  east: boolean;
  slices: string[];
  k: ChipTensor[];
  v: ChipTensor[];
}

export interface State {
  lay: AttentionLayout;
  adt: Adt;
  planes: CachePlane[];
  /** Cycle from which each cache row (tensor name:row) holds its latest value. */
  ready: Map<string, number>;
  qq?: ChipTensor;
  /** Where q_q row (m * heads + h) lives. */
  qqAt?: (row: number) => { t: ChipTensor; row: number };
  scores?: ChipTensor[];
  probs?: ChipTensor[];
  /** probs_q by plane: each chunk row in the plane whose V set multiplies it (one slice of the
   * plane's own, so that no other plane's installs hold its ports). */
  probsQ?: ChipTensor[];
  /** probs_q is written by the softmax's last pass: the cycle it is all in SRAM. */
  probsQReady?: number;
  /** The blocked pipeline's ends by op (attn-blocks.ts), when it ran. */
  ends?: { scores: number; softmax: number; probsQ: number; values: number };
  /** One new key per sequence: kv_append's staged keys in the attention dtype (row m * tilesKV +
   * j: k_rope's vector j of token row m), which attn_scores also reads for the new key's score. */
  kStage?: ChipTensor;
  /** The last cycle on which an install read a cache row as it was before kv_append's write
   * (installOld): a deferred write of such a row issues after it. */
  oldReadEnd?: number;
}

/** By the layer's acts map (LayerCtx.acts, CompiledLayer.acts: the same object). */
const states = new WeakMap<object, State>();

/** The graph tensors whose chip layout is not the plain tile layout: decode with readBackAttention. */
export const ATTENTION_READBACK: readonly string[] = ['q_rope_q', 'k_cache', 'v_cache', 'scores', 'probs', 'probs_q'];

/** The layout the attention lowerings chose for a compiled layer (after they ran). */
export function attentionLayout(ctx: Pick<LayerCtx, 'acts'>): AttentionLayout {
  const s = states.get(ctx.acts);
  if (!s) throw new Error('internal: attention was not lowered for this layer');
  return s.lay;
}

function attnAttrs(ctx: LayerCtx) {
  const op = ctx.graph.ops.find((o) => o.kind === 'attn_scores');
  if (!op) throw new Error('internal: the graph has no attn_scores op');
  return op.attrs as Extract<GraphOp['attrs'], { kind: 'attn_scores' }>;
}

export function bytesOf(adt: Adt, values: Float64Array): Uint8Array {
  return encodeElements(adt, values);
}

/** The cache layout, made by the first attention op of the layer, with the past cache placed. */
export function state(ctx: LayerCtx): State {
  let st = states.get(ctx.acts);
  if (st) return st;
  const { chip } = ctx;
  const a = attnAttrs(ctx);
  const prec = ctx.graph.shape.precision;
  const adt = prec.attention;
  if (adt === 'fp32') throw new SfError(`--dtype ${prec.dtype}: attention runs on the MXM, which has no fp32; use --dtype int8, fp16 or bf16`);
  if (!chip.mxmDtypes.includes(adt) || !chip.vxmDtypes.includes(adt)) throw new SfError(`chip ${chip.name} has no ${adt} MXM/VXM for attention (--dtype ${prec.dtype})`);
  const L = chip.lanes;
  const H = L >> 1;
  const D = a.headDim;
  if (D > H) throw new SfError(`head_dim ${D} exceeds ${H}, the rows of an ${adt} weight set on ${chip.name}: the attention lowering keeps a head's dimensions in one set`);
  const per = Math.floor(L / D) * D;
  const hpv = per / D;
  const { heads: Hq, kvHeads: Hk, ranks } = ctx.share;
  const B = a.batch;
  const T = a.tokens;
  const P = a.past;
  const S = a.seq;
  const kpack = Math.floor(H / D);
  const pairs = B * Hk;
  const nSig = Math.ceil(pairs / kpack);
  const nT = Math.ceil(S / L);
  const nC = Math.ceil(S / H);
  const tilesKV = Math.ceil((Hk * D) / per);
  // several new tokens: the blocked pipeline, with V sets per kv head (attn-blocks.ts)
  const vDup = T >= 2;
  const vGroups = vDup ? Hk : tilesKV;

  // cache planes: every MXM plane, with every P-th activation slice of its side
  const ws = ctx.weightStore;
  const PP = chip.mxmPlanesPerHemisphere;
  const planes: CachePlane[] = [];
  const layPlanes: AttentionLayout['planes'] = [];
  // a side's activation slices but the pair nearest the VXM (the VXM passes' rows live there)
  // when the side has slices to spare
  const sideSlicesOf = (side: string) => {
    const all = ws.activationSlices.filter((s) => s.startsWith(`MEM.${side}`));
    return all.length >= 4 * PP + 2 ? all.filter((s) => !ctx.sram.pairs[0]!.includes(s) && !ctx.sram.pairs.find(([x]) => x.startsWith(`MEM.${side}`))!.includes(s)) : all;
  };
  // the blocked pipeline (several new tokens) installs a set per block, from the activation
  // slices: each plane takes a run of (up to four) slices nearest the MXMs, so that an install
  // holds few pairs and none near the VXM, where the softmax rows live; the next pair stays out
  // too where the planes have few sets to install (up to 16 each)
  const blockedSlices = (pl: (typeof ws.planes)[number]) => {
    let sideSlices = sideSlicesOf(pl.side);
    if (sideSlices.length >= 4 * PP + 2 && nSig * nT + B * vGroups * nC <= 16 * 2 * PP) sideSlices = sideSlices.slice(2);
    const far = [...sideSlices].sort((x, y) => Math.abs(ctx.sch.position(y) - ctx.vxm) - Math.abs(ctx.sch.position(x) - ctx.vxm));
    const n = Math.max(1, Math.min(4, Math.floor(far.length / PP)));
    return far.slice(pl.p * n, pl.p * n + n);
  };
  for (const pl of ws.planes) {
    // one new token: the cache in the plane's last feeding group, whose F slices fill the plane's
    // streams as the weights do (an fp16 set in H / F IW cycles; in the activation slices it took
    // H / 5 on Llama-2-7B: decode 12333 -> 11504 cycles; the weights fill the groups first to
    // last), or, where they would not fit beside it (LayerCtx.cacheNear), in every P-th of its
    // side's activation slices
    const mine = vDup ? blockedSlices(pl) : ctx.cacheNear ? sideSlicesOf(pl.side).filter((_, i) => i % PP === pl.p) : pl.groups[pl.groups.length - 1]!.slice();
    const r = Math.min(mine.length, chip.mxmInstallRows, Math.floor(chip.streamsPerDirection / 2));
    if (r < 1) continue;
    planes.push({ queue: pl.queue, pos: pl.pos, east: pl.side === 'E', slices: mine.slice(0, r), k: [], v: [] });
    layPlanes.push({ r, lr: Math.ceil(H / r), k: [], v: [] });
  }
  if (!planes.length) throw new SfError(`chip ${chip.name}: no MEM slices to hold the KV cache next to an MXM plane`);
  const kSets: AttentionLayout['kSets'] = [];
  const vSets: AttentionLayout['vSets'] = [];
  const count = planes.map(() => ({ k: 0, v: 0 }));
  for (let i = 0; i < nSig * nT; i++) {
    const p = i % planes.length;
    kSets.push({ plane: p, base: count[p]!.k * layPlanes[p]!.lr });
    count[p]!.k++;
  }
  // V sets in contiguous runs per plane: a plane sums its chunks of a (sequence, kv vector)
  // into its own rows, so planes never wait on each other's sums
  const nV = B * vGroups * nC;
  for (let i = 0; i < nV; i++) {
    const p = Math.floor((i * planes.length) / nV);
    vSets.push({ plane: p, base: count[p]!.v * layPlanes[p]!.lr });
    count[p]!.v++;
  }
  const lay: AttentionLayout = {
    lanes: L, half: H, headDim: D, batch: B, tokens: T, past: P, seq: S, window: a.window,
    heads: Hq, kvHeads: Hk, ranks, group: a.group, kpack, hpv, tilesKV, nT, nC,
    planes: layPlanes, kSets, vSets, vDup, vGroups,
    tensors: { qq: 'q_q', scores: [], probs: [], probsQ: [] },
  };

  // the past cache, per rank, as the reference rounds it
  const inp = ctx.inputs;
  const withData = P > 0 && !ctx.timingOnly;
  const nkvG = ctx.graph.config.numKeyValueHeads;
  const kData = planes.map((_, p) => planes[p]!.slices.map(() => withData ? Array.from({ length: ranks }, () => new Float64Array(count[p]!.k * layPlanes[p]!.lr * L)) : []));
  const vData = planes.map((_, p) => planes[p]!.slices.map(() => withData ? Array.from({ length: ranks }, () => new Float64Array(count[p]!.v * layPlanes[p]!.lr * L)) : []));
  for (let rank = 0; rank < (withData ? ranks : 0); rank++) {
    for (let pi = 0; pi < pairs; pi++) {
      const b = Math.floor(pi / Hk);
      const g = pi % Hk;
      const gg = rank * Hk + g;
      const sig = Math.floor(pi / kpack);
      const s = pi % kpack;
      for (let pos = 0; pos < P; pos++) {
        const ks = kSets[sig * nT + Math.floor(pos / L)]!;
        const lp = layPlanes[ks.plane]!;
        const vs = vSets[(b * vGroups + (vDup ? g : Math.floor(g / hpv))) * nC + Math.floor(pos / H)]!;
        const lv = layPlanes[vs.plane]!;
        for (let d = 0; d < D; d++) {
          const src = ((b * nkvG + gg) * P + pos) * D + d;
          const kr = s * D + d;
          kData[ks.plane]![kr % lp.r]![rank]![(ks.base + Math.floor(kr / lp.r)) * L + (pos % L)] = roundFloat(inp.kPast[src]!, adt);
          const vr = pos % H;
          const vv = roundFloat(inp.vPast[src]!, adt);
          const at = (vs.base + Math.floor(vr / lv.r)) * L;
          if (vDup) for (let q = 0; q < hpv; q++) vData[vs.plane]![vr % lv.r]![rank]![at + q * D + d] = vv;
          else vData[vs.plane]![vr % lv.r]![rank]![at + (g % hpv) * D + d] = vv;
        }
      }
    }
  }
  planes.forEach((cp, p) => {
    const tag = cp.queue.replace('.', '');
    cp.slices.forEach((slice, i) => {
      if (count[p]!.k) {
        const name = `kc_${tag}_${i}`;
        cp.k.push(ctx.sram.place(name, adt, count[p]!.k * layPlanes[p]!.lr, [slice], { data: withData ? kData[p]![i]!.map((v) => bytesOf(adt, v)) : undefined }));
        layPlanes[p]!.k.push(name);
      }
      if (count[p]!.v) {
        const name = `vc_${tag}_${i}`;
        cp.v.push(ctx.sram.place(name, adt, count[p]!.v * layPlanes[p]!.lr, [slice], { data: withData ? vData[p]![i]!.map((v) => bytesOf(adt, v)) : undefined }));
        layPlanes[p]!.v.push(name);
      }
    });
  });
  st = { lay, adt, planes, ready: new Map() };
  states.set(ctx.acts, st);
  return st;
}

/** A tensor in an activation pair that holds no cache slice (an install holds its slices' queues
 * for its whole run), nearest the VXM, preferring pairs apart from `avoid`; else allocNear. */
export function allocOffCache(ctx: LayerCtx, st: State, name: string, dtype: ChipTensor['dtype'], rows: number, avoid: ChipTensor[], opts: { data?: Uint8Array | Uint8Array[] } = {}): ChipTensor {
  const cache = new Set(st.planes.flatMap((cp) => cp.slices));
  const busy = new Set(avoid.flatMap((t) => t.slices));
  const dist = (i: number) => Math.max(...ctx.sram.pairs[i]!.map((x) => Math.abs(ctx.sch.position(x) - ctx.vxm)));
  const clash = (i: number) => Number(ctx.sram.pairs[i]!.some((x) => busy.has(x)));
  const free = ctx.sram.pairs.map((_, i) => i).filter((i) => !ctx.sram.pairs[i]!.some((x) => cache.has(x)));
  for (const i of free.sort((a, b) => clash(a) - clash(b) || dist(a) - dist(b))) {
    try {
      return ctx.sram.alloc(name, dtype, rows, { ...opts, pair: i });
    } catch (e) {
      if (!(e instanceof FitError)) throw e;
    }
  }
  return allocNear(ctx, name, dtype, rows, avoid, opts);
}

/** Slice tensor and local row of row k of a K or V set. */
export function setRow(st: State, kind: 'k' | 'v', set: { plane: number; base: number }, k: number): { t: ChipTensor; row: number } {
  const lp = st.lay.planes[set.plane]!;
  return { t: st.planes[set.plane]![kind][k % lp.r]!, row: set.base + Math.floor(k / lp.r) };
}

/** The positions token t attends: lo .. hi. */
export function window(lay: AttentionLayout, t: number): { lo: number; hi: number } {
  const hi = lay.past + t;
  return { lo: firstKey(hi, lay.window), hi };
}

/** A fp32 mask row per head slot q: 1 on lanes q*D .. q*D+D-1 (a copy apart from `avoid`). */
export function headMask(ctx: LayerCtx, st: State, avoid: ChipTensor[]): ChipTensor {
  const { lanes: L, headDim: D, hpv } = st.lay;
  const v = new Float64Array(hpv * L);
  for (let q = 0; q < hpv; q++) for (let d = 0; d < D; d++) v[q * L + q * D + d] = 1;
  return constantApart(ctx, 'attn_head_mask', 'fp32', hpv, f32Bytes(v), avoid);
}

export function register(ctx: LayerCtx, name: string, t: ChipTensor, tokens: number, tiles: number, per: number, cols: number, first: number): Act {
  const a: Act = { t, tokens, tiles, per, cols, first };
  ctx.acts.set(name, a);
  return a;
}

export interface Env {
  sch: Schedule;
  d: ReturnType<typeof delaysOf>;
  vxm: number;
  alus: string[];
  name: (id: number) => string;
}

function delaysOf(ctx: LayerCtx) {
  return ctx.chip.delays;
}

export function env(ctx: LayerCtx): Env {
  const sch = ctx.sch;
  return { sch, d: delaysOf(ctx), vxm: ctx.vxm, alus: aluQueues(ctx), name: (id) => sch.plan.streamName(id) };
}

/** Streams for a value leaving `from` on `cycle` towards position `to` (one group of `width`). */
export function toward(sch: Schedule, width: number, from: number, cycle: number, to: number, what: string): number {
  return sch.pickStreams(to >= from, width, [{ offset: 0, width, from, cycle, to }], what);
}

// ---------------------------------------------------------------------------------------------
// q_quant: q_rope (fp32, heads layout) -> q_q, one row per (token row m, head h): fp16 of head h
// on lanes s*D .., s the slot of its (sequence, kv head) pair in its K set, zero elsewhere.

/** q_q's rows (m * heads + h) and their chip tensors, registered as the q_quant op's output:
 * with several tokens each row in a slice of the plane whose K set (the tile of the token's own
 * position) multiplies it, so that the planes' MMs read different slices; else one tensor. */
export function prepareQq(ctx: LayerCtx, st: State, M: number): (row: number) => { t: ChipTensor; row: number } {
  if (st.qqAt) return st.qqAt;
  const sch = ctx.sch;
  const lay = st.lay;
  const { tokens: T, heads: Hq, kvHeads: Hk, group: G, kpack, headDim: D } = lay;
  let qqAt: (row: number) => { t: ChipTensor; row: number };
  let qq: ChipTensor;
  if (lay.vDup) {
    const plane = new Int32Array(M * Hq);
    const row = new Int32Array(M * Hq);
    const count = st.planes.map(() => 0);
    for (let m = 0; m < M; m++) {
      const b = Math.floor(m / T);
      for (let h = 0; h < Hq; h++) {
        const pi = b * Hk + Math.floor(h / G);
        const p = lay.kSets[Math.floor(pi / kpack) * lay.nT + Math.floor((lay.past + (m % T)) / lay.lanes)]!.plane;
        plane[m * Hq + h] = p;
        row[m * Hq + h] = count[p]!++;
      }
    }
    const parts = st.planes.map((cp, p) => {
      const need = 2 * Math.max(1, count[p]!);
      const slice = [...cp.slices].sort((x, y) => Math.abs(sch.position(x) - cp.pos) - Math.abs(sch.position(y) - cp.pos)).find((x) => ctx.sram.free(x) >= need) ?? cp.slices[0]!;
      return ctx.sram.place(`q_q_${p}`, st.adt, Math.max(1, count[p]!), [slice]);
    });
    lay.qqWhere = { plane, row };
    lay.tensors.qqParts = parts.map((t) => t.name);
    qqAt = (r) => ({ t: parts[plane[r]!]!, row: row[r]! });
    qq = parts[0]!;
  } else {
    qq = allocOffCache(ctx, st, 'q_q', st.adt, M * Hq, []);
    const one = qq;
    qqAt = (r) => ({ t: one, row: r });
  }
  st.qq = qq;
  st.qqAt = qqAt;
  const out = ctx.graph.ops.find((o) => o.name === 'q_quant')!.outputs[0]!.name;
  register(ctx, out, qq, M, Hq, D, Hq * D, ctx.share.rank * Hq * D);
  return qqAt;
}

/**
 * q_q's row (m, h) from the fp32 vector of q_rope holding head h, on streams `y` at the VXM on
 * cycle `at` (read there, or made there by RoPE): masked to the head's lanes (a row of `mask`),
 * cast, and moved by the SXM nearest its slice to lanes s*D .. where its slot s in the K set
 * differs. Returns the cycle the row is readable.
 */
export function emitQq(ctx: LayerCtx, st: State, m: number, h: number, y: number, at: number, mask: ChipTensor, floor: number, what: string): number {
  const { sch, d, vxm, alus, name } = env(ctx);
  const { tokens: T, heads: Hq, kvHeads: Hk, group: G, kpack, hpv, headDim: D } = st.lay;
  const b = Math.floor(m / T);
  const s = (b * Hk + Math.floor(h / G)) % kpack;
  const shift = s * D - (h % hpv) * D;
  const { t: qt, row } = st.qqAt!(m * Hq + h);
  const mb = readFrom(sch, mask, h % hpv, at, vxm, floor, `${what} mask`);
  const p = chainAny(sch, 4, at + d.vxmAlu, `${what} masked`);
  issueAny(sch, alus, at, `MUL.fp32 ${name(p)}, ${name(y)}, ${name(mb)}`);
  const cv = at + d.vxmAlu + d.vxmLarge;
  let ready: number;
  if (shift === 0) {
    const o1 = storeRow(sch, qt, row, vxm, cv, what);
    issueAny(sch, alus, at + d.vxmAlu, `CVT.${st.adt} ${name(o1.base)}, ${name(p)}, fp32`);
    ready = o1.ready;
  } else {
    const sxm = sxmNear(sch, qt);
    const sp = sch.position(sxm);
    const to = toward(sch, 2, vxm, cv, sp, `${what} to ${sxm}`);
    issueAny(sch, alus, at + d.vxmAlu, `CVT.${st.adt} ${name(to)}, ${name(p)}, fp32`);
    const sh = cv + sch.travel(vxm, sp);
    const o1 = storeRow(sch, qt, row, sp, sh + d.sxm, what);
    sch.issue(sxm, sh, `SHIFT.${st.adt} ${name(o1.base)}, ${name(to)}, ${shift}`);
    ready = o1.ready;
  }
  return ready;
}

export const lowerQQuant: Lowering = (ctx, op, start) => {
  const st = state(ctx);
  const { sch, vxm } = env(ctx);
  const { heads: Hq, hpv } = st.lay;
  const q = act(ctx, op.inputs[0]!.name);
  const M = q.tokens;
  prepareQq(ctx, st, M);
  const mask = headMask(ctx, st, [q.t]);
  ctx.units.add('MEM').add('VXM').add('SXM');
  let end = start;
  let cur = start;
  for (let m = 0; m < M; m++) {
    for (let h = 0; h < Hq; h++) {
      const what = `q_quant m${m} h${h}`;
      const src = m * q.tiles + Math.floor(h / hpv);
      cur = place(sch, cur, (c) => {
        const xb = readFrom(sch, q.t, src, c, vxm, start, what);
        end = Math.max(end, emitQq(ctx, st, m, h, xb, c, mask, start, what));
      }, what) + 1;
    }
  }
  return end;
};

// ---------------------------------------------------------------------------------------------
// kv_append

export const lowerKvAppend: Lowering = (ctx, op, start) => {
  const st = state(ctx);
  const lay = st.lay;
  const { sch, d, vxm, alus, name } = env(ctx);
  const { lanes: L, half: H, tokens: T, past: P, kvHeads: Hk, kpack, hpv, headDim: D, nT, nC, tilesKV } = lay;
  const k = act(ctx, 'k_rope');
  const v = act(ctx, 'v');
  const M = k.tokens;
  if (k.tiles !== tilesKV || v.tiles !== tilesKV) throw new Error(`internal: k_rope/v have ${k.tiles}/${v.tiles} vectors per row, expected ${tilesKV}`);
  ctx.units.add('MEM').add('VXM').add('SXM');
  const readyOf = (t: ChipTensor, row: number) => Math.max(start, st.ready.get(`${t.name}:${row}`) ?? 0);
  let end = start;
  let cur = start;
  // V rows, one CVT each; with one new key per sequence (T = 1) each key is staged next to its V
  // row, in the attention dtype, a copy on each side for the SXMs' broadcasts (so that both SXMs
  // read theirs every cycle: a slice issues one instruction a cycle)
  const skewed = T >= 2;
  const pairOnSide = (side: 'W' | 'E') => {
    const i = ctx.sram.pairs.findIndex(([x]) => x.startsWith(`MEM.${side}`));
    return i < 0 ? undefined : i;
  };
  // V per kv head on every head slot: PERM index rows, slot q taking lanes q*D .. q*D+D-1
  const dupIdx = lay.vDup && hpv > 1
    ? constantApart(ctx, 'v_dup_idx', 'fp16', hpv, i16Bytes(Array.from({ length: hpv * L }, (_, i) => {
      const l = i % L;
      return l < hpv * D ? Math.floor(i / L) * D + (l % D) : l;
    })), [v.t])
    : null;
  const stages = skewed ? [] : (['W', 'E'] as const).map((sd) => ctx.sram.alloc(`k_stage_${sd}`, st.adt, M * tilesKV, { pair: pairOnSide(sd) }));
  if (!skewed) st.kStage = stages[0];
  let stageReady = start;
  for (let m = 0; m < M; m++) {
    const b = Math.floor(m / T);
    const p = P + (m % T);
    for (let j = 0; j < tilesKV; j++) {
      if (lay.vDup) {
        // per kv head g of the vector: its values on every head slot (an SXM PERM), in its own set
        for (let g = j * hpv; g < Math.min(Hk, (j + 1) * hpv); g++) {
          const vs = lay.vSets[(b * Hk + g) * nC + Math.floor(p / H)]!;
          const dst = setRow(st, 'v', vs, p % H);
          const what = `kv_append m${m} v head ${g}`;
          const sxm = g % 2 ? 'SXM.E' : 'SXM.W';
          const sp = sch.position(sxm);
          cur = place(sch, cur, (c) => {
            const vb = readFrom(sch, v.t, m * v.tiles + j, c, vxm, start, what);
            const cv = c + d.vxmLarge;
            if (hpv === 1) {
              const o = storeRow(sch, dst.t, dst.row, vxm, cv, what);
              issueAny(sch, alus, c, `CVT.${st.adt} ${name(o.base)}, ${name(vb)}, fp32`);
              st.ready.set(`${dst.t.name}:${dst.row}`, o.ready);
              end = Math.max(end, o.ready);
              return;
            }
            const to = toward(sch, 2, vxm, cv, sp, `${what} to ${sxm}`);
            issueAny(sch, alus, c, `CVT.${st.adt} ${name(to)}, ${name(vb)}, fp32`);
            const at = cv + sch.travel(vxm, sp);
            const ib = readFrom(sch, dupIdx!, g % hpv, at, sp, start, `${what} index`);
            const o = storeRow(sch, dst.t, dst.row, sp, at + d.sxm, what);
            sch.issue(sxm, at, `PERM.${st.adt} ${name(o.base)}, ${name(to)}, ${name(ib)}`, what);
            st.ready.set(`${dst.t.name}:${dst.row}`, o.ready);
            end = Math.max(end, o.ready);
          }, what) + 1;
        }
      } else {
        const vs = lay.vSets[(b * tilesKV + j) * nC + Math.floor(p / H)]!;
        const dst = setRow(st, 'v', vs, p % H);
        const what = `kv_append m${m} v${j}`;
        cur = place(sch, cur, (c) => {
          const vb = readFrom(sch, v.t, m * v.tiles + j, c, vxm, start, what);
          const o = storeRow(sch, dst.t, dst.row, vxm, c + d.vxmLarge, what);
          issueAny(sch, alus, c, `CVT.${st.adt} ${name(o.base)}, ${name(vb)}, fp32`);
          st.ready.set(`${dst.t.name}:${dst.row}`, o.ready);
          end = Math.max(end, o.ready);
        }, what) + 1;
      }
      if (skewed) continue;
      const kw = `kv_append m${m} k${j}`;
      cur = place(sch, cur, (c) => {
        const kb = readFrom(sch, k.t, m * k.tiles + j, c, vxm, start, kw);
        for (const stage of stages) {
          const o = storeRow(sch, stage, m * tilesKV + j, vxm, c + d.vxmLarge, kw);
          issueAny(sch, alus, c, `CVT.${st.adt} ${name(o.base)}, ${name(kb)}, fp32`);
          stageReady = Math.max(stageReady, o.ready);
        }
      }, kw) + 1;
    }
  }
  // the graph's caches: decoded by readBackAttention
  const first = st.planes.find((cp) => cp.k.length)!;
  register(ctx, 'k_cache', first.k[0]!, M, 0, D, Hk * D, ctx.share.rank * Hk * D);
  register(ctx, 'v_cache', (st.planes.find((cp) => cp.v.length) ?? first).v[0] ?? first.k[0]!, M, 0, D, Hk * D, ctx.share.rank * Hk * D);
  if (skewed) return Math.max(end, appendKeysSkewed(ctx, st, k, start));
  // one-hot rows of the new positions' lanes
  const lanesOf = [...new Set(Array.from({ length: T }, (_, t) => (P + t) % L))];
  const oh = new Float64Array(lanesOf.length * L);
  lanesOf.forEach((l, i) => (oh[i * L + l] = 1));
  // two copies, apart from the staged keys and each other (every update reads a key and a one-hot)
  const onehot0 = constantApart(ctx, 'k_onehot', st.adt, lanesOf.length, bytesOf(st.adt, oh), stages);
  const onehots = [onehot0, constantApart(ctx, 'k_onehot', st.adt, lanesOf.length, bytesOf(st.adt, oh), [...stages, onehot0])];
  // K^T: D rows per new key, lane p mod L; the two SXMs take every other row, each on its own
  // cursor (a row is at most one broadcast a cycle per SXM), from `floor` on
  const keysT = (floor: number): number => {
  let n = 0;
  const curS = [Math.max(start, stageReady - 8, floor), Math.max(start, stageReady - 8, floor)];
  // d outermost: consecutive rows belong to different keys' sets (other planes' slices)
  for (let dd = 0; dd < D; dd++) {
    for (let m = 0; m < M; m++) {
      const b = Math.floor(m / T);
      const p = P + (m % T);
      const jt = Math.floor(p / L);
      const oi = lanesOf.indexOf(p % L);
      for (let g = 0; g < Hk; g++) {
        const pi = b * Hk + g;
        const ks = lay.kSets[Math.floor(pi / kpack) * nT + jt]!;
        const sr = m * tilesKV + Math.floor(g / hpv);
        const dst = setRow(st, 'k', ks, (pi % kpack) * D + dd);
        const side = n++ % 2;
        const sxm = side ? 'SXM.E' : 'SXM.W';
        const sp = sch.position(sxm);
        const stage = stages[side]!;
        const lane = (g % hpv) * D + dd;
        const what = `kv_append m${m} g${g} d${dd}`;
        curS[side] = place(sch, Math.max(curS[side]!, readyOf(dst.t, dst.row) - 12), (c) => {
          const dist = c - sch.travel(sp, vxm) - d.sxm;
          const sb = readFrom(sch, stage, sr, dist, sp, stageReady, `${what} key`);
          const ob = readFrom(sch, dst.t, dst.row, c + d.vxmAlu, vxm, readyOf(dst.t, dst.row), `${what} old row`);
          const db = toward(sch, 2, sp, dist + d.sxm, vxm, `${what} broadcast`);
          sch.issue(sxm, dist, `DIST.${st.adt} ${name(db)}, ${name(sb)}, ${lane}`, what);
          const mb = readFrom(sch, onehots[side]!, oi, c, vxm, start, `${what} one-hot`);
          const pr = chainAny(sch, 2, c + d.vxmAlu, `${what} on lane`);
          issueAny(sch, alus, c, `MUL.${st.adt} ${name(pr)}, ${name(db)}, ${name(mb)}`);
          const o = storeRow(sch, dst.t, dst.row, vxm, c + 2 * d.vxmAlu, what);
          issueAny(sch, alus, c + d.vxmAlu, `ADD.${st.adt} ${name(o.base)}, ${name(pr)}, ${name(ob)}`);
          st.ready.set(`${dst.t.name}:${dst.row}`, o.ready);
          end = Math.max(end, o.ready);
        }, what) + 1;
      }
    }
  }
  return end;
  };
  // nothing in the layer reads the new K^T rows (attn_scores takes the new key from the stage):
  // where the driver takes deferred placements, they fill the gaps every op leaves, after the
  // installs that read those rows as they were (State.oldReadEnd)
  if (ctx.deferred) {
    ctx.deferred.push({ op: op.name, place: () => keysT(st.oldReadEnd === undefined ? 0 : st.oldReadEnd + 1) });
    return end;
  }
  return keysT(0);
};

/**
 * kv_append's keys when a sequence brings several (T >= 2): the new keys of a group (sequence b,
 * kv vector j, position tile jt) become K^T rows by a skewed transpose, two SXM ROTs and a MEM
 * GATHER, instead of one broadcast per key and row:
 *  1. key vector n of the group (n = its position's lane in the tile) is cast at the VXM and
 *     rotated by n at the group's SXM on its way to the group's staging rows (one slice), so that
 *     B_n[(n + f) mod L] = k_n[f];
 *  2. K^T row f (feature f of the kv vector: kv head j*hpv + f / D, dimension f mod D) is
 *     GATHER(B, idx_f) rotated by -f at the same SXM: idx_f[l] is the staging row of the key on
 *     tile lane (l - f) mod L, or the group's zero row where that lane holds no new key, so that
 *     lane l of the gather is B_{l-f}[l] = k_{l-f}[f] and the rotation moves it to lane l - f;
 *  3. the row goes to its K set's slice as it is when the tile holds no older keys (the cache is
 *     zero on lanes not yet written), else added at the VXM to the row's older lanes.
 * idx_f depends on the lanes the group's keys take (n0 .. n1), so there is one table of rows
 * per distinct range (a tile full of new keys, the first and last tiles of a prompt). Groups are
 * dealt to the two SXMs in turn; each SXM does one ROT per key and one per K^T row.
 */
function appendKeysSkewed(ctx: LayerCtx, st: State, k: Act, start: number): number {
  const lay = st.lay;
  const { sch, d, vxm, alus, name } = env(ctx);
  const { lanes: L, tokens: T, past: P, kvHeads: Hk, kpack, hpv, headDim: D, nT, tilesKV, batch: B } = lay;
  interface Group { b: number; j: number; jt: number; n0: number; n1: number; side: number; base: number; table: number; ready: number }
  const groups: Group[] = [];
  const ranges: [number, number][] = [];
  const rows = [0, 0];
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < tilesKV; j++) {
      for (let jt = Math.floor(P / L); jt <= Math.floor((P + T - 1) / L); jt++) {
        const n0 = Math.max(P, jt * L) - jt * L;
        const n1 = Math.min(P + T - 1, jt * L + L - 1) - jt * L;
        let table = ranges.findIndex(([a, z]) => a === n0 && z === n1);
        if (table < 0) table = ranges.push([n0, n1]) - 1;
        const side = groups.length % 2;
        groups.push({ b, j, jt, n0, n1, side, base: rows[side]!, table, ready: start });
        // the group's keys, then its zero row
        rows[side]! += n1 - n0 + 2;
      }
    }
  }
  // features of a kv vector that hold a kv head of this chip
  const F = Math.min(hpv, Hk) * D;
  const idx = new Int16Array(ranges.length * F * L);
  ranges.forEach(([n0, n1], ti) => {
    for (let f = 0; f < F; f++) {
      for (let l = 0; l < L; l++) {
        const n = (((l - f) % L) + L) % L;
        idx[(ti * F + f) * L + l] = n >= n0 && n <= n1 ? n - n0 : n1 - n0 + 1;
      }
    }
  });
  const idxBytes = new Uint8Array(idx.buffer);
  // where the tables would take more than an eighth of the room left (small chips), only their
  // first rows (f = 0) are kept and each idx_f is made by a ROT at the other SXM
  const roomLeft = Math.min(...ctx.weightStore.activationSlices.map((x) => ctx.sram.free(x)));
  const rotIdx = 2 * ranges.length * F * 8 > roomLeft;
  const baseBytes = new Uint8Array(new Int16Array(ranges.flatMap((_, ti) => Array.from(idx.subarray(ti * F * L, ti * F * L + L)))).buffer);
  // per side: the staging rows and a copy of the index tables, in two activation slices of that
  // side with the most room (the cache planes' slices last)
  const sides = (['W', 'E'] as const).map((sd, i) => {
    if (!rows[i]) return null;
    const cacheSlices = new Set(st.planes.flatMap((cp) => cp.slices));
    const cands = ctx.weightStore.activationSlices.filter((x) => x.startsWith(`MEM.${sd}`));
    const room = (x: string) => ctx.sram.free(x) - (cacheSlices.has(x) ? ctx.chip.memVectorsPerSlice : 0);
    const order = [...cands].sort((x, y) => room(y) - room(x));
    const stage = ctx.sram.place(`k_skew_${sd}`, st.adt, rows[i]!, [order[0]!]);
    const tRows = rotIdx ? ranges.length : ranges.length * F;
    const table = ctx.sram.place(`k_skew_idx_${sd}`, 'fp16', tRows, [order.find((x) => x !== order[0] && ctx.sram.free(x) >= 2 * tRows) ?? order[1] ?? order[0]!], { data: rotIdx ? baseBytes : idxBytes });
    const sxm = sd === 'W' ? 'SXM.W' : 'SXM.E';
    return { stage, table, sxm, sp: sch.position(sxm), ps: sch.position(stage.slices[0]!) };
  });
  const readyOf = (t: ChipTensor, row: number) => Math.max(start, st.ready.get(`${t.name}:${row}`) ?? 0);
  // 1. the keys, cast, rotated and staged
  const curS = [start, start];
  for (const G of groups) {
    const sd = sides[G.side]!;
    for (let t = 0; t < T; t++) {
      const p = P + t;
      if (Math.floor(p / L) !== G.jt) continue;
      const n = p - G.jt * L;
      const m = G.b * T + t;
      const what = `kv_append m${m} k${G.j} (skew ${n})`;
      curS[G.side] = place(sch, curS[G.side]!, (c) => {
        const kb = readFrom(sch, k.t, m * k.tiles + G.j, c, vxm, start, what);
        const cv = c + d.vxmLarge;
        const to = toward(sch, 2, vxm, cv, sd.sp, `${what} to ${sd.sxm}`);
        issueAny(sch, alus, c, `CVT.${st.adt} ${name(to)}, ${name(kb)}, fp32`);
        const at = cv + sch.travel(vxm, sd.sp);
        const o = storeRow(sch, sd.stage, G.base + n - G.n0, sd.sp, at + d.sxm, what);
        sch.issue(sd.sxm, at, `ROT.${st.adt} ${name(o.base)}, ${name(to)}, ${n}`, what);
        G.ready = Math.max(G.ready, o.ready);
      }, what) + 1;
    }
  }
  // 2, 3. the K^T rows
  let end = start;
  for (const G of groups) {
    const sd = sides[G.side]!;
    const merge = G.n0 > 0;
    let cur = G.ready;
    for (let f = 0; f < F; f++) {
      const g = G.j * hpv + Math.floor(f / D);
      if (g >= Hk) break;
      const pi = G.b * Hk + g;
      const ks = lay.kSets[Math.floor(pi / kpack) * nT + G.jt]!;
      const dst = setRow(st, 'k', ks, (pi % kpack) * D + (f % D));
      const what = `kv_append b${G.b} g${g} d${f % D} tile ${G.jt}`;
      cur = place(sch, cur, (c) => {
        let ib: number;
        if (rotIdx) {
          // idx_f = idx_0 rotated by f, at the other SXM
          const ox = sd.sxm === 'SXM.W' ? 'SXM.E' : 'SXM.W';
          const op = sch.position(ox);
          const rc = c - sch.travel(op, sd.ps) - d.sxm;
          const bb = readFrom(sch, sd.table, G.table, rc, op, start, `${what} index base`);
          ib = toward(sch, 2, op, rc + d.sxm, sd.ps, `${what} index`);
          sch.issue(ox, rc, `ROT.fp16 ${name(ib)}, ${name(bb)}, ${f}`, what);
        } else ib = readFrom(sch, sd.table, G.table * F + f, c, sd.ps, start, `${what} index`);
        const gb = toward(sch, 2, sd.ps, c + d.memRead, sd.sp, `${what} gathered`);
        sch.claimPorts(sd.stage.slices[0]!, c, 2, what);
        sch.issue(sd.stage.slices[0]!, c, `GATHER ${sd.stage.name}[${G.base}], ${name(ib)}, ${name(gb)}, 2`, what);
        const r = c + d.memRead + sch.travel(sd.ps, sd.sp);
        let o: { base: number; ready: number };
        if (!merge) {
          o = storeRow(sch, dst.t, dst.row, sd.sp, r + d.sxm, what);
          sch.issue(sd.sxm, r, `ROT.${st.adt} ${name(o.base)}, ${name(gb)}, ${(L - f) % L}`, what);
        } else {
          const rb = toward(sch, 2, sd.sp, r + d.sxm, vxm, `${what} to the VXM`);
          sch.issue(sd.sxm, r, `ROT.${st.adt} ${name(rb)}, ${name(gb)}, ${(L - f) % L}`, what);
          const a = r + d.sxm + sch.travel(sd.sp, vxm);
          const ob = readFrom(sch, dst.t, dst.row, a, vxm, readyOf(dst.t, dst.row), `${what} old row`);
          o = storeRow(sch, dst.t, dst.row, vxm, a + d.vxmAlu, what);
          issueAny(sch, alus, a, `ADD.${st.adt} ${name(o.base)}, ${name(rb)}, ${name(ob)}`);
        }
        st.ready.set(`${dst.t.name}:${dst.row}`, o.ready);
        end = Math.max(end, o.ready);
      }, what) + 1;
    }
  }
  return end;
}

// ---------------------------------------------------------------------------------------------
// Installing a K or V set into a plane: IW i installs rows i*r .. i*r+r-1, slice j reading local
// row base + i. The IWs go on consecutive cycles when that fits soon (one READ + REPEAT per
// slice), else each on the first cycle its reads fit (the feeding slices also hold the rows other
// planes' MMs read and write). Returns the first cycle an MM may use the set.
//
// An install may also take a set as it was before the rows' pending writes (`old`: every read
// issues at least two cycles before the write of its row recorded in State.ready lands in SRAM,
// and writes placed later go after State.oldReadEnd); where that cannot be, it throws
// OldRowsGone, which no placement loop catches.

/** An install that was to read rows before their new values could not. */
export class OldRowsGone extends Error {}

function installIw(ctx: LayerCtx, st: State, p: number, kind: 'k' | 'v', base: number, i: number, n: number, c0: number, floor: number, what: string, old = false): void {
  const { sch, d } = { sch: ctx.sch, d: ctx.chip.delays };
  const cp = st.planes[p]!;
  const { r, lr } = st.lay.planes[p]!;
  const H = st.lay.half;
  const tensors = cp[kind];
  // IWs i .. i+n-1 on cycles c0 .. c0+n-1
  const vals: { offset: number; width: number; from: number; cycle: number; to: number }[] = [];
  for (let j = 0; j < r; j++) {
    const from = sch.position(cp.slices[j]!);
    const issue = c0 - sch.travel(from, cp.pos) - d.memRead;
    if (issue < floor || issue < 0) throw new ScheduleConflict(`${what}: weights read before cycle ${floor}`);
    for (let k = i; k < i + n && k < lr && k * r + j < H; k++) {
      vals.push({ offset: 2 * j, width: 2, from, cycle: issue + (k - i) + d.memRead, to: cp.pos });
      if (!old) continue;
      // a write lands (ports and array) on its ready - 1: the old value is read up to ready - 3
      const w = st.ready.get(`${tensors[j]!.name}:${base + k}`);
      if (w !== undefined && issue + (k - i) > w - 3) throw new OldRowsGone(`${what}: row ${base + k} of ${tensors[j]!.name} is rewritten on ${w - 1}`);
      st.oldReadEnd = Math.max(st.oldReadEnd ?? 0, issue + (k - i));
    }
  }
  const sb = sch.pickStreams(cp.east, 2 * Math.min(r, H - i * r), vals, what);
  for (let j = 0; j < r; j++) {
    const slice = cp.slices[j]!;
    const from = sch.position(slice);
    const issue = c0 - sch.travel(from, cp.pos) - d.memRead;
    let cnt = 0;
    for (let k = i; k < i + n && k < lr && k * r + j < H; k++, cnt++) sch.claimPorts(slice, issue + (k - i), 2, what);
    if (!cnt) continue;
    sch.issue(slice, issue, `READ ${tensors[j]!.name}[${base + i}], ${sch.plan.streamName(sb + 2 * j)}`, j === 0 && i === 0 ? what : undefined);
    sch.repeat(slice, cnt - 1, 1);
  }
  const full = Math.min(i + n, Math.floor(H / r)) - i;
  if (full > 0) {
    sch.issue(cp.queue, c0, `IW.${st.adt} ${i * r}, ${sch.plan.streamName(sb)}, ${r}`, i === 0 ? what : undefined);
    sch.repeat(cp.queue, full - 1, 1);
  }
  if (i + n >= lr && H % r) sch.issue(cp.queue, c0 + lr - 1 - i, `IW.${st.adt} ${(lr - 1) * r}, ${sch.plan.streamName(sb)}, ${H % r}`);
}

export function install(ctx: LayerCtx, st: State, p: number, kind: 'k' | 'v', base: number, earliest: number, floor: number, what: string, old = false): number {
  const sch = ctx.sch;
  const { lr } = st.lay.planes[p]!;
  try {
    const c0 = place(sch, earliest, (c) => installIw(ctx, st, p, kind, base, 0, lr, c, floor, what, old), what, 8);
    return c0 + lr;
  } catch (e) {
    if (!(e instanceof ScheduleConflict)) throw e;
  }
  let c = earliest;
  for (let i = 0; i < lr; i++) c = place(sch, c, (ci) => installIw(ctx, st, p, kind, base, i, 1, ci, floor, `${what} IW ${i}`, old), what) + 1;
  return c;
}

/** install of the set as it was before its rows' pending writes, or -1 (nothing placed) where
 * its reads cannot all come first. */
function installOld(ctx: LayerCtx, st: State, p: number, kind: 'k' | 'v', base: number, earliest: number, what: string): number {
  let end = -1;
  const before = st.oldReadEnd;
  try {
    // one try of an enclosing attempt: a failure undoes the IWs already placed
    ctx.sch.attempt(earliest, () => (end = install(ctx, st, p, kind, base, earliest, 0, what, true)), what, 1);
  } catch (e) {
    if (!(e instanceof OldRowsGone) && !(e instanceof ScheduleConflict)) throw e;
    st.oldReadEnd = before;
    return -1;
  }
  return end;
}

/** A set and the MMs that use it; `old`: install it as it was before its rows' pending writes
 * if that fits (then `readOld` is set). */
interface PlaneSet {
  plane: number;
  base: number;
  mms: ((c: number) => void)[];
  what: string;
  old?: boolean;
  readOld?: boolean;
}

/** Places each plane's sets round robin: install, then its MMs, each at the first free cycle. */
function runPlanes(ctx: LayerCtx, st: State, kind: 'k' | 'v', sets: PlaneSet[], start: number): void {
  const sch = ctx.sch;
  const H = st.lay.half;
  const byPlane = st.planes.map((_, p) => sets.filter((s) => s.plane === p && s.mms.length));
  // a set may be installed as soon as its rows are (the past cache: from the start) and the plane
  // has done everything placed on it before (this op's MMs wait for their x from `start` on; no
  // op placed later uses the planes before this op's last MM, as its outputs feed every later op
  // that does)
  const free = st.planes.map((cp) => sch.free(cp.queue));
  const setReady = (set: { plane: number; base: number }) => {
    let r = 0;
    for (let k = 0; k < H; k++) {
      const at = setRow(st, kind, set, k);
      r = Math.max(r, st.ready.get(`${at.t.name}:${at.row}`) ?? 0);
    }
    return r;
  };
  const rounds = Math.max(0, ...byPlane.map((l) => l.length));
  for (let k = 0; k < rounds; k++) {
    byPlane.forEach((list, p) => {
      const set = list[k];
      if (!set) return;
      const ready = setReady(set);
      let cur = set.old ? installOld(ctx, st, p, kind, set.base, free[p]!, set.what) : -1;
      set.readOld = cur >= 0;
      if (cur < 0) cur = install(ctx, st, p, kind, set.base, Math.max(free[p]!, ready), ready, set.what);
      cur = Math.max(cur, start);
      for (const mm of set.mms) cur = place(sch, cur, mm, `${set.what} MM`) + 2;
      free[p] = cur;
    });
  }
}

/** A row set split over up to `most` (2) tensors in different pairs (by softmax row r mod
 * parts), so that the softmax passes read several rows a cycle: R rows of `per` vectors each. */
export function parts(ctx: LayerCtx, name: string, R: number, per: number, avoid: ChipTensor[], most = 2, equal = false): ChipTensor[] {
  const k = Math.min(most, R, ctx.sram.pairs.length);
  const out: ChipTensor[] = [];
  for (let i = 0; i < k; i++) out.push(allocNear(ctx, `${name}_${i}`, 'fp32', Math.ceil((equal ? R : R - i) / k) * per, [...avoid, ...out]));
  return out;
}

/** Decode scores: row r of R in part floor(r / ceil(R / parts)) (runs of rows, the heads of a
 * kv group together, so that the softmax of the first heads reads other pairs than the MMs of
 * the last ones write; parts made with `equal`). */
export function scoreRow<X>(ps: X[], r: number, R: number, per: number, jt: number): { t: X; row: number } {
  const run = Math.ceil(R / ps.length);
  return { t: ps[Math.floor(r / run)]!, row: (r % run) * per + jt };
}

export function partRow<X>(ps: X[], r: number, per: number, jt: number): { t: X; row: number } {
  return { t: ps[r % ps.length]!, row: Math.floor(r / ps.length) * per + jt };
}

/** The blocked pipeline's scores and probs rows (attn-blocks.ts): tile jt of slot `slot` in part
 * (slot + jt) mod parts, so that a row's tiles lie in different pairs. */
export function tileRow<X>(ps: X[], slot: number, per: number, jt: number): { t: X; row: number } {
  return { t: ps[(slot + jt) % ps.length]!, row: Math.floor(slot / ps.length) * per + jt };
}

/** Where probs_q row (r, c) lives: the plane of the V set (b, kv vector of h, c), and its row
 * there (rows numbered per plane in (r, c) order). */
function pqAt(lay: AttentionLayout): { plane: Int32Array; row: Int32Array; rows: number[] } {
  const { tokens: T, heads: Hq, group: G, hpv, tilesKV, nC, batch: B } = lay;
  const R = B * Hq * T;
  const plane = new Int32Array(R * nC);
  const row = new Int32Array(R * nC);
  const rows = lay.planes.map(() => 0);
  for (let r = 0; r < R; r++) {
    const b = Math.floor(r / (Hq * T));
    const h = Math.floor(r / T) % Hq;
    const j = Math.floor(Math.floor(h / G) / hpv);
    for (let c = 0; c < nC; c++) {
      const p = lay.vSets[(b * tilesKV + j) * nC + c]!.plane;
      plane[r * nC + c] = p;
      row[r * nC + c] = rows[p]!++;
    }
  }
  return { plane, row, rows };
}

// ---------------------------------------------------------------------------------------------
// attn_scores: per K set, one MM per (query head of its pairs, token attending the set's tile).

export const lowerAttnScores: Lowering = (ctx, op, start) => {
  const st = state(ctx);
  const lay = st.lay;
  if (lay.vDup) {
    lowerBlocked(ctx, st, start);
    return st.ends!.scores;
  }
  const { sch, d, name } = env(ctx);
  const { lanes: L, tokens: T, heads: Hq, kvHeads: Hk, group: G, kpack, nT, batch: B } = lay;
  const qq = st.qq ?? act(ctx, op.inputs[0]!.name).t;
  const R = B * Hq * T;
  // in up to four pairs, by runs of rows (scoreRow: the softmax reads each tile three times
  // while the MMs still write later heads' tiles), apart from q_q and the staged keys, read while
  // the MMs write the scores
  const scores = parts(ctx, 'scores', R, nT, [qq, ...(st.kStage ? [st.kStage] : [])], 4, true);
  st.scores = scores;
  lay.tensors.scores = scores.map((t) => t.name);
  register(ctx, op.outputs[0]!.name, scores[0]!, R, nT, L, 0, ctx.share.rank * Hq);
  ctx.units.add('MEM').add('MXM');
  let end = start;
  // one new key per sequence (kv_append staged it): the tile holding it is taken as it was before
  // kv_append's K^T writes where that fits, and the new key's scores added to it (newKeyScores)
  const jtN = Math.floor(lay.past / L);
  const fresh = new Map<PlaneSet, { r: number; b: number; h: number; pi: number }[]>();
  const sets = lay.kSets.map((ks, i): PlaneSet => {
    const sig = Math.floor(i / nT);
    const jt = i % nT;
    const rowsOf: { r: number; b: number; h: number; pi: number }[] = [];
    const mms: ((c: number) => void)[] = [];
    for (let s = 0; s < kpack; s++) {
      const pi = sig * kpack + s;
      if (pi >= B * Hk) break;
      const b = Math.floor(pi / Hk);
      const g = pi % Hk;
      for (let h = g * G; h < (g + 1) * G; h++) {
        for (let t = 0; t < T; t++) {
          const { lo, hi } = window(lay, t);
          if (jt * L > hi || jt * L + L - 1 < lo) continue;
          const m = b * T + t;
          const r = (b * Hq + h) * T + t;
          const cp = st.planes[ks.plane]!;
          rowsOf.push({ r, b, h, pi });
          mms.push((c) => {
            const what = `attn_scores b${b} h${h} t${t} tile ${jt}`;
            const xb = readFrom(sch, qq, m * Hq + h, c, cp.pos, start, what);
            const at = scoreRow(scores, r, R, nT, jt);
            const o = storeRow(sch, at.t, at.row, cp.pos, c + d.mxm, what);
            sch.issue(cp.queue, c, `MM.${st.adt} ${name(xb)}, ${name(o.base)}`, what);
            end = Math.max(end, o.ready);
          });
        }
      }
    }
    const set: PlaneSet = { plane: ks.plane, base: ks.base, mms, what: `attn_scores K set ${sig} tile ${jt}` };
    if (st.kStage && T === 1 && jt === jtN) {
      set.old = true;
      fresh.set(set, rowsOf);
    }
    return set;
  });
  // the sets taken before kv_append's writes first on their planes (before the writes land)
  runPlanes(ctx, st, 'k', [...sets.filter((x) => x.old), ...sets.filter((x) => !x.old)], start);
  const fix = [...fresh].filter(([set]) => set.readOld).flatMap(([, rows]) => rows);
  if (fix.length) end = Math.max(end, newKeyScores(ctx, st, scores, fix, jtN, start));
  return end;
};

/**
 * The new key's score of each query row in `rows` (one new token per sequence, at position P),
 * added to its scores tile jtN, which the MXM made from the K^T tile as it was before kv_append's
 * write (zero on the new key's lane P mod L):
 *  1. per (sequence, kv head) pair pi, the staged key (kv_append's k_stage, the attention dtype)
 *     in fp32 (exact), masked to its head's lanes and moved by an SXM to the lanes of its slot in
 *     the K set, as q_q holds the query (k_new_slot row pi);
 *  2. per row: q_q in fp32 times that row (products exact in fp32, zero off the slot), RSUM at an
 *     SXM (the dot product on every lane), times a one-hot row of lane P mod L, added to the tile.
 * Returns the cycle the last tile is back in SRAM.
 */
function newKeyScores(ctx: LayerCtx, st: State, scores: ChipTensor[], rows: { r: number; b: number; h: number; pi: number }[], jtN: number, start: number): number {
  const { sch, d, vxm, alus, name } = env(ctx);
  const lay = st.lay;
  const { lanes: L, past: P, kvHeads: Hk, heads: Hq, kpack, hpv, headDim: D, nT, tilesKV, batch: B } = lay;
  const stage = st.kStage!;
  const qq = st.qq!;
  const pairs = [...new Set(rows.map((x) => x.pi))].sort((a, b) => a - b);
  const slot = allocOffCache(ctx, st, 'k_new_slot', 'fp32', B * Hk, [stage, qq]);
  const mask = headMask(ctx, st, [stage, slot]);
  const oh = new Float64Array(L);
  oh[P % L] = 1;
  const onehot = allocOffCache(ctx, st, 'k_new_onehot', 'fp32', 1, [...scores, slot], { data: f32Bytes(oh) });
  const slotReady = new Map<number, number>();
  let cur = start;
  for (const pi of pairs) {
    const b = Math.floor(pi / Hk);
    const g = pi % Hk;
    const sr = b * tilesKV + Math.floor(g / hpv);
    const shift = ((pi % kpack) - (g % hpv)) * D;
    const what = `attn_scores new key b${b} g${g}`;
    cur = place(sch, Math.max(cur, sch.readyAt(`${stage.name}[${sr}]`) ?? start), (c) => {
      const kb = readFrom(sch, stage, sr, c, vxm, start, what);
      const kf = chainAny(sch, 4, c + d.vxmLarge, `${what} fp32`);
      issueAny(sch, alus, c, `CVT.fp32 ${name(kf)}, ${name(kb)}, ${st.adt}`);
      const c1 = c + d.vxmLarge;
      const mb = readFrom(sch, mask, g % hpv, c1, vxm, start, `${what} mask`);
      const c2 = c1 + d.vxmAlu;
      if (shift === 0) {
        const o = storeRow(sch, slot, pi, vxm, c2, what);
        issueAny(sch, alus, c1, `MUL.fp32 ${name(o.base)}, ${name(kf)}, ${name(mb)}`);
        slotReady.set(pi, o.ready);
        return;
      }
      const sxm = sxmNear(sch, slot);
      const sp = sch.position(sxm);
      const to = toward(sch, 4, vxm, c2, sp, `${what} to ${sxm}`);
      issueAny(sch, alus, c1, `MUL.fp32 ${name(to)}, ${name(kf)}, ${name(mb)}`);
      const sh = c2 + sch.travel(vxm, sp);
      const o = storeRow(sch, slot, pi, sp, sh + d.sxm, what);
      sch.issue(sxm, sh, `SHIFT.fp32 ${name(o.base)}, ${name(to)}, ${shift}`, what);
      slotReady.set(pi, o.ready);
    }, what) + 1;
  }
  let end = start;
  cur = start;
  rows.forEach(({ r, b, h, pi }, k) => {
    const what = `attn_scores new key b${b} h${h}`;
    const sxm = k % 2 ? 'SXM.E' : 'SXM.W';
    const sp = sch.position(sxm);
    const at = scoreRow(scores, r, lay.batch * lay.heads * lay.tokens, nT, jtN);
    const tileAt = sch.readyAt(`${at.t.name}[${at.row}]`) ?? start;
    cur = place(sch, Math.max(cur, slotReady.get(pi)! - d.vxmLarge, tileAt - 2 * sch.travel(vxm, sp) - 16), (c) => {
      const qb = readFrom(sch, qq, b * Hq + h, c, vxm, start, `${what} q`);
      const qf = chainAny(sch, 4, c + d.vxmLarge, `${what} q fp32`);
      issueAny(sch, alus, c, `CVT.fp32 ${name(qf)}, ${name(qb)}, ${st.adt}`);
      const c1 = c + d.vxmLarge;
      const kb = readFrom(sch, slot, pi, c1, vxm, slotReady.get(pi)!, `${what} key`);
      const toS = toward(sch, 4, vxm, c1 + d.vxmAlu, sp, `${what} to ${sxm}`);
      issueAny(sch, alus, c1, `MUL.fp32 ${name(toS)}, ${name(qf)}, ${name(kb)}`);
      const rs = c1 + d.vxmAlu + sch.travel(vxm, sp);
      const back = toward(sch, 4, sp, rs + d.sxmReduce, vxm, `${what} dot`);
      sch.issue(sxm, rs, `RSUM.fp32 ${name(back)}, ${name(toS)}`, what);
      const c2 = rs + d.sxmReduce + sch.travel(sp, vxm);
      const hb = readFrom(sch, onehot, 0, c2, vxm, start, `${what} one-hot`);
      const sv = chainAny(sch, 4, c2 + d.vxmAlu, `${what} on its lane`);
      issueAny(sch, alus, c2, `MUL.fp32 ${name(sv)}, ${name(back)}, ${name(hb)}`);
      const c3 = c2 + d.vxmAlu;
      const ob = readFrom(sch, at.t, at.row, c3, vxm, start, `${what} tile`);
      const o = storeRow(sch, at.t, at.row, vxm, c3 + d.vxmAlu, what);
      issueAny(sch, alus, c3, `ADD.fp32 ${name(o.base)}, ${name(ob)}, ${name(sv)}`);
      end = Math.max(end, o.ready);
    }, what) + 1;
  });
  return end;
}


// ---------------------------------------------------------------------------------------------
// attn_softmax, with probs_quant folded into its last pass. Per row r: M and rsqrt(sum)^2 in
// softmax_row (parts by r parity); e = exp(z - M) is formed twice (pass B sums it, pass C scales
// it) rather than stored, which saves a write and a read of every tile.

interface SoftRow {
  r: number;
  /** Tiles attended: jt and the mask row of a boundary tile (else -1). */
  tiles: { jt: number; mask: number }[];
}

export const lowerSoftmax: Lowering = (ctx, op, start) => {
  const st = state(ctx);
  if (st.ends) {
    // placed by attn_scores' pipeline (attn-blocks.ts): the cycles after the scores are done
    ctx.units.add('MEM').add('VXM').add('SXM');
    return Math.max(start, st.ends.softmax);
  }
  const lay = st.lay;
  const { sch, d, vxm, alus, name } = env(ctx);
  const { lanes: L, half: H, tokens: T, heads: Hq, nT, nC, batch: B } = lay;
  const a = op.attrs as Extract<GraphOp['attrs'], { kind: 'softmax' }>;
  const scale = Math.fround(a.scale);
  const scores = st.scores!;
  const R = B * Hq * T;
  const probs = parts(ctx, 'probs', R, nT, scores);
  st.probs = probs;
  lay.tensors.probs = probs.map((t) => t.name);
  register(ctx, op.outputs[0]!.name, probs[0]!, R, nT, L, 0, ctx.share.rank * Hq);
  const at = pqAt(lay);
  const pq = st.planes.map((cp, p) => {
    // the plane's slice nearest its MXM (away from the VXM passes' pairs) with room
    const need = Math.max(1, at.rows[p]!) * 2;
    const slice = [...cp.slices].sort((x, y) => Math.abs(sch.position(x) - cp.pos) - Math.abs(sch.position(y) - cp.pos)).find((x) => ctx.sram.free(x) >= need) ?? cp.slices[0]!;
    return ctx.sram.place(`probs_q_${p}`, st.adt, Math.max(1, at.rows[p]!), [slice]);
  });
  st.probsQ = pq;
  lay.tensors.probsQ = pq.map((t) => t.name);
  const quant = ctx.graph.ops.find((o) => o.name === 'probs_quant');
  if (quant) register(ctx, quant.outputs[0]!.name, pq[0]!, R, nC, H, 0, ctx.share.rank * Hq);
  const pqOf = (r: number, c: number) => ({ t: pq[at.plane[r * nC + c]!]!, row: at.row[r * nC + c]! });
  ctx.units.add('MEM').add('VXM').add('SXM');
  // masks (0 on attended lanes, -inf elsewhere) of the boundary tiles
  const maskKeys: string[] = [];
  const rows: SoftRow[] = [];
  for (let r = 0; r < R; r++) {
    const { lo, hi } = window(lay, r % T);
    const tiles: SoftRow['tiles'] = rowTiles(lo, hi, L, maskKeys);
    rows.push({ r, tiles });
  }
  const mv = maskVectors(maskKeys, L);
  const masks = constantApart(ctx, 'softmax_masks', 'fp32', Math.max(1, maskKeys.length), f32Bytes(mv), []);
  // M and rsqrt(sum)^2 per row, each near the VXM in a pair of its own (pass C reads both for
  // every tile); split by row parity where they do not fit (the tiny chip)
  const rowTensor = (nm: string, avoid: ChipTensor[]): ChipTensor[] => {
    try {
      return [allocNear(ctx, nm, 'fp32', R, avoid)];
    } catch (e) {
      if (!(e instanceof FitError)) throw e;
      return parts(ctx, nm, R, 1, avoid);
    }
  };
  const mT = rowTensor('softmax_max', [...scores, ...probs]);
  const iT = rowTensor('softmax_inv2', [...scores, ...probs, ...mT]);
  const mRow = (r: number) => partRow(mT, r, 1, 0);
  const iRow = (r: number) => partRow(iT, r, 1, 0);
  // a second copy of M and of rsqrt(sum)^2, in another pair on the same side (both written from
  // one flight), where there is room: passes B and C read M, and C rsqrt(sum)^2, once per tile
  const copyOf = (t: ChipTensor[], nm: string, avoid: ChipTensor[]): ChipTensor | null => {
    if (t.length !== 1) return null;
    const side = t[0]!.slices[0]!.startsWith('MEM.W') ? 'W' : 'E';
    const busy = new Set(avoid.flatMap((x) => x.slices));
    for (const [i, pr] of ctx.sram.pairs.entries()) {
      if (!pr[0].startsWith(`MEM.${side}`) || pr.some((x) => busy.has(x))) continue;
      try {
        return ctx.sram.alloc(nm, 'fp32', R, { pair: i });
      } catch (e) {
        if (!(e instanceof FitError)) throw e;
      }
    }
    return null;
  };
  const m2 = copyOf(mT, 'softmax_max_b', [...scores, ...probs, ...mT, ...iT]);
  const i2 = copyOf(iT, 'softmax_inv2_b', [...scores, ...probs, ...mT, ...iT, ...(m2 ? [m2] : [])]);
  /** Where tile k of row r reads M (or rsqrt(sum)^2). */
  const mAt = (r: number, k: number) => (m2 && k % 2 ? { t: m2, row: r } : mRow(r));
  const iAt = (r: number, k: number) => (i2 && k % 2 ? { t: i2, row: r } : iRow(r));
  /** Stores the value leaving `from` on `cycle` as row r of t and of its copy (if any). */
  const storeBoth = (t: { t: ChipTensor; row: number }, copy: ChipTensor | null, r: number, from: number, cycle: number, what: string): { base: number; ready: number } => {
    if (!copy) return storeRow(sch, t.t, t.row, from, cycle, what);
    const base = claimTo(sch, 4, from, cycle, [...slicePositions(sch, t.t), ...slicePositions(sch, copy)], what);
    const ready = Math.max(writeRow(sch, t.t, t.row, base, from, cycle, what), writeRow(sch, copy, r, base, from, cycle, `${what} copy`));
    return { base, ready };
  };
  const sxmOf = (r: number) => (r % 2 ? 'SXM.E' : 'SXM.W');
  const sc = (r: number, jt: number) => scoreRow(scores, r, R, nT, jt);
  const mReady = new Map<number, number>();
  const invReady = new Map<number, number>();

  /** z (+ mask) of tile k of a row on streams `dst` at the VXM on cycle y. */
  const zOf = (row: SoftRow, k: number, y: number, dst: number, what: string): void => {
    const tile = row.tiles[k]!;
    const c = y - d.vxmAlu * (tile.mask >= 0 ? 2 : 1);
    const at = sc(row.r, tile.jt);
    const sb = readFrom(sch, at.t, at.row, c, vxm, start, what);
    if (tile.mask >= 0) {
      const z = chainAny(sch, 4, c + d.vxmAlu, `${what} z`);
      issueAny(sch, alus, c, `MULS.fp32 ${name(z)}, ${name(sb)}, ${scale}`);
      const mk = readFrom(sch, masks, tile.mask, c + d.vxmAlu, vxm, start, `${what} mask`);
      issueAny(sch, alus, c + d.vxmAlu, `ADD.fp32 ${name(dst)}, ${name(z)}, ${name(mk)}`);
    } else {
      issueAny(sch, alus, c, `MULS.fp32 ${name(dst)}, ${name(sb)}, ${scale}`);
    }
  };
  /** e = exp(z - M) of tile k on streams `dst` at the VXM on cycle `y + vxmAlu + vxmLarge`, z
   * at the VXM on `y`. */
  const eOf = (row: SoftRow, k: number, y: number, dst: number, what: string): void => {
    const z = chainAny(sch, 4, y, `${what} z`);
    zOf(row, k, y, z, what);
    const ma = mAt(row.r, k);
    const mb = readFrom(sch, ma.t, ma.row, y, vxm, mReady.get(row.r)!, `${what} M`);
    const u = chainAny(sch, 4, y + d.vxmAlu, `${what} z - M`);
    issueAny(sch, alus, y, `SUB.fp32 ${name(u)}, ${name(z)}, ${name(mb)}`);
    issueAny(sch, alus, y + d.vxmAlu, `EXP.fp32 ${name(dst)}, ${name(u)}`);
  };
  const zLead = (row: SoftRow, k: number) => d.vxmAlu * (row.tiles[k]!.mask >= 0 ? 2 : 1);

  // A. the lane-wise max of z over the row's tiles, RMAX at an SXM, M to aux. The max is a chain
  // of MAX ops one vxmAlu apart (tile k's z arriving just in time); where that does not fit soon
  // (the tiny chip's few streams), the running max is parked in aux between tiles instead.
  const toRmax = (row: SoftRow, outAt: number, what: string): { base: number; ready: number } => {
    const r = row.r;
    const sxm = sxmNear(sch, mRow(r).t);
    const sp = sch.position(sxm);
    const base = toward(sch, 4, vxm, outAt, sp, `${what} to ${sxm}`);
    const rm = outAt + sch.travel(vxm, sp);
    const o = storeBoth(mRow(r), m2, r, sp, rm + d.sxmReduce, `${what} M`);
    sch.issue(sxm, rm, `RMAX.fp32 ${name(o.base)}, ${name(base)}`, `softmax r${r}`);
    return { base, ready: o.ready };
  };
  const parked: SoftRow[] = [];
  let from = start;
  // (decode: the scores rows are taken as they land, OWN_WAIT)
  const landed = (row: SoftRow) => Math.max(start, ...row.tiles.map((tile) => sch.readyAt(`${sc(row.r, tile.jt).t.name}[${sc(row.r, tile.jt).row}]`) ?? start));
  for (const row of rows) {
    const n = row.tiles.length;
    const what = `softmax r${row.r} max`;
    try {
      from = place(sch, Math.max(from, landed(row)), (y0) => {
        let prev = -1;
        let rdy = 0;
        for (let k = 0; k < n; k++) {
          const y = y0 + k * d.vxmAlu;
          const yb = chainAny(sch, 4, y, `${what} tile ${row.tiles[k]!.jt}`);
          zOf(row, k, y, yb, `${what} tile ${row.tiles[k]!.jt}`);
          let out: number;
          if (k === n - 1) {
            const o = toRmax(row, y + d.vxmAlu, what);
            out = o.base;
            rdy = o.ready;
          } else out = chainAny(sch, 4, y + d.vxmAlu, `${what} running`);
          issueAny(sch, alus, y, `MAX.fp32 ${name(out)}, ${name(yb)}, ${name(k === 0 ? yb : prev)}`);
          prev = out;
        }
        mReady.set(row.r, rdy);
      }, what, 64);
    } catch (e) {
      if (!(e instanceof ScheduleConflict)) throw e;
      parked.push(row);
    }
  }
  const curA = new Map(parked.map((row) => [row.r, start]));
  const maxTiles = Math.max(...rows.map((x) => x.tiles.length));
  for (let k = 0; k < maxTiles; k++) {
    for (const row of parked) {
      const tile = row.tiles[k];
      if (!tile) continue;
      const n = row.tiles.length;
      const r = row.r;
      const what = `softmax r${r} max tile ${tile.jt}`;
      curA.set(r, place(sch, curA.get(r)!, (c) => {
        const yAt = c + zLead(row, k);
        const outAt = k === 0 ? yAt : yAt + d.vxmAlu;
        // the previous running max is read before this tile writes aux[2r] again
        const rb = k > 0 ? readFrom(sch, mRow(r).t, mRow(r).row, yAt, vxm, mReady.get(r)!, `${what} running max back`) : -1;
        const out = k < n - 1 ? storeRow(sch, mRow(r).t, mRow(r).row, vxm, outAt, `${what} running max`) : toRmax(row, outAt, what);
        const yB = k === 0 ? out.base : chainAny(sch, 4, yAt, `${what} z`);
        zOf(row, k, yAt, yB, what);
        if (k > 0) issueAny(sch, alus, yAt, `MAX.fp32 ${name(out.base)}, ${name(yB)}, ${name(rb)}`);
        mReady.set(r, out.ready);
      }, what) + 1);
    }
  }

  // B. e summed by ACC, RSUM at an SXM, rsqrt(sum)^2 to aux
  const accLast = new Map<string, number>();
  rows.forEach((row, ri) => {
    const r = row.r;
    const n = row.tiles.length;
    const accAlu = alus[ri % alus.length]!;
    let cur = Math.max(start, mReady.get(r)! - 8);
    row.tiles.forEach((tile, k) => {
      const what = `softmax r${r} sum tile ${tile.jt}`;
      cur = place(sch, cur, (c) => {
        const y = c + zLead(row, k);
        const eAt = y + d.vxmAlu + d.vxmLarge;
        if (eAt <= (accLast.get(accAlu) ?? -1)) throw new ScheduleConflict(`${what}: ${accAlu} still sums another row`);
        const e = chainAny(sch, 4, eAt, `${what} e`);
        eOf(row, k, y, e, what);
        let dst = '-';
        let rdy = 0;
        if (k === n - 1) {
          const sxm = sxmOf(r + 1);
          const sp = sch.position(sxm);
          const sumAt = eAt + d.vxmAlu;
          const toS = toward(sch, 4, vxm, sumAt, sp, `${what} sum to ${sxm}`);
          dst = name(toS);
          const rs = sumAt + sch.travel(vxm, sp);
          const a2 = rs + d.sxmReduce + sch.travel(sp, vxm);
          const tot = toward(sch, 4, sp, rs + d.sxmReduce, vxm, `${what} total`);
          sch.issue(sxm, rs, `RSUM.fp32 ${name(tot)}, ${name(toS)}`, `softmax r${r}`);
          const rq = chainAny(sch, 4, a2 + d.vxmLarge, `${what} rsqrt`);
          issueAny(sch, alus, a2, `RSQRT.fp32 ${name(rq)}, ${name(tot)}`);
          const o = storeBoth(iRow(r), i2, r, vxm, a2 + d.vxmLarge + d.vxmAlu, `${what} rsqrt^2`);
          issueAny(sch, alus, a2 + d.vxmLarge, `MUL.fp32 ${name(o.base)}, ${name(rq)}, ${name(rq)}`);
          rdy = o.ready;
        }
        sch.issue(accAlu, eAt, `ACC.fp32 ${dst}, ${name(e)}${k === 0 ? ', reset' : ''}`);
        accLast.set(accAlu, eAt);
        if (rdy) invReady.set(r, rdy);
      }, what) + 1;
    });
  });

  // C. p = e * rsqrt(sum)^2 to probs; its fp16 to probs_q as two chunks of H positions (the upper
  // one moved to lanes 0..H-1 by an SXM SHIFT)
  let end = start;
  let qEnd = start;
  const curC = rows.map((row) => Math.max(start, invReady.get(row.r)! - 12));
  for (let k = 0; k < maxTiles; k++) {
    for (const row of rows) {
      const tile = row.tiles[k];
      if (!tile) continue;
      const r = row.r;
      const jt = tile.jt;
      const { lo, hi } = window(lay, r % T);
      const low = 2 * jt * H <= hi && 2 * jt * H + H - 1 >= lo;
      const up = 2 * jt + 1 < nC && (2 * jt + 1) * H <= hi && (2 * jt + 1) * H + H - 1 >= lo;
      const what = `softmax r${r} p tile ${jt}`;
      curC[r] = place(sch, curC[r]!, (c) => {
        const y = c + zLead(row, k);
        const eAt = y + d.vxmAlu + d.vxmLarge;
        const e = chainAny(sch, 4, eAt, `${what} e`);
        eOf(row, k, y, e, what);
        const ia = iAt(r, k + 1);
        const ib = readFrom(sch, ia.t, ia.row, eAt, vxm, invReady.get(r)!, `${what} rsqrt^2`);
        const pAt = eAt + d.vxmAlu;
        const at = partRow(probs, r, nT, jt);
        const o = storeRow(sch, at.t, at.row, vxm, pAt, what);
        issueAny(sch, alus, eAt, `MUL.fp32 ${name(o.base)}, ${name(e)}, ${name(ib)}`);
        end = Math.max(end, o.ready);
        // the cast reads p as it leaves the VXM; the upper chunk goes on to the SXM on its
        // plane's side (and the lower one is written on the way when it lies on that side)
        const qAt = pAt + d.vxmLarge;
        const lowAt = low ? pqOf(r, 2 * jt) : null;
        const upAt = up ? pqOf(r, 2 * jt + 1) : null;
        const side = (t: ChipTensor) => slicePositions(sch, t)[0]! < vxm;
        let qb = -1;
        if (upAt) {
          const sxm = sxmNear(sch, upAt.t);
          const sp = sch.position(sxm);
          const along = lowAt !== null && side(lowAt.t) === side(upAt.t);
          qb = claimTo(sch, 2, vxm, qAt, [sp, ...(along ? slicePositions(sch, lowAt.t) : [])], `${what} fp16 to ${sxm}`);
          if (along) qEnd = Math.max(qEnd, writeRow(sch, lowAt.t, lowAt.row, qb, vxm, qAt, `${what} lower`));
          const sh = qAt + sch.travel(vxm, sp);
          const ou = storeRow(sch, upAt.t, upAt.row, sp, sh + d.sxm, `${what} upper`);
          sch.issue(sxm, sh, `SHIFT.${st.adt} ${name(ou.base)}, ${name(qb)}, ${-H}`, what);
          qEnd = Math.max(qEnd, ou.ready);
          issueAny(sch, alus, pAt, `CVT.${st.adt} ${name(qb)}, ${name(o.base)}, fp32`);
          if (along) return;
        }
        if (lowAt) {
          const ol = storeRow(sch, lowAt.t, lowAt.row, vxm, qAt, `${what} lower`);
          qEnd = Math.max(qEnd, ol.ready);
          issueAny(sch, alus, pAt, `CVT.${st.adt} ${name(ol.base)}, ${name(o.base)}, fp32`);
        }
      }, what) + 1;
    }
  }
  st.probsQReady = qEnd;
  return end;
};

/** probs_quant: made by the softmax's last pass; done when probs_q is in SRAM. */
export const lowerProbsQuant: Lowering = (ctx, _op, start) => {
  const st = state(ctx);
  if (st.probsQReady === undefined) throw new Error('internal: probs_quant before attn_softmax');
  return Math.max(start, st.probsQReady);
};

// ---------------------------------------------------------------------------------------------
// attn_values: per V set, one MM per (query head of its kv heads, token attending the chunk). The
// partial goes from the plane past the SXM next to it, which SHIFTs it to the head's lanes in attn
// where they differ from its kv head's, into a row of its own (attn_part_<plane>, a pair per
// plane): no MM waits for another's sum. Then each attn vector is the sum of its partials, each
// masked to its head's lanes (a V set holds other kv heads too), in one chain at the VXM.

export const lowerAttnValues: Lowering = (ctx, op, start) => {
  const st = state(ctx);
  if (st.ends) {
    ctx.units.add('MEM').add('MXM').add('VXM');
    return Math.max(start, st.ends.values);
  }
  const lay = st.lay;
  const { sch, d, vxm, alus, name } = env(ctx);
  const { half: H, tokens: T, heads: Hq, group: G, hpv, headDim: D, nC, tilesKV, batch: B } = lay;
  const pq = st.probsQ!;
  const pqWhere = pqAt(lay);
  const M = B * T;
  const per = hpv * D;
  const tilesQ = Math.ceil((Hq * D) / per);
  const out = allocNear(ctx, op.outputs[0]!.name, 'fp32', M * tilesQ);
  register(ctx, op.outputs[0]!.name, out, M, tilesQ, per, Hq * D, ctx.share.rank * Hq * D);
  ctx.units.add('MEM').add('MXM').add('VXM').add('SXM');
  interface Mm { h: number; t: number; row: number; xrow: number; part: number }
  const count = st.planes.map(() => 0);
  const setMms = lay.vSets.map((vs, i) => {
    const b = Math.floor(i / (tilesKV * nC));
    const j = Math.floor(i / nC) % tilesKV;
    const c = i % nC;
    const list: Mm[] = [];
    for (let h = 0; h < Hq; h++) {
      if (Math.floor(Math.floor(h / G) / hpv) !== j) continue;
      for (let t = 0; t < T; t++) {
        const { lo, hi } = window(lay, t);
        if (c * H > hi || c * H + H - 1 < lo) continue;
        list.push({ h, t, row: (b * T + t) * tilesQ + Math.floor(h / hpv), xrow: ((b * Hq + h) * T + t) * nC + c, part: count[vs.plane]!++ });
      }
    }
    return list;
  });
  // each plane's partials, in pairs apart from each other's and attn's
  const partT: (ChipTensor | null)[] = [];
  count.forEach((n, p) => {
    partT.push(n ? allocNear(ctx, `attn_part_${p}`, 'fp32', n, [out, ...partT.filter((x): x is ChipTensor => x !== null)]) : null);
  });
  const partReady = new Map<string, number>();
  // masks of the head slots, a copy apart from each plane's partials
  const masks = partT.map((t) => (t ? headMask(ctx, st, [t]) : null));
  // the partials of each attn row: plane and row in its part
  const rowParts = new Map<number, { p: number; row: number }[]>();
  const sets = lay.vSets.map((vs, i) => {
    const b = Math.floor(i / (tilesKV * nC));
    const j = Math.floor(i / nC) % tilesKV;
    const c = i % nC;
    const cp = st.planes[vs.plane]!;
    const tg = partT[vs.plane]!;
    const sxm = cp.pos < vxm ? 'SXM.W' : 'SXM.E';
    const sp = sch.position(sxm);
    // the set holds other kv heads too: their products are masked off at the VXM
    const masked = Math.min(lay.kvHeads, (j + 1) * hpv) - j * hpv > 1;
    const mms = setMms[i]!.map(({ h, t, row, xrow, part }) => {
      const l = rowParts.get(row) ?? [];
      l.push({ p: vs.plane, row: part });
      rowParts.set(row, l);
      const q = h % hpv;
      const shift = (q - (Math.floor(h / G) % hpv)) * D;
      return (cy: number) => {
        const what = `attn_values b${b} h${h} t${t} chunk ${c}`;
        const xb = readFrom(sch, pq[pqWhere.plane[xrow]!]!, pqWhere.row[xrow]!, cy, cp.pos, start, what);
        const emit = cy + d.mxm;
        // the partial leaves the plane on `dst`; `from`/`at`: where and when it is past the SXM
        let dst: number;
        let from = cp.pos;
        let at = emit;
        let o: { base: number; ready: number } | null = null;
        let v = -1;
        if (shift !== 0) {
          const sh = emit + sch.travel(cp.pos, sp);
          dst = toward(sch, 4, cp.pos, emit, sp, `${what} to ${sxm}`);
          from = sp;
          at = sh + d.sxm;
          if (masked) v = toward(sch, 4, sp, at, vxm, `${what} partial`);
          else {
            o = storeRow(sch, tg, part, sp, at, what);
            v = o.base;
          }
          sch.issue(sxm, sh, `SHIFT.fp32 ${name(v)}, ${name(dst)}, ${shift}`, what);
        } else if (masked) dst = v = toward(sch, 4, cp.pos, emit, vxm, `${what} partial`);
        else {
          o = storeRow(sch, tg, part, cp.pos, emit, what);
          dst = o.base;
        }
        if (masked) {
          const y = at + sch.travel(from, vxm);
          const mk = readFrom(sch, masks[vs.plane]!, q, y, vxm, start, `${what} mask`);
          o = storeRow(sch, tg, part, vxm, y + d.vxmAlu, what);
          issueAny(sch, alus, y, `MUL.fp32 ${name(o.base)}, ${name(v)}, ${name(mk)}`);
        }
        sch.issue(cp.queue, cy, `MM.${st.adt} ${name(xb)}, ${name(dst)}`, what);
        partReady.set(`${vs.plane}:${part}`, o!.ready);
      };
    });
    return { plane: vs.plane, base: vs.base, mms, what: `attn_values V set b${b} v${j} chunk ${c}` };
  });
  runPlanes(ctx, st, 'v', sets, start);

  // attn row = the sum of its partials (each zero outside its head's lanes): one chain at the VXM,
  // one partial read every vxmAlu cycles
  let end = start;
  let cur = start;
  for (let row = 0; row < M * tilesQ; row++) {
    const parts = rowParts.get(row) ?? [];
    const n = parts.length;
    if (!n) continue;
    const what = `attn row ${row}`;
    const from = Math.max(start, Math.max(...parts.map((x) => partReady.get(`${x.p}:${x.row}`)!)) - 40);
    const rd = (x: (typeof parts)[number], c: number) => readFrom(sch, partT[x.p]!, x.row, c, vxm, start, what);
    try {
      cur = place(sch, Math.max(cur, from), (tau) => {
        if (n === 1) {
          const o = storeRow(sch, out, row, vxm, tau + d.vxmAlu, what);
          issueAny(sch, alus, tau, `MULS.fp32 ${name(o.base)}, ${name(rd(parts[0]!, tau))}, 1`);
          end = Math.max(end, o.ready);
          return;
        }
        // the first partial, read a step early, passed on to meet the second
        let prev = chainAny(sch, 4, tau, `${what} first`);
        issueAny(sch, alus, tau - d.vxmAlu, `MULS.fp32 ${name(prev)}, ${name(rd(parts[0]!, tau - d.vxmAlu))}, 1`);
        for (let k = 1; k < n; k++) {
          const tk = tau + (k - 1) * d.vxmAlu;
          const v = rd(parts[k]!, tk);
          let s: number;
          if (k === n - 1) {
            const o = storeRow(sch, out, row, vxm, tk + d.vxmAlu, what);
            s = o.base;
            end = Math.max(end, o.ready);
          } else s = chainAny(sch, 4, tk + d.vxmAlu, `${what} sum ${k}`);
          issueAny(sch, alus, tk, `ADD.fp32 ${name(s)}, ${name(prev)}, ${name(v)}`);
          prev = s;
        }
      }, what, 256) + 1;
    } catch (e) {
      if (!(e instanceof ScheduleConflict)) throw e;
      // where the chain does not fit (the tiny chip's streams): each partial added on its own
      let c = from;
      parts.forEach((x, k) => {
        c = place(sch, c, (tk) => {
          const v = rd(x, tk);
          let o: { base: number; ready: number };
          if (k === 0) {
            o = storeRow(sch, out, row, vxm, tk + d.vxmAlu, what);
            issueAny(sch, alus, tk, `MULS.fp32 ${name(o.base)}, ${name(v)}, 1`);
          } else {
            const ob = readFrom(sch, out, row, tk, vxm, start, `${what} so far`);
            o = storeRow(sch, out, row, vxm, tk + d.vxmAlu, what);
            issueAny(sch, alus, tk, `ADD.fp32 ${name(o.base)}, ${name(ob)}, ${name(v)}`);
          }
          end = Math.max(end, o.ready);
        }, `${what} part ${k}`) + 1;
      });
    }
  }
  return end;
};

// ---------------------------------------------------------------------------------------------
// Read-back

/**
 * Decodes a graph tensor that attention keeps in its own layout (ATTENTION_READBACK: q_q,
 * k_cache, v_cache, scores, probs, probs_q) into the reference layout of
 * ReferenceResult.values: q_q [M, heads*D]; the caches [B, kv_heads, S, D] after the step;
 * scores and probs [B, heads, T, S] with -Infinity (scores) or 0 (probs, probs_q) outside each
 * query's attended window. `shape` is the graph tensor's shape (global heads); `getRank(rank,
 * tensor)` returns a chip tensor of that rank decoded to numbers, row-major rows x lanes;
 * `layout` is attentionLayout(ctx) of the compiled layer (or the ctx itself).
 */
export function readBackAttention(
  name: string,
  shape: number[],
  getRank: (rank: number, tensor: string) => Float64Array,
  layout: AttentionLayout | LayerCtx,
): Float64Array {
  const lay = 'lanes' in layout && 'kSets' in layout ? (layout as AttentionLayout) : attentionLayout(layout as LayerCtx);
  const { lanes: L, half: H, headDim: D, batch: B, tokens: T, seq: S, heads: Hq, kvHeads: Hk, ranks, group: G, kpack, hpv, nT, nC } = lay;
  const n = shape.reduce((x, y) => x * y, 1);
  const out = new Float64Array(n);
  const cache = new Map<string, Float64Array>();
  const get = (rank: number, t: string) => {
    const key = `${rank}:${t}`;
    let v = cache.get(key);
    if (!v) {
      v = getRank(rank, t);
      cache.set(key, v);
    }
    return v;
  };
  const setAt = (kind: 'k' | 'v', set: { plane: number; base: number }, k: number) => {
    const lp = lay.planes[set.plane]!;
    return { t: lp[kind][k % lp.r]!, row: set.base + Math.floor(k / lp.r) };
  };
  const HqG = Hq * ranks;
  const HkG = Hk * ranks;
  const pqWhere = lay.blocked ? { plane: new Int32Array(0), row: new Int32Array(0) } : pqAt(lay);
  switch (name) {
    case 'q_rope_q': {
      const M = B * T;
      const qw = lay.qqWhere;
      for (let rank = 0; rank < ranks; rank++) {
        for (let m = 0; m < M; m++) {
          const b = Math.floor(m / T);
          for (let h = 0; h < Hq; h++) {
            const s = (b * Hk + Math.floor(h / G)) % kpack;
            const i = m * Hq + h;
            const v = get(rank, qw ? lay.tensors.qqParts![qw.plane[i]!]! : lay.tensors.qq);
            const row = qw ? qw.row[i]! : i;
            for (let dd = 0; dd < D; dd++) out[m * HqG * D + (rank * Hq + h) * D + dd] = v[row * L + s * D + dd]!;
          }
        }
      }
      return out;
    }
    case 'k_cache':
    case 'v_cache': {
      const kind = name === 'k_cache' ? 'k' : 'v';
      for (let rank = 0; rank < ranks; rank++) {
        for (let b = 0; b < B; b++) {
          for (let g = 0; g < Hk; g++) {
            const pi = b * Hk + g;
            for (let pos = 0; pos < S; pos++) {
              for (let dd = 0; dd < D; dd++) {
                let at: { t: string; row: number };
                let lane: number;
                if (kind === 'k') {
                  at = setAt('k', lay.kSets[Math.floor(pi / kpack) * nT + Math.floor(pos / L)]!, (pi % kpack) * D + dd);
                  lane = pos % L;
                } else {
                  at = setAt('v', lay.vSets[(b * lay.vGroups + (lay.vDup ? g : Math.floor(g / hpv))) * nC + Math.floor(pos / H)]!, pos % H);
                  lane = (g % hpv) * D + dd;
                }
                out[((b * HkG + rank * Hk + g) * S + pos) * D + dd] = get(rank, at.t)[at.row * L + lane]!;
              }
            }
          }
        }
      }
      return out;
    }
    case 'scores':
    case 'probs':
    case 'probs_q': {
      const bl = lay.blocked;
      if (bl && !bl.complete) throw new SfError(`${name}: the attention pipeline reused its rows (a timing-only layout); compile without --timing-only, where every row is kept, to read it back`);
      const fill = name === 'scores' ? -Infinity : 0;
      out.fill(fill);
      for (let rank = 0; rank < ranks; rank++) {
        for (let b = 0; b < B; b++) {
          for (let h = 0; h < Hq; h++) {
            for (let t = 0; t < T; t++) {
              const r = (b * Hq + h) * T + t;
              const { lo, hi } = window(lay, t);
              const o = ((b * HqG + rank * Hq + h) * T + t) * S;
              for (let pos = lo; pos <= hi; pos++) {
                if (name === 'probs_q') {
                  const i = r * nC + Math.floor(pos / H);
                  const pl = bl ? bl.pqPlane[i]! : pqWhere.plane[i]!;
                  const row = bl ? bl.pqRow[i]! : pqWhere.row[i]!;
                  out[o + pos] = get(rank, lay.tensors.probsQ[pl]!)[row * L + (pos % H)]!;
                }
                else {
                  const ps = name === 'scores' ? lay.tensors.scores : lay.tensors.probs;
                  const at = bl ? tileRow(ps, bl.slot[r]!, nT, Math.floor(pos / L)) : name === 'scores' ? scoreRow(ps, r, B * Hq * T, nT, Math.floor(pos / L)) : partRow(ps, r, nT, Math.floor(pos / L));
                  out[o + pos] = get(rank, at.t)[at.row * L + (pos % L)]!;
                }
              }
            }
          }
        }
      }
      return out;
    }
    default:
      throw new Error(`internal: readBackAttention does not decode ${name}`);
  }
}

/** The lowerings of this file and rope.ts, by graph op name. */
export const ATTENTION_LOWERINGS: Record<string, Lowering> = {
  rope_q: lowerRope,
  rope_k: lowerRope,
  q_quant: lowerQQuant,
  kv_append: lowerKvAppend,
  attn_scores: lowerAttnScores,
  attn_softmax: lowerSoftmax,
  probs_quant: lowerProbsQuant,
  attn_values: lowerAttnValues,
};

for (const [name, l] of Object.entries(ATTENTION_LOWERINGS)) ATTENTION.set(name, l);
// one new token per sequence: the products take the cache row by row (State.ready), so they start
// before kv_append is done (attn_scores adds the new key's score itself, see newKeyScores)
const oneToken = (_op: GraphOp, graph: LayerGraph) => graph.shape.tokens === 1;
OWN_WAIT.set('attn_scores', (op, g) => (oneToken(op, g) ? ['k_cache'] : []));
// and each takes its rows of the previous op's output as they land (the rows of a query head, of
// a V set's heads), so that the softmax of a head runs while the scores of later ones are made
OWN_WAIT.set('attn_softmax', (op, g) => (oneToken(op, g) ? ['scores'] : []));
OWN_WAIT.set('probs_quant', (op, g) => (oneToken(op, g) ? ['probs'] : []));
OWN_WAIT.set('attn_values', (op, g) => (oneToken(op, g) ? ['v_cache', 'probs_q', 'probs'] : []));
// likewise RoPE, q_quant and kv_append take q, k, v and their RoPE row by row as they land
OWN_WAIT.set('rope_q', (op, g) => (oneToken(op, g) ? ['q'] : []));
OWN_WAIT.set('rope_k', (op, g) => (oneToken(op, g) ? ['k'] : []));
OWN_WAIT.set('q_quant', (op, g) => (oneToken(op, g) ? ['q_rope'] : []));
OWN_WAIT.set('kv_append', (op, g) => (oneToken(op, g) ? ['k_rope', 'v'] : []));
for (const name of ATTENTION_READBACK) {
  READ_BACK.set(name, (layer, read) =>
    readBackAttention(name, layer.graph.tensors[name]!.shape, (r, t) => Float64Array.from(read(r, t)), attentionLayout(layer)));
}
