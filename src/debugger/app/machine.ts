// The debugger's machine: one chip, or several chips joined by C2C links run in lockstep, with
// breakpoints and time travel. DOM-free: the page drives it, and so do `sramflow trace` and the
// tests in Node.
//
// Lockstep (as src/system/system.ts and ChipGroup): a message sent on cycle t arrives no earlier
// than t + c2cVectorCycles + c2cLatencyCycles, so chips run in windows of that many cycles; at
// each window's end the host takes every link's outbox, and at the next window's start delivers
// the messages to their peers (sorted by destination chip and link; per link in send order).
// The page may stop anywhere inside a window; it only moves messages at window edges, so any
// sequence of steps gives the state a straight run gives. (ChipGroup itself is not used here: its
// cores are made without the SRAM dirty map and its per-chip run states cannot be rewound.)
//
// Time travel: snapshots every `interval` cycles (adapted so that taking them costs at most about
// a third of the run time, and replaying one interval stays short), see timestore.ts. Going to
// cycle t restores the last snapshot at or before t and replays to t with breakpoints off.
import { Core, type Breakpoint, instructionCount } from '../../chip/core.js';
import type { ChipConfig } from '../../chip/config.js';
import type { Program } from '../../asm/program.js';
import { coreErrorToSfError } from '../../chip/errors.js';
import { STOP } from '../../isa/table.js';
import type { LinkMessage, CoreError } from '../../chip/core.js';
import { CoreStore } from './timestore.js';
import { IssueHistory, harvest, traceCount } from './history.js';

export interface Endpoint {
  chip: number;
  link: number;
}

export interface MachineSpec {
  chip: ChipConfig;
  programs: Program[];
  /** Program index of each chip (length = chip count). */
  chipProgram: number[];
  /** peer[chip][link] for multi-chip systems; omitted for one chip. */
  peer?: (Endpoint | null)[][];
  /** Keep snapshots for stepping back (default true). */
  timeTravel?: boolean;
  /** Hazard checks (default true: the debugger always runs checked). */
  checked?: boolean;
  /** Trace ring capacity in events (default 65536). */
  traceCapacity?: number;
  /** Issue events kept per chip (default 4M). */
  maxEvents?: number;
  /** Snapshot memory budget in bytes over all chips (default 512 MiB). */
  memoryBudget?: number;
}

export type StopKind = 'ready' | 'halted' | 'breakpoint' | 'error' | 'limit';

export interface StopInfo {
  kind: StopKind;
  cycle: number;
  /** The chip that stopped the run (breakpoint or error). */
  chip?: number;
  /** Index into the breakpoint list given to setBreakpoints. */
  breakpoint?: number;
  /** One-line error, as `sramflow run` prints it (file:line:col: ...). */
  message?: string;
  error?: CoreError;
}

interface Delivery {
  chip: number;
  link: number;
  msgs: LinkMessage[];
}

interface MachineSnap {
  cycle: number;
  pending: Delivery[];
  deliveredFor: number;
  chipErr: (string | null)[];
}

function cloneDeliveries(d: Delivery[]): Delivery[] {
  return d.map((x) => ({ chip: x.chip, link: x.link, msgs: x.msgs.map((m) => ({ arrival: m.arrival, width: m.width, payload: m.payload ? m.payload.slice() : null })) }));
}

function deliveryBytes(d: Delivery[]): number {
  let n = 0;
  for (const x of d) for (const m of x.msgs) n += 32 + (m.payload?.length ?? 0);
  return n;
}

export class Machine {
  readonly chip: ChipConfig;
  readonly cores: Core[];
  readonly programs: Program[];
  readonly chipProgram: number[];
  readonly histories: IssueHistory[];
  readonly stores: CoreStore[] | null;
  readonly peer: (Endpoint | null)[][] | null;
  /** Lockstep window (multi-chip) in cycles. */
  readonly window: number;
  cycle = 0;
  stop: StopInfo = { kind: 'ready', cycle: 0 };
  /** The latest cycle ever reached (snapshots and history cover [0, frontier]). */
  frontier = 0;
  /** The cycle the program halted on (every chip), once known. */
  haltCycle: number | null = null;
  /** Snapshot cycle interval (adapted as the run goes). */
  interval = 64;
  private readonly snaps: MachineSnap[] = [];
  private pending: Delivery[] = [];
  private deliveredFor = -1;
  private chipErr: (string | null)[];
  private breakpoints: Breakpoint[] = [];
  private bpsInstalled: boolean[];
  private readonly chunk: number;
  private readonly budget: number;
  private coreMs = 0;
  /** Time spent running cores and taking snapshots, for the figures the page shows. */
  stats = { snapshots: 0, snapshotMs: 0, lastSnapshotMs: 0, restores: 0, lastRestoreMs: 0, lastRestoreVectors: 0, replayedCycles: 0 };

