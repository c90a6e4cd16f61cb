// Lowers RMSNorm, y = x / sqrt(mean(x^2) + eps) * g, over fp32 rows of `dim` values (each row
// spans V = ceil(dim / lanes) vectors, zero-padded), onto one chip. A compiler brick: its schedule
// is exact and every stream flight, port and queue slot is reserved in the Schedule.
//
// Per token:
//  1. x's V vectors pass the VXM one per cycle: one ALU squares them, the next accumulates the
//     squares lane by lane (ACC); the sum vector flows east to the SXM.
//  2. The SXM sums the lanes (RSUM) and sends the total, on every lane, back west to the VXM,
//     where three chained ALUs make 1/sqrt(sum / dim + eps). The chip has no divide.
//  3. That vector is written to SRAM (it passes the VXM only once), then read back with every
//     vector of x and g: one ALU multiplies x by it, the next by g, and y is written east.
// x and g live in west slices, inv and y in east ones; fp32 rows are split over two slices
// (planes 0-1 and 2-3) because a slice has two ports. Tokens run one after another.
import type { ChipConfig } from '../chip/config.js';
import { SfError } from '../util/errors.js';
import { encodeBase64 } from '../asm/fill.js';
import { Schedule } from './schedule.js';

export interface RmsNormInput {
  tokens: number;
  dim: number;
  /** x[t][i], row-major tokens x dim, as fp32 values. */
  x: Float32Array;
  /** g[i]. */
  g: Float32Array;
  eps: number;
}

export interface RmsNormResult {
  source: string;
  predictedCycles: number;
  /** y is tensor `y`, fp32 [tokens * V, lanes]: token t's vector v is row t*V + v. */
  vectorsPerRow: number;
}

function f32rows(values: Float32Array, rows: number, cols: number, L: number): string {
  const V = Math.ceil(cols / L);
  const out = new Float32Array(rows * V * L);
  for (let r = 0; r < rows; r++) for (let i = 0; i < cols; i++) out[(r * V + Math.floor(i / L)) * L + (i % L)] = values[r * cols + i];
  return `base64("${encodeBase64(new Uint8Array(out.buffer))}")`;
}

