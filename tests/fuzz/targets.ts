// Hostile-input fuzz targets: one definition per target, shared by the small runs in
// tests/fuzz/*.test.ts (every `npm test`) and the long run (`npm run fuzz -- --runs N`, fuzz/run.js).
// docs/reliability.md lists the targets, what each generates and what a failure is.
//
// A target is a fast-check arbitrary and a check. The check throws a FuzzFailure (or lets any
// unexpected exception escape) when the input breaks the rule every input must keep:
//   - a parser or loader answers with a result or an SfError whose message is one line and
//     starts with its place (the file, file:line:col, or the file then a field path);
//   - the core ends every run within its cycle limit with a halt, an error (a hazard) or the
//     limit, never traps, never writes outside the machine state, never touches SRAM outside
//     the slice, and gives the same result twice;
//   - the command line exits 0, 2, 3 or 4, with one `sramflow: ` line on stderr and no stack.
// Each check returns 'accepted' (the input was valid and went all the way) or 'rejected' (an
// SfError, as it should be), which the long run counts.
//
// This file imports the product from ../../src/; fuzz/run.js transpiles it to dist/fuzz/ with
// those imports pointing at ../ (the compiled dist/), so both runs test the same definitions.
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SfError, placeName } from '../../src/util/errors.js';
import { assemble } from '../../src/asm/assemble.js';
import { decodeProgram, encodeProgram } from '../../src/asm/container.js';
import { disassemble } from '../../src/asm/disasm.js';
import type { Program } from '../../src/asm/program.js';
import { parseChipPresetText, loadChipPreset } from '../../src/chip/preset.js';
import type { ChipConfig } from '../../src/chip/config.js';
import { floorplan } from '../../src/chip/floorplan.js';
import { Core, instructionCount } from '../../src/chip/core.js';
import { loadCoreWasm } from '../../src/chip/wasm-node.js';
import { coreErrorToSfError } from '../../src/chip/errors.js';
import { REGION, STATE, CONFIG_OFFSET, CONTROL_OFFSET, CONTROL_BYTES } from '../../src/chip/memory-map.js';
import { INSTRUCTIONS, INSTRUCTION_BYTES, STOP, ERRORS, type Instruction, type Operand } from '../../src/isa/table.js';
import { DTYPES } from '../../src/isa/dtypes.js';
import { buildRunReport, formatRunReport } from '../../src/report/run-report.js';
import { parseSystemPreset, loadSystemPreset } from '../../src/system/topology.js';
import { assembleSystem, systemDirective } from '../../src/system/source.js';
import { runSystem } from '../../src/system/system.js';
import { parseJsonText } from '../../src/util/data-file.js';
import { parseGpuPresetText, loadGpuPreset, type GpuPreset } from '../../src/gpu/preset.js';
import { decodeStep, prefill } from '../../src/gpu/model.js';
import { parseModelConfigText, loadModelConfig, type ModelConfig } from '../../src/models/config.js';
import { buildLayerGraph } from '../../src/models/graph.js';
import { rawWeightShapes, loadLayerWeights } from '../../src/models/weights.js';
import { hfWeightName } from '../../src/models/graph.js';
import {
  encodeSafetensors, parseSafetensors, openSafetensors, SAFETENSORS_DTYPES, type SafetensorsDtype, type TensorToWrite,
} from '../../src/models/safetensors.js';
import { main as cliMain } from '../../src/cli/main.js';
import { loadProgram } from '../../src/cli/program-file.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// ---------------------------------------------------------------------------------------------
// outcomes and failures

export type Outcome = 'accepted' | 'rejected';

export class FuzzFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuzzFailure';
  }
}

function fail(msg: string): never {
  throw new FuzzFailure(msg);
}

/** The message's first 300 characters, for failure reports. */
function clip(s: string, n = 300): string {
  return s.length > n ? `${s.slice(0, n)}...` : s;
}

/** Checks an SfError: one line, and it starts with a place `where` accepts. */
export function checkSfError(e: SfError, placeOk: (where: string) => boolean): void {
  if (/[\r\n]/.test(e.message)) fail(`SfError message is not one line: ${JSON.stringify(clip(e.message))}`);
  if (placeOk === ANY_OR_NO_PLACE) return;
  if (!e.where) fail(`SfError without a place: ${JSON.stringify(clip(e.message))}`);
  if (!e.message.startsWith(`${e.where}: `)) fail(`SfError message does not start with its place: ${JSON.stringify(clip(e.message))}`);
  if (!placeOk(e.where)) fail(`SfError at an unexpected place "${clip(e.where)}": ${JSON.stringify(clip(e.message))}`);
}

/** For errors about options the fuzzer itself passes (not file contents): one line is enough. */
export const ANY_OR_NO_PLACE = (_where: string): boolean => true;

/** `file`, or `file:line:col` with a line within 1..maxLine (when given). */
export function placeIs(file: string, maxLine = Infinity): (where: string) => boolean {
  return (w) => {
    if (w === file) return true;
    if (!w.startsWith(`${file}:`)) return false;
    const m = /^(\d+):(\d+)$/.exec(w.slice(file.length + 1));
    return !!m && Number(m[1]) >= 1 && Number(m[1]) <= maxLine && Number(m[2]) >= 1;
  };
}

/** Runs `fn`; an SfError is a rejection (checked), any other exception a failure. */
export function guard<T>(what: string, fn: () => T, placeOk: (where: string) => boolean): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof FuzzFailure) throw e;
    if (e instanceof SfError) {
      checkSfError(e, placeOk);
      return { ok: false };
    }
    const err = e as Error;
    fail(`${what} threw ${err?.name ?? typeof e} (not an SfError): ${clip(String(err?.message ?? e))}${err?.stack ? `\n${err.stack.split('\n').slice(1, 6).join('\n')}` : ''}`);
  }
}