  private constructor(spec: MachineSpec, cores: Core[]) {
    this.chip = spec.chip;
    this.cores = cores;
    this.programs = spec.programs;
    this.chipProgram = spec.chipProgram;
    this.peer = spec.peer ?? null;
    this.window = this.peer ? Math.max(1, spec.chip.c2cLatencyCycles + spec.chip.c2cVectorCycles) : Infinity;
    this.histories = cores.map(() => new IssueHistory(spec.maxEvents));
    this.stores = spec.timeTravel === false ? null : cores.map((c, i) => new CoreStore(c, spec.programs[spec.chipProgram[i]]));
    this.chipErr = cores.map(() => null);
    this.bpsInstalled = cores.map(() => false);
    const active = Math.max(1, ...spec.programs.map((p) => p.queues.length));
    const cap = spec.traceCapacity ?? 1 << 16;
    this.chunk = Math.max(1, Math.floor(cap / active));
    this.budget = spec.memoryBudget ?? 512 * 1024 * 1024;
  }

  static async create(spec: MachineSpec, wasm: Uint8Array | WebAssembly.Module): Promise<Machine> {
    const n = spec.chipProgram.length;
    const capacity = Math.max(1, ...spec.programs.map(instructionCount));
    const cores: Core[] = [];
    for (let c = 0; c < n; c++) {
      const core = await Core.create(spec.chip, wasm, {
        checked: spec.checked ?? true,
        trackDirty: spec.timeTravel !== false,
        traceCapacity: spec.traceCapacity ?? 1 << 16,
        maxInstructions: capacity,
      });
      if (spec.peer) spec.peer[c].forEach((p, l) => core.setLinkConnected(l, p !== null));
      core.load(spec.programs[spec.chipProgram[c]]);
      cores.push(core);
    }
    const m = new Machine(spec, cores);
    if (m.stores) m.takeSnapshot();
    return m;
  }

  get chips(): number {
    return this.cores.length;
  }

  program(chip: number): Program {
    return this.programs[this.chipProgram[chip]];
  }

  hash(chip = 0): string {
    return this.cores[chip].hash();
  }

  setBreakpoints(bps: Breakpoint[]): void {
    this.breakpoints = bps.slice();
    this.bpsInstalled = this.cores.map(() => false);
    for (const c of this.cores) c.setBreakpoints([]);
  }

  private installBps(chip: number, on: boolean): void {
    if (this.bpsInstalled[chip] === on) return;
    this.cores[chip].setBreakpoints(on ? this.breakpoints : []);
    this.bpsInstalled[chip] = on;
  }

  /** Snapshot memory over all chips, in bytes. */
  get snapshotBytes(): number {
    if (!this.stores) return 0;
    return this.stores.reduce((n, s) => n + s.bytes, 0) + this.snaps.reduce((n, s) => n + deliveryBytes(s.pending), 0);
  }

  get snapshotCount(): number {
    return this.snaps.length;
  }

  snapshotCycles(): number[] {
    return this.snaps.map((s) => s.cycle);
  }

  private takeSnapshot(): void {
    const t0 = performance.now();
    for (const s of this.stores!) s.take(this.cycle);
    this.snaps.push({ cycle: this.cycle, pending: cloneDeliveries(this.pending), deliveredFor: this.deliveredFor, chipErr: this.chipErr.slice() });
    const ms = performance.now() - t0;
    this.stats.snapshots++;
    this.stats.snapshotMs += ms;
    this.stats.lastSnapshotMs = ms;
    // adapt: snapshots should cost at most about a third of the run time between them, and an
    // interval should replay quickly
    if (this.snaps.length > 1) {
      if (this.coreMs < 3 * ms && this.interval < 1 << 14) this.interval *= 2;
      else if (this.coreMs > Math.max(10 * ms, 25) && this.interval > 16) this.interval /= 2;
    }
    this.coreMs = 0;
    if (this.snapshotBytes > this.budget) this.thin();
  }

