// The layer's vector ops, lowered onto the VXM (and the SXM for reductions across lanes):
// RMSNorm, int8 quantisation with a dynamic per-row scale, residual add, gating product and the
// activation. Each vector passes the VXM once through a chain of ALUs (a result is read by the
// next ALU at the VXM the cycle it appears); each placement is tried from the earliest cycle
// on (Schedule.attempt) so that streams, ports and ALUs decide the pace, not a fixed plan.
//
// Row reductions (RMSNorm's sum of squares, quantisation's max |x|) go lane-wise across a row's
// vectors (ACC, or a MAX chain with a period of one ALU delay), then across lanes at SXM.E (RSUM,
// RMAX, which leave the result on every lane) and back west to the VXM. The chip has no divide:
// 1/sqrt(v) is RSQRT, 1/m is RSQRT(m)^2.
import { SfError } from '../util/errors.js';
import type { GraphOp } from '../models/graph.js';
import { act, newAct, type LayerCtx } from './context.js';
import { chain, encodeF32, readRow, readTwo, storeRow } from './rows.js';
import { allReduceRows, linkSlice, receiveRows } from './allreduce.js';
import { ScheduleConflict } from './schedule.js';
import type { ChipTensor } from './sram.js';

const alu = (ctx: LayerCtx, i: number) => `VXM.${i % ctx.chip.vxmAlus}`;
const sn = (ctx: LayerCtx, id: number) => ctx.sch.plan.streamName(id);

/**
 * A reduction across a row's V vectors, issued from `start` on: vector v of the row (given by
 * `read(v, cycle)`, which returns the stream group it brings to the VXM on `cycle`) goes through
 * `first` (e.g. MUL x x, ABS x) on ALU 0, and the results are combined lane-wise on ALU 1 (ACC
 * for sums; for maxima a MAX chain, one vector every vxmAlu cycles). The lane-wise result goes to
 * SXM.E, or SXM.W with side 'W' (RSUM or RMAX), and comes back to the VXM on every lane; `atSxm`
 * gets the total as it leaves the SXM (a SEND from the C2C links there). Returns the stream group
 * and the cycle it is at the VXM, and the cycle the chain began.
 */
function reduceRow(
  ctx: LayerCtx,
  start: number,
  V: number,
  kind: 'sum' | 'max',
  first: (dst: string, src: string) => string,
  read: (v: number, cycle: number) => number,
  what: string,
  then: (base: number, at: number) => void,
  side: 'W' | 'E' = 'E',
  atSxm?: (base: number, cycle: number) => void,
): { base: number; at: number; first: number } {
  const { sch, chip } = ctx;
  const d = chip.delays;
  const sxmName = `SXM.${side}`;
  const sxm = sch.position(sxmName);
  const hops = sch.travel(ctx.vxm, sxm);
  const eastward = side === 'E';
  let result = { base: 0, at: 0 };
  // the whole chain is placed at once: a MAX chain cannot wait
  const step = kind === 'max' ? d.vxmAlu : 1;
  const began = sch.attempt(start, (c0) => {
    let prev = -1;
    for (let v = 0; v < V; v++) {
      const cy = c0 + v * step;
      const xb = read(v, cy);
      const y = chain(sch, 4, cy + d.vxmAlu, `${what} ${kind} ${v}`);
      sch.issue(alu(ctx, 0), cy, first(sn(ctx, y), sn(ctx, xb)));
      const at = cy + d.vxmAlu;
      const lastV = v === V - 1;
      let lanes: number;
      if (lastV) lanes = sch.pickStreams(eastward, 4, [{ offset: 0, width: 4, from: ctx.vxm, cycle: at + d.vxmAlu, to: sxm }], `${what} lanes`);
      else lanes = kind === 'max' ? chain(sch, 4, at + d.vxmAlu, `${what} running max`) : -1;
      if (kind === 'sum') sch.issue(alu(ctx, 1), at, `ACC.fp32 ${lanes >= 0 ? sn(ctx, lanes) : '-'}, ${sn(ctx, y)}${v === 0 ? ', reset' : ''}`);
      else sch.issue(alu(ctx, 1), at, `MAX.fp32 ${sn(ctx, lanes)}, ${sn(ctx, y)}, ${sn(ctx, prev >= 0 ? prev : y)}`);
      prev = lanes;
      if (lastV) {
        const rAt = at + d.vxmAlu + hops;
        const back = sch.pickStreams(!eastward, 4, [{ offset: 0, width: 4, from: sxm, cycle: rAt + d.sxmReduce, to: ctx.vxm }], `${what} total`);
        sch.issue(sxmName, rAt, `${kind === 'sum' ? 'RSUM' : 'RMAX'}.fp32 ${sn(ctx, back)}, ${sn(ctx, lanes)}`);
        atSxm?.(back, rAt + d.sxmReduce);
        result = { base: back, at: rAt + d.sxmReduce + hops };
        // what uses the total: placed in the same try (the total passes the VXM once)
        then(result.base, result.at);
      }
    }
  }, `${what} reduction`);
  return { ...result, first: began };
}

