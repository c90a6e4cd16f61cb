// Lowers y = x W (int8 x int8 -> int32; K inputs, N outputs) onto one chip with its weights
// streamed from SRAM through every MXM plane: the decode-time matrix product, where each weight is
// used once. The first brick of the layer compiler (issue: "Compile transformer layers").
//
// Schedule, per plane (2 hemispheres x mxmPlanesPerHemisphere):
//  - The plane owns R = min(mxmInstallRows, streams / planes) streams of its hemisphere's inward
//    direction (westward to MXM.W, eastward to MXM.E) and F = R / memPorts feeding MEM slices,
//    each reading memPorts rows per cycle onto its streams.
//  - N is cut into tiles of `lanes` outputs dealt round-robin to the planes; each N-tile sums its
//    K-tiles in the plane's accumulators. A K-tile is ceil(lanes / R) IW cycles, then one MM cycle:
//    the MM is the gap in which the plane's first feeding slice, which keeps a copy of x, puts x's
//    K-tile on the plane's first stream.
//  - The last K-tile's MM emits the int32 sums on 4 streams flowing back towards the VXM, where
//    two output slices (planes 0-1 and 2-3 of int32) write them as they pass.
// Every value's span on its stream flight, every MEM port and every queue slot is reserved in a
// Schedule, so the program is hazard-free by construction and its cycle count is known exactly.
import type { ChipConfig } from '../chip/config.js';
import { SfError } from '../util/errors.js';
import { encodeBase64 } from '../asm/fill.js';
import { Schedule } from './schedule.js';
import { WeightStore, type Plane as StorePlane } from './weight-store.js';

export interface MatVecInput {
  K: number;
  N: number;
  /** W[k][n], row-major K x N. */
  w: Int8Array;
  /** x[k]. */
  x: Int8Array;
}

export interface MatVecResult {
  source: string;
  predictedCycles: number;
  /** Where output tile nn (outputs nn*lanes ..) lands: tensor name and row. */
  tiles: { tensor: string; row: number }[];
  /** The chip's floor for this product: weight bytes over the streams into the MXMs. */
  roofline: { cycles: number; bound: string; weightBytes: number; macs: number };
  efficiency: number;
}

interface Plane extends StorePlane {
  /** The two slices nearest the VXM that write the plane's int32 results. */
  out: [string, string];
  outStream: number;
  tiles: number[];
}

