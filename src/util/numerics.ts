// Host-side element codecs: the exact rounding rules the assembler, the loader and the reports
// use to turn JavaScript numbers into chip elements and back.
//
//  - Floats (fp16, bf16) are rounded from the f32 value (Math.fround first), to nearest, ties to
//    even, overflowing to infinity as IEEE 754 does; NaN becomes the canonical quiet NaN
//    (fp16 0x7e00, bf16 0x7fc0; the sign of a NaN is not kept).
//  - Integers are rounded half to even, then saturated to the dtype's range; NaN becomes 0.
//  - Elements are little-endian.
import { dtypeByName, type DtypeName } from '../isa/dtypes.js';
import { SfError } from './errors.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE binary32 bit pattern of Math.fround(x). */
export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

/** The number whose binary32 bit pattern is `bits` (taken as unsigned 32 bits). */
export function bitsToF32(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0]!;
}

/** Round half to even to an integer (exact for every double). */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const d = x - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** f32 -> IEEE binary16 bits, round to nearest even. */
export function f32ToFp16Bits(x: number): number {
  const v = Math.fround(x);
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a === Infinity) return sign | 0x7c00;
  // Largest fp16 is 65504; halfway to the next (non-existent) step, 65520, rounds to inf.
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // Subnormal (or zero): units of 2^-24. A result of 1024 is the smallest normal, 0x0400.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  // Normal: the exponent from the f32 bits (exact), mantissa rounded to 10 bits.
  let e = ((f32Bits(a) >>> 23) & 0xff) - 127;
  let m = roundHalfEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e += 1;
  }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

/** IEEE binary16 bits -> number (exact). */
export function fp16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** f32 -> bfloat16 bits (the top 16 bits of the f32), round to nearest even. */
export function f32ToBf16Bits(x: number): number {
  const v = Math.fround(x);
  if (Number.isNaN(v)) return 0x7fc0;
  const b = f32Bits(v);
  // Adding 0x7fff plus the lowest kept bit rounds ties to even; a carry out of the exponent
  // of the largest finite value gives infinity, as IEEE rounding does.
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** bfloat16 bits -> number (exact). */
export function bf16BitsToF32(h: number): number {
  return bitsToF32((h & 0xffff) << 16);
}

function dtypeOf(name: DtypeName) {
  const d = dtypeByName(name);
  if (!d) throw new SfError(`unknown dtype "${name}"`);
  return d;
}

/** The value `x` becomes when stored as one element of `dtype`. */
export function roundToDtype(dtype: DtypeName, x: number): number {
  switch (dtype) {
    case 'fp32':
      return Math.fround(x);
    case 'fp16':
      return fp16BitsToF32(f32ToFp16Bits(x));
    case 'bf16':
      return bf16BitsToF32(f32ToBf16Bits(x));
    default: {
      const d = dtypeOf(dtype);
      if (Number.isNaN(x)) return 0;
      const r = roundHalfEven(x) + 0; // + 0: no -0
      return r < d.min ? d.min : r > d.max ? d.max : r;
    }
  }
}

/** Encode numbers as little-endian elements of `dtype` (rounded as roundToDtype). */
export function encodeElements(dtype: DtypeName, values: ArrayLike<number>): Uint8Array {
  const d = dtypeOf(dtype);
  const out = new Uint8Array(values.length * d.bytes);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    const o = i * d.bytes;
    switch (dtype) {
      case 'fp32':
        view.setFloat32(o, x, true);
        break;
      case 'fp16':
        view.setUint16(o, f32ToFp16Bits(x), true);
        break;
      case 'bf16':
        view.setUint16(o, f32ToBf16Bits(x), true);
        break;
      case 'int8':
        view.setInt8(o, roundToDtype(dtype, x));
        break;
      case 'int16':
        view.setInt16(o, roundToDtype(dtype, x), true);
        break;
      case 'int32':
        view.setInt32(o, roundToDtype(dtype, x), true);
        break;
    }
  }
  return out;
}

/** Decode little-endian elements of `dtype`; a trailing partial element is an error. */
export function decodeElements(dtype: DtypeName, bytes: Uint8Array): number[] {
  const d = dtypeOf(dtype);
  if (bytes.length % d.bytes !== 0) {
    throw new SfError(`${bytes.length} bytes is not a whole number of ${dtype} elements`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length / d.bytes;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const o = i * d.bytes;
    switch (dtype) {
      case 'fp32':
        out[i] = view.getFloat32(o, true);
        break;
      case 'fp16':
        out[i] = fp16BitsToF32(view.getUint16(o, true));
        break;
      case 'bf16':
        out[i] = bf16BitsToF32(view.getUint16(o, true));
        break;
      case 'int8':
        out[i] = view.getInt8(o);
        break;
      case 'int16':
        out[i] = view.getInt16(o, true);
        break;
      case 'int32':
        out[i] = view.getInt32(o, true);
        break;
    }
  }
  return out;
}