/** A RMSNorm's input (full rows), its gain in SRAM (away from x: both are read on one cycle)
 * and the per-row 1/rms tensor. */
function normOperands(ctx: LayerCtx, op: GraphOp) {
  const a = op.attrs as Extract<GraphOp['attrs'], { kind: 'rmsnorm' }>;
  const L = ctx.chip.lanes;
  const x = act(ctx, op.inputs[0]!.name);
  if (x.per !== L || x.cols !== a.dim) throw new Error(`internal: rmsnorm input ${x.t.name} is not a full row`);
  const V = x.tiles;
  const M = a.rows;
  const g = ctx.sram.alloc(`${op.name}_g`, 'fp32', V, { data: encodeF32(ctx.weights[a.weight]!, 1, a.dim, L), avoid: x.t.slices });
  const inv = ctx.sram.alloc(`${op.name}_inv`, 'fp32', M);
  return { a, x, V, M, g, inv };
}

/** RMSNorm: y = x * rsqrt(mean(x^2) + eps) * g (the mean over the real features, not the padding). */
export function lowerRmsNorm(ctx: LayerCtx, op: GraphOp, start: number): number {
  const quant = int8Consumer(ctx, op);
  if (quant) return lowerRmsNormQuant(ctx, op, quant, start);
  const { a, x, V, M, g, inv } = normOperands(ctx, op);
  const { sch, chip } = ctx;
  const d = chip.delays;
  const L = chip.lanes;
  const y = newAct(ctx, op.outputs[0]!.name, 'fp32', M, a.dim, L, 0);
  ctx.units.add('VXM').add('SXM');
  let end = start;
  // every row's reduction first (row m + 1's sum runs while row m's total makes its SXM trip),
  // then each row's y pass from when its 1/rms is in SRAM
  let cr = start;
  for (let m = 0; m < M; m++) {
    cr = reduceRow(ctx, cr, V, 'sum', (dst, src) => `MUL.fp32 ${dst}, ${src}, ${src}`, (v, cy) => readRow(sch, x.t, m * V + v, cy, ctx.vxm, `${op.name} x`), `${op.name} m${m}`, (base, b) => {
      // 1/sqrt(sum/dim + eps), written to SRAM (a value passes the VXM once)
      const mean = chain(sch, 4, b + d.vxmAlu, `${op.name} mean`);
      sch.issue(alu(ctx, 2), b, `MULS.fp32 ${sn(ctx, mean)}, ${sn(ctx, base)}, ${Math.fround(1 / a.dim)}`);
      const ms = chain(sch, 4, b + 2 * d.vxmAlu, `${op.name} +eps`);
      sch.issue(alu(ctx, 3), b + d.vxmAlu, `ADDS.fp32 ${sn(ctx, ms)}, ${sn(ctx, mean)}, ${Math.fround(a.eps)}`);
      const st = storeRow(sch, inv, m, ctx.vxm, b + 2 * d.vxmAlu + d.vxmLarge, `${op.name} inv`);
      sch.issue(alu(ctx, 2), b + 2 * d.vxmAlu, `RSQRT.fp32 ${sn(ctx, st.base)}, ${sn(ctx, ms)}`);
    }).first + V;
  }
  let c = start;
  for (let m = 0; m < M; m++) {
    c = Math.max(c, sch.readyAt(`${inv.name}[${m}]`) ?? start);
    for (let v = 0; v < V; v++) {
      c = sch.attempt(c, (cy) => {
        const [xb, ib] = readTwo(sch, x.t, m * V + v, inv, m, cy, ctx.vxm, alu(ctx, 12), `${op.name} x, inv`);
        const xi = chain(sch, 4, cy + d.vxmAlu, `${op.name} x*inv`);
        sch.issue(alu(ctx, 4), cy, `MUL.fp32 ${sn(ctx, xi)}, ${sn(ctx, xb)}, ${sn(ctx, ib)}`);
        const gb = readRow(sch, g, v, cy + d.vxmAlu, ctx.vxm, `${op.name} g`);
        const st = storeRow(sch, y.t, m * V + v, ctx.vxm, cy + 2 * d.vxmAlu, `${op.name} y`);
        sch.issue(alu(ctx, 5), cy + d.vxmAlu, `MUL.fp32 ${sn(ctx, st.base)}, ${sn(ctx, xi)}, ${sn(ctx, gb)}`);
        end = Math.max(end, st.ready);
      }, `${op.name} y`) + 1;
    }
  }
  return end;
}

/**
 * int8 quantisation of each token row: s = max|x| / 127 (as max * fp32(1/127)), codes =
 * round_half_even(x * 127 / max) saturated (CVT); the scale tensor holds s on every lane of the
 * row's vector. The reference divides; the chip multiplies by a reciprocal, so an element within
 * a few units of rounding of a half-way point may round the other way (bounds.ts allows it).
 */
