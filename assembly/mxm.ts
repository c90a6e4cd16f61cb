// MXM planes. A plane holds LANES x LANES int8 weights, or LANES/2 x LANES fp16/bf16 weights:
// row k (the K index) holds the weights for all LANES outputs n. IW installs rows from streams;
// MM multiplies an activation vector by the installed set into the plane's LANES accumulators
// (int32 or fp32), adding over k in ascending order, and may emit them.
// Storage is arranged for the emulator's speed, not the hardware's: a plane keeps, per byte-plane
// row (int8 row k; byte b of fp16/bf16 row k at 2k+b), a pointer to where the row's bytes are.
// A row that arrived from a READ of a slice no instruction writes points at its SRAM vector
// (constant for the run: streams.ts, mem.ts), so the weights are read once, by MM, straight from
// SRAM; any other row is copied into the plane's own row storage on install. MM interleaves int8
// rows in pairs on the fly so that one i32x4.dot_i16x8_s does two k at once, and widens fp16 with
// an exact SIMD conversion. Results are unchanged: int32 sums are exact, and the fp32 sums still
// add one product at a time in ascending k.
import { LANES, PTRS, FUNCTIONAL, D_MXM, MXM, PLANE_BYTES, PLANE_PTRS, PLANE_ACC, PLANE_ROWS, PLANE_META, BUF_A, BUF_B, SRAM } from './layout';
import { curCycle, raise, readGroup, readGroupRefs, writeGroup, groupValid } from './streams';
import { f16ToF32, bf16ToF32, loadBits, canonF32 } from './numerics';
import { f16x4ToF32 } from './lanes';
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
  // the byte-plane rows row0*g .. (row0+rows)*g-1 come from streams src .. src+rows*g-1 in order
  const n = rows * g;
  const q0 = row0 * g;
  const tab = PTRS;
  const refs = BUF_B;
  readGroupRefs(tab, refs, src, n);
  let added = 0;
  const flags = base + PLANE_ROWS + <usize>row0;
  for (let j = 0; j < rows; j++) {
    if (load<u8>(flags + <usize>j) == 0) {
      store<u8>(flags + <usize>j, 1);
      added++;
    }
  }
  store<i32>(meta + PL_INSTALLED, load<i32>(meta + PL_INSTALLED) + added);
  if (!FUNCTIONAL) return;
  const L = <usize>LANES;
  const ptrs = base + PLANE_PTRS + (<usize>q0 << 2);
  for (let j = 0; j < n; j++) {
    // an SRAM vector (a reference: constant for the run) is used where it is, recorded as its
    // index (v >= 0); a stream payload is overwritten when its slot is reused, so it is copied
    // into the plane's own row q, recorded as -1 - q (indices, not addresses: the state must
    // not depend on where the layout put things)
    const ref = load<u32>(refs + (<usize>j << 2));
    if (ref != 0) {
      store<i32>(ptrs + (<usize>j << 2), <i32>(ref - 1));
    } else {
      const q = q0 + j;
      memory.copy(base + <usize>q * L, load<usize>(tab + (<usize>j << 2)), L);
      store<i32>(ptrs + (<usize>j << 2), -1 - q);
    }
  }
}

