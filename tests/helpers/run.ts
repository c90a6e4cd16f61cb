// Test helper: assemble a program text for a chip preset and run it on a fresh core.
import { assemble } from '../../src/asm/assemble.js';
import type { Program } from '../../src/asm/program.js';
import type { ChipConfig } from '../../src/chip/config.js';
import { Core, type CoreOptions } from '../../src/chip/core.js';
import { loadChipPreset } from '../../src/chip/preset.js';
import { loadCoreWasm } from '../../src/chip/wasm-node.js';
import { floorplan } from '../../src/chip/floorplan.js';
import { dtypeByName, type DtypeName } from '../../src/isa/dtypes.js';
import { instructionByMnemonic, issueCycles } from '../../src/isa/table.js';
import { encodeBase64 } from '../../src/asm/fill.js';
import { encodeElements } from '../../src/util/numerics.js';
import { coreErrorToSfError } from '../../src/chip/errors.js';

const chips = new Map<string, ChipConfig>();

/** A shipped chip preset, loaded once per test file (a ChipConfig is passed through). */
export function chip(name: string | ChipConfig = 'tiny'): ChipConfig {
  if (typeof name !== 'string') return name;
  let c = chips.get(name);
  if (!c) {
    c = loadChipPreset(name);
    chips.set(name, c);
  }
  return c;
}

export interface RunOptions extends CoreOptions {
  /** Chip preset name or config (default 'tiny'). */
  chip?: string | ChipConfig;
  /** Report the checked hazards (default true). */
  checked?: boolean;
  /** Source file name used in debug lines and messages (default 't.sfa'). */
  file?: string;
  /** Run until this absolute cycle at most (default: until halt, breakpoint or error). */
  limit?: number;
}

export function asm(src: string, opts: { chip?: string | ChipConfig; file?: string } = {}): Program {
  return assemble(src, { file: opts.file ?? 't.sfa', chip: chip(opts.chip ?? 'tiny') });
}

/** A fresh core for a chip with a program loaded (not run). */
export async function loadAsm(src: string, opts: RunOptions = {}): Promise<Core> {
  const { chip: name = 'tiny', checked = true, file, limit, ...rest } = opts;
  void limit; // used by runAsm
  const program = asm(src, { chip: name, file });
  const core = await Core.create(chip(name), loadCoreWasm(), { checked, ...rest });
  core.load(program);
  return core;
}

/** Assembles `src`, runs it on a fresh core and returns the core (stopped: halt, error, ...). */
export async function runAsm(src: string, opts: RunOptions = {}): Promise<Core> {
  const core = await loadAsm(src, opts);
  core.run(opts.limit ?? Infinity);
  return core;
}

// ---- a small schedule builder: tensors, instructions at cycles, READs/WRITEs timed by the
// ---- chip's figures (memRead delay, hops), and the program's expected cycle count.

interface TensorInfo {
  name: string;
  dtype: DtypeName;
  rows: number;
  cols: number;
  placement: { slice: string; addr: number }[];
  /** Byte planes of one row in each slice. */
  pps: number;
}

interface Line {
  cycle: number;
  text: string;
  /** Cycle after which the queue is free again (issue cycles and repeats included). */
  end: number;
}

/** A stream group at a place and time: base stream `stream` at `pos` on `cycle`. */
export interface At {
  pos: number;
  cycle: number;
  stream: string;
}

export class Sched {
  readonly chip: ChipConfig;
  private readonly head: string[] = [];
  private readonly queues = new Map<string, Line[]>();
  readonly tensors = new Map<string, TensorInfo>();

  constructor(c: string | ChipConfig = 'tiny') {
    this.chip = chip(c);
  }

  /** Position of a queue or slice (MEM.W0, VXM.1, VXM, MXM.E0, SXM.W ...). */
  pos(name: string): number {
    const fp = floorplan(this.chip);
    const q = fp.queueByName.get(name);
    if (q) return q.position;
    const s = fp.slices.find((x) => x.name === name);
    if (!s) throw new Error(`no queue or slice ${name}`);
    return s.position;
  }

