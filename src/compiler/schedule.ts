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
    // thrown and caught by the thousand while placements are tried (Schedule.attempt): without a
    // stack trace, which would cost more than the placement; the message says what collided
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`schedule conflict (a compiler bug): ${message}`);
    Error.stackTraceLimit = limit;
  }
}

interface Placed {
  cycle: number;
  /** First cycle after the instruction (and its repeats) stops occupying the queue. */
  end: number;
  text: string;
  comment?: string;
  repeat?: { n: number; d: number };
}

export interface TensorDecl {
  name: string;
  dtype: string;
  rows: number;
  cols: number;
  placement: { slice: string; addr: number }[];
  init?: string;
  /** Initial bytes (row-major, little-endian), one array for every chip or one per chip of a
   * tensor-parallel layer; emitted as file("<dataDir>/<name>.bin"). */
  data?: Uint8Array | Uint8Array[];
  output?: boolean;
}

/** Index of the span in `list` (flat lo, hi pairs) that overlaps lo..hi, or -1. */
function overlapAt(list: number[] | undefined, lo: number, hi: number): number {
  if (list) for (let i = 0; i < list.length; i += 2) if (lo <= list[i + 1]! && list[i]! <= hi) return i;
  return -1;
}

export class Schedule {
  readonly chip: ChipConfig;
  readonly plan: Floorplan;
  private readonly queues = new Map<string, { items: Placed[]; last: Placed | null }>();
  /** Per stream id: flight -> the position spans held on it, flat (lo, hi, lo, hi, ...). */
  private readonly spans: Map<number, number[]>[] = [];
  /** Per MEM slice: cycle -> ports used. */
  private readonly ports = new Map<string, Map<number, number>>();
  /** Busy intervals of each C2C link queue. */
  private readonly links = new Map<string, [number, number][]>();
  private readonly ready = new Map<string, number>();
  /** Streams that pickStreams offers last (see keepLast). */
  private readonly keptLast = new Set<number>();
  readonly tensors: TensorDecl[] = [];
  readonly notes: string[] = [];
  /** Undo steps of the open trial (see attempt). */
  private undo: (() => void)[] | null = null;

  constructor(chip: ChipConfig) {
    this.chip = chip;
    this.plan = floorplan(chip);
  }

  /**
   * Runs `place` for start cycles from `earliest` on, until it places everything without a
   * conflict; a failed try is undone. Returns the cycle that worked.
   */
  attempt(earliest: number, place: (cycle: number) => void, what: string, tries = 50_000): number {
    let last = '';
    // attempts nest: what an inner attempt placed is undone with a failed try of the outer one
    const outer = this.undo;
    for (let c = earliest; c < earliest + tries; c++) {
      const undo: (() => void)[] = [];
      this.undo = undo;
      try {
        place(c);
        this.undo = outer;
        if (outer) for (const u of undo) outer.push(u);
        return c;
      } catch (e) {
        this.undo = outer;
        for (let i = undo.length - 1; i >= 0; i--) undo[i]();
        if (!(e instanceof ScheduleConflict)) throw e;
        last = e.message.replace('schedule conflict (a compiler bug): ', '');
      }
    }
    throw new ScheduleConflict(`${what}: nothing fits in ${tries} cycles from ${earliest} (last try: ${last})`);
  }

  queue(name: string): Queue {
    const q = this.plan.queueByName.get(name);
    if (!q) throw new ScheduleConflict(`no queue ${name} on ${this.chip.name}`);
    return q;
  }

  /** The first cycle after everything placed in queue `name` so far. */
  free(name: string): number {
    const items = this.queues.get(name)?.items;
    return items?.length ? items[items.length - 1].end : 0;
  }

  /** Places `text` (one instruction, e.g. "READ w[0], W0, 2") on `cycle` in queue `name`. The
   * queue may be filled in any order; what is placed must not overlap in time. */
  issue(name: string, cycle: number, text: string, comment?: string): void {
    this.queue(name);
    let q = this.queues.get(name);
    if (!q) {
      q = { items: [], last: null };
      this.queues.set(name, q);
    }
    const [mn, dt] = text.trim().split(/\s+/)[0].split('.');
    const ins = instructionByMnemonic(mn);
    if (!ins) throw new ScheduleConflict(`unknown instruction ${mn}`);
    if (!Number.isInteger(cycle) || cycle < 0) throw new ScheduleConflict(`${name}: ${text} on cycle ${cycle}`);
    const dtCode = dt ? dtypeByName(dt)?.code ?? 0 : 0;
    const item: Placed = { cycle, end: cycle + issueCycles(ins.opcode, dtCode, 0), text, comment };
    this.insert(name, q.items, item);
    q.last = item;
  }