/** Fails if `fn` took longer than `ms` (a hang or a blow-up on a tiny input). */
function timed<T>(what: string, ms: number, fn: () => T): T {
  const t0 = performance.now();
  const v = fn();
  const dt = performance.now() - t0;
  if (dt > ms) fail(`${what} took ${Math.round(dt)} ms (limit ${ms} ms)`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// shipped inputs

function shipped(dir: string, ext: string): { name: string; text: string }[] {
  const full = join(ROOT, dir);
  return readdirSync(full)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => ({ name: `${dir}/${f}`, text: readFileSync(join(full, f), 'utf8') }));
}

let cache: Record<string, unknown> = {};
function once<T>(key: string, make: () => T): T {
  if (!(key in cache)) cache[key] = make();
  return cache[key] as T;
}

export const kernels = () => once('kernels', () => shipped('programs/kernels', '.sfa'));
const chipTexts = () => once('chips', () => shipped('presets/chips', '.json'));
const systemTexts = () => once('systems', () => shipped('presets/systems', '.json'));
const gpuTexts = () => once('gpus', () => shipped('presets/gpus', '.json'));
const modelTexts = () => once('models', () => shipped('programs/models', '.json'));
const tiny = () => once('tiny', () => loadChipPreset('tiny'));
const tspV1 = () => once('tsp-v1', () => loadChipPreset('tsp-v1'));
const wasm = () => once('wasm', () => loadCoreWasm());

function chipByName(name: string | null): ChipConfig {
  return name === 'tiny' ? tiny() : tspV1();
}

// ---------------------------------------------------------------------------------------------
// generic mutation of text and bytes

/** Edge numbers that break ranges: signs, 0/1, i32 and u32 limits, 2^53, huge, fractions. */
export const EDGE_NUMBERS = [
  '0', '1', '-1', '2', '3', '7', '8', '15', '16', '31', '32', '33', '255', '256', '257', '65535', '65536',
  '2147483647', '2147483648', '-2147483648', '-2147483649', '4294967295', '4294967296', '9007199254740993',
  '99999999999999999999', '1e308', '1e999', '-0', '0.5', '1.5', '-3.25', '.5', '0x7fffffff', '0xffffffff', '0x1F', '-0x10', 'nan', 'inf', '-inf',
];

const JUNK_TOKENS = [
  ',', ':', '@', '[', ']', '(', ')', '=', '+', '-', '"', '"\\u0000"', '""', ';', '#', '.', '..', '.tensor', '.queue', '.output', '.chip', '.raw',
  '.system', '.program', '.chip /dev/zero', '.system pod-576', 'file("/dev/zero")', 'E0', 'W7', 'E99', 'MEM.W0', 'VXM.0', 'HALT', 'REPEAT 1, 1', 'NOP 1', '@0', 'int8[1,1]', 'zeros', 'random(1)',
  '${chip}', '${chips}', '\t', '\r', '\u00e9', '\uffff', '\u0000', 'x'.repeat(300), '\\', '"a\\', '"\\n"', '"a\u0001b"', 'file("x\\ny")',
];

export interface TextMutation {
  kind: number;
  at: number;
  pick: number;
  len: number;
}

export const textMutationArb: fc.Arbitrary<TextMutation> = fc.record({
  kind: fc.nat({ max: 11 }),
  at: fc.nat(),
  pick: fc.nat(),
  len: fc.nat({ max: 40 }),
});

/** Applies one line- or character-level mutation (deterministic in `m`). */
export function mutateText(text: string, m: TextMutation): string {
  const lines = text.split('\n');
  const li = lines.length ? m.at % lines.length : 0;
  const lj = lines.length ? m.pick % lines.length : 0;
  switch (m.kind) {
    case 0: // delete a line
      lines.splice(li, 1);
      return lines.join('\n');
    case 1: // duplicate a line
      lines.splice(li, 0, lines[li] ?? '');
      return lines.join('\n');
    case 2: { // swap two lines
      const t = lines[li]!;
      lines[li] = lines[lj]!;
      lines[lj] = t;
      return lines.join('\n');
    }
    case 3: { // replace a number with an edge number
      const nums = [...text.matchAll(/-?(?:0x[0-9A-Fa-f]+|\d+(?:\.\d+)?(?:e[+-]?\d+)?)/g)];
      if (!nums.length) return text;
      const n = nums[m.at % nums.length]!;
      return text.slice(0, n.index) + EDGE_NUMBERS[m.pick % EDGE_NUMBERS.length] + text.slice(n.index! + n[0].length);
    }
    case 4: { // replace an identifier with another identifier of the text
      const ids = [...text.matchAll(/[A-Za-z_][A-Za-z0-9_.-]*/g)];
      if (!ids.length) return text;
      const a = ids[m.at % ids.length]!;
      const b = ids[m.pick % ids.length]!;
      return text.slice(0, a.index) + b[0] + text.slice(a.index! + a[0].length);
    }
    case 5: { // flip a character
      if (!text.length) return text;
      const i = m.at % text.length;
      const c = String.fromCharCode((text.charCodeAt(i) ^ (1 << (m.pick % 7))) & 0x7f);
      return text.slice(0, i) + c + text.slice(i + 1);
    }
    case 6: { // insert a junk token
      const i = text.length ? m.at % (text.length + 1) : 0;
      return text.slice(0, i) + JUNK_TOKENS[m.pick % JUNK_TOKENS.length] + text.slice(i);
    }
    case 7: { // delete a span
      const i = text.length ? m.at % text.length : 0;
      return text.slice(0, i) + text.slice(i + 1 + m.len);
    }
    case 8: // truncate
      return text.slice(0, text.length ? m.at % text.length : 0);
    case 9: { // copy a span elsewhere
      if (!text.length) return text;
      const i = m.at % text.length;
      const j = m.pick % text.length;
      return text.slice(0, j) + text.slice(i, i + m.len + 1) + text.slice(j);
    }
    case 10: // join two lines
      if (li + 1 < lines.length) lines.splice(li, 2, `${lines[li]} ${lines[li + 1]}`);
      return lines.join('\n');
    default: { // replace a line with a random line of the text
      lines[li] = lines[lj] ?? '';
      return lines.join('\n');
    }
  }
}

export interface ByteMutation {
  kind: number;
  at: number;
  value: number;
  len: number;
}

export const byteMutationArb: fc.Arbitrary<ByteMutation> = fc.record({
  kind: fc.nat({ max: 7 }),
  at: fc.nat(),
  value: fc.nat({ max: 0xffffffff }),
  len: fc.nat({ max: 64 }),
});

const INTERESTING_U32 = [0, 1, 2, 7, 8, 12, 15, 16, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];

/** Applies one byte-level mutation: set, flip, interesting u32, insert, delete, truncate, append. */
export function mutateBytes(b: Uint8Array, m: ByteMutation, hot: number[] = []): Uint8Array {
  const n = b.length;
  // half of the positioned mutations go to the "hot" offsets (length fields, ...)
  const pos = (x: number) => (hot.length && x % 2 === 0 ? hot[(x >> 1) % hot.length]! : n ? x % n : 0);
  const out = new Uint8Array(b);
  switch (m.kind) {
    case 0:
      if (n) out[pos(m.at) % n] = m.value & 0xff;
      return out;
    case 1:
      if (n) out[pos(m.at) % n] ^= 1 << (m.value % 8);
      return out;
    case 2: {
      if (n < 4) return out;
      const i = Math.min(pos(m.at), n - 4);
      new DataView(out.buffer).setUint32(i, INTERESTING_U32[m.value % INTERESTING_U32.length]!, true);
      return out;
    }
    case 3: {
      const i = n ? m.at % (n + 1) : 0;
      const ins = new Uint8Array(m.len + 1).fill(m.value & 0xff);
      return concat(b.subarray(0, i), ins, b.subarray(i));
    }
    case 4: {
      const i = n ? m.at % n : 0;
      return concat(b.subarray(0, i), b.subarray(Math.min(n, i + m.len + 1)));
    }
    case 5:
      return b.slice(0, n ? m.at % n : 0);
    case 6:
      return concat(b, new Uint8Array(m.len + 1).fill(m.value & 0xff));
    default: {
      // random bytes over a span
      const i = n ? m.at % n : 0;
      let s = m.value >>> 0;
      for (let k = i; k < Math.min(n, i + m.len + 1); k++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        out[k] = s >>> 24;
      }
      return out;
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// JSON mutation (presets, configs, headers)

export interface JsonMutation {
  path: number[];
  op: number;
  pick: number;
  num: number;
}

export const jsonMutationArb: fc.Arbitrary<JsonMutation> = fc.record({
  path: fc.array(fc.nat(), { maxLength: 5 }),
  op: fc.nat({ max: 11 }),
  pick: fc.nat(),
  num: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 32, 2 ** 53, 1e308, 5e-324, 0.5)),
});

const JSON_VALUES: unknown[] = [
  null, true, false, 0, -1, 1, 2, 0.5, -0.5, 1e308, -1e308, 5e-324, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e21, 1024, 65536,
  '', 'x', '\n.tensor injected int8[1,1] @ MEM.W0:0', 'tiny', 'tsp-v1', 'published', 'assumption', 'calibrated', 'int8', 'fp32', 'F32', 'I64', 'BOOL', 'llama', 'qwen2',
  'switch', 'none', 'fully-connected', 'isca22', 'links', 'single', '../../../etc/passwd', '/dev/null', '/dev/zero', 'presets/chips/tiny.json', 'pod-576',
  [], [0], [1, 2], [0, 0], [-1, 5], [[0, 0, 1, 0]], [[0.5, 0.5]], {}, { value: 1 }, { value: null, kind: 'published', source: 's' },
  { value: 'x', kind: 'nope' }, { kind: 'published' }, { value: [1], note: 3 }, ['int8', 'int8'], ['fp8'], { $comment: 'c' },
];

const JSON_KEYS = [
  '$comment', 'value', 'kind', 'source', 'note', 'lanes', 'name', 'delays', 'knobs', 'chip', 'chips', 'topology', 'links',
  '__metadata__', 'dtype', 'shape', 'data_offsets', 'sparse', 'head_dim', 'rope_scaling', 'sliding_window', 'use_sliding_window',
  'max_window_layers', 'partial_rotary_factor', 'x', '', 'two\nlines', '\u0000', 'a"b',
];

/** Applies one structural mutation to a JSON value (returns a new value; `root` is not changed). */
export function mutateJson(root: unknown, m: JsonMutation): unknown {
  const copy = structuredClone(root) as unknown;
  const box: { v: unknown } = { v: copy };
  let parent: Record<string, unknown> | unknown[] = box as unknown as Record<string, unknown>;
  let key: string | number = 'v';
  for (const p of m.path) {
    const cur: unknown = (parent as Record<string, unknown>)[key as string];
    if (Array.isArray(cur) && cur.length) {
      parent = cur;
      key = p % cur.length;
    } else if (cur && typeof cur === 'object' && Object.keys(cur).length) {
      const ks = Object.keys(cur);
      parent = cur as Record<string, unknown>;
      key = ks[p % ks.length]!;
    } else break;
  }
  const get = () => (parent as Record<string, unknown>)[key as string];
  const set = (v: unknown) => ((parent as Record<string, unknown>)[key as string] = v);
  const cur = get();
  switch (m.op) {
    case 0:
    case 1:
      set(JSON_VALUES[m.pick % JSON_VALUES.length]);
      break;
    case 2: // delete
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else if (parent !== (box as unknown)) delete (parent as Record<string, unknown>)[key as string];
      else box.v = null;
      break;
    case 3: { // add a key next to it
      if (!Array.isArray(parent) && parent !== (box as unknown)) {
        (parent as Record<string, unknown>)[JSON_KEYS[m.pick % JSON_KEYS.length]!] = JSON_VALUES[(m.pick >> 5) % JSON_VALUES.length];
      } else if (Array.isArray(parent)) parent.push(JSON_VALUES[m.pick % JSON_VALUES.length]);
      break;
    }
    case 4: // a number: tweak it
      if (typeof cur === 'number') {
        const tweaks = [cur + 1, cur - 1, -cur, cur * 2, cur * 1e6, cur / 3, 0, Math.floor(cur / 2), cur + 0.5, m.num];
        set(tweaks[m.pick % tweaks.length]);
      } else set(m.num);
      break;
    case 5: // any number
      set(m.num);
      break;
    case 6: // wrap in a figure object, or unwrap one
      if (cur && typeof cur === 'object' && !Array.isArray(cur) && 'value' in cur) set((cur as { value: unknown }).value);
      else set({ value: cur, kind: ['published', 'derived', 'assumption', 'calibrated', 'x'][m.pick % 5], source: m.pick % 7 ? 's' : '' });
      break;
    case 7: // change the type: stringify, array-wrap, object-wrap
      set([String(cur), [cur], { x: cur }, JSON.stringify(cur) ?? null][m.pick % 4]);
      break;
    case 8: // an array: duplicate, empty, grow
      if (Array.isArray(cur)) {
        const v = [[...cur, ...cur], [], [...cur, cur[0]], cur.slice(1), [...cur].reverse()][m.pick % 5];
        set(v);
      } else set([cur, cur]);
      break;
    case 9: // a string: odd text
      set(['', ' ', 'x'.repeat(1000), '\n', '\u0000', 'int8', 'E0', '${chip}', 'tiny', 'nan'][m.pick % 10]);
      break;
    case 10: { // replace with a sibling's value
      const sib = Array.isArray(parent) ? parent[m.pick % Math.max(1, parent.length)] : Object.values(parent)[m.pick % Math.max(1, Object.keys(parent).length)];
      set(structuredClone(sib));
      break;
    }
    default: // deep nesting: arrays or objects, from a few levels to more than a recursive walk survives
      set(`${DEEP}${m.pick % 2 ? '[' : '{'}${[3, 64, 1000, 20000, 200000][m.pick % 5]}`);
  }
  return box.v;
}

/** A string that jsonText replaces with nested arrays or objects of the depth it names (the
 * harness itself keeps values shallow: structuredClone and JSON.stringify recurse). */
const DEEP = '\u0000deep:';

/** JSON text of a mutated value, deep-nesting markers expanded. */
export function jsonText(v: unknown, indent: string | number = 0): string {
  const text = JSON.stringify(v, null, indent) ?? 'null';
  return text.replace(/"\\u0000deep:([[{])(\d+)"/g, (_, kind: string, n: string) => {
    const depth = Number(n);
    return kind === '[' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '0' + '}'.repeat(depth);
  });
}

export interface JsonInput {
  base: number;
  mutations: JsonMutation[];
  indent: number;
  text: TextMutation | null;
}

/** Mutated JSON text from one of the shipped files: structural mutations, then maybe one text mutation. */
export function jsonInputArb(maxMutations = 4): fc.Arbitrary<JsonInput> {
  return fc.record({
    base: fc.nat(),
    mutations: fc.array(jsonMutationArb, { maxLength: maxMutations }),
    indent: fc.nat({ max: 3 }),
    text: fc.option(textMutationArb, { freq: 4 }),
  });
}

export function renderJsonInput(files: { text: string }[], inp: JsonInput): { json: unknown; text: string } {
  let json = JSON.parse(files[inp.base % files.length]!.text) as unknown;
  for (const m of inp.mutations) json = mutateJson(json, m);
  let text = jsonText(json, inp.indent === 3 ? '\t' : inp.indent);
  if (inp.text) text = mutateText(text, inp.text);
  return { json, text };
}

// ---------------------------------------------------------------------------------------------
// structured programs over the ISA table, for any chip

/** One operand as a choice: in range, at the edge, just outside, or junk. */
export interface OperandPlan {
  mode: number; // 0-5 in range, 6-7 edge, 8 outside, 9 junk
  v: number;
  w: number;
}

export interface InstrPlan {
  at: number | null; // gap from the queue's current cycle (may be negative)
  op: number;
  anyUnit: boolean;
  dt: number; // 0-7 a valid suffix, 8 none, 9 a bad one
  operands: OperandPlan[];
  arity: number; // 0-7 exact, 8 one fewer, 9 one more
  raw: number[] | null; // a .raw record instead
}

export interface QueuePlan {
  q: number;
  bogus: boolean;
  instrs: InstrPlan[];
  halt: boolean;
}

export interface TensorPlan {
  name: number;
  dtype: number;
  rows: number;
  cols: number;
  shapeMode: number; // 0-7 sane, 8 edge, 9 odd
  slices: number[];
  addrs: number[];
  addrMode: number;
  init: number;
  seed: number;
}

export interface ProgramPlan {
  /** Clean plans make every choice in range (they mostly assemble); the others add noise. */
  clean: boolean;
  chipDirective: number;
  tensors: TensorPlan[];
  outputs: number[];
  queues: QueuePlan[];
  junk: { line: number; token: number }[];
}

const operandArb: fc.Arbitrary<OperandPlan> = fc.record({ mode: fc.nat({ max: 9 }), v: fc.nat(), w: fc.integer() });

const rawRecordArb = fc.array(fc.nat({ max: 255 }), { minLength: 16, maxLength: 16 });

const instrArb: fc.Arbitrary<InstrPlan> = fc.record({
  at: fc.option(fc.integer({ min: -2, max: 12 }), { freq: 3 }),
  op: fc.nat(),
  anyUnit: fc.nat({ max: 9 }).map((x) => x === 0),
  dt: fc.nat({ max: 9 }),
  operands: fc.array(operandArb, { minLength: 5, maxLength: 5 }),
  arity: fc.nat({ max: 9 }),
  raw: fc.option(rawRecordArb, { freq: 12 }),
});

export const programPlanArb: fc.Arbitrary<ProgramPlan> = fc.record({
  clean: fc.boolean(),
  chipDirective: fc.nat({ max: 5 }),
  tensors: fc.array(
    fc.record({
      name: fc.nat({ max: 6 }),
      dtype: fc.nat({ max: 6 }),
      rows: fc.nat({ max: 5 }),
      cols: fc.nat(),
      shapeMode: fc.nat({ max: 9 }),
      slices: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
      addrs: fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
      addrMode: fc.nat({ max: 9 }),
      init: fc.nat({ max: 11 }),
      seed: fc.nat(),
    }),
    { maxLength: 4 },
  ),
  outputs: fc.array(fc.nat({ max: 7 }), { maxLength: 3 }),
  queues: fc.array(
    fc.record({ q: fc.nat(), bogus: fc.nat({ max: 15 }).map((x) => x === 0), instrs: fc.array(instrArb, { maxLength: 8 }), halt: fc.nat({ max: 7 }).map((x) => x > 0) }),
    { maxLength: 6 },
  ),
  junk: fc.array(fc.record({ line: fc.nat(), token: fc.nat() }), { maxLength: 2 }),
});

const TENSOR_NAMES = ['x', 'y', 'w', 'b', 'acc', 't_0', 'x'];

function hex(bytes: number[]): string {
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

/** A clean plan: every choice in range, no junk (it then mostly assembles). */
function cleaned(plan: ProgramPlan): ProgramPlan {
  if (!plan.clean) return plan;
  return {
    ...plan,
    tensors: plan.tensors.map((t) => ({ ...t, dtype: t.dtype % 6, shapeMode: 0, addrMode: t.addrMode % 7, init: t.init % 8 })),
    outputs: plan.outputs.filter((o) => o < plan.tensors.length),
    queues: plan.queues.map((q) => ({
      ...q,
      bogus: false,
      instrs: q.instrs.map((i) => ({ ...i, at: i.at === null ? null : Math.abs(i.at), anyUnit: false, dt: i.dt % 8, arity: i.arity % 8, raw: null, operands: i.operands.map((o) => ({ ...o, mode: o.mode % 6 })) })),
    })),
    junk: [],
  };
}

/** Renders a plan as assembly text for `chip` (valid where every choice is "in range"). */
export function renderProgram(plan0: ProgramPlan, chip: ChipConfig): string {
  const plan = cleaned(plan0);
  const fp = floorplan(chip);
  const S = chip.streamsPerDirection;
  const L = chip.lanes;
  const V = chip.memVectorsPerSlice;
  const lines: string[] = [];
  if (plan.chipDirective === 1) lines.push(`.chip ${chip.name}`);
  if (plan.chipDirective === 2) lines.push(`.chip "${chip.name}"`);
  const tnames: { name: string; rows: number; slices: string[] }[] = [];
  const used = new Map<string, number>(); // clean plans: the next free address of each slice
  for (const t of plan.tensors) {
    let name = TENSOR_NAMES[t.name % TENSOR_NAMES.length]!;
    if (plan.clean) name = `${name}${tnames.length}`;
    const d = DTYPES[t.dtype % DTYPES.length]!;
    const dtName = t.dtype === 6 ? 'fp8' : d.name;
    let rows = 1 + t.rows;
    let cols = 1 + (t.cols % L);
    let shape = `[${rows},${cols}]`;
    if (t.shapeMode === 8) {
      const edges = [`[0,${cols}]`, `[${rows},0]`, `[${rows},${L + 1}]`, `[99999999,${cols}]`, `[${V + 1},1]`, `[${cols}]`, `[1,1,1]`, `[4294967296,1]`];
      shape = edges[t.cols % edges.length]!;
      if (shape === `[${cols}]`) rows = 1;
    } else if (t.shapeMode === 9) {
      shape = ['[]', '[-1,2]', '[1.5,2]', '[1e9,2]', '[x]'][t.cols % 5]!;
    }
    let nSlices = [1, 2, 4, 1, 2, 3][t.slices.length + (t.cols % 3) - 1] ?? 1;
    if (plan.clean) {
      const ok = divisors(d.bytes);
      nSlices = ok[t.cols % ok.length]!;
    }
    const slices: string[] = [];
    for (let i = 0; i < nSlices; i++) {
      let s = fp.memSlices[t.slices[i % t.slices.length]! % fp.memSlices.length]!.name;
      if (plan.clean) s = fp.memSlices[(t.slices[0]! + i) % fp.memSlices.length]!.name;
      slices.push(t.addrMode === 9 && i === 0 ? 'VXM.0' : s);
    }
    const need = rows * (d.bytes / Math.max(1, slices.length));
    const pl = slices.map((s, i) => {
      let a = t.addrs[i % t.addrs.length]! % V;
      if (plan.clean) {
        a = used.get(s) ?? 0;
        used.set(s, a + need);
      }
      if (t.addrMode === 5) a = Math.max(0, V - need);
      if (t.addrMode === 7) a = V - 1;
      if (t.addrMode === 8) a = [V, 2147483647, -1, 2147483648][t.addrs[i % t.addrs.length]! % 4]!;
      return `${s}:${a}`;
    });
    const count = rows * cols;
    const inits = [
      '', ' = zeros', ` = random(${t.seed})`, ` = random(${t.seed}, -2, 2)`, ` = range(0, 0.5)`, ` = range(${t.seed % 100})`,
      ` = [${Array.from({ length: Math.min(count, 64) }, (_, i) => (d.float ? (i * 0.25).toString() : String(i % 100))).join(', ')}]`,
      ` = base64("${Buffer.from(new Uint8Array(Math.min(count, 1 << 16) * d.bytes).map((_, i) => (i * 37 + t.seed) & 0xff)).toString('base64')}")`,
      ` = file("data.bin")`, ` = random(${t.seed}, inf, 1)`, ` = base64("abc")`, ` = [[1, 2], [3]]`,
    ];
    let init = count <= 4096 || t.init < 6 ? inits[t.init % inits.length]! : '';
    if (plan.clean && t.init % inits.length === 6 && count > 64) init = '';
    lines.push(`.tensor ${name} ${dtName}${shape} @ ${pl.join(', ')}${init}`);
    tnames.push({ name, rows, slices });
  }
  if (plan.outputs.length) {
    lines.push(`.output ${plan.outputs.map((o) => (o < tnames.length ? tnames[o]!.name : o === 7 ? 'nosuch' : TENSOR_NAMES[o % TENSOR_NAMES.length])).join(', ')}`);
  }
  const queueNames = fp.queues.map((q) => q.name);
  const seenQueues = new Set<string>();
  for (const qp of plan.queues) {
    const q = fp.queues[qp.q % fp.queues.length]!;
    if (plan.clean && seenQueues.has(q.name)) continue;
    seenQueues.add(q.name);
    lines.push('');
    lines.push(`.queue ${qp.bogus ? ['MEM.W99', 'VXM', 'MXM.X0', 'C2C.99'][qp.q % 4] : q.name}`);
    const unitIns = INSTRUCTIONS.filter((i) => i.unit === q.unit || i.unit === 'ICU');
    let cyc = 0;
    let sawSync = false;
    let prev: Instruction | null = null;
    const ctx: OperandCtx = { S, L, V, chip, tensors: tnames, queue: q.name, queueNames, clean: plan.clean };
    for (const ip of qp.instrs) {
      if (ip.raw) {
        lines.push(`    .raw "${hex(ip.raw.map((b, i) => (i === 0 ? INSTRUCTIONS[b % INSTRUCTIONS.length]!.opcode : b)))}"`);
        prev = null;
        cyc += 1;
        continue;
      }
      let ins = (ip.anyUnit ? INSTRUCTIONS : unitIns)[ip.op % (ip.anyUnit ? INSTRUCTIONS.length : unitIns.length)]!;
      // a REPEAT mostly right after an instruction it can repeat; SYNC rarely (it parks the queue)
      const prevUnit = prev !== null && prev.unit !== 'ICU';
      if (ins.mnemonic === 'REPEAT' && !prevUnit && (plan.clean || ip.op % 4 !== 0)) ins = unitIns.find((i) => i.unit !== 'ICU') ?? ins;
      if (plan.clean && ins.mnemonic === 'SYNC' && ip.op % 3 !== 0) ins = unitIns[0]!;
      let head = ins.mnemonic;
      let dtBytes = 1;
      if (ins.dtypes.length) {
        if (ip.dt < 8) {
          const dn = ins.dtypes[ip.dt % ins.dtypes.length]!;
          head += `.${dn}`;
          dtBytes = DTYPES.find((x) => x.name === dn)!.bytes;
          ctx.dtName = dn;
        } else if (ip.dt === 9) head += ['.fp8', '.int64', '.', '.INT8'][ip.op % 4];
      } else if (ip.dt === 9) head += '.int8';
      ctx.dtBytes = dtBytes;
      if (!ins.dtypes.length || ip.dt >= 8) ctx.dtName = undefined;
      ctx.prevIssue = prev?.mnemonic === 'MM' && dtBytes === 2 ? 2 : 1;
      const ops = ins.operands.map((o, i) => renderOperand(ins, o, ip.operands[i % ip.operands.length]!, ctx));
      let n = ops.length;
      if (ip.arity === 8 && n > 0) n--;
      let text = ops.slice(0, n).join(', ');
      if (ip.arity === 9) text += `${text ? ', ' : ''}${renderOperand(ins, { name: 'n', kind: 'int', field: 'a', doc: '' }, ip.operands[0]!, ctx)}`;
      let at = '';
      if (plan.clean && prev?.mnemonic === 'SYNC') sawSync = true;
      if (ip.at !== null && ins.mnemonic !== 'REPEAT' && !(plan.clean && sawSync)) {
        cyc = Math.max(0, cyc + ip.at);
        at = `@${cyc} `;
      }
      lines.push(`    ${at}${head}${text ? ` ${text}` : ''}`);
      if (ins.mnemonic === 'NOP') cyc += Number(ops[0]) || 1;
      else if (ins.mnemonic === 'REPEAT') cyc += (Number(ops[0]) || 1) * (Number(ops[1]) || 1);
      else if (ins.mnemonic !== 'HALT') cyc += ins.mnemonic === 'MM' && dtBytes === 2 ? 2 : 1;
      prev = ins;
    }
    if (qp.halt) lines.push('    HALT');
  }
  for (const j of plan.junk) {
    const i = j.line % (lines.length + 1);
    lines.splice(i, 0, JUNK_TOKENS[j.token % JUNK_TOKENS.length]!);
  }
  return lines.join('\n') + '\n';
}

interface OperandCtx {
  S: number;
  L: number;
  V: number;
  chip: ChipConfig;
  tensors: { name: string; rows: number; slices: string[] }[];
  queue: string;
  queueNames: string[];
  clean: boolean;
  /** The suffix dtype's bytes (group widths) and the issue cycles of the previous instruction. */
  dtBytes?: number;
  dtName?: string;
  prevIssue?: number;
}

function renderOperand(ins: Instruction, op: Operand, p: OperandPlan, c: OperandCtx): string {
  const inRange = p.mode <= 5;
  const edge = p.mode === 6 || p.mode === 7;
  const v = p.v;
  const pickFrom = <T>(xs: readonly T[]) => xs[v % xs.length]!;
  if (p.mode === 9) return pickFrom(['X3', 'E', '1.5', '"s"', '-', '+', 'acc', '[1]', 'E0 E1', 'inf', '0x', '()']);
  switch (op.kind) {
    case 'stream':
    case 'streamOpt': {
      if (op.kind === 'streamOpt' && v % 7 === 0) return '-';
      const dir = p.w & 1 ? 'W' : 'E';
      if (inRange && c.clean) {
        // leave room for the widest group this instruction can use
        const g = ins.mnemonic === 'IW' ? c.chip.mxmInstallRows * (c.dtBytes ?? 1) : ins.mnemonic === 'MM' && op.name === 'dst' ? 4 : op.name === 'idx' ? 2 : Math.max(4, c.dtBytes ?? 1);
        return `${dir}${v % Math.max(1, c.S - g + 1)}`;
      }
      if (inRange) return `${dir}${v % c.S}`;
      if (edge) return `${dir}${c.S - 1 - (v % 2)}`;
      return `${dir}${c.S + (v % 3)}`;
    }
    case 'addr': {
      const here = c.tensors.filter((t) => t.slices.includes(c.queue));
      if (inRange && here.length && v % 3 !== 0) {
        const t = here[v % here.length]!;
        return v % 2 ? t.name : `${t.name}[${Math.abs(p.w) % Math.max(1, t.rows)}]`;
      }
      if (inRange && !c.clean && c.tensors.length && v % 5 === 1) return c.tensors[v % c.tensors.length]!.name; // maybe another slice's
      if (inRange) return String(v % c.V);
      if (edge) return pickFrom([String(c.V - 1), String(c.V), '-1', '2147483647', '-2147483648', '2147483646']);
      return pickFrom(['2147483648', '-2147483649', '1e3', 'nosuch', 'x[99]', 'x[-1]']);
    }
    case 'int': {
      const key = `${ins.mnemonic}.${op.name}`;
      if (inRange) {
        switch (key) {
          case 'NOP.n': return String(1 + (v % 6));
          case 'REPEAT.n': return String(1 + (v % 3));
          case 'REPEAT.d': return String((c.clean ? c.prevIssue ?? 1 : 1) + (v % 3));
          case 'IW.rows': return String(1 + (v % c.chip.mxmInstallRows));
          case 'IW.row': return String(c.clean ? 0 : v % c.L);
          case 'DIST.lane': return String(c.clean ? 0 : v % c.L);
          case 'DIST.seg':
          case 'RSUM.seg':
          case 'RMAX.seg':
          case 'TRANS.rows': return String(pickFrom(divisors(c.L)));
          case 'SHIFT.n':
          case 'ROT.n': return String((p.w % (2 * c.L + 3)) - c.L);
          default:
            if (op.name === 'width') return String(1 + (v % 4));
            return String(p.w % 100);
        }
      }
      if (edge) return pickFrom(['0', '-1', '255', '256', String(c.L), String(c.L + 1), '2147483647', '-2147483648']);
      return pickFrom(['2147483648', '-2147483649', '1.5', '1e2', '9007199254740993', '0x100000000']);
    }
    case 'float':
      if (inRange && c.clean && (c.dtBytes ?? 0) > 0 && /int/.test(c.dtName ?? '') && op.name !== 'scale') return String(p.w % 1000);
      if (inRange) return String((p.w % 1000) / 8);
      if (edge) return pickFrom(['inf', '-inf', 'nan', 'NaN', '-0', '3.4e38', '1e-45', '65504', '2147483647', '-2147483648']);
      return pickFrom(['1e39', '-1e39', '1e999', '2147483648', '0.5']);
    case 'dtype':
      if (inRange || edge) return DTYPES[v % DTYPES.length]!.name.toUpperCase().slice(0, v % 2 ? 10 : 0) || DTYPES[v % DTYPES.length]!.name;
      return pickFrom(['fp8', 'int64', '3', 'E0']);
    case 'step':
      if (inRange) return `${p.w < 0 ? '-' : '+'}${v % 8}`;
      if (edge) return pickFrom(['+2147483647', '-2147483648', '+0', '-0']);
      return pickFrom(['3', '+2147483648', '-2147483649', '+1.5']);
    case 'flag':
      if (inRange || edge) return op.keyword!;
      return pickFrom(['ACC', 'RESET', 'accumulate', 'reset acc']);
  }
}

// ---------------------------------------------------------------------------------------------
// scheduled pipelines: valid programs (every value meets its reader on the right cycle), and
// near-valid ones (one instruction moved, one stream changed, one HALT dropped)

export interface StagePlan {
  unit: number; // 0-2 VXM, 3 SXM, 4 MXM
  op: number;
  dt: number;
  from: number;
  rows: number;
  cols: number;
  seed: number;
  side: boolean;
  alu: number;
  arg: number;
  gap: number;
  slices: number;
}

export interface PipelinePlan {
  stages: StagePlan[];
  /** null: the valid schedule; else one perturbation. */
  perturb: { kind: number; line: number; amount: number } | null;
}

export const pipelinePlanArb: fc.Arbitrary<PipelinePlan> = fc.record({
  stages: fc.array(
    fc.record({
      unit: fc.nat({ max: 4 }), op: fc.nat(), dt: fc.nat(), from: fc.nat(), rows: fc.integer({ min: 1, max: 4 }), cols: fc.nat(),
      seed: fc.nat(), side: fc.boolean(), alu: fc.nat(), arg: fc.integer(), gap: fc.nat({ max: 6 }), slices: fc.nat(),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  perturb: fc.option(fc.record({ kind: fc.nat({ max: 4 }), line: fc.nat(), amount: fc.integer({ min: -2, max: 2 }).filter((x) => x !== 0) }), { freq: 3 }),
});

const VXM_OPS = INSTRUCTIONS.filter((i) => i.unit === 'VXM');
const SXM_OPS = INSTRUCTIONS.filter((i) => i.unit === 'SXM' && i.mnemonic !== 'PERM');
const LARGE = new Set(['EXP2', 'EXP', 'RSQRT', 'TANH', 'SIGMOID', 'CVT']);

/** Renders a pipeline for `chip`: the text and, for an unperturbed plan, the cycles it must take. */
export function renderPipeline(plan: PipelinePlan, chip: ChipConfig): { text: string; cycles: number | null } {
  const fp = floorplan(chip);
  const S = chip.streamsPerDirection;
  const hop = chip.hopCycles;
  const d = chip.delays;
  const posOf = (name: string) => fp.slices.find((x) => x.name === name)!.position;
  const west = fp.memSlices.filter((x) => x.name.startsWith('MEM.W')); // W0 (next to the VXM) first
  const east = fp.memSlices.filter((x) => x.name.startsWith('MEM.E'));
  const vxmPos = posOf('VXM');
  const next = new Map<string, number>(); // free address per slice
  const head: string[] = [];
  const queues = new Map<string, { at: number; text: string; rep: number; d: number; issue: number }[]>();
  const emit = (q: string, at: number, text: string, rows: number, d = 1, issue = 1) => {
    const l = queues.get(q) ?? [];
    l.push({ at, text, rep: rows - 1, d, issue });
    queues.set(q, l);
  };
  /** Slices for a tensor of `bytes` planes: the fewest that keep planes per slice within the ports. */
  const split = (bytes: number) => divisors(bytes).find((n) => bytes / n <= chip.memPorts) ?? bytes;
  const place = (name: string, dt: string, rows: number, cols: number, slices: string[], init: string) => {
    const bytes = DTYPES.find((x) => x.name === dt)!.bytes;
    const pps = bytes / slices.length;
    const pl = slices.map((sl) => {
      const a = next.get(sl) ?? 0;
      next.set(sl, a + rows * pps);
      return `${sl}:${a}`;
    });
    head.push(`.tensor ${name} ${dt}[${rows},${cols}] @ ${pl.join(', ')}${init}`);
    return pps;
  };
  let T = 0;
  let ok = true;
  plan.stages.forEach((st, k) => {
    const rows = st.rows;
    const cols = 1 + (st.cols % chip.lanes);
    if (st.unit < 3) {
      const ins = VXM_OPS[st.op % VXM_OPS.length]!;
      const dts = ins.dtypes.filter((x) => chip.vxmDtypes.includes(x as never));
      if (!dts.length) return;
      const dt = dts[st.dt % dts.length]!;
      const dB = DTYPES.find((x) => x.name === dt)!.bytes;
      const from = ins.mnemonic === 'CVT' ? chip.vxmDtypes[st.from % chip.vxmDtypes.length]! : dt;
      const sB = DTYPES.find((x) => x.name === from)!.bytes;
      const binary = ins.operands.some((o) => o.name === 'src2');
      if (sB + dB > S || sB > S || (binary && sB > S)) return;
      const nIn = split(sB);
      const nOut = split(dB);
      if (nIn > west.length || (binary && nIn > east.length) || nOut + (binary ? nIn : 0) > east.length) return;
      const rot = st.slices % west.length;
      const xs = Array.from({ length: nIn }, (_, j) => west[(rot + j) % west.length]!.name);
      const x2s = binary ? Array.from({ length: nIn }, (_, j) => east[j]!.name) : [];
      const ys = Array.from({ length: nOut }, (_, j) => east[(binary ? nIn : 0) + j]!.name);
      const float = !/int/.test(from);
      const init = float ? ` = random(${st.seed}, -3, 3)` : ` = random(${st.seed})`;
      const ppsIn = place(`x${k}`, from, rows, cols, xs, init);
      if (binary) place(`z${k}`, from, rows, cols, x2s, float ? ` = random(${st.seed + 1}, -3, 3)` : ` = random(${st.seed + 1})`);
      const emits = !(ins.mnemonic === 'ACC' && st.arg % 3 === 0);
      const ppsOut = emits ? place(`y${k}`, dt, rows, cols, ys, '') : 0;
      const dist = Math.max(...[...xs, ...x2s].map((x) => Math.abs(posOf(x) - vxmPos)));
      const t = T + d.memRead + dist * hop;
      xs.forEach((x, j) => emit(x, t - d.memRead - Math.abs(posOf(x) - vxmPos) * hop, `READ x${k}[0], E${j * ppsIn}`, rows));
      x2s.forEach((x, j) => emit(x, t - d.memRead - Math.abs(posOf(x) - vxmPos) * hop, `READ z${k}[0], W${j * ppsIn}`, rows));
      const alu = `VXM.${st.alu % chip.vxmAlus}`;
      const dst = emits ? `E${sB}` : '-';
      let args: string;
      switch (ins.mnemonic) {
        case 'ADDS':
        case 'MULS': args = `${dst}, E0, ${/int/.test(dt) ? st.arg % 50 : (st.arg % 64) / 8}`; break;
        case 'CVT': args = `${dst}, E0, ${from}${st.arg % 2 ? `, ${(st.arg % 16) / 4}` : ''}`; break;
        case 'ACC': args = `${dst}, E0${st.arg % 2 ? ', reset' : ''}`; break;
        default: args = binary ? `${dst}, E0, W0` : `${dst}, E0`;
      }
      emit(alu, t, `${ins.mnemonic}.${dt} ${args}`, rows);
      const delay = LARGE.has(ins.mnemonic) ? d.vxmLarge : d.vxmAlu;
      if (emits) ys.forEach((y, j) => emit(y, t + delay + (posOf(y) - vxmPos) * hop, `WRITE y${k}[0], E${sB + j * ppsOut}`, rows));
      T = t + delay + fp.positions * hop + rows + 2 + st.gap;
    } else if (st.unit === 4) {
      // MXM: install a plane's weights row by row from one MEM slice (IW under REPEAT), then
      // multiply each row of x (MM under REPEAT) and write the int32/fp32 results
      const dt = chip.mxmDtypes[st.dt % chip.mxmDtypes.length]!;
      const B = DTYPES.find((x) => x.name === dt)!.bytes;
      const K = B === 1 ? chip.lanes : chip.lanes >> 1;
      const mem = st.side ? east : west;
      const side = st.side ? 'E' : 'W';
      const mq = `MXM.${side}${st.alu % chip.mxmPlanesPerHemisphere}`;
      const mp = posOf(`MXM.${side}`);
      const inDir = st.side ? 'E' : 'W';
      const outDir = st.side ? 'W' : 'E';
      const r = B === 1 ? divisors(K).filter((x) => x <= Math.min(chip.memPorts, chip.mxmInstallRows)).pop()! : 1;
      const nY = split(4);
      if (B > chip.memPorts || r * B + B > S || 4 > S || 2 + nY > mem.length) return;
      const ws = mem[st.slices % mem.length]!.name;
      const others = mem.filter((x) => x.name !== ws);
      const xsl = others[0]!.name;
      const ys = others.slice(1, 1 + nY).map((x) => x.name);
      const cols = 1 + (st.cols % K);
      place(`w${k}`, dt, K, chip.lanes, [ws], ` = random(${st.seed}, -1, 1)`);
      place(`x${k}`, dt, rows, cols, [xsl], ` = random(${st.seed + 1}, -2, 2)`);
      const ppsY = place(`y${k}`, B === 1 ? 'int32' : 'fp32', rows, chip.lanes, ys, '');
      const tw = T + d.memRead + Math.abs(posOf(ws) - mp) * hop;
      emit(ws, tw - d.memRead - Math.abs(posOf(ws) - mp) * hop, `READ w${k}[0], ${inDir}0, ${r * B}`, K / r);
      emit(mq, tw, `IW.${dt} 0, ${inDir}0, ${r}`, K / r);
      const tm = Math.max(tw + K / r, T + d.memRead + Math.abs(posOf(xsl) - mp) * hop);
      const dm = B === 1 ? 1 : 2;
      emit(xsl, tm - d.memRead - Math.abs(posOf(xsl) - mp) * hop, `READ x${k}[0], ${inDir}${r * B}`, rows, dm);
      emit(mq, tm, `MM.${dt} ${inDir}${r * B}, ${outDir}0${st.arg % 2 ? ', acc' : ''}`, rows, dm, dm);
      ys.forEach((y, j) => emit(y, tm + d.mxm + Math.abs(posOf(y) - mp) * hop, `WRITE y${k}[0], ${outDir}${j * ppsY}`, rows, dm));
      T = tm + d.mxm + fp.positions * hop + rows * dm + 2 + st.gap;
    } else {
      // SXM.W (side false) reads the west slices on W streams and sends its result east on E
      // streams into other west slices; SXM.E mirrors it
      const ins = SXM_OPS[st.op % SXM_OPS.length]!;
      const dt = ins.dtypes[st.dt % ins.dtypes.length]!;
      const B = DTYPES.find((x) => x.name === dt)!.bytes;
      if (B > S) return;
      const n = split(B);
      const mem = st.side ? east : west;
      if (2 * n > mem.length) return;
      const sxm = st.side ? 'SXM.E' : 'SXM.W';
      const sp = posOf(sxm);
      const xs = Array.from({ length: n }, (_, j) => mem[mem.length - 1 - j]!.name); // nearest the SXM
      const ys = Array.from({ length: n }, (_, j) => mem[j]!.name);
      const inDir = st.side ? 'E' : 'W';
      const outDir = st.side ? 'W' : 'E';
      const float = !/int/.test(dt);
      const pps = place(`x${k}`, dt, rows, cols, xs, float ? ` = random(${st.seed}, -3, 3)` : ` = random(${st.seed})`);
      place(`y${k}`, dt, rows, cols, ys, '');
      const dist = Math.max(...xs.map((x) => Math.abs(posOf(x) - sp)));
      const t = T + d.memRead + dist * hop;
      xs.forEach((x, j) => emit(x, t - d.memRead - Math.abs(posOf(x) - sp) * hop, `READ x${k}[0], ${inDir}${j * pps}`, rows));
      const divs = divisors(chip.lanes);
      let args: string;
      switch (ins.mnemonic) {
        case 'SHIFT':
        case 'ROT': args = `, ${st.arg % (2 * chip.lanes + 1)}`; break;
        case 'DIST': {
          const seg = divs[Math.abs(st.arg) % divs.length]!;
          args = `, ${Math.abs(st.arg >> 4) % seg}, ${seg}`;
          break;
        }
        case 'TRANS': args = `, ${divs[Math.abs(st.arg) % divs.length]}`; break;
        default: args = st.arg % 2 ? `, ${divs[Math.abs(st.arg) % divs.length]}` : '';
      }
      emit(sxm, t, `${ins.mnemonic}.${dt} ${outDir}0, ${inDir}0${args}`, rows);
      const delay = ins.mnemonic === 'RSUM' || ins.mnemonic === 'RMAX' ? d.sxmReduce : d.sxm;
      ys.forEach((y, j) => emit(y, t + delay + Math.abs(posOf(y) - sp) * hop, `WRITE y${k}[0], ${outDir}${j * pps}`, rows));
      T = t + delay + fp.positions * hop + rows + 2 + st.gap;
    }
  });
  // text: each queue's instructions in cycle order, REPEAT for the rows, HALT at the end
  const out = [`.chip ${chip.name}`, ...head];
  const lines: string[][] = [];
  let last = 0;
  for (const [q, list] of queues) {
    list.sort((a, b) => a.at - b.at);
    const ql = [`.queue ${q}`];
    let end = 0;
    for (const l of list) {
      if (l.at < end || l.at < 0) ok = false;
      ql.push(`  @${l.at} ${l.text}`);
      if (l.rep > 0) ql.push(`  REPEAT ${l.rep}, ${l.d}`);
      end = l.at + l.rep * l.d + l.issue;
    }
    ql.push('  HALT');
    last = Math.max(last, end);
    lines.push(ql);
  }
  if (plan.perturb && lines.length) {
    const p = plan.perturb;
    const ql = lines[p.line % lines.length]!;
    const i = 1 + ((p.line >> 3) % Math.max(1, ql.length - 2));
    const l = ql[i]!;
    if (p.kind === 0 || p.kind === 1) ql[i] = l.replace(/@(\d+)/, (_, c: string) => `@${Math.max(0, Number(c) + p.amount)}`);
    else if (p.kind === 2) ql[i] = l.replace(/([EW])(\d+)/, (_, dir: string, n: string) => `${dir}${Math.max(0, Number(n) + p.amount)}`);
    else if (p.kind === 3) ql.pop();
    else ql[i] = l.replace(/REPEAT (\d+)/, (_, n: string) => `REPEAT ${Number(n) + Math.abs(p.amount)}`);
  }
  for (const ql of lines) out.push(...ql);
  return { text: out.join('\n') + '\n', cycles: ok && !plan.perturb ? last + chip.superlanes - 1 : null };
}

// ---------------------------------------------------------------------------------------------
// raw programs: random records with known opcodes, straight into a core

export interface RawPlan {
  queues: { q: number; records: { op: number; fields: number[]; a: number; b: number }[]; halt: boolean }[];
  tensors: number;
}

const I32_EDGES = [0, 1, -1, 2, 3, 4, 7, 8, 16, 31, 32, 33, 255, 256, 257, 1023, 1024, 65535, 65536, 0x7fffffff, -0x80000000, 0x7ffffffe, -0x7fffffff, 0x40000000, -0x40000000, 0x7fffff00];

const i32Arb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...I32_EDGES) },
  { weight: 2, arbitrary: fc.integer({ min: -40, max: 300 }) },
  { weight: 1, arbitrary: fc.integer({ min: -0x80000000, max: 0x7fffffff }) },
);

const fieldArb = fc.oneof(fc.nat({ max: 20 }), fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 254, 255));

export const rawPlanArb: fc.Arbitrary<RawPlan> = fc.record({
  queues: fc.array(
    fc.record({
      q: fc.nat(),
      records: fc.array(fc.record({ op: fc.nat(), fields: fc.array(fieldArb, { minLength: 7, maxLength: 7 }), a: i32Arb, b: i32Arb }), { maxLength: 6 }),
      halt: fc.nat({ max: 5 }).map((x) => x > 0),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  tensors: fc.nat({ max: 3 }),
});

const OPCODES = INSTRUCTIONS.map((i) => i.opcode);

/** A Program of raw records for `chip` (opcodes known; every other field anything). */
export function renderRawProgram(plan: RawPlan, chip: ChipConfig): Program {
  const fp = floorplan(chip);
  const seen = new Set<string>();
  const queues: Program['queues'] = [];
  for (const qp of plan.queues) {
    const q = fp.queues[qp.q % fp.queues.length]!;
    if (seen.has(q.name)) continue;
    seen.add(q.name);
    const unitOps = INSTRUCTIONS.filter((i) => i.unit === q.unit || i.unit === 'ICU').map((i) => i.opcode);
    const recs: number[] = [];
    const push = (op: number, f: number[], a: number, b: number) => {
      const r = new Uint8Array(16);
      r[0] = op;
      for (let k = 0; k < 7; k++) r[1 + k] = f[k]!;
      new DataView(r.buffer).setInt32(8, a, true);
      new DataView(r.buffer).setInt32(12, b, true);
      recs.push(...r);
    };
    const S2 = 2 * chip.streamsPerDirection;
    for (const r of qp.records) {
      const ops = r.op % 5 === 0 ? OPCODES : unitOps;
      const op = ops[(r.op >> 3) % ops.length]!;
      let a = r.a;
      // NOPs and REPEATs with huge counts are legal; keep most small so that runs go somewhere
      if (op === 0 && r.op % 3 !== 0) a = 1 + (Math.abs(a) % 8);
      // most records keep their small fields plausible (a dtype, stream ids of the chip, a width
      // of 1-4) so that the edge values of a and b reach the units; the rest are any bytes
      const f = r.fields;
      const fields = r.op % 7 === 0 ? f : [f[0]! % 6, f[1]! % S2, f[2]! % S2, f[3]! % S2, 1 + (f[4]! % 4), f[5]! & 1, f[6]! % 6];
      push(op, fields, a, r.b);
    }
    if (qp.halt) push(4, [0, 0, 0, 0, 0, 0, 0], 0, 0);
    queues.push({ name: q.name, code: Uint8Array.from(recs), lines: [] });
  }
  const tensors: Program['tensors'] = [];
  const ms = fp.memSlices;
  for (let i = 0; i < plan.tensors; i++) {
    const d = DTYPES[i % DTYPES.length]!;
    const cols = Math.max(1, chip.lanes - i);
    const data = new Uint8Array(2 * cols * d.bytes).map((_, k) => (k * 131 + i) & 0xff);
    tensors.push({ name: `t${i}`, dtype: d.name, shape: [2, cols], placement: [{ slice: ms[i % ms.length]!.name, addr: 8 * i }], output: i === 0, data });
  }
  return { chip: chip.name, queues, tensors, source: 'raw.sfp' };
}

// ---------------------------------------------------------------------------------------------
// the core under hostile programs

interface CoreSet {
  chip: ChipConfig;
  cores: Map<string, Core>;
}

/** Reused cores, by chip (its figures, not the object: loaders return a fresh one each time). */
const coreSets = new Map<string, CoreSet>();
const CORE_CAPACITY = 4096;
const TRACE_CAPACITY = 1 << 14;

async function coreFor(chip: ChipConfig, checked: boolean, functional: boolean): Promise<Core> {
  const id = JSON.stringify({ ...chip, provenance: null, file: null });
  let set = coreSets.get(id);
  if (!set) {
    set = { chip, cores: new Map() };
    coreSets.set(id, set);
  }
  const key = `${checked}/${functional}`;
  let core = set.cores.get(key);
  if (!core) {
    core = await Core.create(chip, wasm(), { checked, functional, maxInstructions: CORE_CAPACITY, traceCapacity: TRACE_CAPACITY });
    set.cores.set(key, core);
  }
  return core;
}

const OP = Object.fromEntries(INSTRUCTIONS.map((i) => [i.mnemonic, i.opcode])) as Record<string, number>;
const ERR = Object.fromEntries(ERRORS.map((e) => [e.name, e.code])) as Record<string, number>;

export interface CoreRunResult {
  reason: number;
  cycle: number;
  hash: string;
  error: string | null;
}

/**
 * Loads `program` on a reused core of `chip` and runs it to `limit` cycles, checking the core's
 * promises (see the header). Returns what happened, for determinism checks.
 */
export async function runOnCore(
  program: Program, chip: ChipConfig, opts: { checked: boolean; functional: boolean; limit: number; placeOk: (where: string) => boolean },
): Promise<CoreRunResult | null> {
  if (instructionCount(program) > CORE_CAPACITY) return null;
  const core = await coreFor(chip, opts.checked, opts.functional);
  const loaded = guard('Core.load', () => core.load(program), opts.placeOk);
  if (!loaded.ok) return null;
  const mem = () => new Uint8Array(core.memory.buffer);
  const prog = core.region(REGION.PROGRAM);
  const fixedLo = CONFIG_OFFSET;
  const fixedHi = CONTROL_OFFSET + CONTROL_BYTES;
  const before = mem().slice(fixedLo, fixedHi);
  const progBefore = mem().slice(prog.offset, prog.offset + prog.size);
  const pages = core.memory.buffer.byteLength;
  let reason = 0;
  const t0 = performance.now();
  try {
    reason = core.run(opts.limit);
  } catch (e) {
    fail(`the core trapped: ${(e as Error)?.name}: ${clip(String((e as Error)?.message ?? e))}`);
  }
  const dt = performance.now() - t0;
  if (dt > 5000) fail(`a run of ${instructionCount(program)} instructions to cycle ${opts.limit} took ${Math.round(dt)} ms`);
  if (core.memory.buffer.byteLength !== pages) fail(`the core's memory grew during a run (${pages} -> ${core.memory.buffer.byteLength} bytes)`);
  const m = mem();
  const after = m.subarray(fixedLo, fixedHi);
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i]) fail(`the run wrote the host's config/queue descriptors (byte ${fixedLo + i})`);
  const progAfter = m.subarray(prog.offset, prog.offset + prog.size);
  for (let i = 0; i < progBefore.length; i++) if (progBefore[i] !== progAfter[i]) fail(`the run wrote its own program (byte ${i} of the program region)`);
  if (!(reason & (STOP.HALT | STOP.ERROR | STOP.CYCLE_LIMIT))) fail(`the run stopped for reason ${reason}: not halt, error or the cycle limit`);
  if (core.cycle > opts.limit) fail(`the run went past its cycle limit: cycle ${core.cycle} > ${opts.limit}`);
  let error: string | null = null;
  if (reason & STOP.ERROR) {
    const e = core.error();
    if (!e) fail('the run stopped with an error but the core has no error record');
    const se = coreErrorToSfError(core, e);
    checkSfError(se, opts.placeOk);
    error = se.message;
  }
  checkIssuedAccesses(core, program, chip, error !== null);
  if (reason & STOP.HALT) {
    const r = guard('buildRunReport', () => formatRunReport(buildRunReport(core)), opts.placeOk);
    if (!r.ok) fail('buildRunReport threw an SfError after a clean halt');
  }
  return { reason, cycle: core.cycle, hash: core.hash(), error };
}

/** Every issued READ/WRITE/IW touched only rows the core holds, or the run stopped right there. */
function checkIssuedAccesses(core: Core, program: Program, chip: ChipConfig, errored: boolean): void {
  const m = new DataView(core.memory.buffer);
  const st = core.region(REGION.STATE).offset;
  const count = Number(m.getBigInt64(st + STATE.traceCount, true));
  if (count > TRACE_CAPACITY) return; // the ring wrapped
  const tr = core.region(REGION.TRACE).offset;
  const code = new Map<number, Uint8Array>();
  core.plan.queues.forEach((q) => {
    const qp = program.queues.find((p) => p.name === q.name);
    if (qp) code.set(q.id, qp.code);
  });
  const issues = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const e = tr + i * 16;
    const q = m.getInt32(e + 8, true);
    const pc = m.getInt32(e + 12, true);
    const c = code.get(q);
    if (!c || pc < 0 || (pc + 1) * INSTRUCTION_BYTES > c.length) continue;
    const key = `${q}/${pc}`;
    const rep = issues.get(key) ?? 0;
    issues.set(key, rep + 1);
    const v = new DataView(c.buffer, c.byteOffset + pc * INSTRUCTION_BYTES, INSTRUCTION_BYTES);
    const op = v.getUint8(0);
    const width = v.getUint8(5);
    const a = v.getInt32(8, true);
    const b = v.getInt32(12, true);
    let bad = '';
    if (op === OP.READ || op === OP.WRITE) {
      const addr = (a + Math.imul(rep, b)) | 0;
      if (addr < 0 || addr + width > chip.memVectorsPerSlice) bad = `${op === OP.READ ? 'READ' : 'WRITE'} of vectors ${addr}..${addr + width - 1}`;
    } else if (op === OP.IW) {
      const dt = v.getUint8(1);
      const rows = dt === 0 ? chip.lanes : chip.lanes >> 1;
      const row0 = (a + Math.imul(rep, width)) | 0;
      if (dt <= 5 && (row0 < 0 || row0 + width > rows)) bad = `IW of rows ${row0}..${row0 + width - 1}`;
    }
    if (!bad) continue;
    const last = i === count - 1;
    const e2 = core.error();
    const ok = last && errored && e2 && [ERR.SRAM_RANGE, ERR.BAD_OPERAND, ERR.STREAM_EMPTY].includes(e2.code);
    if (!ok) fail(`${bad} (queue ${core.plan.queues[q]?.name}, #${pc}, repeat ${rep}) issued without an error${last ? '' : ' and the run went on'}`);
  }
}

async function checkCoreProgram(program: Program, chip: ChipConfig, placeOk: (where: string) => boolean, variant: number, cycles: number | null = null): Promise<void> {
  const modes = [
    { checked: true, functional: true },
    { checked: false, functional: true },
    { checked: true, functional: false },
  ];
  const mode = modes[variant % modes.length]!;
  const limit = 1500;
  const a = await runOnCore(program, chip, { ...mode, limit, placeOk });
  if (!a) {
    if (cycles !== null) fail('a valid schedule did not load');
    return;
  }
  if (cycles !== null && cycles <= limit) {
    // a valid schedule halts, without a hazard, on the cycle its timing says
    if (!(a.reason & STOP.HALT) || a.error) fail(`a valid schedule stopped with ${a.error ?? `reason ${a.reason}`}`);
    const core = await coreFor(chip, mode.checked, mode.functional);
    if (core.programCycles !== cycles) fail(`a valid schedule took ${core.programCycles} cycles, its timing says ${cycles}`);
  }
  // the same program again: the same end (reloading resets everything)
  const b = await runOnCore(program, chip, { ...mode, limit, placeOk });
  if (!b) fail('a program that loaded once failed to load again');
  if (a.reason !== b.reason || a.cycle !== b.cycle || a.hash !== b.hash || a.error !== b.error) {
    fail(`two runs differ: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// targets

export interface Target<T = unknown> {
  name: string;
  /** What it generates (one line, for docs/reliability.md and the runner's listing). */
  generates: string;
  /** Runs per target in the small CI run (FUZZ_RUNS overrides). */
  ciRuns: number;
  arbitrary: () => fc.Arbitrary<T>;
  check: (input: T) => Outcome | Promise<Outcome>;
  show: (input: T) => string;
}

function define<T>(t: Target<T>): Target<T> {
  return t;
}

const FILE = 'fuzz.sfa';
const fakeReadFile = (bytes: number) => (p: string): Uint8Array => {
  if (p.endsWith('data.bin')) return new Uint8Array(bytes);
  throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' });
};

/** Assembles text for a chip; accepted programs round-trip through the container and the disassembler. */
function checkAssembly(text: string, chip: ChipConfig, dataBytes: number): { outcome: Outcome; program?: Program } {
  const lines = text.split('\n').length;
  const r = timed('assemble', 5000, () => guard('assemble', () => assemble(text, { file: FILE, chip, readFile: fakeReadFile(dataBytes) }), placeIs(FILE, lines + 1)));
  if (!r.ok) return { outcome: 'rejected' };
  const p = r.value;
  // container round trip
  const bytes = encodeProgram(p);
  const back = guard('decodeProgram', () => decodeProgram(bytes, 'fuzz.sfp'), placeIs('fuzz.sfp'));
  if (!back.ok) fail('decodeProgram rejected what encodeProgram wrote');
  if (!sameProgram(p, back.value)) fail('the container round trip changed the program');
  // disassembler round trip
  const d = guard('disassemble', () => disassemble(p, chip), placeIs(FILE));
  if (!d.ok) fail('disassemble threw an SfError on an assembled program');
  const again = guard('assemble(disassemble)', () => assemble(d.value, { file: 'dis.sfa', chip }), placeIs('dis.sfa'));
  if (!again.ok) fail(`the disassembly does not assemble:\n${clip(d.value, 2000)}`);
  const e1 = encodeProgram(p, { debug: false });
  const e2 = encodeProgram(again.value, { debug: false });
  if (Buffer.compare(Buffer.from(e1), Buffer.from(e2)) !== 0) fail('assemble(disassemble(p)) differs from p');
  return { outcome: 'accepted', program: p };
}

/** Two tensors sharing vectors of a slice (the assembler refuses them; a container may hold them). */
function overlapping(p: Program): boolean {
  const spans: { slice: string; lo: number; hi: number }[] = [];
  for (const t of p.tensors) {
    const bytes = DTYPES.find((x) => x.name === t.dtype)!.bytes;
    const need = t.shape[0] * (bytes / t.placement.length);
    for (const pl of t.placement) {
      const s = { slice: pl.slice, lo: pl.addr, hi: pl.addr + need - 1 };
      if (spans.some((o) => o.slice === s.slice && s.lo <= o.hi && o.lo <= s.hi)) return true;
      spans.push(s);
    }
  }
  return false;
}

function sameProgram(a: Program, b: Program): boolean {
  const norm = (p: Program) => JSON.stringify({
    chip: p.chip, source: p.source,
    queues: p.queues.map((q) => ({ n: q.name, c: Buffer.from(q.code).toString('hex'), l: q.lines })),
    tensors: p.tensors.map((t) => ({ ...t, data: t.data ? Buffer.from(t.data).toString('hex') : null })),
  });
  return norm(a) === norm(b);
}

interface AsmInput {
  source: number; // 0-4 structured, 5-9 a shipped kernel mutated
  plan: ProgramPlan;
  kernel: number;
  mutations: TextMutation[];
  dataBytes: number;
}

const asmText = define<AsmInput>({
  name: 'asm-text',
  generates: 'assembly text: structured programs over the ISA table for the tiny chip (operands in range, at the edge, just outside, junk; @cycles; tensors of random shapes, placements and initialisers; .raw records), and the shipped kernels with 1-4 line/token/character mutations',
  ciRuns: 800,
  arbitrary: () => fc.record({
    source: fc.nat({ max: 9 }),
    plan: programPlanArb,
    kernel: fc.nat(),
    mutations: fc.array(textMutationArb, { minLength: 1, maxLength: 4 }),
    dataBytes: fc.constantFrom(0, 1, 32, 64, 128, 256, 1024),
  }),
  check: (inp) => {
    const { text, chip } = asmInputText(inp);
    if (systemDirective(text)) return checkSystemText(text);
    return checkAssembly(text, chip, inp.dataBytes).outcome;
  },
  show: (inp) => asmInputText(inp).text,
});

function asmInputText(inp: AsmInput): { text: string; chip: ChipConfig } {
  if (inp.source < 5) {
    let text = renderProgram(inp.plan, tiny());
    if (inp.source === 4) for (const m of inp.mutations) text = mutateText(text, m);
    return { text, chip: tiny() };
  }
  const k = kernels()[inp.kernel % kernels().length]!;
  let text = k.text;
  for (const m of inp.mutations) text = mutateText(text, m);
  const chipName = /^[ \t]*\.chip[ \t]+([^\s;#]+)/m.exec(text)?.[1] ?? 'tsp-v1';
  return { text, chip: chipByName(chipName) };
}

/** A multi-chip text: the system it names (shipped, small) and its per-chip programs. */
function checkSystemText(text: string): Outcome {
  const name = systemDirective(text)!;
  const sys = guard('loadSystemPreset', () => loadSystemPreset(name), (w) => w === placeName(name) || w.startsWith('presets/systems/') || w.startsWith('presets/chips/'));
  if (!sys.ok) return 'rejected';
  if (sys.value.chips > 16) return 'rejected'; // big systems: assembling is the same per chip
  const lines = text.split('\n').length;
  const r = timed('assembleSystem', 10000, () => guard('assembleSystem', () => assembleSystem(text, FILE, sys.value, fakeReadFile(0)), placeIs(FILE, lines + 1)));
  return r.ok ? 'accepted' : 'rejected';
}

interface CoreInput {
  plan: ProgramPlan;
  raw: RawPlan;
  pipe: PipelinePlan;
  kind: number; // 0-2 structured text, 3-6 scheduled pipelines, 7-9 raw records
  mode: number;
  tsp: boolean;
}

function coreProgramText(inp: CoreInput, chip: ChipConfig): { text: string; cycles: number | null } {
  if (inp.kind < 3) return { text: renderProgram(inp.plan, chip), cycles: null };
  return renderPipeline(inp.pipe, chip);
}

const coreRun = define<CoreInput>({
  name: 'core',
  generates: 'programs run on the core (checked, unchecked, timing-only) to 1,500 cycles: scheduled pipelines (READ, a VXM or SXM op, WRITE, timed by the chip\'s figures, on tiny or tsp-v1) that must halt on the predicted cycle, the same with one instruction moved, one stream changed, a REPEAT lengthened or a HALT dropped, structured programs that assemble, and raw 16-byte records with known opcodes and any other fields (edge i32 values, bad dtypes, stream ids, widths)',
  ciRuns: 600,
  arbitrary: () => fc.record({
    plan: programPlanArb, raw: rawPlanArb, pipe: pipelinePlanArb, kind: fc.nat({ max: 9 }), mode: fc.nat({ max: 2 }), tsp: fc.nat({ max: 7 }).map((x) => x === 0),
  }),
  check: async (inp) => {
    const chip = inp.kind >= 3 && inp.kind <= 6 && inp.tsp ? tspV1() : tiny();
    let program: Program;
    let file = FILE;
    let cycles: number | null = null;
    if (inp.kind < 7) {
      const r0 = coreProgramText(inp, chip);
      cycles = r0.cycles;
      const r = guard('assemble', () => assemble(r0.text, { file: FILE, chip, readFile: fakeReadFile(64) }), placeIs(FILE));
      if (!r.ok) {
        if (cycles !== null) fail('a scheduled pipeline does not assemble');
        return 'rejected';
      }
      program = r.value;
    } else {
      program = renderRawProgram(inp.raw, chip);
      file = 'raw.sfp';
    }
    await checkCoreProgram(program, chip, placeIs(file), inp.mode, cycles);
    return 'accepted';
  },
  show: (inp) => {
    const chip = inp.kind >= 3 && inp.kind <= 6 && inp.tsp ? tspV1() : tiny();
    if (inp.kind < 7) {
      const r = coreProgramText(inp, chip);
      return `${r.cycles !== null ? `; valid schedule: must halt at ${r.cycles} cycles\n` : ''}${r.text}`;
    }
    return disassembleRaw(renderRawProgram(inp.raw, chip));
  },
});

function disassembleRaw(p: Program): string {
  try {
    return disassemble(p, tiny());
  } catch (e) {
    return `${JSON.stringify(p.queues.map((q) => [q.name, Buffer.from(q.code).toString('hex')]))} (disassemble: ${(e as Error).message})`;
  }
}

interface ContainerInput {
  source: number;
  plan: ProgramPlan;
  kernel: number;
  mutations: ByteMutation[];
  header: JsonMutation[];
}

/** A valid container: a shipped single-chip kernel or a structured program that assembles. */
function containerBase(inp: ContainerInput): Uint8Array {
  if (inp.source % 2 === 0) {
    const singles = kernels().filter((k) => !systemDirective(k.text));
    const k = singles[inp.kernel % singles.length]!;
    const p = once(`asm:${k.name}`, () => assemble(k.text, { file: k.name, chip: chipByName(/^\.chip\s+(\S+)/m.exec(k.text)?.[1] ?? null) }));
    return encodeProgram(p, { debug: inp.kernel % 3 !== 0 });
  }
  try {
    return encodeProgram(assemble(renderProgram(inp.plan, tiny()), { file: FILE, chip: tiny(), readFile: fakeReadFile(64) }));
  } catch {
    return encodeProgram(assemble('.queue MEM.W0\n READ 0, E0\n HALT\n', { file: FILE, chip: tiny() }));
  }
}

/** The container with its JSON header mutated (lengths kept consistent) and then its bytes. */
function containerBytes(inp: ContainerInput): Uint8Array {
  let b = containerBase(inp);
  if (inp.header.length) {
    const hlen = new DataView(b.buffer, b.byteOffset).getUint32(8, true);
    let h = JSON.parse(new TextDecoder().decode(b.subarray(12, 12 + hlen))) as unknown;
    for (const m of inp.header) h = mutateJson(h, m);
    const json = new TextEncoder().encode(jsonText(h));
    const out = new Uint8Array(12 + json.length + b.length - 12 - hlen);
    out.set(b.subarray(0, 12));
    new DataView(out.buffer).setUint32(8, json.length, true);
    out.set(json, 12);
    out.set(b.subarray(12 + hlen), 12 + json.length);
    b = out;
  }
  const hot = [0, 4, 6, 8, 9, 10, 11];
  for (const m of inp.mutations) b = mutateBytes(b, m, hot);
  return b;
}

const container = define<ContainerInput>({
  name: 'container',
  generates: 'binary containers (.sfp) from encodeProgram of the shipped kernels and of structured programs, with JSON-header mutations (lengths kept consistent) and byte mutations (set, flip, interesting u32 at the magic/version/flags/length fields, insert, delete, truncate, append, random spans); accepted ones are disassembled and run on the core',
  ciRuns: 400,
  arbitrary: () => fc.record({
    source: fc.nat({ max: 3 }),
    plan: programPlanArb,
    kernel: fc.nat(),
    mutations: fc.array(byteMutationArb, { maxLength: 3 }),
    header: fc.array(jsonMutationArb, { maxLength: 3 }),
  }),
  check: async (inp) => {
    const bytes = containerBytes(inp);
    // the command line's path: read the file, decode it, load its chip, check it against the chip
    const path = join(scratch(), 'fuzz.sfp');
    writeFileSync(path, bytes);
    let chipRef = '';
    const place = (w: string) => placeIs(path)(w) || w === placeName(chipRef) || w.startsWith('presets/chips/');
    const dec = guard('decodeProgram', () => decodeProgram(bytes, path), placeIs(path));
    if (dec.ok) chipRef = dec.value.chip ?? '';
    const r = timed('loadProgram', 5000, () => guard('loadProgram', () => loadProgram(path), place));
    if (!r.ok) return 'rejected';
    const { program, chip } = r.value;
    const d = guard('disassemble', () => disassemble(program, chip), placeIs(path));
    // the disassembly assembles back to the same program (tensors that overlap are the one thing
    // a container may hold and the language refuses)
    if (d.ok && !overlapping(program)) {
      const again = guard('assemble(disassemble)', () => assemble(d.value, { file: 'dis.sfa', chip }), placeIs('dis.sfa'));
      if (!again.ok) fail(`the disassembly of an accepted container does not assemble:\n${clip(d.value, 3000)}`);
      const e1 = encodeProgram({ ...program, source: null }, { debug: false });
      const e2 = encodeProgram({ ...again.value, source: null }, { debug: false });
      if (Buffer.compare(Buffer.from(e1), Buffer.from(e2)) !== 0) fail(`assemble(disassemble(p)) differs from p:\n${clip(d.value, 3000)}`);
    }
    const src = program.source;
    const placeOk = (w: string) => placeIs(path)(w) || (src !== null && placeIs(placeName(src))(w));
    if (chip.name === 'tiny' || inp.kernel % 4 === 0) await checkCoreProgram(program, chip, placeOk, chip.name === 'tiny' ? inp.kernel : 0);
    return 'accepted';
  },
  show: (inp) => {
    const b = containerBytes(inp);
    return `${b.length} bytes: ${Buffer.from(b.subarray(0, 400)).toString('hex')}${b.length > 400 ? '...' : ''}\nheader: ${Buffer.from(b.subarray(12, 12 + 600)).toString('latin1')}`;
  },
});


// ---- chip presets

interface PresetInput {
  json: JsonInput;
  plan: ProgramPlan;
  random: unknown;
  kind: number; // 0-7 mutated shipped, 8 corners (chips), 9 random JSON
  picks?: number[];
}

/** Slots per stream ring, as the core lays it out (assembly/layout.ts). */
function ringSlots(chip: ChipConfig): number {
  const d = chip.delays;
  const span = floorplan(chip).positions * chip.hopCycles + Math.max(d.memRead, d.vxmAlu, d.vxmLarge, d.mxm, d.sxm, d.sxmReduce, d.c2cRecv) + 2;
  let ring = 1;
  while (ring < span) ring *= 2;
  return ring;
}

/** Bytes a functional core of `chip` needs, a little over (no 32-bit wrap here). */
export function coreBytesEstimate(chip: ChipConfig): number {
  const L = chip.lanes;
  return 2 * chip.memSlicesPerHemisphere * chip.memVectorsPerSlice * L + 2 * chip.streamsPerDirection * ringSlots(chip) * 4 * (L + 16) +
    2 * chip.mxmPlanesPerHemisphere * 3 * L * L + chip.c2cLinks * 2 * chip.c2cBufferMessages * (16 + 4 * L) + (2 << 20);
}

/** Integer figures of a chip preset and their allowed ranges (src/chip/preset.ts). */
const CHIP_LIMITS: [string, number, number][] = [
  ['superlanes', 1, 64], ['lanesPerSuperlane', 1, 64], ['streamsPerDirection', 1, 64], ['memSlicesPerHemisphere', 1, 128],
  ['memVectorsPerSlice', 1, 1048576], ['memPorts', 1, 8], ['vxmAlus', 1, 64], ['mxmPlanesPerHemisphere', 1, 8], ['mxmInstallRows', 1, 128],
  ['hopCycles', 1, 16], ['c2cLinks', 0, 32], ['c2cLatencyCycles', 1, 100000], ['c2cVectorCycles', 1, 10000], ['c2cBufferMessages', 1, 4096],
];
const DELAY_NAMES = ['memRead', 'vxmAlu', 'vxmLarge', 'mxm', 'sxm', 'sxmReduce', 'c2cRecv'];

/** The tiny preset with each figure at its minimum, its maximum, one past, or as shipped. */
function chipCorners(picks: number[]): string {
  const j = JSON.parse(chipTexts().find((c) => c.name.endsWith('tiny.json'))!.text) as Record<string, unknown>;
  const choose = (i: number, lo: number, hi: number, cur: unknown) => {
    const k = picks[i % picks.length]! >> (i % 4);
    return [lo, hi, cur, cur, cur, lo + (k % (hi - lo + 1)), hi + 1, lo - 1][k % 8];
  };
  CHIP_LIMITS.forEach(([f, lo, hi], i) => (j[f] = choose(i, lo, hi, (j[f] as { value?: unknown })?.value ?? j[f])));
  const d = j.delays as Record<string, unknown>;
  DELAY_NAMES.forEach((k, i) => (d[k] = choose(i + 20, 1, 64, (d[k] as { value?: unknown })?.value ?? d[k])));
  return JSON.stringify(j);
}

const chipPreset = define<PresetInput>({
  name: 'chip-preset',
  generates: 'chip presets: the shipped tsp-v1 and tiny with 0-4 structural mutations (values to other types and extremes, keys deleted and added, figure objects wrapped and unwrapped, deep nesting) and maybe a text mutation, and random JSON; accepted ones get a core (functional when it needs under 256 MiB, else timing-only) that runs a structured program',
  ciRuns: 400,
  arbitrary: () => fc.record({ json: jsonInputArb(), plan: programPlanArb, random: fc.jsonValue({ maxDepth: 3 }), kind: fc.nat({ max: 9 }), picks: fc.array(fc.nat(), { minLength: 1, maxLength: 8 }) }),
  check: async (inp) => {
    const text = chipText(inp);
    const r = guard('parseChipPresetText', () => parseChipPresetText(text, 'fuzz.json'), placeIs('fuzz.json', text.split('\n').length + 1));
    if (!r.ok) return 'rejected';
    const chip = r.value;
    // functional when small, or when far too big for a 32-bit memory (the core must refuse it
    // before allocating); in between (real gigabytes) timing-only
    const need = coreBytesEstimate(chip);
    const functional = need <= 256 * 2 ** 20 || need > 4.5 * 2 ** 30;
    let core: Core;
    try {
      core = await Core.create(chip, wasm(), { checked: true, functional });
    } catch (e) {
      if (e instanceof SfError) {
        checkSfError(e, placeIs('fuzz.json'));
        return 'rejected';
      }
      fail(`Core.create threw ${(e as Error)?.name}: ${clip(String((e as Error)?.message))}`);
    }
    // layout sanity: regions inside the memory, not overlapping
    const regions = Object.values(REGION).map((id) => ({ id, ...core.region(id) })).filter((x) => x.size > 0).sort((a, b) => a.offset - b.offset);
    for (let i = 0; i < regions.length; i++) {
      const g = regions[i]!;
      if (g.offset + g.size > core.memory.buffer.byteLength) fail(`core region ${g.id} (${g.offset}+${g.size}) is outside the memory (${core.memory.buffer.byteLength})`);
      if (i > 0 && regions[i - 1]!.offset + regions[i - 1]!.size > g.offset) fail(`core regions ${regions[i - 1]!.id} and ${g.id} overlap`);
    }
    if (functional) {
      const sram = 2 * chip.memSlicesPerHemisphere * chip.memVectorsPerSlice * chip.lanes;
      const streams = 2 * chip.streamsPerDirection * ringSlots(chip) * 4 * chip.lanes;
      if (core.region(REGION.SRAM).size !== sram) fail(`the core's SRAM is ${core.region(REGION.SRAM).size} bytes, the chip has ${sram}`);
      if (core.region(REGION.STREAM_DATA).size !== streams) fail(`the core's stream payloads take ${core.region(REGION.STREAM_DATA).size} bytes, they need ${streams}`);
    }
    const text2 = renderProgram(inp.plan, chip);
    const p = guard('assemble', () => assemble(text2, { file: FILE, chip, readFile: fakeReadFile(64) }), placeIs(FILE));
    if (p.ok && instructionCount(p.value) <= 1 << 16) {
      core.load(p.value);
      let reason = 0;
      try {
        reason = core.run(1000);
      } catch (e) {
        fail(`the core trapped on a preset's chip: ${(e as Error)?.message}`);
      }
      if (!(reason & (STOP.HALT | STOP.ERROR | STOP.CYCLE_LIMIT))) fail(`stop reason ${reason}`);
      if (reason & STOP.ERROR) checkSfError(coreErrorToSfError(core, core.error()!), placeIs(FILE));
    }
    return 'accepted';
  },
  show: (inp) => chipText(inp),
});

function chipText(inp: PresetInput): string {
  if (inp.kind === 9) return JSON.stringify(inp.random) ?? 'null';
  if (inp.kind === 8) return chipCorners(inp.picks ?? [0]);
  return renderJsonInput(chipTexts(), inp.json).text;
}

// ---- system presets

const systemPreset = define<PresetInput>({
  name: 'system-preset',
  generates: 'system presets: the shipped ones with structural and text mutations (chip names, counts up to and past 4096, topologies, link lists) and random JSON',
  ciRuns: 800,
  arbitrary: () => fc.record({ json: jsonInputArb(), plan: programPlanArb, random: fc.jsonValue({ maxDepth: 3 }), kind: fc.nat({ max: 9 }) }),
  check: (inp) => {
    const text = inp.kind === 9 ? JSON.stringify(inp.random) ?? 'null' : renderJsonInput(systemTexts(), inp.json).text;
    let chipRef = '';
    try {
      const j = JSON.parse(text) as { chip?: unknown };
      if (typeof j?.chip === 'string') chipRef = j.chip;
    } catch {
      /* bad JSON: parseJsonText reports it */
    }
    const place = (w: string) => placeIs('fuzz.json', text.split('\n').length + 1)(w) || w === placeName(chipRef) || w.startsWith('presets/chips/');
    const r = timed('parseSystemPreset', 5000, () => guard('parseSystemPreset', () => parseSystemPreset(parseJsonText(text, 'fuzz.json'), 'fuzz.json'), place));
    if (!r.ok) return 'rejected';
    const sys = r.value;
    // every wired link is wired back
    sys.peer.forEach((links, c) => links.forEach((p, l) => {
      if (p && (sys.peer[p.chip]?.[p.link]?.chip !== c || sys.peer[p.chip]?.[p.link]?.link !== l)) fail(`link ${l} of chip ${c} is not wired back`);
    }));
    return 'accepted';
  },
  show: (inp) => (inp.kind === 9 ? JSON.stringify(inp.random) ?? 'null' : renderJsonInput(systemTexts(), inp.json).text),
});

// ---- multi-chip programs on a tiny system, run in lockstep

interface SystemRunInput {
  plan: ProgramPlan;
  spec: number;
  perChip: boolean;
  mode: number;
}

function systemRunText(inp: SystemRunInput): string {
  const specs = ['all', '0-3', '0,1,2,3', '0-1', '3', '0-9', '2-1', 'x', '0-3,0'];
  const body = renderProgram(inp.plan, tiny()).replace(/random\((\d+)/g, inp.perChip ? 'random(${chip}' : 'random($1');
  return `.system tiny-4\n.program ${specs[inp.spec % specs.length]}\n${body}`;
}

const systemRun = define<SystemRunInput>({
  name: 'system-run',
  generates: 'multi-chip programs on tiny-4 (.program lists in and out of range, ${chip} data) run in lockstep to 600 cycles, checked and unchecked, functional and timing-only',
  ciRuns: 200,
  arbitrary: () => fc.record({ plan: programPlanArb, spec: fc.nat(), perChip: fc.boolean(), mode: fc.nat({ max: 3 }) }),
  check: async (inp) => {
    const text = systemRunText(inp);
    const sys = once('tiny-4', () => loadSystemPreset('tiny-4'));
    const r = guard('assembleSystem', () => assembleSystem(text, FILE, sys, fakeReadFile(64)), placeIs(FILE));
    if (!r.ok) return 'rejected';
    if (r.value.programs.some((p) => instructionCount(p) > 4096)) return 'rejected';
    const res = await runSystem(r.value, wasm(), { functional: inp.mode < 2, checked: inp.mode % 2 === 0, threads: 1, maxCycles: 600, hashes: true });
    if (!['halt', 'error', 'limit'].includes(res.stop)) fail(`system stop ${res.stop}`);
    if (res.cycles > 600 + tiny().superlanes) fail(`system ran to ${res.cycles} cycles, limit 600`);
    if (res.stop === 'error') {
      const msg = res.error!.message;
      if (/[\r\n]/.test(msg) || !/^chip \d+: /.test(msg)) fail(`system error message: ${JSON.stringify(clip(msg))}`);
    }
    return 'accepted';
  },
  show: systemRunText,
});

// ---- GPU presets

const gpuPreset = define<PresetInput>({
  name: 'gpu-preset',
  generates: 'GPU presets: the seven shipped ones with structural and text mutations and random JSON; accepted ones estimate a decode step and a prefill of the tiny and llama-3-8b configs',
  ciRuns: 800,
  arbitrary: () => fc.record({ json: jsonInputArb(), plan: programPlanArb, random: fc.jsonValue({ maxDepth: 3 }), kind: fc.nat({ max: 9 }) }),
  check: (inp) => {
    const text = inp.kind === 9 ? JSON.stringify(inp.random) ?? 'null' : renderJsonInput(gpuTexts(), inp.json).text;
    const r = guard('parseGpuPresetText', () => parseGpuPresetText(text, 'fuzz.json'), placeIs('fuzz.json', text.split('\n').length + 1));
    if (!r.ok) return 'rejected';
    estimateAll(r.value, once('cfg-tiny', () => loadModelConfig('tiny')), inp.kind);
    return 'accepted';
  },
  show: (inp) => (inp.kind === 9 ? JSON.stringify(inp.random) ?? 'null' : renderJsonInput(gpuTexts(), inp.json).text),
});

function estimateAll(gpu: GpuPreset, cfg: ModelConfig, k: number): void {
  const dtypes = ['bf16', 'fp16', 'fp8', 'int8', 'int8-wo'] as const;
  const opts = { dtype: dtypes[k % dtypes.length], tp: 1 + (k % 2), cudaGraphs: k % 3 !== 0, splitKv: k % 4 !== 0 };
  const anyPlace = ANY_OR_NO_PLACE;
  const d = guard('decodeStep', () => decodeStep(gpu, cfg, { ...opts, batch: 1 + (k % 8), context: k % 512 }), anyPlace);
  const p = guard('prefill', () => prefill(gpu, cfg, { ...opts, batch: 1, prompt: 1 + (k % 128) }), anyPlace);
  for (const r of [d, p]) {
    if (r.ok && !Number.isFinite((r.value as { seconds?: number }).seconds ?? 0)) fail(`an estimate is not finite: ${(r.value as { seconds?: number }).seconds}`);
  }
}

// ---- model configs

const modelConfig = define<PresetInput>({
  name: 'model-config',
  generates: 'model configs: the six shipped HF config.json files with structural and text mutations (sizes, heads, rope_scaling, sliding windows, dtypes) and random JSON; accepted ones build a decode layer graph and a GPU estimate',
  ciRuns: 800,
  arbitrary: () => fc.record({ json: jsonInputArb(), plan: programPlanArb, random: fc.jsonValue({ maxDepth: 3 }), kind: fc.nat({ max: 9 }) }),
  check: (inp) => {
    const text = inp.kind === 9 ? JSON.stringify(inp.random) ?? 'null' : renderJsonInput(modelTexts(), inp.json).text;
    const r = guard('parseModelConfigText', () => parseModelConfigText(text, 'fuzz.json'), placeIs('fuzz.json', text.split('\n').length + 1));
    if (!r.ok) return 'rejected';
    const cfg = r.value;
    const anyPlace = ANY_OR_NO_PLACE;
    timed('buildLayerGraph', 5000, () => guard('buildLayerGraph', () => buildLayerGraph(cfg, { phase: 'decode', past: Math.min(16, cfg.maxPositionEmbeddings - 1) }), anyPlace));
    timed('estimate', 5000, () => estimateAll(once('h100', () => loadGpuPreset('h100-sxm')), cfg, inp.kind));
    return 'accepted';
  },
  show: (inp) => (inp.kind === 9 ? JSON.stringify(inp.random) ?? 'null' : renderJsonInput(modelTexts(), inp.json).text),
});

// ---- safetensors

interface StInput {
  kind: number; // 0-5 random tensors, 6-9 the tiny model's layer 0
  tensors: { name: number; dtype: number; shape: number[]; seed: number }[];
  header: JsonMutation[];
  bytes: ByteMutation[];
  onDisk: boolean;
}

const ST_NAMES = ['a', 'b', 'weight', 'model.layers.0.self_attn.q_proj.weight', '__metadata__', '', 'x'.repeat(200), 'a'];

function stFile(inp: StInput): Uint8Array {
  let ts: TensorToWrite[];
  if (inp.kind >= 6) {
    const cfg = once('cfg-tiny', () => loadModelConfig('tiny'));
    ts = rawWeightShapes(cfg).map((w, i) => ({
      name: hfWeightName(w.name, 0), dtype: (['F32', 'F16', 'BF16', 'F64'] as const)[(inp.kind + i) % 4]!, shape: w.shape,
      data: new Float64Array(w.shape.reduce((a, b) => a * b, 1)).map((_, k) => Math.sin(k + i)),
    }));
  } else {
    const dts = Object.keys(SAFETENSORS_DTYPES) as SafetensorsDtype[];
    const seen = new Set<string>();
    ts = [];
    for (const t of inp.tensors) {
      const name = ST_NAMES[t.name % ST_NAMES.length]!;
      if (seen.has(name) || name === '__metadata__') continue;
      seen.add(name);
      const dtype = dts[t.dtype % dts.length]!;
      const n = t.shape.reduce((a, b) => a * b, 1);
      const size = SAFETENSORS_DTYPES[dtype];
      const data = new Uint8Array(n * size).map((_, k) => (k * 97 + t.seed) & 0xff);
      ts.push({ name, dtype, shape: t.shape, data });
    }
  }
  let b = encodeSafetensors(ts, inp.kind % 3 === 0 ? { format: 'pt' } : undefined);
  if (inp.header.length) {
    const n = new DataView(b.buffer).getUint32(0, true);
    let h = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))) as unknown;
    for (const m of inp.header) h = mutateJson(h, m);
    const json = new TextEncoder().encode(jsonText(h));
    const out = new Uint8Array(8 + json.length + b.length - 8 - n);
    new DataView(out.buffer).setUint32(0, json.length, true);
    out.set(json, 8);
    out.set(b.subarray(8 + n), 8 + json.length);
    b = out;
  }
  for (const m of inp.bytes) b = mutateBytes(b, m, [0, 1, 2, 3, 4, 5, 6, 7]);
  return b;
}

