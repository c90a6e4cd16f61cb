// safetensors files (https://huggingface.co/docs/safetensors): read, validate, write.
//
// Layout: an 8-byte little-endian unsigned header length N; N bytes of UTF-8 JSON,
//   { "<tensor>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, ...,
//     "__metadata__": { "<key>": "<string>" } (optional) }
// then the data: each tensor's bytes at [8 + N + begin, 8 + N + end), row-major, little-endian.
// Validation (every problem is an SfError naming the file and, where there is one, the tensor):
// the file holds the 8 length bytes and the whole header; the header is UTF-8 JSON, an object;
// every entry has exactly dtype, shape and data_offsets; the dtype is known; the shape is
// integers >= 0; 0 <= begin <= end <= data length; end - begin = elements x dtype size; the
// tensors, sorted by offset, tile the data exactly: no overlap, no gap, nothing after the last.
// (The safetensors library enforces the same packing.) A header over 100 MB is refused.
//
// openSafetensors reads only the header up front and each tensor's bytes on demand, so a
// multi-gigabyte checkpoint shard costs only the tensors asked for.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { SfError, quoteJson } from '../util/errors.js';
import { bf16BitsToF32, f32ToBf16Bits, f32ToFp16Bits, fp16BitsToF32 } from '../util/numerics.js';

export const SAFETENSORS_DTYPES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
} as const;
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPES;

export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  elements: number;
  /** Byte offsets within the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  /** N, the JSON header's length. */
  headerLength: number;
  /** 8 + N: where the data section starts in the file. */
  dataOffset: number;
  dataLength: number;
  /** Tensors in header order. */
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string> | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  const s = quoteJson(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Read the header length from the first 8 bytes (as a Number; > 2^53 reads as huge). */
function headerLengthOf(first8: Uint8Array): number {
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  return view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
}

/**
 * Validate a header given its bytes and the file's size. `headerBytes` are the N bytes after
 * the length.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  const headerLength = headerBytes.length;
  const dataOffset = 8 + headerLength;
  const dataLength = fileSize - dataOffset;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw new SfError('safetensors header is not valid UTF-8', file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
    throw new SfError(`safetensors header is not valid JSON (${msg})`, file);
  }
  if (!isObject(json)) throw new SfError(`safetensors header must be a JSON object, got ${show(json)}`, file);

  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> | null = null;
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isObject(v)) throw new SfError(`__metadata__ must be an object of strings, got ${show(v)}`, file);
      for (const [k, s] of Object.entries(v)) {
        if (typeof s !== 'string') throw new SfError(`__metadata__.${JSON.stringify(k)} must be a string, got ${show(s)}`, file);
      }
      metadata = v as Record<string, string>;
      continue;
    }
    const bad = (msg: string): never => {
      throw new SfError(`tensor ${JSON.stringify(name)}: ${msg}`, file);
    };
    if (!isObject(v)) bad(`must be an object with dtype, shape, data_offsets, got ${show(v)}`);
    const e = v as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') bad(`unknown field ${JSON.stringify(k)} (allowed: dtype, shape, data_offsets)`);
    }
    const dtype = e.dtype;
    if (typeof dtype !== 'string' || !(dtype in SAFETENSORS_DTYPES)) {
      bad(`unknown dtype ${show(dtype)} (known: ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
      bad(`shape must be an array of integers >= 0, got ${show(shape)}`);
    }
    const offs = e.data_offsets;
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !offs.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)
    ) {
      bad(`data_offsets must be [begin, end], integers >= 0, got ${show(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) bad(`data_offsets [${begin}, ${end}]: begin is after end`);
    if (end > dataLength) {
      bad(`data_offsets [${begin}, ${end}] run past the end of the data (${dataLength} bytes after the header; the file is ${fileSize} bytes)`);
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const need = elements * SAFETENSORS_DTYPES[dtype as SafetensorsDtype];
    if (end - begin !== need) {
      bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype}[${(shape as number[]).join(', ')}] needs ${need}`);
    }
    tensors.set(name, { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], elements, begin, end });
  }

  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let prev: SafetensorsEntry | null = null;
  let at = 0;
  for (const t of sorted) {
    if (t.begin < at) {
      throw new SfError(
        `tensor ${JSON.stringify(t.name)} (bytes ${t.begin}..${t.end}) overlaps tensor ${JSON.stringify(prev!.name)} (bytes ${prev!.begin}..${prev!.end})`,
        file,
      );
    }
    if (t.begin > at) {
      throw new SfError(`tensor ${JSON.stringify(t.name)}: ${t.begin - at} unused bytes before its data at ${t.begin} (the data must be packed)`, file);
    }
    at = t.end;
    if (t.end > t.begin || prev === null) prev = t;
  }
  if (at !== dataLength) {
    throw new SfError(`${dataLength - at} bytes after the last tensor's data (the data section is ${dataLength} bytes, tensors cover ${at})`, file);
  }
  return { file, headerLength, dataOffset, dataLength, tensors, metadata };
}

function checkLength(fileSize: number, first8: Uint8Array | null, file: string): number {
  if (fileSize < 8 || first8 === null) {
    throw new SfError(`truncated safetensors file: ${fileSize} bytes, less than the 8-byte header length`, file);
  }
  const n = headerLengthOf(first8);
  if (n > fileSize - 8) {
    throw new SfError(`header length ${n} runs past the end of the file (${fileSize} bytes: at most ${fileSize - 8} after the length)`, file);
  }
  if (n > MAX_HEADER_BYTES) throw new SfError(`header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit`, file);
  if (n < 2) throw new SfError(`header length ${n} is too short for a JSON object`, file);
  return n;
}

/** A safetensors file held in memory. */
export interface SafetensorsBuffer extends SafetensorsHeader {
  bytes: Uint8Array;
  /** A tensor's raw bytes (a view into `bytes`). */
  raw(name: string): Uint8Array;
  /** A tensor's values as float64 (integers exact; 64-bit integers must be within 2^53). */
  read(name: string): Float64Array;
}

/** Parse and validate a whole file in memory. */
export function parseSafetensors(bytes: Uint8Array, file = '<buffer>'): SafetensorsBuffer {
  const n = checkLength(bytes.length, bytes.length >= 8 ? bytes.subarray(0, 8) : null, file);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length, file);
  const raw = (name: string) => {
    const t = entry(header, name);
    return bytes.subarray(header.dataOffset + t.begin, header.dataOffset + t.end);
  };
  return { ...header, bytes, raw, read: (name) => decodeTensor(entry(header, name), raw(name), file) };
}

