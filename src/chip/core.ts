// The host side of one chip: configures a core instance for a chip preset, places a program and
// its SRAM image, runs it, and reads state back through views over the memory map. It works in
// Node and in the browser alike (no file system here: the caller passes the Wasm bytes).
import type { ChipConfig } from './config.js';
import { floorplan, UNIT_CODES, type Floorplan } from './floorplan.js';
import {
  CONFIG, CONFIG_OFFSET, QUEUE_DESC, QUEUE_DESC_OFFSET, QUEUE_DESC_BYTES, MAX_QUEUES, CONTROL_OFFSET,
  MAX_BREAKPOINTS, REGION, REGION_COUNT, STATE, QSTATE, QSTATE_BYTES, PLANE, planeLayout, LINK, linkLayout,
} from './memory-map.js';
import { instantiateCore, type CoreExports } from './wasm.js';
import type { Program, Tensor } from '../asm/program.js';
import { dtypeByName } from '../isa/dtypes.js';
import { ERRORS, STOP, BREAKPOINTS, INSTRUCTION_BYTES } from '../isa/table.js';
import { decodeElements } from '../util/numerics.js';
import { SfError, placeName } from '../util/errors.js';

export interface CoreOptions {
  /** Compute values (default) or only time the schedule. */
  functional?: boolean;
  /** Report the hazards marked "checked" in the ISA table. */
  checked?: boolean;
  /** Capacity of the instruction store (default: 1 << 16; see instructionCount()). */
  maxInstructions?: number;
  /** Issue events kept for the debugger's timeline (default 0: off). */
  traceCapacity?: number;
  /** Keep a map of SRAM vectors written since the host last cleared it (debugger snapshots). */
  trackDirty?: boolean;
}

export interface CoreError {
  code: number;
  name: string;
  cycle: number;
  queue: string;
  pc: number;
  stream: number;
  a: number;
  b: number;
}

export type BreakpointKind = (typeof BREAKPOINTS)[number]['name'];
export interface Breakpoint {
  kind: BreakpointKind;
  a: number;
  b?: number;
  c?: number;
}

export interface LinkMessage {
  /** Cycle the message is in the receiver's buffer. */
  arrival: number;
  /** Vectors in the message. */
  width: number;
  /** width x lanes bytes (null in timing-only mode). */
  payload: Uint8Array | null;
}

export interface QueueStats {
  name: string;
  unit: string;
  slice: string;
  busy: number;
  issued: number;
  status: number;
  pc: number;
}

/** Instructions in a program: the capacity a core needs to hold it. */
export function instructionCount(p: Program): number {
  return p.queues.reduce((n, q) => n + q.code.length / INSTRUCTION_BYTES, 0);
}

/**
 * Checks that a program fits a chip before anything is placed: its queues exist on the floorplan
 * and every tensor lies in MEM slices of the chip, within their vectors and lanes. The assembler
 * guarantees this for the chip it assembled for; a decoded container (or any Program handed to
 * Core.load) may name anything. Errors are SfErrors at `where` (the container or source file).
 */
export function checkProgramForChip(program: Program, chip: ChipConfig, where: string): void {
  const plan = floorplan(chip);
  const V = chip.memVectorsPerSlice;
  for (const q of program.queues) {
    if (!plan.queueByName.has(q.name)) throw new SfError(`queue ${JSON.stringify(q.name)} does not exist on chip "${chip.name}"`, where);
    if (q.code.length % INSTRUCTION_BYTES !== 0) throw new SfError(`queue ${q.name}: code is not a whole number of instructions`, where);
  }
  for (const t of program.tensors) {
    const name = JSON.stringify(t.name);
    const d = dtypeByName(t.dtype);
    if (!d) throw new SfError(`tensor ${name}: unknown dtype ${JSON.stringify(t.dtype)}`, where);
    const [rows, cols] = t.shape;
    if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) throw new SfError(`tensor ${name}: bad shape [${t.shape.join(', ')}]`, where);
    if (cols > chip.lanes) throw new SfError(`tensor ${name} has ${cols} columns; chip "${chip.name}" has ${chip.lanes} lanes`, where);
    if (t.placement.length === 0 || d.bytes % t.placement.length !== 0) {
      throw new SfError(`tensor ${name}: ${d.name} has ${d.bytes} byte planes; they cannot be split evenly over ${t.placement.length} slices`, where);
    }
    const pps = d.bytes / t.placement.length;
    for (const pl of t.placement) {
      const q = plan.queueByName.get(pl.slice);
      if (!q || q.unit !== 'MEM') throw new SfError(`tensor ${name} is placed in ${JSON.stringify(pl.slice)}, which is not a MEM slice of chip "${chip.name}"`, where);
      const last = pl.addr + rows * pps - 1;
      if (!Number.isInteger(pl.addr) || pl.addr < 0 || last >= V) {
        throw new SfError(`tensor ${name} needs vectors ${pl.addr}..${last} of ${pl.slice}, but the slice has ${V} (0..${V - 1})`, where);
      }
    }
    if (t.data && t.data.length !== rows * cols * d.bytes) throw new SfError(`tensor ${name}: data is ${t.data.length} bytes, its shape needs ${rows * cols * d.bytes}`, where);
  }
}