/** The plane's byte-plane row addresses (n rows), resolved from its row records into `out`. */
function rowAddresses(base: usize, n: i32, out: usize): void {
  const L = <usize>LANES;
  const ptrs = base + PLANE_PTRS;
  for (let q = 0; q < n; q++) {
    const v = load<i32>(ptrs + (<usize>q << 2));
    store<u32>(out + (<usize>q << 2), <u32>(v >= 0 ? SRAM + <usize>v * L : base + <usize>(-1 - v) * L));
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
  const ptrs = BUF_B;
  rowAddresses(base, K * g, ptrs);
  if (dt == DT_INT8) multiplyInt8(ptrs, acc, load<usize>(A), K);
  else multiplyFloat(ptrs, acc, A, K, dt == DT_FP16);
  if (dst == 255) return;
  const d0 = load<usize>(D);
  const d1 = load<usize>(D + 4);
  const d2 = load<usize>(D + 8);
  const d3 = load<usize>(D + 12);
  let n: usize = 0;
  if (dt == DT_INT8) {
    // the int32 sums as 4 byte planes: a byte transpose of 16 sums at a time
    for (; n + 16 <= L; n += 16) {
      const a = acc + (n << 2);
      const v0 = v128.load(a);
      const v1 = v128.load(a, 16);
      const v2 = v128.load(a, 32);
      const v3 = v128.load(a, 48);
      // bytes b of 4 sums each -> one 4-byte group per vector, then gather the groups
      const t0 = i8x16.shuffle(v0, v1, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
      const t1 = i8x16.shuffle(v2, v3, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
      const t2 = i8x16.shuffle(v0, v1, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
      const t3 = i8x16.shuffle(v2, v3, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
      v128.store(d0 + n, i64x2.shuffle(t0, t1, 0, 2));
      v128.store(d1 + n, i64x2.shuffle(t0, t1, 1, 3));
      v128.store(d2 + n, i64x2.shuffle(t2, t3, 0, 2));
      v128.store(d3 + n, i64x2.shuffle(t2, t3, 1, 3));
    }
  }
  for (; n < L; n++) {
    const a = acc + (n << 2);
    const v: u32 = dt == DT_INT8 ? load<u32>(a) : canonF32(load<f32>(a));
    store<u8>(d0 + n, <u8>v);
    store<u8>(d1 + n, <u8>(v >> 8));
    store<u8>(d2 + n, <u8>(v >> 16));
    store<u8>(d3 + n, <u8>(v >> 24));
  }
}

/** Row pairs per block of the MM loops: a block's rows are read whole (sequentially, from the
 * few slices that fed them) before the next block's, with the accumulators in L1 between
 * blocks; measured against rows-inner order (every row's n-th 16 bytes in turn), which lets
 * the hardware prefetchers lose track of weights streaming from memory. */
const PAIRS_PER_BLOCK: usize = 8;

/** acc[n] += sum_k x[k] * W[k][n] over int8 rows read through the plane's row addresses: rows
 * 2j and 2j+1 interleaved on the fly so that one i32x4.dot_i16x8_s does two k, 16 outputs a pass
 * kept in registers over a block of row pairs. Sums are exact, so the order does not matter. */
function multiplyInt8(ptrs: usize, acc: usize, x: usize, K: i32): void {
  const L = <usize>LANES;
  const pairs = <usize>(K >> 1);
  // the activation pairs (x[2j], x[2j+1]) as i16 lanes, splatted: one v128 per pair
  const xs = BUF_A;
  for (let j: usize = 0; j < pairs; j++) {
    const lo = <u32><u16><i16>load<i8>(x + 2 * j);
    const hi = <u32><u16><i16>load<i8>(x + 2 * j + 1);
    v128.store(xs + (j << 4), i32x4.splat(<i32>(lo | (hi << 16))));
  }
  const L16 = L & ~(<usize>15);
  for (let j0: usize = 0; j0 < pairs; j0 += PAIRS_PER_BLOCK) {
    const j1 = j0 + PAIRS_PER_BLOCK < pairs ? j0 + PAIRS_PER_BLOCK : pairs;
    for (let n: usize = 0; n < L16; n += 16) {
      const o = acc + (n << 2);
      let a0 = v128.load(o);
      let a1 = v128.load(o, 16);
      let a2 = v128.load(o, 32);
      let a3 = v128.load(o, 48);
      for (let j = j0; j < j1; j++) {
        const va = v128.load(<usize>load<u32>(ptrs + (j << 3)) + n);
        const vb = v128.load(<usize>load<u32>(ptrs + (j << 3), 4) + n);
        const xv = v128.load(xs + (j << 4));
        const lo = i8x16.shuffle(va, vb, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const hi = i8x16.shuffle(va, vb, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
        a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(lo), xv));
        a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(lo), xv));
        a2 = i32x4.add(a2, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(hi), xv));
        a3 = i32x4.add(a3, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(hi), xv));
      }
      v128.store(o, a0);
      v128.store(o, a1, 16);
      v128.store(o, a2, 32);
      v128.store(o, a3, 48);
    }
  }
  for (let n = L16; n < L; n++) {
    let a = load<i32>(acc + (n << 2));
    for (let k: usize = 0; k < <usize>K; k++) a += <i32>load<i8>(x + k) * <i32>load<i8>(<usize>load<u32>(ptrs + (k << 2)) + n);
    store<i32>(acc + (n << 2), a);
  }
  if (K & 1) {
    // an odd K leaves one row unpaired
    const k = <usize>(K - 1);
    const xk = <i32>load<i8>(x + k);
    const row = <usize>load<u32>(ptrs + (k << 2));
    for (let m: usize = 0; m < L16; m++) {
      const a = acc + (m << 2);
      store<i32>(a, load<i32>(a) + xk * <i32>load<i8>(row + m));
    }
  }
}

// @ts-ignore: decorator
@inline function widen(h: v128, fp16: bool): v128 {
  return fp16 ? f16x4ToF32(h) : i32x4.shl(h, 16);
}

/** acc[n] = acc[n] + x[k] * W[k][n] for k ascending, in f32 (mul then add, as the scalar
 * definition), 16 outputs per pass kept in registers; W's two byte planes per row are read
 * through the row pointers and widened on the fly. */
function multiplyFloat(ptrs: usize, acc: usize, A: usize, K: i32, fp16: bool): void {
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
    let a1 = v128.load(o, 16);
    let a2 = v128.load(o, 32);
    let a3 = v128.load(o, 48);
    for (let k: usize = 0; k < <usize>K; k++) {
      const lo = v128.load(<usize>load<u32>(ptrs + (k << 3)) + n);
      const hi = v128.load(<usize>load<u32>(ptrs + (k << 3), 4) + n);
      const h0 = i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const h1 = i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const xv = v128.load32_splat(xs + (k << 2));
      a0 = f32x4.add(a0, f32x4.mul(xv, widen(i32x4.extend_low_i16x8_u(h0), fp16)));
      a1 = f32x4.add(a1, f32x4.mul(xv, widen(i32x4.extend_high_i16x8_u(h0), fp16)));
      a2 = f32x4.add(a2, f32x4.mul(xv, widen(i32x4.extend_low_i16x8_u(h1), fp16)));
      a3 = f32x4.add(a3, f32x4.mul(xv, widen(i32x4.extend_high_i16x8_u(h1), fp16)));
    }
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
  for (; n < L; n++) {
    let a = load<f32>(acc + (n << 2));
    for (let k: usize = 0; k < <usize>K; k++) {
      const lo = <u32>load<u8>(<usize>load<u32>(ptrs + (<usize>k << 3)) + n);
      const hi = <u32>load<u8>(<usize>load<u32>(ptrs + (<usize>k << 3) + 4) + n);
      const bits = lo | (hi << 8);
      a = a + load<f32>(xs + (k << 2)) * (fp16 ? f16ToF32(bits) : bf16ToF32(bits));
    }
    store<f32>(acc + (n << 2), a);
  }
}
