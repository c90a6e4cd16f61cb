// The projections: y = x W^T with int8 weights (per-output-channel scales) and int8 activations
// (a scale per token row), int32 sums, then y = acc * s_x * s_w (+ bias) in fp32 at the VXM.
//
// Weights stream from SRAM through every MXM plane (weight-store.ts); the decode-time schedule
// of src/compiler/matvec.ts generalised to the layer: N-tiles (`per` outputs each) are dealt
// round robin to the planes; each sums its K-tiles in the plane's accumulators: a K-tile is
// I = ceil(lanes / R) IW cycles then one MM in the gap, x's K-tile read from its activation
// slice onto the plane's first stream; the last K-tile's MM emits the int32 sums on 4 streams
// to the output tensor. One token row: N-tiles split by K where that evens the planes (splitK),
// and the short last K-tiles of several N-tiles packed in one weight set (packTails). Several
// token rows: weight-stationary, each K-tile serving every row, running sums in SRAM.
//
// Tensor parallelism: q/k/v/gate/up split their outputs over the chips (whole heads for q/k/v),
// o/down their inputs; the partial sums of o/down are all-reduced (allreduce.ts) before the
// epilogue, so the int32 sums are exact on every chip.
import { SfError } from '../util/errors.js';
import type { GraphOp } from '../models/graph.js';
import { act, headsPer, newAct, type Act, type LayerCtx } from './context.js';
import { chain, encodeF32, readRow, readTwo, storeRow } from './rows.js';
import { encodeElements } from '../util/numerics.js';
import type { DtypeName } from '../isa/dtypes.js';
import { ScheduleConflict } from './schedule.js';
import type { ChipTensor } from './sram.js';
import { allReduceRows } from './allreduce.js';
import { reduceScatterPad, reduceScatterPays, reduceScatterRows } from './reduce-scatter.js';
import { WeightsFull } from './weight-store.js';

type LinearAttrs = Extract<GraphOp['attrs'], { kind: 'linear' }>;

/** Which features of a projection this chip computes: global output and input feature ranges. */
export function linearShare(ctx: LayerCtx, op: GraphOp): { outFirst: number; outCols: number; inFirst: number; inCols: number; rowSplit: boolean } {
  const a = op.attrs as LinearAttrs;
  const { rank } = ctx.share;
  const D = ctx.graph.config.headDim;
  const s = ctx.share;
  switch (op.name) {
    case 'q_proj':
      return { outFirst: rank * s.heads * D, outCols: s.heads * D, inFirst: 0, inCols: a.inFeatures, rowSplit: false };
    case 'k_proj':
    case 'v_proj':
      return { outFirst: rank * s.kvHeads * D, outCols: s.kvHeads * D, inFirst: 0, inCols: a.inFeatures, rowSplit: false };
    case 'gate_proj':
    case 'up_proj':
      return { outFirst: rank * s.intermediate, outCols: s.intermediate, inFirst: 0, inCols: a.inFeatures, rowSplit: false };
    case 'lm_head': {
      // the vocabulary projection: outputs split evenly (the last chip may hold fewer)
      const per = Math.ceil(a.outFeatures / s.ranks);
      const first = Math.min(a.outFeatures, rank * per);
      return { outFirst: first, outCols: Math.min(per, a.outFeatures - first), inFirst: 0, inCols: a.inFeatures, rowSplit: false };
    }
    case 'o_proj':
      return { outFirst: 0, outCols: a.outFeatures, inFirst: rank * s.heads * D, inCols: s.heads * D, rowSplit: s.ranks > 1 };
    case 'down_proj':
      return { outFirst: 0, outCols: a.outFeatures, inFirst: rank * s.intermediate, inCols: s.intermediate, rowSplit: s.ranks > 1 };
    default:
      throw new SfError(`the layer compiler has no lowering for linear op ${op.name}`);
  }
}

/** Output layout of a projection: whole heads per vector for q/k/v. */
export function linearOutPer(ctx: LayerCtx, op: GraphOp): number {
  return ['q_proj', 'k_proj', 'v_proj'].includes(op.name) ? headsPer(ctx.chip, ctx.graph.config.headDim) : ctx.chip.lanes;
}

/** How a weight set of `dtype` installs: an int8 weight row is one stream, a fp16/bf16 row two
 * (its byte planes); a plane holds lanes int8 rows or lanes/2 float rows (KR), installed
 * rowsPerIW a cycle in I IW cycles. */
function installGeometry(ctx: LayerCtx, dtype: string): { eb: number; KR: number; rowsPerIW: number; I: number } {
  const eb = dtype === 'int8' ? 1 : 2;
  const KR = ctx.chip.lanes / eb;
  const rowsPerIW = ctx.weightStore.R / eb;
  return { eb, KR, rowsPerIW, I: Math.ceil(KR / rowsPerIW) };
}