export class Core {
  readonly chip: ChipConfig;
  readonly plan: Floorplan;
  readonly functional: boolean;
  readonly checked: boolean;
  private readonly x: CoreExports;
  private program: Program | null = null;
  /** The program whose tensors are in SRAM now (the clear before the next placement removes them). */
  private placed: Program | null = null;
  /** Region offsets and sizes, fixed once init() has laid out (and grown) the memory. */
  private regions: { offset: number; size: number }[] = [];

  private constructor(chip: ChipConfig, x: CoreExports, opts: CoreOptions) {
    this.chip = chip;
    this.plan = floorplan(chip);
    this.x = x;
    this.functional = opts.functional ?? true;
    this.checked = opts.checked ?? false;
  }

  static async create(chip: ChipConfig, wasm: Uint8Array | WebAssembly.Module, opts: CoreOptions = {}): Promise<Core> {
    const x = await instantiateCore(wasm);
    const core = new Core(chip, x, opts);
    core.configure(opts);
    return core;
  }

  private i32(): Int32Array {
    return new Int32Array(this.x.memory.buffer);
  }

  private configure(opts: CoreOptions): void {
    const c = this.chip;
    const plan = this.plan;
    if (plan.queues.length > MAX_QUEUES) throw new SfError(`chip has ${plan.queues.length} queues; the core holds at most ${MAX_QUEUES}`, c.file);
    const m = this.i32();
    const cfg = (slot: number, v: number) => (m[CONFIG_OFFSET / 4 + slot] = v);
    cfg(CONFIG.lanes, c.lanes);
    cfg(CONFIG.streamsPerDirection, c.streamsPerDirection);
    cfg(CONFIG.positions, plan.positions);
    cfg(CONFIG.queues, plan.queues.length);
    cfg(CONFIG.memSlices, plan.memSlices.length);
    cfg(CONFIG.memVectorsPerSlice, c.memVectorsPerSlice);
    cfg(CONFIG.memPorts, c.memPorts);
    cfg(CONFIG.planes, 2 * c.mxmPlanesPerHemisphere);
    cfg(CONFIG.alus, c.vxmAlus);
    cfg(CONFIG.hopCycles, c.hopCycles);
    cfg(CONFIG.dMemRead, c.delays.memRead);
    cfg(CONFIG.dVxmAlu, c.delays.vxmAlu);
    cfg(CONFIG.dVxmLarge, c.delays.vxmLarge);
    cfg(CONFIG.dMxm, c.delays.mxm);
    cfg(CONFIG.dSxm, c.delays.sxm);
    cfg(CONFIG.dSxmReduce, c.delays.sxmReduce);
    cfg(CONFIG.mxmInstallRows, c.mxmInstallRows);
    cfg(CONFIG.maxInstructions, Math.max(1, opts.maxInstructions ?? 1 << 16));
    cfg(CONFIG.superlanes, c.superlanes);
    cfg(CONFIG.traceCapacity, opts.traceCapacity ?? 0);
    cfg(CONFIG.functional, this.functional ? 1 : 0);
    cfg(CONFIG.checked, this.checked ? 1 : 0);
    cfg(CONFIG.trackDirty, opts.trackDirty ? 1 : 0);
    cfg(CONFIG.c2cLinks, c.c2cLinks);
    cfg(CONFIG.c2cLatency, c.c2cLatencyCycles);
    cfg(CONFIG.c2cVectorCycles, c.c2cVectorCycles);
    cfg(CONFIG.c2cBufferMessages, c.c2cBufferMessages);
    cfg(CONFIG.dC2cRecv, c.delays.c2cRecv);
    for (const q of plan.queues) {
      const base = (QUEUE_DESC_OFFSET + q.id * QUEUE_DESC_BYTES) / 4;
      m[base + QUEUE_DESC.unit] = UNIT_CODES[q.unit];
      m[base + QUEUE_DESC.position] = q.position;
      m[base + QUEUE_DESC.unitIndex] = q.unitIndex;
      m[base + QUEUE_DESC.progStart] = 0;
      m[base + QUEUE_DESC.progLen] = 0;
      m[base + QUEUE_DESC.connected] = 0;
    }
    m[CONTROL_OFFSET / 4] = 0;
    const r = this.x.init();
    if (r === -1) throw new SfError(`chip "${c.name}" does not fit in a 32-bit WebAssembly memory`, c.file);
    if (r !== 0) throw new SfError(`core layout failed (${r})`, c.file);
    this.regions = Array.from({ length: REGION_COUNT }, (_, id) => ({ offset: this.x.regionOffset(id) >>> 0, size: this.x.regionSize(id) >>> 0 }));
    this.x.reset();
  }