  /** Declares a tensor; `at` is e.g. 'MEM.W0:0, MEM.W1:0'; `values` row-major (null: zeros). */
  tensor(name: string, dtype: DtypeName, shape: [number, number], at: string, values: ArrayLike<number> | null = null): this {
    const [rows, cols] = shape;
    const placement = at.split(',').map((p) => {
      const [slice, addr] = p.trim().split(':');
      return { slice: slice!, addr: Number(addr) };
    });
    const bytes = dtypeByName(dtype)!.bytes;
    this.tensors.set(name, { name, dtype, rows, cols, placement, pps: bytes / placement.length });
    let init = '';
    if (values) {
      if (values.length !== rows * cols) throw new Error(`tensor ${name}: ${values.length} values for ${rows}x${cols}`);
      init = ` = base64("${encodeBase64(encodeElements(dtype, values))}")`;
    }
    this.head.push(`.tensor ${name} ${dtype}[${rows},${cols}] @ ${at}${init}`);
    return this;
  }

  /** Adds `text` (one instruction, optionally followed by `REPEAT n, d`) to a queue at `cycle`. */
  at(queue: string, cycle: number, text: string, repeat?: [number, number]): this {
    const lines = this.queues.get(queue) ?? [];
    const prevEnd = lines.length ? lines[lines.length - 1]!.end : 0;
    if (cycle < prevEnd) throw new Error(`${queue}: @${cycle} overlaps the previous instruction (busy until ${prevEnd})`);
    const m = /^\s*([A-Za-z0-9]+)(?:\.(\w+))?\s*(.*)$/.exec(text)!;
    const ins = instructionByMnemonic(m[1]!);
    if (!ins) throw new Error(`unknown mnemonic in "${text}"`);
    const dt = m[2] ? dtypeByName(m[2]!)!.code : 0;
    const a = ins.mnemonic === 'NOP' ? Number(m[3]) : 0;
    let occ = issueCycles(ins.opcode, dt, a);
    if (ins.mnemonic === 'SYNC') occ = NaN; // unknown after SYNC
    let full = `@${cycle} ${text}`;
    let end = cycle + occ;
    if (repeat && repeat[0] > 0) {
      full += `\n  REPEAT ${repeat[0]}, ${repeat[1]}`;
      end = cycle + repeat[0] * repeat[1] + occ;
    }
    lines.push({ cycle, text: full, end });
    this.queues.set(queue, lines);
    return this;
  }

