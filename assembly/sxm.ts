// The SXM: lane movement (shift, rotate, permute, distribute, transpose) works on each byte plane
// alike, so it is dtype-blind; the reductions (sum, max) decode the dtype.
import { LANES, PTRS, FUNCTIONAL, D_SXM, D_SXM_REDUCE, BUF_A, BUF_B } from './layout';
import { unpack, pack } from './lanes';
import { curCycle, raise, readGroup, writeGroup, groupValid } from './streams';
import { loadI, isIntDtype, isValidDtype } from './numerics';
import { OP_SHIFT, OP_ROT, OP_PERM, OP_DIST, OP_TRANS, OP_RSUM, OP_RMAX, ERR_BAD_OPERAND, DT_INT16, dtypeBytes } from './isa.generated';

const TA: usize = 0;
const TB: usize = 16;
const TD: usize = 32;

/** Source lane for output lane i, or -1 for zero; writes the map to BUF_A. Returns false on a bad operand. */
function laneMap(op: i32, a: i32, b: i32): bool {
  const L = LANES;
  const map = BUF_A;
  if (op == OP_SHIFT || op == OP_ROT) {
    let n = a % L;
    for (let i = 0; i < L; i++) {
      let j = i - (op == OP_SHIFT ? a : n);
      if (op == OP_ROT) j = ((j % L) + L) % L;
      store<i32>(map + (<usize>i << 2), j >= 0 && j < L ? j : -1);
    }
    return true;
  }
  if (op == OP_DIST) {
    const seg = b == 0 ? L : b;
    if (seg <= 0 || L % seg != 0 || a < 0 || a >= seg) return false;
    for (let i = 0; i < L; i++) store<i32>(map + (<usize>i << 2), (i / seg) * seg + a);
    return true;
  }
  if (op == OP_TRANS) {
    if (a <= 0 || L % a != 0) return false;
    const rows = a;
    const cols = L / a;
    // out is cols x rows: out[c*rows + r] = in[r*cols + c]
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) store<i32>(map + (<usize>(c * rows + r) << 2), r * cols + c);
    }
    return true;
  }
  return false;
}

export function sxmExec(op: i32, dt: i32, dst: i32, sa: i32, sb: i32, a: i32, b: i32): void {
  if (!isValidDtype(dt)) { raise(ERR_BAD_OPERAND, -1, dt, 0); return; }
  const g = dtypeBytes(dt);
  const reduce = op == OP_RSUM || op == OP_RMAX;
  if (!groupValid(sa, g) || !groupValid(dst, g) || (op == OP_PERM && !groupValid(sb, 2))) {
    raise(ERR_BAD_OPERAND, sa, dst, 0);
    return;
  }
  const L = LANES;
  const seg = a == 0 ? L : a;
  if (reduce && (seg <= 0 || L % seg != 0)) { raise(ERR_BAD_OPERAND, -1, a, L); return; }
  if (op != OP_PERM && !reduce && !laneMap(op, a, b)) { raise(ERR_BAD_OPERAND, -1, a, b); return; }

  readGroup(PTRS + TA, sa, g);
  if (op == OP_PERM) readGroup(PTRS + TB, sb, 2);
  writeGroup(PTRS + TD, dst, g, curCycle + (reduce ? D_SXM_REDUCE : D_SXM));
  if (!FUNCTIONAL) return;
  const A = PTRS + TA;
  const D = PTRS + TD;

  if (op == OP_PERM) {
    for (let i = 0; i < L; i++) {
      const j = loadI(PTRS + TB, DT_INT16, i);
      if (j < 0 || j >= L) { raise(ERR_BAD_OPERAND, sb, i, j); return; }
      store<i32>(BUF_A + (<usize>i << 2), j);
    }
  }
  if (!reduce) {
    for (let k = 0; k < g; k++) {
      const src = load<usize>(A + (<usize>k << 2));
      const out = load<usize>(D + (<usize>k << 2));
      for (let i = 0; i < L; i++) {
        const j = load<i32>(BUF_A + (<usize>i << 2));
        store<u8>(out + <usize>i, j < 0 ? 0 : load<u8>(src + <usize>j));
      }
    }
    return;
  }
  // reductions on whole vectors: the elements unpacked once, each segment reduced in lane order
  // (the same order, so the same float sums), the result packed into the dtype
  const isMax = op == OP_RMAX;
  const X = BUF_A;
  const R = BUF_B;
  unpack(A, dt, X);
  const isInt = isIntDtype(dt);
  for (let s0 = 0; s0 < L; s0 += seg) {
    if (isInt) {
      let acc = load<i32>(X + (<usize>s0 << 2));
      for (let i = s0 + 1; i < s0 + seg; i++) {
        const v = load<i32>(X + (<usize>i << 2));
        acc = isMax ? (v > acc ? v : acc) : acc + v;
      }
      for (let i = s0; i < s0 + seg; i++) store<i32>(R + (<usize>i << 2), acc);
    } else {
      let acc = load<f32>(X + (<usize>s0 << 2));
      for (let i = s0 + 1; i < s0 + seg; i++) {
        const v = load<f32>(X + (<usize>i << 2));
        acc = isMax ? (v != v || acc != acc ? NaN : (v > acc ? v : acc)) : acc + v;
      }
      for (let i = s0; i < s0 + seg; i++) store<f32>(R + (<usize>i << 2), acc);
    }
  }
  pack(R, dt, D);
}