let scratchDir: string | null = null;
function scratch(): string {
  if (!scratchDir) scratchDir = mkdtempSync(join(tmpdir(), 'sramflow-fuzz-'));
  return scratchDir;
}

const safetensors = define<StInput>({
  name: 'safetensors',
  generates: 'safetensors files from encodeSafetensors (random tensors of every dtype and small shapes, or the tiny model\'s layer 0) with header mutations (dtypes, shapes, offsets, names, metadata) and byte mutations (the 8-byte length, flips, truncation); accepted ones are read tensor by tensor, in memory and from disk, and the layer loader reads the tiny model\'s weights',
  ciRuns: 600,
  arbitrary: () => fc.record({
    kind: fc.nat({ max: 9 }),
    tensors: fc.array(fc.record({ name: fc.nat(), dtype: fc.nat(), shape: fc.array(fc.nat({ max: 5 }), { maxLength: 3 }), seed: fc.nat() }), { maxLength: 4 }),
    header: fc.array(jsonMutationArb, { maxLength: 3 }),
    bytes: fc.array(byteMutationArb, { maxLength: 2 }),
    onDisk: fc.boolean(),
  }),
  check: (inp) => {
    const bytes = stFile(inp);
    const r = timed('parseSafetensors', 5000, () => guard('parseSafetensors', () => parseSafetensors(bytes, 'fuzz.safetensors'), placeIs('fuzz.safetensors')));
    if (!r.ok) return 'rejected';
    for (const name of r.value.tensors.keys()) guard('read', () => r.value.read(name), placeIs('fuzz.safetensors'));
    if (inp.onDisk || inp.kind >= 6) {
      const path = join(scratch(), 'fuzz.safetensors');
      writeFileSync(path, bytes);
      const f = guard('openSafetensors', () => openSafetensors(path), placeIs(path));
      if (!f.ok) fail('openSafetensors rejected what parseSafetensors accepted');
      try {
        for (const name of f.value.tensors.keys()) guard('read', () => f.value.read(name), placeIs(path));
      } finally {
        f.value.close();
      }
      if (inp.kind >= 6) {
        const cfg = once('cfg-tiny', () => loadModelConfig('tiny'));
        guard('loadLayerWeights', () => loadLayerWeights(cfg, path), placeIs(path));
      }
    }
    return 'accepted';
  },
  show: (inp) => {
    const b = stFile(inp);
    return `${b.length} bytes: ${Buffer.from(b.subarray(0, 300)).toString('latin1')}`;
  },
});

