// One test per crash or bug the fuzzers found (tests/fuzz, docs/reliability.md), named after it.
// Each was written before its fix and failed; it passes with the fix.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SfError } from '../src/util/errors.js';
import { assemble } from '../src/asm/assemble.js';
import { decodeProgram, encodeProgram } from '../src/asm/container.js';
import type { Program } from '../src/asm/program.js';
import { disassemble } from '../src/asm/disasm.js';
import { loadChipPreset, parseChipPreset, parseChipPresetText } from '../src/chip/preset.js';
import { Core } from '../src/chip/core.js';
import { coreErrorToSfError } from '../src/chip/errors.js';
import { loadCoreWasm } from '../src/chip/wasm-node.js';
import { ERRORS, STOP } from '../src/isa/table.js';
import { parseSystemPreset, loadSystemPreset } from '../src/system/topology.js';
import { assembleSystem } from '../src/system/source.js';
import { runSystem } from '../src/system/system.js';
import { loadProgram } from '../src/cli/program-file.js';
import { loadGpuPreset, parseGpuPresetText } from '../src/gpu/preset.js';
import { loadModelConfig, parseModelConfigText } from '../src/models/config.js';
import { openSafetensors, parseSafetensors } from '../src/models/safetensors.js';

const root = new URL('..', import.meta.url).pathname;
const tiny = loadChipPreset('tiny');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sramflow-regress-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const code = (name: string) => ERRORS.find((e) => e.name === name)!.code;

/** One queue of raw 16-byte records (op, dtype, dst, srcA, srcB, width, flags, aux, a, b) then HALT. */
function rawProgram(queue: string, records: number[][]): Program {
  const bytes: number[] = [];
  for (const [op, dtype, dst, srcA, srcB, width, flags, aux, a, b] of [...records, [4, 0, 0, 0, 0, 0, 0, 0, 0, 0]]) {
    const r = new Uint8Array(16);
    r.set([op!, dtype!, dst!, srcA!, srcB!, width!, flags!, aux!]);
    new DataView(r.buffer).setInt32(8, a!, true);
    new DataView(r.buffer).setInt32(12, b!, true);
    bytes.push(...r);
  }
  return { chip: 'tiny', queues: [{ name: queue, code: Uint8Array.from(bytes), lines: [] }], tensors: [], source: 'raw.sfp' };
}

/** A safetensors file with this header text and no data. */
function safetensorsWithHeader(json: string): Uint8Array {
  const h = new TextEncoder().encode(json);
  const b = new Uint8Array(8 + h.length);
  new DataView(b.buffer).setUint32(0, h.length, true);
  b.set(h, 8);
  return b;
}

async function runRaw(p: Program, checked = false): Promise<Core> {
  const core = await Core.create(tiny, loadCoreWasm(), { checked });
  core.load(p);
  core.run(100);
  return core;
}

/** The text of an SfError thrown by fn (fails if fn returns or throws something else). */
function sfError(fn: () => unknown): SfError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SfError) return e;
    throw e;
  }
  throw new Error('expected an SfError');
}

async function sfErrorAsync(fn: () => Promise<unknown>): Promise<SfError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof SfError) return e;
    throw e;
  }
  throw new Error('expected an SfError');
}

