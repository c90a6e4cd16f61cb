// Small placement helpers shared by the RoPE and attention lowerings (rope.ts, attention.ts):
// a VXM op on whichever ALU is free, chained values on either direction, reads that may not start
// before an op's first cycle, values with several readers along one flight, and the SXM nearest a
// tensor. Every helper reserves through the Schedule and throws ScheduleConflict when something
// is taken, so that a caller inside Schedule.attempt simply moves on to a later cycle.
import type { LayerCtx } from './context.js';
import { readRow, slicePositions } from './rows.js';
import { ScheduleConflict, type Schedule } from './schedule.js';
import type { ChipTensor } from './sram.js';

/** The VXM ALU queues of the chip. */
export function aluQueues(ctx: LayerCtx): string[] {
  return Array.from({ length: ctx.chip.vxmAlus }, (_, i) => `VXM.${i}`);
}

/** Issues `text` on `cycle` in the first of `queues` that is free then; returns the queue. */
export function issueAny(sch: Schedule, queues: string[], cycle: number, text: string, comment?: string): string {
  for (const q of queues) {
    try {
      sch.issue(q, cycle, text, comment);
      return q;
    } catch (e) {
      if (!(e instanceof ScheduleConflict)) throw e;
    }
  }
  throw new ScheduleConflict(`no free queue among ${queues.join(', ')} on cycle ${cycle} for ${text}`);
}

/** Streams for a value written at the VXM on `cycle` and read there on the same cycle by the
 * next ALU; eastward if free, else westward. */
export function chainAny(sch: Schedule, width: number, cycle: number, what: string, eastFirst = true): number {
  const vxm = sch.position('VXM');
  const v = [{ offset: 0, width, from: vxm, cycle, to: vxm }];
  try {
    return sch.pickStreams(eastFirst, width, v, what);
  } catch (e) {
    if (!(e instanceof ScheduleConflict)) throw e;
    return sch.pickStreams(!eastFirst, width, v, what);
  }
}

/** readRow, refusing a READ that would issue before `floor` (the op's inputs are readable from
 * its start cycle only). */
export function readFrom(sch: Schedule, t: ChipTensor, row: number, arrive: number, to: number, floor: number, what: string): number {
  for (const p of slicePositions(sch, t)) {
    if (arrive - sch.travel(p, to) - sch.chip.delays.memRead < floor) throw new ScheduleConflict(`${what}: ${t.name}[${row}] read before cycle ${floor}`);
  }
  return readRow(sch, t, row, arrive, to, what);
}

/** Claims one stream group of `width` for a value written at `from` on `cycle` and read at
 * every position of `readers` (all downstream of `from` in one direction); returns its base. */
export function claimTo(sch: Schedule, width: number, from: number, cycle: number, readers: number[], what: string): number {
  const east = readers.every((p) => p >= from);
  if (!east && !readers.every((p) => p <= from)) throw new ScheduleConflict(`${what}: readers on both sides of ${from}`);
  const far = east ? Math.max(...readers) : Math.min(...readers);
  return sch.pickStreams(east, width, [{ offset: 0, width, from, cycle, to: far }], what);
}

/** The SXM on the side of a tensor's slices (west slices: SXM.W). */
export function sxmNear(sch: Schedule, t: ChipTensor): string {
  return slicePositions(sch, t)[0]! < sch.position('VXM') ? 'SXM.W' : 'SXM.E';
}

/** Index of the first activation pair (Sram.pairs) on a side, with the most free vectors. */
export function pairOn(ctx: LayerCtx, side: 'W' | 'E'): number {
  let best = -1;
  let room = -1;
  ctx.sram.pairs.forEach(([a, b], i) => {
    if (!a.startsWith(`MEM.${side}`)) return;
    const r = Math.min(ctx.sram.free(a), ctx.sram.free(b));
    if (r > room) {
      room = r;
      best = i;
    }
  });
  if (best < 0) throw new Error(`internal: no activation pair on side ${side}`);
  return best;
}

/** fp32 values as little-endian bytes (values rounded to fp32). */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** int16 values as little-endian bytes. */
export function i16Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Int16Array.from(values).buffer);
}


/** Schedule.attempt with the attention lowerings' budget of tries (the Schedule reports the
 * conflict of the last try when nothing fits). */
export function place(sch: Schedule, earliest: number, fn: (cycle: number) => void, what: string, tries = 50_000): number {
  return sch.attempt(earliest, fn, what, tries);
}

/** The activation pair index of a tensor placed by Sram.alloc, or -1. */
function pairOf(ctx: LayerCtx, t: ChipTensor): number {
  return ctx.sram.pairs.findIndex(([a, b]) => t.slices.includes(a) || t.slices.includes(b));
}

/** Pairs (Sram.pairs indices) not holding any of `avoid`, most free vectors first; all pairs if
 * every one holds some. */