  region(id: number): { offset: number; size: number } {
    return this.regions[id];
  }

  get memory(): WebAssembly.Memory {
    return this.x.memory;
  }

  /** Places a program: its instructions into the queues, its tensors into SRAM; then resets. */
  load(program: Program): void {
    const plan = this.plan;
    const m = this.i32();
    const prog = this.region(REGION.PROGRAM);
    const cap = prog.size / INSTRUCTION_BYTES;
    checkProgramForChip(program, this.chip, placeName(program.source ?? 'program'));
    const total = instructionCount(program);
    if (total > cap) throw new SfError(`program has ${total} instructions; this core was made for ${cap} (CoreOptions.maxInstructions)`, placeName(program.source ?? 'program'));
    const bytes = new Uint8Array(this.x.memory.buffer);
    for (const q of plan.queues) {
      const base = (QUEUE_DESC_OFFSET + q.id * QUEUE_DESC_BYTES) / 4;
      m[base + QUEUE_DESC.progStart] = 0;
      m[base + QUEUE_DESC.progLen] = 0;
    }
    let at = 0;
    for (const qp of program.queues) {
      const q = plan.queueByName.get(qp.name)!; // checkProgramForChip: every queue exists
      const n = qp.code.length / INSTRUCTION_BYTES;
      bytes.set(qp.code, prog.offset + at * INSTRUCTION_BYTES);
      const base = (QUEUE_DESC_OFFSET + q.id * QUEUE_DESC_BYTES) / 4;
      m[base + QUEUE_DESC.progStart] = at;
      m[base + QUEUE_DESC.progLen] = n;
      at += n;
    }
    this.program = program;
    this.placeTensors(true);
    this.x.reset();
  }

  /** Back to cycle 0 with the program's initial SRAM image. */
  reset(): void {
    if (this.program) this.placeTensors(false);
    this.x.reset();
  }

  /**
   * Makes SRAM the program's initial image: zeros, and each initialised tensor's bytes. Only what
   * can differ from it is touched, not all of SRAM (220 MiB on tsp-v1): the vectors the last run
   * wrote (the core keeps their range per slice) and, for a new program, the previous program's
   * tensors; a tensor is placed again only if it was not there intact. A fresh core's SRAM is
   * zero, and stays untouched (not even paged in) where no tensor lies.
   */
  private placeTensors(fresh: boolean): void {
    if (!this.functional || !this.program) return;
    const slices = this.plan.memSlices.length;
    const ranges = new Int32Array(this.x.memory.buffer, this.x.writtenRanges(), 2 * slices).slice();
    this.x.clearWritten();
    const sliceOf = (name: string) => this.plan.queueByName.get(name)!.unitIndex;
    const span = (t: Tensor) => {
      const pps = dtypeByName(t.dtype)!.bytes / t.placement.length;
      return t.placement.map((p) => ({ slice: sliceOf(p.slice), lo: p.addr, hi: p.addr + t.shape[0] * pps }));
    };
    if (fresh) {
      if (this.placed) for (const t of this.placed.tensors) if (t.data) for (const r of span(t)) this.x.clearVectors(r.slice, r.lo, r.hi);
      for (const t of this.program.tensors) if (t.data) this.writeTensorBytes(t, t.data);
    } else {
      for (const t of this.program.tensors) {
        if (t.data && span(t).some((r) => ranges[2 * r.slice] < ranges[2 * r.slice + 1] && r.lo < ranges[2 * r.slice + 1] && ranges[2 * r.slice] < r.hi)) this.writeTensorBytes(t, t.data);
      }
    }
    this.placed = this.program;
  }