export function compileRmsNorm(chip: ChipConfig, inp: RmsNormInput): RmsNormResult {
  const { tokens: T, dim } = inp;
  if (!Number.isInteger(T) || !Number.isInteger(dim) || T < 1 || dim < 1) throw new SfError(`rmsnorm shape ${T}x${dim} must be positive integers`);
  if (inp.x.length !== T * dim || inp.g.length !== dim) throw new SfError(`rmsnorm data: need ${T * dim} inputs and ${dim} gains`);
  if (!chip.vxmDtypes.includes('fp32')) throw new SfError(`chip ${chip.name} has no fp32 VXM`);
  if (chip.memSlicesPerHemisphere < 4 || chip.vxmAlus < 4) throw new SfError(`chip ${chip.name} needs 4 MEM slices per hemisphere and 4 VXM ALUs for rmsnorm`);
  // the ALU each step runs on: squares, sum, 1/dim, +eps, rsqrt, x*inv, *g
  const alu = [0, 1, 2, 3, 2, 0, 3].map((a) => `VXM.${a % chip.vxmAlus}`);
  const sch = new Schedule(chip);
  const L = chip.lanes;
  const V = Math.ceil(dim / L);
  const d = chip.delays;
  const at = (slice: string) => sch.position(slice);
  const vxm = at('VXM');
  const sxmE = at('SXM.E');
  const [XA, XB, GA, GB] = ['MEM.W0', 'MEM.W1', 'MEM.W2', 'MEM.W3'];
  const [YA, YB, IA, IB] = ['MEM.E0', 'MEM.E1', 'MEM.E2', 'MEM.E3'];
  const rowsY = T * V;
  sch.addTensor({ name: 'x', dtype: 'fp32', rows: rowsY, cols: L, placement: [{ slice: XA, addr: 0 }, { slice: XB, addr: 0 }], init: f32rows(inp.x, T, dim, L) });
  sch.addTensor({ name: 'g', dtype: 'fp32', rows: V, cols: L, placement: [{ slice: GA, addr: 0 }, { slice: GB, addr: 0 }], init: f32rows(inp.g, 1, dim, L) });
  sch.addTensor({ name: 'inv', dtype: 'fp32', rows: T, cols: L, placement: [{ slice: IA, addr: 0 }, { slice: IB, addr: 0 }] });
  sch.addTensor({ name: 'y', dtype: 'fp32', rows: rowsY, cols: L, placement: [{ slice: YA, addr: 0 }, { slice: YB, addr: 0 }], output: true });
  const name = (id: number) => sch.plan.streamName(id);
  const halves = (a: string, b: string, arrive: number, to: number) =>
    [a, b].map((slice, h) => ({ offset: 2 * h, width: 2, from: at(slice), cycle: arrive - sch.travel(at(slice), to), to }));

  // a fp32 row read from slices a/b so that it passes position `to` on cycle `arrive`
  const readRow = (a: string, b: string, row: string, arrive: number, to: number, east: boolean, what: string): number => {
    const vals = halves(a, b, arrive, to);
    const base = sch.pickStreams(east, 4, vals, what);
    [a, b].forEach((slice, h) => {
      const issue = vals[h].cycle - d.memRead;
      sch.claimPorts(slice, issue, 2, what);
      sch.issue(slice, issue, `READ ${row}, ${name(base + 2 * h)}`);
    });
    return base;
  };
  // the flights were claimed when the streams were picked
  const writeRow = (a: string, b: string, row: string, base: number, from: number, cycle: number, what: string) => {
    [a, b].forEach((slice, h) => {
      const arrive = cycle + sch.travel(from, at(slice));
      sch.claimPorts(slice, arrive + 1, 2, what);
      sch.issue(slice, arrive, `WRITE ${row}, ${name(base + 2 * h)}`);
    });
  };
  // one VXM result at the VXM on `cycle`, read there by the next ALU on the same cycle
  const chain = (cycle: number, what: string): number => sch.pickStreams(true, 4, [{ offset: 0, width: 4, from: vxm, cycle, to: vxm }], what);

  let start = Math.max(at(XA), at(XB), at(GA), at(GB)) + d.memRead;
  for (let t = 0; t < T; t++) {
    // 1. squares and their lane-wise sum: each vector as early as streams, ports and ALUs allow
    let sumBase = -1;
    let sumAt = 0;
    let c = start;
    for (let v = 0; v < V; v++) {
      c = sch.attempt(c, (cy) => {
        const xb = readRow(XA, XB, `x[${t * V + v}]`, cy, vxm, true, `rmsnorm t${t} x`);
        const sq = chain(cy + d.vxmAlu, `rmsnorm t${t} x^2`);
        sch.issue(alu[0], cy, `MUL.fp32 ${name(sq)}, ${name(xb)}, ${name(xb)}`);
        const accAt = cy + d.vxmAlu;
        if (v === V - 1) {
          sumAt = accAt + d.vxmAlu;
          sumBase = sch.pickStreams(true, 4, [{ offset: 0, width: 4, from: vxm, cycle: sumAt, to: sxmE }], `rmsnorm t${t} sum`);
        }
        sch.issue(alu[1], accAt, `ACC.fp32 ${v === V - 1 ? name(sumBase) : '-'}, ${name(sq)}${v === 0 ? ', reset' : ''}`);
      }, `rmsnorm t${t} squares`) + 1;
    }
    // 2. across lanes at the SXM, then 1/sqrt(mean + eps) at the VXM
    // the sum passes the SXM once: RSUM issues exactly then (a conflict is a compiler bug)
    const hops = sch.travel(vxm, sxmE);
    const rsumAt = sumAt + hops;
    const back = rsumAt + d.sxmReduce + hops;
    const tot = sch.pickStreams(false, 4, [{ offset: 0, width: 4, from: sxmE, cycle: rsumAt + d.sxmReduce, to: vxm }], `rmsnorm t${t} total`);
    sch.issue('SXM.E', rsumAt, `RSUM.fp32 ${name(tot)}, ${name(sumBase)}`);
    const mean = chain(back + d.vxmAlu, `rmsnorm t${t} mean`);
    sch.issue(alu[2], back, `MULS.fp32 ${name(mean)}, ${name(tot)}, ${Math.fround(1 / dim)}`);
    const ms = chain(back + 2 * d.vxmAlu, `rmsnorm t${t} mean+eps`);
    sch.issue(alu[3], back + d.vxmAlu, `ADDS.fp32 ${name(ms)}, ${name(mean)}, ${Math.fround(inp.eps)}`);
    const invAt = back + 2 * d.vxmAlu + d.vxmLarge;
    const invVals = [IA, IB].map((slice, h) => ({ offset: 2 * h, width: 2, from: vxm, cycle: invAt, to: at(slice) }));
    const inv = sch.pickStreams(true, 4, invVals, `rmsnorm t${t} inv`);
    sch.issue(alu[4], back + 2 * d.vxmAlu, `RSQRT.fp32 ${name(inv)}, ${name(ms)}`);
    writeRow(IA, IB, `inv[${t}]`, inv, vxm, invAt, `rmsnorm t${t} inv`);
    // 3. y = x * inv * g, each vector as early as it fits once inv is in SRAM
    c = invAt + 2 * sch.travel(vxm, Math.max(at(IA), at(IB))) + 2 + d.memRead;
    for (let v = 0; v < V; v++) {
      c = sch.attempt(c, (cy) => {
        const xb = readRow(XA, XB, `x[${t * V + v}]`, cy, vxm, true, `rmsnorm t${t} x again`);
        const ib = readRow(IA, IB, `inv[${t}]`, cy, vxm, false, `rmsnorm t${t} inv back`);
        const gb = readRow(GA, GB, `g[${v}]`, cy + d.vxmAlu, vxm, true, `rmsnorm t${t} g`);
        const xi = chain(cy + d.vxmAlu, `rmsnorm t${t} x*inv`);
        sch.issue(alu[5], cy, `MUL.fp32 ${name(xi)}, ${name(xb)}, ${name(ib)}`);
        const yAt = cy + 2 * d.vxmAlu;
        const yVals = [YA, YB].map((slice, h) => ({ offset: 2 * h, width: 2, from: vxm, cycle: yAt, to: at(slice) }));
        const yb = sch.pickStreams(true, 4, yVals, `rmsnorm t${t} y`);
        writeRow(YA, YB, `y[${t * V + v}]`, yb, vxm, yAt, `rmsnorm t${t} y`);
        sch.issue(alu[6], cy + d.vxmAlu, `MUL.fp32 ${name(yb)}, ${name(xi)}, ${name(gb)}`);
      }, `rmsnorm t${t} y`) + 1;
    }
    start = c;
  }
  return {
    source: sch.toSource([`rmsnorm: ${T} tokens x ${dim}, eps ${inp.eps}, on ${chip.name} (generated by src/compiler/rmsnorm.ts)`]),
    predictedCycles: sch.predictedCycles(),
    vectorsPerRow: V,
  };
}