export function lowerQuantizeInt8(ctx: LayerCtx, op: GraphOp, start: number): number {
  const a = op.attrs as Extract<GraphOp['attrs'], { kind: 'quantize' }>;
  if (a.to !== 'int8') throw new SfError(`internal: ${op.name} is not an int8 quantisation`);
  // done with the RMSNorm before it (lowerRmsNormQuant): its outputs are in SRAM when x is
  if (ctx.fused.has(op.name)) return start;
  const { sch, chip } = ctx;
  const d = chip.delays;
  const x = act(ctx, op.inputs[0]!.name);
  const V = x.tiles;
  const M = x.tokens;
  // several token rows stream x into every plane for many cycles: a copy east of the VXM keeps
  // the east planes' x flights off the west half
  const q = newAct(ctx, op.outputs[0]!.name, 'int8', M, x.cols, x.per, x.first, M > 1);
  const sc = ctx.sram.alloc(`${q.t.name}_scale`, 'fp32', M);
  q.scale = sc;
  ctx.acts.set(a.scale!, { t: sc, tokens: M, tiles: 1, per: 1, cols: 1, first: 0 });
  const inv = ctx.sram.alloc(`${op.name}_inv`, 'fp32', M);
  // a row split over the chips (tensor parallelism) needs the maximum over all of them
  const full = op.inputs[0]!.shape[op.inputs[0]!.shape.length - 1]!;
  const split = ctx.share.ranks > 1 && x.cols < full;
  const lmax = ctx.sram.alloc(`${op.name}_max`, 'fp32', M);
  ctx.units.add('VXM').add('SXM');
  let c = start;
  let end = start;
  // 1. each row's max |x| (on this chip) to SRAM; one row split over chips whose links to the
  // peers all sit at C2C.W (SXM.W's position): its max is reduced at SXM.W and sent from there
  const N = ctx.share.ranks;
  // (one row: several rows' maxima would be sent while other ops hold the VXM, and arrive faster
  // than they are received: a link buffers c2cBufferMessages)
  const direct = split && M === 1 && Array.from({ length: N - 1 }, (_, j) => linkSlice(ctx, j)).every((l) => l === 'C2C.W');
  const sent: number[] = [];
  for (let m = 0; m < M; m++) {
    const r = reduceRow(ctx, c, V, 'max', (dst, src) => `ABS.fp32 ${dst}, ${src}`, (v, cy) => readRow(sch, x.t, m * V + v, cy, ctx.vxm, `${op.name} x`), `${op.name} m${m}`, (base, b) => {
      const st = storeRow(sch, lmax, m, ctx.vxm, b + d.vxmAlu, `${op.name} max`);
      sch.issue(alu(ctx, 2), b, `MAX.fp32 ${sn(ctx, st.base)}, ${sn(ctx, base)}, ${sn(ctx, base)}`);
      end = Math.max(end, st.ready);
    }, direct ? 'W' : 'E', direct ? (base, at) => {
      for (let j = 0; j < N - 1; j++) {
        sch.claimLink(`C2C.${j}`, at, 4 * chip.c2cVectorCycles, `${op.name} m${m} max`);
        sch.issue(`C2C.${j}`, at, `SEND ${sn(ctx, base)}, 4`, j === 0 ? `${op.name} row max to the peers` : undefined);
      }
      sent[m] = at;
    } : undefined);
    c = r.first + V * d.vxmAlu;
  }
  // 2. across the chips
  let gmax = lmax;
  if (split) {
    gmax = ctx.sram.alloc(`${op.name}_gmax`, 'fp32', M);
    end = direct
      ? receiveRows(ctx, lmax, M, 'MAX.fp32', gmax, sent, end, `${op.name} max all-reduce`)
      : M > 1
        ? packedMaxAllReduce(ctx, op.name, lmax, gmax, M, end)
        : allReduceRows(ctx, lmax, M, 'MAX.fp32', gmax, Math.max(end, sch.quiet()), `${op.name} max all-reduce`);
  }
  // 3. s = max / 127 -> scale row; 127 / max = 127 * rsqrt(max)^2 -> inv row, each row from when
  // its max is in SRAM
  for (let m = 0; m < M; m++) {
    sch.attempt(sch.readyAt(`${gmax.name}[${m}]`) ?? end, (b) => {
      const mb = readRow(sch, gmax, m, b, ctx.vxm, `${op.name} max back`);
      const { s, iv } = scaleAndInverse(ctx, mb, b, sc, inv, m, 2, op.name);
      end = Math.max(end, s.ready, iv.ready);
    }, `${op.name} scale`);
  }
  // 4. the codes, each row from when its 1/s is in SRAM
  c = start;
  for (let m = 0; m < M; m++) {
    c = Math.max(c, sch.readyAt(`${inv.name}[${m}]`) ?? end);
    for (let v = 0; v < V; v++) {
      c = sch.attempt(c, (cy) => {
        const [xb, ib] = readTwo(sch, x.t, m * V + v, inv, m, cy, ctx.vxm, alu(ctx, 13), `${op.name} x, inv`);
        const xi = chain(sch, 4, cy + d.vxmAlu, `${op.name} x/s`);
        sch.issue(alu(ctx, 6), cy, `MUL.fp32 ${sn(ctx, xi)}, ${sn(ctx, xb)}, ${sn(ctx, ib)}`);
        // the codes west and east of the VXM (two CVTs of the same value)
        const st = storeRow(sch, q.t, m * V + v, ctx.vxm, cy + d.vxmAlu + d.vxmLarge, `${op.name} codes`);
        sch.issue(alu(ctx, 7), cy + d.vxmAlu, `CVT.int8 ${sn(ctx, st.base)}, ${sn(ctx, xi)}, fp32`);
        if (q.mirror) {
          const se = storeRow(sch, q.mirror, m * V + v, ctx.vxm, cy + d.vxmAlu + d.vxmLarge, `${op.name} codes east`);
          sch.issue(alu(ctx, 8), cy + d.vxmAlu, `CVT.int8 ${sn(ctx, se.base)}, ${sn(ctx, xi)}, fp32`);
          end = Math.max(end, se.ready);
        }
        end = Math.max(end, st.ready);
      }, `${op.name} codes`) + 1;
    }
  }
  return end;
}