  /** Halves the snapshots (merging every other one into its successor) and doubles the interval. */
  private thin(): void {
    const last = this.snaps.length - 1;
    for (let k = last - 1; k >= 1; k -= 2) {
      for (const s of this.stores!) s.merge(k);
      this.snaps.splice(k, 1);
    }
    this.interval *= 2;
  }

  /** Index of the last snapshot at or before cycle t. */
  private snapAtOrBefore(t: number): number {
    let lo = 0;
    let hi = this.snaps.length - 1;
    let best = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.snaps[mid].cycle <= t) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  private restoreSnap(k: number): void {
    const t0 = performance.now();
    let vectors = 0;
    this.stores!.forEach((s, i) => {
      vectors += s.restore(k).vectors;
      this.cores[i].restore(new Uint8Array(0)); // tells the core its state was replaced
      // (the breakpoints live in the CONTROL block, outside the state: still installed or not)
    });
    const s = this.snaps[k];
    this.cycle = s.cycle;
    this.pending = cloneDeliveries(s.pending);
    this.deliveredFor = s.deliveredFor;
    this.chipErr = s.chipErr.slice();
    this.stop = { kind: 'ready', cycle: this.cycle };
    this.stats.restores++;
    this.stats.lastRestoreMs = performance.now() - t0;
    this.stats.lastRestoreVectors = vectors;
  }

  private chipDone(c: number): boolean {
    const core = this.cores[c];
    return core.halted || core.error() !== null || this.chipErr[c] !== null;
  }

  private errorStop(c: number): StopInfo {
    if (this.chipErr[c]) return { kind: 'error', cycle: this.cycle, chip: c, message: this.chipErr[c]! };
    const core = this.cores[c];
    const e = core.error()!;
    const msg = coreErrorToSfError(core, e).message;
    return { kind: 'error', cycle: e.cycle, chip: c, message: this.peer ? `chip ${c}: ${msg}` : msg, error: e };
  }

  /** Runs every chip from this.cycle towards `limit` (exclusive bound of cycles executed) within
   * one lockstep window at most. Returns a stop, or null if every running chip reached limit. */
  private runRaw(limit: number, bps: boolean): StopInfo | null {
    const n = this.cores.length;
    if (this.peer) {
      const wstart = Math.floor(this.cycle / this.window) * this.window;
      if (this.cycle === wstart && this.deliveredFor !== wstart && limit > this.cycle) {
        for (const d of this.pending) {
          const core = this.cores[d.chip];
          if (this.chipDone(d.chip)) continue;
          if (!core.deliver(d.link, d.msgs)) {
            this.chipErr[d.chip] = `chip ${d.chip}: LINK_OVERFLOW: link ${d.link} received more messages than its buffer holds (${this.chip.c2cBufferMessages}); RECV them sooner`;
          }
        }
        this.pending = [];
        this.deliveredFor = wstart;
        const bad = this.chipErr.findIndex((e) => e !== null);
        if (bad >= 0) return this.errorStop(bad);
      }
      limit = Math.min(limit, wstart + this.window);
    }
    let L = limit;
    let stop: StopInfo | null = null;
    const ran: number[] = [];
    const t0 = performance.now();
    for (let c = 0; c < n; c++) {
      const core = this.cores[c];
      if (this.chipDone(c)) continue;
      ran.push(c);
      this.installBps(c, bps);
      const before = traceCount(core);
      const r = core.run(L);
      harvest(core, this.histories[c], before, (r & STOP.ERROR) !== 0);
      if (r & STOP.ERROR) {
        if (!stop || stop.kind !== 'error' || core.cycle < stop.cycle) stop = this.errorStop(c);
        L = Math.min(L, core.cycle);
      } else if (r & STOP.BREAKPOINT) {
        if (core.cycle < L || !stop) stop = { kind: 'breakpoint', cycle: core.cycle, chip: c, breakpoint: core.breakpointHit };
        L = Math.min(L, core.cycle);
      }
    }
    this.coreMs += performance.now() - t0;
    const running = this.cores.some((_, c) => !this.chipDone(c));
    if (stop) this.cycle = L;
    else if (running) this.cycle = L;
    else this.cycle = Math.max(this.cycle, ...this.cores.map((x) => x.cycle));
    // a chip run earlier in this pass went past the cycle a later one stopped on: bring every
    // chip to that cycle (replaying from a snapshot), then let the stopping chip fail again
    if (stop && this.stores && ran.some((c) => this.cores[c].cycle > L)) {
      const s = stop;
      this.travel(L, true);
      if (s.kind === 'error' && s.chip !== undefined && !this.chipErr[s.chip]) {
        const core = this.cores[s.chip];
        this.installBps(s.chip, false);
        const before = traceCount(core);
        core.run(L + 1);
        harvest(core, this.histories[s.chip], before, true);
      }
      this.cycle = L;
      return s;
    }
    if (stop) return stop;
    if (this.peer) {
      const wend = Math.floor((this.cycle - 1) / this.window) * this.window + this.window;
      if (this.cycle === wend || !running) this.collectOutboxes();
    }
    if (!running) {
      if (this.haltCycle === null || this.cycle > this.haltCycle) this.haltCycle = this.cycle;
      return { kind: 'halted', cycle: this.cycle };
    }
    return null;
  }

