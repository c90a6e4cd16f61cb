// Where weights live: each MXM plane (2 hemispheres x mxmPlanesPerHemisphere) owns
// R = min(mxmInstallRows, streams / planes) streams of its hemisphere's inward direction
// (westward to MXM.W, eastward to MXM.E) and groups of F = R / memPorts feeding MEM slices, each
// reading memPorts rows per cycle onto its streams. A hemisphere's slices nearest the VXM (and any
// left over after the groups) hold activations. The layer's matrices are dealt to the planes in
// N-tiles (linear.ts); a plane fills its groups one after another.
import type { ChipConfig } from '../chip/config.js';
import { SfError } from '../util/errors.js';
import type { Schedule } from './schedule.js';
import type { ChipDtype, ChipTensor, Sram } from './sram.js';

export interface Plane {
  side: 'W' | 'E';
  p: number;
  queue: string;
  pos: number;
  /** First stream id of the plane's weight streams (R of them). */
  base: number;
  /** Feeding slices by group. */
  groups: string[][];
  /** Group now being filled, and vectors used in each of its slices. */
  group: number;
}

/** A plane ran out of feeding slices: the layer needs more groups per plane (or more chips). */
export class WeightsFull extends SfError {}

/** How a chip's planes are fed: R streams a plane, groups of F feeding slices, P planes a
 * hemisphere, and the most groups a plane can have. */
function feeding(chip: ChipConfig): { R: number; F: number; P: number; most: number } {
  const P = chip.mxmPlanesPerHemisphere;
  const R = Math.min(chip.mxmInstallRows, Math.floor(chip.streamsPerDirection / P));
  const F = Math.ceil(R / chip.memPorts);
  return { R, F, P, most: Math.floor((chip.memSlicesPerHemisphere - 2 * P) / (F * P)) };
}

/** The most feeding groups per plane the chip's MEM slices allow. */
export function maxGroupsPerPlane(chip: ChipConfig): number {
  return feeding(chip).most;
}

export class WeightStore {
  readonly planes: Plane[] = [];
  /** Streams per plane (rows of int8 per IW cycle). */
  readonly R: number;
  /** Feeding slices per group. */
  readonly F: number;
  readonly activationSlices: string[] = [];
  /** Slices no group uses, farther from the VXM than the activation slices. */
  readonly spareSlices: string[] = [];
  /** The plane the next projection's first N-tile goes to (linear.ts deals tiles round robin). */
  nextPlane = 0;
  /** When the last weight-stationary projection's results are all in SRAM (linear.ts). */
  matmulsDone = 0;
  readonly weightSlices: string[] = [];

  /** `groups`: feeding groups per plane (default: all the chip allows). */
  constructor(sch: Schedule, groups?: number) {
    const chip: ChipConfig = sch.chip;
    const S = chip.streamsPerDirection;
    const M = chip.memSlicesPerHemisphere;
    const { R, F, P, most } = feeding(chip);
    this.R = R;
    this.F = F;
    if (this.R < 1 || 4 * P > S) throw new SfError(`chip ${chip.name}: too few streams for ${P} planes per hemisphere`);
    const groupsPerPlane = Math.max(1, Math.min(most, groups ?? most));
    if (most < 1) throw new SfError(`chip ${chip.name}: ${M} MEM slices per hemisphere are too few for ${P} planes x ${this.F} feeding slices`);
    const last = sch.plan.positions - 1;
    // the activation slices nearest the VXM, the feeding groups beyond them (towards the MXMs):
    // values moving between the VXM and the activations never cross the weights' flights
    const first = M - groupsPerPlane * P * this.F;
    // the slices that hold activations with every group in use; those beyond, up to the groups in
    // use, are spare: taken when the near ones are full (activations, long prompts)
    const near = M - most * P * this.F;
    for (const side of ['W', 'E'] as const) {
      for (let i = 0; i < near; i++) this.activationSlices.push(`MEM.${side}${i}`);
      for (let i = near; i < first; i++) this.spareSlices.push(`MEM.${side}${i}`);
      for (let p = 0; p < P; p++) {
        const groups: string[][] = [];
        for (let g = 0; g < groupsPerPlane; g++) {
          groups.push(Array.from({ length: this.F }, (_, f) => `MEM.${side}${first + (g * P + p) * this.F + f}`));
        }
        for (const g of groups) this.weightSlices.push(...g);
        this.planes.push({ side, p, queue: `MXM.${side}${p}`, pos: side === 'W' ? 0 : last, base: (side === 'W' ? S : 0) + p * this.R, groups, group: 0 });
      }
    }
    // x (two streams for a float operand) rides the planes' first streams into them
    sch.keepLast(this.planes.flatMap((pl) => [pl.base, pl.base + 1]));
  }

  /** Running-sum buffers of the weight-stationary projections, by plane and buffer (linear.ts). */
  private readonly runs = new Map<string, ChipTensor[]>();

  /**
   * A running-sum buffer of `rows` rows for `key` (a plane and which of its two buffers), in a
   * pair holding none of `avoid`: one a previous projection used when it is big enough and
   * apart, else a new one. Projections of several rows run one after another (linear.ts waits
   * for matmulsDone), so the previous one's sums are dead when the next one starts.
   */
  runBuffer(sram: Sram, key: string, dtype: ChipDtype, rows: number, avoid: string[], side: 'W' | 'E'): ChipTensor {
    const pool = this.runs.get(key) ?? [];
    this.runs.set(key, pool);
    const old = pool.find((t) => t.dtype === dtype && t.rows >= rows && !t.slices.some((x) => avoid.includes(x)));
    if (old) return old;
    const t = sram.alloc(`mm_run_${key}_${pool.length}`, dtype, rows, { avoid, side, strict: true });
    pool.push(t);
    return t;
  }

  /** Bytes of weights the chip can hold. */
  capacityBytes(chip: ChipConfig): number {
    return this.weightSlices.length * chip.memVectorsPerSlice * chip.lanes;
  }

  /** The fewest groups per plane whose slices hold `bytes` of weights with `slack` to spare
   * (tiles are padded to whole K-tiles of a plane's rows). */
  static groupsFor(chip: ChipConfig, bytes: number, slack = 1.3): number {
    const { F, P, most } = feeding(chip);
    // one group a plane: F slices for each of the 2 x P planes
    const perGroup = 2 * P * F * chip.memVectorsPerSlice * chip.lanes;
    return Math.min(most, Math.max(1, Math.ceil((bytes * slack) / perGroup)));
  }
}