// ---- the command line

interface CliInput {
  cmd: number;
  positionals: number[];
  flags: { flag: number; value: number; form: number }[];
  file: { plan: ProgramPlan; mutations: TextMutation[]; kind: number };
  spawn: boolean;
}

const COMMANDS = ['run', 'run', 'run', 'asm', 'disasm', 'help', '--help', '-h', 'bogus', '', 'RUN', 'run'];
const FLAGS = ['--chip', '--system', '--check', '--timing-only', '--threads', '--max-cycles', '--json', '-o', '--output', '--bogus', '-x', '--', '--check=yes', '--json=1', '-'];
const VALUES = [
  'tiny', 'tsp-v1', 'nosuch', 'tiny-4', 'node-2', 'node-8', 'rack-72', 'pod-576', '/dev/zero', '@fifo', '0', '1', '2', '-1', '256', '257', '1e3', '0x10', '9007199254740993', '100', '',
  '@gen.sfa', '@gen.sfp', '@chip.json', '@bad.json', '@dir', '@missing', '@out.sfp', '@out.sfa', 'presets/chips/tiny.json', '--check', '=',
  '@empty', '@junk.bin', 'programs/kernels/vector-add-fp32.sfa',
];

interface CliFixture {
  dir: string;
  gen: string;
}