/**
 * At most how many vectors of each slice of a plane's last feeding group the weights of `ops`
 * take (before their inputs' layouts are known): a K-tile install takes I x memPorts vectors of
 * each slice of a group, and a group holds whole installs; an op has at most N-tiles x K-tiles of
 * the narrowest input tiles it can have, dealt over the planes (+1 for the dealing's rounding).
 * The allocator keeps this much of the last groups free of activations (Sram headroom).
 */
export function lastGroupWeightsBound(ctx: LayerCtx, ops: GraphOp[]): number {
  const { chip, weightStore: ws } = ctx;
  const D = ctx.graph.config.headDim;
  let units = 0;
  let unit = 1;
  for (const op of ops) {
    if (op.attrs.kind !== 'linear') continue;
    const sh = linearShare(ctx, op);
    const { KR, I } = installGeometry(ctx, op.dtype);
    unit = Math.max(unit, I * chip.memPorts);
    const perIn = op.name === 'o_proj' ? Math.max(1, Math.floor(KR / D)) * D : KR;
    units += Math.ceil((Math.ceil(sh.outCols / linearOutPer(ctx, op)) * Math.ceil(sh.inCols / perIn)) / ws.planes.length) + 1;
  }
  const perGroup = Math.floor(chip.memVectorsPerSlice / unit);
  const groups = ws.planes[0]?.groups.length ?? 1;
  return Math.max(0, units - (groups - 1) * perGroup) * unit;
}

