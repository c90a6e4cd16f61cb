// Whole-vector element access for the units that compute on every lane: a stream group's byte
// planes (plane k = byte k of every lane, see numerics.ts) to an array of LANES 32-bit elements
// and back, 16 lanes at a time with byte shuffles. Arrays hold f32 bits for float dtypes (fp16
// and bf16 widened exactly) and sign-extended i32 for integer dtypes; packing rounds or
// saturates to the dtype exactly as numerics.ts's storeF/storeI do, element by element.
import { LANES } from './layout';
import { f16ToF32, f32ToF16 } from './numerics';
import { DT_INT8, DT_INT16, DT_INT32, DT_FP16, DT_BF16, DT_FP32 } from './isa.generated';

// @ts-ignore: decorator
@inline function plane(tab: usize, k: i32): usize {
  return <usize>load<u32>(tab + (<usize>k << 2));
}

/** fp16 bits (low 16 bits of each i32 lane) to f32, exactly as f16ToF32: normals, subnormals,
 * zeros, infinities and NaN payloads. */
// @ts-ignore: decorator
@inline export function f16x4ToF32(h: v128): v128 {
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const o = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  const e = v128.and(o, i32x4.splat(0x0f800000));
  const normal = i32x4.add(o, i32x4.splat(112 << 23));
  const inf = i32x4.add(o, i32x4.splat(224 << 23));
  // subnormal (and zero): 2^-14 x (1 + m / 1024) - 2^-14 = m x 2^-24, exact
  const sub = f32x4.sub(i32x4.add(o, i32x4.splat(113 << 23)), f32x4.splat(6.103515625e-5));
  let r = v128.bitselect(inf, normal, i32x4.eq(e, i32x4.splat(0x0f800000)));
  r = v128.bitselect(sub, r, i32x4.eq(e, i32x4.splat(0)));
  return v128.or(r, sign);
}

/** Canonical NaN for every NaN lane (canonF32). */
// @ts-ignore: decorator
@inline export function canonF32x4(x: v128): v128 {
  return v128.bitselect(i32x4.splat(0x7fc00000), x, f32x4.ne(x, x));
}

/** The group at `tab` (dtype dt) as LANES 32-bit elements at `out`. */
export function unpack(tab: usize, dt: i32, out: usize): void {
  const L = <usize>LANES;
  const L16 = L & ~(<usize>15);
  let n: usize = 0;
  if (dt == DT_INT8) {
    const p0 = plane(tab, 0);
    for (; n < L16; n += 16) {
      const v = v128.load(p0 + n);
      const lo = i16x8.extend_low_i8x16_s(v);
      const hi = i16x8.extend_high_i8x16_s(v);
      const o = out + (n << 2);
      v128.store(o, i32x4.extend_low_i16x8_s(lo));
      v128.store(o, i32x4.extend_high_i16x8_s(lo), 16);
      v128.store(o, i32x4.extend_low_i16x8_s(hi), 32);
      v128.store(o, i32x4.extend_high_i16x8_s(hi), 48);
    }
    for (; n < L; n++) store<i32>(out + (n << 2), <i32>load<i8>(p0 + n));
    return;
  }
  if (dt == DT_INT32 || dt == DT_FP32) {
    const p0 = plane(tab, 0);
    const p1 = plane(tab, 1);
    const p2 = plane(tab, 2);
    const p3 = plane(tab, 3);
    for (; n < L16; n += 16) {
      const b0 = v128.load(p0 + n);
      const b1 = v128.load(p1 + n);
      const b2 = v128.load(p2 + n);
      const b3 = v128.load(p3 + n);
      const a0 = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const a1 = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const c0 = i8x16.shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
      const c1 = i8x16.shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
      const o = out + (n << 2);
      v128.store(o, i16x8.shuffle(a0, c0, 0, 8, 1, 9, 2, 10, 3, 11));
      v128.store(o, i16x8.shuffle(a0, c0, 4, 12, 5, 13, 6, 14, 7, 15), 16);
      v128.store(o, i16x8.shuffle(a1, c1, 0, 8, 1, 9, 2, 10, 3, 11), 32);
      v128.store(o, i16x8.shuffle(a1, c1, 4, 12, 5, 13, 6, 14, 7, 15), 48);
    }
    for (; n < L; n++) {
      store<u32>(out + (n << 2), <u32>load<u8>(p0 + n) | (<u32>load<u8>(p1 + n) << 8) | (<u32>load<u8>(p2 + n) << 16) | (<u32>load<u8>(p3 + n) << 24));
    }
    return;
  }
  // 2-byte dtypes
  const p0 = plane(tab, 0);
  const p1 = plane(tab, 1);
  for (; n < L16; n += 16) {
    const b0 = v128.load(p0 + n);
    const b1 = v128.load(p1 + n);
    const h0 = i8x16.shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const h1 = i8x16.shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const o = out + (n << 2);
    if (dt == DT_INT16) {
      v128.store(o, i32x4.extend_low_i16x8_s(h0));
      v128.store(o, i32x4.extend_high_i16x8_s(h0), 16);
      v128.store(o, i32x4.extend_low_i16x8_s(h1), 32);
      v128.store(o, i32x4.extend_high_i16x8_s(h1), 48);
    } else if (dt == DT_FP16) {
      v128.store(o, f16x4ToF32(i32x4.extend_low_i16x8_u(h0)));
      v128.store(o, f16x4ToF32(i32x4.extend_high_i16x8_u(h0)), 16);
      v128.store(o, f16x4ToF32(i32x4.extend_low_i16x8_u(h1)), 32);
      v128.store(o, f16x4ToF32(i32x4.extend_high_i16x8_u(h1)), 48);
    } else {
      v128.store(o, i32x4.shl(i32x4.extend_low_i16x8_u(h0), 16));
      v128.store(o, i32x4.shl(i32x4.extend_high_i16x8_u(h0), 16), 16);
      v128.store(o, i32x4.shl(i32x4.extend_low_i16x8_u(h1), 16), 32);
      v128.store(o, i32x4.shl(i32x4.extend_high_i16x8_u(h1), 16), 48);
    }
  }
  for (; n < L; n++) {
    const bits = <u32>load<u8>(p0 + n) | (<u32>load<u8>(p1 + n) << 8);
    let v: u32;
    if (dt == DT_INT16) v = <u32><i32><i16>bits;
    else if (dt == DT_FP16) v = reinterpret<u32>(f16ToF32(bits));
    else v = bits << 16;
    store<u32>(out + (n << 2), v);
  }
}

