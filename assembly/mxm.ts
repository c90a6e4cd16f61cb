// MXM planes. A plane holds LANES x LANES int8 weights, or LANES/2 x LANES fp16/bf16 weights:
// row k (the K index) holds the weights for all LANES outputs n. IW installs rows from streams;
// MM multiplies an activation vector by the installed set into the plane's LANES accumulators
// (int32 or fp32), adding over k in ascending order, and may emit them.
// Storage is arranged for the emulator's speed, not the hardware's: int8 rows are interleaved in
// pairs (byte ((k>>1)*LANES + n)*2 + (k&1)) so that one i32x4.dot_i16x8_s does two k at once, and
// fp16/bf16 weights are stored already widened to f32 (k*LANES + n). Results are unchanged: int32
// sums are exact, and the fp32 sums still add one product at a time in ascending k.
import { LANES, PTRS, FUNCTIONAL, D_MXM, MXM, PLANE_BYTES, PLANE_ACC, PLANE_ROWS, PLANE_META, BUF_A } from './layout';
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
  if (row0 < 0 || <i64>row0 + <i64>rows > <i64>K) { raise(ERR_BAD_OPERAND, -1, row0, K); return; }
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
    if (g == 1 && (r & 1) == 0 && j + 1 < rows) {
      // an even row and its successor arrive together: interleave them in one pass
      readGroup(tab, src + j, 2);
      markRow(base, r);
      markRow(base, r + 1);
      if (FUNCTIONAL) interleavePair(base + (<usize>(r >> 1) * <usize>LANES << 1), load<usize>(tab), load<usize>(tab + 4));
      j++;
      continue;
    }
    readGroup(tab, src + j * g, g);
    markRow(base, r);
    if (!FUNCTIONAL) continue;
    const L = <usize>LANES;
    if (g == 1) {
      const src8 = load<usize>(tab);
      const w = base + (<usize>(r >> 1) * L << 1) + <usize>(r & 1);
      for (let n: usize = 0; n < L; n++) store<u8>(w + (n << 1), load<u8>(src8 + n));
    } else {
      const w = base + <usize>r * L * 4;
      const toF = dt == DT_FP16;
      for (let n = 0; n < LANES; n++) {
        const bits = loadBits(tab, 2, n);
        store<f32>(w + (<usize>n << 2), toF ? f16ToF32(bits) : bf16ToF32(bits));
      }
    }
  }
}

function markRow(base: usize, r: i32): void {
  const flag = base + PLANE_ROWS + <usize>r;
  if (load<u8>(flag) == 0) {
    store<u8>(flag, 1);
    const meta = base + PLANE_META;
    store<i32>(meta + PL_INSTALLED, load<i32>(meta + PL_INSTALLED) + 1);
  }
}

/** Writes rows a (even k) and b (k+1) interleaved: out[2n] = a[n], out[2n+1] = b[n]. */
function interleavePair(out: usize, a: usize, b: usize): void {
  const L = <usize>LANES;
  let n: usize = 0;
  for (; n + 16 <= L; n += 16) {
    const va = v128.load(a + n);
    const vb = v128.load(b + n);
    v128.store(out + (n << 1), i8x16.shuffle(va, vb, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23));
    v128.store(out + (n << 1) + 16, i8x16.shuffle(va, vb, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31));
  }
  for (; n < L; n++) {
    store<u8>(out + (n << 1), load<u8>(a + n));
    store<u8>(out + (n << 1) + 1, load<u8>(b + n));
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
  if (dt == DT_INT8) multiplyInt8(base, acc, load<usize>(A), K);
  else multiplyFloat(base, acc, A, K, dt == DT_FP16);
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

/** acc[n] += sum_k x[k] * W[k][n] over int8, two k per i32x4.dot_i16x8_s, 8 outputs per pass
 * kept in registers. */
function multiplyInt8(w: usize, acc: usize, x: usize, K: i32): void {
  const L = <usize>LANES;
  const pairs = <usize>(K >> 1);
  // the activation pairs (x[2j], x[2j+1]) as i16 lanes, splatted: one v128 per pair
  const xs = BUF_A;
  for (let j: usize = 0; j < pairs; j++) {
    const lo = <u32><u16><i16>load<i8>(x + 2 * j);
    const hi = <u32><u16><i16>load<i8>(x + 2 * j + 1);
    v128.store(xs + (j << 4), i32x4.splat(<i32>(lo | (hi << 16))));
  }
  let n: usize = 0;
  for (; n + 8 <= L; n += 8) {
    let a0 = v128.load(acc + (n << 2));
    let a1 = v128.load(acc + (n << 2) + 16);
    for (let j: usize = 0; j < pairs; j++) {
      const wv = v128.load(w + ((j * L + n) << 1));
      const xv = v128.load(xs + (j << 4));
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(wv), xv));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(wv), xv));
    }
    v128.store(acc + (n << 2), a0);
    v128.store(acc + (n << 2) + 16, a1);
  }
  for (; n < L; n++) {
    let a = load<i32>(acc + (n << 2));
    for (let j: usize = 0; j < pairs; j++) {
      const p = w + ((j * L + n) << 1);
      a += <i32>load<i8>(x + 2 * j) * <i32>load<i8>(p) + <i32>load<i8>(x + 2 * j + 1) * <i32>load<i8>(p + 1);
    }
    store<i32>(acc + (n << 2), a);
  }
  if (K & 1) {
    // an odd K leaves one row unpaired: it sits in the low byte of its pair slot
    const k = <usize>(K - 1);
    const xk = <i32>load<i8>(x + k);
    for (let m: usize = 0; m < L; m++) {
      const a = acc + (m << 2);
      store<i32>(a, load<i32>(a) + xk * <i32>load<i8>(w + (((k >> 1) * L + m) << 1)));
    }
  }
}

/** acc[n] = acc[n] + x[k] * W[k][n] for k ascending, in f32 (mul then add, as the scalar
 * definition), 16 outputs per pass kept in registers. */
function multiplyFloat(w: usize, acc: usize, A: usize, K: i32, fp16: bool): void {
  const L = <usize>LANES;
  const xs = BUF_A;
  for (let k = 0; k < K; k++) {
    const bits = loadBits(A, 2, k);
    store<f32>(xs + (<usize>k << 2), fp16 ? f16ToF32(bits) : bf16ToF32(bits));
  }
  let n: usize = 0;
  for (; n + 16 <= L; n += 16) {
    const o = acc + (n << 2);
    let a0 = v128.load(o);
    let a1 = v128.load(o + 16);
    let a2 = v128.load(o + 32);
    let a3 = v128.load(o + 48);
    for (let k: usize = 0; k < <usize>K; k++) {
      const xv = v128.load32_splat(xs + (k << 2));
      const p = w + ((k * L + n) << 2);
      a0 = f32x4.add(a0, f32x4.mul(xv, v128.load(p)));
      a1 = f32x4.add(a1, f32x4.mul(xv, v128.load(p + 16)));
      a2 = f32x4.add(a2, f32x4.mul(xv, v128.load(p + 32)));
      a3 = f32x4.add(a3, f32x4.mul(xv, v128.load(p + 48)));
    }
    v128.store(o, a0);
    v128.store(o + 16, a1);
    v128.store(o + 32, a2);
    v128.store(o + 48, a3);
  }
  for (; n < L; n++) {
    let a = load<f32>(acc + (n << 2));
    for (let k: usize = 0; k < <usize>K; k++) a = a + load<f32>(xs + (k << 2)) * load<f32>(w + ((k * L + n) << 2));
    store<f32>(acc + (n << 2), a);
  }
}
