// The disassembler: Program -> assembly text that assembles back to the same bytes,
//   encodeProgram(assemble(disassemble(p, chip), {file, chip}), {debug: false})
//     == encodeProgram(p, {debug: false})
// Every operand is printed explicitly (numeric addresses, MEM width and step, default values),
// tensor data as base64("..."), and each instruction carries a comment with its issue cycle
// (`; @12`, `; @?` after a SYNC) and, where the program has debug lines, its source line.
// A record the language cannot express (junk in unused fields, out-of-range values, a NaN
// payload, ...) is printed as `.raw "<32 hex digits>"` so that the round trip still holds.
import type { ChipConfig } from '../chip/config.js';
import { floorplan, type Floorplan, type Queue } from '../chip/floorplan.js';
import { dtypeByCode, type Dtype } from '../isa/dtypes.js';
import { INSTRUCTION_BYTES, STREAM_NONE, instructionByOpcode, type Instruction } from '../isa/table.js';
import { loadChipPreset } from '../chip/preset.js';
import { bitsToF32 } from '../util/numerics.js';
import { F32_NAN_BITS, advanceCycle, checkHead, encodeOperands, recordFields, type EncodeCtx, type OpVal } from './assemble.js';
import { encodeBase64 } from './fill.js';
import { placeName } from '../util/errors.js';
import { tensorAt, type Program } from './program.js';

/** Shortest decimal text that reads back as exactly the f32 value `v` (inf, -inf, nan too). */
export function formatF32(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (Object.is(v, -0)) return '-0';
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return s;
  }
  return String(v);
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_.\-]*$/;

function guessQueue(name: string): Queue {
  const unit = (['MEM', 'VXM', 'MXM', 'SXM', 'C2C'] as const).find((u) => name.startsWith(u)) ?? 'MEM';
  const slice = { name, unit, position: -1 };
  return { id: -1, name, unit, slice, position: -1, unitIndex: -1 };
}

/**
 * Disassemble `p` for `chip`, which names the streams (E0..E(S-1), W0..W(S-1)) and decides what
 * the assembler accepts. Without `chip`, the preset named by p.chip (else tsp-v1) is loaded.
 */
export function disassemble(p: Program, chip?: ChipConfig): string {
  if (!chip) chip = loadChipPreset(p.chip ?? 'tsp-v1');
  const fp = floorplan(chip);
  const out: string[] = [];
  // the source name is a container's say-so: quoted if it could end the comment line
  out.push(`; sramflow disassembly${p.source ? ` of ${placeName(p.source)}` : ''}`);
  if (p.chip !== null) out.push(`.chip ${IDENT.test(p.chip) ? p.chip : JSON.stringify(p.chip)}`);
  for (const t of p.tensors) {
    const pl = t.placement.map((x) => `${x.slice}:${x.addr}`).join(', ');
    const init = t.data ? ` = base64("${encodeBase64(t.data)}")` : '';
    out.push(`.tensor ${t.name} ${t.dtype}[${t.shape[0]},${t.shape[1]}] @ ${pl}${init}`);
  }
  const outs = p.tensors.filter((t) => t.output).map((t) => t.name);
  if (outs.length) out.push(`.output ${outs.join(' ')}`);
  for (const q of p.queues) {
    out.push('');
    out.push(`.queue ${q.name}`);
    disasmQueue(q, fp.queueByName.get(q.name) ?? guessQueue(q.name), chip, fp, p.tensors, out);
  }
  return out.join('\n') + '\n';
}