/** Four vectors of 4 u32 (16 lanes) as 4 byte planes (byte k of each lane to plane k). */
// @ts-ignore: decorator
@inline function storePlanes4(v0: v128, v1: v128, v2: v128, v3: v128, d0: usize, d1: usize, d2: usize, d3: usize): void {
  const t0 = i8x16.shuffle(v0, v1, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const t1 = i8x16.shuffle(v2, v3, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const t2 = i8x16.shuffle(v0, v1, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  const t3 = i8x16.shuffle(v2, v3, 2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  v128.store(d0, i64x2.shuffle(t0, t1, 0, 2));
  v128.store(d1, i64x2.shuffle(t0, t1, 1, 3));
  v128.store(d2, i64x2.shuffle(t2, t3, 0, 2));
  v128.store(d3, i64x2.shuffle(t2, t3, 1, 3));
}

/** Four vectors of 4 u32 whose low halves hold 16-bit values, as 2 byte planes. */
// @ts-ignore: decorator
@inline function storePlanes2(v0: v128, v1: v128, v2: v128, v3: v128, d0: usize, d1: usize): void {
  const t0 = i8x16.shuffle(v0, v1, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const t1 = i8x16.shuffle(v2, v3, 0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  v128.store(d0, i64x2.shuffle(t0, t1, 0, 2));
  v128.store(d1, i64x2.shuffle(t0, t1, 1, 3));
}

/** 32-bit int32 elements at `src` as the 4 byte planes at `tab` (the raw bits: no rounding). */
export function packBits32(src: usize, tab: usize): void {
  const L = <usize>LANES;
  const L16 = L & ~(<usize>15);
  const d0 = plane(tab, 0);
  const d1 = plane(tab, 1);
  const d2 = plane(tab, 2);
  const d3 = plane(tab, 3);
  let n: usize = 0;
  for (; n < L16; n += 16) {
    const s = src + (n << 2);
    storePlanes4(v128.load(s), v128.load(s, 16), v128.load(s, 32), v128.load(s, 48), d0 + n, d1 + n, d2 + n, d3 + n);
  }
  for (; n < L; n++) {
    const v = load<u32>(src + (n << 2));
    store<u8>(d0 + n, <u8>v);
    store<u8>(d1 + n, <u8>(v >> 8));
    store<u8>(d2 + n, <u8>(v >> 16));
    store<u8>(d3 + n, <u8>(v >> 24));
  }
}

/** LANES elements at `src` (f32 bits for float dtypes, i32 for integer ones) stored into the
 * group at `tab` in dtype dt: floats rounded to the dtype (fp32: NaN canonicalised; fp16, bf16:
 * nearest even, canonical NaN), integers wrapped (int32) or saturated (int8, int16). */
export function pack(src: usize, dt: i32, tab: usize): void {
  const L = <usize>LANES;
  const L16 = L & ~(<usize>15);
  let n: usize = 0;
  if (dt == DT_INT32) {
    packBits32(src, tab);
    return;
  }
  if (dt == DT_FP32) {
    const d0 = plane(tab, 0);
    const d1 = plane(tab, 1);
    const d2 = plane(tab, 2);
    const d3 = plane(tab, 3);
    for (; n < L16; n += 16) {
      const s = src + (n << 2);
      storePlanes4(canonF32x4(v128.load(s)), canonF32x4(v128.load(s, 16)), canonF32x4(v128.load(s, 32)), canonF32x4(v128.load(s, 48)), d0 + n, d1 + n, d2 + n, d3 + n);
    }
    for (; n < L; n++) {
      const x = load<f32>(src + (n << 2));
      const v: u32 = x != x ? 0x7fc00000 : reinterpret<u32>(x);
      store<u8>(d0 + n, <u8>v);
      store<u8>(d1 + n, <u8>(v >> 8));
      store<u8>(d2 + n, <u8>(v >> 16));
      store<u8>(d3 + n, <u8>(v >> 24));
    }
    return;
  }
  if (dt == DT_INT8) {
    const d0 = plane(tab, 0);
    for (; n < L16; n += 16) {
      const s = src + (n << 2);
      // saturating narrows: i32 -> i16 -> i8 clamps to [-128, 127]
      const lo = i16x8.narrow_i32x4_s(v128.load(s), v128.load(s, 16));
      const hi = i16x8.narrow_i32x4_s(v128.load(s, 32), v128.load(s, 48));
      v128.store(d0 + n, i8x16.narrow_i16x8_s(lo, hi));
    }
    for (; n < L; n++) {
      const v = load<i32>(src + (n << 2));
      store<u8>(d0 + n, <u8>(v < -128 ? -128 : v > 127 ? 127 : v));
    }
    return;
  }
  const d0 = plane(tab, 0);
  const d1 = plane(tab, 1);
  if (dt == DT_INT16) {
    for (; n < L16; n += 16) {
      const s = src + (n << 2);
      // saturating narrow to i16, then the two bytes of each to the planes
      const lo = i16x8.narrow_i32x4_s(v128.load(s), v128.load(s, 16));
      const hi = i16x8.narrow_i32x4_s(v128.load(s, 32), v128.load(s, 48));
      v128.store(d0 + n, i8x16.shuffle(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30));
      v128.store(d1 + n, i8x16.shuffle(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
    }
    for (; n < L; n++) {
      const v = load<i32>(src + (n << 2));
      const c = <u32>(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
      store<u8>(d0 + n, <u8>c);
      store<u8>(d1 + n, <u8>(c >> 8));
    }
    return;
  }
  if (dt == DT_BF16) {
    for (; n < L16; n += 16) {
      const s = src + (n << 2);
      storePlanes2(bf16x4(v128.load(s)), bf16x4(v128.load(s, 16)), bf16x4(v128.load(s, 32)), bf16x4(v128.load(s, 48)), d0 + n, d1 + n);
    }
    for (; n < L; n++) {
      const b = load<u32>(src + (n << 2));
      const h: u32 = (b & 0x7fffffff) > 0x7f800000 ? 0x7fc0 : (b + 0x7fff + ((b >> 16) & 1)) >> 16;
      store<u8>(d0 + n, <u8>h);
      store<u8>(d1 + n, <u8>(h >> 8));
    }
    return;
  }
  // fp16: nearest even with subnormals, element by element
  for (; n < L; n++) {
    const h = f32ToF16(load<f32>(src + (n << 2)));
    store<u8>(d0 + n, <u8>h);
    store<u8>(d1 + n, <u8>(h >> 8));
  }
}

/** f32 bits to bf16 bits (low halves), as f32ToBf16: nearest even, canonical NaN. */
// @ts-ignore: decorator
@inline function bf16x4(b: v128): v128 {
  const lsb = v128.and(i32x4.shr_u(b, 16), i32x4.splat(1));
  const r = i32x4.shr_u(i32x4.add(i32x4.add(b, i32x4.splat(0x7fff)), lsb), 16);
  const nan = i32x4.gt_u(v128.and(b, i32x4.splat(0x7fffffff)), i32x4.splat(0x7f800000));
  return v128.bitselect(i32x4.splat(0x7fc0), r, nan);
}

export function isFloatDtype(dt: i32): bool {
  return dt == DT_FP16 || dt == DT_BF16 || dt == DT_FP32;
}