function cliFixture(): CliFixture {
  return once('cli-fixture', () => {
    const dir = join(scratch(), 'cli');
    mkdirSync(dir, { recursive: true });
    mkdirSync(join(dir, 'dir'), { recursive: true });
    writeFileSync(join(dir, 'chip.json'), readFileSync(join(ROOT, 'presets/chips/tiny.json')));
    writeFileSync(join(dir, 'bad.json'), '{"name": "x", "superlanes": 2,\n  "lanes": 3 ');
    writeFileSync(join(dir, 'empty'), '');
    writeFileSync(join(dir, 'junk.bin'), Uint8Array.from({ length: 300 }, (_, i) => (i * 7919) & 0xff));
    // a named pipe: opening it for reading blocks until a writer comes
    spawnSync('mkfifo', [join(dir, 'fifo')]);
    return { dir, gen: join(dir, 'gen.sfa') };
  });
}

function cliArgv(inp: CliInput, fx: CliFixture): string[] {
  const path = (v: string) => (v.startsWith('@') ? join(fx.dir, v.slice(1)) : v);
  const argv: string[] = [];
  const cmd = COMMANDS[inp.cmd % COMMANDS.length]!;
  if (cmd) argv.push(cmd);
  const pos = ['@gen.sfa', '@gen.sfp', '@gen.sfa', '@missing', '@dir', '@empty', '@junk.bin', 'programs/kernels/vector-add-fp32.sfa', 'programs/kernels/allreduce-2.sfa', '@chip.json', '/dev/zero', '@fifo'];
  for (const p of inp.positionals) argv.push(path(pos[p % pos.length]!));
  for (const f of inp.flags) {
    const flag = FLAGS[f.flag % FLAGS.length]!;
    let value = path(VALUES[f.value % VALUES.length]!);
    // never write into the repository: outputs go to the fixture folder
    if ((flag === '-o' || flag === '--output') && !value.startsWith(fx.dir)) value = join(fx.dir, 'out', value.replace(/[^A-Za-z0-9.]/g, '_') || 'x');
    if (f.form === 0) argv.push(flag);
    else if (f.form === 1) argv.push(flag, value);
    else argv.push(`${flag}=${value}`);
  }
  // never write into the repository: whatever follows -o / --output goes to the fixture folder
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if ((a === '-o' || a === '--output') && i + 1 < argv.length && !argv[i + 1]!.startsWith(fx.dir)) argv[i + 1] = join(fx.dir, 'out', 'x');
    if (a.startsWith('--output=') && !a.slice(9).startsWith(fx.dir)) argv[i] = `--output=${join(fx.dir, 'out', 'x')}`;
  }
  return argv;
}