function disasmQueue(q: Program['queues'][number], queue: Queue, chip: ChipConfig, fp: Floorplan, tensors: Program['tensors'], out: string[]) {
  const count = Math.floor(q.code.length / INSTRUCTION_BYTES);
  const withLines = q.lines.length === count;
  let cycle: number | null = 0;
  let prev: EncodeCtx['prev'] = null;
  let prevIssueAt: number | null = null;
  for (let k = 0; k < count; k++) {
    const rec = q.code.subarray(k * INSTRUCTION_BYTES, (k + 1) * INSTRUCTION_BYTES);
    const f = recordFields(rec);
    const text = render(rec, { chip, fp, queue, prev }) ?? `.raw "${hex(rec)}"`;
    let when: string;
    if (f.op === 1) {
      when = prevIssueAt === null ? '@?' : `@${prevIssueAt + f.b}..${prevIssueAt + f.a * f.b}`;
    } else {
      when = cycle === null ? '@?' : `@${cycle}`;
      prevIssueAt = cycle;
    }
    const line = withLines ? ` line ${q.lines[k]!.line}` : '';
    const ins = instructionByOpcode(f.op);
    let note = '';
    if (text.startsWith('.raw')) note = ` (${ins?.mnemonic ?? `opcode ${f.op}`})`;
    else if (ins && ins.operands.some((o) => o.kind === 'addr')) {
      const name = tensorAt(tensors, queue.slice.name, f.a);
      if (name) note = ` (${name})`;
    }
    out.push(`    ${text.padEnd(40)} ; ${when}${line}${note}`);
    cycle = advanceCycle(cycle, f);
    prev = { op: f.op, dtype: f.dtype, a: f.a };
  }
}

function hex(rec: Uint8Array): string {
  return Array.from(rec, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Assembly text for one record, or null where the language cannot reproduce it exactly. */
function render(rec: Uint8Array, ctx: EncodeCtx): string | null {
  const f = recordFields(rec);
  const ins = instructionByOpcode(f.op);
  if (!ins) return null;
  let dt: Dtype | null = null;
  if (ins.dtypes.length) {
    const d = dtypeByCode(f.dtype);
    if (!d) return null;
    dt = d;
  }
  const vals: OpVal[] = [];
  const texts: string[] = [];
  for (const op of ins.operands) {
    const x = f[op.field];
    switch (op.kind) {
      case 'stream':
      case 'streamOpt':
        vals.push({ kind: 'stream', id: x });
        if (x === STREAM_NONE && op.kind === 'streamOpt') texts.push('-');
        else if (x < 2 * ctx.chip.streamsPerDirection) texts.push(ctx.fp.streamName(x));
        else return null;
        break;
      case 'addr':
        vals.push({ kind: 'addr', addr: x, defWidth: 1 });
        texts.push(String(x));
        break;
      case 'int':
        vals.push({ kind: 'int', value: x });
        texts.push(String(x));
        break;
      case 'step':
        vals.push({ kind: 'step', value: x });
        texts.push(x < 0 ? String(x) : `+${x}`);
        break;
      case 'float': {
        const intImm = dt !== null && !dt.float && op.name !== 'scale';
        if (intImm) {
          vals.push({ kind: 'float', value: x });
          texts.push(String(x));
        } else {
          const v = bitsToF32(x);
          if (Number.isNaN(v) && x >>> 0 !== F32_NAN_BITS) return null;
          vals.push({ kind: 'float', value: v });
          texts.push(formatF32(v));
        }
        break;
      }
      case 'dtype': {
        const d = dtypeByCode(x);
        if (!d) return null;
        vals.push({ kind: 'dtype', dtype: d });
        texts.push(d.name);
        break;
      }
      case 'flag': {
        const set = (x & op.bit!) !== 0;
        vals.push({ kind: 'flag', set });
        texts.push(set ? op.keyword! : '');
        break;
      }
    }
  }
  // Unset flags are written by leaving them out, which only works at the end of the list.
  while (texts.length && texts[texts.length - 1] === '') texts.pop();
  if (texts.includes('')) return null;
  let again: Uint8Array;
  try {
    const where = () => '';
    checkHead(ctx, ins, dt ? dt.name : null, where);
    again = encodeOperands(ctx, ins, dt, vals, where);
  } catch {
    return null;
  }
  for (let i = 0; i < INSTRUCTION_BYTES; i++) if (again[i] !== rec[i]) return null;
  return `${mnemonic(ins, dt)}${texts.length ? ' ' + texts.join(', ') : ''}`;
}

function mnemonic(ins: Instruction, dt: Dtype | null): string {
  return dt ? `${ins.mnemonic}.${dt.name}` : ins.mnemonic;
}
