// The assembler: source text -> Program (src/asm/program.ts). The language is documented in
// docs/asm.md; every check here reports an SfError at file:line:col of the offending token.
//
// Two passes: the first handles `.chip`, `.tensor` and `.output` (so instructions may refer to
// tensors declared further down), the second the `.queue` sections and their instructions.
import { readRegularFile } from '../util/data-file.js';
import { dirname, resolve as resolvePath } from 'node:path';
import type { ChipConfig } from '../chip/config.js';
import { floorplan, type Floorplan, type Queue } from '../chip/floorplan.js';
import { DTYPES, DTYPE_NAMES, dtypeByName, type Dtype } from '../isa/dtypes.js';
import {
  FIELD_OFFSETS,
  INSTRUCTION_BYTES,
  INSTRUCTIONS,
  STREAM_NONE,
  instructionByMnemonic,
  issueCycles,
  type Field,
  type Instruction,
  type Operand,
} from '../isa/table.js';
import { SfError, at, placeName } from '../util/errors.js';
import { f32Bits } from '../util/numerics.js';
import { decodeBase64, fillLiteral, fillRandom, fillRange } from './fill.js';
import { parse, describe, TokenCursor, type InstrStmt, type Pos, type Token } from './parse.js';
import type { Program, QueueProgram, Tensor } from './program.js';

export interface AssembleOptions {
  /** The source file's name: used in messages, Program.source, and to resolve file("..."). */
  file: string;
  chip: ChipConfig;
  /** Reads a data file for file("..."), given the resolved path (default: fs.readFileSync). */
  readFile?: (path: string) => Uint8Array;
}

export const OPCODE = Object.fromEntries(INSTRUCTIONS.map((i) => [i.mnemonic, i.opcode])) as Record<string, number>;
const OP_NOP = 0;
const OP_REPEAT = 1;
const OP_SYNC = 2;
const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;
const TENSOR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Canonical quiet NaN, the f32 pattern `nan` assembles to. */
export const F32_NAN_BITS = 0x7fc00000;

// ---- operand values: what an operand token list resolves to, and what the disassembler
// ---- reconstructs from a record; encodeOperands turns them into the record's fields.

export type OpVal =
  | { kind: 'stream'; id: number }
  | { kind: 'addr'; addr: number; defWidth: number }
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'dtype'; dtype: Dtype }
  | { kind: 'step'; value: number }
  | { kind: 'flag'; set: boolean };

/** Where an instruction sits while it is encoded: the chip, its queue, the previous instruction. */
export interface EncodeCtx {
  chip: ChipConfig;
  fp: Floorplan;
  queue: Queue;
  /** The previous instruction of the queue (for REPEAT), or null at the start. */
  prev: { op: number; dtype: number; a: number } | null;
}

/** Error positions: operand index i >= 0, 'mn' the mnemonic, 'dt' the dtype suffix. */
export type WhereFn = (what: number | 'mn' | 'dt') => string;

function streamsText(chip: ChipConfig): string {
  const S = chip.streamsPerDirection;
  return `${chip.name} has E0..E${S - 1}, W0..W${S - 1}`;
}

/** Checks that depend only on the mnemonic, the suffix and the queue. Returns the dtype or null. */
export function checkHead(ctx: EncodeCtx, ins: Instruction, dtypeName: string | null, where: WhereFn): Dtype | null {
  let dt: Dtype | null = null;
  if (ins.dtypes.length === 0) {
    if (dtypeName !== null) throw new SfError(`${ins.mnemonic} takes no dtype suffix`, where('dt'));
  } else {
    if (dtypeName === null) {
      throw new SfError(`${ins.mnemonic} needs a dtype suffix, e.g. ${ins.mnemonic}.${ins.dtypes[0]} (one of ${ins.dtypes.join(', ')})`, where('mn'));
    }
    const d = dtypeByName(dtypeName.toLowerCase());
    if (!d || !ins.dtypes.includes(d.name)) {
      throw new SfError(`bad dtype suffix ".${dtypeName}" for ${ins.mnemonic} (one of ${ins.dtypes.join(', ')})`, where('dt'));
    }
    const supported = ins.unit === 'VXM' ? ctx.chip.vxmDtypes : ins.unit === 'MXM' ? ctx.chip.mxmDtypes : null;
    if (supported && !supported.includes(d.name)) {
      throw new SfError(`${ctx.chip.name} has no ${d.name} on the ${ins.unit} (it supports ${supported.join(', ')})`, where('dt'));
    }
    dt = d;
  }
  if (ins.unit !== 'ICU' && ins.unit !== ctx.queue.unit) {
    throw new SfError(`${ins.mnemonic} is a ${ins.unit} instruction; ${ctx.queue.name} is a ${ctx.queue.unit} queue`, where('mn'));
  }
  if (ins.opcode === OP_REPEAT) {
    if (!ctx.prev) throw new SfError('REPEAT cannot be the first instruction of a queue: it repeats the previous one', where('mn'));
    const p = INSTRUCTIONS.find((i) => i.opcode === ctx.prev!.op);
    if (p && p.unit === 'ICU') {
      throw new SfError(`REPEAT must follow a MEM, VXM, MXM or SXM instruction, not ${p.mnemonic}`, where('mn'));
    }
  }
  return dt;
}