/** The int8 matrix product into int32 sums: returns the accumulator tensor (graph name "<op>.acc"). */
export function lowerMatmul(ctx: LayerCtx, op: GraphOp, start: number): number {
  const a = op.attrs as LinearAttrs;
  const { sch, chip, weightStore: ws } = ctx;
  const fp = op.dtype !== 'int8';
  if (op.dtype === 'fp32' || !chip.mxmDtypes.includes(op.dtype)) {
    throw new SfError(`--dtype ${ctx.graph.shape.dtype}: chip ${chip.name} has no ${op.dtype} MXM (it has ${chip.mxmDtypes.join(', ')})`);
  }
  const L = chip.lanes;
  const ports = chip.memPorts;
  const dRead = chip.delays.memRead;
  const { R, F } = ws;
  const { eb, KR, rowsPerIW, I } = installGeometry(ctx, op.dtype);
  // (a float MM issues in two cycles)
  const mmIssue = fp ? 2 : 1;
  const mmDt = op.dtype;
  const x = act(ctx, op.inputs[0]!.name);
  const sh = linearShare(ctx, op);
  if (x.cols !== sh.inCols) throw new Error(`internal: ${op.name} input has ${x.cols} features on this chip, expected ${sh.inCols}`);
  if (x.per > KR) throw new Error(`internal: ${op.name} input tiles of ${x.per} features exceed the ${KR} rows of a ${op.dtype} weight set`);
  const perOut = linearOutPer(ctx, op);
  const M = a.rows;
  const kt = x.tiles;
  const nt = Math.ceil(sh.outCols / perOut);
  // one token row whose last K-tile holds vt <= KR/2 of x's features: the last K-tiles of Q
  // N-tiles share one weight set (N-tile j's rows at j*vt..), each multiplied by x's tail moved to
  // lanes j*vt.. (Qwen2.5-7B: 3584 = 11 x 320 + 64, five tails a set instead of one). Not for
  // row-split projections: their all-reduce, not the planes, sets their pace (Llama-2-7B
  // down_proj took 88 cycles longer with tail sets)
  const vt = sh.inCols - (kt - 1) * x.per;
  const Q = M === 1 && !fp && !sh.rowSplit && kt > 1 && nt > 1 && x.per === KR ? Math.min(nt, Math.floor(KR / vt)) : 1;
  // several rows: the sums are written while later rows of x are read, on cycles a fixed
  // distance apart; sharing a slice with x would collide on every K-tile
  const xSlices = M > 1 ? [...x.t.slices, ...(x.mirror?.slices ?? [])] : [];
  // (pad rows for a reduce-scatter's last slot)
  const pad = sh.rowSplit ? reduceScatterPad(ctx, M * nt) : 0;
  const acc = newAct(ctx, `${op.name}.acc`, fp ? 'fp32' : 'int32', M, sh.outCols, perOut, sh.outFirst, false, xSlices, pad);
  ctx.units.add('MEM').add('MXM');

  // N-tiles to planes, and each plane's K-tiles to its groups: per feeding slice, one tensor of
  // this op's rows per group used
  const planes = ws.planes;
  // N-tiles dealt round robin, continuing from where the previous projection left off, so that
  // consecutive projections (q, k, v; gate, up) load the planes evenly
  const tilesOf: number[][] = planes.map(() => []);
  // what each plane sums: runs of K-tiles [k0, k1) of an N-tile (a piece)
  const piecesOf: Piece[][] = planes.map(() => []);
  if (M > 1) {
    for (let nn = 0; nn < nt; nn++) tilesOf[(ws.nextPlane + nn) % planes.length].push(nn);
    ws.nextPlane = (ws.nextPlane + nt) % planes.length;
    tilesOf.forEach((list, pi) => piecesOf[pi].push(...list.map((nn) => ({ nn, k0: 0, k1: kt }))));
  } else {
    // row-split projections feed an all-reduce that sends each row as soon as it is summed: every
    // N-tile is split over the planes so that rows come out evenly spaced, not in bursts
    splitK(nt, Q > 1 ? kt - 1 : kt, planes.length, sh.rowSplit).forEach((list, pi) => piecesOf[pi].push(...list));
    if (Q > 1) packTails(piecesOf, nt, kt, Q);
  }
  const W = ctx.weights[a.weight]!;
  const inF = a.inFeatures;
  const widthOf = (f: number) => Math.min(ports, R - f * ports);
  // where K-tile (nn, kk) of a plane is read from: group, and row within the group's tensors
  const where = new Map<string, { group: number; row: number; tensor: (f: number) => string }>();
  planes.forEach((pl, pi) => {
    const units = piecesOf[pi].flatMap((pc): { nn: number; kk: number; tails?: number[] }[] => (pc.tails ? [{ nn: -1, kk: kt - 1, tails: pc.tails }] : Array.from({ length: pc.k1 - pc.k0 }, (_, i) => ({ nn: pc.nn, kk: pc.k0 + i }))));
    let remaining = units.length;
    let idx = 0;
    while (remaining > 0) {
      if (pl.group >= pl.groups.length) {
        throw new WeightsFull(`weights of ${op.name} do not fit: plane ${pl.queue} has no feeding slices left (${ws.weightSlices.length} slices hold ${(ws.capacityBytes(chip) / 2 ** 20).toFixed(1)} MiB of weights)`);
      }
      const g = pl.groups[pl.group];
      const fit = Math.floor(Math.min(...g.map((s) => ctx.sram.free(s))) / (I * ports));
      if (fit < 1) {
        pl.group++;
        continue;
      }
      const n = Math.min(fit, remaining);
      const gi = pl.group;
      const names = g.map((s) => `w_${op.name}_${s.replace('.', '_')}`);
      const datas = g.map((_, f) => Array.from({ length: ctx.timingOnly ? 0 : ctx.share.ranks }, () => new Int8Array(n * I * widthOf(f) * L)));
      for (let j = 0; j < n; j++, idx++) {
        const { nn: unitN, kk, tails } = units[idx]!;
        where.set(tails ? `${pi}:tails:${tails[0]}` : `${pi}:${unitN}:${kk}`, { group: gi, row: j * I, tensor: (f) => names[f] });
        for (let r = 0; r < datas[0].length; r++) {
          const rs = linearShareFor(ctx, op, r);
          for (let f = 0; f < F; f++) {
            const wd = widthOf(f);
            const buf = datas[f][r];
            for (let i = 0; i < I; i++) {
              for (let jj = 0; jj < wd; jj++) {
                const stream = f * ports + jj;
                const kr = i * rowsPerIW + Math.floor(stream / eb); // weight row within the K-tile
                if (kr >= x.per) continue;
                // a tail set's row kr holds row kr mod vt of N-tile tails[kr / vt]'s last K-tile
                const nn = tails ? tails[Math.floor(kr / vt)] : unitN;
                if (nn === undefined) continue;
                const kLocal = kk * x.per + (tails ? kr % vt : kr);
                if (kLocal >= rs.inCols) continue;
                const k = rs.inFirst + kLocal;
                const rowOff = ((j * I + i) * wd + jj) * L;
                const cols = Math.min(perOut, rs.outCols - nn * perOut);
                if (!fp) {
                  for (let c = 0; c < cols; c++) buf[rowOff + c] = W[(rs.outFirst + nn * perOut + c) * inF + k]!;
                } else {
                  // byte plane (stream % 2) of each element
                  const vals = Array.from({ length: cols }, (_, c) => W[(rs.outFirst + nn * perOut + c) * inF + k]!);
                  const bytes = encodeElements(op.dtype as DtypeName, vals);
                  for (let c = 0; c < cols; c++) buf[rowOff + c] = (bytes[2 * c + (stream % 2)]! << 24) >> 24;
                }
              }
            }
          }
        }
      }
      g.forEach((s, f) => {
        const addr = ctx.sram.take([s], n * I * widthOf(f), `weights of ${op.name}`);
        sch.addTensor({ name: names[f], dtype: 'int8', rows: n * I * widthOf(f), cols: L, placement: [{ slice: s, addr }], data: ctx.timingOnly ? undefined : datas[f].map((d) => new Uint8Array(d.buffer)) });
      });
      // later ops continue after this op's rows in the same group
      remaining -= n;
      if (remaining > 0) pl.group++;
    }
  });

  // T0: the farthest feeding slice can read on cycle start
  let far = 0;
  for (const pl of planes) for (const g of pl.groups) for (const s of g) far = Math.max(far, sch.travel(sch.position(s), pl.pos));
  let end = start;
  // the weight rows of K-tile (nn, kk) onto the plane for the IW cycles from c0
  const install = (pl: (typeof planes)[number], w: { group: number; row: number; tensor: (f: number) => string }, c0: number, note: string) => {
    const slices = pl.groups[w.group];
    for (let f = 0; f < F; f++) {
      const slice = slices[f];
      const q = sch.position(slice);
      const width = widthOf(f);
      const readAt = (i: number) => c0 + i - dRead - sch.travel(q, pl.pos);
      if (readAt(0) < 0) throw new ScheduleConflict('weights read before cycle 0');
      for (let i = 0; i < I; i++) {
        sch.claimPorts(slice, readAt(i), width, `${op.name} weights`);
        sch.claimFlight(pl.base + f * ports, width, q, readAt(i) + dRead, pl.pos, `${op.name} weights`);
      }
      sch.issue(slice, readAt(0), `READ ${w.tensor(f)}[${w.row * width}], ${sch.plan.streamName(pl.base + f * ports)}, ${width}`, f === 0 ? note : undefined);
      sch.repeat(slice, I - 1, 1);
    }
    sch.issue(pl.queue, c0, `IW.${mmDt} 0, ${sch.plan.streamName(pl.base)}, ${rowsPerIW}`);
    sch.repeat(pl.queue, I - 1, 1);
  };
  // row `row` of xt (an x operand) on the plane's first streams on cycle mm
  const feedRow = (pl: (typeof planes)[number], xt: ChipTensor, row: number, mm: number) => {
    // each slice puts its byte planes on the plane's first streams
    const pps = xt.slices.length === 1 ? eb : 1;
    xt.slices.forEach((xs, j) => {
      const xAt = mm - dRead - sch.travel(sch.position(xs), pl.pos);
      if (xAt < 0) throw new ScheduleConflict('x read before cycle 0');
      sch.checkReady(`${xt.name}[${row}]`, xAt, `${op.name} x`);
      sch.claimPorts(xs, xAt, pps, `${op.name} x`);
      sch.claimFlight(pl.base + j * pps, pps, sch.position(xs), xAt + dRead, pl.pos, `${op.name} x`);
      sch.issue(xs, xAt, `READ ${xt.name}[${row}], ${sch.plan.streamName(pl.base + j * pps)}`);
    });
  };
  // x's K-tile of token m (the copy on the plane's side of the VXM)
  const feedX = (pl: (typeof planes)[number], m: number, kk: number, mm: number) => feedRow(pl, pl.side === 'E' && x.mirror ? x.mirror : x.t, m * x.tiles + kk, mm);
  if (M > 1) {
    // one projection after another: their result flights would otherwise take the streams the
    // next one's x needs for its whole run
    start = Math.max(start, ws.matmulsDone);
    // several token rows: each installed K-tile serves every row (weight-stationary); a plane
    // has one set of accumulators, so each MM emits its partial sum and the VXM adds it to the
    // row's running sum in SRAM (the last K-tile's sum goes to the output). K-tiles go outer and
    // the plane's N-tiles inner, so a running sum is read back a whole round of N-tiles after it
    // was written; two buffers in different slices alternate by K-tile (a slice issues one
    // instruction a cycle: reading one row while writing another would collide).
    planes.forEach((pl, pi) => {
      const tiles = tilesOf[pi];
      if (!tiles.length) return;
      let c = Math.max(start + dRead + far, sch.free(pl.queue));
      const rows = M * tiles.length;
      // (away from x and the output, which are read and written on the same cycles)
      const apart = [...x.t.slices, ...(x.mirror?.slices ?? []), ...acc.t.slices];
      const runs: ChipTensor[] = [];
      if (kt > 1) {
        runs.push(ws.runBuffer(ctx.sram, `${pl.side}${pl.p}`, acc.t.dtype, rows, apart, pl.side));
        runs.push(ws.runBuffer(ctx.sram, `${pl.side}${pl.p}b`, acc.t.dtype, rows, [...apart, ...runs[0]!.slices], pl.side));
      }
      const aluName = `VXM.${(4 + pi) % chip.vxmAlus}`;
      for (let kk = 0; kk < kt; kk++) {
        tiles.forEach((nn, ti) => {
          const w = where.get(`${pi}:${nn}:${kk}`)!;
          c = sch.attempt(c, (c0) => {
            install(pl, w, c0, `${op.name} n-tile ${nn} k-tile ${kk}, ${M} rows`);
            for (let m = 0; m < M; m++) {
              const mm = c0 + I + m * mmIssue;
              feedX(pl, m, kk, mm);
              const emit = mm + chip.delays.mxm;
              let dst: number;
              const run = runs.length ? runs[kk % 2] : null;
              const r = ti * M + m;
              if (kk === 0 || !run) {
                const st = storeRow(sch, run ?? acc.t, run ? r : m * nt + nn, pl.pos, emit, `${op.name} partial`);
                dst = st.base;
                if (!run) end = Math.max(end, st.ready);
              } else {
                const prev = runs[(kk - 1) % 2];
                const at = emit + sch.travel(pl.pos, ctx.vxm);
                dst = sch.pickStreams(pl.pos < ctx.vxm, 4, [{ offset: 0, width: 4, from: pl.pos, cycle: emit, to: ctx.vxm }], `${op.name} partial`);
                const rb = readRow(sch, prev, r, at, ctx.vxm, `${op.name} running sum`);
                const lastK = kk === kt - 1;
                const st = storeRow(sch, lastK ? acc.t : run, lastK ? m * nt + nn : r, ctx.vxm, at + chip.delays.vxmAlu, `${op.name} sum`);
                sch.issue(aluName, at, `ADD.${fp ? 'fp32' : 'int32'} ${sch.plan.streamName(st.base)}, ${sch.plan.streamName(rb)}, ${sch.plan.streamName(dst)}`);
                if (lastK) end = Math.max(end, st.ready);
              }
              sch.issue(pl.queue, mm, `MM.${mmDt} ${sch.plan.streamName(pl.base)}, ${sch.plan.streamName(dst)}`);
            }
          }, `${op.name} ${pl.queue} k-tile`);
          c += I + M * mmIssue;
        });
      }
    });
    ws.matmulsDone = end;
    return end;
  }
  // one token row: each piece sums its K-tiles in the plane's accumulators (the MM takes the gap
  // after each install); a whole N-tile's sums go to the output, a split one's partial sums to
  // the plane's part rows, added at the VXM once all are in SRAM
  const split = new Map<number, { t: ChipTensor; row: number }[]>();
  const parts: (ChipTensor | null)[] = [];
  planes.forEach((_, pi) => {
    const n = piecesOf[pi].filter((pc) => !pc.tails && pc.k1 - pc.k0 < kt).length;
    // each plane's parts in a pair of their own: the VXM reads two of them on one cycle
    parts.push(n ? ctx.sram.alloc(`${op.name}_part_${pi}`, acc.t.dtype, n, { avoid: parts.flatMap((t) => t?.slices ?? []) }) : null);
  });
  // the tail sets' partial sums (a row per N-tile), apart from the parts they are added to
  const tailSums = Q > 1 ? ctx.sram.alloc(`${op.name}_tail_sums`, acc.t.dtype, nt, { avoid: parts.flatMap((t) => t?.slices ?? []) }) : null;
  planes.forEach((pl, pi) => {
    let c = Math.max(start + dRead + far, sch.free(pl.queue));
    let partRow = 0;
    for (const { nn, k0, k1, tails } of piecesOf[pi]) {
      if (tails) {
        // a tail set: one install, then one MM per N-tile, each emitting that tile's partial sum
        const w = where.get(`${pi}:tails:${tails[0]}`)!;
        const xs = tailCopies(ctx, op, x, vt, Math.floor(KR / vt), start)[pl.side === 'E' && x.mirror ? 1 : 0]!;
        const dests = tails.map((tn) => {
          const dest = { t: tailSums!, row: tn };
          split.set(tn, [...(split.get(tn) ?? []), dest]);
          return dest;
        });
        c = sch.attempt(c, (c0) => {
          install(pl, w, c0, `${op.name} last k-tile of n-tiles ${tails.join(', ')}`);
          tails.forEach((tn, j) => {
            const mm = c0 + I + j * mmIssue;
            feedRow(pl, xs, j, mm);
            const st = storeRow(sch, dests[j]!.t, dests[j]!.row, pl.pos, mm + chip.delays.mxm, `${op.name} sums`);
            end = Math.max(end, st.ready);
            sch.issue(pl.queue, mm, `MM.${mmDt} ${sch.plan.streamName(pl.base)}, ${sch.plan.streamName(st.base)}`, `${op.name} y tile ${tn} k-tile ${kt - 1} (set rows ${j * vt}..${j * vt + vt - 1})`);
          });
        }, `${op.name} ${pl.queue} tail set`);
        c += I + tails.length * mmIssue;
        continue;
      }
      const whole = k1 - k0 === kt;
      const dest = whole ? { t: acc.t, row: nn } : { t: parts[pi]!, row: partRow++ };
      if (!whole) split.set(nn, [...(split.get(nn) ?? []), dest]);
      for (let kk = k0; kk < k1; kk++) {
        const w = where.get(`${pi}:${nn}:${kk}`)!;
        const lastK = kk === k1 - 1;
        c = sch.attempt(c, (c0) => {
          install(pl, w, c0, `${op.name} n-tile ${nn} k-tile ${kk}`);
          const mm = c0 + I;
          feedX(pl, 0, kk, mm);
          let dst = '-';
          if (lastK) {
            const st = storeRow(sch, dest.t, dest.row, pl.pos, mm + chip.delays.mxm, `${op.name} sums`);
            dst = sch.plan.streamName(st.base);
            end = Math.max(end, st.ready);
          }
          sch.issue(pl.queue, mm, `MM.${mmDt} ${sch.plan.streamName(pl.base)}, ${dst}${kk > k0 ? ', acc' : ''}`, lastK ? `${op.name} y tile ${nn}${whole ? '' : ` k-tiles ${k0}..${k1 - 1}`}` : undefined);
        }, `${op.name} ${pl.queue} k-tile`);
        c += I + mmIssue;
      }
    }
  });
  // split N-tiles: the planes' partial sums added in a chain of ALUs (int32: exact)
  const add = `ADD.${fp ? 'fp32' : 'int32'}`;
  const name = (id: number) => sch.plan.streamName(id);
  for (const [nn, ps] of split) {
    const ready = Math.max(...ps.map((p) => sch.readyAt(`${p.t.name}[${p.row}]`) ?? start));
    sch.attempt(ready, (t0) => {
      let sum = readRow(sch, ps[0]!.t, ps[0]!.row, t0, ctx.vxm, `${op.name} partial sums`);
      for (let i = 1; i < ps.length; i++) {
        const at = t0 + (i - 1) * chip.delays.vxmAlu;
        const b = readRow(sch, ps[i]!.t, ps[i]!.row, at, ctx.vxm, `${op.name} partial sums`);
        const alu = `VXM.${(i - 1) % chip.vxmAlus}`;
        if (i === ps.length - 1) {
          const st = storeRow(sch, acc.t, nn, ctx.vxm, at + chip.delays.vxmAlu, `${op.name} sums`);
          sch.issue(alu, at, `${add} ${name(st.base)}, ${name(sum)}, ${name(b)}`, `${op.name} y tile ${nn}: ${ps.length} partial sums`);
          end = Math.max(end, st.ready);
        } else {
          const nx = chain(sch, 4, at + chip.delays.vxmAlu, `${op.name} partial sums`);
          sch.issue(alu, at, `${add} ${name(nx)}, ${name(sum)}, ${name(b)}`);
          sum = nx;
        }
      }
    }, `${op.name} partial sums of tile ${nn}`);
  }
  return end;
}