/**
 * A row's int8 scale and its inverse from the row max m, at the VXM on cycle b (stream group mb):
 * s = m * fp32(1/127) to sc[row], 127/m = 127 * rsqrt(m)^2 to inv[row] (the chip has no
 * divide), on ALUs alu0 .. alu0 + 3.
 */
function scaleAndInverse(ctx: LayerCtx, mb: number, b: number, sc: ChipTensor, inv: ChipTensor, row: number, alu0: number, what: string) {
  const { sch } = ctx;
  const d = ctx.chip.delays;
  const s = storeRow(sch, sc, row, ctx.vxm, b + d.vxmAlu, `${what} scale`);
  sch.issue(alu(ctx, alu0), b, `MULS.fp32 ${sn(ctx, s.base)}, ${sn(ctx, mb)}, ${Math.fround(1 / 127)}`);
  const r = chain(sch, 4, b + d.vxmLarge, `${what} rsqrt`);
  sch.issue(alu(ctx, alu0 + 1), b, `RSQRT.fp32 ${sn(ctx, r)}, ${sn(ctx, mb)}`);
  const r2 = chain(sch, 4, b + d.vxmLarge + d.vxmAlu, `${what} 1/max`);
  sch.issue(alu(ctx, alu0 + 2), b + d.vxmLarge, `MUL.fp32 ${sn(ctx, r2)}, ${sn(ctx, r)}, ${sn(ctx, r)}`);
  const iv = storeRow(sch, inv, row, ctx.vxm, b + d.vxmLarge + 2 * d.vxmAlu, `${what} inv`);
  sch.issue(alu(ctx, alu0 + 3), b + d.vxmLarge + d.vxmAlu, `MULS.fp32 ${sn(ctx, iv.base)}, ${sn(ctx, r2)}, 127`);
  return { s, iv };
}

/** The int8 quantisation that is the only consumer of a RMSNorm's output, if any. */
function int8Consumer(ctx: LayerCtx, op: GraphOp): GraphOp | null {
  const y = op.outputs[0]!.name;
  const users = ctx.graph.ops.filter((o) => o.inputs.some((t) => t.name === y));
  const q = users.length === 1 ? users[0]! : null;
  return q && q.attrs.kind === 'quantize' && q.attrs.to === 'int8' ? q : null;
}

/**
 * RMSNorm and the int8 quantisation of its output in two passes over x and one SXM trip, with the
 * same bits as the two ops apart (on this path's y):
 *  1. per row, xg = x * g (fp32) and x * x go through the VXM once: the squares ACC into the
 *     lane sums, |xg| into a MAX chain; RSUM and RMAX at SXM.E, and back: r = rsqrt(sum/dim + eps)
 *     and m = r * max|xg|, which is max|y| exactly (y = xg * r, and rounding is monotonic), so
 *     s = m / 127 and 127 / m are the quantisation's own (scaleAndInverse, as in
 *     lowerQuantizeInt8);
 *  2. per vector, y = (x * g) * r (x * g again: the same bits) to SRAM, and codes = CVT(y * 127/m).
 * The norm's bound holds for either order of its two products (bounds.ts: 3 roundings).
 */
