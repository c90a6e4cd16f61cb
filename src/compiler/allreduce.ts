// All-reduce of tensor rows over the C2C links of a fully connected node (tensor parallelism):
// every chip sends each row to every other chip and combines what it receives with its own row in
// a chain of VXM ops (ADD for int32 partial sums: exact, so every chip gets the same bits in any
// order; MAX for the row maxima of a split int8 quantisation). The program is the same on every
// chip (SPMD): link j of chip i goes to chip (i+j+1) mod N and arrives on the peer's link N-2-j
// (src/system/topology.ts), so every chip sends on links 0..N-2 and receives on all of them.
// (Row-split projections on more than two chips use reduce-scatter.ts instead: fewer messages.)
//
// Rows go out one message each (a stream group of the dtype's width): a link is busy
// width x c2cVectorCycles per message, so row r is sent on s0 + r * that; it arrives
// c2cLatencyCycles later, and is received (RECV) as soon as it is there and the streams towards
// the VXM are free.
import type { LayerCtx } from './context.js';
import { readRow, chain, storeRow } from './rows.js';
import { CHIP_BYTES, type ChipTensor } from './sram.js';
import { ScheduleConflict } from './schedule.js';

export function linkSlice(ctx: LayerCtx, link: number): string {
  return link < Math.ceil(ctx.chip.c2cLinks / 2) ? 'C2C.W' : 'C2C.E';
}

type ReduceOp = 'ADD.int32' | 'ADD.fp32' | 'MAX.fp32';

/** What an all-reduce of t's rows uses: a message per row (width stream vectors, busy cycles
 * on a link), links 0 .. N-2 to the peers. */
function linkPlan(ctx: LayerCtx, t: ChipTensor) {
  const { sch, chip } = ctx;
  const width = CHIP_BYTES[t.dtype];
  ctx.units.add('C2C').add('VXM');
  return {
    sch, chip, width,
    busy: width * chip.c2cVectorCycles,
    links: Array.from({ length: ctx.share.ranks - 1 }, (_, j) => j),
    name: (id: number) => sch.plan.streamName(id),
  };
}

/** out[r] = combine over chips of t[r], for rows 0..rows-1; returns when out is in SRAM. */
export function allReduceRows(ctx: LayerCtx, t: ChipTensor, rows: number, op: ReduceOp, out: ChipTensor, start: number, what: string): number {
  const { sch, width, busy, links, name } = linkPlan(ctx, t);
  const sides = [...new Set(links.map((j) => linkSlice(ctx, j)))];
  // sends: one read per row and side of the chip, every link of that side sends it; a row goes
  // as soon as it is in SRAM (rows land one by one while the producer still runs) and the links
  // are free again
  // (each side of the chip on its own: a row crossing a hemisphere whose MXM planes stream
  // weights rides the gap of one plane's install cycle, and the two sides' gaps need not line up;
  // the receives wait for the later of the two)
  const sent: number[] = [];
  const next = new Map(sides.map((sd) => [sd, start]));
  for (let r = 0; r < rows; r++) {
    let latest = start;
    for (const side of sides) {
      const at = sch.attempt(next.get(side)!, (s) => {
        const base = readRow(sch, t, r, s, sch.position(side), `${what} send row ${r}`);
        for (const j of links) {
          if (linkSlice(ctx, j) !== side) continue;
          sch.claimLink(`C2C.${j}`, s, busy, `${what} send row ${r}`);
          sch.issue(`C2C.${j}`, s, `SEND ${name(base)}, ${width}`);
        }
      }, `${what} send row ${r}`);
      next.set(side, at + busy);
      latest = Math.max(latest, at);
    }
    sent.push(latest);
  }
  return receiveRows(ctx, t, rows, op, out, sent, start, what);
}

/** The peer chips' rows of an all-reduce, sent on the cycles `sent` (every link at once),
 * combined with this chip's own rows of t into out; returns when out is in SRAM. */
export function receiveRows(ctx: LayerCtx, t: ChipTensor, rows: number, op: ReduceOp, out: ChipTensor, sent: number[], start: number, what: string): number {
  const { sch, chip, width, busy, links, name } = linkPlan(ctx, t);
  const N = ctx.share.ranks;
  const d = chip.delays;
  let end = start;
  let c = start;
  for (let r = 0; r < rows; r++) {
    const arrive = sent[r] + busy + chip.c2cLatencyCycles;
    c = sch.attempt(Math.max(c, arrive), (t0) => {
      // own row at the VXM on t0; the peer from link j joins on t0 + j * vxmAlu
      let acc = readRow(sch, t, r, t0, ctx.vxm, `${what} own row ${r}`);
      for (const j of links) {
        const at = t0 + j * d.vxmAlu;
        const pos = sch.position(linkSlice(ctx, j));
        const recvAt = at - d.c2cRecv - sch.travel(pos, ctx.vxm);
        if (recvAt < arrive) throw new ScheduleConflict(`${what}: row ${r} not yet arrived`);
        // a link buffers c2cBufferMessages: this row must leave it before the one that many later lands
        const later = sent[r + chip.c2cBufferMessages];
        if (later !== undefined && recvAt >= later + busy + chip.c2cLatencyCycles) {
          throw new Error(`internal: ${what}: row ${r} is received on cycle ${recvAt}, after ${chip.c2cBufferMessages} more rows reached the link's buffer`);
        }
        const east = pos < ctx.vxm;
        const rb = sch.pickStreams(east, width, [{ offset: 0, width, from: pos, cycle: recvAt + d.c2cRecv, to: ctx.vxm }], `${what} recv`);
        sch.issue(`C2C.${j}`, recvAt, `RECV ${name(rb)}, ${width}`);
        const lastJ = j === N - 2;
        if (lastJ) {
          const st = storeRow(sch, out, r, ctx.vxm, at + d.vxmAlu, `${what} result`);
          sch.issue(`VXM.${j % chip.vxmAlus}`, at, `${op} ${name(st.base)}, ${name(acc)}, ${name(rb)}`);
          end = Math.max(end, st.ready);
        } else {
          const nx = chain(sch, width, at + d.vxmAlu, `${what} partial`);
          sch.issue(`VXM.${j % chip.vxmAlus}`, at, `${op} ${name(nx)}, ${name(acc)}, ${name(rb)}`);
          acc = nx;
        }
      }
    }, `${what} row ${r}`) + 1;
  }
  return end;
}