/** A run of K-tiles [k0, k1) of N-tile nn, summed by one plane; or, with `tails`, the last
 * K-tiles of those N-tiles packed in one weight set (nn = tails[0], k0 = kt - 1). */
interface Piece {
  nn: number;
  k0: number;
  k1: number;
  tails?: number[];
}

/**
 * The tail sets of one token row's projection (Q N-tiles' last K-tiles a set) added to the
 * planes' pieces (made by splitK over kt - 1 K-tiles): each to the plane with the fewest
 * installs, after its first pieces of at least 8 K-tiles (x's tail copies take an SXM round trip),
 * or last.
 */
export function packTails(piecesOf: Piece[][], nt: number, kt: number, Q: number): void {
  const load = piecesOf.map((ps) => ps.reduce((n, pc) => n + pc.k1 - pc.k0, 0));
  const at = piecesOf.map((ps) => {
    let k = 0;
    const i = ps.findIndex((pc) => (k += pc.k1 - pc.k0) >= 8);
    return i < 0 ? ps.length : i + 1;
  });
  for (let n0 = 0; n0 < nt; n0 += Q) {
    const p = load.indexOf(Math.min(...load));
    const tails = Array.from({ length: Math.min(Q, nt - n0) }, (_, j) => n0 + j);
    piecesOf[p]!.splice(at[p]!++, 0, { nn: n0, k0: kt - 1, k1: kt, tails });
    load[p]!++;
  }
}

