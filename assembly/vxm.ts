// The VXM: one queue per ALU, each operating on whole vectors (all lanes) per instruction.
// Floats compute in f32 and round to the dtype; int32 wraps; int8/int16 saturate on store.
// Transcendentals come from AssemblyScript's own Mathf (pure Wasm), never from the host.
import { LANES, PTRS, FUNCTIONAL, D_VXM_ALU, D_VXM_LARGE, VXM, ALU_BYTES, BUF_A, BUF_B } from './layout';
import { unpack, pack } from './lanes';
import { curCycle, raise, readGroup, writeGroup, groupValid } from './streams';
import { isIntDtype, isValidDtype } from './numerics';
import {
  OP_ADD, OP_SUB, OP_MUL, OP_MAX, OP_MIN, OP_NEG, OP_ABS, OP_EXP2, OP_EXP, OP_RSQRT, OP_TANH, OP_SIGMOID,
  OP_ADDS, OP_MULS, OP_CVT, OP_ACC, ERR_BAD_OPERAND, DT_INT8, DT_INT16, DT_INT32, dtypeBytes,
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
    // x * scale computed in f64; to integers: round half to even (NaN: 0), saturate; to floats:
    // rounded to f32 once, then to the dtype (as storeAny, element by element)
    const scale = <f64>reinterpret<f32>(b);
    const X = BUF_A;
    const R = BUF_B;
    unpack(A, aux, X);
    const fromInt = isIntDtype(aux);
    let lo: f64 = -2147483648.0;
    let hi: f64 = 2147483647.0;
    if (dt == DT_INT8) { lo = -128; hi = 127; }
    else if (dt == DT_INT16) { lo = -32768; hi = 32767; }
    for (let i = 0; i < n; i++) {
      const p = X + (<usize>i << 2);
      const x: f64 = (fromInt ? <f64>load<i32>(p) : <f64>load<f32>(p)) * scale;
      const q = R + (<usize>i << 2);
      if (isInt) {
        let r = nearest<f64>(x);
        if (r != r) r = 0;
        if (r < lo) r = lo;
        if (r > hi) r = hi;
        store<i32>(q, <i32>r);
      } else store<f32>(q, <f32>x);
    }
    pack(R, dt, D);
    return;
  }
  // whole vectors: the operands as arrays of 32-bit elements (f32, or i32), the op on them
  // (SIMD where the op is plain IEEE or integer arithmetic), the result packed into the dtype
  const L = <usize>LANES;
  const L4 = L & ~(<usize>3);
  const X = BUF_A;
  const Y = BUF_A + L * 4;
  const R = BUF_B;
  unpack(A, dt, X);
  if (binary) unpack(B, dt, Y);
  if (op == OP_ACC) {
    const acc = VXM + <usize>alu * ALU_BYTES;
    if ((flags & 1) != 0) memory.copy(acc, X, L * 4);
    else {
      let i: usize = 0;
      if (isInt) for (; i < L4; i += 4) v128.store(acc + (i << 2), i32x4.add(v128.load(acc + (i << 2)), v128.load(X + (i << 2))));
      else for (; i < L4; i += 4) v128.store(acc + (i << 2), f32x4.add(v128.load(acc + (i << 2)), v128.load(X + (i << 2))));
      for (; i < L; i++) {
        const p = acc + (i << 2);
        if (isInt) store<i32>(p, load<i32>(p) + load<i32>(X + (i << 2)));
        else store<f32>(p, load<f32>(p) + load<f32>(X + (i << 2)));
      }
    }
    if (emits) pack(acc, dt, D);
    return;
  }
  if (isInt) intOp(op, dt, b, X, Y, R);
  else floatOp(op, b, X, Y, R);
  pack(R, dt, D);
}

