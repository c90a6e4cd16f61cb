// Moving whole rows (vectors) between SRAM and the functional units, with every stream flight and
// MEM port reserved in the Schedule: the building blocks every op lowering uses.
//
//  - readRow: a tensor's row leaves its slice(s) so that it passes position `to` on `arrive`;
//  - outStreams + writeRow: a value that leaves `from` on `cycle` is written as a tensor's row;
//  - chain: a VXM result read by the next ALU at the VXM on `cycle` (ALU chaining);
//  - encode*: initial data in the chip's row layout.
// A tensor's slices all lie on one side of the reader/writer; the direction follows from that.
import type { Schedule } from './schedule.js';
import { CHIP_BYTES, planesPerSlice, type ChipTensor } from './sram.js';
import { ScheduleConflict } from './schedule.js';

export function slicePositions(sch: Schedule, t: ChipTensor): number[] {
  return t.slices.map((s) => sch.position(s));
}

function side(sch: Schedule, t: ChipTensor, at: number): boolean {
  const ps = slicePositions(sch, t);
  const east = ps.every((p) => p < at);
  if (!east && !ps.every((p) => p > at)) throw new ScheduleConflict(`tensor ${t.name} straddles position ${at}`);
  return east;
}

/** Reads t[row] so that it passes position `to` on cycle `arrive`; returns the stream group's base. */
export function readRow(sch: Schedule, t: ChipTensor, row: number, arrive: number, to: number, what: string): number {
  const pps = planesPerSlice(t);
  const east = side(sch, t, to);
  const vals = t.slices.map((s, j) => {
    const from = sch.position(s);
    return { offset: j * pps, width: pps, from, cycle: arrive - sch.travel(from, to), to };
  });
  for (const v of vals) if (v.cycle - sch.chip.delays.memRead < 0) throw new ScheduleConflict(`${what}: read before cycle 0`);
  const base = sch.pickStreams(east, CHIP_BYTES[t.dtype], vals, what);
  t.slices.forEach((s, j) => {
    const issue = vals[j].cycle - sch.chip.delays.memRead;
    sch.checkReady(`${t.name}[${row}]`, issue, what);
    sch.claimPorts(s, issue, pps, what);
    sch.issue(s, issue, `READ ${t.name}[${row}], ${sch.plan.streamName(base + j * pps)}`);
  });
  return base;
}

/** Picks and claims streams for a value leaving `from` on `cycle` towards t's slices. */
export function outStreams(sch: Schedule, t: ChipTensor, from: number, cycle: number, what: string): number {
  const pps = planesPerSlice(t);
  const east = !side(sch, t, from);
  const vals = t.slices.map((s, j) => ({ offset: j * pps, width: pps, from, cycle, to: sch.position(s) }));
  return sch.pickStreams(east, CHIP_BYTES[t.dtype], vals, what);
}

/** Writes the value on streams base.. (claimed by outStreams) that left `from` on `cycle` as t[row].
 * Returns the first cycle on which the row is readable. */
export function writeRow(sch: Schedule, t: ChipTensor, row: number, base: number, from: number, cycle: number, what: string): number {
  const pps = planesPerSlice(t);
  let ready = 0;
  t.slices.forEach((s, j) => {
    const arrive = cycle + sch.travel(from, sch.position(s));
    sch.claimPorts(s, arrive + 1, pps, what);
    sch.issue(s, arrive, `WRITE ${t.name}[${row}], ${sch.plan.streamName(base + j * pps)}`);
    ready = Math.max(ready, arrive + 2);
  });
  sch.markReady(`${t.name}[${row}]`, ready);
  return ready;
}

/** outStreams + writeRow. */
export function storeRow(sch: Schedule, t: ChipTensor, row: number, from: number, cycle: number, what: string): { base: number; ready: number } {
  const base = outStreams(sch, t, from, cycle, what);
  return { base, ready: writeRow(sch, t, row, base, from, cycle, what) };
}

/** Streams for a VXM result that the next ALU reads at the VXM on `cycle`. */
export function chain(sch: Schedule, width: number, cycle: number, what: string): number {
  const vxm = sch.position('VXM');
  return sch.pickStreams(true, width, [{ offset: 0, width, from: vxm, cycle, to: vxm }], what);
}

/** Rows of `cols` features, `per` features per vector (tile), as fp32 row-major bytes: feature f of
 * row r goes to vector r * tiles + floor(f / per), lane f % per. */
export function encodeF32(values: ArrayLike<number>, rows: number, cols: number, lanes: number, per = lanes): Uint8Array {
  const tiles = Math.ceil(cols / per);
  const out = new Float32Array(rows * tiles * lanes);
  for (let r = 0; r < rows; r++) for (let f = 0; f < cols; f++) out[(r * tiles + Math.floor(f / per)) * lanes + (f % per)] = values[r * cols + f];
  return new Uint8Array(out.buffer);
}

/**
 * Reads a[ra] and b[rb] so that both are at the VXM on `cy`. Two tensors in one slice cannot both
 * be read on one cycle (the ports): then b is read vxmAlu cycles earlier and passed through ALU
 * `alu` (MULS by 1, exact) so that it arrives on time. Returns the two stream groups.
 */
export function readTwo(sch: Schedule, a: ChipTensor, ra: number, b: ChipTensor, rb: number, cy: number, vxm: number, alu: string, what: string): [number, number] {
  const ab = readRow(sch, a, ra, cy, vxm, what);
  if (!a.slices.some((s) => b.slices.includes(s))) return [ab, readRow(sch, b, rb, cy, vxm, what)];
  const d = sch.chip.delays.vxmAlu;
  const early = readRow(sch, b, rb, cy - d, vxm, what);
  const bb = chain(sch, CHIP_BYTES[b.dtype], cy, `${what} (delayed)`);
  sch.issue(alu, cy - d, `MULS.${b.dtype} ${sch.plan.streamName(bb)}, ${sch.plan.streamName(early)}, 1`);
  return [ab, bb];
}
