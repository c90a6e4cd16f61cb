// Issue history of one core, harvested from the core's TRACE ring (i64 cycle, i32 queue, i32 pc
// per 16-byte event; STATE.traceCount counts them). The ring only holds the latest events, so the
// machine harvests it after every run call and appends what is new here. Events are appended in
// cycle order (the core issues cycles in order, queues in id order within a cycle) and never
// rewritten: the machine is deterministic, so replaying cycles that were already recorded adds
// nothing. Used by the timeline, the floorplan's superlane wave and `sramflow trace`.
import type { Core } from '../../chip/core.js';
import { REGION, STATE, TRACE_EVENT_BYTES } from '../../chip/memory-map.js';

export class IssueHistory {
  /** Issue cycle, queue id and instruction index of each event, in order. */
  cycles = new Float64Array(1024);
  queues = new Uint16Array(1024);
  pcs = new Int32Array(1024);
  length = 0;
  /** Every event with cycle < frontier is recorded (events at the frontier may be partial only
   * after an error, which never runs further). */
  frontier = 0;
  /** True once events were dropped: the cap was reached or the ring overflowed between harvests. */
  truncated = false;

  constructor(readonly maxEvents = 4_000_000) {}

  private grow(): void {
    const n = this.cycles.length * 2;
    const c = new Float64Array(n);
    c.set(this.cycles);
    const q = new Uint16Array(n);
    q.set(this.queues);
    const p = new Int32Array(n);
    p.set(this.pcs);
    this.cycles = c;
    this.queues = q;
    this.pcs = p;
  }

  push(cycle: number, queue: number, pc: number): void {
    if (this.length >= this.maxEvents) {
      this.truncated = true;
      return;
    }
    if (this.length === this.cycles.length) this.grow();
    this.cycles[this.length] = cycle;
    this.queues[this.length] = queue;
    this.pcs[this.length] = pc;
    this.length++;
  }

  /** Index of the first event with cycle >= c. */
  lowerBound(c: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cycles[mid] < c) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Reads the events the core traced since the count was `countBefore` and appends those not yet
 * recorded. Events before the cycle the core stopped on are complete; after an error the failing
 * cycle's are too (the machine never runs past an error). */
export function harvest(core: Core, h: IssueHistory, countBefore: number, errorStop: boolean): void {
  const v = new DataView(core.memory.buffer);
  const state = core.region(REGION.STATE).offset;
  const ring = core.region(REGION.TRACE);
  const cap = ring.size / TRACE_EVENT_BYTES;
  const countAfter = Number(v.getBigInt64(state + STATE.traceCount, true));
  if (cap > 0 && countAfter > countBefore) {
    let from = countBefore;
    if (countAfter - countBefore > cap) {
      h.truncated = true;
      from = countAfter - cap;
    }
    for (let i = from; i < countAfter; i++) {
      const e = ring.offset + (i % cap) * TRACE_EVENT_BYTES;
      const c = Number(v.getBigInt64(e, true));
      if (c < h.frontier) continue;
      h.push(c, v.getInt32(e + 8, true), v.getInt32(e + 12, true));
    }
  }
  const stopCycle = core.cycle;
  const f = errorStop ? stopCycle + 1 : stopCycle;
  if (f > h.frontier) h.frontier = f;
}

export function traceCount(core: Core): number {
  const v = new DataView(core.memory.buffer);
  return Number(v.getBigInt64(core.region(REGION.STATE).offset + STATE.traceCount, true));
}