const tailCopiesOf = new WeakMap<LayerCtx, Map<string, ChipTensor[]>>();

/**
 * x's last K-tile with its vt features moved to lanes j*vt.. and zeros elsewhere, for j < Q: the
 * x rows of tail sets. Two SHIFTs at the SXM on the copy's side make each (the first drops every
 * lane past vt, so the padding of x never meets another tile's weights). One tensor per copy of x
 * (x.t, and x.mirror where there is one), made once per x (gate and up share them).
 */
function tailCopies(ctx: LayerCtx, op: GraphOp, x: Act, vt: number, Q: number, start: number): ChipTensor[] {
  let m = tailCopiesOf.get(ctx);
  if (!m) tailCopiesOf.set(ctx, (m = new Map()));
  // (every projection of x takes up to the same Q = floor(lanes / vt) copies)
  const key = x.t.name;
  const have = m.get(key);
  if (have) return have;
  const { sch, chip } = ctx;
  const L = chip.lanes;
  const name = (id: number) => sch.plan.streamName(id);
  const made = [x.t, ...(x.mirror ? [x.mirror] : [])].map((src, i) => {
    const side = sch.position(src.slices[0]!) < ctx.vxm ? 'W' : 'E';
    const t = ctx.sram.alloc(`${x.t.name}_tails${i ? '_mirror' : ''}`, 'int8', Q, { side, avoid: src.slices });
    const sxm = `SXM.${side}`;
    const sp = sch.position(sxm);
    let c = start;
    for (let j = 0; j < Q; j++) {
      c = sch.attempt(c, (c0) => {
        const xb = readRow(sch, src, x.tiles - 1, c0, sp, `${op.name} x tail`);
        const mid = sch.pickStreams(side === 'E', 1, [{ offset: 0, width: 1, from: sp, cycle: c0 + chip.delays.sxm, to: sp }], `${op.name} x tail`);
        sch.issue(sxm, c0, `SHIFT.int8 ${name(mid)}, ${name(xb)}, ${L - vt}`, j === 0 ? `${x.t.name}'s last ${vt} features at lanes j*${vt} (tail sets)` : undefined);
        const st = storeRow(sch, t, j, sp, c0 + 2 * chip.delays.sxm, `${op.name} x tail ${j}`);
        sch.issue(sxm, c0 + chip.delays.sxm, `SHIFT.int8 ${name(st.base)}, ${name(mid)}, ${j * vt - (L - vt)}`);
      }, `${op.name} x tail ${j}`) + 1;
    }
    return t;
  });
  m.set(key, made);
  return made;
}

