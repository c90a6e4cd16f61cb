// Quantisation: the only roundings in the reference (src/models/reference.ts).
//
//  - Float rounding (fp16, bf16, fp32) is IEEE round to nearest, ties to even, straight from the
//    float64 value (no detour through fp32), overflowing to infinity; subnormals are kept.
//  - int8 (symmetric): a vector x gets scale s = max|x_i| / 127, rounded to fp32 (scales are
//    fp32 tensors: the reference uses exactly the scale the chip stores), and codes
//    q_i = round_half_even(x_i / s), saturated to -128..127 (|x_i / s| <= 127 always, so the
//    saturation only guards against a caller's own scale); the value q_i means is q_i * s.
//    An all-zero vector gets s = 0 and all codes 0. Weights use one vector per output channel
//    (a row of the HF [out, in] matrix); activations one per token vector (a row of [M, K]).
import { roundHalfEven } from '../util/numerics.js';
import { SfError } from '../util/errors.js';

/** Number formats of the layer's data: the `--dtype` choices. */
export const MODEL_DTYPES = ['int8', 'fp16', 'bf16', 'fp32'] as const;
export type ModelDtype = (typeof MODEL_DTYPES)[number];
export type FloatDtype = 'fp16' | 'bf16' | 'fp32';

export const DTYPE_BYTES: Record<ModelDtype, number> = { int8: 1, fp16: 2, bf16: 2, fp32: 4 };

/**
 * What each kind of datum is stored as under one `--dtype`:
 *  - linear:    weights and input activations of the 7 projections (q, k, v, o, gate, up, down);
 *  - attention: the operands of the two attention matmuls: q, the KV cache, the probabilities;
 *  - side:      RMSNorm gains and projection biases.
 * Everything else (norm, RoPE, softmax, activation, residual, matmul results) is fp32 on the
 * chip and float64 in the reference. With int8, attention stays in fp16: a KV cache that grows
 * token by token cannot share one int8 scale along the reduction axis of probs x V.
 */
export interface Precision {
  dtype: ModelDtype;
  linear: ModelDtype;
  attention: FloatDtype;
  side: FloatDtype;
}

export function precisionFor(dtype: ModelDtype): Precision {
  switch (dtype) {
    case 'int8':
      return { dtype, linear: 'int8', attention: 'fp16', side: 'fp16' };
    case 'fp16':
      return { dtype, linear: 'fp16', attention: 'fp16', side: 'fp16' };
    case 'bf16':
      return { dtype, linear: 'bf16', attention: 'bf16', side: 'bf16' };
    case 'fp32':
      return { dtype, linear: 'fp32', attention: 'fp32', side: 'fp32' };
  }
}

/** Significand bits (after the point), smallest normal exponent and largest exponent. */
const FORMATS: Record<'fp16' | 'bf16', { mant: number; emin: number; emax: number }> = {
  fp16: { mant: 10, emin: -14, emax: 15 },
  bf16: { mant: 7, emin: -126, emax: 127 },
};

/** Unit roundoff (half an ulp of 1) of each float format. */
export const UNIT_ROUNDOFF: Record<FloatDtype, number> = { fp16: 2 ** -11, bf16: 2 ** -8, fp32: 2 ** -24 };

/** The spacing of the smallest subnormals (the absolute error floor of one rounding is half of it). */
export const SUBNORMAL_STEP: Record<FloatDtype, number> = { fp16: 2 ** -24, bf16: 2 ** -133, fp32: 2 ** -149 };

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Round a float64 to the nearest value of `dtype` (ties to even), as a float64. */
export function roundFloat(x: number, dtype: FloatDtype): number {
  if (dtype === 'fp32') return Math.fround(x);
  if (x === 0 || !Number.isFinite(x)) return x;
  const { mant, emin, emax } = FORMATS[dtype];
  const a = Math.abs(x);
  f64[0] = a;
  const biased = (u32[HI]! >>> 20) & 0x7ff;
  if (biased === 0) return x < 0 ? -0 : 0; // a float64 subnormal: far below any format's range
  const e = Math.max(biased - 1023, emin);
  const q = 2 ** (e - mant);
  const r = roundHalfEven(a / q) * q;
  const maxFinite = (2 - 2 ** -mant) * 2 ** emax;
  const v = r > maxFinite ? Infinity : r;
  return x < 0 ? -v : v;
}

/** Round every element in place. */
export function roundFloatArray(a: Float64Array, dtype: FloatDtype): Float64Array {
  if (dtype === 'fp32') {
    for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i]!);
  } else {
    for (let i = 0; i < a.length; i++) a[i] = roundFloat(a[i]!, dtype);
  }
  return a;
}

/** int8 codes of one value for a given scale (half to even, saturated). */
export function int8Code(x: number, scale: number): number {
  if (scale === 0) return 0;
  const r = roundHalfEven(x / scale) + 0;
  return r < -128 ? -128 : r > 127 ? 127 : r;
}

/** The symmetric scale of a vector: max|x| / 127 rounded to fp32 (0 for an all-zero vector). */
export function int8Scale(x: ArrayLike<number>, offset: number, length: number): number {
  let m = 0;
  for (let i = 0; i < length; i++) {
    const v = Math.abs(x[offset + i]!);
    if (!(v <= Number.MAX_VALUE)) throw new SfError(`cannot quantise a non-finite value (${x[offset + i]}) to int8`);
    if (v > m) m = v;
  }
  return Math.fround(m / 127);
}

/** An int8-quantised matrix: `rows` vectors of `cols`, one scale per row. */
export interface Int8Matrix {
  rows: number;
  cols: number;
  /** Codes, row-major (integers in -128..127, stored as float64 for exact arithmetic). */
  codes: Float64Array;
  /** One scale per row. */
  scales: Float64Array;
}

/** Quantise each row of a row-major [rows, cols] matrix with its own scale. */
export function quantizeRowsInt8(x: ArrayLike<number>, rows: number, cols: number): Int8Matrix {
  const codes = new Float64Array(rows * cols);
  const scales = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const s = int8Scale(x, r * cols, cols);
    scales[r] = s;
    for (let c = 0; c < cols; c++) codes[r * cols + c] = int8Code(x[r * cols + c]!, s);
  }
  return { rows, cols, codes, scales };
}

/** The values an Int8Matrix means: codes * scale, row by row. */
export function dequantizeRows(m: Int8Matrix): Float64Array {
  const out = new Float64Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) {
    const s = m.scales[r]!;
    for (let c = 0; c < m.cols; c++) out[r * m.cols + c] = m.codes[r * m.cols + c]! * s;
  }
  return out;
}
