// SRAM allocation for a compiled layer: which MEM slices hold weights (the MXM planes' feeding
// groups, see linear.ts) and which hold activations, scratch and the KV cache, and a bump
// allocator over each slice (upwards; activations that find every activation pair full take the
// top of the last feeding groups' slices, downwards, while the weights fill them upwards). A
// layer that does not fit fails here with a FitError naming the tensor and the shortfall; the
// layer compiler turns that into a suggested chip count.
//
// A tensor is `rows` vectors of `lanes` elements. A b-byte dtype has b byte planes per row; they
// are split evenly over the tensor's slices (1 or 2: fp32 over two slices, planes 0-1 and 2-3,
// because a slice has two ports; 4 in the headroom), row r's planes at addr + r * planesPerSlice
// (src/asm/program.ts).
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

  /** Pairs of weight slices whose tops hold activations when every pair of `pairs` is full (a long
   * prompt), allocated downwards from the top while the weights fill them upwards. */
  private readonly headroom: [string, string][] = [];
  /** Lowest address taken from the top, per slice. */
  private readonly top = new Map<string, number>();
  /** Addresses below which no activation goes from the top (the weights' share), per slice. */
  private readonly reserved = new Map<string, number>();

  constructor(sch: Schedule, activationSlices: string[], dataless = false, spareSlices: string[] = [], headroomSlices: string[] = []) {
    this.sch = sch;
    this.dataless = dataless;
    this.chip = sch.chip;
    for (let i = 0; i + 1 < activationSlices.length; i += 2) this.pairs.push([activationSlices[i], activationSlices[i + 1]]);
    if (!this.pairs.length) throw new SfError(`chip ${this.chip.name}: no MEM slices left for activations`);
    this.near = this.pairs.length;
    for (let i = 0; i + 1 < spareSlices.length; i += 2) this.pairs.push([spareSlices[i], spareSlices[i + 1]]);
    for (let i = 0; i + 1 < headroomSlices.length; i += 2) this.headroom.push([headroomSlices[i], headroomSlices[i + 1]]);
  }

  /** Keeps addresses below `vectors` of each headroom slice for the weights. */
  reserveForWeights(vectors: number): void {
    for (const pr of this.headroom) for (const s of pr) this.reserved.set(s, vectors);
  }

  private limit(slice: string): number {
    return this.top.get(slice) ?? this.chip.memVectorsPerSlice;
  }

  /** The lowest address a tensor may take in a slice: above the weights' line from the top. */
  private floor(slice: string, fromTop: boolean): number {
    const low = this.next.get(slice) ?? 0;
    return fromTop ? Math.max(low, this.reserved.get(slice) ?? 0) : low;
  }

  /** Vectors still free in a slice. */
  free(slice: string): number {
    return this.limit(slice) - this.floor(slice, false);
  }

  /** Reserves `vectors` consecutive addresses in every slice of `slices` (the same address):
   * upwards from the lowest free one, or (`fromTop`) downwards from the highest, above the line
   * kept for the weights. */
  take(slices: string[], vectors: number, what: string, fromTop = false): number {
    const low = Math.max(...slices.map((s) => this.floor(s, fromTop)));
    const high = Math.min(...slices.map((s) => this.limit(s)));
    if (low + vectors > high) {
      const short = low + vectors - high;
      throw new FitError(what, `${what} does not fit: ${slices.join('+')} ${slices.length > 1 ? 'have' : 'has'} ${Math.max(0, high - low)} free vectors, it needs ${vectors} (short by ${short * slices.length * this.chip.lanes} bytes)`, short * slices.length * this.chip.lanes);
    }
    const addr = fromTop ? high - vectors : low;
    for (const s of slices) (fromTop ? this.top : this.next).set(s, fromTop ? addr : addr + vectors);
    return addr;
  }

  /** A tensor in the given slices (1 or 2; its byte planes split evenly). */
  place(name: string, dtype: ChipDtype, rows: number, slices: string[], opts: { data?: Uint8Array | Uint8Array[]; output?: boolean; fromTop?: boolean } = {}): ChipTensor {
    const bytes = CHIP_BYTES[dtype];
    if (bytes % slices.length) throw new Error(`internal: ${dtype} cannot split over ${slices.length} slices`);
    const addr = this.take(slices, Math.max(1, rows) * (bytes / slices.length), `tensor ${name} (${dtype}[${rows},${this.chip.lanes}])`, opts.fromTop);
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
    // every activation pair full (and no pair asked for): the top of a headroom pair, above the
    // weights' line, on the asked side first, the roomiest first; a 4-byte tensor too long for a
    // pair spreads its byte planes over two neighbouring pairs of a side, one plane a slice
    if (opts.pair === undefined) {
      const room = (pr: string[]) => Math.min(...pr.map((x) => this.limit(x) - this.floor(x, true)));
      const offSide = (pr: string[]) => Number(Boolean(opts.side) && !pr[0]!.startsWith(`MEM.${opts.side}`));
      const sameSide = (a: string, b: string) => a.slice(0, 5) === b.slice(0, 5);
      const quads = bytes === 4 ? this.headroom.flatMap((pr, i) => (i % 2 === 0 && this.headroom[i + 1] && sameSide(this.headroom[i + 1]![0], pr[0]) ? [[...pr, ...this.headroom[i + 1]!]] : [])) : [];
      const order = [...this.headroom.map((pr) => [...pr]).sort((a, b) => offSide(a) - offSide(b) || room(b) - room(a)), ...quads.sort((a, b) => offSide(a) - offSide(b) || room(b) - room(a))];
      for (const pr of order) {
        if (opts.avoid?.some((s) => pr.includes(s))) continue;
        const slices = bytes === 1 ? [pr[0]!] : [...pr];
        try {
          return this.place(name, dtype, rows, slices, { ...opts, fromTop: true });
        } catch (e) {
          if (!(e instanceof FitError)) throw e;
        }
      }
    }
    throw last;
  }
}
