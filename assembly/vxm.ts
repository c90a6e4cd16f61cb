// The VXM: one queue per ALU, each operating on whole vectors (all lanes) per instruction.
// Floats compute in f32 and round to the dtype; int32 wraps; int8/int16 saturate on store.
// Transcendentals come from AssemblyScript's own Mathf (pure Wasm), never from the host.
import { LANES, PTRS, FUNCTIONAL, D_VXM_ALU, D_VXM_LARGE, VXM, ALU_BYTES } from './layout';
import { curCycle, raise, readGroup, writeGroup, groupValid } from './streams';
import { loadF, storeF, loadI, storeI, loadAny, storeAny, isIntDtype, isValidDtype } from './numerics';
import {
  OP_ADD, OP_SUB, OP_MUL, OP_MAX, OP_MIN, OP_NEG, OP_ABS, OP_EXP2, OP_EXP, OP_RSQRT, OP_TANH, OP_SIGMOID,
  OP_ADDS, OP_MULS, OP_CVT, OP_ACC, ERR_BAD_OPERAND, DT_INT32, dtypeBytes,
} from './isa.generated';

const TA: usize = 0; // plane pointer tables within PTRS
const TB: usize = 16;
const TD: usize = 32;

function binaryF(op: i32, a: f32, b: f32): f32 {
  switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_MAX: return a != a || b != b ? NaN : (a > b ? a : b);
    default: return a != a || b != b ? NaN : (a < b ? a : b);
  }
}

function binaryI(op: i32, a: i32, b: i32): i32 {
  switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_MAX: return a > b ? a : b;
    default: return a < b ? a : b;
  }
}

function sigmoid(x: f32): f32 {
  if (x >= 0) return 1.0 / (1.0 + Mathf.exp(-x));
  const e = Mathf.exp(x);
  return e / (1.0 + e);
}

function unaryF(op: i32, x: f32): f32 {
  switch (op) {
    case OP_NEG: return -x;
    case OP_ABS: return Mathf.abs(x);
    case OP_EXP2: return Mathf.exp2(x);
    case OP_EXP: return Mathf.exp(x);
    case OP_RSQRT: return <f32>1.0 / Mathf.sqrt(x);
    case OP_TANH: return Mathf.tanh(x);
    default: return sigmoid(x);
  }
}

/** Executes one VXM instruction for ALU `alu`. */
export function vxmExec(alu: i32, op: i32, dt: i32, dst: i32, sa: i32, sb: i32, flags: i32, aux: i32, b: i32): void {
  if (!isValidDtype(dt)) { raise(ERR_BAD_OPERAND, -1, dt, 0); return; }
  const g = dtypeBytes(dt);
  const isInt = isIntDtype(dt);
  const binary = op >= OP_ADD && op <= OP_MIN;
  const large = op >= OP_EXP2 && op <= OP_SIGMOID || op == OP_CVT;
  if (large && op != OP_CVT && isInt) { raise(ERR_BAD_OPERAND, -1, dt, 0); return; }
  const srcBytes = op == OP_CVT ? dtypeBytes(aux) : g;
  if (op == OP_CVT && !isValidDtype(aux)) { raise(ERR_BAD_OPERAND, -1, aux, 0); return; }
  if (!groupValid(sa, srcBytes) || (binary && !groupValid(sb, g))) { raise(ERR_BAD_OPERAND, sa, sb, 0); return; }
  const emits = !(op == OP_ACC && dst == 255);
  if (emits && !groupValid(dst, g)) { raise(ERR_BAD_OPERAND, dst, g, 0); return; }

  readGroup(PTRS + TA, sa, srcBytes);
  if (binary) readGroup(PTRS + TB, sb, g);
  if (emits) writeGroup(PTRS + TD, dst, g, curCycle + (large ? D_VXM_LARGE : D_VXM_ALU));
  if (!FUNCTIONAL) return;

  const A = PTRS + TA;
  const B = PTRS + TB;
  const D = PTRS + TD;
  const n = LANES;
  if (op == OP_CVT) {
    const scale = <f64>reinterpret<f32>(b);
    for (let i = 0; i < n; i++) {
      // x * scale computed in f64; to integers: round half to even, saturate; to floats: via f32.
      storeAny(D, dt, i, roundCvt(dt, loadAny(A, aux, i) * scale));
    }
    return;
  }
  if (op == OP_ACC) {
    const acc = VXM + <usize>alu * ALU_BYTES;
    const reset = (flags & 1) != 0;
    for (let i = 0; i < n; i++) {
      const p = acc + (<usize>i << 2);
      if (isInt) {
        const v = loadI(A, dt, i);
        const s = reset ? v : load<i32>(p) + v;
        store<i32>(p, s);
        if (emits) storeI(D, dt, i, s);
      } else {
        const v = loadF(A, dt, i);
        const s = reset ? v : load<f32>(p) + v;
        store<f32>(p, s);
        if (emits) storeF(D, dt, i, s);
      }
    }
    return;
  }
  if (isInt) {
    for (let i = 0; i < n; i++) {
      const x = loadI(A, dt, i);
      let y: i32;
      if (binary) y = binaryI(op, x, loadI(B, dt, i));
      else if (op == OP_NEG) y = -x;
      else if (op == OP_ABS) y = x < 0 ? -x : x;
      else {
        // the immediate may exceed the dtype: compute exactly, then wrap (int32) or saturate
        const wide: i64 = op == OP_ADDS ? <i64>x + <i64>b : <i64>x * <i64>b;
        y = dt == DT_INT32 ? <i32>wide : <i32>(wide < -32768 ? -32768 : wide > 32767 ? 32767 : wide);
      }
      storeI(D, dt, i, y);
    }
  } else {
    const imm = reinterpret<f32>(b);
    for (let i = 0; i < n; i++) {
      const x = loadF(A, dt, i);
      let y: f32;
      if (binary) y = binaryF(op, x, loadF(B, dt, i));
      else if (op == OP_ADDS) y = x + imm;
      else if (op == OP_MULS) y = x * imm;
      else y = unaryF(op, x);
      storeF(D, dt, i, y);
    }
  }
}

/** CVT rounding: to floats the product is rounded to f32 once (storeAny then rounds f32 to the
 * dtype); to integers storeAny rounds half to even from the exact f64 product. */
function roundCvt(dt: i32, x: f64): f64 {
  return isIntDtype(dt) ? x : <f64><f32>x;
}
