// Element codecs. A value of a b-byte dtype travels as b byte planes: plane k holds byte k
// (little-endian) of every lane. Groups are described by a table of plane pointers in scratch
// memory (PTRS). All float arithmetic is IEEE f32 in Wasm, so results are identical everywhere;
// NaNs are canonicalised on store so that bit patterns are too.
import { DT_INT8, DT_INT16, DT_INT32, DT_FP16, DT_BF16, DT_FP32 } from './isa.generated';

export function f32ToF16(x: f32): u32 {
  const b = reinterpret<u32>(x);
  const sign = (b >> 16) & 0x8000;
  const e = <i32>((b >> 23) & 0xff);
  const m = b & 0x7fffff;
  if (e == 255) return m != 0 ? 0x7e00 : sign | 0x7c00; // NaN: canonical, sign dropped
  const ne = e - 112; // e - 127 + 15
  if (ne >= 31) return sign | 0x7c00;
  if (ne <= 0) {
    const shift = 126 - e;
    if (shift >= 25) return sign;
    const full = m | 0x800000;
    let h = full >> shift;
    const rem = full & ((1 << shift) - 1);
    const half: u32 = 1 << (shift - 1);
    if (rem > half || (rem == half && (h & 1) != 0)) h++;
    return sign | h;
  }
  let h = (<u32>ne << 10) | (m >> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) h++;
  return sign | h;
}

export function f16ToF32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e == 0) {
    const v = <f32>m * 5.9604644775390625e-8; // 2^-24, exact
    return sign != 0 ? -v : v;
  }
  if (e == 31) return reinterpret<f32>(sign | 0x7f800000 | (m << 13));
  return reinterpret<f32>(sign | ((e + 112) << 23) | (m << 13));
}

export function f32ToBf16(x: f32): u32 {
  const b = reinterpret<u32>(x);
  if ((b & 0x7fffffff) > 0x7f800000) return 0x7fc0; // NaN: canonical, sign dropped
  const lsb = (b >> 16) & 1;
  return (b + 0x7fff + lsb) >> 16;
}

export function bf16ToF32(h: u32): f32 {
  return reinterpret<f32>(h << 16);
}

export function canonF32(x: f32): u32 {
  return x != x ? 0x7fc00000 : reinterpret<u32>(x);
}

// ---- group access through a pointer table --------------------------------------------------

@inline function plane(tab: usize, k: i32): usize {
  return load<usize>(tab + (<usize>k << 2));
}

/** Raw little-endian bits of element i (up to 4 bytes). */
export function loadBits(tab: usize, bytes: i32, i: i32): u32 {
  const o = <usize>i;
  let v: u32 = load<u8>(plane(tab, 0) + o);
  if (bytes > 1) v |= (<u32>load<u8>(plane(tab, 1) + o)) << 8;
  if (bytes > 2) {
    v |= (<u32>load<u8>(plane(tab, 2) + o)) << 16;
    v |= (<u32>load<u8>(plane(tab, 3) + o)) << 24;
  }
  return v;
}

export function storeBits(tab: usize, bytes: i32, i: i32, v: u32): void {
  const o = <usize>i;
  store<u8>(plane(tab, 0) + o, <u8>v);
  if (bytes > 1) store<u8>(plane(tab, 1) + o, <u8>(v >> 8));
  if (bytes > 2) {
    store<u8>(plane(tab, 2) + o, <u8>(v >> 16));
    store<u8>(plane(tab, 3) + o, <u8>(v >> 24));
  }
}

/** Element i of a float-typed group as f32. */
export function loadF(tab: usize, dt: i32, i: i32): f32 {
  if (dt == DT_FP32) return reinterpret<f32>(loadBits(tab, 4, i));
  if (dt == DT_FP16) return f16ToF32(loadBits(tab, 2, i));
  return bf16ToF32(loadBits(tab, 2, i));
}

export function storeF(tab: usize, dt: i32, i: i32, x: f32): void {
  if (dt == DT_FP32) storeBits(tab, 4, i, canonF32(x));
  else if (dt == DT_FP16) storeBits(tab, 2, i, f32ToF16(x));
  else storeBits(tab, 2, i, f32ToBf16(x));
}

/** Element i of an integer-typed group, sign-extended. */
export function loadI(tab: usize, dt: i32, i: i32): i32 {
  if (dt == DT_INT8) return <i32><i8>load<u8>(plane(tab, 0) + <usize>i);
  if (dt == DT_INT16) return <i32><i16>loadBits(tab, 2, i);
  return <i32>loadBits(tab, 4, i);
}

/** Stores an integer: int32 as is (wrapped), int8/int16 saturated. */
export function storeI(tab: usize, dt: i32, i: i32, v: i32): void {
  if (dt == DT_INT8) {
    store<u8>(plane(tab, 0) + <usize>i, <u8>(v < -128 ? -128 : v > 127 ? 127 : v));
  } else if (dt == DT_INT16) {
    storeBits(tab, 2, i, <u32>(v < -32768 ? -32768 : v > 32767 ? 32767 : v));
  } else {
    storeBits(tab, 4, i, <u32>v);
  }
}

/** Element i of any dtype as f64 (exact for every dtype). */
export function loadAny(tab: usize, dt: i32, i: i32): f64 {
  if (dt == DT_INT8 || dt == DT_INT16 || dt == DT_INT32) return <f64>loadI(tab, dt, i);
  return <f64>loadF(tab, dt, i);
}

/** Stores an f64 into any dtype: integers round half to even and saturate; floats round to
 * f32 first, then to the dtype (both nearest-even). */
export function storeAny(tab: usize, dt: i32, i: i32, x: f64): void {
  if (dt == DT_INT8 || dt == DT_INT16 || dt == DT_INT32) {
    let r = nearest<f64>(x);
    if (r != r) r = 0;
    let lo: f64 = -2147483648.0;
    let hi: f64 = 2147483647.0;
    if (dt == DT_INT8) { lo = -128; hi = 127; }
    else if (dt == DT_INT16) { lo = -32768; hi = 32767; }
    if (r < lo) r = lo;
    if (r > hi) r = hi;
    storeI(tab, dt, i, <i32>r);
  } else {
    storeF(tab, dt, i, <f32>x);
  }
}

export function isIntDtype(dt: i32): bool {
  return dt == DT_INT8 || dt == DT_INT16 || dt == DT_INT32;
}

export function isValidDtype(dt: i32): bool {
  return dt >= DT_INT8 && dt <= DT_FP32; // the codes run 0..5 (src/isa/dtypes.ts)
}