/** Streams a stream operand's group occupies. */
function groupWidth(ins: Instruction, op: Operand, dt: Dtype | null, get: (name: string) => number | undefined): number {
  if (op.name === 'idx') return 2; // int16 index groups (PERM, GATHER, SCATTER)
  if (ins.operands.some((o) => o.name === 'width')) return get('width')!; // MEM, C2C data groups
  if (ins.mnemonic === 'IW') return get('rows')! * dt!.bytes;
  if (ins.mnemonic === 'MM' && op.name === 'dst') return 4;
  if (ins.mnemonic === 'CVT' && op.name === 'src') return DTYPES.find((d) => d.code === get('from'))!.bytes;
  return dt ? dt.bytes : 1;
}

function fieldRange(f: Field): [number, number] {
  return f === 'a' || f === 'b' ? [I32_MIN, I32_MAX] : [0, 255];
}

/**
 * Apply defaults, check every operand value, and encode the 16-byte record. `vals[i]` is the
 * value of operand i of the table's list, or undefined where an optional operand was left off.
 */
export function encodeOperands(ctx: EncodeCtx, ins: Instruction, dt: Dtype | null, vals: (OpVal | undefined)[], where: WhereFn): Uint8Array {
  const { chip } = ctx;
  const lanes = chip.lanes;
  const S = chip.streamsPerDirection;
  const rec = new Uint8Array(INSTRUCTION_BYTES);
  const view = new DataView(rec.buffer);
  rec[FIELD_OFFSETS.op] = ins.opcode;
  rec[FIELD_OFFSETS.dtype] = dt ? dt.code : 0;

  // Resolve every operand to the integer stored in its field (defaults included).
  const num = new Map<string, number>();
  const idx = new Map<string, number>();
  ins.operands.forEach((op, i) => idx.set(op.name, i));
  const w = (name: string) => {
    const i = idx.get(name);
    return where(i ?? 'mn');
  };
  function fail(name: string, msg: string): never {
    throw new SfError(msg, w(name));
  }
  const addrVal = ins.operands.map((o, i) => (o.kind === 'addr' ? vals[i] : undefined)).find((v) => v) as
    | { kind: 'addr'; addr: number; defWidth: number }
    | undefined;
  for (let i = 0; i < ins.operands.length; i++) {
    const op = ins.operands[i]!;
    const v = vals[i];
    let x: number;
    if (v === undefined) {
      if (!op.optional) throw new SfError(`${ins.mnemonic} is missing operand "${op.name}"`, where('mn'));
      if (op.kind === 'flag') x = 0;
      else if (op.name === 'width') x = addrVal ? addrVal.defWidth : 1;
      else if (op.kind === 'step') x = num.get('width') ?? 1;
      else if (op.name === 'rows') x = 1;
      else if (op.name === 'scale') x = f32Bits(1);
      else x = 0; // seg: 0 = all lanes; anything else defaults to 0
    } else {
      if (v.kind !== op.kind && !(op.kind === 'streamOpt' && v.kind === 'stream')) {
        fail(op.name, `operand "${op.name}" of ${ins.mnemonic} must be a ${op.kind}`);
      }
      switch (v.kind) {
        case 'stream':
          x = v.id;
          break;
        case 'addr':
          x = v.addr;
          break;
        case 'int':
        case 'step':
          x = v.value;
          break;
        case 'dtype':
          x = v.dtype.code;
          break;
        case 'flag':
          x = v.set ? op.bit! : 0;
          break;
        case 'float': {
          const intImm = dt !== null && !dt.float && op.name !== 'scale';
          if (intImm) {
            if (!Number.isInteger(v.value)) fail(op.name, `${ins.mnemonic}.${dt!.name} takes an integer immediate, got ${v.value}`);
            if (v.value < I32_MIN || v.value > I32_MAX) fail(op.name, `immediate ${v.value} does not fit int32`);
            x = v.value;
          } else {
            if (Number.isFinite(v.value) && !Number.isFinite(Math.fround(v.value))) fail(op.name, `immediate ${v.value} does not fit fp32`);
            x = Number.isNaN(v.value) ? F32_NAN_BITS : f32Bits(v.value);
            x = x | 0; // stored as i32
          }
          break;
        }
      }
    }
    num.set(op.name, x);
  }

  // Value checks.
  const get = (name: string) => num.get(name);
  const m = ins.mnemonic;
  for (let i = 0; i < ins.operands.length; i++) {
    const op = ins.operands[i]!;
    const x = num.get(op.name)!;
    const [lo, hi] = fieldRange(op.field);
    if (!Number.isInteger(x) || x < lo || x > hi) fail(op.name, `${op.name} ${x} does not fit its ${lo}..${hi} field`);
    if (op.kind === 'stream' || op.kind === 'streamOpt') {
      if (op.kind === 'streamOpt' && x === STREAM_NONE) continue;
      if (x >= 2 * S) fail(op.name, `bad stream id ${x} (${streamsText(chip)})`);
      const gw = groupWidth(ins, op, dt, get);
      const dir = x < S ? 'E' : 'W';
      const base = x % S;
      if (base + gw > S) {
        fail(op.name, `stream group ${dir}${base}..${dir}${base + gw - 1} runs past ${dir}${S - 1} (${m} ${op.name} needs ${gw} streams)`);
      }
    }
    if (op.kind === 'dtype') {
      const d = DTYPES.find((t) => t.code === x);
      if (!d) fail(op.name, `bad dtype code ${x}`);
      if (ins.unit === 'VXM' && !chip.vxmDtypes.includes(d.name)) {
        fail(op.name, `${chip.name} has no ${d.name} on the VXM (it supports ${chip.vxmDtypes.join(', ')})`);
      }
    }
    if (op.kind === 'int') {
      const key = `${m}.${op.name}`;
      if (key === 'NOP.n' && x < 1) fail(op.name, `NOP needs n >= 1, got ${x}`);
      if (key === 'REPEAT.n' && x < 1) fail(op.name, `REPEAT needs n >= 1, got ${x}`);
      if (key === 'REPEAT.d' && ctx.prev) {
        const min = issueCycles(ctx.prev.op, ctx.prev.dtype, ctx.prev.a);
        const pm = INSTRUCTIONS.find((t) => t.opcode === ctx.prev!.op)?.mnemonic ?? `opcode ${ctx.prev.op}`;
        if (x < min || x < 1) fail(op.name, `REPEAT d must be >= ${Math.max(min, 1)} (the issue cycles of ${pm}), got ${x}`);
      }
      if (op.name === 'width' && x < 1) fail(op.name, `width must be >= 1, got ${x}`);
      if (m === 'IW' && op.name === 'rows' && (x < 1 || x > chip.mxmInstallRows)) {
        fail(op.name, `IW rows must be 1..${chip.mxmInstallRows} on ${chip.name}, got ${x}`);
      }
      if (m === 'IW' && op.name === 'row') {
        const K = dt && dt.bytes === 1 ? lanes : lanes / 2;
        const rows = get('rows')!;
        if (x < 0 || x + rows > K) fail(op.name, `IW rows ${x}..${x + rows - 1} are outside the plane's ${dt!.name} rows 0..${K - 1}`);
      }
      if (op.name === 'seg' && x !== 0 && (x < 1 || lanes % x !== 0)) {
        fail(op.name, `segment ${x} must divide the ${lanes} lanes (0 or omitted: all lanes)`);
      }
      if (m === 'TRANS' && op.name === 'rows' && (x < 1 || lanes % x !== 0)) fail(op.name, `TRANS rows ${x} must divide the ${lanes} lanes`);
      if (m === 'DIST' && op.name === 'lane') {
        const seg = get('seg') || lanes;
        if (x < 0 || x >= seg) fail(op.name, `lane ${x} is outside the segment (0..${seg - 1})`);
      }
    }
  }

  // Write fields.
  for (const op of ins.operands) {
    const x = num.get(op.name)!;
    const o = FIELD_OFFSETS[op.field];
    if (op.field === 'a' || op.field === 'b') view.setInt32(o, x, true);
    else if (op.kind === 'flag') rec[o] = rec[o]! | x;
    else rec[o] = x;
  }
  return rec;
}

