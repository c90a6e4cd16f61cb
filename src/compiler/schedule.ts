// A static schedule under construction: every instruction placed on an exact cycle in its queue,
// with the resources it holds reserved, so that a conflict is found when the compiler places it
// rather than when the chip runs it. It emits assembly text (readable, runnable on its own) and
// the cycle count the chip will take, which the emulator must then reproduce exactly.
//
// Reservations mirror the core's rules (docs/machine.md):
//  - a queue issues in order; an instruction occupies it for its issue cycles;
//  - a MEM slice makes at most memPorts vector accesses per cycle (a WRITE uses its ports the
//    cycle after it issues);
//  - a value on a stream holds the span of positions from its writer to its last reader on its
//    flight (w = cycle - position*hop eastward, cycle + position*hop westward); spans of one
//    flight must not overlap (other writers may use the rest of the flight: segments).
import type { ChipConfig } from '../chip/config.js';
import { floorplan, type Floorplan, type Queue } from '../chip/floorplan.js';
import { issueCycles, instructionByMnemonic } from '../isa/table.js';
import { dtypeByName } from '../isa/dtypes.js';

export class ScheduleConflict extends Error {
  constructor(message: string) {
    super(`schedule conflict (a compiler bug): ${message}`);
  }
}

interface Placed {
  cycle: number;
  text: string;
  comment?: string;
}

export interface TensorDecl {
  name: string;
  dtype: string;
  rows: number;
  cols: number;
  placement: { slice: string; addr: number }[];
  init?: string;
  output?: boolean;
}

export class Schedule {
  readonly chip: ChipConfig;
  readonly plan: Floorplan;
  private readonly queues = new Map<string, { free: number; items: Placed[] }>();
  private readonly spans = new Map<string, [number, number][]>();
  private readonly ports = new Map<string, number>();
  readonly tensors: TensorDecl[] = [];
  readonly notes: string[] = [];

  constructor(chip: ChipConfig) {
    this.chip = chip;
    this.plan = floorplan(chip);
  }

  queue(name: string): Queue {
    const q = this.plan.queueByName.get(name);
    if (!q) throw new ScheduleConflict(`no queue ${name} on ${this.chip.name}`);
    return q;
  }

  /** The first cycle queue `name` can issue on. */
  free(name: string): number {
    return this.queues.get(name)?.free ?? 0;
  }

  /** Places `text` (one instruction, e.g. "READ w[0], W0, 2") on `cycle` in queue `name`. */
  issue(name: string, cycle: number, text: string, comment?: string): void {
    this.queue(name);
    let q = this.queues.get(name);
    if (!q) {
      q = { free: 0, items: [] };
      this.queues.set(name, q);
    }
    if (cycle < q.free) throw new ScheduleConflict(`${name}: ${text} on ${cycle}, but the queue is busy until ${q.free}`);
    const [mn, dt] = text.trim().split(/\s+/)[0].split('.');
    const ins = instructionByMnemonic(mn);
    if (!ins) throw new ScheduleConflict(`unknown instruction ${mn}`);
    const dtCode = dt ? dtypeByName(dt)?.code ?? 0 : 0;
    q.items.push({ cycle, text, comment });
    q.free = cycle + issueCycles(ins.opcode, dtCode, 0);
  }

  /** Repeats the queue's last instruction n more times, d cycles apart. */
  repeat(name: string, n: number, d: number): void {
    const q = this.queues.get(name);
    if (!q || q.items.length === 0) throw new ScheduleConflict(`${name}: REPEAT with nothing to repeat`);
    if (n < 1) return;
    const last = q.items[q.items.length - 1];
    const occ = q.free - last.cycle;
    q.items.push({ cycle: -1, text: `REPEAT ${n}, ${d}` });
    q.free = last.cycle + n * d + occ;
  }

  /** Flight key of stream `id` at `pos` on `cycle`. */
  flight(id: number, pos: number, cycle: number): number {
    const hop = this.chip.hopCycles;
    return id < this.chip.streamsPerDirection ? cycle - pos * hop : cycle + pos * hop;
  }

  /** Cycle on which a value written at `from` on `cycle` passes `to` (in its direction). */
  arrival(id: number, from: number, cycle: number, to: number): number {
    const east = id < this.chip.streamsPerDirection;
    if (east ? to < from : to > from) throw new ScheduleConflict(`stream ${this.plan.streamName(id)} flows ${east ? 'east' : 'west'}: ${from} cannot reach ${to}`);
    return cycle + Math.abs(to - from) * this.chip.hopCycles;
  }

  /** Reserves positions lo..hi of one flight of streams id .. id+width-1. */
  claimStreams(id: number, width: number, flight: number, lo: number, hi: number, what: string): void {
    for (let s = id; s < id + width; s++) {
      const key = `${s}:${flight}`;
      const list = this.spans.get(key) ?? [];
      for (const [a, b] of list) {
        if (lo <= b && a <= hi) throw new ScheduleConflict(`${what}: stream ${this.plan.streamName(s)} flight ${flight} positions ${lo}..${hi} overlap ${a}..${b}`);
      }
      list.push([lo, hi]);
      this.spans.set(key, list);
    }
  }

  /** Reserves a value written at `from` on `cycle` and read at `to` on streams id..id+width-1. */
  claimFlight(id: number, width: number, from: number, cycle: number, to: number, what: string): number {
    const at = this.arrival(id, from, cycle, to);
    this.claimStreams(id, width, this.flight(id, from, cycle), Math.min(from, to), Math.max(from, to), what);
    return at;
  }

  claimPorts(slice: string, cycle: number, n: number, what: string): void {
    const key = `${slice}:${cycle}`;
    const used = (this.ports.get(key) ?? 0) + n;
    if (used > this.chip.memPorts) throw new ScheduleConflict(`${what}: ${slice} needs ${used} ports on cycle ${cycle}`);
    this.ports.set(key, used);
  }

  addTensor(t: TensorDecl): void {
    this.tensors.push(t);
  }

  /** Cycle the chip finishes on: every used queue halts when it is free; the last halt plus the
   * superlane stagger. */
  predictedCycles(): number {
    let last = 0;
    for (const q of this.queues.values()) last = Math.max(last, q.free);
    return last + this.chip.superlanes - 1;
  }

  /** The program as assembly text, every queue ending in HALT. */
  toSource(header: string[] = []): string {
    const out: string[] = [];
    for (const h of header) out.push(`; ${h}`);
    for (const n of this.notes) out.push(`; ${n}`);
    out.push(`.chip ${this.chip.name}`);
    for (const t of this.tensors) {
      const at = t.placement.map((p) => `${p.slice}:${p.addr}`).join(', ');
      out.push(`.tensor ${t.name} ${t.dtype}[${t.rows},${t.cols}] @ ${at}${t.init ? ` = ${t.init}` : ''}`);
    }
    const outputs = this.tensors.filter((t) => t.output).map((t) => t.name);
    if (outputs.length) out.push(`.output ${outputs.join(' ')}`);
    const names = [...this.queues.keys()].sort((a, b) => this.queue(a).id - this.queue(b).id);
    for (const name of names) {
      const q = this.queues.get(name)!;
      out.push(`.queue ${name}`);
      for (const it of q.items) {
        const at = it.cycle >= 0 ? `@${it.cycle}` : '';
        out.push(`  ${at.padEnd(8)} ${it.text}${it.comment ? `    ; ${it.comment}` : ''}`);
      }
      out.push(`  ${`@${q.free}`.padEnd(8)} HALT`);
    }
    return out.join('\n') + '\n';
  }
}
