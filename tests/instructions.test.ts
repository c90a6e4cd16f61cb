// One test per instruction of the ISA table: known data through the instruction on the tiny chip,
// the values written back to SRAM checked against a TypeScript reference (and hand-worked cases),
// and the timing: results arrive exactly on issue + delay (from the preset) + hops, one cycle
// earlier or later is STREAM_EMPTY in checked mode, and the program's cycle count.
//
// tiny: positions MXM.W 0, SXM.W 1, MEM.W3 2, MEM.W2 3, MEM.W1 4, MEM.W0 5, VXM 6, MEM.E0 7,
// MEM.E1 8, MEM.E2 9, MEM.E3 10, SXM.E 11, MXM.E 12; 32 lanes, 8 streams per direction.
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../src/asm/fill.js';
import { dtypeByName, type DtypeName } from '../src/isa/dtypes.js';
import { INSTRUCTIONS, instructionByMnemonic, type DelayKey } from '../src/isa/table.js';
import { roundHalfEven, roundToDtype } from '../src/util/numerics.js';
import type { Core } from '../src/chip/core.js';
import type { ChipConfig } from '../src/chip/config.js';
import { chip, errorLine, expectHalted, loadAsm, runAsm, Sched } from './helpers/run.js';

const TINY = chip('tiny');
const L = TINY.lanes; // 32
const VXM = 6;
const SXM_E = 11;
const MXM_W = 0;
const MXM_E = 12;
const delay = (k: DelayKey, c: ChipConfig = TINY): number => (k === 'none' ? 0 : c.delays[k]);
const F = Math.fround;
const bytesOf = (dt: DtypeName): number => dtypeByName(dt)!.bytes;
const isFloat = (dt: DtypeName): boolean => dtypeByName(dt)!.float;

// ---- data and references ----------------------------------------------------------------------

/** Deterministic values in [lo, hi), rounded to the dtype. */
function randoms(dt: DtypeName, n: number, seed: number, lo?: number, hi?: number): number[] {
  const d = dtypeByName(dt)!;
  const l = lo ?? (d.float ? -100 : d.min);
  const h = hi ?? (d.float ? 100 : d.max);
  const next = mulberry32(seed);
  return Array.from({ length: n }, () => roundToDtype(dt, l + (h - l) * next()));
}

/** `head` then random values up to L lanes. */
function lanes(dt: DtypeName, head: number[], seed: number, lo?: number, hi?: number): number[] {
  const v = head.map((x) => roundToDtype(dt, x));
  return v.concat(randoms(dt, L - v.length, seed, lo, hi));
}

function same(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

function expectSame(got: number[], want: number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!same(got[i]!, want[i]!)) throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

/** Within about an ulp of the dtype (fp32: relative 1e-6) of the exact value. */
function expectClose(dt: DtypeName, got: number[], exact: number[], what: string): void {
  const rel = dt === 'fp32' ? 1e-6 : dt === 'fp16' ? 2 ** -10 : 2 ** -7;
  const abs = dt === 'fp32' ? 1e-37 : dt === 'fp16' ? 2 ** -24 : 1e-37;
  for (let i = 0; i < exact.length; i++) {
    const g = got[i]!;
    const rounded = roundToDtype(dt, exact[i]!);
    if (!Number.isFinite(rounded) || Number.isNaN(rounded)) {
      if (!same(g, rounded)) throw new Error(`${what}: element ${i} is ${g}, expected ${rounded}`);
      continue;
    }
    if (!(Math.abs(g - exact[i]!) <= rel * Math.abs(exact[i]!) + abs)) {
      throw new Error(`${what}: element ${i} is ${g}, expected ${exact[i]} (within ${rel} relative)`);
    }
  }
}

const INT_RANGE: Record<string, [number, number]> = { int8: [-128, 127], int16: [-32768, 32767] };

/** Stores an exact integer result: int32 wraps, int8/int16 saturate. */
function storeInt(dt: DtypeName, v: number): number {
  if (dt === 'int32') return Number(BigInt.asIntN(32, BigInt(v)));
  const [lo, hi] = INT_RANGE[dt]!;
  return Math.min(hi, Math.max(lo, v)) + 0; // + 0: no -0 among integers
}

/** Reference for the elementwise VXM ops (x, y: stored values; imm as assembled). */
function vxmRef(op: string, dt: DtypeName, x: number, y: number, imm: number): number {
  if (!isFloat(dt)) {
    const exact = (): number => {
      switch (op) {
        case 'ADD': return x + y;
        case 'SUB': return x - y;
        case 'MUL': return dt === 'int32' ? Math.imul(x, y) : x * y;
        case 'MAX': return Math.max(x, y);
        case 'MIN': return Math.min(x, y);
        case 'NEG': return -x;
        case 'ABS': return Math.abs(x);
        case 'ADDS': return x + imm;
        case 'MULS': return dt === 'int32' ? Math.imul(x, imm) : x * imm;
      }
      throw new Error(op);
    };
    return storeInt(dt, exact());
  }
  const i = F(imm);
  const r = ((): number => {
    switch (op) {
      case 'ADD': return F(x + y);
      case 'SUB': return F(x - y);
      case 'MUL': return F(x * y);
      case 'MAX': return Number.isNaN(x) || Number.isNaN(y) ? NaN : x > y ? x : y;
      case 'MIN': return Number.isNaN(x) || Number.isNaN(y) ? NaN : x < y ? x : y;
      case 'NEG': return -x;
      case 'ABS': return Math.abs(x);
      case 'ADDS': return F(x + i);
      case 'MULS': return F(x * i);
    }
    throw new Error(op);
  })();
  return roundToDtype(dt, r);
}

const TRANSCENDENTAL: Record<string, (x: number) => number> = {
  EXP2: (x) => 2 ** x,
  EXP: (x) => Math.exp(x),
  RSQRT: (x) => 1 / Math.sqrt(x),
  TANH: (x) => Math.tanh(x),
  SIGMOID: (x) => 1 / (1 + Math.exp(-x)),
};

/** CVT reference: y = cast(x * scale): integers round half to even and saturate, NaN -> 0;
 * floats round the product to f32, then to the dtype (nearest even). */
function cvtRef(to: DtypeName, x: number, scale: number): number {
  const p = x * F(scale);
  if (isFloat(to)) return roundToDtype(to, F(p));
  if (Number.isNaN(p)) return 0;
  const d = dtypeByName(to)!;
  return Math.min(d.max, Math.max(d.min, roundHalfEven(p)));
}

// ---- the VXM harness --------------------------------------------------------------------------

/** Slices for a one-row tensor of `bytes` planes with 2-port slices (fp32 takes two). */
const west = (bytes: number, s0: string, s1: string, addr = 0): string =>
  bytes === 4 ? `MEM.${s0}:${addr}, MEM.${s1}:${addr}` : `MEM.${s0}:${addr}`;

interface VxmCase {
  op: string;
  dt: DtypeName;
  a: number[];
  b?: number[];
  /** The third operand as written (ADDS/MULS immediate, CVT `from[, scale]`). */
  extra?: string;
  from?: DtypeName;
  /** Deliberate schedule errors: move the op, or the result's WRITEs, by this many cycles. */
  opShift?: number;
  writeShift?: number;
  /** Another chip config (default tiny) and VXM issue cycle (default T). */
  chip?: ChipConfig;
  T?: number;
}

const T = 5; // the VXM op issues on cycle 5: operands from MEM.W3 (position 2) leave on cycle 0
const T0_VXM = T;

/**
 * Operand a (from MEM.W0[+W1]) on E0.., b (from MEM.W2[+W3]) on E4.. meet at the VXM on cycle T;
 * the result leaves westward on W0.. and is written to z (MEM.W0[+W1] at 8) as it passes.
 */
function vxmSched(c: VxmCase): { s: Sched; writes: Record<string, number> } {
  const ins = instructionByMnemonic(c.op)!;
  const ch = c.chip ?? TINY;
  const T = c.T ?? T0_VXM;
  const s = new Sched(ch);
  const fromDt = c.from ?? c.dt;
  s.tensor('a', fromDt, [1, L], west(bytesOf(fromDt), 'W0', 'W1'), c.a);
  if (c.b) s.tensor('b', c.dt, [1, L], west(bytesOf(c.dt), 'W2', 'W3'), c.b);
  s.tensor('z', c.dt, [1, L], west(bytesOf(c.dt), 'W0', 'W1', 8));
  s.feed('a', 0, { pos: VXM, cycle: T, stream: 'E0' });
  if (c.b) s.feed('b', 0, { pos: VXM, cycle: T, stream: 'E4' });
  const ops = ['W0', 'E0', ...(c.b ? ['E4'] : []), ...(c.extra !== undefined ? [c.extra] : [])];
  s.at('VXM.0', T + (c.opShift ?? 0), `${c.op}.${c.dt} ${ops.join(', ')}`);
  const writes = s.drain('z', 0, { pos: VXM, cycle: T + delay(ins.delay, ch), stream: 'W0' }, { shift: c.writeShift });
  return { s, writes };
}

async function vxmRun(c: VxmCase): Promise<{ core: Core; s: Sched; got: number[] }> {
  const { s } = vxmSched(c);
  const core = await s.run();
  expectHalted(core);
  expect(core.programCycles, `${c.op}.${c.dt} cycles`).toBe(s.expectedCycles());
  return { core, s, got: core.readTensor('z').values };
}

/**
 * Timing of one VXM instruction: with the op's delay from the preset, the result passes MEM.W0
 * (one hop west of the VXM) on T + delay + 1; a WRITE there one cycle earlier or later, or the
 * op one cycle off its operands' arrival, is STREAM_EMPTY naming the right queue, cycle and line.
 */
async function vxmTiming(c: VxmCase): Promise<void> {
  const ins = instructionByMnemonic(c.op)!;
  const ch = c.chip ?? TINY;
  const T = c.T ?? T0_VXM;
  const d = delay(ins.delay, ch);
  const hop = ch.hopCycles;
  const { writes } = vxmSched(c);
  expect(writes['MEM.W0']).toBe(T + d + hop);
  for (const shift of [-1, 1]) {
    const w = vxmSched({ ...c, writeShift: shift });
    const core = await w.s.run();
    const e = core.error();
    expect(e, `${c.op} result written ${shift} cycle(s) off`).not.toBeNull();
    expect(e!.name).toBe('STREAM_EMPTY');
    expect(e!.queue).toBe('MEM.W0');
    expect(e!.cycle).toBe(T + d + hop + shift);
    expect(e!.stream).toBe(ch.streamsPerDirection); // W0
    expect(core.sourceOf(e!.queue, e!.pc)).toEqual(w.s.lineOf('WRITE z[0], W0'));

    const o = vxmSched({ ...c, opShift: shift });
    const core2 = await o.s.run();
    const e2 = core2.error();
    expect(e2?.name, `${c.op} issued ${shift} cycle(s) off its operands`).toBe('STREAM_EMPTY');
    expect(e2!.queue).toBe('VXM.0');
    expect(e2!.cycle).toBe(T + shift);
    expect(e2!.stream).toBe(0); // E0, the first operand stream
    expect(core2.sourceOf('VXM.0', e2!.pc)).toEqual(o.s.lineOf(`${c.op}.${c.dt}`));
  }
  // At the VXM itself (ALU chaining): another ALU reads the result at the VXM's position on
  // exactly issue + delay; on issue + delay - 1 there is nothing yet.
  for (const early of [0, -1]) {
    const ch2 = vxmSched(c);
    ch2.s.at('VXM.1', T + d + early, `NEG.${c.dt} W4, W0`);
    const core = await ch2.s.run();
    if (early === 0) expectHalted(core);
    else expect(core.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'VXM.1', cycle: T + d - 1, stream: ch.streamsPerDirection });
  }
  // Unchecked, the same wrong schedules run to the end (the hazards are checked-only).
  const w = vxmSched({ ...c, writeShift: -1 });
  const unchecked = await w.s.run({ checked: false });
  expect(errorLine(unchecked)).toBeNull();
  expect(unchecked.halted).toBe(true);
}