  private insert(name: string, items: Placed[], item: Placed): void {
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items[mid].cycle < item.cycle) lo = mid + 1;
      else hi = mid;
    }
    const prev = items[lo - 1];
    const next = items[lo];
    if (prev && prev.end > item.cycle) throw new ScheduleConflict(`${name}: ${item.text} on ${item.cycle}, but ${prev.text} (from ${prev.cycle}) holds the queue until ${prev.end}`);
    if (next && item.end > next.cycle) throw new ScheduleConflict(`${name}: ${item.text} on ${item.cycle} would run into ${next.text} on ${next.cycle}`);
    items.splice(lo, 0, item);
    this.undo?.push(() => items.splice(items.indexOf(item), 1));
  }

  /** Repeats the queue's last placed instruction n more times, d cycles apart. */
  repeat(name: string, n: number, d: number): void {
    const q = this.queues.get(name);
    const last = q?.last;
    if (!q || !last) throw new ScheduleConflict(`${name}: REPEAT with nothing to repeat`);
    if (n < 1) return;
    const occ = last.end - last.cycle;
    const idx = q.items.indexOf(last);
    q.items.splice(idx, 1);
    this.undo?.push(() => q.items.splice(idx, 0, last));
    const grown: Placed = { ...last, end: last.cycle + n * d + occ, repeat: { n, d } };
    this.insert(name, q.items, grown);
    q.last = grown;
  }

  /** Position of a slice by name. */
  position(slice: string): number {
    const s = this.plan.slices.find((x) => x.name === slice);
    if (!s) throw new ScheduleConflict(`no slice ${slice} on ${this.chip.name}`);
    return s.position;
  }

  /** Cycles a value takes from position `from` to `to` along a stream. */
  travel(from: number, to: number): number {
    return Math.abs(to - from) * this.chip.hopCycles;
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
    return cycle + this.travel(from, to);
  }

  /** True if positions lo..hi of one flight of streams id .. id+width-1 are free. */
  spanFree(id: number, width: number, flight: number, lo: number, hi: number): boolean {
    for (let s = id; s < id + width; s++) {
      if (overlapAt(this.spans[s]?.get(flight), lo, hi) >= 0) return false;
    }
    return true;
  }

  /**
   * The first stream group (base aligned to `width`, in one direction) on which every value in
   * `values` can travel: each value is a sub-group [offset, width) written at `from` on `cycle`
   * and read at `to`. Claims them and returns the base stream id.
   */
  pickStreams(east: boolean, width: number, values: { offset: number; width: number; from: number; cycle: number; to: number }[], what: string): number {
    const S = this.chip.streamsPerDirection;
    // groups holding a stream kept for last (the MXM planes' x streams) are tried last
    const order: number[] = [];
    const later: number[] = [];
    for (let b = 0; b + width <= S; b += width) {
      const base = east ? b : S + b;
      let kept = false;
      for (let s = base; s < base + width; s++) if (this.keptLast.has(s)) kept = true;
      (kept ? later : order).push(base);
    }
    for (const base of [...order, ...later]) {
      const ok = values.every((v) => {
        const f = this.flight(base, v.from, v.cycle);
        return this.spanFree(base + v.offset, v.width, f, Math.min(v.from, v.to), Math.max(v.from, v.to));
      });
      if (!ok) continue;
      for (const v of values) this.claimFlight(base + v.offset, v.width, v.from, v.cycle, v.to, what);
      return base;
    }
    throw new ScheduleConflict(`${what}: no free ${east ? 'eastward' : 'westward'} group of ${width} streams`);
  }

  /** Reserves positions lo..hi of one flight of streams id .. id+width-1. */
  claimStreams(id: number, width: number, flight: number, lo: number, hi: number, what: string): void {
    for (let s = id; s < id + width; s++) {
      const flights = (this.spans[s] ??= new Map());
      const held = flights.get(flight) ?? [];
      const i = overlapAt(held, lo, hi);
      if (i >= 0) throw new ScheduleConflict(`${what}: stream ${this.plan.streamName(s)} flight ${flight} positions ${lo}..${hi} overlap ${held[i]}..${held[i + 1]}`);
      if (!held.length) flights.set(flight, held);
      held.push(lo, hi);
      this.undo?.push(() => {
        // undone in reverse order, so the span is the last one with these bounds
        for (let i = held.length - 2; i >= 0; i -= 2) {
          if (held[i] === lo && held[i + 1] === hi) {
            held.splice(i, 2);
            break;
          }
        }
        if (!held.length) flights.delete(flight);
      });
    }
  }

  /** Reserves a value written at `from` on `cycle` and read at `to` on streams id..id+width-1. */
  claimFlight(id: number, width: number, from: number, cycle: number, to: number, what: string): number {
    const at = this.arrival(id, from, cycle, to);
    this.claimStreams(id, width, this.flight(id, from, cycle), Math.min(from, to), Math.max(from, to), what);
    return at;
  }

  /** Streams to offer other values last: the MXM planes' first streams, which carry x into the
   * planes for long runs of cycles (weight-store.ts). */
  keepLast(ids: number[]): void {
    for (const id of ids) this.keptLast.add(id);
  }

  /** Records that `key` (a tensor row) holds its new value from `cycle` on. */
  markReady(key: string, cycle: number): void {
    const before = this.ready.get(key);
    this.ready.set(key, cycle);
    this.undo?.push(() => (before === undefined ? this.ready.delete(key) : this.ready.set(key, before)));
  }

  /** The cycle from which `key` (a tensor row) holds its last written value, if it was written. */
  readyAt(key: string): number | undefined {
    return this.ready.get(key);
  }

  /** A read of `key` issued on `cycle` must come after its last write (a conflict otherwise). */
  checkReady(key: string, cycle: number, what: string): void {
    const r = this.ready.get(key);
    if (r !== undefined && cycle < r) throw new ScheduleConflict(`${what}: ${key} is read on ${cycle}, before its write lands on ${r}`);
  }

  /** A C2C link serialises one message at a time: claims [cycle, cycle + busy) of `queue`. */
  claimLink(queue: string, cycle: number, busy: number, what: string): void {
    const list = this.links.get(queue) ?? [];
    this.links.set(queue, list);
    const clash = list.find(([a, b]) => cycle < b && a < cycle + busy);
    if (clash) throw new ScheduleConflict(`${what}: ${queue} is still sending (cycles ${clash[0]}..${clash[1] - 1})`);
    list.push([cycle, cycle + busy]);
    this.undo?.push(() => list.pop());
  }

  claimPorts(slice: string, cycle: number, n: number, what: string): void {
    let cycles = this.ports.get(slice);
    if (!cycles) this.ports.set(slice, (cycles = new Map()));
    const used = (cycles.get(cycle) ?? 0) + n;
    if (used > this.chip.memPorts) throw new ScheduleConflict(`${what}: ${slice} needs ${used} ports on cycle ${cycle}`);
    cycles.set(cycle, used);
    const held = cycles;
    this.undo?.push(() => (used - n ? held.set(cycle, used - n) : held.delete(cycle)));
  }

  addTensor(t: TensorDecl): void {
    this.tensors.push(t);
  }

  /** The first cycle on which every queue placed so far is free (an op boundary). */
  quiet(): number {
    let last = 0;
    for (const name of this.queues.keys()) last = Math.max(last, this.free(name));
    return last;
  }

  /** Cycle the chip finishes on: every used queue halts when it is free; the last halt plus the
   * superlane stagger. */
  predictedCycles(): number {
    let last = 0;
    for (const name of this.queues.keys()) last = Math.max(last, this.free(name));
    return last + this.chip.superlanes - 1;
  }

  /** The file a tensor's data is read from, relative to the program: `<dataDir>/<name>.bin`. */
  static dataFile(dataDir: string, tensor: string): string {
    return `${dataDir}/${tensor}.bin`;
  }

  /** The program as assembly text, every queue ending in HALT. Tensors given `data` are read
   * from `<dataDir>/<name>.bin` (see dataFile); `lines` go before the tensors (e.g. `.system`). */
  toSource(header: string[] = [], opts: { dataDir?: string; lines?: string[] } = {}): string {
    const out: string[] = [];
    for (const h of header) out.push(`; ${h}`);
    for (const n of this.notes) out.push(`; ${n}`);
    for (const l of opts.lines ?? []) out.push(l);
    out.push(`.chip ${this.chip.name}`);
    for (const t of this.tensors) {
      const at = t.placement.map((p) => `${p.slice}:${p.addr}`).join(', ');
      const init = t.data ? `file("${Schedule.dataFile(opts.dataDir ?? 'data', t.name)}")` : t.init;
      out.push(`.tensor ${t.name} ${t.dtype}[${t.rows},${t.cols}] @ ${at}${init ? ` = ${init}` : ''}`);
    }
    const outputs = this.tensors.filter((t) => t.output).map((t) => t.name);
    if (outputs.length) out.push(`.output ${outputs.join(' ')}`);
    const names = [...this.queues.keys()].sort((a, b) => this.queue(a).id - this.queue(b).id);
    for (const name of names) {
      const q = this.queues.get(name)!;
      out.push(`.queue ${name}`);
      for (const it of q.items) {
        out.push(`  ${`@${it.cycle}`.padEnd(8)} ${it.text}${it.comment ? `    ; ${it.comment}` : ''}`);
        if (it.repeat) out.push(`  ${''.padEnd(8)} REPEAT ${it.repeat.n}, ${it.repeat.d}`);
      }
      out.push(`  ${`@${this.free(name)}`.padEnd(8)} HALT`);
    }
    return out.join('\n') + '\n';
  }
}