function lowerRmsNormQuant(ctx: LayerCtx, op: GraphOp, qop: GraphOp, start: number): number {
  const qa = qop.attrs as Extract<GraphOp['attrs'], { kind: 'quantize' }>;
  const { a, x, V, M, g, inv } = normOperands(ctx, op);
  const { sch, chip } = ctx;
  const d = chip.delays;
  const L = chip.lanes;
  const y = newAct(ctx, op.outputs[0]!.name, 'fp32', M, a.dim, L, 0);
  const q = newAct(ctx, qop.outputs[0]!.name, 'int8', M, a.dim, L, 0, M > 1);
  const sc = ctx.sram.alloc(`${q.t.name}_scale`, 'fp32', M);
  q.scale = sc;
  ctx.acts.set(qa.scale!, { t: sc, tokens: M, tiles: 1, per: 1, cols: 1, first: 0 });
  const qinv = ctx.sram.alloc(`${qop.name}_inv`, 'fp32', M);
  ctx.fused.set(qop.name, op.name);
  ctx.units.add('VXM').add('SXM');
  const sxm = sch.position('SXM.E');
  const hops = sch.travel(ctx.vxm, sxm);
  const step = d.vxmAlu; // the MAX chain's period
  let end = start;
  // 1. sums of squares and max |x g|, one SXM trip per row
  let cr = start;
  for (let m = 0; m < M; m++) {
    const what = `${op.name} m${m}`;
    cr = sch.attempt(cr, (c0) => {
      let prev = -1;
      for (let v = 0; v < V; v++) {
        const cy = c0 + v * step;
        const [xb, gb] = readTwo(sch, x.t, m * V + v, g, v, cy, ctx.vxm, alu(ctx, 15), `${what} x, g`);
        const sq = chain(sch, 4, cy + d.vxmAlu, `${what} x^2`);
        sch.issue(alu(ctx, 0), cy, `MUL.fp32 ${sn(ctx, sq)}, ${sn(ctx, xb)}, ${sn(ctx, xb)}`);
        const xg = chain(sch, 4, cy + d.vxmAlu, `${what} x g`);
        sch.issue(alu(ctx, 2), cy, `MUL.fp32 ${sn(ctx, xg)}, ${sn(ctx, xb)}, ${sn(ctx, gb)}`);
        const ab = chain(sch, 4, cy + 2 * d.vxmAlu, `${what} |x g|`);
        sch.issue(alu(ctx, 3), cy + d.vxmAlu, `ABS.fp32 ${sn(ctx, ab)}, ${sn(ctx, xg)}`);
        const lastV = v === V - 1;
        const sumAt = cy + d.vxmAlu; // ACC reads the square
        const maxAt = cy + 2 * d.vxmAlu; // MAX reads |x g| and the running max
        if (!lastV) {
          sch.issue(alu(ctx, 1), sumAt, `ACC.fp32 -, ${sn(ctx, sq)}${v === 0 ? ', reset' : ''}`);
          const mx = chain(sch, 4, maxAt + d.vxmAlu, `${what} running max`);
          sch.issue(alu(ctx, 4), maxAt, `MAX.fp32 ${sn(ctx, mx)}, ${sn(ctx, ab)}, ${sn(ctx, prev >= 0 ? prev : ab)}`);
          prev = mx;
          continue;
        }
        // the lane sums: RSUM at SXM.E and back; r = rsqrt(sum / dim + eps) to SRAM
        const sOut = sch.pickStreams(true, 4, [{ offset: 0, width: 4, from: ctx.vxm, cycle: sumAt + d.vxmAlu, to: sxm }], `${what} lane sums`);
        sch.issue(alu(ctx, 1), sumAt, `ACC.fp32 ${sn(ctx, sOut)}, ${sn(ctx, sq)}${v === 0 ? ', reset' : ''}`);
        const rs = sumAt + d.vxmAlu + hops;
        const bs = rs + d.sxmReduce + hops;
        const sBack = sch.pickStreams(false, 4, [{ offset: 0, width: 4, from: sxm, cycle: rs + d.sxmReduce, to: ctx.vxm }], `${what} sum`);
        sch.issue('SXM.E', rs, `RSUM.fp32 ${sn(ctx, sBack)}, ${sn(ctx, sOut)}`);
        const mean = chain(sch, 4, bs + d.vxmAlu, `${what} mean`);
        sch.issue(alu(ctx, 5), bs, `MULS.fp32 ${sn(ctx, mean)}, ${sn(ctx, sBack)}, ${Math.fround(1 / a.dim)}`);
        const ms = chain(sch, 4, bs + 2 * d.vxmAlu, `${what} +eps`);
        sch.issue(alu(ctx, 6), bs + d.vxmAlu, `ADDS.fp32 ${sn(ctx, ms)}, ${sn(ctx, mean)}, ${Math.fround(a.eps)}`);
        const rAt = bs + 2 * d.vxmAlu + d.vxmLarge; // r at the VXM
        const ri = storeRow(sch, inv, m, ctx.vxm, rAt, `${what} r`);
        sch.issue(alu(ctx, 7), bs + 2 * d.vxmAlu, `RSQRT.fp32 ${sn(ctx, ri.base)}, ${sn(ctx, ms)}`);
        // the lane maxima: held at the VXM (MAX x, x) until RMAX brings the row max back on rAt
        const rm = rAt - d.sxmReduce - hops;
        const leave = rm - hops;
        let held = sch.pickStreams(true, 4, [{ offset: 0, width: 4, from: ctx.vxm, cycle: maxAt + d.vxmAlu, to: ctx.vxm }], `${what} lane maxima`);
        sch.issue(alu(ctx, 4), maxAt, `MAX.fp32 ${sn(ctx, held)}, ${sn(ctx, ab)}, ${sn(ctx, prev >= 0 ? prev : ab)}`);
        let t = maxAt + d.vxmAlu;
        if (leave < t) throw new ScheduleConflict(`${what}: the row max is late`);
        while (t + d.vxmAlu <= leave) {
          const last = t + d.vxmAlu === leave;
          const nx = last
            ? sch.pickStreams(true, 4, [{ offset: 0, width: 4, from: ctx.vxm, cycle: leave, to: sxm }], `${what} lane maxima`)
            : chain(sch, 4, t + d.vxmAlu, `${what} lane maxima held`);
          sch.issue(alu(ctx, 8), t, `MAX.fp32 ${sn(ctx, nx)}, ${sn(ctx, held)}, ${sn(ctx, held)}`);
          held = nx;
          t += d.vxmAlu;
        }
        if (t !== leave) throw new ScheduleConflict(`${what}: the row max cannot be timed`);
        const mBack = sch.pickStreams(false, 4, [{ offset: 0, width: 4, from: sxm, cycle: rm + d.sxmReduce, to: ctx.vxm }], `${what} max`);
        sch.issue('SXM.E', rm, `RMAX.fp32 ${sn(ctx, mBack)}, ${sn(ctx, held)}`);
        // m = r * max |x g| = max |y|; s = m / 127, 127 / m = 127 * rsqrt(m)^2
        const mm = chain(sch, 4, rAt + d.vxmAlu, `${what} max |y|`);
        sch.issue(alu(ctx, 9), rAt, `MUL.fp32 ${sn(ctx, mm)}, ${sn(ctx, ri.base)}, ${sn(ctx, mBack)}`);
        const { s } = scaleAndInverse(ctx, mm, rAt + d.vxmAlu, sc, qinv, m, 10, qop.name);
        end = Math.max(end, s.ready);
      }
    }, `${what} reduction`) + V * step;
  }
  // 2. y and the codes, each row from when its r and 127/m are in SRAM
  let c = start;
  for (let m = 0; m < M; m++) {
    c = Math.max(c, sch.readyAt(`${inv.name}[${m}]`) ?? start, sch.readyAt(`${qinv.name}[${m}]`) ?? start);
    for (let v = 0; v < V; v++) {
      c = sch.attempt(c, (cy) => {
        const what = `${op.name} m${m} v${v}`;
        const [xb, gb] = readTwo(sch, x.t, m * V + v, g, v, cy, ctx.vxm, alu(ctx, 15), `${what} x, g`);
        const xg = chain(sch, 4, cy + d.vxmAlu, `${what} x g`);
        sch.issue(alu(ctx, 0), cy, `MUL.fp32 ${sn(ctx, xg)}, ${sn(ctx, xb)}, ${sn(ctx, gb)}`);
        const t1 = cy + d.vxmAlu;
        const rb = readRow(sch, inv, m, t1, ctx.vxm, `${what} r`);
        const st = storeRow(sch, y.t, m * V + v, ctx.vxm, t1 + d.vxmAlu, `${what} y`);
        sch.issue(alu(ctx, 1), t1, `MUL.fp32 ${sn(ctx, st.base)}, ${sn(ctx, xg)}, ${sn(ctx, rb)}`);
        const t2 = t1 + d.vxmAlu;
        const ib = readRow(sch, qinv, m, t2, ctx.vxm, `${what} 127/m`);
        const yi = chain(sch, 4, t2 + d.vxmAlu, `${what} y/s`);
        sch.issue(alu(ctx, 2), t2, `MUL.fp32 ${sn(ctx, yi)}, ${sn(ctx, st.base)}, ${sn(ctx, ib)}`);
        const t3 = t2 + d.vxmAlu;
        const cs = storeRow(sch, q.t, m * V + v, ctx.vxm, t3 + d.vxmLarge, `${what} codes`);
        sch.issue(alu(ctx, 3), t3, `CVT.int8 ${sn(ctx, cs.base)}, ${sn(ctx, yi)}, fp32`);
        end = Math.max(end, st.ready, cs.ready);
        if (q.mirror) {
          const ce = storeRow(sch, q.mirror, m * V + v, ctx.vxm, t3 + d.vxmLarge, `${what} codes east`);
          sch.issue(alu(ctx, 4), t3, `CVT.int8 ${sn(ctx, ce.base)}, ${sn(ctx, yi)}, fp32`);
          end = Math.max(end, ce.ready);
        }
      }, `${op.name} y, codes`) + 1;
    }
  }
  return end;
}