function cliFileText(inp: CliInput): string {
  let text = inp.file.kind < 6 ? renderProgram(inp.file.plan, tiny()) : kernels()[inp.file.kind % kernels().length]!.text;
  if (inp.file.kind < 6) text = `.chip tiny\n${text}`;
  for (const m of inp.file.mutations) text = mutateText(text, m);
  return text;
}

const EXIT_OK = new Set([0, 2, 3, 4]);

function checkCliResult(code: number | null, out: string, err: string, how: string): void {
  if (code === null || !EXIT_OK.has(code)) fail(`${how}: exit code ${code}${err ? `: ${clip(err)}` : ''}`);
  const lines = err.split('\n').filter((l) => l.length);
  // `sramflow` alone prints the help on stdout and exits 2 (a deliberate usage answer)
  const helpOnly = code === 2 && lines.length === 0 && out.startsWith('sramflow: a cycle-level emulator');
  if (code !== 0 && !helpOnly) {
    if (lines.length !== 1) fail(`${how}: exit ${code} with ${lines.length} stderr lines: ${JSON.stringify(clip(err))}`);
    if (!lines[0]!.startsWith('sramflow: ')) fail(`${how}: stderr does not start with "sramflow: ": ${JSON.stringify(clip(err))}`);
  }
  if (/\n\s+at /.test(err) || /^\s+at /.test(err)) fail(`${how}: a stack trace on stderr: ${JSON.stringify(clip(err))}`);
  if (code === 0 && lines.length) fail(`${how}: exit 0 with stderr ${JSON.stringify(clip(err))}`);
  void out;
}

