// Attention for several new tokens (prefill, or a step of T >= 2 tokens): attn_scores,
// attn_softmax, probs_quant and attn_values placed together as a pipeline over blocks of query
// rows, so that the MXM works on one block while the VXM and the SXMs normalise another, and so
// that the rows of scores, probs and probs_q can live in a ring of a few blocks when a prompt's
// rows do not all fit. The one-token decode step keeps the lowerings of attention.ts (its shapes
// are bound by installs, not by rows).
//
// Rows r = (b, h, t) as in attention.ts; a block is Tb consecutive tokens of every (b, h), about
// blockTuning.rows rows. Row r lives in slot slot[r] of the ring: Kr blocks of slots, Kr = every
// block when they fit, which a functional compile requires (the chip then still holds every row
// at the end, for the op-by-op check); a timing-only compile of a prompt whose rows do not fit
// reuses slots, and each write to a reused row is placed after the last read of its previous
// occupant (checked here: the Schedule only orders a read after its write). Per block, in program
// order:
//  - scores: per K set (K^T per position tile, as for decode), installed on its plane unless it
//    still is, one MM per (query head, token) attending the set's tile into the row's scores slot
//    (q_q rows sit in a slice of the plane that reads them: q_quant, attention.ts);
//  - softmax, one placement per row (rows in the order their scores land): z_j = s_j * D^-1/2
//    (+ -inf outside the causal window) for its tiles, a lane-wise MAX chain, RMAX at an SXM; M
//    comes straight back to the VXM (passed on by an ALU from tile to tile) to meet z_j made
//    again from the scores rows; e_j = exp(z_j - M) to the probs rows, summed (a one-tile row's e
//    goes on to the SXM beyond its probs row; longer rows sum on one ALU's ACC, which no other op
//    of the row uses), RSUM; rsqrt(sum)^2 comes straight back to meet e read back: p to the probs
//    row and its fp16 to probs_q. M and 1/sum never touch SRAM. A longer row stores rsqrt(sum)^2
//    and places each tile's p on its own (in one placement, reads and writes of one pair at fixed
//    distances can collide on every cycle). probs_q holds chunks of H positions (the
//    MXM's fp16 rows), the upper chunk of a tile moved to lanes 0..H-1 by an SXM SHIFT, each in a
//    slice of the plane whose V set multiplies it;
//  - values: V sets hold one kv head on every head slot (attention.ts, vDup), so a query head's
//    product is already on its own lanes (no SXM shift); per (token, attn vector) the products of
//    its heads in the set come from consecutive MMs, are masked to their heads' lanes at the VXM
//    and summed by one ALU's ACC with the vector's sum so far (other chunks, other kv heads),
//    kept in accumulator rows spread over pairs; the last contribution writes the attn row.
// The planes take the blocks' segments (an install and its MMs) in program order: the scores of
// block k+1 go before the values of block k, so the MXM has work while block k is normalised.
// Where rows are read and written: scores rows in up to four pairs on the west side, probs rows
// in as many on the east (a row's RMAX tries the SXM across the chip first, its RSUM is at the
// SXM beyond its probs row), tile jt of slot s in part (s + jt) mod parts (a row's tiles in
// different pairs); the pairs the KV cache installs hold are filled last.
// Placement is first-fit from the cycle a row's inputs land (Schedule.attempt), a softmax row
// trying two mask copies and both SXMs for its RMAX on each cycle. The softmax rows bound the
// pipeline: two SXM reductions and about sixteen stream groups through the VXM's position per
// row (of 2 SXMs and 16 groups a cycle); first-fit packs a row every 2-3 cycles.
import type { GraphOp } from '../models/graph.js';
import type { LayerCtx } from './context.js';
import { aluQueues, chainAny as chainAnyE, claimTo, f32Bytes, issueAny, maskVectors, place, readFrom, rowReady, rowTiles } from './attn-common.js';
import { install, partRow, register, setRow, tileRow, toward, window, type State } from './attention.js';
import { slicePositions, storeRow, writeRow } from './rows.js';
import { ScheduleConflict } from './schedule.js';
import type { ChipTensor } from './sram.js';

/** chainAny, westward first on odd cycles (chains would otherwise crowd the eastward streams at
 * the VXM, which reads from the west half and writes to the east half also need). */
function chainAny(sch: Parameters<typeof chainAnyE>[0], width: number, cycle: number, what: string): number {
  return chainAnyE(sch, width, cycle, what, (cycle & 1) === 0);
}

/**
 * Settings of the pipeline: query rows per block, ring blocks (0: every block when they fit,
 * else as many as fit in a timing-only compile; n: at most n, for tests of the ring), and how far
 * before the last one-tile row placed the next one is tried (more: a denser schedule, a slower
 * compile); trace, if set, hears where each block ends (diagnostics).
 */
export const blockTuning: { rows: number; ring: number; backfill: number; trace?: (line: string) => void } = { rows: 512, ring: 0, backfill: 48 };

interface Row {
  r: number;
  b: number;
  h: number;
  t: number;
  /** Token row of q and attn. */
  m: number;
  slot: number;
  /** Tiles attended: jt and the mask row of a boundary tile (else -1), boundary tiles first. */
  tiles: { jt: number; mask: number }[];
  /** Chunks of H positions attended. */
  chunks: number[];
}

/** Last read of each ring row (tensor:row -> issue cycle), so that a reused row's next write
 * comes after it; reads of a try are kept apart until the try is placed. */