/**
 * The row maxima of M rows (lmax: each row's max on every lane) all-reduced over the chips in
 * ceil(M / lanes) messages instead of M: row m's max goes to lane m mod lanes of packed vector
 * floor(m / lanes) (times a one-hot row, summed by ACC: every other term is 0, so exact), the
 * packed vectors are all-reduced with MAX, and each row's max is spread back over its lanes by
 * DIST at SXM.E into gmax. Returns when gmax is in SRAM.
 */
function packedMaxAllReduce(ctx: LayerCtx, name: string, lmax: ChipTensor, gmax: ChipTensor, M: number, start: number): number {
  const { sch, chip } = ctx;
  const d = chip.delays;
  const L = chip.lanes;
  const K = Math.ceil(M / L);
  const n0 = Math.min(M, L);
  const oh = new Float32Array(n0 * L);
  for (let i = 0; i < n0; i++) oh[i * L + i] = 1;
  const onehot = ctx.sram.alloc(`${name}_onehot`, 'fp32', n0, { data: new Uint8Array(oh.buffer), avoid: lmax.slices });
  const packed = ctx.sram.alloc(`${name}_packed`, 'fp32', K);
  const gpacked = ctx.sram.alloc(`${name}_gpacked`, 'fp32', K);
  let c = start;
  let end = start;
  for (let k = 0; k < K; k++) {
    const n = Math.min(L, M - k * L);
    c = sch.attempt(c, (c0) => {
      for (let i = 0; i < n; i++) {
        const cy = c0 + i;
        const what = `${name} pack row ${k * L + i}`;
        const [mb, ob] = readTwo(sch, lmax, k * L + i, onehot, i, cy, ctx.vxm, alu(ctx, 13), what);
        const pr = chain(sch, 4, cy + d.vxmAlu, what);
        sch.issue(alu(ctx, 11), cy, `MUL.fp32 ${sn(ctx, pr)}, ${sn(ctx, mb)}, ${sn(ctx, ob)}`);
        const reset = i === 0 ? ', reset' : '';
        if (i < n - 1) {
          sch.issue(alu(ctx, 12), cy + d.vxmAlu, `ACC.fp32 -, ${sn(ctx, pr)}${reset}`);
          continue;
        }
        const st = storeRow(sch, packed, k, ctx.vxm, cy + 2 * d.vxmAlu, what);
        sch.issue(alu(ctx, 12), cy + d.vxmAlu, `ACC.fp32 ${sn(ctx, st.base)}, ${sn(ctx, pr)}${reset}`);
        end = Math.max(end, st.ready);
      }
    }, `${name} pack`) + n;
  }
  end = allReduceRows(ctx, packed, K, 'MAX.fp32', gpacked, Math.max(end, sch.quiet()), `${name} max all-reduce`);
  const sxm = sch.position('SXM.E');
  c = end;
  for (let m = 0; m < M; m++) {
    c = sch.attempt(c, (at) => {
      const what = `${name} row ${m} max`;
      const gb = readRow(sch, gpacked, Math.floor(m / L), at, sxm, what);
      const st = storeRow(sch, gmax, m, sxm, at + d.sxm, what);
      sch.issue('SXM.E', at, `DIST.fp32 ${sn(ctx, st.base)}, ${sn(ctx, gb)}, ${m % L}`);
      end = Math.max(end, st.ready);
    }, `${name} unpack`) + 1;
  }
  return end;
}