/**
 * One token row's N-tiles over P planes: whole N-tiles round robin while every plane gets one,
 * then the last nt mod P tiles' K-tiles split evenly over all planes (split-K), so that every
 * plane streams the same number of K-tiles (+-1) and none idles through a last round. `all`:
 * every N-tile split over the planes, in order (tile t's sums are done after t + 1 tiles' time);
 * which plane takes the shorter runs rotates with the tile.
 */
export function splitK(nt: number, kt: number, P: number, all = false): Piece[][] {
  const out: Piece[][] = Array.from({ length: P }, () => []);
  if (all) {
    const base = Math.floor(kt / P);
    const extra = kt % P;
    for (let nn = 0; nn < nt; nn++) {
      let k0 = 0;
      for (let p = 0; p < P; p++) {
        const n = base + ((p - nn + P * nt) % P < extra ? 1 : 0);
        if (n > 0) out[p]!.push({ nn, k0, k1: k0 + n });
        k0 += n;
      }
    }
    return out;
  }
  const whole = nt - (nt % P);
  for (let nn = 0; nn < whole; nn++) out[nn % P]!.push({ nn, k0: 0, k1: kt });
  const U = (nt - whole) * kt;
  for (let p = 0; p < P; p++) {
    const u1 = Math.floor(((p + 1) * U) / P);
    for (let u = Math.floor((p * U) / P); u < u1; ) {
      const k0 = u % kt;
      const k1 = Math.min(kt, k0 + (u1 - u));
      out[p]!.push({ nn: whole + Math.floor(u / kt), k0, k1 });
      u += k1 - k0;
    }
  }
  return out;
}