describe('regressions found by fuzzing', () => {
  it('core: READ at address 2^31-1 is SRAM_RANGE, not a read of memory outside SRAM (i32 overflow of addr + width)', async () => {
    // READ a = 0x7fffffff, width 1, dst E0, on MEM.W0: addr + width wrapped to a negative number
    const core = await runRaw(rawProgram('MEM.W0', [[16, 0, 0, 0, 0, 1, 0, 0, 0x7fffffff, 0]]));
    expect(core.stopReason & STOP.ERROR).toBeTruthy();
    expect(core.error()!.code).toBe(code('SRAM_RANGE'));
    // the same from assembly text, where the address is documented as any i32
    const p = assemble('.queue MEM.W0\n READ 2147483647, E0\n HALT\n', { file: 't.sfa', chip: tiny });
    const c2 = await Core.create(tiny, loadCoreWasm(), { checked: true });
    c2.load(p);
    c2.run(100);
    expect(c2.error()?.name).toBe('SRAM_RANGE');
  });

  it('core: WRITE at address 2^31-1 is SRAM_RANGE, not a write outside SRAM', async () => {
    const core = await runRaw(rawProgram('MEM.E0', [[17, 0, 0, 0, 0, 1, 0, 0, 0x7fffffff, 0]]));
    expect(core.error()?.code).toBe(code('SRAM_RANGE'));
  });

  it('core: IW at row 2^31-1 is a bad operand, not a write outside the plane (i32 overflow of row + rows)', async () => {
    // IW.int8 row 0 (starts a weight set), then IW.int8 row 0x7fffffff, 1 row
    const core = await runRaw(rawProgram('MXM.W0', [[64, 0, 0, 0, 0, 1, 0, 0, 0, 0], [64, 0, 0, 0, 0, 1, 0, 0, 0x7fffffff, 0]]));
    expect(core.error()?.code).toBe(code('BAD_OPERAND'));
  });

  it('container: a tensor outside the chip\'s SRAM is an error at the container file, not a placeless one', () => {
    const p = assemble('.tensor x int8[2,32] @ MEM.W0:0 = random(1)\n.output x\n.queue MEM.W0\n HALT\n', { file: 'k.sfa', chip: tiny });
    p.chip = 'tiny';
    p.tensors[0]!.placement[0]!.addr = 255; // rows 255..256 of a 256-vector slice
    const path = join(dir, 'outside.sfp');
    writeFileSync(path, encodeProgram(p));
    const e = sfError(() => loadProgram(path));
    expect(e.where).toBe(path);
    expect(e.message).toMatch(/outside|needs vectors/);
    // a tensor far too big for any slice, with no data: refused before anything is allocated
    p.tensors[0]!.placement[0]!.addr = 0;
    p.tensors[0]!.shape = [1 << 24, 32];
    p.tensors[0]!.data = null;
    writeFileSync(path, encodeProgram(p));
    expect(sfError(() => loadProgram(path)).where).toBe(path);
  });

  it('container: a queue the chip does not have is an error at the container file', () => {
    const p = assemble('.queue MEM.W0\n HALT\n', { file: 'k.sfa', chip: tiny });
    p.queues[0]!.name = 'MEM.W99';
    p.source = null;
    const path = join(dir, 'queue.sfp');
    writeFileSync(path, encodeProgram(p, { debug: false }));
    const e = sfError(() => loadProgram(path));
    expect(e.where).toBe(path);
    expect(e.message).toMatch(/MEM\.W99/);
  });

  it('core: loading a program with a tensor outside the slice names the program, and allocates nothing for it', async () => {
    const core = await Core.create(tiny, loadCoreWasm(), {});
    const p: Program = {
      chip: 'tiny', source: 'api.sfp', queues: [],
      tensors: [{ name: 'big', dtype: 'fp32', shape: [1 << 24, 1 << 16], placement: [{ slice: 'MEM.W0', addr: 0 }], output: true, data: null }],
    };
    const e = sfError(() => core.load(p));
    expect(e.where).toBe('api.sfp');
  });

  it('container: a chip named "" gets an error with a place (the quoted name), not a placeless one', () => {
    const p = assemble('.queue MEM.W0\n HALT\n', { file: 'k.sfa', chip: tiny });
    p.chip = '';
    const path = join(dir, 'nochip.sfp');
    writeFileSync(path, encodeProgram(p));
    const e = sfError(() => loadProgram(path));
    expect(e.where).toBe('""');
    expect(e.message).toMatch(/^"": no such chip preset file/);
  });

  it('container: a debug source name with a line break keeps run-time errors on one line', async () => {
    const p = assemble('.queue VXM.0\n ADD.int8 E0, E0, E1\n HALT\n', { file: 'k.sfa', chip: tiny });
    p.source = 'two\nlines.sfa';
    p.chip = 'tiny';
    const path = join(dir, 'source.sfp');
    writeFileSync(path, encodeProgram(p));
    const { program, chip } = loadProgram(path);
    const core = await Core.create(chip, loadCoreWasm(), { checked: true });
    core.load(program);
    core.run(100);
    const e = coreErrorToSfError(core, core.error()!);
    expect(e.message).not.toMatch(/\n/);
    expect(e.where).toBe('"two\\nlines.sfa":2:2');
  });

  it('json files: a deeply nested value gets a one-line error, not a stack overflow while the message quotes it', () => {
    const deep = '['.repeat(200000) + ']'.repeat(200000);
    const cases: [string, () => unknown][] = [
      ['c.json', () => parseChipPresetText(`{"name": ${deep}}`, 'c.json')],
      ['s.json', () => parseSystemPreset(JSON.parse(`{"chip": "tiny", "chips": ${deep}}`), 's.json')],
      ['s.json', () => parseSystemPreset(JSON.parse(`{"chip": "tiny", "chips": 2, "topology": "links", "links": [${deep}]}`), 's.json')],
      ['g.json', () => parseGpuPresetText(`{"vendor": ${deep}}`, 'g.json')],
      ['m.json', () => parseModelConfigText(deep, 'm.json')],
      ['m.json', () => parseModelConfigText(`{"hidden_size": ${deep}}`, 'm.json')],
      ['x.safetensors', () => parseSafetensors(safetensorsWithHeader(`{"a": ${deep}}`), 'x.safetensors')],
    ];
    for (const [file, fn] of cases) {
      const e = sfError(fn);
      expect(e.where).toBe(file);
      expect(e.message).not.toMatch(/\n/);
    }
  });

  it('json files: a key or a name with a line break gives a one-line error', () => {
    const chipJson = JSON.parse(readFileSync(join(root, 'presets/chips/tiny.json'), 'utf8')) as Record<string, unknown>;
    const gpuJson = JSON.parse(readFileSync(join(root, 'presets/gpus/h100-sxm.json'), 'utf8')) as Record<string, unknown>;
    const modelJson = JSON.parse(readFileSync(join(root, 'programs/models/tiny.json'), 'utf8')) as Record<string, unknown>;
    const cases: [string, () => unknown][] = [
      ['c.json', () => parseChipPreset({ ...chipJson, 'two\nlines': 1 }, 'c.json')],
      ['c.json', () => parseChipPreset({ ...chipJson, clockHz: { value: 1e9, 'two\nlines': 1 } }, 'c.json')],
      ['c.json', () => parseChipPreset({ ...chipJson, name: 'two\nlines' }, 'c.json')],
      ['g.json', () => parseGpuPresetText(JSON.stringify({ ...gpuJson, 'two\nlines': 1 }), 'g.json')],
      ['g.json', () => parseGpuPresetText(JSON.stringify({ ...gpuJson, name: 'two\nlines' }), 'g.json')],
      ['s.json', () => parseSystemPreset({ chip: 'tiny', chips: 2, topology: 'fully-connected', 'two\nlines': 1 }, 's.json')],
      ['m.json', () => parseModelConfigText(JSON.stringify({ ...modelJson, _name: 'two\nlines' }), 'm.json')],
      ['x.safetensors', () => parseSafetensors(safetensorsWithHeader('{"two\\nlines": 1}'), 'x.safetensors')],
      ['x.safetensors', () => parseSafetensors(safetensorsWithHeader('{"__metadata__": {"two\\nlines": 1}}'), 'x.safetensors')],
    ];
    for (const [file, fn] of cases) {
      const e = sfError(fn);
      expect(e.where).toBe(file);
      expect(e.message, e.message).not.toMatch(/\n/);
    }
    // containers: queue names, unknown header fields
    const p = assemble('.queue MEM.W0\n HALT\n', { file: 'k.sfa', chip: tiny });
    p.queues[0]!.name = 'MEM\nW0';
    p.queues.push({ ...p.queues[0]! });
    const bytes = encodeProgram(p);
    const e = sfError(() => decodeProgram(bytes, 'q.sfp'));
    expect(e.message).not.toMatch(/\n/);
    expect(e.where).toBe('q.sfp');
  });

  it('assembler: a backslash before a line end, control characters in a string, and a file name with a line break give one-line errors', () => {
    const cases: [string, RegExp][] = [
      ['.chip "a\\\n  HALT"\n', /^t\.sfa:1:7: unterminated string$/],
      ['.chip "a\u0001b\rc"\n', /^t\.sfa:1:7: bad string "a\\u0001b\\u000dc" \(use JSON escapes\)$/],
      ['.tensor x int8[1,32] @ MEM.W0:0 = file("a\\nb")\n', /^t\.sfa:1:40: cannot read data file "a\\nb"/],
    ];
    for (const [src, re] of cases) {
      const e = sfError(() => assemble(src, { file: 't.sfa', chip: tiny, readFile: () => { throw Object.assign(new Error('x'), { code: 'ENOENT' }); } }));
      expect(e.message, JSON.stringify(e.message)).not.toMatch(/[\r\n]/);
      expect(e.message).toMatch(re);
    }
  });

  it('assembler: a string with a line break where an operand goes gives a one-line error (a mutated rmsnorm.sfa)', () => {
    const e = sfError(() => assemble('.queue MEM.W0\n READ 0, E0\n REPEAT "\\n3", 1\n', { file: 't.sfa', chip: tiny }));
    expect(e.message).not.toMatch(/[\r\n]/);
    expect(e.message).toMatch(/^t\.sfa:3:9: operand "n" of REPEAT: expected an integer, got ""\\n3""$/);
  });

  it('disassembler: a container\'s debug source name with a line break cannot inject lines into the disassembly', () => {
    const p = assemble('.queue MEM.W0\n HALT\n', { file: 'k.sfa', chip: tiny });
    p.source = 'x\n.tensor injected int8[1,1] @ MEM.W1:0';
    const text = disassemble(p, tiny);
    const again = assemble(text, { file: 'd.sfa', chip: tiny });
    expect(again.tensors).toEqual([]);
  });

  it('system preset: an unknown topology containing a line break gives a one-line error', () => {
    const e = sfError(() => parseSystemPreset({ chip: 'tiny', chips: 2, topology: 'ring\nof two' }, 'sys.json'));
    expect(e.message).not.toMatch(/\n/);
    expect(e.where).toBe('sys.json');
  });

  it('chip preset: stream buffers past 4 GiB are refused, not wrapped to a broken core that traps', async () => {
    const j = JSON.parse(readFileSync(join(root, 'presets/chips/tiny.json'), 'utf8')) as Record<string, unknown>;
    Object.assign(j, { superlanes: 64, lanesPerSuperlane: 16, streamsPerDirection: 64, memSlicesPerHemisphere: 128, memVectorsPerSlice: 1, hopCycles: 16 });
    const chip = parseChipPreset(j, 'big.json');
    const e = await sfErrorAsync(() => Core.create(chip, loadCoreWasm(), { checked: false }));
    expect(e.where).toBe('big.json');
  });

  it('system run: functional mode over more memory than the limit is refused before a core is made', async () => {
    const sys = loadSystemPreset('tiny-4');
    const sp = assembleSystem('.system tiny-4\n.program all\n.queue MEM.W0\n HALT\n', 's.sfa', sys);
    const e = await sfErrorAsync(() => runSystem(sp, loadCoreWasm(), { functional: true, threads: 1, memoryLimit: 1 << 20 }));
    expect(e.message).toMatch(/timing-only/);
    // timing-only needs far less and runs
    const r = await runSystem(sp, loadCoreWasm(), { functional: false, threads: 1, memoryLimit: 64 << 20 });
    expect(r.stop).toBe('halt');
  });

  it('system run: worker threads count against the memory limit (--threads 256 over pod-576 took 7.6 GB)', async () => {
    const sys = loadSystemPreset('tiny-4');
    const sp = assembleSystem('.system tiny-4\n.program all\n.queue MEM.W0\n HALT\n', 's.sfa', sys);
    // four tiny timing-only cores are a few MiB; four worker threads are not
    const e = await sfErrorAsync(() => runSystem(sp, loadCoreWasm(), { functional: false, threads: 4, memoryLimit: 64 << 20 }));
    expect(e.message).toMatch(/thread/);
    const r = await runSystem(sp, loadCoreWasm(), { functional: false, threads: 1, memoryLimit: 64 << 20 });
    expect(r.stop).toBe('halt');
  });

  it('system run: an SfError inside a worker thread reaches the caller as an SfError (exit 2, not an internal error)', async () => {
    const sys = loadSystemPreset('tiny-4');
    const sp = assembleSystem('.system tiny-4\n.program all\n.queue MEM.W0\n HALT\n', 's.sfa', sys);
    sp.programs[0]!.queues[0]!.name = 'MEM.W99'; // loading it fails in the worker that owns the chips
    const e = await sfErrorAsync(() => runSystem(sp, loadCoreWasm(), { functional: false, threads: 2 }));
    expect(e.where).toBe('s.sfa');
    expect(e.message).toMatch(/MEM\.W99/);
  });

  it('cli: `run allreduce-8.sfa --system pod-576` is refused in functional mode instead of allocating 130 GB', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/sramflow.js'), 'run', 'programs/kernels/allreduce-8.sfa', '--system', 'pod-576', '--threads', '1'], {
      cwd: root, encoding: 'utf8', timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^sramflow: presets\/systems\/pod-576\.json: .*--timing-only/);
  });

  it('data files: /dev/zero as a chip, system, GPU preset or model config is refused at once, not read forever', () => {
    for (const load of [loadChipPreset, loadSystemPreset, loadGpuPreset, loadModelConfig] as ((p: string) => unknown)[]) {
      const t0 = Date.now();
      const e = sfError(() => load('/dev/zero'));
      expect(e.where).toBe('/dev/zero');
      expect(Date.now() - t0).toBeLessThan(2000);
    }
  });

  it('programs and data: /dev/zero as a program, a file() initialiser or a safetensors file is refused at once', () => {
    const t0 = Date.now();
    expect(sfError(() => loadProgram('/dev/zero')).where).toBe('/dev/zero');
    const src = join(dir, 'zero.sfa');
    writeFileSync(src, '.chip tiny\n.tensor x int8[1,32] @ MEM.W0:0 = file("/dev/zero")\n.queue MEM.W0\n HALT\n');
    expect(sfError(() => loadProgram(src)).message).toMatch(/not a regular file|cannot read/);
    expect(sfError(() => assemble('.tensor x int8[1,32] @ MEM.W0:0 = file("/dev/zero")\n', { file: src, chip: tiny })).where).toMatch(/zero\.sfa:1:/);
    expect(sfError(() => openSafetensors('/dev/zero')).where).toBe('/dev/zero');
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