  private info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    return t;
  }

  private streamIdx(stream: string): { dir: 'E' | 'W'; i: number } {
    const m = /^([EW])(\d+)$/.exec(stream)!;
    return { dir: m[1] as 'E' | 'W', i: Number(m[2]) };
  }

  /** Cycle a value written at `from` on `cycle` passes position `to` on a `dir` stream. */
  arrival(from: number, cycle: number, to: number, dir: 'E' | 'W'): number {
    const k = dir === 'E' ? to - from : from - to;
    if (k < 0) throw new Error(`position ${to} is upstream of ${from} on a ${dir} stream`);
    return cycle + k * this.chip.hopCycles;
  }

  /**
   * READs row `row` of tensor `name` (every slice it is placed in) so that its stream group,
   * based at `to.stream`, is at position `to.pos` on cycle `to.cycle`. `shift` moves every READ
   * by that many cycles (a deliberately wrong schedule). Returns the READ cycles by slice.
   */
  feed(name: string, row: number, to: At, opts: { repeat?: [number, number]; width?: number; step?: number; shift?: number } = {}): Record<string, number> {
    const t = this.info(name);
    const { dir, i } = this.streamIdx(to.stream);
    const out: Record<string, number> = {};
    t.placement.forEach((p, j) => {
      const sp = this.pos(p.slice);
      const k = dir === 'E' ? to.pos - sp : sp - to.pos;
      if (k < 0) throw new Error(`${p.slice} is downstream of position ${to.pos} on ${dir} streams`);
      const c = to.cycle - this.chip.delays.memRead - k * this.chip.hopCycles + (opts.shift ?? 0);
      const w = opts.width ?? t.pps;
      const step = opts.step !== undefined ? `, ${w}, ${opts.step >= 0 ? '+' : ''}${opts.step}` : opts.width !== undefined ? `, ${w}` : '';
      this.at(p.slice, c, `READ ${name}[${row}], ${dir}${i + j * w}${step}`, opts.repeat);
      out[p.slice] = c;
    });
    return out;
  }

  /**
   * WRITEs a stream group that is at `from.pos` on `from.cycle` (based at `from.stream`) into
   * row `row` of tensor `name`, sampling it as it passes each slice. Returns WRITE cycles.
   */
  drain(name: string, row: number, from: At, opts: { repeat?: [number, number]; shift?: number } = {}): Record<string, number> {
    const t = this.info(name);
    const { dir, i } = this.streamIdx(from.stream);
    const out: Record<string, number> = {};
    t.placement.forEach((p, j) => {
      const c = this.arrival(from.pos, from.cycle, this.pos(p.slice), dir) + (opts.shift ?? 0);
      this.at(p.slice, c, `WRITE ${name}[${row}], ${dir}${i + j * t.pps}`, opts.repeat);
      out[p.slice] = c;
    });
    return out;
  }

  /** The program text; every queue ends with HALT. */
  text(): string {
    const out = [`.chip ${this.chip.name}`, ...this.head];
    for (const [q, lines] of this.queues) {
      out.push(`.queue ${q}`);
      for (const l of lines) out.push(`  ${l.text}`);
      out.push('  HALT');
    }
    return out.join('\n') + '\n';
  }

  /** Cycle each queue halts on (the end of its last instruction). */
  haltCycles(): Record<string, number> {
    const r: Record<string, number> = {};
    for (const [q, lines] of this.queues) r[q] = lines.length ? lines[lines.length - 1]!.end : 0;
    return r;
  }

  /** Expected core.programCycles: the last HALT's cycle + superlanes - 1. */
  expectedCycles(): number {
    return Math.max(...Object.values(this.haltCycles())) + this.chip.superlanes - 1;
  }

  /** Source position (line, col of the mnemonic) of the k-th instruction line containing `needle`. */
  lineOf(needle: string, k = 0): { line: number; col: number } {
    return lineOf(this.text(), needle, k);
  }

  async run(opts: RunOptions = {}): Promise<Core> {
    return runAsm(this.text(), { chip: this.chip, ...opts });
  }
}

/** Position of the mnemonic on the k-th line of `src` that contains `needle` (after any `@c`). */
export function lineOf(src: string, needle: string, k = 0): { line: number; col: number } {
  const lines = src.split('\n');
  let seen = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l.includes(needle)) continue;
    if (seen++ < k) continue;
    const m = /^(\s*(?:@\s*\d+\s+)?)\S/.exec(l)!;
    return { line: i + 1, col: m[1]!.length + 1 };
  }
  throw new Error(`no line containing ${needle}`);
}

/** The core's error as one formatted line (file:line:col: NAME at cycle ...), or null. */
export function errorLine(core: Core): string | null {
  const e = core.error();
  return e ? coreErrorToSfError(core, e).message : null;
}

/** Throws with the formatted error when the run did not halt cleanly. */
export function expectHalted(core: Core): void {
  const e = errorLine(core);
  if (e) throw new Error(`core stopped with an error: ${e}`);
  if (!core.halted) throw new Error(`core did not halt (stop reason ${core.stopReason}, cycle ${core.cycle})`);
}
