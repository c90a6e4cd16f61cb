import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assemble } from '../src/asm/assemble.js';
import { decodeProgram, encodeProgram } from '../src/asm/container.js';
import { disassemble, formatF32 } from '../src/asm/disasm.js';
import { decodeBase64, fillRandom, fillRange, mulberry32 } from '../src/asm/fill.js';
import type { Program } from '../src/asm/program.js';
import type { ChipConfig } from '../src/chip/config.js';
import { floorplan } from '../src/chip/floorplan.js';
import { loadChipPreset } from '../src/chip/preset.js';
import { dtypeByName } from '../src/isa/dtypes.js';
import { INSTRUCTIONS, type Instruction } from '../src/isa/table.js';
import { SfError } from '../src/util/errors.js';
import {
  bf16BitsToF32,
  decodeElements,
  encodeElements,
  f32ToBf16Bits,
  f32ToFp16Bits,
  fp16BitsToF32,
  roundToDtype,
} from '../src/util/numerics.js';

const tiny = loadChipPreset('tiny');
const tsp = loadChipPreset('tsp-v1');

function asm(src: string, chip: ChipConfig = tiny, readFile?: (p: string) => Uint8Array): Program {
  return assemble(src, { file: 'k.sfa', chip, readFile });
}

/** Assemble, expecting an SfError at `where` (line:col in k.sfa) whose message contains `msg`. */
function expectError(src: string, where: string, msg: string | RegExp, chip: ChipConfig = tiny): SfError {
  let caught: unknown;
  try {
    asm(src, chip, () => {
      throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
    });
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an SfError').toBeInstanceOf(SfError);
  const e = caught as SfError;
  expect(e.where).toBe(`k.sfa:${where}`);
  if (typeof msg === 'string') expect(e.message).toContain(msg);
  else expect(e.message).toMatch(msg);
  expect(e.message).not.toContain('\n');
  return e;
}

const bytesOf = (p: Program) => encodeProgram(p, { debug: false });

// ---- a program that uses every instruction of the table -----------------------------------

function supported(chip: ChipConfig, ins: Instruction, d: string): boolean {
  if (ins.unit === 'VXM') return (chip.vxmDtypes as string[]).includes(d);
  if (ins.unit === 'MXM') return (chip.mxmDtypes as string[]).includes(d);
  return true;
}

/** The queue a sample instruction goes to: the first of its unit on the floorplan (ICU: MEM.W0). */
function queueOf(chip: ChipConfig, ins: Instruction): string | undefined {
  if (ins.unit === 'ICU' || ins.unit === 'MEM') return 'MEM.W0';
  return floorplan(chip).queues.find((q) => q.unit === ins.unit)?.name;
}

/** A sample operand for each kind; `full` writes every optional operand too. */
function sampleOperand(ins: Instruction, i: number, dtype: string | null, full: boolean): string {
  const op = ins.operands[i]!;
  const streams = ['E0', 'E4', 'W0'];
  const streamIdx = ins.operands.slice(0, i).filter((o) => o.kind === 'stream' || o.kind === 'streamOpt').length;
  const isFloat = dtype !== null && dtypeByName(dtype)!.float;
  switch (op.kind) {
    case 'stream':
      return streams[streamIdx % 3]!;
    case 'streamOpt':
      return full ? streams[streamIdx % 3]! : '-';
    case 'addr':
      return full ? '9' : 't[1]';
    case 'int': {
      const ints: Record<string, number> = { n: 2, d: 2, width: 2, row: 1, rows: 2, lane: 1, seg: 4 };
      return String(ins.mnemonic === 'TRANS' ? 4 : (ints[op.name] ?? 1));
    }
    case 'float':
      return op.name === 'scale' ? '0.5' : isFloat ? '0.1' : '-3';
    case 'dtype':
      return 'int16';
    case 'step':
      return '-3';
    case 'flag':
      return op.keyword!;
  }
}

function sampleLine(ins: Instruction, chip: ChipConfig, full: boolean): string {
  const dtype = ins.dtypes.length ? ins.dtypes.find((d) => supported(chip, ins, d))! : null;
  const n = full ? ins.operands.length : ins.operands.filter((o) => !o.optional).length;
  const ops = Array.from({ length: n }, (_, i) => sampleOperand(ins, i, dtype, full));
  const m = dtype ? `${ins.mnemonic.toLowerCase()}.${dtype}` : ins.mnemonic;
  return `${m} ${ops.join(', ')}`.trim();
}

function everyInstructionSource(chip: ChipConfig): string {
  const byQueue = new Map<string, string[]>();
  for (const full of [false, true]) {
    for (const ins of INSTRUCTIONS) {
      const q = queueOf(chip, ins);
      if (q === undefined) continue; // a unit this chip has no queue for: no program can hold it
      const lines = byQueue.get(q) ?? [];
      // ICU instructions (REPEAT above all) follow a MEM instruction.
      if (ins.unit === 'ICU') lines.push('READ t, E0');
      lines.push(sampleLine(ins, chip, full));
      byQueue.set(q, lines);
    }
  }
  const body = [...byQueue].map(([q, lines]) => `.queue ${q}\n${lines.map((l) => `    ${l}`).join('\n')}\n    HALT\n`);
  return [
    '; every instruction of the table',
    `.chip ${chip.name}`,
    '.tensor t int8[4,16] @ MEM.W0:0 = random(3)',
    '.tensor u fp32[2,8] @ MEM.E0:4, MEM.E1:4 = range(-1, 0.25)',
    '.tensor v fp16[3] @ MEM.E2:0, MEM.E3:0 = [1.5, -2, inf]',
    '.tensor z bf16[2,2] @ MEM.W1:10',
    '.tensor b int16[1,2] @ MEM.W2:0 = base64("AQACAA==")',
    '.output u z',
    '.queue MEM.E0',
    '    @7 READ u, E0',
    '       REPEAT 1, 1',
    '    @20 WRITE u[1], W0, 2, +0',
    '    SYNC',
    '    NOP 3',
    '    HALT',
    ...body,
  ].join('\n');
}

describe('round trips', () => {
  for (const chip of [tiny, tsp]) {
    it(`text -> program -> disasm -> program covers every instruction (${chip.name})`, () => {
      const src = everyInstructionSource(chip);
      const p1 = asm(src, chip);
      const ops = new Set<number>();
      for (const q of p1.queues) for (let k = 0; k < q.code.length; k += 16) ops.add(q.code[k]!);
      for (const ins of INSTRUCTIONS) if (queueOf(chip, ins)) expect(ops.has(ins.opcode), ins.mnemonic).toBe(true);
      const text = disassemble(p1, chip);
      expect(text).not.toContain('.raw');
      const p2 = assemble(text, { file: 'd.sfa', chip });
      expect(bytesOf(p2)).toEqual(bytesOf(p1));
      // and once more: the disassembly is a fixed point
      expect(disassemble(p2, chip).replace(/ line \d+/g, '').split('\n').slice(1)).toEqual(
        text.replace(/ line \d+/g, '').split('\n').slice(1),
      );
    });

    it(`container encode/decode (${chip.name})`, () => {
      const p1 = asm(everyInstructionSource(chip), chip);
      const bin = encodeProgram(p1);
      const p2 = decodeProgram(bin, 'k.sfp');
      expect(p2).toEqual(p1);
      expect(encodeProgram(p2)).toEqual(bin);
      const nodebug = decodeProgram(bytesOf(p1), 'k.sfp');
      expect(nodebug.source).toBeNull();
      expect(nodebug.queues.every((q) => q.lines.length === 0)).toBe(true);
      expect(bytesOf(nodebug)).toEqual(bytesOf(p1));
    });
  }

  it('program shape: queue order, lines, tensors, chip, source, @ NOPs', () => {
    const p = asm(
      [
        '.tensor x fp32[4,32] @ MEM.W0:0, MEM.W1:0 = random(7, -2, 2)',
        '.tensor b fp16[32] @ MEM.W2:0',
        '.output x',
        '.output b',
        '.queue VXM.0',
        '    @14 ADD.fp32 E4, E0, W0',
        '        HALT',
        '.queue MEM.W0',
        '    @10 READ x[1], E0',
        '        REPEAT 3, 1',
        '        HALT',
      ].join('\n'),
    );
    expect(p.chip).toBeNull();
    expect(p.source).toBe('k.sfa');
    expect(p.queues.map((q) => q.name)).toEqual(['VXM.0', 'MEM.W0']);
    expect(p.tensors.map((t) => [t.name, t.shape, t.output, t.data === null])).toEqual([
      ['x', [4, 32], true, false],
      ['b', [1, 32], true, true],
    ]);
    const mem = p.queues[1]!;
    expect(mem.code.length).toBe(4 * 16);
    expect(mem.lines).toEqual([
      { line: 9, col: 9 },
      { line: 9, col: 9 },
      { line: 10, col: 9 },
      { line: 11, col: 9 },
    ]);
    const dv = new DataView(mem.code.buffer);
    expect([mem.code[0], dv.getInt32(8, true)]).toEqual([0, 10]); // NOP 10
    // READ x[1] in MEM.W0: addr = 0 + 1 * 2 planes, width 2, step 2
    expect([mem.code[16], mem.code[16 + 5], dv.getInt32(16 + 8, true), dv.getInt32(16 + 12, true)]).toEqual([16, 2, 2, 2]);
    const text = disassemble(p, tiny);
    expect(text).toContain('READ 2, E0, 2, +2');
    expect(text).toMatch(/NOP 10 +; @0 line 9/);
    expect(text).toMatch(/READ 2, E0, 2, \+2 +; @10 line 9/);
    expect(text).toMatch(/REPEAT 3, 1 +; @11\.\.13 line 10/);
    expect(text).toMatch(/HALT +; @14 line 11/);
  });

  it('the example in docs/asm.md assembles and round-trips', () => {
    const md = readFileSync(new URL('../docs/asm.md', import.meta.url), 'utf8');
    const src = /```\n(; y = x\[1\] \+ b[\s\S]*?)```/.exec(md)![1]!;
    const p = asm(src);
    expect(p.chip).toBe('tiny');
    expect(p.queues.map((q) => q.name)).toEqual(['MEM.W3', 'MEM.W2', 'MEM.W1', 'MEM.W0', 'VXM.0', 'MEM.E0', 'MEM.E1']);
    expect(bytesOf(assemble(disassemble(p, tiny), { file: 'd.sfa', chip: tiny }))).toEqual(bytesOf(p));
  });

  it('cycle comments: @? after SYNC, MM fp16 takes 2 cycles', () => {
    const p = asm('.queue MXM.W0\n MM.fp16 E0, -\n MM.fp16 E0, -, acc\n SYNC\n NOP 1\n HALT\n');
    const text = disassemble(p, tiny);
    expect(text).toMatch(/MM\.fp16 E0, - +; @0/);
    expect(text).toMatch(/MM\.fp16 E0, -, acc +; @2/);
    expect(text).toMatch(/SYNC +; @4/);
    expect(text).toMatch(/NOP 1 +; @\?/);
  });

  it('float immediates round-trip to the same f32 bits', () => {
    const values = ['0.1', '-0', '1e-45', '3.4028234663852886e38', '1.17549435e-38', 'inf', '-inf', 'nan', '16777217', '0.3333333432674408'];
    const src = `.queue VXM.0\n${values.map((v) => `  ADDS.fp32 E0, E0, ${v}\n  MULS.fp16 E0, E0, ${v}\n  CVT.int8 E0, E0, fp32, ${v}`).join('\n')}\n  HALT\n`;
    const p = asm(src);
    const text = disassemble(p, tiny);
    expect(text).not.toContain('.raw');
    expect(bytesOf(assemble(text, { file: 'd.sfa', chip: tiny }))).toEqual(bytesOf(p));
    for (const bits of [0x3dcccccd, 0x80000000, 0x00000001, 0x7f7fffff, 0x00800000, 0x7f800000]) {
      const v = new Float32Array(new Uint32Array([bits]).buffer)[0]!;
      expect(new Uint32Array(new Float32Array([Number(formatF32(v).replace('inf', 'Infinity'))]).buffer)[0]).toBe(bits);
    }
  });

  it('records the language cannot express come back as .raw and still round-trip', () => {
    const p = asm('.queue VXM.0\n ADDS.fp32 E0, E0, 1\n HALT\n');
    const code = p.queues[0]!.code;
    code[7] = 9; // junk in the unused aux field
    new DataView(code.buffer).setUint32(16 + 12, 0x7fc00001, true); // HALT with junk in b
    const text = disassemble(p, tiny);
    expect(text.match(/\.raw "/g)?.length).toBe(2);
    expect(bytesOf(assemble(text, { file: 'd.sfa', chip: tiny }))).toEqual(bytesOf(p));
  });
});

// ---- errors ---------------------------------------------------------------------------------

describe('errors point at the offending token', () => {
  const T = '.tensor t int8[4,16] @ MEM.W0:0\n';
  it('unknown directive', () => expectError('.tensor t int8[4] @ MEM.W0:0\n  .foo 1\n', '2:3', 'unknown directive ".foo"'));
  it('unknown mnemonic', () => expectError('.queue VXM.0\n  FROB E0\n', '2:3', 'unknown mnemonic "FROB"'));
  it('unknown queue name lists valid ones', () => {
    const e = expectError('.queue MEM.W9\n', '1:8', 'unknown queue "MEM.W9"');
    expect(e.message).toContain('MEM.W3..MEM.W0');
    expect(e.message).toContain('VXM.0..VXM.3');
  });
  it('duplicate queue section', () => expectError('.queue VXM.0\nHALT\n.queue vxm.0\n', '3:8', 'already has a section'));
  it('instruction outside a queue', () => expectError('; hi\n   ADD.fp32 E0, E0, E0\n', '2:4', 'outside a queue'));
  it('wrong operand kind', () => expectError(`${T}.queue MEM.W0\n  READ t, 5\n`, '3:11', 'operand "dst" of READ: expected a stream'));
  it('step needs a sign', () => expectError(`${T}.queue MEM.W0\n  READ t, E0, 1, 3\n`, '3:18', 'expected a signed step'));
  it('too many operands', () => expectError('.queue VXM.0\n  NEG.int8 E0, E1, E2\n', '2:20', 'too many operands: NEG takes 2'));
  it('too few operands', () => expectError('.queue VXM.0\n  ADD.int8 E0, E1\n', '2:3', 'too few operands: ADD needs 3'));
  it('missing dtype suffix', () => expectError('.queue VXM.0\n  ADD E0, E1, E2\n', '2:3', 'ADD needs a dtype suffix'));
  it('bad dtype suffix', () => expectError('.queue VXM.0\n  EXP.int8 E0, E1\n', '2:7', 'bad dtype suffix ".int8" for EXP'));
  it('suffix on an instruction without dtypes', () => expectError('.queue VXM.0\n  NOP.fp32 1\n', '2:7', 'NOP takes no dtype suffix'));
  it('dtype not supported by the chip', () =>
    expectError('.queue VXM.0\n  ADD.bf16 E0, E1, E2\n', '2:7', 'tsp-v1 has no bf16 on the VXM', tsp));
  it('unit mismatch', () => expectError('.queue MEM.W0\n  ADD.fp32 E0, E4, W0\n', '2:3', 'ADD is a VXM instruction; MEM.W0 is a MEM queue'));
  it('unknown stream', () =>
    expectError('.queue VXM.0\n  ADD.int8 E0, E40, E2\n', '2:16', 'unknown stream "E40" (tsp-v1 has E0..E31, W0..W31)', tsp));
  it('stream group past the end', () =>
    expectError('.queue VXM.0\n  ADD.fp32 E0, W6, E4\n', '2:16', 'stream group W6..W9 runs past W7'));
  it('IW group width is rows * dtype bytes', () =>
    expectError('.queue MXM.W0\n  IW.fp16 0, E4, 3\n', '2:14', 'stream group E4..E9 runs past E7'));
  it('@cycle going back', () =>
    expectError('.queue VXM.0\n  @5 NEG.int8 E0, E1\n  @4 NEG.int8 E0, E1\n', '3:3', "@4 is before VXM.0's current cycle 6"));
  it('@cycle after SYNC', () => expectError('.queue VXM.0\n  SYNC\n  @9 HALT\n', '3:3', 'unknown after SYNC'));
  it('duplicate tensor', () => expectError(`${T}.tensor t fp32[2] @ MEM.E0:0\n`, '2:9', 'duplicate tensor "t" (first declared at line 1)'));
  it('tensor past the slice end', () =>
    expectError('.tensor big fp32[100,32] @ MEM.E1:0, MEM.E2:57\n', '1:38', 'tensor "big" needs vectors 57..256 of MEM.E2, but the slice has 256 (0..255)'));
  it('overlapping tensors', () =>
    expectError(`${T}.tensor u fp16[2,8] @ MEM.W0:3\n`, '2:23', 'tensor "u" (MEM.W0 3..6) overlaps tensor "t" (MEM.W0 0..3)'));
  it('planes must split evenly over the slices', () =>
    expectError('.tensor u fp32[2,8] @ MEM.W0:3, MEM.W1:0, MEM.W2:0\n', '1:23', 'cannot be split evenly over 3 slices'));
  it('unknown MEM slice', () => expectError('.tensor u fp32[2,8] @ MEM.W7:3\n', '1:23', 'unknown MEM slice "MEM.W7"'));
  it('cols beyond the lanes', () => expectError('.tensor u int8[2,33] @ MEM.W0:0\n', '1:18', 'cols must be 1..32'));
  it('tensor not in this slice', () =>
    expectError(`${T}.queue MEM.E0\n  READ t, E0\n`, '3:8', 'tensor "t" is not in MEM.E0 (it is in MEM.W0)'));
  it('tensor row out of range', () => expectError(`${T}.queue MEM.W0\n  READ t[4], E0\n`, '3:10', 'row 4 is outside tensor "t"'));
  it('literal count mismatch', () =>
    expectError('.tensor u int8[2,2] @ MEM.W0:0 = [[1, 2],\n   [3]]\n', '1:34', 'tensor "u" has 4 elements (2x2), the list has 3'));
  it('integer literal out of range', () => expectError('.tensor u int8[2] @ MEM.W0:0 = [1, 300]\n', '1:36', '300 does not fit int8'));
  it('missing data file', () =>
    expectError('.tensor w int8[4] @ MEM.W0:0 = file("w.bin")\n', '1:37', 'cannot read data file "w.bin"'));
  it('REPEAT first in a queue', () => expectError('.queue VXM.0\n  REPEAT 1, 1\n', '2:3', 'REPEAT cannot be the first instruction'));
  it('REPEAT after an ICU instruction', () =>
    expectError('.queue VXM.0\n  NOP 2\n  REPEAT 1, 1\n', '3:3', 'REPEAT must follow a MEM, VXM, MXM or SXM instruction, not NOP'));
  it('REPEAT d below the issue cycles', () =>
    expectError('.queue MXM.W0\n  MM.fp16 E0, -\n  REPEAT 4, 1\n', '3:13', 'REPEAT d must be >= 2'));
  it('REPEAT n >= 1', () => expectError('.queue VXM.0\n  NEG.int8 E0, E0\n  REPEAT 0, 1\n', '3:10', 'REPEAT needs n >= 1'));
  it('REPEAT takes no @cycle', () => expectError('.queue VXM.0\n  NEG.int8 E0, E0\n  @1 REPEAT 2, 1\n', '3:3', 'REPEAT takes no @cycle'));
  it('NOP n >= 1 and fits i32', () => {
    expectError('.queue VXM.0\n  NOP 0\n', '2:7', 'NOP needs n >= 1');
    expectError('.queue VXM.0\n  NOP 0x80000000\n', '2:7', 'out of range');
  });
  it('IW rows limited by mxmInstallRows', () => expectError('.queue MXM.W0\n  IW.int8 0, E0, 5\n', '2:18', 'IW rows must be 1..4'));
  it('segment must divide the lanes', () => expectError('.queue SXM.E\n  RSUM.int8 E0, E1, 5\n', '2:21', 'segment 5 must divide'));
  it('integer immediate for integer dtypes', () =>
    expectError('.queue VXM.0\n  ADDS.int8 E0, E1, 0.5\n', '2:21', 'ADDS.int8 takes an integer immediate'));
  it('bad flag keyword', () => expectError('.queue MXM.W0\n  MM.int8 E0, -, reset\n', '2:18', 'expected "acc" or nothing'));
  it('duplicate .chip', () => expectError('.chip tiny\n.chip tsp-v1\n', '2:1', 'duplicate .chip'));
  it('unknown tensor in .output', () => expectError('.output nope\n', '1:9', 'unknown tensor "nope"'));
  it('bad number and unexpected characters', () => {
    expectError('.queue VXM.0\n  NOP 12abc\n', '2:7', 'bad number "12abc"');
    expectError('.queue VXM.0\n  NOP 1 $\n', '2:9', 'unexpected character "$"');
  });
});

describe('assembler robustness', () => {
  it('any text gives a Program or an SfError, never another exception', () => {
    const pieces = [
      '.queue', '.tensor', '.output', '.chip', '.raw', 'MEM.W0', 'VXM.0', 'MXM.W0', 'SXM.E', 'READ', 'WRITE', 'ADD.fp32',
      'IW.int8', 'MM.fp16', 'REPEAT', 'NOP', 'SYNC', 'HALT', 'CVT.int8', 'DIST.int8', 'x', 'x[1]', 'E0', 'W7', 'E9', '-', '+2',
      '-1', '0x10', '1.5', 'nan', 'inf', 'acc', 'reset', 'fp32', 'int8[2,4]', '@', '@3', ':', ',', '=', '[', ']', '(', ')',
      'random(1)', 'range(0,1)', 'zeros', 'base64("AA==")', 'file("nope")', '"str', ';', '\n', '\n', '\n', ' ',
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 40 }), (parts) => {
        const src = '.tensor x int8[2,4] @ MEM.W0:0\n' + parts.join(' ');
        try {
          asm(src);
        } catch (e) {
          if (!(e instanceof SfError)) throw e;
          expect(e.where).toMatch(/^k\.sfa:\d+:\d+$/);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

// ---- fills ----------------------------------------------------------------------------------

describe('fills', () => {
  it('mulberry32 golden values for seed 1', () => {
    const r = mulberry32(1);
    expect(r()).toBe(0.6270739405881613);
    expect(r()).toBe(0.002735721180215478);
    expect(r()).toBe(0.5274470399599522);
  });

  it('random is deterministic and rounded to the dtype', () => {
    const p = asm('.tensor a fp32[2,4] @ MEM.W0:0, MEM.W1:0 = random(1)\n.tensor b int8[8] @ MEM.W2:0 = random(1)\n.tensor c fp16[8] @ MEM.W3:0, MEM.E0:0 = random(1, 0, 10)\n');
    const [a, b, c] = p.tensors.map((t) => decodeElements(t.dtype, t.data!));
    expect(a![0]).toBe(Math.fround(-1 + 2 * 0.6270739405881613));
    expect(b![0]).toBe(Math.round(-128 + 255 * 0.6270739405881613)); // 31.9 -> 32
    expect(c![0]).toBe(roundToDtype('fp16', 6.270739405881613));
    expect(p.tensors[0]!.data).toEqual(fillRandom('fp32', 8, 1));
    expect(asm('.tensor a fp32[2,4] @ MEM.W0:0, MEM.W1:0 = random(1)\n').tensors[0]!.data).toEqual(p.tensors[0]!.data);
    expect(fillRandom('fp32', 8, 2)).not.toEqual(p.tensors[0]!.data);
  });

  it('range: row-major start + i*step, integers rounded half to even', () => {
    const p = asm('.tensor a int8[2,3] @ MEM.W0:0 = range(-2, 0.5)\n.tensor b fp32[2,2] @ MEM.W1:0 = range(5)\n');
    expect(decodeElements('int8', p.tensors[0]!.data!)).toEqual([-2, -2, -1, 0, 0, 0]);
    expect(decodeElements('fp32', p.tensors[1]!.data!)).toEqual([5, 6, 7, 8]);
    expect(fillRange('int8', 3, 126)).toEqual(new Uint8Array([126, 127, 127]));
  });

  it('literal lists (nested, multi-line, inf/nan for floats, hex for ints)', () => {
    const p = asm('.tensor a int16[2,2] @ MEM.W0:0 = [[1, -2], ; first row\n  [0x10, 4]]\n.tensor f fp16[3] @ MEM.W1:0 = [inf, -nan, 0.1]\n');
    expect(decodeElements('int16', p.tensors[0]!.data!)).toEqual([1, -2, 16, 4]);
    const f = decodeElements('fp16', p.tensors[1]!.data!);
    expect(f[0]).toBe(Infinity);
    expect(f[1]).toBeNaN();
    expect(f[2]).toBe(fp16BitsToF32(0x2e66));
  });

  it('file("...") reads raw bytes relative to the source file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sfa-'));
    writeFileSync(join(dir, 'w.bin'), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const p = assemble('.tensor w int16[2,2] @ MEM.W0:0 = file("w.bin")\n', { file: join(dir, 'k.sfa'), chip: tiny });
    expect(p.tensors[0]!.data).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(() => assemble('.tensor w int16[3] @ MEM.W0:0 = file("w.bin")\n', { file: join(dir, 'k.sfa'), chip: tiny })).toThrow(
      /:1:38: data file "w.bin" is 8 bytes; tensor "w" \(int16\[1,3\]\) needs 6/,
    );
    const seen: string[] = [];
    asm('.tensor w int8[2] @ MEM.W0:0 = file("sub/w.bin")\n', tiny, (path) => {
      seen.push(path);
      return new Uint8Array(2);
    });
    expect(seen[0]).toMatch(/sub[/\\]w\.bin$/);
  });

  it('base64("...") and zeros', () => {
    const p = asm('.tensor a int16[2] @ MEM.W0:0 = base64("AQACAA==")\n.tensor z int8[2] @ MEM.W1:0 = zeros\n');
    expect(decodeElements('int16', p.tensors[0]!.data!)).toEqual([1, 2]);
    expect(p.tensors[1]!.data).toBeNull();
    expect(decodeBase64('AQ=')).toBeNull();
    expectError('.tensor a int16[2] @ MEM.W0:0 = base64("AQACAA")\n', '1:40', 'bad base64');
    expectError('.tensor a int16[2] @ MEM.W0:0 = base64("AQAC")\n', '1:40', 'base64 data is 3 bytes');
  });
});

describe('numerics', () => {
  it('fp16 rounding, overflow, subnormals, NaN', () => {
    expect(f32ToFp16Bits(65504)).toBe(0x7bff);
    expect(f32ToFp16Bits(65519)).toBe(0x7bff);
    expect(f32ToFp16Bits(65520)).toBe(0x7c00);
    expect(f32ToFp16Bits(-1e6)).toBe(0xfc00);
    expect(f32ToFp16Bits(2 ** -24)).toBe(1);
    expect(f32ToFp16Bits(2 ** -25)).toBe(0); // tie to even
    expect(f32ToFp16Bits(3 * 2 ** -25)).toBe(2);
    expect(f32ToFp16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie to even
    expect(f32ToFp16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToFp16Bits(NaN)).toBe(0x7e00);
    expect(f32ToFp16Bits(-0)).toBe(0x8000);
    for (let h = 0; h < 0x10000; h++) {
      const v = fp16BitsToF32(h);
      if (!Number.isNaN(v)) expect(f32ToFp16Bits(v)).toBe(h);
    }
  });

  it('bf16 rounding and NaN', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBf16Bits(3.4e38)).toBe(0x7f80);
    expect(f32ToBf16Bits(NaN)).toBe(0x7fc0);
    expect(bf16BitsToF32(0xc000)).toBe(-2);
  });

  it('integers round half to even and saturate', () => {
    expect(decodeElements('int8', encodeElements('int8', [2.5, 3.5, -2.5, 200, -200, NaN]))).toEqual([2, 4, -2, 127, -128, 0]);
    expect(decodeElements('int32', encodeElements('int32', [2 ** 40, -(2 ** 40)]))).toEqual([2147483647, -2147483648]);
    expect(decodeElements('fp32', encodeElements('fp32', [0.1]))).toEqual([Math.fround(0.1)]);
  });
});

// ---- container -------------------------------------------------------------------------------

describe('container rejects garbage', () => {
  const small = encodeProgram(asm('.tensor t int8[2,2] @ MEM.W0:0 = [1,2,3,4]\n.queue MEM.W0\n READ t, E0\n HALT\n'));

  function decodeError(bytes: Uint8Array): string {
    try {
      decodeProgram(bytes, 'x.sfp');
    } catch (e) {
      expect(e).toBeInstanceOf(SfError);
      return (e as Error).message;
    }
    return 'decoded';
  }

  it('bad magic', () => {
    expect(decodeError(new TextEncoder().encode('hello world, not a program'))).toBe('x.sfp: not a sramflow program (bad magic)');
  });

  it('wrong version', () => {
    const b = small.slice();
    b[4] = 7;
    expect(decodeError(b)).toBe('x.sfp: unsupported container version 7 (this sramflow reads 1)');
  });

  it('truncated at every length', () => {
    for (let n = 0; n < small.length; n++) {
      const msg = decodeError(small.subarray(0, n));
      expect(msg, `length ${n}`).toMatch(/^x\.sfp: (truncated|bad header)/);
    }
    expect(decodeError(small)).toBe('decoded');
  });

  it('trailing bytes, lying lengths, bad header fields, unknown opcodes', () => {
    const grow = new Uint8Array(small.length + 1);
    grow.set(small);
    expect(decodeError(grow)).toContain('trailing bytes');
    const huge = small.slice();
    new DataView(huge.buffer).setUint32(8, 0xffffffff, true);
    expect(decodeError(huge)).toContain('truncated: the header claims 4294967295 bytes');

    const hlen = new DataView(small.buffer).getUint32(8, true);
    const header = JSON.parse(new TextDecoder().decode(small.subarray(12, 12 + hlen)));
    const rebuild = (h: unknown, tail = small.subarray(12 + hlen)) => {
      const j = new TextEncoder().encode(JSON.stringify(h));
      const b = new Uint8Array(12 + j.length + tail.length);
      b.set(small.subarray(0, 12));
      new DataView(b.buffer).setUint32(8, j.length, true);
      b.set(j, 12);
      b.set(tail, 12 + j.length);
      return b;
    };
    expect(decodeError(rebuild(header))).toBe('decoded');
    const mut = (f: (h: any) => void) => {
      const h = structuredClone(header);
      f(h);
      return decodeError(rebuild(h));
    };
    expect(mut((h) => (h.tensors[0].shape = [2]))).toContain('tensors[0].shape');
    expect(mut((h) => (h.tensors[0].shape = [0, 2]))).toContain('tensors[0].shape');
    expect(mut((h) => (h.tensors[0].dataBytes = 5))).toContain('tensors[0].dataBytes must be 0 (zeros) or 4');
    expect(mut((h) => (h.tensors[0].dtype = 'int64'))).toContain('tensors[0].dtype');
    expect(mut((h) => (h.tensors[0].placement = []))).toContain('tensors[0].placement');
    expect(mut((h) => (h.tensors[0].name = '1x'))).toContain('tensors[0].name');
    expect(mut((h) => (h.queues[0].count = 1e15))).toContain('truncated');
    expect(mut((h) => (h.queues[0].count = -1))).toContain('queues[0].count');
    expect(mut((h) => (h.chip = 5))).toContain('bad header: chip');
    expect(mut((h) => (h.debug.lines = []))).toContain('debug.lines');
    expect(mut((h) => (h.extra = 1))).toContain('extra is not a header field');
    expect(decodeError(rebuild('not an object'))).toContain('bad header');
    const badOp = small.slice();
    badOp[12 + hlen] = 99;
    expect(decodeError(badOp)).toContain('unknown opcode 99');
    const badJson = small.slice();
    badJson[12] = 0xff;
    expect(decodeError(badJson)).toBe('x.sfp: bad header: not UTF-8 JSON');
  });

  it('any mutation gives a Program or an SfError, never another exception', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        (edits, cut) => {
          const b = small.slice(0, small.length - (cut % 4));
          for (const [i, v] of edits) b[i % b.length] = v;
          try {
            const p = decodeProgram(b, 'x.sfp');
            disassemble(p, tiny); // whatever decodes can be printed
          } catch (e) {
            if (!(e instanceof SfError)) throw e;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('random byte strings', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (tail) => {
        const b = new Uint8Array(tail.length + 4);
        b.set([0x53, 0x46, 0x50, 0x47]);
        b.set(tail, 4);
        try {
          decodeProgram(b, 'x.sfp');
        } catch (e) {
          if (!(e instanceof SfError)) throw e;
        }
      }),
    );
  });
});