/** A safetensors file on disk: the header read and validated, tensors read on demand. */
export interface SafetensorsFile extends SafetensorsHeader {
  raw(name: string): Uint8Array;
  read(name: string): Float64Array;
  close(): void;
}

export function openSafetensors(path: string): SafetensorsFile {
  let fd: number;
  try {
    // opening a FIFO blocks until a writer comes; a device has no size: regular files only
    if (!statSync(path).isFile()) throw new SfError('is not a regular file (a device, pipe, socket or directory)', path);
    fd = openSync(path, 'r');
  } catch (e) {
    if (e instanceof SfError) throw e;
    const code = (e as NodeJS.ErrnoException)?.code;
    throw new SfError(code === 'ENOENT' ? 'no such safetensors file' : `cannot open safetensors file (${code ?? String(e)})`, path);
  }
  try {
    const size = fstatSync(fd).size;
    const first8 = new Uint8Array(8);
    const got = size >= 8 ? readSync(fd, first8, 0, 8, 0) : 0;
    const n = checkLength(size, got === 8 ? first8 : null, path);
    const hb = new Uint8Array(n);
    if (readSync(fd, hb, 0, n, 8) !== n) throw new SfError('could not read the whole header', path);
    const header = parseSafetensorsHeader(hb, size, path);
    let open = true;
    const raw = (name: string) => {
      if (!open) throw new SfError('safetensors file is closed', path);
      const t = entry(header, name);
      const buf = new Uint8Array(t.end - t.begin);
      let off = 0;
      while (off < buf.length) {
        const r = readSync(fd, buf, off, buf.length - off, header.dataOffset + t.begin + off);
        if (r <= 0) throw new SfError(`tensor ${JSON.stringify(name)}: the file ended while reading its data`, path);
        off += r;
      }
      return buf;
    };
    return {
      ...header,
      raw,
      read: (name) => decodeTensor(entry(header, name), raw(name), path),
      close: () => {
        if (open) closeSync(fd);
        open = false;
      },
    };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

function entry(header: SafetensorsHeader, name: string): SafetensorsEntry {
  const t = header.tensors.get(name);
  if (!t) throw new SfError(`no tensor ${JSON.stringify(name)} in this file`, header.file);
  return t;
}

function fp8e4m3ToNumber(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const e = (b >>> 3) & 0xf;
  const m = b & 7;
  if (e === 0xf && m === 7) return NaN; // E4M3FN: no infinities, one NaN pattern per sign
  if (e === 0) return sign * m * 2 ** -9;
  return sign * (1 + m / 8) * 2 ** (e - 7);
}

function fp8e5m2ToNumber(b: number): number {
  const sign = b & 0x80 ? -1 : 1;
  const e = (b >>> 2) & 0x1f;
  const m = b & 3;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -16;
  return sign * (1 + m / 4) * 2 ** (e - 15);
}

/** Decode a tensor's little-endian bytes to float64 values. */
export function decodeTensor(t: SafetensorsEntry, bytes: Uint8Array, file: string): Float64Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = t.elements;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case 'F64':
        out[i] = v.getFloat64(8 * i, true);
        break;
      case 'F32':
        out[i] = v.getFloat32(4 * i, true);
        break;
      case 'F16':
        out[i] = fp16BitsToF32(v.getUint16(2 * i, true));
        break;
      case 'BF16':
        out[i] = bf16BitsToF32(v.getUint16(2 * i, true));
        break;
      case 'F8_E4M3':
        out[i] = fp8e4m3ToNumber(v.getUint8(i));
        break;
      case 'F8_E5M2':
        out[i] = fp8e5m2ToNumber(v.getUint8(i));
        break;
      case 'I64':
      case 'U64': {
        const x = t.dtype === 'I64' ? v.getBigInt64(8 * i, true) : v.getBigUint64(8 * i, true);
        if (x > BigInt(Number.MAX_SAFE_INTEGER) || x < -BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new SfError(`tensor ${JSON.stringify(t.name)}: element ${i} (${x}) is beyond 2^53`, file);
        }
        out[i] = Number(x);
        break;
      }
      case 'I32':
        out[i] = v.getInt32(4 * i, true);
        break;
      case 'U32':
        out[i] = v.getUint32(4 * i, true);
        break;
      case 'I16':
        out[i] = v.getInt16(2 * i, true);
        break;
      case 'U16':
        out[i] = v.getUint16(2 * i, true);
        break;
      case 'I8':
        out[i] = v.getInt8(i);
        break;
      case 'U8':
        out[i] = v.getUint8(i);
        break;
      case 'BOOL': {
        const b = v.getUint8(i);
        if (b > 1) throw new SfError(`tensor ${JSON.stringify(t.name)}: BOOL element ${i} is ${b}, not 0 or 1`, file);
        out[i] = b;
        break;
      }
    }
  }
  return out;
}