/** Hand-worked cases: [a, b, expected] per dtype (b ignored for unary ops). */
type Hand = Partial<Record<DtypeName, [number, number, number][]>>;

const HAND: Record<string, Hand> = {
  ADD: {
    int8: [[100, 100, 127], [-100, -100, -128], [127, 1, 127], [-128, -1, -128], [5, -7, -2]],
    int16: [[30000, 30000, 32767], [-30000, -30000, -32768], [1, -2, -1]],
    int32: [[2147483647, 1, -2147483648], [-2147483648, -1, 2147483647], [1e9, 1.5e9, -1794967296]],
    fp16: [[1, 2 ** -11, 1], [1 + 2 ** -10, 2 ** -11, 1 + 2 ** -9], [65504, 16, Infinity], [2 ** -24, 2 ** -24, 2 ** -23], [-1, 1, 0]],
    bf16: [[1, 2 ** -8, 1], [1 + 2 ** -7, 2 ** -8, 1 + 2 ** -6], [3.3895313892515355e38, 3.3895313892515355e38, Infinity]],
    fp32: [[1, 2 ** -24, 1], [1 + 2 ** -23, 2 ** -24, 1 + 2 ** -22], [3.4028234663852886e38, 3.4028234663852886e38, Infinity], [Infinity, -Infinity, NaN]],
  },
  SUB: {
    int8: [[-100, 100, -128], [127, -1, 127], [3, 5, -2]],
    int16: [[-32768, 1, -32768], [32767, -1, 32767]],
    int32: [[-2147483648, 1, 2147483647], [2147483647, -1, -2147483648]],
    fp16: [[1, -(2 ** -11), 1], [2048, -1, 2048], [2048, -3, 2052]],
    bf16: [[256, -1, 256], [256, -3, 260]],
    fp32: [[1, 1, 0], [16777216, -1, 16777216], [16777216, -3, 16777220]],
  },
  MUL: {
    int8: [[64, 2, 127], [-64, 2, -128], [-128, -128, 127], [-128, -1, 127], [-7, 9, -63]],
    int16: [[200, 200, 32767], [-200, 200, -32768], [-181, 181, -32761]],
    int32: [[65536, 65536, 0], [2147483647, 2, -2], [-2147483648, -1, -2147483648], [-3, 7, -21]],
    fp16: [[2 ** -24, 0.5, 0], [3 * 2 ** -24, 0.5, 2 ** -23], [256, 256, Infinity], [-3, 0.5, -1.5]],
    bf16: [[1 + 2 ** -7, 1 + 2 ** -7, 1 + 2 ** -6], [-3, 0.5, -1.5]],
    fp32: [[1 + 2 ** -23, 1 + 2 ** -23, 1 + 2 ** -22], [1e30, 1e30, Infinity], [-3, 0.5, -1.5]],
  },
  MAX: {
    int8: [[-128, 127, 127], [5, -5, 5]], int16: [[-32768, 32767, 32767]], int32: [[-2147483648, 2147483647, 2147483647], [-1, -2, -1]],
    fp16: [[-65504, 1, 1], [-Infinity, -2, -2]], bf16: [[-1, -0.5, -0.5]], fp32: [[-Infinity, -1e38, -1e38], [2, Infinity, Infinity]],
  },
  MIN: {
    int8: [[-128, 127, -128], [5, -5, -5]], int16: [[-32768, 32767, -32768]], int32: [[-2147483648, 2147483647, -2147483648]],
    fp16: [[-65504, 1, -65504], [Infinity, -2, -2]], bf16: [[-1, -0.5, -1]], fp32: [[-Infinity, -1e38, -Infinity], [2, Infinity, 2]],
  },
  NEG: {
    int8: [[-128, 0, 127], [127, 0, -127], [0, 0, 0]], int16: [[-32768, 0, 32767]], int32: [[-2147483648, 0, -2147483648], [5, 0, -5]],
    fp16: [[0, 0, -0], [Infinity, 0, -Infinity]], bf16: [[-1.5, 0, 1.5]], fp32: [[0, 0, -0], [-Infinity, 0, Infinity], [NaN, 0, NaN]],
  },
  ABS: {
    int8: [[-128, 0, 127], [-5, 0, 5]], int16: [[-32768, 0, 32767]], int32: [[-2147483648, 0, -2147483648], [-5, 0, 5]],
    fp16: [[-0, 0, 0], [-Infinity, 0, Infinity]], bf16: [[-1.5, 0, 1.5]], fp32: [[-0, 0, 0], [-Infinity, 0, Infinity], [-3e38, 0, 3e38]],
  },
  EXP2: {
    fp16: [[3, 0, 8], [-1, 0, 0.5], [0, 0, 1], [16, 0, Infinity], [-25, 0, 0]],
    bf16: [[3, 0, 8], [-1, 0, 0.5], [0, 0, 1]],
    fp32: [[3, 0, 8], [-1, 0, 0.5], [0, 0, 1], [128, 0, Infinity], [-150, 0, 0], [-Infinity, 0, 0]],
  },
  EXP: { fp16: [[0, 0, 1], [12, 0, Infinity]], bf16: [[0, 0, 1]], fp32: [[0, 0, 1], [-Infinity, 0, 0], [89, 0, Infinity]] },
  RSQRT: {
    fp16: [[4, 0, 0.5], [0.25, 0, 2], [0, 0, Infinity], [1, 0, 1]],
    bf16: [[4, 0, 0.5], [0.25, 0, 2], [1, 0, 1]],
    fp32: [[4, 0, 0.5], [0.25, 0, 2], [0, 0, Infinity], [1, 0, 1], [-1, 0, NaN], [Infinity, 0, 0]],
  },
  TANH: { fp16: [[0, 0, 0], [20, 0, 1], [-20, 0, -1]], bf16: [[0, 0, 0], [20, 0, 1]], fp32: [[0, 0, 0], [20, 0, 1], [-20, 0, -1]] },
  SIGMOID: { fp16: [[0, 0, 0.5], [100, 0, 1]], bf16: [[0, 0, 0.5]], fp32: [[0, 0, 0.5], [100, 0, 1], [-200, 0, 0]] },
  // ADDS.int* imm 100, ADDS.float imm 0.1; MULS.int8 imm -3, MULS.int16 imm 300, MULS.int32 imm 65536, float 0.5
  ADDS: {
    int8: [[100, 0, 127], [-128, 0, -28]], int16: [[32700, 0, 32767]], int32: [[2147483600, 0, -2147483596]],
    fp16: [[1, 0, 1.099609375]], bf16: [[1, 0, 1.1015625]], fp32: [[1, 0, F(1 + F(0.1))]],
  },
  MULS: {
    int8: [[50, 0, -128], [-50, 0, 127], [3, 0, -9]], int16: [[200, 0, 32767], [-200, 0, -32768], [3, 0, 900]],
    int32: [[65536, 0, 0], [3, 0, 196608]], fp16: [[2 ** -24, 0, 0], [3 * 2 ** -24, 0, 2 ** -23], [3, 0, 1.5]],
    bf16: [[3, 0, 1.5]], fp32: [[3, 0, 1.5], [2 ** -149, 0, 0]],
  },
};

const IMM: Record<string, (dt: DtypeName) => number> = {
  ADDS: (dt) => (isFloat(dt) ? 0.1 : 100),
  MULS: (dt) => (isFloat(dt) ? 0.5 : dt === 'int8' ? -3 : dt === 'int16' ? 300 : 65536),
};

/** Random operand ranges per op (transcendentals: their useful domain). */
function domain(op: string, dt: DtypeName): [number, number] | [] {
  if (op === 'RSQRT') return [0.01, 1000];
  if (op in TRANSCENDENTAL) return [-10, 10];
  return isFloat(dt) ? [-100, 100] : [];
}

/** ADD, SUB, ... every dtype: reference on all lanes, hand cases, cycles; timing on one dtype. */
async function vxmElementwise(op: string): Promise<void> {
  const ins = instructionByMnemonic(op)!;
  const binary = ins.operands.some((o) => o.name === 'src2');
  for (const dt of ins.dtypes as DtypeName[]) {
    const hand = HAND[op]?.[dt] ?? [];
    expect(hand.length, `${op}.${dt} has hand-worked cases`).toBeGreaterThan(0);
    const [lo, hi] = domain(op, dt);
    const a = lanes(dt, hand.map((h) => h[0]), 11, lo, hi);
    const b = binary ? lanes(dt, hand.map((h) => h[1]), 12, lo, hi) : undefined;
    const imm = IMM[op]?.(dt);
    const { got } = await vxmRun({ op, dt, a, b, extra: imm === undefined ? undefined : String(imm) });
    hand.forEach(([x, y, want], i) => {
      if (!same(got[i]!, roundToDtype(dt, want))) throw new Error(`${op}.${dt}(${x}, ${y}) = ${got[i]}, expected ${want}`);
    });
    if (op in TRANSCENDENTAL) {
      expectClose(dt, got, a.map(TRANSCENDENTAL[op]!), `${op}.${dt}`);
    } else {
      expectSame(got, a.map((x, i) => vxmRef(op, dt, x, b?.[i] ?? 0, imm ?? 0)), `${op}.${dt}`);
    }
  }
  const dt = ins.dtypes[ins.dtypes.length - 1] as DtypeName; // the widest group (fp32)
  const [lo, hi] = domain(op, dt);
  const imm = IMM[op]?.(dt);
  await vxmTiming({ op, dt, a: randoms(dt, L, 1, lo, hi), b: binary ? randoms(dt, L, 2, lo, hi) : undefined, extra: imm === undefined ? undefined : String(imm) });
}

