// The limit the emulator is measured against: a tight int8 GEMV with no emulation, y = x W
// (K x N int8, int32 sums), in the same Wasm SIMD style as the core's MXM (two k per
// i32x4.dot_i16x8_s over rows interleaved in pairs), and a plain memory sweep over the weight
// bytes (the bandwidth floor). Built by bench/run.js with the project's own asc.

/** Weights interleaved in pairs of rows: byte ((k >> 1) * N + n) * 2 + (k & 1). */
export function gemvInt8(w: usize, x: usize, y: usize, K: i32, N: i32): void {
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

/** Sums every byte of [p, p + bytes) 16 at a time: touches each weight byte once. */
export function sweep(p: usize, bytes: usize): i32 {
  let acc = i32x4.splat(0);
  for (let o: usize = 0; o + 16 <= bytes; o += 16) {
    acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(p + o))));
  }
  return i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
}

export function grow(pages: i32): i32 {
  return memory.grow(pages);
}
