// Tensor initialisers: how `.tensor ... = <init>` turns into the bytes of a tensor.
// Every initialiser produces rows*cols elements, row-major, little-endian, rounded to the dtype
// by src/util/numerics.ts. These functions define what a program means: the same initialiser
// must give the same bytes forever (a program's results are checked against golden files).
import { dtypeByName, type DtypeName } from '../isa/dtypes.js';
import { encodeElements } from '../util/numerics.js';
import { SfError } from '../util/errors.js';

/**
 * mulberry32, a 32-bit PRNG. The sequence is part of the file format's meaning.
 * State: one unsigned 32-bit integer s, initially the seed. Each draw:
 *   s = (s + 0x6D2B79F5) mod 2^32
 *   t = s
 *   t = (t XOR (t >>> 15)) * (t OR 1)                   (multiplication mod 2^32)
 *   t = t XOR (t + (t XOR (t >>> 7)) * (t OR 61))       (mod 2^32)
 *   u = (t XOR (t >>> 14)) / 2^32                       (a float in [0, 1))
 */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function dtype(name: DtypeName) {
  const d = dtypeByName(name);
  if (!d) throw new SfError(`unknown dtype "${name}"`);
  return d;
}

/** Default bounds of random(): -1..1 for floats, the full range for integers. */
export function randomDefaults(name: DtypeName): { lo: number; hi: number } {
  const d = dtype(name);
  return d.float ? { lo: -1, hi: 1 } : { lo: d.min, hi: d.max };
}

/**
 * `random(seed, lo, hi)`: element i (row-major) = lo + (hi - lo) * u_i, u_i the i-th mulberry32
 * draw from `seed` (a 32-bit unsigned integer), then rounded to the dtype (integers: half to
 * even, then clamped to the dtype's range).
 */
export function fillRandom(name: DtypeName, count: number, seed: number, lo?: number, hi?: number): Uint8Array {
  const def = randomDefaults(name);
  const l = lo ?? def.lo;
  const h = hi ?? def.hi;
  const next = mulberry32(seed);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) values[i] = l + (h - l) * next();
  return encodeElements(name, values);
}

/** `range(start, step)`: element i (row-major) = start + i * step, rounded to the dtype. */
export function fillRange(name: DtypeName, count: number, start: number, step = 1): Uint8Array {
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) values[i] = start + i * step;
  return encodeElements(name, values);
}

/** A literal list, row-major, rounded to the dtype. */
export function fillLiteral(name: DtypeName, values: ArrayLike<number>): Uint8Array {
  return encodeElements(name, values);
}

/** `zeros`: all-zero bytes (a Program stores this as data = null). */
export function fillZeros(name: DtypeName, count: number): Uint8Array {
  return new Uint8Array(count * dtype(name).bytes);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (standard alphabet, padded) to bytes; null if `s` is not valid base64. */
export function decodeBase64(s: string): Uint8Array | null {
  if (!BASE64.test(s)) return null;
  return new Uint8Array(Buffer.from(s, 'base64'));
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