// ---- CVT ------------------------------------------------------------------------------------------

const CVT_SOURCES: Record<DtypeName, number[]> = {
  int8: [-128, 127, 0, 1, -1, 100, -100, 5],
  int16: [-32768, 32767, 300, -300, 129, -129, 1000, 7],
  int32: [2147483647, -2147483648, 16777217, 16777219, 65504, 65520, 70000, -70000, 40000, 300, -129],
  fp16: [1, 0.5, 1.5, 2.5, -2.5, 65504, -65504, 2 ** -24, Infinity, -Infinity, NaN, 127.5, 128.5, -128.5, 1 + 2 ** -10],
  bf16: [1, 0.5, 1.5, 2.5, -2.5, 3e38, -3e38, 1e-38, Infinity, NaN, 127.5, 1 + 2 ** -7, 40000],
  fp32: [0.5, 1.5, 2.5, -0.5, -1.5, 3.5, 127.5, 128.5, -128.5, 3e9, -3e9, 1 + 2 ** -11, 65520, 1e-8, 3e-8,
    1 + 2 ** -8, NaN, Infinity, -Infinity, 32767.5, 2147483520, 1 + 2 ** -9 + 2 ** -11],
};

/** CVT: every from -> to pair at scale 1, quantise/dequantise with scales, hand-worked values. */
async function cvtTest(): Promise<void> {
  const dts = instructionByMnemonic('CVT')!.dtypes as DtypeName[];
  const cases: { from: DtypeName; to: DtypeName; scale: number }[] = [];
  for (const from of dts) for (const to of dts) cases.push({ from, to, scale: 1 });
  cases.push(
    { from: 'fp32', to: 'int8', scale: 0.5 }, // quantise
    { from: 'int8', to: 'fp32', scale: 0.1 }, // dequantise
    { from: 'int32', to: 'int8', scale: 0.25 },
    { from: 'fp16', to: 'bf16', scale: 3 },
    { from: 'int16', to: 'fp16', scale: 1 / 128 },
    { from: 'fp32', to: 'int16', scale: 1000 },
  );
  const results = new Map<string, number[]>();
  for (const { from, to, scale } of cases) {
    const a = lanes(from, CVT_SOURCES[from], 3, ...(isFloat(from) ? [-300, 300] : []));
    const extra = scale === 1 ? from : `${from}, ${scale}`;
    const { got } = await vxmRun({ op: 'CVT', dt: to, a, extra, from });
    expectSame(got, a.map((x) => cvtRef(to, x, scale)), `CVT.${to} from ${from} x ${scale}`);
    results.set(`${from}>${to}@${scale}`, got);
  }
  // Hand-worked: quantise fp32 -> int8 at scale 0.5: half to even, saturate.
  expect(results.get('fp32>int8@0.5')!.slice(0, 11)).toEqual([0, 1, 1, 0, -1, 2, 64, 64, -64, 127, -128]);
  // fp32 -> int32: saturation, half to even; NaN -> 0; inf saturates.
  const i32 = results.get('fp32>int32@1')!;
  expect(i32.slice(0, 11)).toEqual([0, 2, 2, 0, -2, 4, 128, 128, -128, 2147483647, -2147483648]);
  expect(i32.slice(16, 19)).toEqual([0, 2147483647, -2147483648]);
  // fp32 -> int8 at scale 1: 127.5 -> 127 (saturated; nearest even is 128), -128.5 -> -128.
  expect(results.get('fp32>int8@1')!.slice(6, 9)).toEqual([127, 127, -128]);
  // fp32 -> fp16: ties to even, overflow to inf, underflow to 0 / the smallest subnormal.
  const h = results.get('fp32>fp16@1')!;
  // 1 + 2.5 ulp (1 + 2^-9 + 2^-11) is a tie between 1 + 2 ulp and 1 + 3 ulp: even, 1 + 2^-9
  expect([h[11], h[12], h[13], h[14], h[21]]).toEqual([1, Infinity, 0, 2 ** -24, 1 + 2 ** -9]);
  // fp32 -> bf16: 1 + 2^-8 is a tie -> 1.
  expect(results.get('fp32>bf16@1')![15]).toBe(1);
  // int32 -> fp32: 2^24 + 1 -> 2^24 (tie, even), 2^24 + 3 -> 2^24 + 4.
  expect(results.get('int32>fp32@1')!.slice(2, 4)).toEqual([16777216, 16777220]);
  // int32 -> int8 at 0.25 (the values of lanes 8..10: 40000, 300, -129).
  expect(results.get('int32>int8@0.25')!.slice(8, 11)).toEqual([127, 75, -32]);
  // dequantise int8 -> fp32 at 0.1: x * f32(0.1), rounded to f32.
  expect(results.get('int8>fp32@0.1')!.slice(0, 3)).toEqual([F(-128 * F(0.1)), F(127 * F(0.1)), 0]);
  // fp16 -> int8 at scale 1: 2.5 -> 2, -2.5 -> -2, 127.5 -> 127 (saturated), 128.5 -> 127.
  expect(results.get('fp16>int8@1')!.slice(0, 15)).toEqual([1, 0, 2, 2, -2, 127, -128, 0, 127, -128, 0, 127, 127, -128, 1]);
  await vxmTiming({ op: 'CVT', dt: 'int8', a: randoms('fp32', L, 4), extra: 'fp32, 0.5', from: 'fp32' });
  await vxmTiming({ op: 'CVT', dt: 'fp32', a: randoms('int8', L, 4), extra: 'int8', from: 'int8' });
}

// ---- ACC ------------------------------------------------------------------------------------------

/**
 * ACC over seven rows x0..x6 streamed on consecutive cycles: reset at x0, accumulate x1..x3
 * (emitting the running sum each cycle), reset at x4, accumulate x5 without emitting, x6 emitting.
 */
async function accTest(): Promise<void> {
  const ROWS = 7;
  for (const dt of instructionByMnemonic('ACC')!.dtypes as DtypeName[]) {
    const x: number[][] = [];
    for (let r = 0; r < ROWS; r++) x.push(randoms(dt, L, 20 + r, ...(isFloat(dt) ? [-100, 100] : [])));
    // hand-worked lanes 0 and 1
    const hand: Partial<Record<DtypeName, [number[], number[]]>> = {
      int8: [[100, 100, -100, 5, -128, -128, 1], [127, 127, 127, 127, -128, 0, -1]],
      int16: [[30000, 30000, -30000, 5, -32768, -32768, 1], [1, 2, 3, 4, 5, 6, 7]],
      int32: [[2147483647, 1, -1, 5, -2147483648, -1, 0], [1, 2, 3, 4, 5, 6, 7]],
      fp16: [[2048, 1, 1, 0.5, 1, 2 ** -11, 2 ** -11], [65504, 65504, -65504, 0, 1, 2, 3]],
      bf16: [[256, 1, 1, 0.5, 1, 2, 3], [1, 2, 3, 4, 5, 6, 7]],
      fp32: [[16777216, 1, 1, 0.5, 1, 2 ** -24, 2 ** -24], [1, 2, 3, 4, 5, 6, 7]],
    };
    const [h0, h1] = hand[dt]!;
    for (let r = 0; r < ROWS; r++) {
      x[r]![0] = roundToDtype(dt, h0[r]!);
      x[r]![1] = roundToDtype(dt, h1[r]!);
    }
    const bytes = bytesOf(dt);
    const s = new Sched();
    s.tensor('x', dt, [ROWS, L], west(bytes, 'W0', 'W1'), x.flat());
    s.tensor('z', dt, [6, L], west(bytes, 'W2', 'W3', 32));
    s.feed('x', 0, { pos: VXM, cycle: T, stream: 'E0' }, { repeat: [ROWS - 1, 1] });
    s.at('VXM.2', T, `ACC.${dt} W0, E0, reset`);
    s.at('VXM.2', T + 1, `ACC.${dt} W0, E0`, [2, 1]);
    s.at('VXM.2', T + 4, `ACC.${dt} W0, E0, reset`);
    s.at('VXM.2', T + 5, `ACC.${dt} -, E0`);
    s.at('VXM.2', T + 6, `ACC.${dt} W0, E0`);
    const d = TINY.delays.vxmAlu;
    const w = s.drain('z', 0, { pos: VXM, cycle: T + d, stream: 'W0' }, { repeat: [4, 1] });
    expect(w['MEM.W2']).toBe(T + d + 3); // MEM.W2 is 3 hops west of the VXM
    s.drain('z', 5, { pos: VXM, cycle: T + 6 + d, stream: 'W0' });
    const core = await s.run();
    expectHalted(core);
    expect(core.programCycles).toBe(s.expectedCycles());
    const z = core.readTensor('z').values;
    // reference: int32 (wrapping) or fp32 accumulator, emitted in the dtype
    const want: number[] = [];
    const emitAfter = [0, 1, 2, 3, 4, 6];
    for (let i = 0; i < L; i++) {
      let acc = 0;
      const emitted: number[] = [];
      for (let r = 0; r < ROWS; r++) {
        const v = x[r]![i]!;
        const base = r === 0 || r === 4 ? 0 : acc;
        acc = isFloat(dt) ? F(base + v) : (base + v) | 0;
        if (emitAfter.includes(r)) emitted.push(isFloat(dt) ? roundToDtype(dt, acc) : storeInt(dt, acc));
      }
      emitted.forEach((e, k) => (want[k * L + i] = e));
    }
    expectSame(z, want, `ACC.${dt}`);
    const col = (lane: number) => [0, 1, 2, 3, 4, 5].map((r) => z[r * L + lane]);
    const handWant: Partial<Record<DtypeName, number[]>> = {
      // the accumulator is int32: 100+100 = 200 is emitted as 127 but kept, so -100 brings it to 100
      int8: [100, 127, 100, 105, -128, -128],
      int16: [30000, 32767, 30000, 30005, -32768, -32768],
      int32: [2147483647, -2147483648, 2147483647, -2147483644, -2147483648, 2147483647],
      // an fp32 accumulator: 2048+1 = 2049 is emitted as fp16 2048 (tie to even), 2049+1 = 2050
      // ... and after the reset, 1 + 2^-11 (not emitted) + 2^-11 = 1 + 2^-10, where fp16 steps would stay at 1
      fp16: [2048, 2048, 2050, 2050, 1, 1 + 2 ** -10],
      bf16: [256, 256, 258, 258, 1, 6],
      // fp32 in an fp32 accumulator: each + 1 to 2^24 is a tie and is lost
      fp32: [16777216, 16777216, 16777216, 16777216, 1, 1],
    };
    expect(col(0), `ACC.${dt} lane 0`).toEqual(handWant[dt]);
    if (dt === 'int8') expect(col(1)).toEqual([127, 127, 127, 127, -128, -128]);
  }
  // timing: emitted on issue + vxmAlu
  await vxmTiming({ op: 'ACC', dt: 'fp32', a: randoms('fp32', L, 9), extra: 'reset' });
}

