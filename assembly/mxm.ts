// MXM planes. A plane holds LANES x LANES int8 weights, or LANES/2 x LANES fp16/bf16 weights
// (same bytes): row k (the K index) holds the weights for all LANES outputs n. IW installs rows
// from streams; MM multiplies an activation vector by the installed set into the plane's LANES
// accumulators (int32 or fp32), adding over k in ascending order, and may emit them.
import { LANES, PTRS, FUNCTIONAL, D_MXM, MXM, PLANE_BYTES, PLANE_ACC, PLANE_ROWS, PLANE_META } from './layout';
import { curCycle, raise, readGroup, writeGroup, groupValid } from './streams';
import { f16ToF32, bf16ToF32, loadBits, canonF32 } from './numerics';
import { DT_INT8, DT_FP16, DT_BF16, ERR_BAD_OPERAND, ERR_MXM_NO_WEIGHTS } from './isa.generated';
import { PL_DTYPE, PL_INSTALLED, PL_MACS } from './map.generated';

@inline function planeBase(p: i32): usize {
  return MXM + <usize>p * PLANE_BYTES;
}

export function rowsFor(dt: i32): i32 {
  return dt == DT_INT8 ? LANES : LANES >> 1;
}

function mxmDtypeOk(dt: i32): bool {
  return dt == DT_INT8 || dt == DT_FP16 || dt == DT_BF16;
}

export function resetPlanes(planes: i32): void {
  for (let p = 0; p < planes; p++) {
    const base = planeBase(p);
    memory.fill(base, 0, PLANE_BYTES);
    store<i32>(base + PLANE_META + PL_DTYPE, -1);
  }
}

export function mxmInstall(p: i32, dt: i32, row0: i32, src: i32, rows: i32): void {
  if (!mxmDtypeOk(dt)) { raise(ERR_BAD_OPERAND, -1, dt, 0); return; }
  const g = dt == DT_INT8 ? 1 : 2;
  if (!groupValid(src, rows * g)) { raise(ERR_BAD_OPERAND, src, rows * g, 0); return; }
  const K = rowsFor(dt);
  if (row0 < 0 || row0 + rows > K) { raise(ERR_BAD_OPERAND, -1, row0, K); return; }
  const base = planeBase(p);
  const meta = base + PLANE_META;
  if (row0 == 0) {
    memory.fill(base + PLANE_ROWS, 0, <usize>LANES);
    store<i32>(meta + PL_INSTALLED, 0);
    store<i32>(meta + PL_DTYPE, dt);
  } else if (load<i32>(meta + PL_DTYPE) != dt) {
    // rows of another dtype than the set being installed: the set is unusable until row 0 again
    raise(ERR_MXM_NO_WEIGHTS, -1, load<i32>(meta + PL_INSTALLED), K);
    return;
  }
  for (let j = 0; j < rows; j++) {
    const r = row0 + j;
    const tab = PTRS;
    readGroup(tab, src + j * g, g);
    const flag = base + PLANE_ROWS + <usize>r;
    if (load<u8>(flag) == 0) {
      store<u8>(flag, 1);
      store<i32>(meta + PL_INSTALLED, load<i32>(meta + PL_INSTALLED) + 1);
    }
    if (!FUNCTIONAL) continue;
    if (g == 1) {
      memory.copy(base + <usize>r * <usize>LANES, load<usize>(tab), <usize>LANES);
    } else {
      const w = base + <usize>r * <usize>LANES * 2;
      for (let n = 0; n < LANES; n++) store<u16>(w + (<usize>n << 1), <u16>loadBits(tab, 2, n));
    }
  }
}

export function mxmMultiply(p: i32, dt: i32, src: i32, dst: i32, accumulate: bool): void {
  if (!mxmDtypeOk(dt)) { raise(ERR_BAD_OPERAND, -1, dt, 0); return; }
  const g = dt == DT_INT8 ? 1 : 2;
  if (!groupValid(src, g)) { raise(ERR_BAD_OPERAND, src, g, 0); return; }
  if (dst != 255 && !groupValid(dst, 4)) { raise(ERR_BAD_OPERAND, dst, 4, 0); return; }
  const base = planeBase(p);
  const meta = base + PLANE_META;
  const K = rowsFor(dt);
  const have = load<i32>(meta + PL_INSTALLED);
  if (load<i32>(meta + PL_DTYPE) != dt || have != K) {
    raise(ERR_MXM_NO_WEIGHTS, -1, have, K);
    return;
  }
  const A = PTRS;
  const D = PTRS + 16;
  readGroup(A, src, g);
  if (dst != 255) writeGroup(D, dst, 4, curCycle + D_MXM);
  store<i64>(meta + PL_MACS, load<i64>(meta + PL_MACS) + <i64>K * <i64>LANES);
  if (!FUNCTIONAL) return;
  const acc = base + PLANE_ACC;
  const L = <usize>LANES;
  if (!accumulate) memory.fill(acc, 0, L * 4);
  if (dt == DT_INT8) {
    const x = load<usize>(A);
    for (let k: usize = 0; k < <usize>K; k++) {
      const xk = <i32>load<i8>(x + k);
      if (xk == 0) continue; // adds nothing to a wrapping integer sum
      const w = base + k * L;
      let n: usize = 0;
      const vx = i32x4.splat(xk);
      for (; n + 4 <= L; n += 4) {
        const wv = i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(w + n)));
        const a = acc + (n << 2);
        v128.store(a, i32x4.add(v128.load(a), i32x4.mul(wv, vx)));
      }
      for (; n < L; n++) {
        const a = acc + (n << 2);
        store<i32>(a, load<i32>(a) + xk * <i32>load<i8>(w + n));
      }
    }
  } else {
    const toF = dt == DT_FP16;
    for (let k = 0; k < K; k++) {
      const bits = loadBits(A, 2, k);
      const xk = toF ? f16ToF32(bits) : bf16ToF32(bits);
      const w = base + <usize>k * L * 2;
      for (let n: usize = 0; n < L; n++) {
        const wb = <u32>load<u16>(w + (n << 1));
        const a = acc + (n << 2);
        store<f32>(a, load<f32>(a) + xk * (toF ? f16ToF32(wb) : bf16ToF32(wb)));
      }
    }
  }
  if (dst == 255) return;
  for (let n = 0; n < LANES; n++) {
    const a = acc + (<usize>n << 2);
    const v: u32 = dt == DT_INT8 ? load<u32>(a) : canonF32(load<f32>(a));
    store<u8>(load<usize>(D) + <usize>n, <u8>v);
    store<u8>(load<usize>(D + 4) + <usize>n, <u8>(v >> 8));
    store<u8>(load<usize>(D + 8) + <usize>n, <u8>(v >> 16));
    store<u8>(load<usize>(D + 12) + <usize>n, <u8>(v >> 24));
  }
}
