// All-reduce of a tensor's rows in place over N > 2 chips as a reduce-scatter then an all-gather,
// so that a link carries 2 ceil(rows / N) messages instead of every row (allreduce.ts sends every
// row to every peer, which two chips cannot beat).
//
// Chip p owns rows i*N + p (i < K = ceil(rows / N)); on its link m the peer is chip
// q = (p + m + 1) mod N, both ways (src/system/topology.ts). Round 1: on link m chip p sends its
// partial of q's row i*N + q, and sums its own row with the N - 1 partials it receives, writing the
// sum back; round 2: it sends the sum on every link, and writes each peer's summed row where it
// belongs. Which row a chip sends or writes depends on the chip while the program is the same on
// every chip: rows are read by MEM GATHER and written by SCATTER from slot i's first row i*N, with
// a per-chip index table: its row k holds (p + k) mod N on every lane (k = 0: the own row; k = m + 1:
// link m's peer's). t has pad rows up to K*N for the last slot.
// Every message of round 1 leaves a link before any of round 2, so each link's receives take its
// messages in the order they were sent (RECV takes the oldest). The sums are exact for int32 and
// for MAX, and the same on every chip in any case (one chip sums a row, the others copy it).
import type { LayerCtx } from './context.js';
import { i16Bytes } from './attn-common.js';
import { linkSlice } from './allreduce.js';
import { chain } from './rows.js';
import { CHIP_BYTES, FitError, planesPerSlice, type ChipTensor } from './sram.js';
import { ScheduleConflict } from './schedule.js';

/** Whether an all-reduce of `rows` int32/fp32 rows goes by reduce-scatter + all-gather: on more
 * than two chips, where the link time it saves (rows - 2 ceil(rows / N) messages) exceeds one
 * more link latency and message. */
export function reduceScatterPays(ctx: LayerCtx, rows: number): boolean {
  const N = ctx.share.ranks;
  const busy = 4 * ctx.chip.c2cVectorCycles;
  return N > 2 && (rows - 2 * Math.ceil(rows / N)) * busy > ctx.chip.c2cLatencyCycles + busy;
}

/** Rows a tensor of `rows` rows needs after them for a reduce-scatter's last slot (up to a
 * multiple of the chips), 0 where it goes otherwise. */
export function reduceScatterPad(ctx: LayerCtx, rows: number): number {
  const N = ctx.share.ranks;
  return reduceScatterPays(ctx, rows) ? (N - (rows % N)) % N : 0;
}