// ---- MEM --------------------------------------------------------------------------------------

async function readTest(): Promise<void> {
  // READ on cycle 0 at MEM.W0 (position 5): on E0 at 5 on 0 + memRead, at MEM.E0 (7) two hops later.
  const x = randoms('int8', 4 * L, 30);
  const mk = (wshift = 0) => {
    const s = new Sched();
    s.tensor('x', 'int8', [4, L], 'MEM.W0:0', x);
    s.tensor('z', 'int8', [2, L], 'MEM.E0:0');
    // rows 0 and 2 (step +2), one cycle apart
    s.at('MEM.W0', 0, 'READ x[0], E0, 1, +2', [1, 1]);
    s.at('MEM.E0', 0 + TINY.delays.memRead + 2 + wshift, 'WRITE z[0], E0', [1, 1]);
    return s;
  };
  const s = mk();
  const core = await s.run();
  expectHalted(core);
  expectSame(core.readTensor('z').values, [...x.slice(0, L), ...x.slice(2 * L, 3 * L)], 'READ step +2');
  expect(core.programCycles).toBe(6); // MEM.E0 writes on 3, 4 and halts on 5; + 1 superlane
  expect(s.expectedCycles()).toBe(6);
  // one cycle early: nothing on 2; one late: the first WRITE (on 4) samples the second row and the
  // repeat (on 5) finds nothing
  for (const [shift, at] of [[-1, 2], [1, 5]] as const) {
    const bad = await mk(shift).run();
    expect(bad.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'MEM.E0', cycle: at, stream: 0 });
  }

  // A reader at the writer's own position sees the value on issue + memRead: READ then WRITE in
  // one queue, memRead cycles apart, copies the row inside the slice.
  const s2 = new Sched();
  s2.tensor('x', 'int8', [1, L], 'MEM.W0:0', x.slice(0, L));
  s2.tensor('y', 'int8', [1, L], 'MEM.W0:1');
  s2.at('MEM.W0', 0, 'READ x, E3');
  s2.at('MEM.W0', TINY.delays.memRead, 'WRITE y, E3');
  const c2 = await s2.run();
  expectHalted(c2);
  expectSame(c2.readTensor('y').values, x.slice(0, L), 'READ then WRITE in one slice');
  expect(c2.programCycles).toBe(1 + TINY.delays.memRead + 1);

  // Multi-plane rows: an fp32 tensor over two slices (2 planes each, 2 ports each) and an int16
  // row read whole (default width 2) onto a westward group.
  const f = randoms('fp32', 2 * L, 31);
  const s3 = new Sched();
  s3.tensor('f', 'fp32', [2, L], 'MEM.E0:0, MEM.E1:0', f);
  s3.tensor('g', 'fp32', [2, L], 'MEM.W1:0, MEM.W0:0');
  // both halves at VXM (6) on cycle 4, westward on W4..W7
  s3.feed('f', 0, { pos: VXM, cycle: 4, stream: 'W4' }, { repeat: [1, 1] });
  s3.drain('g', 0, { pos: VXM, cycle: 4, stream: 'W4' }, { repeat: [1, 1] });
  const c3 = await s3.run();
  expectHalted(c3);
  expectSame(c3.readTensor('g').values, f, 'fp32 rows over two slices');
  expect(c3.programCycles).toBe(s3.expectedCycles());
}

async function writeTest(): Promise<void> {
  // WRITE samples the stream on its issue cycle and writes the array one cycle later: a READ of the
  // same address on the next cycle sees the new data.
  // (int8: the WRITE's port on 4 and the READ's on 4 are the slice's two ports)
  const x = randoms('int8', L, 40);
  const old = randoms('int8', L, 41);
  const s = new Sched();
  s.tensor('x', 'int8', [1, L], 'MEM.W0:0', x);
  s.tensor('t', 'int8', [1, L], 'MEM.E0:0', old);
  s.tensor('z', 'int8', [1, L], 'MEM.E1:0');
  s.at('MEM.W0', 0, 'READ x, E0'); // E0 at 5 on 1, at MEM.E0 (7) on 3
  s.at('MEM.E0', 3, 'WRITE t, E0'); // array written on 4
  s.at('MEM.E0', 4, 'READ t, E2'); // reads the new row: at 7 on 5, at MEM.E1 (8) on 6
  s.at('MEM.E1', 6, 'WRITE z, E2');
  const core = await s.run();
  expectHalted(core);
  expectSame(core.readTensor('t').values, x, 'WRITE');
  expectSame(core.readTensor('z').values, x, 'READ after WRITE');
  expect(core.programCycles).toBe(8);
  // writes with a negative step under REPEAT: rows 3, 2, 1, 0 of u get x rows 0..3
  const xs = randoms('int8', 4 * L, 42);
  const s2 = new Sched();
  s2.tensor('x', 'int8', [4, L], 'MEM.W0:0', xs);
  s2.tensor('u', 'int8', [4, L], 'MEM.E0:0');
  s2.at('MEM.W0', 0, 'READ x[0], E0', [3, 1]);
  s2.at('MEM.E0', 3, 'WRITE u[3], E0, 1, -1', [3, 1]);
  const c2 = await s2.run();
  expectHalted(c2);
  const u = c2.readTensor('u').values;
  for (let r = 0; r < 4; r++) expectSame(u.slice((3 - r) * L, (4 - r) * L), xs.slice(r * L, (r + 1) * L), `u row ${3 - r}`);
  expect(c2.programCycles).toBe(3 + 4 + 1);
  // timing: the WRITE reads its stream on its issue cycle only
  for (const at of [2, 4]) {
    const s3 = new Sched();
    s3.tensor('x', 'int16', [1, L], 'MEM.W0:0', x);
    s3.tensor('t', 'int16', [1, L], 'MEM.E0:0');
    s3.at('MEM.W0', 0, 'READ x, E0');
    s3.at('MEM.E0', at, 'WRITE t, E0');
    const c3 = await s3.run();
    expect(c3.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'MEM.E0', cycle: at, stream: 0 });
  }
}

/** int16 row indices 0..7 per lane, with repeats. */
const IDX = Array.from({ length: L }, (_, i) => (i * 5 + (i >> 3)) % 8);

async function gatherTest(): Promise<void> {
  for (const dt of ['int8', 'int16'] as const) {
    const bytes = bytesOf(dt);
    const tbl = randoms(dt, 8 * L, 50);
    const mk = (shift = 0) => {
      const s = new Sched();
      s.tensor('idx', 'int16', [1, L], 'MEM.W0:0', IDX);
      s.tensor('tbl', dt, [8, L], 'MEM.E0:0', tbl);
      s.tensor('z', dt, [1, L], 'MEM.E1:0');
      s.feed('idx', 0, { pos: 7, cycle: 3, stream: 'E0' }); // READ on 1 at MEM.W0
      s.at('MEM.E0', 3 + shift, `GATHER tbl, E0, E2${bytes === 2 ? ', 2' : ''}`); // rows of `bytes` planes
      s.drain('z', 0, { pos: 7, cycle: 3 + TINY.delays.memRead, stream: 'E2' });
      return s;
    };
    const s = mk();
    const core = await s.run();
    expectHalted(core);
    expectSame(core.readTensor('z').values, IDX.map((r, i) => tbl[r * L + i]!), `GATHER ${dt}`);
    expect(core.programCycles).toBe(s.expectedCycles());
    expect(s.haltCycles()['MEM.E1']).toBe(6);
    for (const shift of [-1, 1]) {
      const bad = await mk(shift).run();
      expect(bad.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'MEM.E0', cycle: 3 + shift });
    }
  }
}

async function scatterTest(): Promise<void> {
  for (const dt of ['int8', 'fp16'] as const) {
    const bytes = bytesOf(dt);
    const tbl = randoms(dt, 8 * L, 60);
    const data = randoms(dt, L, 61);
    const mk = (shift = 0) => {
      const s = new Sched();
      s.tensor('idx', 'int16', [1, L], 'MEM.W0:0', IDX);
      s.tensor('data', dt, [1, L], 'MEM.W1:0', data);
      s.tensor('tbl', dt, [8, L], 'MEM.E0:0', tbl);
      s.feed('idx', 0, { pos: 7, cycle: 4, stream: 'E0' });
      s.feed('data', 0, { pos: 7, cycle: 4, stream: 'E2' });
      s.at('MEM.E0', 4 + shift, `SCATTER tbl, E0, E2${bytes === 2 ? ', 2' : ''}`);
      return s;
    };
    const s = mk();
    const core = await s.run();
    expectHalted(core);
    const want = tbl.slice();
    IDX.forEach((r, i) => (want[r * L + i] = data[i]!));
    expectSame(core.readTensor('tbl').values, want, `SCATTER ${dt}`);
    expect(core.programCycles).toBe(s.expectedCycles());
    expect(core.programCycles).toBe(4 + 1 + 1);
    for (const shift of [-1, 1]) {
      const bad = await mk(shift).run();
      expect(bad.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'MEM.E0', cycle: 4 + shift });
    }
  }
}

// ---- ICU --------------------------------------------------------------------------------------

/** A READ at MEM.W0 and a WRITE at MEM.E0 that must issue 1 + memRead cycles later. */
function copyProgram(readPrefix: string, writeAt: number, extra = ''): string {
  return `
.tensor x int8[32] @ MEM.W0:0 = range(0)
.tensor z int8[32] @ MEM.E0:0
.queue MEM.W0
${readPrefix}
  READ x, E0
  HALT
.queue MEM.E0
  @${writeAt} WRITE z, E0
  HALT
${extra}`;
}

