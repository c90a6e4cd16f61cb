// The command line as a user meets it: every shipped kernel runs, with and without --check; bad
// input gets one line naming the place, a non-zero exit and no stack trace.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, sramflow } from './helpers/cli.js';

let dir: string;

function expectCleanError(r: { code: number | null; err: string; out: string }, code: number, pattern: RegExp) {
  expect(r.code).toBe(code);
  const lines = r.err.trim().split('\n');
  expect(lines, r.err).toHaveLength(1);
  expect(lines[0]).toMatch(/^sramflow: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.err).not.toMatch(/\n\s+at /);
}

const kernels = readdirSync(join(root, 'programs/kernels')).filter((f) => f.endsWith('.sfa')).map((f) => `programs/kernels/${f}`);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sramflow-cli-'));
  if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error('dist/ is not built: run `npm run build` (npm test does)');
});

describe('sramflow run', () => {
  it('ships kernels', () => expect(kernels.length).toBeGreaterThanOrEqual(5));

  for (const k of kernels) {
    it(`runs ${k} with and without --check, same cycles and outputs`, () => {
      const a = sramflow('run', k, '--json');
      expect(a.code, a.err).toBe(0);
      const ra = JSON.parse(a.out);
      for (const key of ['cycles', 'seconds', 'chip', 'units', 'outputs']) expect(ra).toHaveProperty(key);
      expect(ra.cycles).toBeGreaterThan(0);
      expect(ra.seconds).toBeCloseTo(ra.cycles / ra.clockHz, 15);
      expect(Object.keys(ra.outputs).length).toBeGreaterThan(0);
      const b = sramflow('run', k, '--json', '--check');
      expect(b.code, b.err).toBe(0);
      const rb = JSON.parse(b.out);
      expect(rb.cycles).toBe(ra.cycles);
      expect(rb.outputs).toEqual(ra.outputs);
      // timing-only runs the same schedule: same cycles, no values
      const t = sramflow('run', k, '--json', '--timing-only', '--check');
      expect(t.code, t.err).toBe(0);
      const rt = JSON.parse(t.out);
      expect(rt.cycles).toBe(ra.cycles);
      expect(rt.mode).toBe('timing-only');
    });
  }

  it('prints a readable report', () => {
    const r = sramflow('run', 'programs/kernels/vector-add-fp32.sfa');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/cycles\s+37 /);
    expect(r.out).toMatch(/busy by unit/);
    expect(r.out).toMatch(/output z fp32\[8,320\]/);
  });

  it('reports a mis-scheduled program at its source line under --check (exit 3)', () => {
    const src = readFileSync(join(root, 'programs/kernels/vector-add-fp32.sfa'), 'utf8').replace('@6 ADD.fp32', '@5 ADD.fp32');
    const f = join(dir, 'late.sfa');
    writeFileSync(f, src);
    expectCleanError(sramflow('run', f, '--check'), 3, /late\.sfa:\d+:\d+: STREAM_EMPTY at cycle 5, slice VXM \(position 46\), queue VXM\.0, instruction ADD/);
  });

  it('rejects an unknown flag', () => {
    expectCleanError(sramflow('run', kernels[0], '--bogus'), 2, /unknown option "--bogus"/);
  });
  it('rejects a bad --max-cycles value', () => {
    expectCleanError(sramflow('run', kernels[0], '--max-cycles', 'ten'), 2, /--max-cycles/);
  });
  it('rejects a missing file', () => {
    expectCleanError(sramflow('run', join(dir, 'nope.sfa')), 2, /nope\.sfa: no such file/);
  });
  it('rejects malformed program text with file:line:col', () => {
    const f = join(dir, 'bad.sfa');
    writeFileSync(f, '.chip tiny\n.queue MEM.W0\n  READ 0, E0\n  FROB 3\n  HALT\n');
    expectCleanError(sramflow('run', f), 2, /bad\.sfa:4:3: /);
  });
  it('rejects a bad chip preset naming the field', () => {
    const p = JSON.parse(readFileSync(join(root, 'presets/chips/tiny.json'), 'utf8'));
    p.memPorts = { value: 0, kind: 'assumption', source: 'test' };
    const f = join(dir, 'chip.json');
    writeFileSync(f, JSON.stringify(p));
    expectCleanError(sramflow('run', kernels[0], '--chip', f), 2, /memPorts/);
  });
  it('rejects an unknown chip preset name', () => {
    expectCleanError(sramflow('run', kernels[0], '--chip', 'tsp-v9'), 2, /tsp-v9/);
  });
  it('rejects a tensor larger than SRAM', () => {
    const f = join(dir, 'big.sfa');
    writeFileSync(f, '.chip tiny\n.tensor w int8[300,32] @ MEM.W0:0\n.queue MEM.W0\n  HALT\n');
    expectCleanError(sramflow('run', f), 2, /big\.sfa:2:\d+: .*w/);
  });
  it('stops at the cycle limit (exit 4)', () => {
    expectCleanError(sramflow('run', 'programs/kernels/vector-add-fp32.sfa', '--max-cycles', '5'), 4, /cycle limit \(5\)/);
  });
  it('rejects an unknown command', () => {
    expectCleanError(sramflow('frobnicate'), 2, /unknown command/);
  });
});

describe('sramflow asm / disasm', () => {
  it('assembles, runs the container, and round-trips through disasm', () => {
    const sfp = join(dir, 'va.sfp');
    const a = sramflow('asm', 'programs/kernels/vector-add-fp32.sfa', '-o', sfp);
    expect(a.code, a.err).toBe(0);
    const ran = JSON.parse(sramflow('run', sfp, '--json').out);
    const orig = JSON.parse(sramflow('run', 'programs/kernels/vector-add-fp32.sfa', '--json').out);
    expect(ran.cycles).toBe(orig.cycles);
    expect(ran.outputs).toEqual(orig.outputs);
    const sfa = join(dir, 'va.sfa');
    expect(sramflow('disasm', sfp, '-o', sfa).code).toBe(0);
    const sfp2 = join(dir, 'va2.sfp');
    expect(sramflow('asm', sfa, '-o', sfp2).code).toBe(0);
    const again = JSON.parse(sramflow('run', sfp2, '--json').out);
    expect(again.cycles).toBe(orig.cycles);
    expect(again.outputs).toEqual(orig.outputs);
  });
  it('never overwrites its input', () => {
    const f = join(dir, 'self.sfa');
    const text = readFileSync(join(root, 'programs/kernels/vector-add-fp32.sfa'), 'utf8');
    writeFileSync(f, text);
    expectCleanError(sramflow('asm', f, '-o', f), 2, /refusing to overwrite the input/);
    expect(readFileSync(f, 'utf8')).toBe(text);
  });
  it('leaves an existing output untouched when assembly fails', () => {
    const out = join(dir, 'keep.sfp');
    writeFileSync(out, 'precious');
    const bad = join(dir, 'bad2.sfa');
    writeFileSync(bad, '.queue NOPE\n');
    expect(sramflow('asm', bad, '-o', out).code).toBe(2);
    expect(readFileSync(out, 'utf8')).toBe('precious');
  });
  it('disasm rejects a file that is not a container', () => {
    expectCleanError(sramflow('disasm', 'programs/kernels/vector-add-fp32.sfa'), 2, /not a sramflow program container/);
  });
});