const cli = define<CliInput>({
  name: 'cli',
  generates: 'command lines: run/asm/disasm/help and junk commands with random flags from the known set and junk, values (numbers at and past their ranges, presets, paths to a generated program, its container, a directory, missing and empty files, junk bytes) and the program itself structured or a mutated kernel; every input runs in-process, one in eight also as a child process through bin/sramflow.js',
  ciRuns: 200,
  arbitrary: () => fc.record({
    cmd: fc.nat(),
    positionals: fc.array(fc.nat(), { maxLength: 2 }),
    flags: fc.array(fc.record({ flag: fc.nat(), value: fc.nat(), form: fc.nat({ max: 2 }) }), { maxLength: 4 }),
    file: fc.record({ plan: programPlanArb, mutations: fc.array(textMutationArb, { maxLength: 2 }), kind: fc.nat({ max: 9 }) }),
    spawn: fc.nat({ max: 7 }).map((x) => x === 0),
  }),
  check: async (inp) => {
    const fx = cliFixture();
    const text = cliFileText(inp);
    writeFileSync(fx.gen, text);
    // the container of the generated program, or junk with the magic when it does not assemble
    try {
      writeFileSync(join(fx.dir, 'gen.sfp'), encodeProgram(assemble(text, { file: 'gen.sfa', chip: tiny(), readFile: fakeReadFile(64) })));
    } catch {
      writeFileSync(join(fx.dir, 'gen.sfp'), 'SFPG\u0001\u0000\u0000\u0000\u0002\u0000\u0000\u0000{}');
    }
    const safe = withLimits(cliArgv(inp, fx));
    let out = '';
    let err = '';
    const t0 = performance.now();
    const code = await cliMain(safe, { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) });
    const dt = performance.now() - t0;
    if (dt > 20000) fail(`sramflow ${safe.join(' ')} took ${Math.round(dt)} ms`);
    checkCliResult(code, out, err, `main(${JSON.stringify(safe)})`);
    if (inp.spawn) {
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/sramflow.js'), ...safe], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      checkCliResult(r.status, r.stdout, r.stderr, `sramflow ${JSON.stringify(safe)}`);
    }
    return code === 0 ? 'accepted' : 'rejected';
  },
  show: (inp) => `argv: ${JSON.stringify(withLimits(cliArgv(inp, cliFixture())))}\nfile gen.sfa:\n${cliFileText(inp)}`,
});