export function compileMatVec(chip: ChipConfig, inp: MatVecInput, name = 'matvec'): MatVecResult {
  const { K, N } = inp;
  if (!Number.isInteger(K) || !Number.isInteger(N) || K < 1 || N < 1) throw new SfError(`matvec shape ${K}x${N} must be positive integers`);
  if (inp.w.length !== K * N || inp.x.length !== K) throw new SfError(`matvec data: need ${K * N} weights and ${K} inputs`);
  if (!chip.mxmDtypes.includes('int8')) throw new SfError(`chip ${chip.name} has no int8 MXM`);
  const sch = new Schedule(chip);
  const L = chip.lanes;
  const S = chip.streamsPerDirection;
  const P = chip.mxmPlanesPerHemisphere;
  const ports = chip.memPorts;
  // slices of a hemisphere, nearest the VXM first: 0..2P-1 = outputs, then the feeding groups
  // (weight-store.ts)
  const store = new WeightStore(sch);
  const { R, F } = store;
  const I = Math.ceil(L / R);
  const dRead = chip.delays.memRead;
  const kt = Math.ceil(K / L);
  const nt = Math.ceil(N / L);
  const vectorsPerGroupSlice = chip.memVectorsPerSlice;
  const planes: Plane[] = store.planes.map((pl) => ({
    ...pl,
    out: [`MEM.${pl.side}${2 * pl.p}`, `MEM.${pl.side}${2 * pl.p + 1}`],
    outStream: (pl.side === 'W' ? 0 : S) + 4 * pl.p,
    tiles: [],
  }));
  for (let nn = 0; nn < nt; nn++) planes[nn % planes.length].tiles.push(nn);
  const pos = (slice: string) => sch.position(slice);

  // data: x (a copy in each plane's first feeding slice of every group, at address 0), and each
  // feeding slice's weight rows in the order it reads them, after that
  const xRows = new Int8Array(kt * L);
  xRows.set(inp.x);
  const xInit = `base64("${encodeBase64(new Uint8Array(xRows.buffer))}")`;
  for (const pl of planes) {
    for (const g of pl.groups) sch.addTensor({ name: `x_${g[0].replace('.', '_')}`, dtype: 'int8', rows: kt, cols: L, placement: [{ slice: g[0], addr: 0 }], init: xInit });
  }
  const fed = new Map<string, number[][]>(); // slice -> rows of [k, nn] (k < 0: zero pad)

  // T0: the farthest feeding or x slice must be able to read on cycle >= 0
  let far = 0;
  for (const pl of planes) for (const g of pl.groups) for (const s of g) far = Math.max(far, sch.travel(pos(s), pl.pos));
  const T0 = dRead + far;

  const tiles: MatVecResult['tiles'] = Array(nt);
  for (const pl of planes) {
    let c = T0;
    let group = 0;
    let used = kt; // vectors used in each slice of the current group (x sits below the weights)
    pl.tiles.forEach((nn, localRow) => {
      tiles[nn] = { tensor: `y_${pl.side}${pl.p}`, row: localRow };
      for (let kk = 0; kk < kt; kk++) {
        if (used + I * ports > vectorsPerGroupSlice) {
          group++;
          used = kt;
          if (group >= pl.groups.length) throw new SfError(`matvec ${K}x${N} does not fit: plane ${pl.queue} needs more than ${pl.groups.length} groups of ${F} slices`);
        }
        const slices = pl.groups[group];
        // IW cycles c .. c+I-1; slice f feeds rows f*ports .. of every IW
        for (let f = 0; f < F; f++) {
          const slice = slices[f];
          const rows = fed.get(slice) ?? [];
          fed.set(slice, rows);
          const q = pos(slice);
          const width = Math.min(ports, R - f * ports);
          const readAt = (i: number) => c + i - dRead - sch.travel(q, pl.pos);
          const first = rows.length;
          if (first === 0 && f === 0) for (let r = 0; r < kt; r++) rows.push([-2, r]); // x's rows
          const wRow = rows.length - (f === 0 ? kt : 0);
          for (let i = 0; i < I; i++) {
            for (let j = 0; j < width; j++) {
              const k = kk * L + i * R + f * ports + j;
              rows.push([i * R + f * ports + j < L && k < K ? k : -1, nn]);
            }
            sch.claimPorts(slice, readAt(i), width, `${pl.queue} weights`);
            sch.claimFlight(pl.base + f * ports, width, q, readAt(i) + dRead, pl.pos, `${pl.queue} weights`);
          }
          sch.issue(slice, readAt(0), `READ w_${slice.replace('.', '_')}[${wRow}], ${sch.plan.streamName(pl.base + f * ports)}, ${width}`, `${pl.queue} n-tile ${nn} k-tile ${kk}`);
          sch.repeat(slice, I - 1, 1);
        }
        used += I * ports;
        sch.issue(pl.queue, c, `IW.int8 0, ${sch.plan.streamName(pl.base)}, ${R}`);
        sch.repeat(pl.queue, I - 1, 1);
        const mm = c + I;
        // the gap: slice 0 of the group puts x's K-tile on the plane's first stream
        const xs = slices[0];
        const xAt = mm - dRead - sch.travel(pos(xs), pl.pos);
        sch.claimPorts(xs, xAt, 1, 'x');
        sch.claimFlight(pl.base, 1, pos(xs), xAt + dRead, pl.pos, 'x');
        sch.issue(xs, xAt, `READ x_${xs.replace('.', '_')}[${kk}], ${sch.plan.streamName(pl.base)}, 1`);
        const lastK = kk === kt - 1;
        const dst = lastK ? sch.plan.streamName(pl.outStream) : '-';
        sch.issue(pl.queue, mm, `MM.int8 ${sch.plan.streamName(pl.base)}, ${dst}${kk > 0 ? ', acc' : ''}`, lastK ? `y tile ${nn}` : undefined);
        if (lastK) {
          const emit = mm + chip.delays.mxm;
          for (let h = 0; h < 2; h++) {
            const slice = pl.out[h];
            const at = sch.claimFlight(pl.outStream + 2 * h, 2, pl.pos, emit, pos(slice), `${pl.queue} result`);
            sch.claimPorts(slice, at + 1, 2, `${pl.queue} result`);
            sch.issue(slice, at, `WRITE y_${pl.side}${pl.p}[${localRow}], ${sch.plan.streamName(pl.outStream + 2 * h)}`);
          }
        }
        c = mm + 1;
      }
    });
  }
  // tensors: weights per feeding slice, outputs per plane
  for (const [slice, all] of fed) {
    const rows = all.filter(([k]) => k !== -2);
    const base = all.length - rows.length;
    const bytes = new Int8Array(rows.length * L);
    rows.forEach(([k, nn], r) => {
      if (k < 0) return;
      for (let c = 0; c < L; c++) {
        const n = nn * L + c;
        if (n < N) bytes[r * L + c] = inp.w[k * N + n];
      }
    });
    sch.addTensor({ name: `w_${slice.replace('.', '_')}`, dtype: 'int8', rows: rows.length, cols: L, placement: [{ slice, addr: base }], init: `base64("${encodeBase64(new Uint8Array(bytes.buffer))}")` });
  }
  for (const pl of planes) {
    if (!pl.tiles.length) continue;
    sch.addTensor({ name: `y_${pl.side}${pl.p}`, dtype: 'int32', rows: pl.tiles.length, cols: L, placement: [{ slice: pl.out[0], addr: 0 }, { slice: pl.out[1], addr: 0 }], output: true });
  }

  const weightBytes = K * N;
  const streamBytesPerCycle = 2 * S * L;
  const macsPerCycle = 2 * P * L * L;
  const floor = Math.max(weightBytes / streamBytesPerCycle, (K * N) / macsPerCycle);
  const predictedCycles = sch.predictedCycles();
  return {
    source: sch.toSource([
      `${name}: y = x W, int8 -> int32, K = ${K}, N = ${N}, on ${chip.name} (generated by src/compiler/matvec.ts)`,
      `${planes.length} planes x ${R} rows per IW; ${kt} K-tiles x ${nt} N-tiles; predicted ${predictedCycles} cycles`,
    ]),
    predictedCycles,
    tiles,
    roofline: { cycles: Math.ceil(floor), bound: 'weight bytes / stream bandwidth into the MXMs', weightBytes, macs: K * N },
    efficiency: Math.ceil(floor) / predictedCycles,
  };
}
