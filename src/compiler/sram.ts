// SRAM allocation for a compiled layer: which MEM slices hold weights (the MXM planes' feeding
// groups, see linear.ts) and which hold activations, scratch and the KV cache, and a bump
// allocator over each slice. A layer that does not fit fails here with a FitError naming the
// tensor and the shortfall; the layer compiler turns that into a suggested chip count.
//
// A tensor is `rows` vectors of `lanes` elements. A b-byte dtype has b byte planes per row; they
// are split evenly over the tensor's slices (1 or 2: fp32 over two slices, planes 0-1 and 2-3,
// because a slice has two ports), row r's planes at addr + r * planesPerSlice (src/asm/program.ts).
import type { ChipConfig } from '../chip/config.js';
import { SfError } from '../util/errors.js';
import type { Schedule } from './schedule.js';

export type ChipDtype = 'int8' | 'fp16' | 'bf16' | 'fp32' | 'int32';
export const CHIP_BYTES: Record<ChipDtype, number> = { int8: 1, fp16: 2, bf16: 2, fp32: 4, int32: 4 };

export interface ChipTensor {
  name: string;
  dtype: ChipDtype;
  rows: number;
  slices: string[];
  addr: number;
}

/** The layer does not fit: what, where, and how many more vectors it needed. */
export class FitError extends SfError {
  readonly tensor: string;
  readonly neededBytes: number;
  constructor(tensor: string, message: string, neededBytes: number) {
    super(message);
    this.tensor = tensor;
    this.neededBytes = neededBytes;
  }
}

export function planesPerSlice(t: ChipTensor): number {
  return CHIP_BYTES[t.dtype] / t.slices.length;
}

export class Sram {
  readonly chip: ChipConfig;
  private readonly sch: Schedule;
  private readonly next = new Map<string, number>();
  /** Activation slices in pairs (west pairs, then east pairs), nearest the VXM first. */
  readonly pairs: [string, string][] = [];
  private turn = 0;

  /** Drop every tensor's data (timing-only compiles: the tensors start as zeros). */
  private readonly dataless: boolean;

  /** Pairs of `pairs` taken only when the others are full (spare slices: farther from the VXM). */
  private readonly near: number;

  constructor(sch: Schedule, activationSlices: string[], dataless = false, spareSlices: string[] = []) {
    this.sch = sch;
    this.dataless = dataless;
    this.chip = sch.chip;
    for (let i = 0; i + 1 < activationSlices.length; i += 2) this.pairs.push([activationSlices[i], activationSlices[i + 1]]);
    if (!this.pairs.length) throw new SfError(`chip ${this.chip.name}: no MEM slices left for activations`);
    this.near = this.pairs.length;
    for (let i = 0; i + 1 < spareSlices.length; i += 2) this.pairs.push([spareSlices[i], spareSlices[i + 1]]);
  }

  /** Vectors still free in a slice. */
  free(slice: string): number {
    return this.chip.memVectorsPerSlice - (this.next.get(slice) ?? 0);
  }

  /** Reserves `vectors` consecutive addresses in every slice of `slices` (the same address). */
  take(slices: string[], vectors: number, what: string): number {
    const addr = Math.max(...slices.map((s) => this.next.get(s) ?? 0));
    if (addr + vectors > this.chip.memVectorsPerSlice) {
      const short = addr + vectors - this.chip.memVectorsPerSlice;
      throw new FitError(what, `${what} does not fit: ${slices.join('+')} ${slices.length > 1 ? 'have' : 'has'} ${Math.max(0, this.chip.memVectorsPerSlice - addr)} free vectors, it needs ${vectors} (short by ${short * slices.length * this.chip.lanes} bytes)`, short * slices.length * this.chip.lanes);
    }
    for (const s of slices) this.next.set(s, addr + vectors);
    return addr;
  }

  /** A tensor in the given slices (1 or 2; its byte planes split evenly). */
  place(name: string, dtype: ChipDtype, rows: number, slices: string[], opts: { data?: Uint8Array | Uint8Array[]; output?: boolean } = {}): ChipTensor {
    const bytes = CHIP_BYTES[dtype];
    if (bytes % slices.length) throw new Error(`internal: ${dtype} cannot split over ${slices.length} slices`);
    const addr = this.take(slices, Math.max(1, rows) * (bytes / slices.length), `tensor ${name} (${dtype}[${rows},${this.chip.lanes}])`);
    const t: ChipTensor = { name, dtype, rows, slices, addr };
    this.sch.addTensor({ name, dtype, rows: Math.max(1, rows), cols: this.chip.lanes, placement: slices.map((slice) => ({ slice, addr })), data: this.dataless ? undefined : opts.data, output: opts.output });
    return t;
  }

  /** A tensor in the next activation pair (round robin), or in pair `pair` (index into pairs). */
  alloc(name: string, dtype: ChipDtype, rows: number, opts: { data?: Uint8Array | Uint8Array[]; output?: boolean; pair?: number; avoid?: string[]; side?: 'W' | 'E'; strict?: boolean } = {}): ChipTensor {
    const bytes = CHIP_BYTES[dtype];
    // the near pairs round robin, then the spare ones in order
    const spare = Array.from({ length: this.pairs.length - this.near }, (_, i) => this.near + i);
    let tries = opts.pair !== undefined ? [opts.pair % this.pairs.length] : [...Array.from({ length: this.near }, (_, i) => (this.turn + i) % this.near), ...spare];
    // near pairs before spare ones; among each, a hemisphere's pairs first (results of its MXM
    // planes stay on their side of the VXM); a stable sort keeps the order within
    const offSide = (p: number) => (opts.side && !this.pairs[p][0].startsWith(`MEM.${opts.side}`) ? 1 : 0);
    tries.sort((a, b) => Number(a >= this.near) - Number(b >= this.near) || offSide(a) - offSide(b));
    // pairs holding slices to avoid (operands read on the same cycles) come last
    if (opts.avoid?.length) {
      const clash = (p: number) => this.pairs[p].some((s) => opts.avoid!.includes(s));
      tries = [...tries.filter((p) => !clash(p)), ...(opts.strict ? [] : tries.filter(clash))];
      if (!tries.length) throw new FitError(name, `tensor ${name} (${dtype}[${rows},${this.chip.lanes}]) does not fit: every slice pair with room holds a tensor it must be read beside`, rows * this.chip.lanes * bytes);
    }
    let last: unknown = null;
    for (const p of tries) {
      const slices = bytes === 1 ? [this.pairs[p][0]] : [...this.pairs[p]];
      if (bytes === 1 && this.free(slices[0]) < rows) slices[0] = this.pairs[p][1];
      try {
        const t = this.place(name, dtype, rows, slices, opts);
        if (opts.pair === undefined && p < this.near) this.turn = (p + 1) % this.near;
        return t;
      } catch (e) {
        if (!(e instanceof FitError)) throw e;
        last = e;
      }
    }
    throw last;
  }
}