async function nopTest(): Promise<void> {
  // NOP 3 then READ: the READ issues on 3; its data pass MEM.E0 on 3 + memRead + 2.
  const want = 3 + TINY.delays.memRead + 2;
  const ok = await runAsm(copyProgram('  NOP 3', want));
  expectHalted(ok);
  expect(ok.readTensor('z').values).toEqual(Array.from({ length: L }, (_, i) => i));
  expect(ok.programCycles).toBe(want + 1 + 1);
  // NOP 1 twice is NOP 2; one cycle off either way is empty
  const two = await runAsm(copyProgram('  NOP 1\n  NOP 1', want - 1));
  expectHalted(two);
  for (const at of [want - 1, want + 1]) {
    const bad = await runAsm(copyProgram('  NOP 3', at));
    expect(bad.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'MEM.E0', cycle: at });
  }
  // the assembler's @cycle placement is NOPs: @3 READ is the same program
  const at3 = await runAsm(copyProgram('  @3 NOP 1\n  NOP 1', want + 2));
  expectHalted(at3);
  expect(ok.queueStats().find((q) => q.name === 'MEM.W0')!.busy).toBe(1); // NOPs occupy no unit
}

async function repeatTest(): Promise<void> {
  // READ x[0], step +3, repeated twice 2 cycles apart: issues on 1, 3, 5 reading rows 0, 3, 6;
  // the next instruction issues on 1 + 2*2 + 1 = 6.
  const x = randoms('int8', 8 * L, 70);
  const s = new Sched();
  s.tensor('x', 'int8', [8, L], 'MEM.W0:0', x);
  s.tensor('z', 'int8', [4, L], 'MEM.E0:0');
  s.at('MEM.W0', 1, 'READ x[0], E0, 1, +3', [2, 2]);
  s.at('MEM.W0', 6, 'READ x[7], E1');
  s.at('MEM.E0', 4, 'WRITE z[0], E0, 1, +1', [2, 2]); // on 4, 6, 8
  s.at('MEM.E0', 9, 'WRITE z[3], E1'); // x[7]: on E1 at 5 on 7, at 7 on 9
  const text = s.text();
  expect(text).toContain('REPEAT 2, 2');
  const core = await s.run();
  expectHalted(core);
  const z = core.readTensor('z').values;
  [0, 3, 6, 7].forEach((r, k) => expectSame(z.slice(k * L, (k + 1) * L), x.slice(r * L, (r + 1) * L), `z row ${k}`));
  expect(core.programCycles).toBe(10 + 1);
  expect(core.queueStats().find((q) => q.name === 'MEM.W0')!.issued).toBe(3 + 1 + 1 + 1); // NOP, 3 READs, READ, HALT
  // a repeat one cycle off: the repeated WRITEs on 5, 7, 9 see nothing on 5
  const bad = await runAsm(text.replace('@4 WRITE', '@5 WRITE').replace('@9 WRITE z[3], E1', '@10 WRITE z[3], E1'));
  expect(bad.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'MEM.E0', cycle: 5 });
  // IW rows advance by `rows` under REPEAT: tested in IW; VXM/SXM repeats: in ACC and MM.
}

async function syncNotifyTest(): Promise<void> {
  // MEM.W0 parks in SYNC on cycle 0; MEM.W1 NOTIFYs on cycle 4; the READ issues on 5, its data
  // pass MEM.E0 on 5 + memRead + 2 = 8.
  const notifier = '.queue MEM.W1\n  @4 NOTIFY\n  HALT';
  const ok = await runAsm(copyProgram('  SYNC', 8, notifier));
  expectHalted(ok);
  expect(ok.readTensor('z').values[5]).toBe(5);
  expect(ok.programCycles).toBe(10);
  for (const at of [7, 9]) {
    const bad = await runAsm(copyProgram('  SYNC', at, notifier));
    expect(bad.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'MEM.E0', cycle: at });
  }
  // A SYNC issued on the NOTIFY's own cycle is restarted too, whatever the queue order:
  // MEM.W0 (after MEM.W1 in queue order) and MEM.W2 (before it) both SYNC on 4.
  const both = await runAsm(`
.tensor x int8[32] @ MEM.W0:0 = range(0)
.tensor y int8[32] @ MEM.W2:0 = range(100)
.tensor z int8[2,32] @ MEM.E0:0
.queue MEM.W2
  @4 SYNC
  READ y, E1          ; issues on 5: at 3 on 6, at MEM.E0 (7) on 10
  HALT
.queue MEM.W1
  @4 NOTIFY
  HALT
.queue MEM.W0
  @4 SYNC
  READ x, E0          ; issues on 5: at 5 on 6, at MEM.E0 on 8
  HALT
.queue MEM.E0
  @8 WRITE z[0], E0
  @10 WRITE z[1], E1
  HALT
`);
  expectHalted(both);
  expect(both.readTensor('z').values.slice(L, L + 3)).toEqual([100, 101, 102]);
  // two rounds: NOTIFY on 2 wakes the SYNC of 0; NOP on 3, the second SYNC on 4 waits for the
  // NOTIFY of 6; READ on 7, at MEM.E0 on 10
  const rounds = await runAsm(copyProgram('  SYNC\n  NOP 1\n  SYNC', 10, '.queue MEM.W1\n  @2 NOTIFY\n  @6 NOTIFY\n  HALT'));
  expectHalted(rounds);
  expect(rounds.programCycles).toBe(12);
}

async function haltTest(): Promise<void> {
  // Queues halt on different cycles; the chip's cycles are the last HALT + superlanes - 1.
  const core = await runAsm(`
.queue MEM.W0
  HALT
.queue MEM.E3
  @17 HALT
  READ 9999, E0       ; never issued: the queue has ended
.queue VXM.3
  NOP 5
  HALT
`);
  expectHalted(core);
  expect(core.programCycles).toBe(17 + TINY.superlanes - 1);
  expect(core.cycle).toBe(18);
  const st = core.queueStats();
  for (const q of ['MEM.W0', 'MEM.E3', 'VXM.3']) expect(st.find((x) => x.name === q)!.status).toBe(3); // HALTED
  expect(st.find((x) => x.name === 'MEM.E3')!.issued).toBe(2); // the @17 NOP and the HALT
  // a program of one HALT (on cycle 0) counts only the stagger
  const one = await runAsm('.queue SXM.E\n  HALT\n');
  expectHalted(one);
  expect(one.programCycles).toBe(0 + TINY.superlanes - 1);
}

// ---- MXM --------------------------------------------------------------------------------------

/** Reference y[n] = sum_k x[k] W[k][n]: int32 wrapping, or fp32 adding products in ascending k. */
function mmRef(dt: DtypeName, x: number[], W: number[][], acc: number[] | null): number[] {
  const K = W.length;
  return Array.from({ length: L }, (_, n) => {
    let s = acc ? acc[n]! : 0;
    for (let k = 0; k < K; k++) s = dt === 'int8' ? (s + x[k]! * W[k]![n]!) | 0 : F(s + F(x[k]! * W[k]![n]!));
    return s;
  });
}

interface MmPlan {
  dt: DtypeName;
  W: number[][];
  xs: number[][];
  /** per MM: emit?, acc? */
  mms: { emit: boolean; acc: boolean }[];
  iwShift?: number;
  mmShift?: number;
  writeShift?: number;
  chip?: ChipConfig;
}

/**
 * int8 on MXM.W0 (position 0): W's rows 4i, 4i+1 in MEM.W3 (wa), 4i+2, 4i+3 in MEM.W2 (wb),
 * installed four rows per cycle (IW rows 4) on W0..W3 by IW REPEAT 7 from cycle 4; x rows from
 * MEM.W1 on W4; results eastward on E0..E3 into y (int32) in MEM.E0, MEM.E1.
 * fp16/bf16 on MXM.E0 (position 12): rows 2i in MEM.E3 (wa), 2i+1 in MEM.E2 (wb), two rows per
 * cycle (IW rows 2, four streams) on E0..E3 from cycle 4; x from MEM.E1 on E4, E5; results
 * westward on W0..W3 into y (fp32) in MEM.W0, MEM.W1.
 */
function mmSched(p: MmPlan): { s: Sched; mmCycles: number[]; writeCycles: number[] } {
  const ch = p.chip ?? TINY;
  const s = new Sched(ch);
  const int8 = p.dt === 'int8';
  const K = p.W.length;
  const per = int8 ? 4 : 2; // rows per IW
  const half = per / 2;
  const wa: number[] = [];
  const wb: number[] = [];
  for (let k = 0; k < K; k += per) {
    for (let j = 0; j < half; j++) wa.push(...p.W[k + j]!);
    for (let j = half; j < per; j++) wb.push(...p.W[k + j]!);
  }
  const plane = int8 ? 'MXM.W0' : 'MXM.E0';
  const pos = int8 ? MXM_W : MXM_E;
  const dirIn = int8 ? 'W' : 'E';
  const dirOut = int8 ? 'E' : 'W';
  s.tensor('wa', p.dt, [K / 2, L], int8 ? 'MEM.W3:0' : 'MEM.E3:0', wa);
  s.tensor('wb', p.dt, [K / 2, L], int8 ? 'MEM.W2:0' : 'MEM.E2:0', wb);
  s.tensor('x', p.dt, [p.xs.length, L], int8 ? 'MEM.W1:0' : 'MEM.E1:0', p.xs.flat());
  const nOut = p.mms.filter((m) => m.emit).length;
  s.tensor('y', int8 ? 'int32' : 'fp32', [nOut, L], int8 ? 'MEM.E0:0, MEM.E1:0' : 'MEM.W0:0, MEM.W1:0');
  const T0 = ch.delays.memRead + 3 * ch.hopCycles; // 4 on tiny: MEM.W2/E2 are 3 hops from the plane
  const installs = K / per;
  if (int8) {
    s.feed('wa', 0, { pos, cycle: T0, stream: `${dirIn}0` }, { repeat: [installs - 1, 1], width: 2, step: 2 });
    s.feed('wb', 0, { pos, cycle: T0, stream: `${dirIn}2` }, { repeat: [installs - 1, 1], width: 2, step: 2 });
  } else {
    s.feed('wa', 0, { pos, cycle: T0, stream: `${dirIn}0` }, { repeat: [installs - 1, 1] });
    s.feed('wb', 0, { pos, cycle: T0, stream: `${dirIn}2` }, { repeat: [installs - 1, 1] });
  }
  s.at(plane, T0 + (p.iwShift ?? 0), `IW.${p.dt} 0, ${dirIn}0, ${per}`, [installs - 1, 1]);
  // first MM one cycle after the weights are usable (the last IW's issue + 1), so that a
  // deliberately early MM does not overlap the IWs in the queue
  const T1 = T0 + installs + 1;
  const rate = int8 ? 1 : 2; // MM issue cycles
  s.feed('x', 0, { pos, cycle: T1, stream: `${dirIn}4` }, { repeat: [p.xs.length - 1, rate] });
  const mmCycles: number[] = [];
  const writeCycles: number[] = [];
  let out = 0;
  p.mms.forEach((m, i) => {
    const c = T1 + i * rate + (p.mmShift ?? 0);
    mmCycles.push(c);
    s.at(plane, c, `MM.${p.dt} ${dirIn}4, ${m.emit ? `${dirOut}0` : '-'}${m.acc ? ', acc' : ''}`);
    if (m.emit) {
      const w = s.drain('y', out++, { pos, cycle: T1 + i * rate + ch.delays.mxm, stream: `${dirOut}0` }, { shift: p.writeShift });
      writeCycles.push(Math.min(...Object.values(w)));
    }
  });
  return { s, mmCycles, writeCycles };
}