/** linearShare for another rank (weights are laid out for every chip). */
function linearShareFor(ctx: LayerCtx, op: GraphOp, rank: number) {
  return linearShare({ ...ctx, share: { ...ctx.share, rank } }, op);
}

/** Row-split projections (o, down on several chips): all-reduce the int32 partial sums. */
export function lowerAccReduce(ctx: LayerCtx, op: GraphOp, start: number): number {
  if (!linearShare(ctx, op).rowSplit) return start;
  const acc = act(ctx, `${op.name}.acc`);
  const fp = acc.t.dtype === 'fp32';
  const rows = acc.tokens * acc.tiles;
  const add = fp ? 'ADD.fp32' : 'ADD.int32';
  // more than two chips: a reduce-scatter then an all-gather where that pays
  if (reduceScatterPays(ctx, rows)) return reduceScatterRows(ctx, acc.t, rows, add, start, `${op.name} all-reduce`);
  // in place: a row's sum is written after its sends and its own read (it waits for the peers')
  return allReduceRows(ctx, acc.t, rows, add, acc.t, start, `${op.name} all-reduce`);
}

/** y = acc * s_x * s_w (+ bias) in fp32, one vector per cycle through four chained ALUs. */
export function lowerDequant(ctx: LayerCtx, op: GraphOp, start: number): number {
  const a = op.attrs as LinearAttrs;
  const { sch, chip } = ctx;
  const L = chip.lanes;
  const d = chip.delays;
  const acc = act(ctx, `${op.name}.acc`);
  if (acc.t.dtype === 'fp32') return floatEpilogue(ctx, op, acc, start);
  const xs = act(ctx, a.inputScale!).t;
  const sh = linearShare(ctx, op);
  const M = a.rows;
  const nt = acc.tiles;
  // per-lane weight scales (and bias) by output tile, for every rank
  const perRank = (name: string | null) =>
    name === null
      ? null
      : Array.from({ length: ctx.share.ranks }, (_, r) => {
          const rs = linearShareFor(ctx, op, r);
          const src = ctx.weights[name]!;
          return encodeF32(Array.from({ length: rs.outCols }, (_, i) => src[rs.outFirst + i]!), 1, rs.outCols, L, acc.per);
        });
  const sw = ctx.sram.alloc(`${op.name}_wscale`, 'fp32', nt, { data: perRank(a.weightScale)! });
  const biasData = perRank(a.bias);
  const bias = biasData ? ctx.sram.alloc(`${op.name}_bias`, 'fp32', nt, { data: biasData }) : null;
  const out = newAct(ctx, op.outputs[0]!.name, 'fp32', M, sh.outCols, acc.per, sh.outFirst);
  const alu = (i: number) => `VXM.${i % chip.vxmAlus}`;
  const vxm = ctx.vxm;
  const name = (id: number) => sch.plan.streamName(id);
  ctx.units.add('VXM');
  let c = start;
  let end = start;
  for (let m = 0; m < M; m++) {
    for (let nn = 0; nn < nt; nn++) {
      // (from the cycle its sums are in SRAM: a long projection's may land after the budget of
      // tries from the op's start)
      c = sch.attempt(Math.max(c, sch.readyAt(`${acc.t.name}[${m * nt + nn}]`) ?? c), (cy) => {
        const accB = readRow(sch, acc.t, m * nt + nn, cy, vxm, `${op.name} acc`);
        const f = chain(sch, 4, cy + d.vxmLarge, `${op.name} cvt`);
        sch.issue(alu(0), cy, `CVT.fp32 ${name(f)}, ${name(accB)}, int32`);
        const t1 = cy + d.vxmLarge;
        const xB = readRow(sch, xs, m, t1, vxm, `${op.name} x scale`);
        const g = chain(sch, 4, t1 + d.vxmAlu, `${op.name} *sx`);
        sch.issue(alu(1), t1, `MUL.fp32 ${name(g)}, ${name(f)}, ${name(xB)}`);
        const t2 = t1 + d.vxmAlu;
        const wB = readRow(sch, sw, nn, t2, vxm, `${op.name} w scale`);
        const t3 = t2 + d.vxmAlu;
        if (bias) {
          const h = chain(sch, 4, t3, `${op.name} *sw`);
          sch.issue(alu(2), t2, `MUL.fp32 ${name(h)}, ${name(g)}, ${name(wB)}`);
          const bB = readRow(sch, bias, nn, t3, vxm, `${op.name} bias`);
          const st = storeRow(sch, out.t, m * nt + nn, vxm, t3 + d.vxmAlu, `${op.name} y`);
          sch.issue(alu(3), t3, `ADD.fp32 ${name(st.base)}, ${name(h)}, ${name(bB)}`);
          end = Math.max(end, st.ready);
        } else {
          const st = storeRow(sch, out.t, m * nt + nn, vxm, t3, `${op.name} y`);
          sch.issue(alu(2), t2, `MUL.fp32 ${name(st.base)}, ${name(g)}, ${name(wB)}`);
          end = Math.max(end, st.ready);
        }
      }, `${op.name} dequantise`) + 1;
    }
  }
  return end;
}