/** In-process runs: at most two threads and a cycle limit, so that one input cannot take minutes. */
function withLimits(argv: string[]): string[] {
  if (argv[0] !== 'run') return argv;
  const out = [...argv];
  if (!out.some((a) => a.startsWith('--max-cycles'))) out.push('--max-cycles', '20000');
  return out;
}

/** `sramflow run|compile <model.json>`: random layer flags (in and out of range) on the tiny model,
 * a config with a broken field, a missing file; every input ends in 0, 2 or 3 with one line. */
const modelCli: Target<{ cmd: number; model: number; flags: { flag: number; value: number }[] }> = {
  name: 'model-cli',
  generates: 'sramflow run/compile on programs/models/tiny.json (or a broken config, a directory, a missing file) with random --phase/--context/--batch/--dtype/--chips/--chip/--layer/--seed/--timing-only/--json values, in and out of range',
  ciRuns: 16,
  arbitrary: () => fc.record({
    cmd: fc.nat({ max: 3 }),
    model: fc.nat({ max: 5 }),
    flags: fc.array(fc.record({ flag: fc.nat({ max: 10 }), value: fc.nat({ max: 9 }) }), { maxLength: 4 }),
  }),
  check: async (inp) => {
    const fx = cliFixture();
    const broken = join(fx.dir, 'broken-model.json');
    writeFileSync(broken, readFileSync(join(ROOT, 'programs/models/tiny.json'), 'utf8').replace('"num_key_value_heads": 2', '"num_key_value_heads": 3'));
    const models = ['programs/models/tiny.json', 'programs/models/tiny.json', 'programs/models/tiny.json', broken, join(fx.dir, 'dir'), join(fx.dir, 'missing.json')];
    const values: Record<number, string[]> = {
      0: ['--phase', 'decode', 'prefill', 'sideways', ''],
      1: ['--context', '1', '3', '9', '0', '-2', '257', '1e3', 'x'],
      2: ['--batch', '1', '2', '0', '5000', 'two'],
      3: ['--dtype', 'int8', 'int8', 'fp16', 'int4', ''],
      4: ['--chips', '1', '2', '3', '0', '4096'],
      5: ['--chip', 'tsp-v1', 'tiny', 'nope', join(fx.dir, 'bad.json')],
      6: ['--layer', '0', '1', '99999'],
      7: ['--seed', '0', '7', '-1'],
      8: ['--timing-only'],
      9: ['--json'],
      10: ['--bogus', 'x'],
    };
    const argv = [inp.cmd === 3 ? 'compile' : 'run', models[inp.model]!];
    for (const f of inp.flags) {
      const v = values[f.flag]!;
      argv.push(v[0]!);
      if (v.length > 1) argv.push(v[1 + (f.value % (v.length - 1))]!);
    }
    if (inp.cmd === 3) argv.push('-o', join(fx.dir, 'model-out', 'layer.sfa'));
    mkdirSync(join(fx.dir, 'model-out'), { recursive: true });
    let out = '';
    let err = '';
    const t0 = performance.now();
    const code = await cliMain(argv, { out: (x) => (out += `${x}\n`), err: (x) => (err += `${x}\n`) });
    const dt = performance.now() - t0;
    if (dt > 60000) fail(`sramflow ${argv.join(' ')} took ${Math.round(dt)} ms`);
    checkCliResult(code, out, err, `main(${JSON.stringify(argv)})`);
    return code === 0 ? 'accepted' : 'rejected';
  },
  show: (inp) => JSON.stringify(inp),
};

export const TARGETS: Target<any>[] = [asmText, coreRun, container, chipPreset, systemPreset, systemRun, gpuPreset, modelConfig, safetensors, cli, modelCli];

export function targetByName(name: string): Target<any> | undefined {
  return TARGETS.find((t) => t.name === name);
}

/** Runs per target in the small CI runs: FUZZ_RUNS, else the target's own small figure. */
export function ciRuns(t: Target<any>): number {
  const env = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(env) && env > 0 ? env : t.ciRuns;
}

/** The fixed seed of the CI runs. */
export const CI_SEED = 20240611;

/** Removes the scratch folder (generated files, the CLI fixture). */
export function cleanup(): void {
  if (scratchDir) rmSync(scratchDir, { recursive: true, force: true });
  scratchDir = null;
  delete cache['cli-fixture'];
}