/** Read a record's integer fields. */
export function recordFields(rec: Uint8Array, off = 0): Record<Field, number> {
  const v = new DataView(rec.buffer, rec.byteOffset + off, INSTRUCTION_BYTES);
  return {
    op: v.getUint8(0),
    dtype: v.getUint8(1),
    dst: v.getUint8(2),
    srcA: v.getUint8(3),
    srcB: v.getUint8(4),
    width: v.getUint8(5),
    flags: v.getUint8(6),
    aux: v.getUint8(7),
    a: v.getInt32(8, true),
    b: v.getInt32(12, true),
  };
}

/** The queue's next issue cycle after `rec` (null: unknown, after SYNC). */
export function advanceCycle(cycle: number | null, f: Record<Field, number>): number | null {
  if (cycle === null || f.op === OP_SYNC) return null;
  if (f.op === OP_REPEAT) return cycle + Math.max(f.a, 0) * Math.max(f.b, 0);
  return cycle + issueCycles(f.op, f.dtype, f.a);
}

/** All queue names of the chip, compressed into ranges for messages. */
export function queueList(fp: Floorplan): string {
  const parts: string[] = [];
  let i = 0;
  const qs = fp.queues;
  while (i < qs.length) {
    const m = /^(.*?)(\d+)$/.exec(qs[i]!.name);
    if (!m) {
      parts.push(qs[i]!.name);
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < qs.length) {
      const n = /^(.*?)(\d+)$/.exec(qs[j + 1]!.name);
      if (!n || n[1] !== m[1]) break;
      j++;
    }
    parts.push(i === j ? qs[i]!.name : `${qs[i]!.name}..${qs[j]!.name}`);
    i = j + 1;
  }
  return parts.join(', ');
}