function mmWant(p: MmPlan): number[] {
  const want: number[] = [];
  let acc: number[] | null = null;
  const K = p.W.length;
  p.mms.forEach((m, i) => {
    const x = p.xs[i]!.slice(0, K);
    acc = mmRef(p.dt, x, p.W, m.acc ? acc : null);
    if (m.emit) want.push(...acc);
  });
  return want;
}

function weights(dt: DtypeName, seed: number): number[][] {
  const K = dt === 'int8' ? L : L / 2;
  const r = randoms(dt, K * L, seed, ...(dt === 'int8' ? [] : [-4, 4]));
  return Array.from({ length: K }, (_, k) => r.slice(k * L, (k + 1) * L));
}

async function mmTest(): Promise<void> {
  const mms = [
    { emit: true, acc: false }, // y0 = x0 W
    { emit: true, acc: true }, // y1 = x0 W + x1 W
    { emit: false, acc: false }, // accumulators = x2 W, not emitted
    { emit: true, acc: true }, // y2 = x2 W + x3 W
    { emit: true, acc: false }, // y3 = x4 W (overwrites)
  ];
  for (const dt of instructionByMnemonic('MM')!.dtypes as DtypeName[]) {
    const W = weights(dt, 80);
    const xs = Array.from({ length: mms.length }, (_, i) => randoms(dt, L, 90 + i, ...(dt === 'int8' ? [] : [-4, 4])));
    if (dt === 'int8') {
      // the extreme product sums: all -128 against all -128 is 32 * 16384
      xs[0] = xs[0]!.map(() => -128);
      W[5] = W[5]!.map(() => -128);
    }
    const plan: MmPlan = { dt, W, xs, mms };
    const { s, mmCycles, writeCycles } = mmSched(plan);
    const core = await s.run();
    expectHalted(core);
    expectSame(core.readTensor('y').values, mmWant(plan), `MM.${dt}`);
    expect(core.programCycles).toBe(s.expectedCycles());
    // MM issue: int8 every cycle, fp16/bf16 every 2 cycles
    expect(mmCycles[1]! - mmCycles[0]!).toBe(dt === 'int8' ? 1 : 2);
    expect(core.planeMacs()[dt === 'int8' ? 0 : 1]).toBe(mms.length * W.length * L);
    // results pass the first y slice on MM + mxm + hops (MEM.E0 is 7 hops east of MXM.W, MEM.W0
    // 7 hops west of MXM.E)
    expect(writeCycles[0]).toBe(mmCycles[0]! + TINY.delays.mxm + 7);
    // timing probes on a single MM: its result one cycle off at y's first slice, or the MM one
    // cycle off its activation
    const one: MmPlan = { dt, W, xs: [xs[0]!], mms: [{ emit: true, acc: false }] };
    for (const shift of [-1, 1]) {
      const bad = mmSched({ ...one, writeShift: shift });
      const c = await bad.s.run();
      expect(c.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: dt === 'int8' ? 'MEM.E0' : 'MEM.W0', cycle: writeCycles[0]! + shift });
      const early = mmSched({ ...one, mmShift: shift });
      const c2 = await early.s.run();
      expect(c2.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: dt === 'int8' ? 'MXM.W0' : 'MXM.E0', cycle: mmCycles[0]! + shift });
    }
  }
  // fp16 accumulates in fp32: 16 products of 2048 x 1 and 1 x 1 in lane 0
  const Wf = weights('fp16', 81).map((r) => r.map(() => 1));
  const x = Array.from({ length: L }, (_, k) => (k === 0 ? 2048 : 1));
  const plan: MmPlan = { dt: 'fp16', W: Wf, xs: [x], mms: [{ emit: true, acc: false }] };
  const c = await mmSched(plan).s.run();
  expectHalted(c);
  expect(c.readTensor('y').values[0]).toBe(2048 + 15); // fp16 accumulation would stick at 2048
}

/** IW: installs rows from streams; rows r .. r+rows-1 from successive stream groups; rows advance
 * under REPEAT. A permutation matrix checks which row went where. */
async function iwTest(): Promise<void> {
  for (const dt of instructionByMnemonic('IW')!.dtypes as DtypeName[]) {
    const K = dt === 'int8' ? L : L / 2;
    const perm = Array.from({ length: K }, (_, k) => (k * 7 + 3) % L); // row k has its 1 in column perm[k]
    const W = Array.from({ length: K }, (_, k) => Array.from({ length: L }, (_, n) => (n === perm[k] ? 1 : 0)));
    const xv = Array.from({ length: L }, (_, k) => (k < K ? k + 1 : 99));
    const plan: MmPlan = { dt, W, xs: [xv], mms: [{ emit: true, acc: false }] };
    const { s } = mmSched(plan);
    expect(s.text()).toContain(`IW.${dt} 0, ${dt === 'int8' ? 'W0, 4' : 'E0, 2'}`);
    const core = await s.run();
    expectHalted(core);
    const y = core.readTensor('y').values;
    const want = Array.from({ length: L }, () => 0);
    perm.forEach((n, k) => (want[n] = k + 1));
    expect(y).toEqual(want);
    // IW reads its streams on its issue cycle: one cycle early is empty at the plane on 3; one
    // late, each IW takes the next install's rows and the last repeat (on 4 + 8) finds nothing
    for (const [shift, at] of [[-1, 3], [1, 4 + K / (dt === 'int8' ? 4 : 2)]] as const) {
      const bad = await mmSched({ ...plan, iwShift: shift }).s.run();
      expect(bad.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: dt === 'int8' ? 'MXM.W0' : 'MXM.E0', cycle: at });
    }
  }
  // single-row IWs (rows 1, the default) and one IW of several rows mixed: int8, one slice
  const W = weights('int8', 83);
  const x = randoms('int8', L, 84);
  const s = new Sched();
  s.tensor('w', 'int8', [L, L], 'MEM.W3:0', W.flat());
  s.tensor('x', 'int8', [1, L], 'MEM.W2:0', x);
  s.tensor('y', 'int32', [1, L], 'MEM.E0:0, MEM.E1:0');
  // rows 0..1 by two 1-row IWs, rows 2..31 by 2-row IWs (15, REPEAT 14), one slice, 2 ports
  s.feed('w', 0, { pos: MXM_W, cycle: 3, stream: 'W0' }, { repeat: [1, 1], width: 1, step: 1 });
  s.at('MXM.W0', 3, 'IW.int8 0, W0', [1, 1]);
  s.feed('w', 2, { pos: MXM_W, cycle: 5, stream: 'W0' }, { repeat: [14, 1], width: 2, step: 2 });
  s.at('MXM.W0', 5, 'IW.int8 2, W0, 2', [14, 1]);
  s.feed('x', 0, { pos: MXM_W, cycle: 20, stream: 'W4' });
  s.at('MXM.W0', 20, 'MM.int8 W4, E0');
  s.drain('y', 0, { pos: MXM_W, cycle: 20 + TINY.delays.mxm, stream: 'E0' });
  const core = await s.run();
  expectHalted(core);
  expectSame(core.readTensor('y').values, mmRef('int8', x, W, null), 'IW rows 1 and 2');
  expect(core.programCycles).toBe(s.expectedCycles());
}

// ---- SXM --------------------------------------------------------------------------------------

interface SxmCase {
  op: string;
  dt: DtypeName;
  x: number[];
  /** operands after dst, src (as written) */
  args?: string;
  idx?: number[];
  opShift?: number;
  writeShift?: number;
  chip?: ChipConfig;
  T?: number;
}

/**
 * x (MEM.E3, or MEM.E2+E3 for 4-byte dtypes) eastward on E0.. reaches SXM.E (11) on cycle T;
 * an int16 index group from MEM.E1 on E4, E5; the result leaves westward on W0.. into z.
 */
function sxmSched(c: SxmCase): { s: Sched; writes: Record<string, number> } {
  const ins = instructionByMnemonic(c.op)!;
  const ch = c.chip ?? TINY;
  const T = c.T ?? T0_VXM;
  const s = new Sched(ch);
  const b = bytesOf(c.dt);
  s.tensor('x', c.dt, [1, L], b === 4 ? 'MEM.E2:0, MEM.E3:0' : 'MEM.E3:0', c.x);
  s.tensor('z', c.dt, [1, L], b === 4 ? 'MEM.E3:16, MEM.E2:16' : 'MEM.E3:16');
  s.feed('x', 0, { pos: SXM_E, cycle: T, stream: 'E0' });
  if (c.idx) {
    s.tensor('idx', 'int16', [1, L], 'MEM.E1:0', c.idx);
    s.feed('idx', 0, { pos: SXM_E, cycle: T, stream: 'E4' });
  }
  const ops = ['W0', 'E0', ...(c.idx ? ['E4'] : []), ...(c.args ? [c.args] : [])];
  s.at('SXM.E', T + (c.opShift ?? 0), `${c.op}.${c.dt} ${ops.join(', ')}`);
  const writes = s.drain('z', 0, { pos: SXM_E, cycle: T + delay(ins.delay, ch), stream: 'W0' }, { shift: c.writeShift });
  return { s, writes };
}

async function sxmRun(c: SxmCase): Promise<number[]> {
  const { s } = sxmSched(c);
  const core = await s.run();
  expectHalted(core);
  expect(core.programCycles).toBe(s.expectedCycles());
  return core.readTensor('z').values;
}

