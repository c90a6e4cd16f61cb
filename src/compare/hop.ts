// One chip-to-chip hop of an fp32 activation between pipeline stages: the rows of a tensor on
// the sending chip (a layer's output y) become the rows of a tensor on the receiving chip (the
// next layer's input x), over one C2C link, as a fixed schedule.
//
// The schedule (every figure from the chip preset; ISCA22's link model, docs/system.md):
//  - the sender reads row r from its slices so that all 4 byte planes reach the link's position
//    on t_r = t0 + r x busy, and SENDs them as one 4-vector message on t_r;
//    busy = 4 x c2cVectorCycles (the link serialises one 320-byte vector per c2cVectorCycles);
//  - the message is in the receiver's buffer on t_r + busy + c2cLatencyCycles; the receiver RECVs
//    it then, it is on the streams at the link after delays.c2cRecv and travels to the
//    destination slices, where it is written (WRITE on arrival, readable 2 cycles later, as the
//    layer compiler's writeRow);
//  - t0 is the earliest cycle on which every read can issue (memRead plus the farthest slice's
//    travel to the link), counted from the first cycle after the sending program's last HALT.
// So a hop costs  1 + t0 + rows x 4 x c2cVectorCycles + c2cLatencyCycles + c2cRecv + travel + 2
// cycles: on tsp-v1 about 216 + rows x 96 + ~100 (an fp32 hidden row of Llama-3-8B is 13 rows of
// 4 vectors: 52 vectors, 1,464 cycles of link plus the fixed part).
//
// planHop returns both the cycle count (what the whole-model composition adds per hop) and the
// instructions (what pipeline-program.ts puts into a multi-chip program, so that a test can
// check the count against the emulator).
import type { ChipConfig } from '../chip/config.js';
import { floorplan } from '../chip/floorplan.js';

/** An fp32 tensor's placement: its slices in plane order (the compiler splits fp32 over 2). */
export interface HopTensor {
  name: string;
  slices: string[];
}

export interface HopInstruction {
  queue: string;
  /** Cycle relative to the hop's start. */
  cycle: number;
  text: string;
}

export interface HopPlan {
  /** Rows (4-vector fp32 rows) sent. */
  rows: number;
  /** Vectors on the link: rows x 4. */
  vectors: number;
  /** Relative cycle from which the receiving program may run (every row written and readable). */
  ready: number;
  /**
   * What the hop adds to a chain of programs: from the sender's last HALT (its cycles minus the
   * superlane stagger) to the receiver's cycle 0, i.e. 1 + ready.
   */
  cycles: number;
  send: HopInstruction[];
  recv: HopInstruction[];
}

/** Bytes per fp32 element = vectors per row. */
const WIDTH = 4;

function linkPosition(chip: ChipConfig, link: number): { slice: string; pos: number } {
  const plan = floorplan(chip);
  const west = Math.ceil(chip.c2cLinks / 2);
  const slice = link < west ? 'C2C.W' : 'C2C.E';
  const s = plan.slices.find((x) => x.name === slice);
  if (!s || link >= chip.c2cLinks) throw new Error(`internal: ${chip.name} has no C2C link ${link}`);
  return { slice, pos: s.position };
}

function positionOf(chip: ChipConfig, slice: string): number {
  const s = floorplan(chip).slices.find((x) => x.name === slice);
  if (!s) throw new Error(`internal: no slice ${slice} on ${chip.name}`);
  return s.position;
}

/** Stream name: eastward (ids 0..S-1 are E) or westward. */
function stream(east: boolean, k: number): string {
  return `${east ? 'E' : 'W'}${k}`;
}

/**
 * The hop of `rows` fp32 rows from `from` (on the sending chip, via its link `sendLink`) to `to`
 * (on the receiving chip, arriving on its link `recvLink`).
 */
export function planHop(chip: ChipConfig, from: HopTensor, to: HopTensor, rows: number, sendLink = 0, recvLink = 0): HopPlan {
  const d = chip.delays;
  const hop = chip.hopCycles;
  const busy = WIDTH * chip.c2cVectorCycles;
  for (const t of [from, to]) {
    if (WIDTH % t.slices.length !== 0 || WIDTH / t.slices.length > chip.memPorts) {
      throw new Error(`internal: hop of ${t.name} over ${t.slices.length} slice(s): ${WIDTH / t.slices.length} planes per slice exceed ${chip.memPorts} ports`);
    }
  }
  const tx = linkPosition(chip, sendLink);
  const rx = linkPosition(chip, recvLink);
  const src = from.slices.map((s) => positionOf(chip, s));
  const dst = to.slices.map((s) => positionOf(chip, s));
  const sendEast = src.every((p) => p < tx.pos);
  if (!sendEast && !src.every((p) => p > tx.pos)) throw new Error(`internal: ${from.name} straddles the link`);
  const recvEast = dst.every((p) => p > rx.pos);
  if (!recvEast && !dst.every((p) => p < rx.pos)) throw new Error(`internal: ${to.name} straddles the link`);
  const pIn = WIDTH / from.slices.length;
  const pOut = WIDTH / to.slices.length;
  const travel = (a: number, b: number) => Math.abs(a - b) * hop;
  const t0 = d.memRead + Math.max(...src.map((p) => travel(p, tx.pos)));
  const send: HopInstruction[] = [];
  const recv: HopInstruction[] = [];
  let ready = 0;
  for (let r = 0; r < rows; r++) {
    const t = t0 + r * busy;
    from.slices.forEach((s, i) => {
      send.push({ queue: s, cycle: t - d.memRead - travel(src[i]!, tx.pos), text: `READ ${from.name}[${r}], ${stream(sendEast, i * pIn)}` });
    });
    send.push({ queue: `C2C.${sendLink}`, cycle: t, text: `SEND ${stream(sendEast, 0)}, ${WIDTH}` });
    const arrive = t + busy + chip.c2cLatencyCycles;
    recv.push({ queue: `C2C.${recvLink}`, cycle: arrive, text: `RECV ${stream(recvEast, 0)}, ${WIDTH}` });
    to.slices.forEach((s, j) => {
      const at = arrive + d.c2cRecv + travel(rx.pos, dst[j]!);
      recv.push({ queue: s, cycle: at, text: `WRITE ${to.name}[${r}], ${stream(recvEast, j * pOut)}` });
      ready = Math.max(ready, at + 2);
    });
  }
  send.sort((a, b) => a.cycle - b.cycle);
  recv.sort((a, b) => a.cycle - b.cycle);
  return { rows, vectors: rows * WIDTH, ready, cycles: 1 + ready, send, recv };
}

/**
 * Cycles of a chain of programs joined by hops: each program runs until its last HALT (its
 * cycles minus the superlane stagger), each hop adds its cycles, and the last program's stagger
 * is paid once at the end. This is what a multi-chip program of the chain takes (tests check it
 * against the emulator).
 */
export function chainCycles(chip: ChipConfig, programs: number[], hops: number[]): number {
  if (hops.length !== programs.length - 1) throw new Error('internal: a chain of n programs has n - 1 hops');
  const stagger = chip.superlanes - 1;
  return programs.reduce((a, c) => a + c - stagger, 0) + hops.reduce((a, h) => a + h, 0) + stagger;
}