  private collectOutboxes(): void {
    const sent: Delivery[] = [];
    this.cores.forEach((core, c) => {
      this.peer![c].forEach((p, l) => {
        if (!p) return;
        const msgs = core.takeOutbox(l);
        if (msgs.length) sent.push({ chip: p.chip, link: p.link, msgs });
      });
    });
    sent.sort((a, b) => a.chip - b.chip || a.link - b.link);
    this.pending.push(...sent);
  }

  /** The next snapshot cycle after this.cycle: an existing one, or the next one to take. */
  private nextBoundary(): { cycle: number; index: number } {
    if (!this.stores) return { cycle: Infinity, index: -1 };
    const k = this.snapAtOrBefore(this.cycle);
    if (k + 1 < this.snaps.length) return { cycle: this.snaps[k + 1].cycle, index: k + 1 };
    return { cycle: this.snaps[k].cycle + this.interval, index: -1 };
  }

  /** Runs forward to `target` (or a halt, error or, with breakpoints, a breakpoint). With
   * `resume`, a breakpoint on the cycle the run starts from (the one the user is looking at)
   * does not stop it again; a caller continuing its own run in slices passes false. */
  advance(target: number, breakpoints = true, resume = true): StopInfo {
    if (this.stop.kind === 'error') return this.stop;
    let retried = false;
    const start = this.cycle;
    while (this.cycle < target) {
      const nb = this.nextBoundary();
      const limit = Math.min(target, nb.cycle, this.cycle + this.chunk);
      const before = this.cycle;
      const s = this.runRaw(limit, breakpoints);
      if (this.cycle > this.frontier) this.frontier = this.cycle;
      if (s) {
        // a breakpoint reported again on the cycle the run started from: continue past it
        if (resume && s.kind === 'breakpoint' && s.cycle === start && !retried && before === start) {
          retried = true;
          continue;
        }
        this.stop = s;
        return s;
      }
      if (this.stores && this.cycle === nb.cycle) {
        if (nb.index >= 0) {
          for (const st of this.stores) st.passed(nb.index);
        } else {
          this.takeSnapshot();
        }
      }
      if (this.cycle === before) break; // no progress (cannot happen: a stop would be reported)
    }
    this.stop = { kind: this.cycle >= target ? 'ready' : 'limit', cycle: this.cycle };
    return this.stop;
  }

  /** Moves to cycle t by restoring a snapshot and replaying (breakpoints off). Forward targets
   * beyond the recorded run simply run on. */
  travel(t: number, force = false): StopInfo {
    t = Math.max(0, Math.floor(t));
    if (!this.stores) throw new Error('time travel is off for this machine');
    if (t === this.cycle && this.stop.kind !== 'error' && !force) return this.stop;
    const k = this.snapAtOrBefore(t);
    const restore = force || t < this.cycle || this.stop.kind === 'error' || this.snaps[k].cycle > this.cycle;
    if (restore) this.restoreSnap(k);
    const from = this.cycle;
    const s = this.advance(t, false);
    this.stats.replayedCycles = this.cycle - from;
    return s;
  }

  /** Back n cycles (to 0 at most). */
  back(n = 1): StopInfo {
    return this.travel(Math.max(0, this.cycle - n));
  }

  /** Status of every chip: running, halted or error. */
  chipStates(): ('running' | 'halted' | 'error')[] {
    return this.cores.map((core, c) => (core.error() || this.chipErr[c] ? 'error' : core.halted ? 'halted' : 'running'));
  }
}
