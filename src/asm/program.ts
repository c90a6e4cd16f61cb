// The in-memory form of an assembled program: what the container encodes, what the loader
// places on a chip, and what the disassembler prints. Chip-agnostic: queues and slices are
// named, and the loader maps names onto the chosen chip's floorplan.
import { dtypeByName, type DtypeName } from '../isa/dtypes.js';

/** Where a tensor's byte planes live. A row of a `bytes`-wide dtype has `bytes` planes; they are
 * split evenly over the listed slices (e.g. fp32 over two slices: planes 0-1 and planes 2-3).
 * In slice j, row r's planes sit at addresses addr + r * planesPerSlice .. + planesPerSlice-1. */
export interface Placement {
  slice: string;
  addr: number;
}

export interface Tensor {
  name: string;
  dtype: DtypeName;
  /** [rows, cols]; cols <= lanes. A 1-D declaration [n] is stored as [1, n]. */
  shape: [number, number];
  placement: Placement[];
  /** Marked `.output`: `sramflow run` prints it after the run. */
  output: boolean;
  /** Initial contents, row-major, little-endian elements (rows * cols * bytes), or null: zeros. */
  data: Uint8Array | null;
}

export interface QueueProgram {
  /** Queue name on the floorplan, e.g. "MEM.W0", "VXM.3", "MXM.E1". */
  name: string;
  /** Encoded instructions, 16 bytes each (src/isa/table.ts, INSTRUCTION_BYTES). */
  code: Uint8Array;
  /** Source position of each instruction (debug info; may be empty). */
  lines: { line: number; col: number }[];
}

export interface Program {
  /** The chip preset named by `.chip` (informational; `--chip` may override). */
  chip: string | null;
  queues: QueueProgram[];
  tensors: Tensor[];
  /** Source file name for error messages (debug info). */
  source: string | null;
}

export function planesPerSlice(t: Tensor, bytes: number): number {
  return bytes / t.placement.length;
}

/** `name[row]` (plus `+k` for a plane inside the row) of the tensor holding `addr` in `slice`. */
export function tensorAt(tensors: Tensor[], slice: string, addr: number): string | null {
  for (const t of tensors) {
    const pl = t.placement.find((x) => x.slice === slice);
    const d = dtypeByName(t.dtype);
    if (!pl || !d) continue;
    const pps = d.bytes / t.placement.length;
    const off = addr - pl.addr;
    if (off < 0 || off >= t.shape[0] * pps) continue;
    const k = off % pps;
    return `${t.name}[${Math.floor(off / pps)}]${k ? `+${k}` : ''}`;
  }
  return null;
}
