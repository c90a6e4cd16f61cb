// Read-only views of one core's state for the page: queue states, the values in flight on the
// streams (from the stream meta), stream payloads. All read straight from the Wasm memory.
import type { Core } from '../../chip/core.js';
import type { Program, QueueProgram } from '../../asm/program.js';
import { REGION, QSTATE, QSTATE_BYTES, QUEUE_STATUS, STREAM_META_BYTES, STREAM_WRITERS, streamEntry } from '../../chip/memory-map.js';
import { formatInstruction } from './format.js';

export interface QueueNow {
  id: number;
  name: string;
  status: number;
  /** Next instruction index (the repeated one while repeating). */
  pc: number;
  next: number;
  repLeft: number;
  /** Issues on the core's current cycle. */
  issuing: boolean;
}

export interface InFlight {
  stream: number;
  slot: number;
  /** The writer entry whose value is at `position` (a flight may carry up to STREAM_WRITERS
   * segments: a writer further along replaces the value from its own position on). */
  entry: number;
  /** Writers of this flight so far (segments). */
  writers: number;
  w: number;
  /** Position along the chip now (fractional when hop > 1). */
  position: number;
  writerPosition: number;
  writerQueue: number;
  writerPc: number;
}

export class ChipInspector {
  readonly queuePrograms: (QueueProgram | null)[];
  private readonly textCache = new Map<number, string>();
  readonly ring: number;

  constructor(readonly core: Core, readonly program: Program) {
    const byName = new Map(program.queues.map((q) => [q.name, q]));
    this.queuePrograms = core.plan.queues.map((q) => byName.get(q.name) ?? null);
    const S = core.chip.streamsPerDirection;
    this.ring = core.region(REGION.STREAM_META).size / (2 * S * STREAM_WRITERS * STREAM_META_BYTES);
  }

  queue(id: number): QueueNow {
    const v = new DataView(this.core.memory.buffer);
    const o = this.core.region(REGION.QSTATE).offset + id * QSTATE_BYTES;
    const status = v.getInt32(o + QSTATE.status, true);
    const repLeft = v.getInt32(o + QSTATE.repLeft, true);
    const pc = repLeft > 0 ? v.getInt32(o + QSTATE.repPc, true) : v.getInt32(o + QSTATE.pc, true);
    const next = Number(v.getBigInt64(o + QSTATE.next, true));
    const q = this.core.plan.queues[id];
    return { id, name: q.name, status, pc, next, repLeft, issuing: status === QUEUE_STATUS.RUNNING && next === this.core.cycle };
  }

  /** Queues with a program, in id (west to east) order. */
  activeQueues(): number[] {
    const out: number[] = [];
    this.queuePrograms.forEach((q, i) => q && out.push(i));
    return out;
  }

  text(qid: number, pc: number): string {
    const key = qid * 16777216 + pc;
    let t = this.textCache.get(key);
    if (t === undefined) {
      const qp = this.queuePrograms[qid];
      t = qp ? formatInstruction(qp, pc, this.core.plan, this.program) : '(no program)';
      this.textCache.set(key, t);
    }
    return t;
  }

  line(qid: number, pc: number): number | null {
    return this.queuePrograms[qid]?.lines[pc]?.line ?? null;
  }

  /** Values on the streams now. Stream slot (s, w & (RING-1)) holds up to STREAM_WRITERS writer
   * entries of its latest flight w (the first entry, at streamEntry(.., 0), always belongs to it
   * and counts the flight's writers). On cycle c the flight is at position (c - w)/hop (eastward)
   * or (w - c)/hop (westward); it shows there when it is on chip and a writer sits at or upstream
   * of it, and the value there is the nearest such writer's. */
  inFlight(): InFlight[] {
    const core = this.core;
    const c = core.cycle;
    const S = core.chip.streamsPerDirection;
    const hop = core.chip.hopCycles;
    const P = core.plan.positions;
    const v = new DataView(core.memory.buffer);
    const base = core.region(REGION.STREAM_META).offset;
    const out: InFlight[] = [];
    const R = this.ring;
    const at = (s: number, i: number, k: number) => base + streamEntry(2 * S, R, s, i, k) * STREAM_META_BYTES;
    for (let s = 0; s < 2 * S; s++) {
      const east = s < S;
      for (let i = 0; i < R; i++) {
        const o0 = at(s, i, 0);
        const hi = v.getInt32(o0 + 4, true);
        if (hi === -2147483648) continue; // empty slot
        const lo = v.getInt32(o0, true);
        const w = hi * 4294967296 + (lo >>> 0);
        const p = east ? (c - w) / hop : (w - c) / hop;
        if (p < 0 || p > P - 1) continue;
        let best = -1;
        let bestPos = 0;
        const writers = Math.min(v.getInt32(o0 + 20, true), STREAM_WRITERS);
        for (let k = 0; k < writers; k++) {
          const wp = v.getInt16(at(s, i, k) + 8, true);
          if ((east ? wp <= p : wp >= p) && (best < 0 || (east ? wp > bestPos : wp < bestPos))) {
            best = k;
            bestPos = wp;
          }
        }
        if (best < 0) continue;
        const o = at(s, i, best);
        out.push({ stream: s, slot: i, entry: best, writers, w, position: p, writerPosition: bestPos, writerQueue: v.getInt16(o + 10, true), writerPc: v.getInt32(o + 12, true) });
      }
    }
    return out;
  }

  /** The payload bytes of a value in flight (lanes bytes): the entry's own, or the SRAM vector
   * its reference names (index + 1: a READ from a slice no instruction writes). */
  payload(f: InFlight): Uint8Array {
    const d = this.core.region(REGION.STREAM_DATA);
    const L = this.core.chip.lanes;
    if (d.size === 0) return new Uint8Array(0);
    const i = streamEntry(2 * this.core.chip.streamsPerDirection, this.ring, f.stream, f.slot, f.entry);
    const ref = new DataView(this.core.memory.buffer).getUint32(this.core.region(REGION.STREAM_META).offset + i * STREAM_META_BYTES + 16, true);
    const o = ref !== 0 ? this.core.region(REGION.SRAM).offset + (ref - 1) * L : d.offset + i * L;
    return new Uint8Array(this.core.memory.buffer, o, L).slice();
  }

  /** The cycle a value was written at its writer's position. */
  writtenAt(f: InFlight): number {
    const hop = this.core.chip.hopCycles;
    return f.stream < this.core.chip.streamsPerDirection ? f.w + f.writerPosition * hop : f.w - f.writerPosition * hop;
  }
}