/** R = op(X, Y) on i32 elements (wrapping; pack saturates int8/int16). */
function intOp(op: i32, dt: i32, b: i32, X: usize, Y: usize, R: usize): void {
  const L = <usize>LANES;
  const L4 = L & ~(<usize>3);
  let i: usize = 0;
  if (op == OP_ADDS || op == OP_MULS) {
    if (dt == DT_INT32) {
      const bv = i32x4.splat(b);
      for (; i < L4; i += 4) {
        const x = v128.load(X + (i << 2));
        v128.store(R + (i << 2), op == OP_ADDS ? i32x4.add(x, bv) : i32x4.mul(x, bv));
      }
    }
    for (; i < L; i++) {
      const x = load<i32>(X + (i << 2));
      // the immediate may exceed the dtype: compute exactly, then wrap (int32) or saturate
      const wide: i64 = op == OP_ADDS ? <i64>x + <i64>b : <i64>x * <i64>b;
      store<i32>(R + (i << 2), dt == DT_INT32 ? <i32>wide : <i32>(wide < -32768 ? -32768 : wide > 32767 ? 32767 : wide));
    }
    return;
  }
  for (; i < L4; i += 4) {
    const x = v128.load(X + (i << 2));
    const y = v128.load(Y + (i << 2));
    let r: v128;
    switch (op) {
      case OP_ADD: r = i32x4.add(x, y); break;
      case OP_SUB: r = i32x4.sub(x, y); break;
      case OP_MUL: r = i32x4.mul(x, y); break;
      case OP_MAX: r = i32x4.max_s(x, y); break;
      case OP_MIN: r = i32x4.min_s(x, y); break;
      case OP_NEG: r = i32x4.neg(x); break;
      default: r = i32x4.abs(x); break;
    }
    v128.store(R + (i << 2), r);
  }
  for (; i < L; i++) {
    const x = load<i32>(X + (i << 2));
    let y: i32;
    if (op >= OP_ADD && op <= OP_MIN) y = binaryI(op, x, load<i32>(Y + (i << 2)));
    else if (op == OP_NEG) y = -x;
    else y = x < 0 ? -x : x;
    store<i32>(R + (i << 2), y);
  }
}

/** R = op(X, Y) on f32 elements, as binaryF / unaryF element by element. */
function floatOp(op: i32, b: i32, X: usize, Y: usize, R: usize): void {
  const L = <usize>LANES;
  const L4 = L & ~(<usize>3);
  const imm = reinterpret<f32>(b);
  let i: usize = 0;
  if (op == OP_EXP2 || op == OP_EXP || op == OP_TANH || op == OP_SIGMOID) {
    for (; i < L; i++) store<f32>(R + (i << 2), unaryF(op, load<f32>(X + (i << 2))));
    return;
  }
  const iv = f32x4.splat(imm);
  for (; i < L4; i += 4) {
    const x = v128.load(X + (i << 2));
    const y = v128.load(Y + (i << 2));
    let r: v128;
    switch (op) {
      case OP_ADD: r = f32x4.add(x, y); break;
      case OP_SUB: r = f32x4.sub(x, y); break;
      case OP_MUL: r = f32x4.mul(x, y); break;
      // a > b ? a : b (a < b ? a : b), NaN if either is NaN
      case OP_MAX: r = v128.bitselect(f32x4.splat(NaN), f32x4.pmax(y, x), v128.or(f32x4.ne(x, x), f32x4.ne(y, y))); break;
      case OP_MIN: r = v128.bitselect(f32x4.splat(NaN), f32x4.pmin(y, x), v128.or(f32x4.ne(x, x), f32x4.ne(y, y))); break;
      case OP_NEG: r = f32x4.neg(x); break;
      case OP_ABS: r = f32x4.abs(x); break;
      case OP_RSQRT: r = f32x4.div(f32x4.splat(1.0), f32x4.sqrt(x)); break;
      case OP_ADDS: r = f32x4.add(x, iv); break;
      default: r = f32x4.mul(x, iv); break; // OP_MULS
    }
    v128.store(R + (i << 2), r);
  }
  for (; i < L; i++) {
    const x = load<f32>(X + (i << 2));
    let y: f32;
    if (op >= OP_ADD && op <= OP_MIN) y = binaryF(op, x, load<f32>(Y + (i << 2)));
    else if (op == OP_ADDS) y = x + imm;
    else if (op == OP_MULS) y = x * imm;
    else y = unaryF(op, x);
    store<f32>(R + (i << 2), y);
  }
}