class Ring {
  private readonly last = new Map<string, number>();
  private pending: [string, number][] = [];
  constructor(readonly active: boolean) {}
  begin(): void {
    this.pending = [];
  }
  commit(): void {
    for (const [k, c] of this.pending) this.last.set(k, Math.max(this.last.get(k) ?? -1, c));
    this.pending = [];
  }
  read(t: ChipTensor, row: number, issue: number): void {
    if (this.active) this.pending.push([`${t.name}:${row}`, issue]);
  }
  check(t: ChipTensor, row: number, issue: number, what: string): void {
    if (!this.active) return;
    const l = this.last.get(`${t.name}:${row}`);
    if (l !== undefined && issue < l) throw new ScheduleConflict(`${what}: ${t.name}[${row}] is still read on ${l}`);
  }
}

/** A tensor of the pipeline: fp32 in a pair, or fp16 in a slice of a plane (probs_q). */
interface Need {
  name: string;
  dtype: 'fp32' | 'fp16' | 'bf16';
  rows: number;
  /** Row accesses per softmax row: pairs are filled least loaded first (a pair serves one fp32
   * row a cycle, read or write: each slice issues one instruction a cycle). */
  weight: number;
  /** Side of the chip whose pairs it goes to when one has room. */
  side?: 'W' | 'E';
  plane?: number;
  data?: Uint8Array;
}

/** Picks where each need goes, given the free vectors per slice; null when one does not fit. */
function plan(ctx: LayerCtx, st: State, needs: Need[], free: Map<string, number>): Map<string, { pair?: number; slice?: string }> | null {
  const { sch } = ctx;
  const out = new Map<string, { pair?: number; slice?: string }>();
  // pairs holding cache slices start loaded: the installs hold them for whole sets
  const cache = new Set(st.planes.flatMap((cp) => cp.slices));
  const load = ctx.sram.pairs.map((pair) => (pair.some((x) => cache.has(x)) ? 2 : 0));
  const dist = (i: number) => Math.max(...ctx.sram.pairs[i]!.map((s) => Math.abs(sch.position(s) - ctx.vxm)));
  for (const n of needs) {
    const vecs = Math.max(1, n.rows) * 2;
    if (n.plane !== undefined) {
      const cp = st.planes[n.plane]!;
      // a slice of the plane's own, nearest its MXM; else any with room, nearest the plane
      const near = (x: string, y: string) => Math.abs(sch.position(x) - cp.pos) - Math.abs(sch.position(y) - cp.pos);
      const slice = [...cp.slices].sort(near).find((x) => free.get(x)! >= vecs) ?? [...free.keys()].sort(near).find((x) => free.get(x)! >= vecs);
      if (!slice) return null;
      free.set(slice, free.get(slice)! - vecs);
      out.set(n.name, { slice });
      continue;
    }
    let fits = ctx.sram.pairs.map((_, i) => i).filter((i) => ctx.sram.pairs[i]!.every((s) => free.get(s)! >= vecs));
    if (!fits.length) return null;
    const sided = fits.filter((i) => ctx.sram.pairs[i]![0]!.startsWith(`MEM.${n.side}`));
    if (n.side && sided.length) fits = sided;
    const pick = fits.reduce((a, b) => (load[b]! * 1000 + dist(b) < load[a]! * 1000 + dist(a) ? b : a));
    // both slices of the pair continue from the fuller one's next address (Sram.take)
    const left = Math.min(...ctx.sram.pairs[pick]!.map((x) => free.get(x)!)) - vecs;
    for (const x of ctx.sram.pairs[pick]!) free.set(x, left);
    load[pick]! += n.weight;
    out.set(n.name, { pair: pick });
  }
  return out;
}