/** Elementwise a + b (residual) or a * b (gating) over two Acts of the same layout. */
export function lowerBinary(ctx: LayerCtx, op: GraphOp, start: number): number {
  const { sch, chip } = ctx;
  const d = chip.delays;
  const [a, b] = op.inputs.map((t) => act(ctx, t.name));
  if (a.per !== b.per || a.cols !== b.cols || a.tokens !== b.tokens || a.first !== b.first) throw new Error(`internal: ${op.name} operands differ in layout`);
  const y = newAct(ctx, op.outputs[0]!.name, 'fp32', a.tokens, a.cols, a.per, a.first);
  const mn = op.kind === 'add' ? 'ADD' : 'MUL';
  ctx.units.add('VXM');
  let c = start;
  let end = start;
  for (let r = 0; r < a.tokens * a.tiles; r++) {
    c = sch.attempt(c, (cy) => {
      const [ab, bb] = readTwo(sch, a.t, r, b.t, r, cy, ctx.vxm, alu(ctx, 14 + (r % 2)), `${op.name} a, b`);
      const st = storeRow(sch, y.t, r, ctx.vxm, cy + d.vxmAlu, `${op.name} y`);
      sch.issue(alu(ctx, r % 2), cy, `${mn}.fp32 ${sn(ctx, st.base)}, ${sn(ctx, ab)}, ${sn(ctx, bb)}`);
      end = Math.max(end, st.ready);
    }, `${op.name} y`) + 1;
  }
  return end;
}

