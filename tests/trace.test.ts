// `sramflow trace`: a Perfetto / Chrome JSON trace with one complete event per instruction issue
// (as many as the run reports issued), one track per queue, and it never overwrites its input.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, copyFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, sramflow } from './helpers/cli.js';

let dir: string;

interface TraceEvent {
  ph: string;
  name: string;
  pid: number;
  tid?: number;
  ts?: number;
  dur?: number;
  cat?: string;
  args?: Record<string, unknown>;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sramflow-trace-'));
  if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error('dist/ is not built: run `npm run build` (npm test does)');
});

describe('sramflow trace', () => {
  for (const k of ['gemv-int8', 'vector-add-fp32', 'softmax']) {
    it(`writes one event per issue for ${k}`, () => {
      const out = join(dir, `${k}.json`);
      const r = sramflow('trace', `programs/kernels/${k}.sfa`, '-o', out);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/^wrote .*: \d+ instruction issues on 1 chip over \d+ cycles \(ts in cycles\)/);
      const t = JSON.parse(readFileSync(out, 'utf8')) as { traceEvents: TraceEvent[]; otherData: Record<string, unknown> };
      const run = sramflow('run', `programs/kernels/${k}.sfa`, '--json');
      expect(run.code, run.err).toBe(0);
      const issued = JSON.parse(run.out).instructions as number;
      const xs = t.traceEvents.filter((e) => e.ph === 'X');
      expect(xs.length).toBe(issued);
      expect(t.otherData.instructionsIssued).toBe(issued);
      expect(t.otherData.timeUnit).toBe('cycles');
      expect(t.otherData.chip).toBe('tsp-v1');
      // one named track per queue that issues
      const names = new Map(t.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => [e.tid, (e.args as { name: string }).name]));
      for (const e of xs) {
        expect(names.has(e.tid)).toBe(true);
        expect(typeof e.name).toBe('string');
        expect(e.name).toMatch(/^[A-Z0-9]+(\.[a-z0-9]+)?$/);
        expect(Number.isInteger(e.ts)).toBe(true);
        expect(e.dur).toBeGreaterThanOrEqual(0);
        expect(typeof e.args?.pc).toBe('number');
        expect(typeof e.args?.instruction).toBe('string');
      }
      // events are in time order per track, and durations are the issue cycles
      const nop = xs.find((e) => e.name === 'NOP');
      if (nop) expect(nop.dur).toBe(Number(String(nop.args!.instruction).split(' ')[1]));
      expect(xs.filter((e) => e.name === 'HALT').every((e) => e.dur === 0)).toBe(true);
      expect(Math.max(...xs.map((e) => e.ts!))).toBeLessThan(JSON.parse(run.out).cycles);
    });
  }

  it('can write chip microseconds instead of cycles', () => {
    const out = join(dir, 'us.json');
    const r = sramflow('trace', 'programs/kernels/vector-add-fp32.sfa', '-o', out, '--time', 'us');
    expect(r.code, r.err).toBe(0);
    const t = JSON.parse(readFileSync(out, 'utf8'));
    expect(t.otherData.timeUnit).toBe('microseconds of chip time');
    const xs = t.traceEvents.filter((e: TraceEvent) => e.ph === 'X');
    const last = Math.max(...xs.map((e: TraceEvent) => e.ts!));
    expect(last).toBeGreaterThan(0);
    expect(last).toBeLessThan(1); // 37 cycles at 900 MHz
    const bad = sramflow('trace', 'programs/kernels/vector-add-fp32.sfa', '-o', out, '--time', 'ms');
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
  });

  it('refuses to overwrite its input', () => {
    const input = join(dir, 'in.sfa');
    copyFileSync(join(root, 'programs/kernels/vector-add-fp32.sfa'), input);
    const before = readFileSync(input, 'utf8');
    const r = sramflow('trace', input, '-o', input);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^sramflow: .*in\.sfa: refusing to overwrite the input file/);
    expect(readFileSync(input, 'utf8')).toBe(before);
    expect(statSync(input).size).toBe(before.length);
  });

  it('needs -o and a program (one-line usage error)', () => {
    const r = sramflow('trace', 'programs/kernels/vector-add-fp32.sfa');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^sramflow: usage: sramflow trace/);
    const r2 = sramflow('trace', 'no-such.sfa', '-o', join(dir, 'x.json'));
    expect(r2.code).toBe(2);
    expect(r2.err.trim().split('\n')).toHaveLength(1);
  });

  it('traces a multi-chip program as one process per chip', () => {
    const prog = 'programs/kernels/allreduce-2.sfa';
    if (!existsSync(join(root, prog))) return;
    const out = join(dir, 'ar.json');
    const r = sramflow('trace', prog, '-o', out);
    expect(r.code, r.err).toBe(0);
    const t = JSON.parse(readFileSync(out, 'utf8'));
    const pids = new Set(t.traceEvents.filter((e: TraceEvent) => e.ph === 'X').map((e: TraceEvent) => e.pid));
    expect([...pids].sort()).toEqual([0, 1]);
    const run = JSON.parse(sramflow('run', prog, '--json', '--threads', '1').out);
    const xs = t.traceEvents.filter((e: TraceEvent) => e.ph === 'X').length;
    const issued = (run.chips as { instructions: number }[]).reduce((n, c) => n + c.instructions, 0);
    expect(issued).toBeGreaterThan(0);
    expect(xs).toBe(issued);
  });
});