async function sxmTiming(c: SxmCase): Promise<void> {
  const ch = c.chip ?? TINY;
  const T = c.T ?? T0_VXM;
  const d = delay(instructionByMnemonic(c.op)!.delay, ch);
  const { writes } = sxmSched(c);
  expect(writes['MEM.E3']).toBe(T + d + ch.hopCycles);
  for (const shift of [-1, 1]) {
    const w = sxmSched({ ...c, writeShift: shift });
    const core = await w.s.run();
    expect(core.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'MEM.E3', cycle: T + d + ch.hopCycles + shift, stream: ch.streamsPerDirection });
    const o = sxmSched({ ...c, opShift: shift });
    const core2 = await o.s.run();
    expect(core2.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'SXM.E', cycle: T + shift, stream: 0 });
    expect(core2.sourceOf('SXM.E', core2.error()!.pc)).toEqual(o.s.lineOf(`${c.op}.${c.dt}`));
  }
}

const iota = (n: number, f: (i: number) => number = (i) => i): number[] => Array.from({ length: n }, (_, i) => f(i));

/** Lane movement: out[i] = x[map(i)] (map -1: 0), the same on every dtype (byte planes alike). */
async function laneMove(op: string, cases: { args: string; map: (i: number) => number; idx?: number[] }[]): Promise<void> {
  for (const dt of instructionByMnemonic(op)!.dtypes as DtypeName[]) {
    const x = lanes(dt, [], 100 + bytesOf(dt));
    for (const c of cases) {
      const got = await sxmRun({ op, dt, x, args: c.args || undefined, idx: c.idx });
      const want = iota(L, (i) => {
        const j = c.map(i);
        return j < 0 ? 0 : x[j]!;
      });
      expectSame(got, want, `${op}.${dt} ${c.args}`);
    }
  }
  const c = cases[0]!;
  await sxmTiming({ op, dt: 'fp32', x: randoms('fp32', L, 5), args: c.args || undefined, idx: c.idx });
}

async function shiftTest(): Promise<void> {
  // hand-worked: SHIFT by 3 of 1..32 (int8)
  const got = await sxmRun({ op: 'SHIFT', dt: 'int8', x: iota(L, (i) => i + 1), args: '3' });
  expect(got).toEqual([0, 0, 0, ...iota(L - 3, (i) => i + 1)]);
  await laneMove('SHIFT', [
    { args: '3', map: (i) => i - 3 },
    { args: '-5', map: (i) => (i + 5 < L ? i + 5 : -1) },
    { args: '0', map: (i) => i },
    { args: String(L), map: () => -1 },
  ]);
}

async function rotTest(): Promise<void> {
  const got = await sxmRun({ op: 'ROT', dt: 'int8', x: iota(L, (i) => i + 1), args: '3' });
  expect(got).toEqual([30, 31, 32, ...iota(L - 3, (i) => i + 1)]);
  const mod = (a: number) => ((a % L) + L) % L;
  await laneMove('ROT', [
    { args: '3', map: (i) => mod(i - 3) },
    { args: '-1', map: (i) => mod(i + 1) },
    { args: String(L + 1), map: (i) => mod(i - 1) },
  ]);
}

async function permTest(): Promise<void> {
  const rev = iota(L, (i) => L - 1 - i);
  const dup = iota(L, (i) => (i * 7) % 5);
  const got = await sxmRun({ op: 'PERM', dt: 'int8', x: iota(L, (i) => i + 1), idx: rev });
  expect(got).toEqual(iota(L, (i) => L - i));
  await laneMove('PERM', [
    { args: '', map: (i) => rev[i]!, idx: rev },
    { args: '', map: (i) => dup[i]!, idx: dup },
  ]);
}

async function distTest(): Promise<void> {
  const got = await sxmRun({ op: 'DIST', dt: 'int8', x: iota(L, (i) => i + 1), args: '2, 8' });
  expect(got).toEqual(iota(L, (i) => Math.floor(i / 8) * 8 + 3));
  await laneMove('DIST', [
    { args: '5', map: () => 5 },
    { args: '2, 8', map: (i) => Math.floor(i / 8) * 8 + 2 },
    { args: '0, 1', map: (i) => i },
    { args: '31, 32', map: () => 31 },
  ]);
}

async function transTest(): Promise<void> {
  // 4 x 8 row-major -> 8 x 4: out[c*4 + r] = in[r*8 + c]
  const got = await sxmRun({ op: 'TRANS', dt: 'int8', x: iota(L), args: '4' });
  expect(got.slice(0, 8)).toEqual([0, 8, 16, 24, 1, 9, 17, 25]);
  const tmap = (rows: number) => (i: number) => {
    const cols = L / rows;
    const c = Math.floor(i / rows);
    const r = i % rows;
    return r * cols + c;
  };
  await laneMove('TRANS', [
    { args: '4', map: tmap(4) },
    { args: '2', map: tmap(2) },
    { args: '8', map: tmap(8) },
    { args: '1', map: (i) => i },
    { args: String(L), map: (i) => i },
  ]);
}

/** Reductions: per segment, the sum (fp32 in lane order / wrapping int32, stored in the dtype) or max. */
async function reduceTest(op: 'RSUM' | 'RMAX'): Promise<void> {
  const red = (dt: DtypeName, x: number[], seg: number): number[] => {
    const out: number[] = [];
    for (let s0 = 0; s0 < L; s0 += seg) {
      let acc = x[s0]!;
      for (let i = s0 + 1; i < s0 + seg; i++) {
        const v = x[i]!;
        if (op === 'RMAX') acc = Number.isNaN(v) || Number.isNaN(acc) ? NaN : v > acc ? v : acc;
        else acc = isFloat(dt) ? F(acc + v) : (acc + v) | 0;
      }
      const stored = isFloat(dt) ? roundToDtype(dt, acc) : storeInt(dt, acc);
      for (let i = 0; i < seg; i++) out.push(stored);
    }
    return out;
  };
  for (const dt of instructionByMnemonic(op)!.dtypes as DtypeName[]) {
    const x = lanes(dt, [], 110 + bytesOf(dt), ...(isFloat(dt) ? [-100, 100] : []));
    for (const seg of [0, 8, 4, 1, L]) {
      const got = await sxmRun({ op, dt, x, args: seg ? String(seg) : undefined });
      expectSame(got, red(dt, x, seg || L), `${op}.${dt} seg ${seg}`);
    }
  }
  if (op === 'RSUM') {
    // int8: sums are int32 then saturated on store; int32 wraps
    expect(await sxmRun({ op, dt: 'int8', x: iota(L, () => 100) })).toEqual(iota(L, () => 127));
    expect(await sxmRun({ op, dt: 'int8', x: iota(L, (i) => (i < 16 ? 100 : -100)), args: '16' })).toEqual(iota(L, (i) => (i < 16 ? 127 : -128)));
    expect((await sxmRun({ op, dt: 'int32', x: iota(L, () => 2 ** 30) })).every((v) => v === 0)).toBe(true); // 32 * 2^30 = 2^35 wraps to 0
    // fp16 sums in fp32: 2048 + 1 + 1 + 1 + 1 = 2052 (fp16 steps would stay at 2048), then rounded
    const x16 = iota(L, (i) => (i % 8 === 0 ? 2048 : i % 8 < 5 ? 1 : 0));
    expect((await sxmRun({ op, dt: 'fp16', x: x16, args: '8' })).slice(0, 8)).toEqual(iota(8, () => 2052));
    // fp32, lane order: 2^24 + 1 + 1 ... each 1 is lost (ties to even) when added to 2^24 first
    const x32 = iota(L, (i) => (i === 0 ? 16777216 : 1));
    expect((await sxmRun({ op, dt: 'fp32', x: x32 }))[0]).toBe(16777216);
    // ... while 31 ones first sum exactly; 31 + 2^24 then rounds to even
    const x32b = iota(L, (i) => (i === L - 1 ? 16777216 : 1));
    expect((await sxmRun({ op, dt: 'fp32', x: x32b }))[0]).toBe(16777216 + 32);
  } else {
    expect(await sxmRun({ op, dt: 'int8', x: iota(L, (i) => i - 20), args: '8' })).toEqual(iota(L, (i) => Math.floor(i / 8) * 8 + 7 - 20));
    expect((await sxmRun({ op, dt: 'fp32', x: iota(L, (i) => (i === 3 ? Infinity : -i)) }))[5]).toBe(Infinity);
  }
  await sxmTiming({ op, dt: 'fp32', x: randoms('fp32', L, 6), args: '8' });
  await sxmTiming({ op, dt: 'int8', x: randoms('int8', L, 6) });
}

// ---- C2C --------------------------------------------------------------------------------------

// tiny: 4 links; C2C.0, C2C.1 at SXM.W's position (1), C2C.2, C2C.3 at SXM.E's (11).
const C2C_E = 11;
const VEC = TINY.c2cVectorCycles; // 4 cycles per vector on the wire
const LAT = TINY.c2cLatencyCycles; // 20

/**
 * Chip A sends x[0] (one vector) on link 2 on cycle 2 and x[1..2] (two vectors) on cycle 2 + VEC
 * (when the link is free again). Returns the program text.
 */
function sender(sendAt = [2, 2 + VEC]): string {
  return `
.tensor x int8[3,32] @ MEM.E3:0 = range(0)
.queue MEM.E3
  @${sendAt[0]! - 2} READ x[0], E0           ; at 10 on +1, at the link (11) on +2
  @${sendAt[1]! - 2} READ x[1], E0, 2        ; rows 1, 2 onto E0, E1
  HALT
.queue C2C.2
  @${sendAt[0]} SEND E0
  @${sendAt[1]} SEND E0, 2
  HALT
`;
}

/** Chip B receives on link 2 on `recvAt` and writes the messages into z as they pass MEM.E3 (10). */
function receiver(recvAt: [number, number], writeShift = 0): string {
  const d = TINY.delays.c2cRecv;
  return `
.tensor z int8[3,32] @ MEM.E3:0
.queue C2C.2
  @${recvAt[0]} RECV W0
  @${recvAt[1]} RECV W0, 2
  HALT
.queue MEM.E3
  @${recvAt[0] + d + 1 + writeShift} WRITE z[0], W0
  @${recvAt[1] + d + 1} WRITE z[1], W0, 2
  HALT
`;
}

async function sendAll(src = sender(), functional = true): Promise<{ core: Core; msgs: ReturnType<Core['takeOutbox']> }> {
  const core = await loadAsm(src, { functional });
  core.setLinkConnected(2, true);
  core.run();
  return { core, msgs: core.error() ? [] : core.takeOutbox(2) };
}

