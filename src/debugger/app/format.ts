// Text for instructions and values, for the page and `sramflow trace` (browser-safe: the
// disassembler in src/asm/disasm.ts loads presets from disk, so this is a lean formatter over the
// same ISA table; it prints what an instruction does, not text guaranteed to reassemble).
import type { Floorplan } from '../../chip/floorplan.js';
import { tensorAt, type Program, type QueueProgram } from '../../asm/program.js';

import { dtypeByCode } from '../../isa/dtypes.js';
import { INSTRUCTION_BYTES, STREAM_NONE, instructionByOpcode, issueCycles } from '../../isa/table.js';

export interface Decoded {
  op: number;
  dtype: number;
  dst: number;
  srcA: number;
  srcB: number;
  width: number;
  flags: number;
  aux: number;
  a: number;
  b: number;
}

export function decodeAt(code: Uint8Array, pc: number): Decoded | null {
  const o = pc * INSTRUCTION_BYTES;
  if (pc < 0 || o + INSTRUCTION_BYTES > code.length) return null;
  const v = new DataView(code.buffer, code.byteOffset + o, INSTRUCTION_BYTES);
  return {
    op: code[o], dtype: code[o + 1], dst: code[o + 2], srcA: code[o + 3], srcB: code[o + 4],
    width: code[o + 5], flags: code[o + 6], aux: code[o + 7], a: v.getInt32(8, true), b: v.getInt32(12, true),
  };
}

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
function bitsToFloat(bits: number): number {
  i32[0] = bits;
  return f32[0];
}

export function formatNumber(x: number, float: boolean): string {
  if (!float) return String(x);
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(3);
  return String(Number(x.toPrecision(6)));
}


/** Mnemonic with its dtype suffix, e.g. ADD.fp32. */
export function mnemonicOf(code: Uint8Array, pc: number): string {
  const d = decodeAt(code, pc);
  if (!d) return '?';
  const ins = instructionByOpcode(d.op);
  if (!ins) return `op${d.op}`;
  const dt = ins.dtypes.length ? dtypeByCode(d.dtype) : undefined;
  return dt ? `${ins.mnemonic}.${dt.name}` : ins.mnemonic;
}

/** Assembly-like text of instruction `pc` of a queue. */
export function formatInstruction(q: QueueProgram, pc: number, plan: Floorplan, program: Program): string {
  const d = decodeAt(q.code, pc);
  if (!d) return '(none)';
  const ins = instructionByOpcode(d.op);
  if (!ins) return `.raw opcode ${d.op}`;
  const dt = ins.dtypes.length ? dtypeByCode(d.dtype) : undefined;
  const parts: string[] = [];
  const slice = plan.queueByName.get(q.name)?.slice.name ?? '';
  for (const o of ins.operands) {
    const x = d[o.field as keyof Decoded];
    switch (o.kind) {
      case 'stream':
      case 'streamOpt':
        parts.push(x === STREAM_NONE ? '-' : plan.streamName(x));
        break;
      case 'addr': {
        const t = tensorAt(program.tensors, slice, x);
        parts.push(t ? `${x} (${t})` : String(x));
        break;
      }
      case 'int':
        parts.push(String(x));
        break;
      case 'step':
        parts.push(x < 0 ? String(x) : `+${x}`);
        break;
      case 'float':
        parts.push(dt && !dt.float && o.name !== 'scale' ? String(x) : formatNumber(bitsToFloat(x), true));
        break;
      case 'dtype':
        parts.push(dtypeByCode(x)?.name ?? `dtype${x}`);
        break;
      case 'flag':
        if (x & (o.bit ?? 1)) parts.push(o.keyword ?? o.name);
        break;
    }
  }
  return `${dt ? `${ins.mnemonic}.${dt.name}` : ins.mnemonic}${parts.length ? ' ' + parts.join(', ') : ''}`;
}

/** Issue cycles of instruction pc (the duration of its trace event). */
export function issueCyclesAt(code: Uint8Array, pc: number): number {
  const d = decodeAt(code, pc);
  return d ? issueCycles(d.op, d.dtype, d.a) : 0;
}

/** The cycle each instruction of a queue issues on when the queue runs straight from cycle 0
 * (null after a SYNC); for a REPEAT, the cycle of its first repetition. */
export function staticIssueCycles(q: QueueProgram): (number | null)[] {
  const n = q.code.length / INSTRUCTION_BYTES;
  const out: (number | null)[] = [];
  let t: number | null = 0;
  let prevAt: number | null = null;
  let prevOcc = 0;
  for (let pc = 0; pc < n; pc++) {
    const d = decodeAt(q.code, pc)!;
    if (d.op === 1) {
      // REPEAT n, d: repeats at prev + d .. prev + n*d; the next issues n*d + occ after prev
      out.push(prevAt === null ? null : prevAt + d.b);
      t = prevAt === null ? null : prevAt + d.a * d.b + prevOcc;
      continue;
    }
    out.push(t);
    prevAt = t;
    prevOcc = issueCycles(d.op, d.dtype, d.a);
    if (d.op === 2) t = null; // SYNC: unknown until a NOTIFY
    else if (t !== null) t += prevOcc;
  }
  return out;
}

/** Unit name of an opcode (ICU for control). */
export function unitOf(code: Uint8Array, pc: number): string {
  const d = decodeAt(code, pc);
  return (d && instructionByOpcode(d.op)?.unit) || 'ICU';
}