function memSliceList(fp: Floorplan): string {
  const w = fp.memSlices.filter((s) => s.name.startsWith('MEM.W')).length;
  const e = fp.memSlices.length - w;
  return `MEM.W0..MEM.W${w - 1}, MEM.E0..MEM.E${e - 1}`;
}

// ---- the assembler ---------------------------------------------------------------------------

interface TensorInfo {
  t: Tensor;
  line: number;
  pps: number;
}

interface QueueState {
  qp: QueueProgram;
  queue: Queue;
  code: number[];
  prev: { op: number; dtype: number; a: number } | null;
  cycle: number | null;
}


export function assemble(source: string, opts: AssembleOptions): Program {
  const { file, chip } = opts;
  const fp = floorplan(chip);
  const readFile = opts.readFile ?? readRegularFile; // regular files only: /dev/zero never ends
  const stmts = parse(source, file);
  const posAt = (t: Pos) => at(file, t.line, t.col);
  function err(msg: string, t: Pos): never {
    throw new SfError(msg, posAt(t));
  }

  let chipName: string | null = null;
  let chipLine = 0;
  const tensors = new Map<string, TensorInfo>();
  const occupied = new Map<string, { name: string; lo: number; hi: number }[]>();
  const outputs: Token[] = [];

  // ---- pass 1: .chip, .tensor, .output
  for (const s of stmts) {
    if (s.kind !== 'directive') continue;
    const d = s.name.text.toLowerCase();
    const c: TokenCursor = new TokenCursor(s.args, file, s.end);
    if (d === '.chip') {
      if (chipName !== null) err(`duplicate .chip (first at line ${chipLine})`, s.name);
      const t = c.peek();
      if (!t || (t.kind !== 'ident' && t.kind !== 'str')) c.fail(`expected a chip preset name, got ${describe(t)}`);
      c.i++;
      c.expectEnd();
      chipName = t.text;
      chipLine = s.name.line;
    } else if (d === '.tensor') {
      tensorDirective(c);
    } else if (d === '.output') {
      if (c.done()) c.fail('expected tensor names after .output');
      while (!c.done()) {
        outputs.push(c.expectIdent('a tensor name'));
        c.eatPunct(',');
      }
    } else if (d !== '.queue' && d !== '.raw') {
      err(`unknown directive "${s.name.text}" (directives: .chip, .tensor, .output, .queue, .raw)`, s.name);
    }
  }
  for (const o of outputs) {
    const ti = tensors.get(o.text);
    if (!ti) err(`unknown tensor "${o.text}" in .output`, o);
    ti.t.output = true;
  }

  // ---- pass 2: queues and instructions
  const queues: QueueState[] = [];
  const seen = new Map<string, number>();
  let cur: QueueState | null = null;
  for (const s of stmts) {
    if (s.kind === 'directive') {
      const d = s.name.text.toLowerCase();
      const c: TokenCursor = new TokenCursor(s.args, file, s.end);
      if (d === '.queue') {
        const t = c.expectIdent('a queue name');
        c.expectEnd();
        const q = fp.queueByName.get(t.text.toUpperCase());
        if (!q) err(`unknown queue "${t.text}" (${chip.name} has ${queueList(fp)})`, t);
        if (seen.has(q.name)) err(`queue ${q.name} already has a section (line ${seen.get(q.name)})`, t);
        seen.set(q.name, t.line);
        cur = { qp: { name: q.name, code: new Uint8Array(0), lines: [] }, queue: q, code: [], prev: null, cycle: 0 };
        queues.push(cur);
      } else if (d === '.raw') {
        if (!cur) err('.raw outside a queue (start a section with .queue NAME)', s.name);
        const t = c.expectString('a string of 32 hex digits');
        c.expectEnd();
        if (!/^[0-9A-Fa-f]{32}$/.test(t.text)) err('.raw needs exactly 32 hex digits (one 16-byte record)', t);
        const rec = new Uint8Array(INSTRUCTION_BYTES);
        for (let k = 0; k < INSTRUCTION_BYTES; k++) rec[k] = parseInt(t.text.slice(2 * k, 2 * k + 2), 16);
        if (!INSTRUCTIONS.some((i) => i.opcode === rec[0])) err(`.raw: unknown opcode ${rec[0]}`, t);
        emit(cur, rec, s.name);
      }
      continue;
    }
    instruction(s);
  }

  function emit(q: QueueState, rec: Uint8Array, pos: Pos) {
    for (const b of rec) q.code.push(b);
    q.qp.lines.push({ line: pos.line, col: pos.col });
    const f = recordFields(rec);
    q.cycle = advanceCycle(q.cycle, f);
    q.prev = { op: f.op, dtype: f.dtype, a: f.a };
  }

  function instruction(s: InstrStmt) {
    const mt = s.mnemonic;
    const dot = mt.text.indexOf('.');
    const mnText = dot < 0 ? mt.text : mt.text.slice(0, dot);
    const dtText = dot < 0 ? null : mt.text.slice(dot + 1);
    const dtPos: Pos = { line: mt.line, col: mt.col + dot + 1 };
    const ins = instructionByMnemonic(mnText);
    if (!ins) err(`unknown mnemonic "${mnText}"`, mt);
    if (!cur) err(`instruction outside a queue (start a section with .queue NAME)`, mt);
    const q = cur;
    const where: WhereFn = (what) => {
      if (what === 'mn') return posAt(mt);
      if (what === 'dt') return posAt(dtPos);
      const toks = s.operands[what];
      return toks ? posAt(toks[0]!) : posAt(mt);
    };
    const ctx: EncodeCtx = { chip, fp, queue: q.queue, prev: q.prev };
    const dt = checkHead(ctx, ins, dtText, where);

    if (s.operands.length > ins.operands.length) {
      const extra = s.operands[ins.operands.length]![0]!;
      err(`too many operands: ${ins.mnemonic} takes ${ins.operands.length} (${opList(ins)})`, extra);
    }
    const required = ins.operands.filter((o) => !o.optional).length;
    if (s.operands.length < required) {
      err(`too few operands: ${ins.mnemonic} needs ${required === ins.operands.length ? '' : 'at least '}${required} (${opList(ins)}), got ${s.operands.length}`, mt);
    }

    // @cycle placement
    if (s.atTok && s.cycleTok) {
      const c: TokenCursor = new TokenCursor([s.cycleTok], file, s.end);
      const cyc = c.integer('cycle', 0, Number.MAX_SAFE_INTEGER).value;
      if (ins.opcode === OP_REPEAT) err('REPEAT takes no @cycle: it follows the instruction it repeats', s.atTok);
      if (q.cycle === null) err(`@${cyc}: the issue cycle of ${q.queue.name} is unknown after SYNC (use NOP)`, s.atTok);
      if (cyc < q.cycle) err(`@${cyc} is before ${q.queue.name}'s current cycle ${q.cycle}`, s.atTok);
      let gap = cyc - q.cycle;
      while (gap > 0) {
        const n = Math.min(gap, I32_MAX);
        const nop = new Uint8Array(INSTRUCTION_BYTES);
        nop[0] = OP_NOP;
        new DataView(nop.buffer).setInt32(8, n, true);
        emit(q, nop, mt);
        gap -= n;
      }
    }

    const vals = ins.operands.map((op, i) => (i < s.operands.length ? operand(op, s.operands[i]!, q, ins) : undefined));
    const rec = encodeOperands({ ...ctx, prev: q.prev }, ins, dt, vals, where);
    emit(q, rec, mt);
  }

  function operand(op: Operand, toks: Token[], q: QueueState, ins: Instruction): OpVal {
    const end = (() => {
      const l = toks[toks.length - 1]!;
      return { line: l.line, col: l.col + l.text.length };
    })();
    const c: TokenCursor = new TokenCursor(toks, file, end);
    const first = toks[0]!;
    function kindErr(what: string): never {
      // strings as written (JSON-escaped): the message stays one line
      const got = toks.map((t) => (t.kind === 'str' ? JSON.stringify(t.text) : t.text)).join('');
      err(`operand "${op.name}" of ${ins.mnemonic}: expected ${what}, got "${got}"`, first);
    }
    let v: OpVal;
    switch (op.kind) {
      case 'stream':
      case 'streamOpt': {
        if (op.kind === 'streamOpt' && toks.length === 1 && first.kind === 'punct' && first.text === '-') {
          v = { kind: 'stream', id: STREAM_NONE };
          break;
        }
        const what = op.kind === 'stream' ? 'a stream (E<n> or W<n>)' : 'a stream (E<n> or W<n>) or "-"';
        if (first.kind !== 'ident' || !/^[EW]\d+$/i.test(first.text)) kindErr(what);
        c.i++;
        c.expectEnd();
        const id = fp.streamId(first.text.toUpperCase());
        if (id === undefined) err(`unknown stream "${first.text}" (${streamsText(chip)})`, first);
        v = { kind: 'stream', id };
        break;
      }
      case 'addr': {
        if (first.kind === 'ident') {
          c.i++;
          const ti = tensors.get(first.text);
          if (!ti) err(`unknown tensor "${first.text}"`, first);
          let row = 0;
          if (c.eatPunct('[')) {
            const r = c.integer('a row index');
            c.expectPunct(']');
            row = r.value;
            if (row < 0 || row >= ti.t.shape[0]) err(`row ${row} is outside tensor "${ti.t.name}" (rows 0..${ti.t.shape[0] - 1})`, r.tok);
          }
          c.expectEnd();
          const pl = ti.t.placement.find((p) => p.slice === q.queue.slice.name);
          if (!pl) {
            err(`tensor "${ti.t.name}" is not in ${q.queue.slice.name} (it is in ${ti.t.placement.map((p) => p.slice).join(', ')})`, first);
          }
          v = { kind: 'addr', addr: pl.addr + row * ti.pps, defWidth: ti.pps };
        } else {
          if (!(first.kind === 'num' || (first.kind === 'punct' && (first.text === '-' || first.text === '+')))) {
            kindErr('an address (a number or a tensor name)');
          }
          const n = c.integer('an address');
          c.expectEnd();
          v = { kind: 'addr', addr: n.value, defWidth: 1 };
        }
        break;
      }
      case 'int': {
        if (!(first.kind === 'num' || (first.kind === 'punct' && (first.text === '-' || first.text === '+')))) kindErr('an integer');
        const n = c.integer(`operand "${op.name}"`);
        c.expectEnd();
        v = { kind: 'int', value: n.value };
        break;
      }
      case 'float': {
        const isNum = first.kind === 'num' || (first.kind === 'punct' && (first.text === '-' || first.text === '+')) ||
          (first.kind === 'ident' && /^(inf|nan)$/i.test(first.text));
        if (!isNum) kindErr('a number');
        const n = c.number(`operand "${op.name}"`, true);
        c.expectEnd();
        v = { kind: 'float', value: n.value };
        break;
      }
      case 'dtype': {
        const d = first.kind === 'ident' ? dtypeByName(first.text.toLowerCase()) : undefined;
        if (!d) kindErr(`a dtype (${DTYPE_NAMES.join(', ')})`);
        c.i++;
        c.expectEnd();
        v = { kind: 'dtype', dtype: d };
        break;
      }
      case 'step': {
        if (!(first.kind === 'punct' && (first.text === '+' || first.text === '-'))) kindErr('a signed step (+N or -N)');
        const n = c.integer('step');
        c.expectEnd();
        v = { kind: 'step', value: n.value };
        break;
      }
      case 'flag': {
        if (first.kind !== 'ident' || first.text.toLowerCase() !== op.keyword) kindErr(`"${op.keyword}" or nothing`);
        c.i++;
        c.expectEnd();
        v = { kind: 'flag', set: true };
        break;
      }
    }
    return v;
  }

  function tensorDirective(c: TokenCursor) {
    const nameTok = c.expectIdent('a tensor name');
    const name = nameTok.text;
    if (!TENSOR_NAME.test(name)) err(`bad tensor name "${name}" (letters, digits and _, not starting with a digit)`, nameTok);
    const prev = tensors.get(name);
    if (prev) err(`duplicate tensor "${name}" (first declared at line ${prev.line})`, nameTok);
    const dtTok = c.expectIdent('a dtype');
    const dt = dtypeByName(dtTok.text.toLowerCase());
    if (!dt) err(`unknown dtype "${dtTok.text}" (one of ${DTYPE_NAMES.join(', ')})`, dtTok);
    c.expectPunct('[', '"[" and a shape');
    const dims: { value: number; tok: Token }[] = [];
    do {
      const n = c.integer('a dimension', 0, Number.MAX_SAFE_INTEGER);
      dims.push({ value: n.value, tok: n.tok });
    } while (c.eatPunct(','));
    c.expectPunct(']');
    if (dims.length > 2) err('a tensor shape is [cols] or [rows, cols]', dims[2]!.tok);
    const rowsD = dims.length === 2 ? dims[0]! : null;
    const colsD = dims[dims.length - 1]!;
    const rows = rowsD ? rowsD.value : 1;
    if (rowsD && rows < 1) err(`rows must be >= 1, got ${rows}`, rowsD.tok);
    if (colsD.value < 1 || colsD.value > chip.lanes) err(`cols must be 1..${chip.lanes} (the lanes of ${chip.name}), got ${colsD.value}`, colsD.tok);
    const cols = colsD.value;

    c.expectPunct('@', '"@" and a placement (SLICE:ADDR, ...)');
    const placement: { slice: string; addr: number; tok: Token }[] = [];
    do {
      const st = c.expectIdent('a MEM slice name');
      const sl = fp.memSlices.find((x) => x.name === st.text.toUpperCase());
      if (!sl) err(`unknown MEM slice "${st.text}" (${chip.name} has ${memSliceList(fp)})`, st);
      if (placement.some((p) => p.slice === sl.name)) err(`slice ${sl.name} is listed twice`, st);
      c.expectPunct(':', '":" and an address');
      const a = c.integer('an address', 0, I32_MAX);
      placement.push({ slice: sl.name, addr: a.value, tok: st });
    } while (c.eatPunct(','));
    if (dt.bytes % placement.length !== 0) {
      err(`${dt.name} has ${dt.bytes} byte planes; they cannot be split evenly over ${placement.length} slices`, placement[0]!.tok);
    }
    const pps = dt.bytes / placement.length;
    const need = rows * pps;
    for (const p of placement) {
      const last = p.addr + need - 1;
      if (last >= chip.memVectorsPerSlice) {
        err(`tensor "${name}" needs vectors ${p.addr}..${last} of ${p.slice}, but the slice has ${chip.memVectorsPerSlice} (0..${chip.memVectorsPerSlice - 1})`, p.tok);
      }
      const list = occupied.get(p.slice) ?? [];
      for (const o of list) {
        if (p.addr <= o.hi && o.lo <= last) {
          err(`tensor "${name}" (${p.slice} ${p.addr}..${last}) overlaps tensor "${o.name}" (${p.slice} ${o.lo}..${o.hi})`, p.tok);
        }
      }
    }
    for (const p of placement) {
      const list = occupied.get(p.slice) ?? [];
      list.push({ name, lo: p.addr, hi: p.addr + need - 1 });
      occupied.set(p.slice, list);
    }

    let data: Uint8Array | null = null;
    if (c.eatPunct('=')) data = initialiser(c, dt, rows, cols, name);
    c.expectEnd();
    const t: Tensor = {
      name,
      dtype: dt.name,
      shape: [rows, cols],
      placement: placement.map((p) => ({ slice: p.slice, addr: p.addr })),
      output: false,
      data,
    };
    tensors.set(name, { t, line: nameTok.line, pps });
  }

  function initialiser(c: TokenCursor, dt: Dtype, rows: number, cols: number, name: string): Uint8Array | null {
    const count = rows * cols;
    const bytes = count * dt.bytes;
    const t = c.peek();
    if (t && t.kind === 'punct' && t.text === '[') {
      const values: number[] = [];
      listInto(c, values, dt);
      if (values.length !== count) {
        err(`tensor "${name}" has ${count} elements (${rows}x${cols}), the list has ${values.length}`, t);
      }
      return fillLiteral(dt.name, values);
    }
    const fn = c.expectIdent('an initialiser: random(...), range(...), zeros, [values], file("..."), base64("...")');
    const f = fn.text.toLowerCase();
    if (f === 'zeros') {
      if (c.eatPunct('(')) c.expectPunct(')');
      return null;
    }
    if (f === 'random') {
      c.expectPunct('(');
      const seed = c.integer('a seed (0..4294967295)', 0, 4294967295);
      let lo: number | undefined;
      let hi: number | undefined;
      if (c.eatPunct(',')) {
        lo = finite(c.number('lo'));
        c.expectPunct(',', '"," and hi (random takes a seed, or a seed, lo and hi)');
        hi = finite(c.number('hi'));
      }
      c.expectPunct(')');
      return fillRandom(dt.name, count, seed.value, lo, hi);
    }
    if (f === 'range') {
      c.expectPunct('(');
      const start = finite(c.number('start'));
      let step = 1;
      if (c.eatPunct(',')) step = finite(c.number('step'));
      c.expectPunct(')');
      return fillRange(dt.name, count, start, step);
    }
    if (f === 'file') {
      c.expectPunct('(');
      const p = c.expectString('a file name in double quotes');
      c.expectPunct(')');
      const full = resolvePath(dirname(file), p.text);
      let buf: Uint8Array;
      try {
        buf = readFile(full);
      } catch (e) {
        let why = (e as { code?: string }).code === 'ENOENT' ? 'no such file' : String((e as Error)?.message ?? e);
        if (e instanceof SfError && e.where && why.startsWith(`${e.where}: `)) why = why.slice(e.where.length + 2);
        err(`cannot read data file ${JSON.stringify(p.text)} (${placeName(full)}): ${why.replace(/[\r\n]+/g, ' ')}`, p);
      }
      if (buf.length !== bytes) {
        err(`data file ${JSON.stringify(p.text)} is ${buf.length} bytes; tensor "${name}" (${dt.name}[${rows},${cols}]) needs ${bytes}`, p);
      }
      return new Uint8Array(buf);
    }
    if (f === 'base64') {
      c.expectPunct('(');
      const p = c.expectString('base64 data in double quotes');
      c.expectPunct(')');
      const b = decodeBase64(p.text);
      if (!b) err('bad base64 data', p);
      if (b.length !== bytes) err(`base64 data is ${b.length} bytes; tensor "${name}" (${dt.name}[${rows},${cols}]) needs ${bytes}`, p);
      return b;
    }
    err(`unknown initialiser "${fn.text}" (random, range, zeros, [values], file, base64)`, fn);
  }

  function finite(n: { value: number; tok: Token }): number {
    if (!Number.isFinite(n.value)) err('expected a finite number', n.tok);
    return n.value;
  }

  function listInto(c: TokenCursor, out: number[], dt: Dtype) {
    c.expectPunct('[');
    if (c.eatPunct(']')) return;
    do {
      if (c.isPunct('[')) {
        listInto(c, out, dt);
        continue;
      }
      const n = c.number('a value', dt.float);
      if (!dt.float) {
        if (!n.integral || !Number.isSafeInteger(n.value)) err(`${dt.name} values must be integers, got ${n.value}`, n.tok);
        if (n.value < dt.min || n.value > dt.max) err(`${n.value} does not fit ${dt.name} (${dt.min}..${dt.max})`, n.tok);
      }
      out.push(n.value);
    } while (c.eatPunct(','));
    c.expectPunct(']', '"," or "]"');
  }

  // ---- result
  const program: Program = {
    chip: chipName,
    queues: queues.map((q) => ({ name: q.qp.name, code: Uint8Array.from(q.code), lines: q.qp.lines })),
    tensors: [...tensors.values()].map((ti) => ti.t),
    source: file,
  };
  return program;
}

function opList(ins: Instruction): string {
  return ins.operands.map((o) => (o.optional ? `[${o.name}]` : o.name)).join(', ') || 'none';
}