/** The MLP activation: SiLU = x * sigmoid(x) (SIGMOID on a large ALU, then MUL with x again). */
export function lowerActivation(ctx: LayerCtx, op: GraphOp, start: number): number {
  const a = op.attrs as Extract<GraphOp['attrs'], { kind: 'activation' }>;
  if (a.fn !== 'silu' && a.fn !== 'swish') throw new SfError(`hidden_act "${a.fn}": the layer compiler lowers silu only`);
  const { sch, chip } = ctx;
  const d = chip.delays;
  const x = act(ctx, op.inputs[0]!.name);
  const y = newAct(ctx, op.outputs[0]!.name, 'fp32', x.tokens, x.cols, x.per, x.first);
  ctx.units.add('VXM');
  let c = start;
  let end = start;
  for (let r = 0; r < x.tokens * x.tiles; r++) {
    c = sch.attempt(c, (cy) => {
      const xb = readRow(sch, x.t, r, cy, ctx.vxm, `${op.name} x`);
      const s = chain(sch, 4, cy + d.vxmLarge, `${op.name} sigmoid`);
      sch.issue(alu(ctx, 8 + (r % 2)), cy, `SIGMOID.fp32 ${sn(ctx, s)}, ${sn(ctx, xb)}`);
      const xb2 = readRow(sch, x.t, r, cy + d.vxmLarge, ctx.vxm, `${op.name} x again`);
      const st = storeRow(sch, y.t, r, ctx.vxm, cy + d.vxmLarge + d.vxmAlu, `${op.name} y`);
      sch.issue(alu(ctx, 10 + (r % 2)), cy + d.vxmLarge, `MUL.fp32 ${sn(ctx, st.base)}, ${sn(ctx, xb2)}, ${sn(ctx, s)}`);
      end = Math.max(end, st.ready);
    }, `${op.name} y`) + 1;
  }
  return end;
}

/**
 * A float cast for a float projection's input (fp32 -> fp16/bf16, round to nearest even by CVT).
 * A float weight set holds lanes/2 rows, so the operand is re-tiled to `per` features a vector:
 * the largest divisor of the input's tile that fits lanes/2 (and keeps whole heads together);
 * a piece that starts at lane o of its input vector is moved down by SHIFT at SXM.E first.
 * Lanes past `per` keep what the shift left there: the weight rows facing them are zero.
 */
export function lowerQuantizeFloat(ctx: LayerCtx, op: GraphOp, start: number): number {
  const a = op.attrs as Extract<GraphOp['attrs'], { kind: 'quantize' }>;
  if (a.to === 'int8' || a.to === 'fp32') throw new Error(`internal: ${op.name} is not a float cast`);
  const { sch, chip } = ctx;
  const d = chip.delays;
  const x = act(ctx, op.inputs[0]!.name);
  const unit = x.per === chip.lanes ? 1 : ctx.graph.config.headDim;
  let per = Math.floor(chip.lanes / 2 / unit) * unit;
  while (per > unit && x.per % per !== 0) per -= unit;
  if (x.per % per !== 0) throw new SfError(`${op.name}: cannot re-tile ${x.per} features a vector into pieces of ${unit}`);
  const k = x.per / per;
  const y = newAct(ctx, op.outputs[0]!.name, a.to, x.tokens, x.cols, per, x.first, x.tokens > 1);
  const sxm = sch.position('SXM.E');
  ctx.units.add('VXM').add('SXM');
  let c = start;
  let end = start;
  for (let m = 0; m < x.tokens; m++) {
    for (let j = 0; j < y.tiles; j++) {
      const src = m * x.tiles + Math.floor(j / k);
      const off = (j % k) * per;
      c = sch.attempt(c, (cy) => {
        let v: number;
        if (off === 0) v = readRow(sch, x.t, src, cy, ctx.vxm, `${op.name} x`);
        else {
          // x passes the VXM on its way east to SXM.E, is shifted there and comes back
          const at = cy - sch.travel(ctx.vxm, sxm) - d.sxm;
          const xb = readRow(sch, x.t, src, at, sxm, `${op.name} x to the SXM`);
          v = sch.pickStreams(false, 4, [{ offset: 0, width: 4, from: sxm, cycle: at + d.sxm, to: ctx.vxm }], `${op.name} shifted`);
          sch.issue('SXM.E', at, `SHIFT.fp32 ${sn(ctx, v)}, ${sn(ctx, xb)}, ${-off}`);
        }
        const st = storeRow(sch, y.t, m * y.tiles + j, ctx.vxm, cy + d.vxmLarge, `${op.name} y`);
        sch.issue(alu(ctx, 6 + (j % 2)), cy, `CVT.${a.to} ${sn(ctx, st.base)}, ${sn(ctx, v)}, fp32`);
        if (y.mirror) {
          const se = storeRow(sch, y.mirror, m * y.tiles + j, ctx.vxm, cy + d.vxmLarge, `${op.name} y east`);
          sch.issue(alu(ctx, 8 + (j % 2)), cy, `CVT.${a.to} ${sn(ctx, se.base)}, ${sn(ctx, v)}, fp32`);
          end = Math.max(end, se.ready);
        }
        end = Math.max(end, st.ready);
      }, `${op.name} cast`) + 1;
    }
  }
  return end;
}