  /** SRAM byte offset of (slice name, vector address). */
  /** SRAM byte offset of (slice name, vector address); checkProgramForChip vetted both. */
  private vectorOffset(slice: string, addr: number): number {
    const idx = this.plan.queueByName.get(slice)!.unitIndex; // a MEM queue's unitIndex is its SRAM slice
    return this.region(REGION.SRAM).offset + (idx * this.chip.memVectorsPerSlice + addr) * this.chip.lanes;
  }

  private planeLocation(t: Tensor, row: number, k: number): number {
    const bytes = dtypeByName(t.dtype)!.bytes;
    const pps = bytes / t.placement.length;
    const p = t.placement[Math.floor(k / pps)];
    return this.vectorOffset(p.slice, p.addr + row * pps + (k % pps));
  }

  private writeTensorBytes(t: Tensor, data: Uint8Array): void {
    const bytes = dtypeByName(t.dtype)!.bytes;
    const [rows, cols] = t.shape;
    const mem = new Uint8Array(this.x.memory.buffer);
    if (bytes === 1) {
      // one byte plane: row r is vector addr + r of the one slice, copied whole (all rows at once
      // when they fill their vectors)
      const base = this.planeLocation(t, 0, 0);
      const L = this.chip.lanes;
      if (cols === L) mem.set(data.subarray(0, rows * cols), base);
      else for (let r = 0; r < rows; r++) mem.set(data.subarray(r * cols, (r + 1) * cols), base + r * L);
      return;
    }
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < bytes; k++) {
        const off = this.planeLocation(t, r, k);
        for (let c = 0; c < cols; c++) mem[off + c] = data[(r * cols + c) * bytes + k];
      }
    }
  }

  /** A tensor's current bytes (row-major, little-endian elements). */
  readTensorBytes(name: string): Uint8Array {
    const t = this.tensor(name);
    const bytes = dtypeByName(t.dtype)!.bytes;
    const [rows, cols] = t.shape;
    const out = new Uint8Array(rows * cols * bytes);
    if (!this.functional) return out;
    const mem = new Uint8Array(this.x.memory.buffer);
    if (bytes === 1) {
      const base = this.planeLocation(t, 0, 0);
      const L = this.chip.lanes;
      if (cols === L) out.set(mem.subarray(base, base + rows * cols));
      else for (let r = 0; r < rows; r++) out.set(mem.subarray(base + r * L, base + r * L + cols), r * cols);
      return out;
    }
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < bytes; k++) {
        const off = this.planeLocation(t, r, k);
        for (let c = 0; c < cols; c++) out[(r * cols + c) * bytes + k] = mem[off + c];
      }
    }
    return out;
  }

  readTensor(name: string): { dtype: string; shape: [number, number]; values: number[] } {
    const t = this.tensor(name);
    return { dtype: t.dtype, shape: t.shape, values: decodeElements(t.dtype, this.readTensorBytes(name)) };
  }

  tensor(name: string): Tensor {
    const t = this.program?.tensors.find((x) => x.name === name);
    if (!t) throw new SfError(`no tensor named "${name}" in the program`);
    return t;
  }

  /** Runs until `limit` (absolute cycle, exclusive), halt, breakpoint or error. */
  run(limit = Infinity): number {
    return this.x.run(Number.isFinite(limit) ? limit : 1e19);
  }

  /** Executes n more cycles (or stops earlier). */
  step(n = 1): number {
    return this.run(this.cycle + n);
  }

  get cycle(): number {
    return this.x.cycle();
  }

  get stopReason(): number {
    return this.x.stopReason();
  }

  get halted(): boolean {
    return (this.x.stopReason() & STOP.HALT) !== 0;
  }

  /** Cycles the program took: the last HALT's cycle plus the superlane stagger (the last
   * superlane finishes superlanes-1 cycles after the first). Only meaningful once halted. */
  get programCycles(): number {
    return Math.max(0, this.x.lastHalt()) + this.x.staggerCycles();
  }

  private stateI32(byteOffset: number): number {
    return this.i32()[(this.region(REGION.STATE).offset + byteOffset) / 4];
  }

  private stateI64(byteOffset: number): number {
    const v = new DataView(this.x.memory.buffer);
    return Number(v.getBigInt64(this.region(REGION.STATE).offset + byteOffset, true));
  }

  error(): CoreError | null {
    const code = this.stateI32(STATE.errCode);
    if (!code) return null;
    const q = this.stateI32(STATE.errQueue);
    return {
      code,
      name: ERRORS.find((e) => e.code === code)?.name ?? `ERROR_${code}`,
      cycle: this.stateI64(STATE.errCycle),
      queue: this.plan.queues[q]?.name ?? `#${q}`,
      pc: this.stateI32(STATE.errPc),
      stream: this.stateI32(STATE.errStream),
      a: this.stateI32(STATE.errA),
      b: this.stateI32(STATE.errB),
    };
  }

  /** Index of the breakpoint that stopped the last run, or -1. */
  get breakpointHit(): number {
    return this.stateI32(STATE.bpHit);
  }

  setBreakpoints(bps: Breakpoint[]): void {
    if (bps.length > MAX_BREAKPOINTS) throw new SfError(`at most ${MAX_BREAKPOINTS} breakpoints`);
    const m = this.i32();
    const base = CONTROL_OFFSET / 4;
    m[base] = bps.length;
    bps.forEach((bp, i) => {
      const kind = BREAKPOINTS.find((b) => b.name === bp.kind);
      if (!kind) throw new SfError(`unknown breakpoint kind "${bp.kind}"`);
      m[base + 4 + i * 4] = kind.code;
      m[base + 4 + i * 4 + 1] = bp.a;
      m[base + 4 + i * 4 + 2] = bp.b ?? 0;
      m[base + 4 + i * 4 + 3] = bp.c ?? 0;
    });
  }

  queueStats(): QueueStats[] {
    const v = new DataView(this.x.memory.buffer);
    const base = this.region(REGION.QSTATE).offset;
    return this.plan.queues.map((q) => {
      const o = base + q.id * QSTATE_BYTES;
      return {
        name: q.name, unit: q.unit, slice: q.slice.name,
        busy: Number(v.getBigInt64(o + QSTATE.busy, true)),
        issued: Number(v.getBigInt64(o + QSTATE.issued, true)),
        status: v.getInt32(o + QSTATE.status, true),
        pc: v.getInt32(o + QSTATE.pc, true),
      };
    });
  }

  /** Bytes written onto each stream (id order). */
  streamBytes(): number[] {
    const v = new DataView(this.x.memory.buffer);
    const base = this.region(REGION.STREAM_STATS).offset;
    return Array.from({ length: 2 * this.chip.streamsPerDirection }, (_, s) => Number(v.getBigInt64(base + s * 8, true)));
  }

  /** Multiply-accumulates performed by each MXM plane. */
  planeMacs(): number[] {
    const v = new DataView(this.x.memory.buffer);
    const base = this.region(REGION.MXM).offset;
    const pl = planeLayout(this.chip.lanes, this.functional);
    return Array.from({ length: 2 * this.chip.mxmPlanesPerHemisphere }, (_, p) =>
      Number(v.getBigInt64(base + p * pl.bytes + pl.meta + PLANE.macs, true)));
  }

  get instructionsIssued(): number {
    return this.stateI64(STATE.issued);
  }

  /** The instruction index queue `name` issues next, and the source line of an instruction. */
  sourceOf(queue: string, pc: number): { line: number; col: number } | null {
    const qp = this.program?.queues.find((q) => q.name === queue);
    return qp?.lines[pc] ?? null;
  }

  /** 64-bit hash of the machine state as 16 hex digits. */
  hash(): string {
    const lo = this.x.stateHash() >>> 0;
    const hi = this.x.stateHashHigh() >>> 0;
    return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
  }

  snapshot(): Uint8Array {
    const s = this.x.stateStart() >>> 0;
    const e = this.x.stateEnd() >>> 0;
    return new Uint8Array(this.x.memory.buffer, s, e - s).slice();
  }

  restore(snap: Uint8Array): void {
    const s = this.x.stateStart() >>> 0;
    new Uint8Array(this.x.memory.buffer, s, snap.length).set(snap);
    this.x.restored();
  }

  /** Marks link `l` as wired to another chip (SEND on an unwired link is an error). */
  setLinkConnected(l: number, connected: boolean): void {
    const q = this.plan.queueByName.get(`C2C.${l}`);
    if (!q) throw new SfError(`chip "${this.chip.name}" has no link ${l} (it has ${this.chip.c2cLinks})`);
    this.i32()[(QUEUE_DESC_OFFSET + q.id * QUEUE_DESC_BYTES) / 4 + QUEUE_DESC.connected] = connected ? 1 : 0;
  }

  private linkBase(l: number): number {
    const lay = linkLayout(this.chip.lanes, this.chip.c2cBufferMessages, this.functional);
    return this.region(REGION.LINKS).offset + l * lay.bytes;
  }

  /** Removes and returns the messages link `l` sent since the last call, oldest first. */
  takeOutbox(l: number): LinkMessage[] {
    const lay = linkLayout(this.chip.lanes, this.chip.c2cBufferMessages, this.functional);
    const h = this.linkBase(l);
    const v = new DataView(this.x.memory.buffer);
    const n = v.getInt32(h + LINK.outCount, true);
    if (n === 0) return [];
    const head = v.getInt32(h + LINK.outHead, true);
    const cap = this.chip.c2cBufferMessages;
    const out: LinkMessage[] = [];
    for (let i = 0; i < n; i++) {
      const e = h + lay.outbox + ((head + i) % cap) * lay.entry;
      const width = v.getInt32(e + 8, true);
      out.push({
        arrival: Number(v.getBigInt64(e, true)),
        width,
        payload: this.functional ? new Uint8Array(this.x.memory.buffer, e + 16, width * this.chip.lanes).slice() : null,
      });
    }
    v.setInt32(h + LINK.outHead, (head + n) % cap, true);
    v.setInt32(h + LINK.outCount, 0, true);
    return out;
  }

  /** Appends messages to link `l`'s receive buffer. Returns false if the buffer overflows. */
  deliver(l: number, msgs: LinkMessage[]): boolean {
    const lay = linkLayout(this.chip.lanes, this.chip.c2cBufferMessages, this.functional);
    const h = this.linkBase(l);
    const v = new DataView(this.x.memory.buffer);
    const cap = this.chip.c2cBufferMessages;
    let n = v.getInt32(h + LINK.inCount, true);
    const head = v.getInt32(h + LINK.inHead, true);
    const mem = new Uint8Array(this.x.memory.buffer);
    for (const m of msgs) {
      if (n >= cap) return false;
      const e = h + lay.inbox + ((head + n) % cap) * lay.entry;
      v.setBigInt64(e, BigInt(m.arrival), true);
      v.setInt32(e + 8, m.width, true);
      if (this.functional && m.payload) mem.set(m.payload, e + 16);
      n++;
    }
    v.setInt32(h + LINK.inCount, n, true);
    return true;
  }

  /** Vectors sent and received on each link. */
  linkStats(): { sent: number; received: number }[] {
    const v = new DataView(this.x.memory.buffer);
    return Array.from({ length: this.chip.c2cLinks }, (_, l) => {
      const h = this.linkBase(l);
      return { sent: Number(v.getBigInt64(h + LINK.sent, true)), received: Number(v.getBigInt64(h + LINK.received, true)) };
    });
  }

  /** A lower bound on the cycle of this chip's next SEND (Infinity: it sends no more). A message
   * sent on cycle t reaches its peer no earlier than t + c2cVectorCycles + c2cLatencyCycles, so
   * the other chips may run that far ahead without it (src/system/system.ts). */
  nextSendBound(): number {
    return this.x.nextSendBound();
  }

  issueCyclesOf(op: number, dt: number, a: number): number {
    return this.x.issueCyclesOf(op, dt, a);
  }

  get loadedProgram(): Program | null {
    return this.program;
  }
}