/** Float projections: the fp32 sums are y; a bias is added at the VXM. */
function floatEpilogue(ctx: LayerCtx, op: GraphOp, acc: Act, start: number): number {
  const a = op.attrs as LinearAttrs;
  const { sch, chip } = ctx;
  const out = op.outputs[0]!.name;
  if (!a.bias) {
    ctx.acts.set(out, acc);
    return start;
  }
  const sh = linearShare(ctx, op);
  const bias = ctx.sram.alloc(`${op.name}_bias`, 'fp32', acc.tiles, {
    data: Array.from({ length: ctx.share.ranks }, (_, r) => {
      const rs = linearShareFor(ctx, op, r);
      const src = ctx.weights[a.bias!]!;
      return encodeF32(Array.from({ length: rs.outCols }, (_, i) => src[rs.outFirst + i]!), 1, rs.outCols, chip.lanes, acc.per);
    }),
  });
  const y = newAct(ctx, out, 'fp32', acc.tokens, sh.outCols, acc.per, sh.outFirst);
  ctx.units.add('VXM');
  let c = start;
  let end = start;
  for (let r = 0; r < acc.tokens * acc.tiles; r++) {
    c = sch.attempt(c, (cy) => {
      const [ab, bb] = readTwo(sch, acc.t, r, bias, r % acc.tiles, cy, ctx.vxm, `VXM.${(2 + (r % 2)) % chip.vxmAlus}`, `${op.name} sum, bias`);
      const st = storeRow(sch, y.t, r, ctx.vxm, cy + chip.delays.vxmAlu, `${op.name} y`);
      sch.issue(`VXM.${r % 2}`, cy, `ADD.fp32 ${sch.plan.streamName(st.base)}, ${sch.plan.streamName(ab)}, ${sch.plan.streamName(bb)}`);
      end = Math.max(end, st.ready);
    }, `${op.name} bias`) + 1;
  }
  return end;
}