async function sendTest(): Promise<void> {
  const { core, msgs } = await sendAll();
  expectHalted(core);
  // arrival = issue + width x vectorCycles (serialisation) + latency
  expect(msgs.map((m) => [m.arrival, m.width])).toEqual([[2 + VEC + LAT, 1], [2 + VEC + 2 * VEC + LAT, 2]]);
  expect(Array.from(msgs[0]!.payload!)).toEqual(iota(L));
  expect(Array.from(msgs[1]!.payload!)).toEqual(iota(2 * L, (i) => L + i));
  expect(core.linkStats()[2]).toEqual({ sent: 3, received: 0 });
  expect(core.takeOutbox(2)).toEqual([]); // taken
  expect(core.programCycles).toBe(2 + VEC + 1 + 1);
  // SEND reads its streams on its issue cycle, at the link's position (SXM.E's)
  expect(new Sched().pos('C2C.2')).toBe(C2C_E);
  for (const at of [1, 3]) {
    const { core: early } = await sendAll(sender().replace('@2 SEND E0', `@${at} SEND E0`));
    expect(early.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'C2C.2', cycle: at });
  }
  // in timing-only mode the messages carry no payload but the same arrival cycles
  const t = await sendAll(sender(), false);
  expectHalted(t.core);
  expect(t.msgs.map((m) => [m.arrival, m.width, m.payload])).toEqual(msgs.map((m) => [m.arrival, m.width, null]));
}

async function recvTest(): Promise<void> {
  const { msgs } = await sendAll();
  const arrivals = msgs.map((m) => m.arrival) as [number, number];
  const run = async (recvAt: [number, number], writeShift = 0) => {
    const b = await loadAsm(receiver(recvAt, writeShift));
    expect(b.deliver(2, msgs)).toBe(true);
    b.run();
    return b;
  };
  // RECV on the arrival cycle: on W0 at the link (11) on + c2cRecv, at MEM.E3 (10) one hop later
  const b = await run(arrivals);
  expectHalted(b);
  expect(b.readTensor('z').values).toEqual(iota(3 * L, (i) => i));
  expect(b.linkStats()[2]).toEqual({ sent: 0, received: 3 });
  expect(b.programCycles).toBe(arrivals[1] + TINY.delays.c2cRecv + 1 + 1 + 1);
  // later is fine (the message waits in the buffer); one cycle before arrival is RECV_EMPTY
  const late = await run([arrivals[0] + 3, arrivals[1]]);
  expectHalted(late);
  const early = await run([arrivals[0] - 1, arrivals[1]]);
  expect(early.error()).toMatchObject({ name: 'RECV_EMPTY', queue: 'C2C.2', cycle: arrivals[0] - 1 });
  // the data are on the stream exactly on issue + c2cRecv
  for (const shift of [-1, 1]) {
    const bad = await run(arrivals, shift);
    expect(bad.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'MEM.E3', cycle: arrivals[0] + TINY.delays.c2cRecv + 1 + shift });
  }
}

// ---- delays and hops come from the preset -----------------------------------------------------

/** tiny with every delay and the hop time changed: the same harnesses must still be exact. */
const SLOW: ChipConfig = {
  ...TINY,
  name: 'tiny-slow',
  hopCycles: 2,
  delays: { ...TINY.delays, memRead: 3, vxmAlu: 2, vxmLarge: 5, mxm: 7, sxm: 3, sxmReduce: 4 },
};

async function presetDelays(): Promise<void> {
  const T = 20;
  await vxmTiming({ op: 'ADD', dt: 'int16', a: randoms('int16', L, 1), b: randoms('int16', L, 2), chip: SLOW, T });
  await vxmTiming({ op: 'EXP', dt: 'fp16', a: randoms('fp16', L, 1, -2, 2), chip: SLOW, T });
  await sxmTiming({ op: 'ROT', dt: 'int8', x: randoms('int8', L, 1), args: '1', chip: SLOW, T });
  await sxmTiming({ op: 'RMAX', dt: 'int8', x: randoms('int8', L, 1), chip: SLOW, T });
  // MM: results pass MEM.E0 (7 positions east of MXM.W) on MM + mxm + 7 x hop
  const W = weights('int8', 7);
  const plan: MmPlan = { dt: 'int8', W, xs: [randoms('int8', L, 8)], mms: [{ emit: true, acc: false }], chip: SLOW };
  const { s, mmCycles, writeCycles } = mmSched(plan);
  expect(writeCycles[0]).toBe(mmCycles[0]! + 7 + 7 * 2);
  const core = await s.run();
  expectHalted(core);
  expectSame(core.readTensor('y').values, mmWant(plan), 'MM on the slow chip');
  expect(core.programCycles).toBe(s.expectedCycles());
  for (const shift of [-1, 1]) {
    const bad = await mmSched({ ...plan, writeShift: shift }).s.run();
    expect(bad.error()).toMatchObject({ name: 'STREAM_EMPTY', queue: 'MEM.E0', cycle: writeCycles[0]! + shift });
  }
  // a hand-counted READ: MEM.W0 (5) on cycle 0, memRead 3, 2 hops of 2 cycles to MEM.E0 (7)
  const hand = `
.tensor x int8[32] @ MEM.W0:0 = range(0)
.tensor z int8[32] @ MEM.E0:0
.queue MEM.W0
  READ x, E0
  HALT
.queue MEM.E0
  @7 WRITE z, E0
  HALT
`;
  const ok = await runAsm(hand, { chip: SLOW });
  expectHalted(ok);
  expect(ok.readTensor('z').values).toEqual(iota(L));
  expect(ok.programCycles).toBe(8 + 1);
  for (const at of [6, 8]) {
    const bad = await runAsm(hand.replace('@7', `@${at}`), { chip: SLOW });
    expect(bad.error()).toMatchObject({ name: 'STREAM_EMPTY', cycle: at });
  }
}

// ---- the table of tests ---------------------------------------------------------------------------

const TESTS: Record<string, () => Promise<void>> = {
  NOP: nopTest,
  REPEAT: repeatTest,
  SYNC: syncNotifyTest,
  NOTIFY: syncNotifyTest,
  HALT: haltTest,
  READ: readTest,
  WRITE: writeTest,
  GATHER: gatherTest,
  SCATTER: scatterTest,
  ADD: () => vxmElementwise('ADD'),
  SUB: () => vxmElementwise('SUB'),
  MUL: () => vxmElementwise('MUL'),
  MAX: () => vxmElementwise('MAX'),
  MIN: () => vxmElementwise('MIN'),
  NEG: () => vxmElementwise('NEG'),
  ABS: () => vxmElementwise('ABS'),
  EXP2: () => vxmElementwise('EXP2'),
  EXP: () => vxmElementwise('EXP'),
  RSQRT: () => vxmElementwise('RSQRT'),
  TANH: () => vxmElementwise('TANH'),
  SIGMOID: () => vxmElementwise('SIGMOID'),
  ADDS: () => vxmElementwise('ADDS'),
  MULS: () => vxmElementwise('MULS'),
  CVT: cvtTest,
  ACC: accTest,
  IW: iwTest,
  MM: mmTest,
  SHIFT: shiftTest,
  ROT: rotTest,
  PERM: permTest,
  DIST: distTest,
  TRANS: transTest,
  RSUM: () => reduceTest('RSUM'),
  RMAX: () => reduceTest('RMAX'),
  SEND: sendTest,
  RECV: recvTest,
};

describe('instructions', () => {
  it('functional delays and hop times are the preset\'s (a chip with other figures)', presetDelays);

  it('ADDS/MULS on int8/int16 saturate with any immediate the assembler accepts', async () => {
    // x op imm computed exactly, then saturated: the core must not wrap at 32 bits first
    const cases: [string, DtypeName, number, number, number][] = [
      ['MULS', 'int8', 4, 2 ** 30, 127],
      ['MULS', 'int8', -2, 2 ** 31 - 1, -128],
      ['ADDS', 'int8', 1, 2 ** 31 - 1, 127],
      ['MULS', 'int16', 3, 1431655766, 32767],
      ['ADDS', 'int16', -5, -(2 ** 31) + 1, -32768],
    ];
    const bad: string[] = [];
    for (const [op, dt, x, imm, want] of cases) {
      let got: number[];
      try {
        ({ got } = await vxmRun({ op, dt, a: iota(L, () => x), extra: String(imm) }));
      } catch (e) {
        if ((e as Error).name === 'SfError') continue; // the assembler may reject the immediate instead
        throw e;
      }
      if (got[0] !== want) bad.push(`${op}.${dt} ${x}, ${imm} = ${got[0]} (expected ${want})`);
    }
    expect(bad).toEqual([]);
  });

  it('NaN results are stored as the canonical NaN of every float dtype', async () => {
    // canonical NaNs (src/util/numerics.ts): fp32 0x7fc00000, fp16 0x7e00, bf16 0x7fc0
    const CANON: Record<string, number> = { fp32: 0x7fc00000, fp16: 0x7e00, bf16: 0x7fc0 };
    const bits = (dt: DtypeName, b: Uint8Array, i: number) =>
      dt === 'fp32' ? new DataView(b.buffer, b.byteOffset).getUint32(4 * i, true) : new DataView(b.buffer, b.byteOffset).getUint16(2 * i, true);
    const bad: string[] = [];
    for (const dt of ['fp32', 'fp16', 'bf16'] as const) {
      const a = iota(L, (i) => [NaN, Infinity, 0, -1][i % 4]!);
      const b = iota(L, (i) => [1, -Infinity, Infinity, 1][i % 4]!);
      const runs: [string, number[] | undefined, number[]][] = [
        ['NEG', undefined, [0]], // -NaN
        ['ABS', undefined, [0]],
        ['ADD', b, [0, 1]], // NaN + 1, inf + -inf
        ['MUL', b, [0, 2]], // NaN * 1, 0 * inf
        ['RSQRT', undefined, [0, 3]], // rsqrt(NaN), rsqrt(-1)
      ];
      for (const [op, bv, lanesToCheck] of runs) {
        const { core } = await vxmRun({ op, dt, a, b: bv });
        const out = core.readTensorBytes('z');
        for (const i of lanesToCheck) {
          const v = bits(dt, out, i);
          if (v !== CANON[dt]) bad.push(`${op}.${dt} lane ${i}: 0x${v.toString(16)}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('every instruction in the ISA table has a test', () => {
    const missing = INSTRUCTIONS.map((i) => i.mnemonic).filter((m) => !(m in TESTS));
    expect(missing, 'instructions without a test').toEqual([]);
    const stale = Object.keys(TESTS).filter((m) => !INSTRUCTIONS.some((i) => i.mnemonic === m));
    expect(stale, 'tests for instructions no longer in the table').toEqual([]);
  });

  for (const ins of INSTRUCTIONS) {
    it(`${ins.mnemonic} (${ins.unit}, delay ${ins.delay})`, async () => {
      const t = TESTS[ins.mnemonic];
      if (!t) throw new Error(`no test for ${ins.mnemonic}`);
      await t();
    });
  }
});