/** Places attn_scores .. attn_values for T >= 2 new tokens; records the ops' ends in st.ends. */
export function lowerBlocked(ctx: LayerCtx, st: State, start: number): void {
  const lay = st.lay;
  const { sch, chip } = ctx;
  const d = chip.delays;
  const vxm = ctx.vxm;
  const alus = aluQueues(ctx);
  // an ALU whose accumulator a row's ACC chain holds takes no other op of that row
  let reserved: string | null = null;
  const freeAlus = () => (reserved ? alus.filter((q) => q !== reserved) : alus);
  const name = (id: number) => sch.plan.streamName(id);
  const { lanes: L, half: H, tokens: T, heads: Hq, kvHeads: Hk, group: G, kpack, hpv, headDim: D, nT, nC, batch: B } = lay;
  const graph = ctx.graph;
  const opOf = (kind: string) => graph.ops.find((o) => o.kind === kind)!;
  const scale = Math.fround((opOf('softmax').attrs as Extract<GraphOp['attrs'], { kind: 'softmax' }>).scale);
  const qqAt = st.qqAt;
  if (!qqAt) throw new Error('internal: attn_scores before q_quant');
  const R = B * Hq * T;
  const M = B * T;
  const per = hpv * D;
  const tilesQ = Math.ceil((Hq * D) / per);

  // rows, blocks, boundary masks
  const Tb = Math.max(1, Math.min(T, Math.ceil(blockTuning.rows / (B * Hq))));
  const nB = Math.ceil(T / Tb);
  const Rb = B * Hq * Tb;
  const maskKeys: string[] = [];
  const rows: Row[] = [];
  const blockRows: Row[][] = Array.from({ length: nB }, () => []);
  for (let r = 0; r < R; r++) {
    const t = r % T;
    const bh = Math.floor(r / T);
    const b = Math.floor(bh / Hq);
    const h = bh % Hq;
    const { lo, hi } = window(lay, t);
    const tiles: Row['tiles'] = rowTiles(lo, hi, L, maskKeys);
    const chunks: number[] = [];
    for (let c = Math.floor(lo / H); c <= Math.floor(hi / H); c++) chunks.push(c);
    const k = Math.floor(t / Tb);
    const row: Row = { r, b, h, t, m: b * T + t, slot: -1, tiles, chunks };
    rows.push(row);
    blockRows[k]!.push(row);
  }
  // the V set (plane) of each (row, chunk), and each block's probs_q rows per plane
  const vSetOf = (row: Row, c: number) => lay.vSets[(row.b * Hk + Math.floor(row.h / G)) * nC + c]!;
  const pqPerBlock = st.planes.map(() => 0);
  for (const list of blockRows) {
    const n = st.planes.map(() => 0);
    for (const row of list) for (const c of row.chunks) n[vSetOf(row, c).plane]!++;
    n.forEach((x, p) => (pqPerBlock[p] = Math.max(pqPerBlock[p]!, x)));
  }

  // values: per block and V set, the rows of each attn vector (token, vector of heads) it adds to,
  // and the number of contributions per attn row (sets x chunks): all but the last are summed in
  // accumulator rows spread over pairs (the attn row is written once)
  const groupsOf = (k: number, i: number): Map<number, Row[]> => {
    const b = Math.floor(i / (Hk * nC));
    const g = Math.floor(i / nC) % Hk;
    const c = i % nC;
    const groups = new Map<number, Row[]>();
    for (const row of blockRows[k]!) {
      if (row.b !== b || Math.floor(row.h / G) !== g || !row.chunks.includes(c)) continue;
      const ar = row.m * tilesQ + Math.floor(row.h / hpv);
      const l = groups.get(ar) ?? [];
      l.push(row);
      groups.set(ar, l);
    }
    return groups;
  };
  const contribs = new Int32Array(M * tilesQ);
  for (let k = 0; k < nB; k++) for (let i = 0; i < lay.vSets.length; i++) for (const ar of groupsOf(k, i).keys()) contribs[ar]!++;
  const nAcc = contribs.some((x) => x > 1) ? Math.max(1, Math.min(4, Math.floor(ctx.sram.pairs.length / 3))) : 0;

  // masks: the softmax's boundary tiles (0 on attended lanes, -inf elsewhere), copies in several
  // pairs (a causal row reads its mask twice); the head-slot masks of the values, two copies
  const mv = maskVectors(maskKeys, L);
  const hv = new Float64Array(hpv * L);
  for (let q = 0; q < hpv; q++) for (let x = 0; x < D; x++) hv[q * L + q * D + x] = 1;
  const nPairs = ctx.sram.pairs.length;
  const multi = rows.some((row) => row.tiles.length > 1);
  const nMask = maskKeys.length ? (nPairs >= 8 ? 4 : 1) : 0;
  const nHead = nPairs >= 4 ? 2 : 1;
  const attnName = opOf('attn_values').outputs[0]!.name;
  // scores and probs rows in `nParts` pairs each, by slot: each row takes three accesses of both
  const nParts = Math.max(1, Math.min(4, Math.floor(ctx.sram.pairs.length / 2)));
  const needsFor = (Kr: number): Need[] => {
    const slots = Kr * Rb;
    // tile jt of slot s in part (s + jt) mod nParts (tileRow): every part holds a row per slot / nParts
    const part = () => Math.ceil(slots / nParts);
    const needs: Need[] = [];
    for (let i = 0; i < nParts; i++) {
      needs.push({ name: `scores_${i}`, dtype: 'fp32', rows: part() * nT, weight: 3, side: 'W' });
      needs.push({ name: `probs_${i}`, dtype: 'fp32', rows: part() * nT, weight: 3, side: 'E' });
    }
    needs.push({ name: attnName.replace(/\./g, '_'), dtype: 'fp32', rows: M * tilesQ, weight: 1 });
    if (multi) for (let i = 0; i < 2; i++) needs.push({ name: `softmax_inv2_${i}`, dtype: 'fp32', rows: Math.ceil((slots - i) / 2), weight: 1 });
    for (let i = 0; i < nAcc; i++) needs.push({ name: `attn_acc_${i}`, dtype: 'fp32', rows: Math.ceil((M * tilesQ - i) / nAcc), weight: 2 });
    for (let i = 0; i < nMask; i++) needs.push({ name: `softmax_masks_${i}`, dtype: 'fp32', rows: maskKeys.length, weight: 1, data: f32Bytes(mv) });
    for (let i = 0; i < nHead; i++) needs.push({ name: `attn_head_mask_v${i}`, dtype: 'fp32', rows: hpv, weight: 1, data: f32Bytes(hv) });
    st.planes.forEach((_, p) => needs.push({ name: `probs_q_${p}`, dtype: st.adt, rows: Kr * pqPerBlock[p]!, weight: 0, plane: p }));
    return needs;
  };
  // the ring: every block when it fits (functional compiles must), else as many as fit (>= 2)
  const freeNow = () => new Map(ctx.weightStore.activationSlices.map((s) => [s, ctx.sram.free(s)] as [string, number]));
  // a functional compile keeps every row (the op-by-op check reads them all back): where they do
  // not fit, the allocation below fails with the tensor and the shortfall
  let Kr = blockTuning.ring > 0 ? Math.min(nB, Math.max(2, blockTuning.ring)) : nB;
  let where = plan(ctx, st, needsFor(Kr), freeNow());
  while (!where && ctx.timingOnly && Kr > 2) {
    Kr = Math.max(2, Math.ceil(Kr / 2));
    where = plan(ctx, st, needsFor(Kr), freeNow());
  }
  const needs = needsFor(Kr);
  const alloc = (n: Need): ChipTensor => {
    const w = where?.get(n.name);
    const data = n.data ? { data: n.data } : {};
    if (w?.slice) return ctx.sram.place(n.name, n.dtype, n.rows, [w.slice], data);
    return ctx.sram.alloc(n.name, n.dtype, n.rows, w?.pair !== undefined ? { pair: w.pair, ...data } : data);
  };
  const T_ = new Map(needs.map((n) => [n.name, alloc(n)]));
  const scores = Array.from({ length: nParts }, (_, i) => T_.get(`scores_${i}`)!);
  const probs = Array.from({ length: nParts }, (_, i) => T_.get(`probs_${i}`)!);
  const pq = st.planes.map((_, p) => T_.get(`probs_q_${p}`)!);
  const out = T_.get(attnName.replace(/\./g, '_'))!;
  const maskCopies = Array.from({ length: nMask }, (_, i) => T_.get(`softmax_masks_${i}`)!);
  const masksOf = (row: Row) => maskCopies[row.slot % maskCopies.length]!;
  const hmasks = Array.from({ length: nHead }, (_, i) => T_.get(`attn_head_mask_v${i}`)!);
  const accT = Array.from({ length: nAcc }, (_, i) => T_.get(`attn_acc_${i}`)!);
  const iT = multi ? [T_.get('softmax_inv2_0')!, T_.get('softmax_inv2_1')!] : [];
  const iRow = (row: Row) => partRow(iT, row.slot, 1, 0);
  const accRow = (ar: number) => partRow(accT, ar, 1, 0);
  const ring = new Ring(Kr < nB);

  // slots and probs_q rows
  const slotsPer = Rb;
  const pqPlane = new Int32Array(R * nC).fill(-1);
  const pqRowA = new Int32Array(R * nC).fill(-1);
  blockRows.forEach((list, k) => {
    const n = st.planes.map(() => 0);
    list.forEach((row, i) => {
      row.slot = (k % Kr) * slotsPer + i;
      for (const c of row.chunks) {
        const p = vSetOf(row, c).plane;
        pqPlane[row.r * nC + c] = p;
        pqRowA[row.r * nC + c] = (k % Kr) * pqPerBlock[p]! + n[p]!++;
      }
    });
  });
  const slot = Int32Array.from(rows, (row) => row.slot);
  lay.blocked = { slot, pqPlane, pqRow: pqRowA, complete: Kr >= nB };
  lay.tensors.scores = scores.map((t) => t.name);
  lay.tensors.probs = probs.map((t) => t.name);
  lay.tensors.probsQ = pq.map((t) => t.name);
  st.scores = scores;
  st.probs = probs;
  st.probsQ = pq;
  const rank = ctx.share.rank;
  register(ctx, opOf('attn_scores').outputs[0]!.name, scores[0]!, R, nT, L, 0, rank * Hq);
  register(ctx, opOf('softmax').outputs[0]!.name, probs[0]!, R, nT, L, 0, rank * Hq);
  const quant = graph.ops.find((o) => o.name === 'probs_quant');
  if (quant) register(ctx, quant.outputs[0]!.name, pq[0]!, R, nC, H, 0, rank * Hq);
  register(ctx, attnName, out, M, tilesQ, per, Hq * D, rank * Hq * D);
  ctx.units.add('MEM').add('MXM').add('VXM').add('SXM');

  // ---- helpers: reads and writes that keep the ring's order
  const rd = (t: ChipTensor, row: number, arrive: number, to: number, floor: number, what: string): number => {
    const b = readFrom(sch, t, row, arrive, to, floor, what);
    for (const p of slicePositions(sch, t)) ring.read(t, row, arrive - sch.travel(p, to) - d.memRead);
    return b;
  };
  const checkW = (t: ChipTensor, row: number, from: number, cycle: number, what: string) => {
    for (const p of slicePositions(sch, t)) ring.check(t, row, cycle + sch.travel(from, p), what);
  };
  const wr = (t: ChipTensor, row: number, from: number, cycle: number, what: string) => {
    checkW(t, row, from, cycle, what);
    return storeRow(sch, t, row, from, cycle, what);
  };
  const placeR = (earliest: number, fn: (c: number) => void, what: string, tries?: number): number => {
    const c = place(sch, earliest, (cy) => {
      ring.begin();
      fn(cy);
    }, what, tries);
    ring.commit();
    return c;
  };
  /** Like placeR, trying each of `alts` on a cycle before the next cycle. */
  const placeAlt = (earliest: number, alts: ((c: number) => void)[], what: string): number => {
    let last = '';
    for (let c = earliest; c < earliest + 4096; c++) {
      for (const fn of alts) {
        try {
          sch.attempt(c, (cy) => {
            ring.begin();
            fn(cy);
          }, what, 1);
          ring.commit();
          return c;
        } catch (e) {
          if (!(e instanceof ScheduleConflict)) throw e;
          last = e.message;
        }
      }
    }
    throw new ScheduleConflict(`${what}: nothing fits in 4096 cycles from ${earliest} (last try: ${last})`);
  };
  const sc = (row: Row, jt: number) => tileRow(scores, row.slot, nT, jt);
  const pr = (row: Row, jt: number) => tileRow(probs, row.slot, nT, jt);
  const pqOf = (row: Row, c: number) => ({ t: pq[pqPlane[row.r * nC + c]!]!, row: pqRowA[row.r * nC + c]! });
  const sxmAt = (t: ChipTensor) => (slicePositions(sch, t)[0]! < vxm ? 'SXM.W' : 'SXM.E');

  // ---- the planes: segments in program order; the set each plane holds
  // every row the pipeline reads is a constant or written with its ready cycle recorded (the
  // Schedule refuses a read before its write), so nothing here waits for the op's start: block 0
  // begins as soon as its q_q rows and the K sets land
  const planeFree = st.planes.map((cp) => sch.free(cp.queue));
  const held: (string | null)[] = st.planes.map(() => null);
  const setReady = (kind: 'k' | 'v', set: { plane: number; base: number }) => {
    let r = 0;
    for (let k = 0; k < H; k++) {
      const at = setRow(st, kind, set, k);
      r = Math.max(r, st.ready.get(`${at.t.name}:${at.row}`) ?? 0);
    }
    return r;
  };
  const segment = (kind: 'k' | 'v', i: number, set: { plane: number; base: number }, what: string): number => {
    const p = set.plane;
    const key = `${kind}${i}`;
    let cur = planeFree[p]!;
    if (held[p] !== key) {
      const ready = setReady(kind, set);
      cur = install(ctx, st, p, kind, set.base, Math.max(cur, ready), ready, what);
      held[p] = key;
    }
    return cur;
  };

  const scoresReady = new Map<number, number>();
  const pqReady = new Map<string, number>();
  const attnReady = new Map<number, number>();
  const attnCount = new Map<number, number>();
  const accBusy = new Map<string, [number, number][]>();
  const ends = { scores: start, softmax: start, probsQ: start, values: start };

  // ---- scores of block k: per K set, one MM per (head, token) attending its tile
  const placeScores = (k: number) => {
    const list = blockRows[k]!;
    lay.kSets.forEach((ks, i) => {
      const sig = Math.floor(i / nT);
      const jt = i % nT;
      const mine = list.filter((row) => {
        const pi = row.b * Hk + Math.floor(row.h / G);
        return Math.floor(pi / kpack) === sig && row.tiles.some((x) => x.jt === jt);
      });
      if (!mine.length) return;
      const cp = st.planes[ks.plane]!;
      let cur = segment('k', i, ks, `attn_scores K set ${sig} tile ${jt}`);
      for (const row of mine) {
        const what = `attn_scores b${row.b} h${row.h} t${row.t} tile ${jt}`;
        const q = qqAt(row.m * Hq + row.h);
        cur = placeR(Math.max(cur, rowReady(ctx, q.t, q.row, start) + d.memRead + 1), (c) => {
          const xb = rd(q.t, q.row, c, cp.pos, 0, what);
          const at = sc(row, jt);
          const o = wr(at.t, at.row, cp.pos, c + d.mxm, what);
          sch.issue(cp.queue, c, `MM.${st.adt} ${name(xb)}, ${name(o.base)}`, what);
          scoresReady.set(row.r, Math.max(scoresReady.get(row.r) ?? 0, o.ready));
          ends.scores = Math.max(ends.scores, o.ready);
        }, what) + 2;
      }
      planeFree[ks.plane] = cur;
    });
  };

  /** z (+ mask) of tile k of a row on streams `dst` at the VXM on cycle y. */
  const zOf = (row: Row, k: number, y: number, dst: number, what: string, maskT = masksOf(row)): void => {
    const tile = row.tiles[k]!;
    const c = y - d.vxmAlu * (tile.mask >= 0 ? 2 : 1);
    const at = sc(row, tile.jt);
    const sb = rd(at.t, at.row, c, vxm, 0, what);
    if (tile.mask >= 0) {
      const z = chainAny(sch, 4, c + d.vxmAlu, `${what} z`);
      issueAny(sch, freeAlus(), c, `MULS.fp32 ${name(z)}, ${name(sb)}, ${scale}`);
      const mk = readFrom(sch, maskT, tile.mask, c + d.vxmAlu, vxm, 0, `${what} mask`);
      issueAny(sch, freeAlus(), c + d.vxmAlu, `ADD.fp32 ${name(dst)}, ${name(z)}, ${name(mk)}`);
    } else issueAny(sch, freeAlus(), c, `MULS.fp32 ${name(dst)}, ${name(sb)}, ${scale}`);
  };
  /** An ALU whose accumulator is free on cycles a..b (an ACC chain must not interleave). */
  const accAlu = (a: number, b: number): string => {
    for (const q of alus) {
      const l = accBusy.get(q) ?? [];
      if (l.every(([x, y]) => b < x || y < a)) return q;
    }
    throw new ScheduleConflict(`no ALU accumulator free on cycles ${a}..${b}`);
  };
  const holdAcc = (q: string, a: number, b: number) => {
    const l = accBusy.get(q) ?? [];
    l.push([a, b]);
    accBusy.set(q, l);
  };

  /** p (on streams `pb` at the VXM on pAt, on its way to the probs row): its fp16 cast to the
   * probs_q rows of the tile's two chunks of H positions, the upper one moved to lanes 0..H-1 by
   * the SXM on its side (the lower one written on the way when it lies on that side). */
  const pTail = (row: Row, jt: number, pAt: number, pb: number, what: string): void => {
    const { lo, hi } = window(lay, row.t);
    const low = 2 * jt * H <= hi && 2 * jt * H + H - 1 >= lo;
    const up = 2 * jt + 1 < nC && (2 * jt + 1) * H <= hi && (2 * jt + 1) * H + H - 1 >= lo;
    const side = (t: ChipTensor) => slicePositions(sch, t)[0]! < vxm;
    const o = { base: pb };
    // the cast reads p as it leaves the VXM; the upper chunk goes on to the SXM on its
    // plane's side (and the lower one is written on the way when it lies on that side)
    const qAt = pAt + d.vxmLarge;
    const lowAt = low ? pqOf(row, 2 * jt) : null;
    const upAt = up ? pqOf(row, 2 * jt + 1) : null;
    const key = (cc: number) => `${row.r}:${cc}`;
    if (upAt) {
      const sxm = sxmAt(upAt.t);
      const sp = sch.position(sxm);
      const along = lowAt !== null && side(lowAt.t) === side(upAt.t);
      const qb = claimTo(sch, 2, vxm, qAt, [sp, ...(along ? slicePositions(sch, lowAt.t) : [])], `${what} fp16 to ${sxm}`);
      if (along) {
        checkW(lowAt.t, lowAt.row, vxm, qAt, `${what} lower`);
        pqReady.set(key(2 * jt), writeRow(sch, lowAt.t, lowAt.row, qb, vxm, qAt, `${what} lower`));
      }
      const sh = qAt + sch.travel(vxm, sp);
      const ou = wr(upAt.t, upAt.row, sp, sh + d.sxm, `${what} upper`);
      sch.issue(sxm, sh, `SHIFT.${st.adt} ${name(ou.base)}, ${name(qb)}, ${-H}`, what);
      pqReady.set(key(2 * jt + 1), ou.ready);
      issueAny(sch, freeAlus(), pAt, `CVT.${st.adt} ${name(qb)}, ${name(o.base)}, fp32`);
      if (along) return;
    }
    if (lowAt) {
      const ol = wr(lowAt.t, lowAt.row, vxm, qAt, `${what} lower`);
      issueAny(sch, freeAlus(), pAt, `CVT.${st.adt} ${name(ol.base)}, ${name(o.base)}, fp32`);
      pqReady.set(key(2 * jt), ol.ready);
    }
  };

  /**
   * A softmax row in one placement. A: z_j = s_j * D^-1/2 (+ mask) of its tiles, one every vxmAlu
   * cycles, in a chain of lane-wise MAXs; the maximum (or z of a one-tile row) to an SXM (RMAX),
   * and M straight back to the VXM (M is never stored), passed on by an ALU (MULS by 1) from tile
   * to tile. B: z_j made again from the scores row, e_j = exp(z_j - M) to the probs row; a
   * one-tile row's e goes on to the SXM beyond its probs row (RSUM), a longer row's e_j are summed
   * by one ALU's ACC, which sends the sum. rsqrt(sum)^2 comes straight back, passed on likewise,
   * to meet each e_j read back: p_j to the probs row, its fp16 to probs_q.
   */
  let curRow = 0;
  const placeRow = (row: Row): void => {
    const what = `softmax r${row.r}`;
    const n = row.tiles.length;
    const a = d.vxmAlu;
    const at0 = pr(row, row.tiles[0]!.jt);
    const sSide = sxmAt(at0.t);
    const spS = sch.position(sSide);
    // rows go in the order their scores land, each from a little before the last one placed (a
    // row that waits for a busy pair does not hold up the next ones for long); per cycle, the RMAX
    // at either SXM and either of two mask copies
    const e0 = Math.max(curRow - blockTuning.backfill, scoresReady.get(row.r)! + d.memRead + a);
    const sides = sSide === 'SXM.W' ? ['SXM.E', 'SXM.W'] : ['SXM.W', 'SXM.E'];
    const copies = maskCopies.length > 1 ? [masksOf(row), maskCopies[(row.slot + 1) % maskCopies.length]!] : [masksOf(row)];
    /** `v` (at the VXM on `at`) and its copies passed on by an ALU, `k` in all, vxmAlu apart. */
    const passOnN = (v: number, at: number, k: number, tw: string): number[] => {
      const out = [v];
      for (let j = 1; j < k; j++) {
        const nx = chainAny(sch, 4, at + j * a, `${tw} ${j}`);
        issueAny(sch, freeAlus(), at + (j - 1) * a, `MULS.fp32 ${name(nx)}, ${name(out[j - 1]!)}, 1`);
        out.push(nx);
      }
      return out;
    };
    const body = (y0: number, mSide: string, mk: ChipTensor | undefined) => {
      const spM = sch.position(mSide);
      const outAt = n > 1 ? y0 + n * a : y0;
      const rm = outAt + sch.travel(vxm, spM);
      const mAt = rm + d.sxmReduce + sch.travel(spM, vxm);
      const eAt = (j: number) => mAt + j * a + a + d.vxmLarge;
      const acc = n > 1 ? accAlu(eAt(0), eAt(n - 1)) : '';
      if (acc) reserved = acc;
      // A: the maximum to the RMAX
      const toM = toward(sch, 4, vxm, outAt, spM, `${what} to ${mSide}`);
      let prev = -1;
      for (let j = 0; j < n; j++) {
        const y = y0 + j * a;
        if (n === 1) {
          zOf(row, 0, y, toM, `${what} max`, mk);
          break;
        }
        const zb = chainAny(sch, 4, y, `${what} max tile ${j}`);
        zOf(row, j, y, zb, `${what} max tile ${j}`, mk);
        const o = j === n - 1 ? toM : chainAny(sch, 4, y + a, `${what} running max`);
        issueAny(sch, freeAlus(), y, `MAX.fp32 ${name(o)}, ${name(zb)}, ${name(j === 0 ? zb : prev)}`);
        prev = o;
      }
      const mb = toward(sch, 4, spM, rm + d.sxmReduce, vxm, `${what} M`);
      sch.issue(mSide, rm, `RMAX.fp32 ${name(mb)}, ${name(toM)}`, what);
      const ms = passOnN(mb, mAt, n, `${what} M`);
      // B: z again, e to the probs rows, the sum to the RSUM
      let toS = -1;
      let sumAt = 0;
      for (let j = 0; j < n; j++) {
        const tile = row.tiles[j]!;
        const tw = `${what} tile ${tile.jt}`;
        const y = mAt + j * a;
        const zb = chainAny(sch, 4, y, `${tw} z`);
        zOf(row, j, y, zb, `${tw} sum`, mk);
        const u = chainAny(sch, 4, y + a, `${tw} z - M`);
        issueAny(sch, freeAlus(), y, `SUB.fp32 ${name(u)}, ${name(zb)}, ${name(ms[j]!)}`);
        const at = pr(row, tile.jt);
        const e = eAt(j);
        checkW(at.t, at.row, vxm, e, `${tw} e`);
        let eb: number;
        if (n === 1) {
          eb = claimTo(sch, 4, vxm, e, [...slicePositions(sch, at.t), spS], `${tw} e`);
          toS = eb;
          sumAt = e;
        } else {
          eb = claimTo(sch, 4, vxm, e, [vxm, ...slicePositions(sch, at.t)], `${tw} e`);
          let dst = '-';
          if (j === n - 1) {
            sumAt = e + a;
            toS = toward(sch, 4, vxm, sumAt, spS, `${what} sum to ${sSide}`);
            dst = name(toS);
          }
          sch.issue(acc, e, `ACC.fp32 ${dst}, ${name(eb)}${j === 0 ? ', reset' : ''}`);
        }
        issueAny(sch, freeAlus(), y + a, `EXP.fp32 ${name(eb)}, ${name(u)}`);
        writeRow(sch, at.t, at.row, eb, vxm, e, `${tw} e`);
      }
      const rs = sumAt + sch.travel(vxm, spS);
      const back = rs + d.sxmReduce + sch.travel(spS, vxm);
      const tot = toward(sch, 4, spS, rs + d.sxmReduce, vxm, `${what} total`);
      sch.issue(sSide, rs, `RSUM.fp32 ${name(tot)}, ${name(toS)}`, what);
      const rq = chainAny(sch, 4, back + d.vxmLarge, `${what} rsqrt`);
      issueAny(sch, freeAlus(), back, `RSQRT.fp32 ${name(rq)}, ${name(tot)}`);
      const c = back + d.vxmLarge + a;
      if (n > 1) {
        // a longer row's 1/sum^2 to SRAM: each tile's p is placed on its own below (one
        // placement for all would pin reads and writes of one pair to fixed distances)
        const ir = iRow(row);
        const o = wr(ir.t, ir.row, vxm, c, `${what} rsqrt^2`);
        issueAny(sch, freeAlus(), back + d.vxmLarge, `MUL.fp32 ${name(o.base)}, ${name(rq)}, ${name(rq)}`);
        invReady = o.ready;
        holdAcc(acc, eAt(0), eAt(n - 1));
        return;
      }
      const inv = chainAny(sch, 4, c, `${what} rsqrt^2`);
      issueAny(sch, freeAlus(), back + d.vxmLarge, `MUL.fp32 ${name(inv)}, ${name(rq)}, ${name(rq)}`);
      // C: e back from the probs row, p
      const jt = row.tiles[0]!.jt;
      const at = pr(row, jt);
      const er = rd(at.t, at.row, c, vxm, 0, `${what} e back`);
      const pAt = c + a;
      const o = wr(at.t, at.row, vxm, pAt, `${what} p`);
      issueAny(sch, freeAlus(), c, `MUL.fp32 ${name(o.base)}, ${name(er)}, ${name(inv)}`);
      ends.softmax = Math.max(ends.softmax, o.ready);
      pTail(row, jt, pAt, o.base, `${what} p`);
    };
    const alts = sides.flatMap((mSide) => copies.map((mk) => (y0: number) => {
      try {
        body(y0, mSide, mk);
      } finally {
        reserved = null;
      }
    }));
    let invReady = 0;
    const placed = placeAlt(e0, alts, what);
    curRow = Math.max(curRow, placed + 1);
    // a longer row's p, tile by tile: e and 1/sum^2 read back (1/sum^2 a step early and passed on
    // where both lie in one pair)
    let cur = invReady;
    for (const { jt } of n > 1 ? row.tiles : []) {
      const tw = `${what} tile ${jt} p`;
      const at = pr(row, jt);
      const ir = iRow(row);
      cur = placeR(cur, (c) => {
        const er = rd(at.t, at.row, c, vxm, 0, `${tw} e`);
        let ib: number;
        if (at.t.slices.some((x) => ir.t.slices.includes(x))) {
          const early = rd(ir.t, ir.row, c - a, vxm, 0, `${tw} rsqrt^2`);
          ib = chainAny(sch, 4, c, `${tw} rsqrt^2 passed on`);
          issueAny(sch, freeAlus(), c - a, `MULS.fp32 ${name(ib)}, ${name(early)}, 1`);
        } else ib = rd(ir.t, ir.row, c, vxm, 0, `${tw} rsqrt^2`);
        const pAt = c + a;
        const o = wr(at.t, at.row, vxm, pAt, tw);
        issueAny(sch, freeAlus(), c, `MUL.fp32 ${name(o.base)}, ${name(er)}, ${name(ib)}`);
        ends.softmax = Math.max(ends.softmax, o.ready);
        pTail(row, jt, pAt, o.base, tw);
      }, tw) + 1;
    }
  };

  // ---- softmax of block k: its rows in the order their scores land
  const placeSoftmax = (k: number) => {
    for (const row of [...blockRows[k]!].sort((x, y) => scoresReady.get(x.r)! - scoresReady.get(y.r)!)) placeRow(row);
  };

  // ---- values of block k: per V set (sequence b, kv head g, chunk c), per (token, attn vector)
  // consecutive MMs for its heads; products masked to their heads' lanes and summed by one ALU's
  // ACC with the attn row so far
  const hop = (cp: { pos: number }) => d.mxm + sch.travel(cp.pos, vxm);
  const placeValues = (k: number) => {
    lay.vSets.forEach((vs, i) => {
      const b = Math.floor(i / (Hk * nC));
      const g = Math.floor(i / nC) % Hk;
      const c = i % nC;
      const groups = groupsOf(k, i);
      if (!groups.size) return;
      const cp = st.planes[vs.plane]!;
      let cur = segment('v', i, vs, `attn_values V set b${b} kv ${g} chunk ${c}`);
      for (const [ar, heads] of groups) {
        heads.sort((x, y) => x.h - y.h);
        const n = heads.length;
        const idx = attnCount.get(ar) ?? 0;
        const first = idx === 0;
        attnCount.set(ar, idx + 1);
        // the sum so far in an accumulator row; the last contribution writes the attn row
        const dstT = idx === contribs[ar]! - 1 ? { t: out, row: ar } : accRow(ar);
        const srcT = accRow(ar);
        const what = `attn_values m${heads[0]!.m} vector ${ar % tilesQ} kv ${g} chunk ${c}`;
        const xReady = Math.max(...heads.map((row) => pqReady.get(`${row.r}:${c}`)!));
        const prev = attnReady.get(ar) ?? 0;
        const earliest = Math.max(cur, xReady + d.memRead + 1, prev + d.memRead + 2 - hop(cp) - d.vxmAlu);
        cur = placeR(earliest, (c0) => {
          const y = (j: number) => c0 + 2 * j + hop(cp);
          const parts: { pa: number; mk: number }[] = [];
          heads.forEach((row, j) => {
            const q = pqOf(row, c);
            const xb = rd(q.t, q.row, c0 + 2 * j, cp.pos, 0, `${what} x`);
            const pa = toward(sch, 4, cp.pos, c0 + 2 * j + d.mxm, vxm, `${what} partial`);
            sch.issue(cp.queue, c0 + 2 * j, `MM.${st.adt} ${name(xb)}, ${name(pa)}`, what);
            const mk = readFrom(sch, hmasks[ar % hmasks.length]!, row.h % hpv, y(j), vxm, 0, `${what} mask`);
            parts.push({ pa, mk });
          });
          let ready: number;
          if (n === 1 && first) {
            const o = storeRow(sch, dstT.t, dstT.row, vxm, y(0) + d.vxmAlu, what);
            issueAny(sch, freeAlus(), y(0), `MUL.fp32 ${name(o.base)}, ${name(parts[0]!.pa)}, ${name(parts[0]!.mk)}`);
            ready = o.ready;
          } else if (n === 1) {
            const pb = chainAny(sch, 4, y(0) + d.vxmAlu, `${what} product`);
            issueAny(sch, freeAlus(), y(0), `MUL.fp32 ${name(pb)}, ${name(parts[0]!.pa)}, ${name(parts[0]!.mk)}`);
            const ob = readFrom(sch, srcT.t, srcT.row, y(0) + d.vxmAlu, vxm, 0, `${what} so far`);
            const o = storeRow(sch, dstT.t, dstT.row, vxm, y(0) + 2 * d.vxmAlu, what);
            issueAny(sch, freeAlus(), y(0) + d.vxmAlu, `ADD.fp32 ${name(o.base)}, ${name(pb)}, ${name(ob)}`);
            ready = o.ready;
          } else {
            const a0 = first ? y(0) + d.vxmAlu : y(0) + d.vxmAlu - 1;
            const aN = y(n - 1) + d.vxmAlu;
            const acc = accAlu(a0, aN);
            if (!first) {
              const ob = readFrom(sch, srcT.t, srcT.row, a0, vxm, 0, `${what} so far`);
              sch.issue(acc, a0, `ACC.fp32 -, ${name(ob)}, reset`);
            }
            ready = 0;
            parts.forEach(({ pa, mk }, j) => {
              const pb = chainAny(sch, 4, y(j) + d.vxmAlu, `${what} product ${j}`);
              issueAny(sch, freeAlus(), y(j), `MUL.fp32 ${name(pb)}, ${name(pa)}, ${name(mk)}`);
              let dst = '-';
              if (j === n - 1) {
                const o = storeRow(sch, dstT.t, dstT.row, vxm, aN + d.vxmAlu, what);
                dst = name(o.base);
                ready = o.ready;
              }
              sch.issue(acc, y(j) + d.vxmAlu, `ACC.fp32 ${dst}, ${name(pb)}${first && j === 0 ? ', reset' : ''}`);
            });
            holdAcc(acc, a0, aN);
          }
          attnReady.set(ar, ready);
          ends.values = Math.max(ends.values, ready);
        }, what) + 2 * n;
      }
      planeFree[vs.plane] = cur;
    });
  };

  // ---- the pipeline: scores one block ahead of the softmax and the values
  const trace = blockTuning.trace;
  placeScores(0);
  for (let k = 0; k < nB; k++) {
    if (k + 1 < nB) placeScores(k + 1);
    trace?.(`block ${k + 1}/${nB} (${Tb} tokens, ring ${Kr}): scores by ${ends.scores}`);
    placeSoftmax(k);
    trace?.(`block ${k}: softmax by ${ends.softmax}`);
    placeValues(k);
    trace?.(`block ${k}: values by ${ends.values}`);
  }
  for (const v of pqReady.values()) ends.probsQ = Math.max(ends.probsQ, v);
  st.probsQReady = ends.probsQ;
  st.ends = ends;
}
