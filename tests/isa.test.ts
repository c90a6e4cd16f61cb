// The ISA table is the single source of truth: the generated AssemblyScript constants, the
// generated memory map and docs/isa.md must match what the generator makes from it now.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { generateAssemblyConstants, generateIsaDoc } from '../src/isa/generate.js';
import { generateMapConstants } from '../src/chip/memory-map.js';
import { INSTRUCTIONS, ERRORS, FIELD_OFFSETS, INSTRUCTION_BYTES } from '../src/isa/table.js';

const read = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');

describe('ISA table', () => {
  it('assembly/isa.generated.ts is up to date (run `npm run gen`)', () => {
    expect(read('assembly/isa.generated.ts')).toBe(generateAssemblyConstants());
  });
  it('assembly/map.generated.ts is up to date (run `npm run gen`)', () => {
    expect(read('assembly/map.generated.ts')).toBe(generateMapConstants());
  });
  it('docs/isa.md is up to date (run `npm run gen`)', () => {
    expect(read('docs/isa.md')).toBe(generateIsaDoc());
  });
  it('documents every instruction and error class', () => {
    const doc = read('docs/isa.md');
    for (const i of INSTRUCTIONS) expect(doc).toContain(`### ${i.mnemonic}`);
    for (const e of ERRORS) expect(doc).toContain(`| ${e.name} |`);
  });
  it('has unique opcodes and mnemonics, and operands that fit the encoding', () => {
    expect(new Set(INSTRUCTIONS.map((i) => i.opcode)).size).toBe(INSTRUCTIONS.length);
    expect(new Set(INSTRUCTIONS.map((i) => i.mnemonic)).size).toBe(INSTRUCTIONS.length);
    for (const i of INSTRUCTIONS) {
      expect(i.opcode).toBeGreaterThanOrEqual(0);
      expect(i.opcode).toBeLessThan(256);
      const fields = i.operands.filter((o) => o.kind !== 'flag').map((o) => o.field);
      expect(new Set(fields).size, `${i.mnemonic} uses a field twice`).toBe(fields.length);
      for (const o of i.operands) expect(FIELD_OFFSETS[o.field]).toBeLessThan(INSTRUCTION_BYTES);
    }
  });
});