export function reduceScatterRows(ctx: LayerCtx, t: ChipTensor, rows: number, op: 'ADD.int32' | 'ADD.fp32' | 'MAX.fp32', start: number, what: string): number {
  const { sch, chip } = ctx;
  const d = chip.delays;
  const N = ctx.share.ranks;
  const K = Math.ceil(rows / N);
  const L = chip.lanes;
  const width = CHIP_BYTES[t.dtype];
  const pps = planesPerSlice(t);
  const busy = width * chip.c2cVectorCycles;
  const flight = busy + chip.c2cLatencyCycles;
  const links = Array.from({ length: N - 1 }, (_, j) => j);
  const name = (id: number) => sch.plan.streamName(id);
  if (t.rows < K * N) throw new Error(`internal: ${what}: ${t.name} has ${t.rows} rows, the last slot needs ${K * N}`);
  ctx.units.add('C2C').add('VXM').add('MEM');

  // the index table, per chip p: row k holds (p + k) mod N
  const data = ctx.timingOnly ? undefined : Array.from({ length: N }, (_, p) => i16Bytes(Array.from({ length: N * L }, (_, x) => (p + Math.floor(x / L)) % N)));
  const idxSlice = ctx.sram.pairs.flat().find((s) => !t.slices.includes(s) && ctx.sram.free(s) >= 2 * N);
  if (!idxSlice) throw new FitError(`${t.name}_rs_idx`, `${what}: no activation slice has room for its index table (${2 * N} vectors)`, 2 * N * L);
  const idx = ctx.sram.place(`${t.name}_rs_idx`, 'fp16', N, [idxSlice], { data });
  const ip = sch.position(idxSlice);
  const tp = t.slices.map((s) => sch.position(s));
  const vxm = ctx.vxm;
  const cpos = (j: number) => sch.position(linkSlice(ctx, j));

  // index row `row` passing each target position on its cycle: one read per distinct read cycle
  const indexTo = (row: number, at: { pos: number; cycle: number }[], w: string): number[] => {
    const reads = new Map<number, { east: boolean; far: number; of: number[] }>();
    at.forEach((a, k) => {
      const rc = a.cycle - sch.travel(ip, a.pos) - d.memRead;
      const g = reads.get(rc) ?? { east: a.pos > ip, far: a.pos, of: [] };
      if (g.east !== a.pos > ip) throw new ScheduleConflict(`${w}: index read both ways on ${rc}`);
      g.far = g.east ? Math.max(g.far, a.pos) : Math.min(g.far, a.pos);
      g.of.push(k);
      reads.set(rc, g);
    });
    const out: number[] = [];
    for (const [rc, g] of reads) {
      if (rc < 0) throw new ScheduleConflict(`${w}: index read before cycle 0`);
      const base = sch.pickStreams(g.east, 2, [{ offset: 0, width: 2, from: ip, cycle: rc + d.memRead, to: g.far }], `${w} index`);
      sch.claimPorts(idxSlice, rc, 2, `${w} index`);
      sch.issue(idxSlice, rc, `READ ${idx.name}[${row}], ${name(base)}`);
      for (const k of g.of) out[k] = base;
    }
    return out;
  };
  // slot i's row named by index row k, gathered so that it passes position `to` on `arrive`
  // (after `keys`)
  const gatherTo = (k: number, i: number, to: number, arrive: number, keys: string[], w: string): number => {
    const at = tp.map((p) => ({ pos: p, cycle: arrive - sch.travel(p, to) - d.memRead }));
    const base = sch.pickStreams(tp[0]! < to, width, tp.map((p, j) => ({ offset: j * pps, width: pps, from: p, cycle: at[j]!.cycle + d.memRead, to })), w);
    const ib = indexTo(k, at, w);
    t.slices.forEach((s, j) => {
      for (const key of keys) sch.checkReady(key, at[j]!.cycle, w);
      sch.claimPorts(s, at[j]!.cycle, pps, w);
      sch.issue(s, at[j]!.cycle, `GATHER ${t.name}[${i * N}], ${name(ib[j]!)}, ${name(base + j * pps)}, ${pps}`);
    });
    return base;
  };
  // a value leaving `from` on `cycle` scattered to slot i's row named by index row k: its streams
  // and the cycle from which the row holds it
  const scatterFrom = (k: number, i: number, from: number, cycle: number, w: string): { base: number; ready: number } => {
    const base = sch.pickStreams(tp[0]! > from, width, tp.map((p, j) => ({ offset: j * pps, width: pps, from, cycle, to: p })), w);
    const at = tp.map((p) => ({ pos: p, cycle: cycle + sch.travel(from, p) }));
    const ib = indexTo(k, at, w);
    let ready = 0;
    t.slices.forEach((s, j) => {
      sch.claimPorts(s, at[j]!.cycle + 1, pps, w);
      sch.issue(s, at[j]!.cycle, `SCATTER ${t.name}[${i * N}], ${name(ib[j]!)}, ${name(base + j * pps)}, ${pps}`);
      ready = Math.max(ready, at[j]!.cycle + 2);
    });
    return { base, ready };
  };
  const slotRows = (i: number) => Array.from({ length: Math.min(N, rows - i * N) }, (_, x) => `${t.name}[${i * N + x}]`);
  // a receive of a link's message n (arrival cycles in order) before message n + buffer lands
  const checkBuffer = (arrivals: number[], n: number, recvAt: number, w: string) => {
    const later = arrivals[n + chip.c2cBufferMessages];
    if (later !== undefined && recvAt >= later) throw new Error(`internal: ${w}: received on cycle ${recvAt}, after ${chip.c2cBufferMessages} more messages reached the link's buffer`);
  };

  // round 1, sends: each link its own cursor, a slot's rows once all of them are in SRAM
  const sent1 = links.map(() => new Array<number>(K).fill(0));
  const read1 = links.map(() => new Array<number>(K).fill(0));
  for (const j of links) {
    let c = start;
    for (let i = 0; i < K; i++) {
      const w = `${what} round 1 slot ${i} link ${j}`;
      const s = sch.attempt(c, (s0) => {
        const base = gatherTo(j + 1, i, cpos(j), s0, slotRows(i), w);
        sch.claimLink(`C2C.${j}`, s0, busy, w);
        sch.issue(`C2C.${j}`, s0, `SEND ${name(base)}, ${width}`, i === 0 ? `${what}: reduce-scatter` : undefined);
      }, w);
      sent1[j]![i] = s;
      read1[j]![i] = s - Math.max(...tp.map((p) => sch.travel(p, cpos(j)))) - d.memRead;
      c = s + busy;
    }
  }
  // round 1, sums: the own row and the N - 1 partials, chained at the VXM, written back; link m
  // brings the peer's round 1 on its link N - 2 - m
  const arrive1 = links.map((m) => sent1[N - 2 - m]!.map((x) => x + flight));
  const summed = new Array<number>(K).fill(0);
  const lastRecv = links.map(() => start);
  let c = start;
  for (let i = 0; i < K; i++) {
    const w = `${what} round 1 slot ${i} sum`;
    const arrive = Math.max(...links.map((m) => arrive1[m]![i]!));
    c = sch.attempt(Math.max(c, arrive), (t0) => {
      let acc = gatherTo(0, i, vxm, t0, slotRows(i), w);
      for (const m of links) {
        const at = t0 + m * d.vxmAlu;
        const pos = cpos(m);
        const recvAt = at - d.c2cRecv - sch.travel(pos, vxm);
        if (recvAt < arrive1[m]![i]!) throw new ScheduleConflict(`${w}: not yet arrived on link ${m}`);
        checkBuffer(arrive1[m]!, i, recvAt, w);
        const rb = sch.pickStreams(pos < vxm, width, [{ offset: 0, width, from: pos, cycle: recvAt + d.c2cRecv, to: vxm }], w);
        sch.issue(`C2C.${m}`, recvAt, `RECV ${name(rb)}, ${width}`);
        lastRecv[m] = recvAt;
        const alu = `VXM.${m % chip.vxmAlus}`;
        if (m === N - 2) {
          const o = scatterFrom(0, i, vxm, at + d.vxmAlu, w);
          sch.issue(alu, at, `${op} ${name(o.base)}, ${name(acc)}, ${name(rb)}`);
          summed[i] = o.ready;
        } else {
          const nx = chain(sch, width, at + d.vxmAlu, w);
          sch.issue(alu, at, `${op} ${name(nx)}, ${name(acc)}, ${name(rb)}`);
          acc = nx;
        }
      }
    }, w) + 1;
    sch.markReady(`${t.name}:sum:${i}`, summed[i]!);
  }
  // round 2, sends: the sum, once per side of the chip, on every link of that side, after the
  // last message of round 1 on each of them
  const sent2 = links.map(() => new Array<number>(K).fill(0));
  const sides = [...new Set(links.map((j) => linkSlice(ctx, j)))];
  for (const side of sides) {
    const mine = links.filter((j) => linkSlice(ctx, j) === side);
    let s = Math.max(...mine.map((j) => sent1[j]![K - 1]! + busy));
    for (let i = 0; i < K; i++) {
      const w = `${what} round 2 slot ${i} ${side}`;
      s = sch.attempt(Math.max(s, summed[i]!), (s0) => {
        const base = gatherTo(0, i, sch.position(side), s0, [`${t.name}:sum:${i}`], w);
        for (const j of mine) {
          sch.claimLink(`C2C.${j}`, s0, busy, w);
          sch.issue(`C2C.${j}`, s0, `SEND ${name(base)}, ${width}`, i === 0 && j === mine[0] ? `${what}: all-gather` : undefined);
        }
      }, w);
      for (const j of mine) sent2[j]![i] = s;
      s += busy;
    }
  }
  // round 2, receives: each peer's sum to its row, after this chip sent its partial of that row
  const arrive2 = links.map((m) => sent2[N - 2 - m]!.map((x) => x + flight));
  const done = [...summed];
  for (const m of links) {
    const pos = cpos(m);
    // (after the link's last receive of round 1: a receive takes the oldest message)
    let r = lastRecv[m]! + 1;
    for (let i = 0; i < K; i++) {
      const w = `${what} round 2 slot ${i} link ${m}`;
      r = sch.attempt(Math.max(r, arrive2[m]![i]!), (r0) => {
        checkBuffer(arrive2[m]!, i, r0, w);
        const o = scatterFrom(m + 1, i, pos, r0 + d.c2cRecv, w);
        if (r0 + d.c2cRecv <= read1[m]![i]!) throw new ScheduleConflict(`${w}: the row is still to be sent in round 1`);
        sch.issue(`C2C.${m}`, r0, `RECV ${name(o.base)}, ${width}`);
        done[i] = Math.max(done[i]!, o.ready);
      }, w) + 1;
    }
  }
  let end = start;
  for (let i = 0; i < K; i++) {
    for (const key of slotRows(i)) sch.markReady(key, done[i]!);
    end = Math.max(end, done[i]!);
  }
  return end;
}
