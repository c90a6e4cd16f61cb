// The binary container of an assembled program (a `.sfp` file), described in docs/asm.md.
//
//   offset  size  field
//   0       4     magic "SFPG" (0x53 0x46 0x50 0x47)
//   4       2     u16 version, little-endian; this sramflow writes and reads 1
//   6       2     u16 flags: bit 0 = the header has a `debug` member; other bits must be 0
//   8       4     u32 header length H in bytes, little-endian
//   12      H     header: UTF-8 JSON
//                   { "chip": string | null,
//                     "queues":  [{ "name": string, "count": instructions }],
//                     "tensors": [{ "name", "dtype", "shape": [rows, cols],
//                                   "placement": [{ "slice", "addr" }], "output": bool,
//                                   "dataBytes": 0 (zeros) or rows*cols*dtype bytes }],
//                     "debug"?: { "source": string | null,
//                                 "lines": per queue, [[line, col], ...] (one per instruction, or empty) } }
//   12+H    16*N  every queue's code in header order (N = the sum of counts), 16 bytes per
//                 instruction (src/isa/table.ts)
//   ...     D     every tensor's data in header order (D = the sum of dataBytes)
// The file ends there: trailing bytes are an error.
//
// decodeProgram answers any byte string with a Program or an SfError; lengths are checked
// against the actual size before anything is allocated.
import { DTYPES, dtypeByName } from '../isa/dtypes.js';
import { INSTRUCTION_BYTES, INSTRUCTIONS } from '../isa/table.js';
import { SfError, placeName } from '../util/errors.js';
import type { Program, QueueProgram, Tensor } from './program.js';

export const CONTAINER_MAGIC = 'SFPG';
export const CONTAINER_VERSION = 1;
const FLAG_DEBUG = 1;
const FIXED = 12;
/** Sanity bounds on a tensor's shape (far above any chip's SRAM). */
const MAX_ROWS = 1 << 24;
const MAX_COLS = 1 << 16;

interface HeaderTensor {
  name: string;
  dtype: string;
  shape: [number, number];
  placement: { slice: string; addr: number }[];
  output: boolean;
  dataBytes: number;
}

interface Header {
  chip: string | null;
  queues: { name: string; count: number }[];
  tensors: HeaderTensor[];
  debug?: { source: string | null; lines: [number, number][][] };
}

