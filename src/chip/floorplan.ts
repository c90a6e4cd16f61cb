// The chip's floorplan, derived from its config: slices west to east, and the instruction queues
// in each. One hemisphere mirrors the other around the VXM:
//   MXM.W | SXM.W | MEM.W(M-1) ... MEM.W0 | VXM | MEM.E0 ... MEM.E(M-1) | SXM.E | MXM.E
// MEM slices are numbered outwards from the VXM, so MEM.W0 and MEM.E0 are its neighbours.
// The chip-to-chip links sit at the edges with the SXMs: C2C.W shares SXM.W's position and holds
// links 0 .. ceil(n/2)-1, C2C.E shares SXM.E's and holds the rest (one queue `C2C.<link>` each).
// Queue ids follow positions west to east; the core, assembler and debugger share this order.
import type { Unit } from '../isa/table.js';
import type { ChipConfig } from './config.js';

export interface Slice {
  name: string;
  unit: Exclude<Unit, 'ICU'>;
  position: number;
}

export interface Queue {
  id: number;
  name: string;
  unit: Exclude<Unit, 'ICU'>;
  slice: Slice;
  position: number;
  /** Index among the queues of its unit kind: SRAM slice index (MEM), plane (MXM), ALU (VXM), 0/1 (SXM), link (C2C). */
  unitIndex: number;
}

export interface Floorplan {
  positions: number;
  slices: Slice[];
  queues: Queue[];
  queueByName: Map<string, Queue>;
  /** MEM slices in SRAM-index order (west to east). */
  memSlices: Slice[];
  /** Stream name for an id: E0..E(S-1), W0..W(S-1). */
  streamName(id: number): string;
  /** Stream id for a name, or undefined. */
  streamId(name: string): number | undefined;
}

export const UNIT_CODES: Record<Exclude<Unit, 'ICU'>, number> = { MEM: 1, VXM: 2, MXM: 3, SXM: 4, C2C: 5 };

const cache = new WeakMap<ChipConfig, Floorplan>();

export function floorplan(chip: ChipConfig): Floorplan {
  const hit = cache.get(chip);
  if (hit) return hit;
  const M = chip.memSlicesPerHemisphere;
  const slices: Slice[] = [];
  let position = 0;
  const add = (name: string, unit: Slice['unit'], samePosition = false) => {
    if (samePosition) position--;
    slices.push({ name, unit, position: position++ });
  };
  const westLinks = Math.ceil(chip.c2cLinks / 2);
  add('MXM.W', 'MXM');
  add('SXM.W', 'SXM');
  if (westLinks > 0) add('C2C.W', 'C2C', true);
  for (let i = M - 1; i >= 0; i--) add(`MEM.W${i}`, 'MEM');
  add('VXM', 'VXM');
  for (let i = 0; i < M; i++) add(`MEM.E${i}`, 'MEM');
  add('SXM.E', 'SXM');
  if (chip.c2cLinks > westLinks) add('C2C.E', 'C2C', true);
  add('MXM.E', 'MXM');

  const queues: Queue[] = [];
  const counters = { MEM: 0, VXM: 0, MXM: 0, SXM: 0, C2C: 0 };
  const push = (name: string, slice: Slice) =>
    queues.push({ id: queues.length, name, unit: slice.unit, slice, position: slice.position, unitIndex: counters[slice.unit]++ });
  for (const s of slices) {
    if (s.unit === 'MEM') push(s.name, s);
    else if (s.unit === 'SXM') push(s.name, s);
    else if (s.unit === 'VXM') for (let a = 0; a < chip.vxmAlus; a++) push(`VXM.${a}`, s);
    else if (s.unit === 'C2C') {
      const [from, to] = s.name === 'C2C.W' ? [0, westLinks] : [westLinks, chip.c2cLinks];
      for (let l = from; l < to; l++) push(`C2C.${l}`, s);
    }
    else {
      const side = s.name.endsWith('W') ? 'W' : 'E';
      for (let p = 0; p < chip.mxmPlanesPerHemisphere; p++) push(`MXM.${side}${p}`, s);
    }
  }
  const S = chip.streamsPerDirection;
  const fp: Floorplan = {
    positions: slices[slices.length - 1].position + 1,
    slices,
    queues,
    queueByName: new Map(queues.map((q) => [q.name, q])),
    memSlices: slices.filter((s) => s.unit === 'MEM'),
    streamName: (id) => (id < S ? `E${id}` : `W${id - S}`),
    streamId: (name) => {
      const m = /^([EW])(\d+)$/.exec(name);
      if (!m) return undefined;
      const i = Number(m[2]);
      if (i >= S) return undefined;
      return m[1] === 'E' ? i : S + i;
    },
  };
  cache.set(chip, fp);
  return fp;
}