/** One tensor to write: numbers (encoded in `dtype`) or its raw little-endian bytes. */
export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: ArrayLike<number> | Uint8Array;
}

function encodeValues(t: TensorToWrite, n: number): Uint8Array {
  const size = SAFETENSORS_DTYPES[t.dtype];
  if (t.data instanceof Uint8Array) {
    if (t.data.length !== n * size) {
      throw new SfError(`tensor "${t.name}": ${t.data.length} bytes given, ${t.dtype}[${t.shape.join(', ')}] needs ${n * size}`);
    }
    return t.data;
  }
  if (t.data.length !== n) throw new SfError(`tensor "${t.name}": ${t.data.length} values given, shape [${t.shape.join(', ')}] needs ${n}`);
  const out = new Uint8Array(n * size);
  const v = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = t.data[i]!;
    switch (t.dtype) {
      case 'F64':
        v.setFloat64(8 * i, x, true);
        break;
      case 'F32':
        v.setFloat32(4 * i, x, true);
        break;
      case 'F16':
        v.setUint16(2 * i, f32ToFp16Bits(x), true);
        break;
      case 'BF16':
        v.setUint16(2 * i, f32ToBf16Bits(x), true);
        break;
      case 'I64':
        v.setBigInt64(8 * i, BigInt(Math.trunc(x)), true);
        break;
      case 'U64':
        v.setBigUint64(8 * i, BigInt(Math.trunc(x)), true);
        break;
      case 'I32':
        v.setInt32(4 * i, x, true);
        break;
      case 'U32':
        v.setUint32(4 * i, x, true);
        break;
      case 'I16':
        v.setInt16(2 * i, x, true);
        break;
      case 'U16':
        v.setUint16(2 * i, x, true);
        break;
      case 'I8':
        v.setInt8(i, x);
        break;
      case 'U8':
      case 'BOOL':
        v.setUint8(i, x);
        break;
      default:
        throw new SfError(`tensor "${t.name}": writing ${t.dtype} from numbers is not supported; pass its bytes`);
    }
  }
  return out;
}

/**
 * Build a safetensors file: tensors packed in the given order, the header padded with spaces
 * to a multiple of 8 bytes (as the safetensors library does).
 */
export function encodeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let at = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || t.name in header) throw new SfError(`tensor name "${t.name}" is used twice or reserved`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    const bytes = encodeValues(t, n);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [at, at + bytes.length] };
    blobs.push(bytes);
    at += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + at);
  const v = new DataView(out.buffer);
  v.setUint32(0, json.length, true);
  v.setUint32(4, 0, true);
  out.set(json, 8);
  let off = 8 + json.length;
  for (const b of blobs) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}