export function encodeProgram(p: Program, opts?: { debug?: boolean }): Uint8Array {
  const debug = opts?.debug ?? true;
  const header: Header = {
    chip: p.chip,
    queues: p.queues.map((q) => {
      if (q.code.length % INSTRUCTION_BYTES !== 0) throw new SfError(`queue ${q.name}: code is not a whole number of instructions`);
      return { name: q.name, count: q.code.length / INSTRUCTION_BYTES };
    }),
    tensors: p.tensors.map((t) => {
      const d = dtypeByName(t.dtype);
      if (!d) throw new SfError(`tensor ${t.name}: unknown dtype ${t.dtype}`);
      const need = t.shape[0] * t.shape[1] * d.bytes;
      if (t.data && t.data.length !== need) throw new SfError(`tensor ${t.name}: data is ${t.data.length} bytes, its shape needs ${need}`);
      return {
        name: t.name,
        dtype: t.dtype,
        shape: [t.shape[0], t.shape[1]],
        placement: t.placement.map((pl) => ({ slice: pl.slice, addr: pl.addr })),
        output: t.output,
        dataBytes: t.data ? t.data.length : 0,
      };
    }),
  };
  const hasDebug = debug && (p.source !== null || p.queues.some((q) => q.lines.length > 0));
  if (hasDebug) {
    header.debug = {
      source: p.source,
      lines: p.queues.map((q) =>
        q.lines.length === q.code.length / INSTRUCTION_BYTES ? q.lines.map((l) => [l.line, l.col] as [number, number]) : [],
      ),
    };
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const codeBytes = p.queues.reduce((s, q) => s + q.code.length, 0);
  const dataBytes = p.tensors.reduce((s, t) => s + (t.data ? t.data.length : 0), 0);
  const out = new Uint8Array(FIXED + json.length + codeBytes + dataBytes);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = CONTAINER_MAGIC.charCodeAt(i);
  view.setUint16(4, CONTAINER_VERSION, true);
  view.setUint16(6, hasDebug ? FLAG_DEBUG : 0, true);
  view.setUint32(8, json.length, true);
  out.set(json, FIXED);
  let o = FIXED + json.length;
  for (const q of p.queues) {
    out.set(q.code, o);
    o += q.code.length;
  }
  for (const t of p.tensors) {
    if (t.data) {
      out.set(t.data, o);
      o += t.data.length;
    }
  }
  return out;
}

const KNOWN_OPCODES = new Set(INSTRUCTIONS.map((i) => i.opcode));
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Queue and slice names: MEM.W0, VXM.3, MXM.E1, C2C.0, ... (checked against the chip on loading). */
const QUEUE_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

export function decodeProgram(bytes: Uint8Array, file: string): Program {
  const fail = (msg: string): never => {
    throw new SfError(msg, file);
  };
  const n = bytes.length;
  const magicLen = Math.min(4, n);
  for (let i = 0; i < magicLen; i++) {
    if (bytes[i] !== CONTAINER_MAGIC.charCodeAt(i)) fail('not a sramflow program (bad magic)');
  }
  if (n < FIXED) fail(`truncated: ${n} bytes, the fixed header alone is ${FIXED}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version !== CONTAINER_VERSION) fail(`unsupported container version ${version} (this sramflow reads ${CONTAINER_VERSION})`);
  const flags = view.getUint16(6, true);
  if (flags & ~FLAG_DEBUG) fail(`unsupported container flags 0x${flags.toString(16)}`);
  const hlen = view.getUint32(8, true);
  if (hlen > n - FIXED) fail(`truncated: the header claims ${hlen} bytes, only ${n - FIXED} follow`);

  let raw: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(FIXED, FIXED + hlen));
    raw = JSON.parse(text);
  } catch {
    fail('bad header: not UTF-8 JSON');
  }
  const bad = (path: string, what: string): never => fail(`bad header: ${path} ${what}`);
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  const isInt = (x: unknown, lo: number, hi: number): x is number => typeof x === 'number' && Number.isInteger(x) && x >= lo && x <= hi;
  if (!isObj(raw)) return bad('header', 'must be an object');
  const h = raw;

  const chip = h.chip;
  if (chip !== null && typeof chip !== 'string') bad('chip', 'must be a string or null');

  if (!Array.isArray(h.queues)) bad('queues', 'must be an array');
  const queuesRaw = h.queues as unknown[];
  const qnames = new Set<string>();
  let totalCode = 0;
  const counts: number[] = [];
  queuesRaw.forEach((q, i) => {
    const path = `queues[${i}]`;
    if (!isObj(q)) bad(path, 'must be an object');
    const qq = q as Record<string, unknown>;
    if (typeof qq.name !== 'string' || !QUEUE_NAME.test(qq.name)) bad(`${path}.name`, 'must be a queue name (letters, digits, "_" and ".")');
    if (qnames.has(qq.name as string)) bad(`${path}.name`, `repeats queue "${qq.name as string}"`);
    qnames.add(qq.name as string);
    if (!isInt(qq.count, 0, Number.MAX_SAFE_INTEGER)) bad(`${path}.count`, 'must be a non-negative integer');
    counts.push(qq.count as number);
    totalCode += (qq.count as number) * INSTRUCTION_BYTES;
  });

  if (!Array.isArray(h.tensors)) bad('tensors', 'must be an array');
  const tensorsRaw = h.tensors as unknown[];
  const tnames = new Set<string>();
  let totalData = 0;
  const tensors: Tensor[] = [];
  const dataLens: number[] = [];
  tensorsRaw.forEach((t, i) => {
    const path = `tensors[${i}]`;
    if (!isObj(t)) bad(path, 'must be an object');
    const tt = t as Record<string, unknown>;
    if (typeof tt.name !== 'string' || !NAME.test(tt.name)) bad(`${path}.name`, 'must be an identifier');
    const name = tt.name as string;
    if (tnames.has(name)) bad(`${path}.name`, `repeats tensor "${name}"`);
    tnames.add(name);
    const d = typeof tt.dtype === 'string' ? DTYPES.find((x) => x.name === tt.dtype) : undefined;
    if (!d) return bad(`${path}.dtype`, `must be one of ${DTYPES.map((x) => x.name).join(', ')}`);
    const sh = tt.shape;
    if (!Array.isArray(sh) || sh.length !== 2 || !isInt(sh[0], 1, MAX_ROWS) || !isInt(sh[1], 1, MAX_COLS)) {
      bad(`${path}.shape`, `must be [rows, cols] with 1 <= rows <= ${MAX_ROWS}, 1 <= cols <= ${MAX_COLS}`);
    }
    const shape: [number, number] = [(sh as number[])[0]!, (sh as number[])[1]!];
    const pl = tt.placement;
    if (!Array.isArray(pl) || pl.length === 0 || pl.length > d.bytes || d.bytes % pl.length !== 0) {
      bad(`${path}.placement`, `must list 1..${d.bytes} slices dividing the ${d.bytes} byte planes of ${d.name}`);
    }
    const placement = (pl as unknown[]).map((p, k) => {
      const pp = `${path}.placement[${k}]`;
      if (!isObj(p)) return bad(pp, 'must be an object');
      if (typeof p.slice !== 'string' || !QUEUE_NAME.test(p.slice)) bad(`${pp}.slice`, 'must be a slice name (letters, digits, "_" and ".")');
      if (!isInt(p.addr, 0, 2 ** 31 - 1)) bad(`${pp}.addr`, 'must be an integer 0..2^31-1');
      return { slice: p.slice as string, addr: p.addr as number };
    });
    if (new Set(placement.map((p) => p.slice)).size !== placement.length) bad(`${path}.placement`, 'lists a slice twice');
    if (typeof tt.output !== 'boolean') bad(`${path}.output`, 'must be true or false');
    const need = shape[0] * shape[1] * d.bytes;
    if (!isInt(tt.dataBytes, 0, Number.MAX_SAFE_INTEGER) || (tt.dataBytes !== 0 && tt.dataBytes !== need)) {
      bad(`${path}.dataBytes`, `must be 0 (zeros) or ${need} (rows*cols*${d.bytes})`);
    }
    dataLens.push(tt.dataBytes as number);
    totalData += tt.dataBytes as number;
    tensors.push({ name, dtype: d.name, shape, placement, output: tt.output as boolean, data: null });
  });

  const body = n - FIXED - hlen;
  if (totalCode + totalData > body) fail(`truncated: the header announces ${totalCode + totalData} bytes of code and data, only ${body} follow`);
  if (totalCode + totalData < body) fail(`${body - totalCode - totalData} trailing bytes after the data`);

  let source: string | null = null;
  let lines: [number, number][][] | null = null;
  const hasDebug = h.debug !== undefined;
  if (hasDebug !== ((flags & FLAG_DEBUG) !== 0)) bad('debug', 'disagrees with the container flags');
  if (hasDebug) {
    const dbg = h.debug;
    if (!isObj(dbg)) return bad('debug', 'must be an object');
    if (dbg.source !== null && typeof dbg.source !== 'string') bad('debug.source', 'must be a string or null');
    source = dbg.source as string | null;
    if (!Array.isArray(dbg.lines) || dbg.lines.length !== counts.length) bad('debug.lines', 'must have one list per queue');
    lines = (dbg.lines as unknown[]).map((ql, qi) => {
      const p = `debug.lines[${qi}]`;
      if (!Array.isArray(ql) || (ql.length !== 0 && ql.length !== counts[qi])) bad(p, `must be empty or list ${counts[qi]} positions`);
      return (ql as unknown[]).map((lc, k) => {
        if (!Array.isArray(lc) || lc.length !== 2 || !isInt(lc[0], 0, 2 ** 31) || !isInt(lc[1], 0, 2 ** 31)) {
          bad(`${p}[${k}]`, 'must be [line, col]');
        }
        return [(lc as number[])[0]!, (lc as number[])[1]!] as [number, number];
      });
    });
  }
  for (const k of Object.keys(h)) {
    if (!['chip', 'queues', 'tensors', 'debug'].includes(k)) bad(placeName(k), 'is not a header field');
  }


  let o = FIXED + hlen;
  const queues: QueueProgram[] = queuesRaw.map((q, qi) => {
    const count = counts[qi]!;
    const code = bytes.slice(o, o + count * INSTRUCTION_BYTES);
    for (let k = 0; k < count; k++) {
      const op = code[k * INSTRUCTION_BYTES]!;
      if (!KNOWN_OPCODES.has(op)) fail(`queue ${(q as { name: string }).name}, instruction ${k}: unknown opcode ${op}`);
    }
    o += count * INSTRUCTION_BYTES;
    const ls = lines ? lines[qi]! : [];
    return { name: (q as { name: string }).name, code, lines: ls.map(([line, col]) => ({ line, col })) };
  });
  tensors.forEach((t, i) => {
    const len = dataLens[i]!;
    if (len > 0) {
      t.data = bytes.slice(o, o + len);
      o += len;
    }
  });
  return { chip: chip as string | null, queues, tensors, source };
}
