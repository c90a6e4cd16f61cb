// RoPE (HF rotate_half pairing: i with i + D/2 inside each head) on fp32 activations in the
// heads layout (context.ts: whole heads per vector), for rope_q and rope_k:
//
//   y = x * C[t] + swap(x) * S[t]
//
// per vector of token row m (t = m mod T), with C[t] the cos of pair i on both lanes of the pair
// and S[t] = -sin on the first half of each head, +sin on the second; swap exchanges lanes i and
// i + D/2 inside every head: one SXM PERM with an int16 index vector. Per vector, placed at the
// first cycle everything is free (Schedule.attempt):
//  - x is read to the VXM (cycle c) and to the SXM on its side, which PERMs it to arrive one
//    vxmAlu later; one ALU makes x*C on c and a second passes it on (MULS by 1, exact) so that it
//    meets swap(x)*S, made on c + vxmAlu: C and S are thus read on different cycles and may share
//    a pair (the tiny chip has one pair a side);
//  - a third ALU adds the two and the result goes to SRAM.
// The tables (fp32: the float64 cos and sin rounded once) and the index vector are initial data,
// with a copy apart from x's pair (read on the same cycle as x), shared by rope_q and rope_k.
import { SfError } from '../util/errors.js';
import type { GraphOp } from '../models/graph.js';
import { ropeTables } from '../models/reference.js';
import { act, newAct, type LayerCtx } from './context.js';
import { aluQueues, chainAny, constantApart, f32Bytes, i16Bytes, issueAny, place, readFrom, sxmNear } from './attn-common.js';
import { storeRow } from './rows.js';

type RopeAttrs = Extract<GraphOp['attrs'], { kind: 'rope' }>;

interface RopeData {
  cos: Uint8Array;
  sin: Uint8Array;
  idx: Uint8Array;
}

const dataOf = new WeakMap<LayerCtx, RopeData>();

/** The tables' bytes: cos and signed-sin rows (one per token t) in the heads layout, and the
 * swap index row (int16). */
function tableData(ctx: LayerCtx, a: RopeAttrs, per: number): RopeData {
  let t = dataOf.get(ctx);
  if (t) return t;
  const L = ctx.chip.lanes;
  const D = a.headDim;
  const half = D / 2;
  const T = a.tokens;
  const { cos, sin } = ropeTables(ctx.graph.config, { past: a.firstPosition, tokens: T });
  const c = new Float64Array(T * L);
  const s = new Float64Array(T * L);
  for (let tt = 0; tt < T; tt++) {
    for (let f = 0; f < per; f++) {
      const o = f % D;
      const i = o % half;
      c[tt * L + f] = Math.fround(cos[tt * half + i]!);
      const sv = Math.fround(sin[tt * half + i]!);
      s[tt * L + f] = o < half ? -sv : sv;
    }
  }
  const idx = Array.from({ length: L }, (_, f) => (f < per ? (f % D < half ? f + half : f - half) : f));
  t = { cos: f32Bytes(c), sin: f32Bytes(s), idx: i16Bytes(idx) };
  dataOf.set(ctx, t);
  return t;
}

/** rope_q / rope_k: the output Act has the input's layout (heads, fp32). */
export function lowerRope(ctx: LayerCtx, op: GraphOp, start: number): number {
  const a = op.attrs as RopeAttrs;
  const { sch, chip } = ctx;
  const D = a.headDim;
  if (D % 2) throw new SfError(`RoPE needs an even head_dim, got ${D}`);
  if (D > chip.lanes) throw new SfError(`head_dim ${D} is wider than a vector of ${chip.lanes} lanes on ${chip.name}`);
  const x = act(ctx, op.inputs[0]!.name);
  if (x.per % D) throw new Error(`internal: ${op.inputs[0]!.name} is not in the heads layout (per ${x.per}, head_dim ${D})`);
  const tab = tableData(ctx, a, x.per);
  const T = a.tokens;
  // tables in pairs apart from x (read on the same cycle); int16 indices declared fp16
  const cosT = constantApart(ctx, 'rope_cos', 'fp32', T, tab.cos, [x.t]);
  const sinT = constantApart(ctx, 'rope_sin', 'fp32', T, tab.sin, [x.t]);
  const idxT = constantApart(ctx, 'rope_idx', 'fp16', 1, tab.idx, [x.t]);
  const out = newAct(ctx, op.outputs[0]!.name, 'fp32', x.tokens, x.cols, x.per, x.first);
  const d = chip.delays;
  const vxm = ctx.vxm;
  const alus = aluQueues(ctx);
  const name = (id: number) => sch.plan.streamName(id);
  const sxm = sxmNear(sch, x.t);
  const sxmPos = sch.position(sxm);
  ctx.units.add('MEM').add('SXM').add('VXM');
  let end = start;
  let cur = start;
  for (let m = 0; m < x.tokens; m++) {
    const t = m % T;
    for (let j = 0; j < x.tiles; j++) {
      const row = m * x.tiles + j;
      const what = `${op.name} m${m} v${j}`;
      cur = place(sch, cur, (c) => {
        // x * C on c; swap(x) (PERMed at the SXM) * S on c + alu, when x * C is passed on
        const c1 = c + d.vxmAlu;
        const perm = c1 - sch.travel(sxmPos, vxm) - d.sxm;
        const xs = readFrom(sch, x.t, row, perm, sxmPos, start, `${what} x to ${sxm}`);
        const is = readFrom(sch, idxT, 0, perm, sxmPos, start, `${what} swap index`);
        const sw = sch.pickStreams(sxmPos < vxm, 4, [{ offset: 0, width: 4, from: sxmPos, cycle: perm + d.sxm, to: vxm }], `${what} swap(x)`);
        sch.issue(sxm, perm, `PERM.fp32 ${name(sw)}, ${name(xs)}, ${name(is)}`, what);
        const xb = readFrom(sch, x.t, row, c, vxm, start, `${what} x`);
        const cb = readFrom(sch, cosT, t, c, vxm, start, `${what} cos`);
        const p1 = chainAny(sch, 4, c1, `${what} x*C`);
        issueAny(sch, alus, c, `MUL.fp32 ${name(p1)}, ${name(xb)}, ${name(cb)}`);
        const p1d = chainAny(sch, 4, c1 + d.vxmAlu, `${what} x*C passed on`);
        issueAny(sch, alus, c1, `MULS.fp32 ${name(p1d)}, ${name(p1)}, 1`);
        const sb = readFrom(sch, sinT, t, c1, vxm, start, `${what} sin`);
        const p2 = chainAny(sch, 4, c1 + d.vxmAlu, `${what} swap(x)*S`);
        issueAny(sch, alus, c1, `MUL.fp32 ${name(p2)}, ${name(sw)}, ${name(sb)}`);
        const st = storeRow(sch, out.t, row, vxm, c1 + 2 * d.vxmAlu, `${what} y`);
        issueAny(sch, alus, c1 + d.vxmAlu, `ADD.fp32 ${name(st.base)}, ${name(p1d)}, ${name(p2)}`);
        end = Math.max(end, st.ready);
      }, what) + 1;
    }
  }
  return end;
}
