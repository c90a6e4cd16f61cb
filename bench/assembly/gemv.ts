// The limits the emulator is measured against: tight matrix-vector products with no emulation,
// in the same Wasm SIMD style as the core's MXM, and a plain memory sweep over the weight bytes
// (the bandwidth floor). Built by bench/run.js with the project's own asc.
//
// int8: y = x W, W K x N int8, int32 sums. Weights interleaved in pairs of rows (byte
// ((k >> 1) * N + n) * 2 + (k & 1)), the layout that suits i32x4.dot_i16x8_s best: one load and
// two dots per 8 outputs and 2 k; or those pairs blocked per 16 outputs, for streaming. These are
// the reference's own choices of layout, made before the timed call (the emulator cannot choose:
// its weights arrive as rows on streams); bench/run.js takes the faster.
// fp16: y = x W, W K x N fp16 row-major, x fp16, fp32 sums added one product at a time in
// ascending k (mul, then add: the MXM's definition), fp16 widened with an exact SIMD conversion.

/** The first version (x pair splatted inside the loop, 8 outputs per pass). */
export function gemvInt8Simple(w: usize, x: usize, y: usize, K: i32, N: i32): void {
  const pairs = <usize>(K >> 1);
  const n8 = <usize>N & ~(<usize>7);
  for (let n: usize = 0; n < n8; n += 8) {
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    for (let j: usize = 0; j < pairs; j++) {
      const xv = i32x4.splat(<i32>((<u32><u16><i16>load<i8>(x + 2 * j)) | ((<u32><u16><i16>load<i8>(x + 2 * j + 1)) << 16)));
      const wv = v128.load(w + ((j * <usize>N + n) << 1));
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(wv), xv));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(wv), xv));
    }
    v128.store(y + (n << 2), a0);
    v128.store(y + (n << 2) + 16, a1);
  }
}

/** Tight: the x pairs splatted once into `xs` (K/2 x 16 bytes), 16 outputs per pass in four
 * registers. K even, N a multiple of 16. */
export function gemvInt8(w: usize, x: usize, y: usize, K: i32, N: i32, xs: usize): void {
  const pairs = <usize>(K >> 1);
  for (let j: usize = 0; j < pairs; j++) {
    v128.store(xs + (j << 4), i32x4.splat(<i32>((<u32><u16><i16>load<i8>(x + 2 * j)) | ((<u32><u16><i16>load<i8>(x + 2 * j + 1)) << 16))));
  }
  const rowPair = <usize>N << 1;
  for (let n: usize = 0; n < <usize>N; n += 16) {
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    let p = w + (n << 1);
    for (let j: usize = 0; j < pairs; j++) {
      const xv = v128.load(xs + (j << 4));
      const w0 = v128.load(p);
      const w1 = v128.load(p, 16);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w0), xv));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w0), xv));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w1), xv));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w1), xv));
      p += rowPair;
    }
    v128.store(y + (n << 2), a0);
    v128.store(y + (n << 2), a1, 16);
    v128.store(y + (n << 2), a2, 32);
    v128.store(y + (n << 2), a3, 48);
  }
}

/** The same product over weights blocked for streaming: per block of 16 outputs, the K/2 row
 * pairs' 32 bytes one after another (byte ((n >> 4) * (K >> 1) + (k >> 1)) * 32 + (n & 15) * 2
 * + (k & 1)), so each block reads one contiguous run of memory: the layout a GEMV over weights
 * bigger than the caches wants. K even, N a multiple of 16. */
export function gemvInt8Blocked(w: usize, x: usize, y: usize, K: i32, N: i32, xs: usize): void {
  const pairs = <usize>(K >> 1);
  for (let j: usize = 0; j < pairs; j++) {
    v128.store(xs + (j << 4), i32x4.splat(<i32>((<u32><u16><i16>load<i8>(x + 2 * j)) | ((<u32><u16><i16>load<i8>(x + 2 * j + 1)) << 16))));
  }
  let p = w;
  for (let n: usize = 0; n < <usize>N; n += 16) {
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    for (let j: usize = 0; j < pairs; j++) {
      const xv = v128.load(xs + (j << 4));
      const w0 = v128.load(p);
      const w1 = v128.load(p, 16);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w0), xv));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w0), xv));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w1), xv));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w1), xv));
      p += 32;
    }
    v128.store(y + (n << 2), a0);
    v128.store(y + (n << 2), a1, 16);
    v128.store(y + (n << 2), a2, 32);
    v128.store(y + (n << 2), a3, 48);
  }
}

/** fp16 bits (in the low 16 bits of each i32 lane) to f32, exactly (normals, subnormals, zeros,
 * infinities, NaN payloads): the same values as the core's scalar f16ToF32. */
// @ts-ignore: decorator
@inline function f16x4ToF32(h: v128): v128 {
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

/** y[n] = sum_k x[k] * W[k][n] in f32, k ascending, 16 outputs per pass. `xs` holds K f32.
 * N a multiple of 16. */
export function gemvFp16(w: usize, x: usize, y: usize, K: i32, N: i32, xs: usize): void {
  for (let k: usize = 0; k < <usize>K; k += 4) {
    v128.store(xs + (k << 2), f16x4ToF32(i32x4.extend_low_i16x8_u(v128.load64_zero(x + (k << 1)))));
  }
  const row = <usize>N << 1;
  for (let n: usize = 0; n < <usize>N; n += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    let p = w + (n << 1);
    for (let k: usize = 0; k < <usize>K; k++) {
      const xv = v128.load32_splat(xs + (k << 2));
      const h0 = v128.load(p);
      const h1 = v128.load(p, 16);
      a0 = f32x4.add(a0, f32x4.mul(xv, f16x4ToF32(i32x4.extend_low_i16x8_u(h0))));
      a1 = f32x4.add(a1, f32x4.mul(xv, f16x4ToF32(i32x4.extend_high_i16x8_u(h0))));
      a2 = f32x4.add(a2, f32x4.mul(xv, f16x4ToF32(i32x4.extend_low_i16x8_u(h1))));
      a3 = f32x4.add(a3, f32x4.mul(xv, f16x4ToF32(i32x4.extend_high_i16x8_u(h1))));
      p += row;
    }
    v128.store(y + (n << 2), a0);
    v128.store(y + (n << 2), a1, 16);
    v128.store(y + (n << 2), a2, 32);
    v128.store(y + (n << 2), a3, 48);
  }
}

/** Sums every byte of [p, p + bytes) 16 at a time: touches each weight byte once. */
export function sweep(p: usize, bytes: usize): i32 {
  let acc = i32x4.splat(0);
  for (let o: usize = 0; o + 16 <= bytes; o += 16) {
    acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(p + o))));
  }
  return i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
}

/** Scalar f16 -> f32 bits (the core's definition), to test f16x4ToF32 against. */
export function f16ToF32Scalar(h: u32): u32 {
  return reinterpret<u32>(f16ToF32(h));
}

function f16ToF32(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e == 0) {
    const v = <f32>m * 5.9604644775390625e-8;
    return sign != 0 ? -v : v;
  }
  if (e == 31) return reinterpret<f32>(sign | 0x7f800000 | (m << 13));
  return reinterpret<f32>(sign | ((e + 112) << 23) | (m << 13));
}

export function f16ToF32Simd(h: u32): u32 {
  return i32x4.extract_lane(f16x4ToF32(i32x4.splat(<i32>h)), 0);
}

export function grow(pages: i32): i32 {
  return memory.grow(pages);
}