function pairsApart(ctx: LayerCtx, avoid: ChipTensor[]): number[] {
  const used = new Set(avoid.map((t) => pairOf(ctx, t)));
  const room = (i: number) => Math.min(...ctx.sram.pairs[i]!.map((s) => ctx.sram.free(s)));
  const all = ctx.sram.pairs.map((_, i) => i).sort((a, b) => room(b) - room(a));
  const apart = all.filter((i) => !used.has(i));
  return apart.length ? apart : all;
}

/** Sram.alloc in a pair that holds none of `avoid` (tensors read on the same cycle as this one:
 * a pair serves one fp32 row a cycle), if there is such a pair. */
export function allocApart(ctx: LayerCtx, name: string, dtype: ChipTensor['dtype'], rows: number, avoid: ChipTensor[], opts: { data?: Uint8Array | Uint8Array[] } = {}): ChipTensor {
  return ctx.sram.alloc(name, dtype, rows, { ...opts, pair: pairsApart(ctx, avoid)[0] });
}

const constants = new WeakMap<LayerCtx, Map<string, ChipTensor[]>>();

/** A constant tensor (same data on every chip) with a copy in a pair apart from `avoid`: copies
 * are made on demand, one per pair, named `<name>_<k>`. */
export function constantApart(ctx: LayerCtx, name: string, dtype: ChipTensor['dtype'], rows: number, data: Uint8Array, avoid: ChipTensor[]): ChipTensor {
  let m = constants.get(ctx);
  if (!m) constants.set(ctx, (m = new Map()));
  const copies = m.get(name) ?? [];
  m.set(name, copies);
  const used = new Set(avoid.map((t) => pairOf(ctx, t)));
  const have = copies.find((c) => !used.has(pairOf(ctx, c)));
  if (have) return have;
  const t = ctx.sram.alloc(`${name}_${copies.length}`, dtype, rows, { data, pair: pairsApart(ctx, avoid)[0] });
  copies.push(t);
  return t;
}

/** Sram.alloc in the pair nearest the VXM that has room and holds none of `avoid` (for rows that
 * make round trips through the VXM: every hop is a cycle of latency). */
export function allocNear(ctx: LayerCtx, name: string, dtype: ChipTensor['dtype'], rows: number, avoid: ChipTensor[] = [], opts: { data?: Uint8Array | Uint8Array[] } = {}): ChipTensor {
  const used = new Set(avoid.map((t) => pairOf(ctx, t)));
  const dist = (i: number) => Math.max(...ctx.sram.pairs[i]!.map((s) => Math.abs(ctx.sch.position(s) - ctx.vxm)));
  const need = Math.max(1, rows) * (dtype === 'fp32' || dtype === 'int32' ? 2 : 1);
  const order = ctx.sram.pairs.map((_, i) => i).sort((a, b) => dist(a) - dist(b));
  const fits = order.filter((i) => ctx.sram.pairs[i]!.every((s) => ctx.sram.free(s) >= need));
  const pick = fits.find((i) => !used.has(i)) ?? fits[0];
  return ctx.sram.alloc(name, dtype, rows, { ...opts, pair: pick });
}

/** The cycle from which a row written by an earlier lowering is readable (the Schedule records
 * every row write), or `otherwise`: a later lowering may start on each row as it lands. */
export function rowReady(ctx: LayerCtx, t: ChipTensor, row: number, otherwise: number): number {
  return ctx.sch.readyAt(`${t.name}[${row}]`) ?? otherwise;
}

/** The position tiles a softmax row over keys lo..hi covers, boundary tiles (those with lanes
 * outside the window) first with the index of their mask in `maskKeys` ("a0:a1", added when new),
 * others with mask -1: in the max chain (one tile every vxmAlu cycles) a boundary tile's z takes
 * one op more, so its scores are read on cycles no other tile's are. */
export function rowTiles(lo: number, hi: number, L: number, maskKeys: string[]): { jt: number; mask: number }[] {
  const tiles: { jt: number; mask: number }[] = [];
  for (let jt = Math.floor(lo / L); jt <= Math.floor(hi / L); jt++) {
    const a0 = Math.max(lo - jt * L, 0);
    const a1 = Math.min(hi - jt * L, L - 1);
    let mask = -1;
    if (a0 > 0 || a1 < L - 1) {
      const key = `${a0}:${a1}`;
      mask = maskKeys.indexOf(key);
      if (mask < 0) mask = maskKeys.push(key) - 1;
    }
    tiles.push({ jt, mask });
  }
  return tiles.sort((x, y) => Number(y.mask >= 0) - Number(x.mask >= 0));
}

/** The mask vectors of `maskKeys` (0 on lanes a0..a1, -inf elsewhere), one row each (at least one). */
export function maskVectors(maskKeys: string[], L: number): Float64Array {
  const mv = new Float64Array(Math.max(1, maskKeys.length) * L);
  maskKeys.forEach((key, i) => {
    const [a0, a1] = key.split(':').map(Number) as [number, number];
    for (let l = 0; l < L; l++) mv[i * L + l] = l >= a0 && l <= a1 ? 0 : -Infinity;
  });
  return mv;
}
