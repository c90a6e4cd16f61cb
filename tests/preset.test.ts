import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ChipConfig } from '../src/chip/config.js';
import { FIGURE_PATHS, listChipPresets, loadChipPreset, parseChipPreset } from '../src/chip/preset.js';
import { expectSfError } from './helpers/expect-error.js';

const root = new URL('../', import.meta.url);
const SHIPPED = ['tsp-v1', 'tiny'];
const readJson = (name: string) => JSON.parse(readFileSync(new URL(`presets/chips/${name}.json`, root), 'utf8'));

const tmp = mkdtempSync(join(tmpdir(), 'sramflow-preset-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A deep copy of tiny.json with `edit` applied. */
function tinyWith(edit: (j: any) => void): any {
  const j = readJson('tiny');
  edit(j);
  return j;
}

function valueAt(chip: ChipConfig, path: string): unknown {
  return path.split('.').reduce<any>((o, k) => o[k], chip);
}

describe('shipped presets', () => {
  it('are listed, tsp-v1 first', () => {
    const names = listChipPresets();
    expect(names.slice(0, 2)).toEqual(SHIPPED);
  });

  it('tsp-v1 loads: 320 lanes, 220 MiB SRAM', () => {
    const c = loadChipPreset('tsp-v1');
    expect(c.name).toBe('tsp-v1');
    expect(c.lanes).toBe(320);
    expect(c.clockHz).toBe(900e6);
    expect(c.memSlicesPerHemisphere).toBe(44);
    expect(2 * c.memSlicesPerHemisphere * c.memVectorsPerSlice * c.lanes).toBe(220 * 1024 * 1024);
    expect(c.mxmDtypes).toEqual(['int8', 'fp16']);
    expect(c.delays).toEqual({ memRead: 2, vxmAlu: 2, vxmLarge: 4, mxm: 20, sxm: 2, sxmReduce: 5, c2cRecv: 2 });
    expect([c.c2cLinks, c.c2cLatencyCycles, c.c2cVectorCycles]).toEqual([11, 216, 24]);
    expect(c.file).toBe('presets/chips/tsp-v1.json');
    expect(c.provenance.clockHz!.kind).toBe('published');
    expect(c.provenance.memVectorsPerSlice!.kind).toBe('derived');
    expect(c.provenance['delays.mxm']!.kind).toBe('assumption');
  });

  it('tiny loads: 32 lanes', () => {
    const c = loadChipPreset('tiny');
    expect(c.lanes).toBe(32);
    expect(c.vxmDtypes).toEqual(['int8', 'int16', 'int32', 'fp16', 'bf16', 'fp32']);
    expect(c.mxmInstallRows).toBe(4);
  });

  for (const name of SHIPPED) {
    it(`${name}: every figure is an object with kind and source, and has provenance`, () => {
      const raw = readJson(name);
      const c = loadChipPreset(name);
      for (const path of FIGURE_PATHS) {
        const fig = path.split('.').reduce((o, k) => o[k], raw);
        expect(fig, path).toBeTypeOf('object');
        expect(fig.kind, path).toMatch(/^(published|derived|assumption)$/);
        expect(typeof fig.source === 'string' && fig.source.trim().length > 0, `${path} source`).toBe(true);
        if (fig.kind !== 'published') expect((fig.note ?? '').length, `${path} note`).toBeGreaterThan(0);
        const p = c.provenance[path];
        expect(p, path).toBeDefined();
        expect(p!.source.length, path).toBeGreaterThan(0);
        expect(p!.kind).toBe(fig.kind);
      }
      expect(Object.keys(c.provenance).sort()).toEqual([...FIGURE_PATHS, 'lanes'].sort());
      if (name === 'tiny') expect(Object.values(c.provenance).every((p) => p.kind !== 'published')).toBe(true);
    });
  }

  it('docs/presets.md lists every field of each shipped preset with its value', () => {
    const doc = readFileSync(new URL('docs/presets.md', root), 'utf8');
    for (const name of SHIPPED) {
      const start = doc.indexOf(`## Preset \`${name}\``);
      expect(start, `section for ${name}`).toBeGreaterThanOrEqual(0);
      const next = doc.indexOf('\n## ', start + 1);
      const section = doc.slice(start, next < 0 ? undefined : next);
      const c = loadChipPreset(name);
      for (const path of [...FIGURE_PATHS, 'lanes']) {
        const v = valueAt(c, path);
        const shown = Array.isArray(v) ? v.join(', ') : String(v);
        const row = section.split('\n').find((l) => l.startsWith(`| \`${path}\` |`));
        expect(row, `${name}: row for ${path}`).toBeDefined();
        const cells = row!.split('|').map((s) => s.trim());
        expect(cells[2], `${name}: value of ${path}`).toBe(shown);
        expect(cells[3], `${name}: kind of ${path}`).toBe(c.provenance[path]!.kind);
      }
    }
  });
});

describe('validation errors name the field path', () => {
  const F = 'presets/x.json';
  const parse = (j: unknown) => () => parseChipPreset(j, F);

  it('accepts tiny as parsed JSON', () => {
    expect(parseChipPreset(readJson('tiny'), F).lanes).toBe(32);
  });

  it('wrong type', () => {
    expectSfError(parse(tinyWith((j) => (j.superlanes.value = '2'))), F, 'field "superlanes"', 'integer in 1..64', '"2"');
    expectSfError(parse(tinyWith((j) => (j.memPorts = 1.5))), 'field "memPorts"', 'integer in 1..8', '1.5');
    expectSfError(parse(tinyWith((j) => (j.mxmDtypes = 'int8'))), 'field "mxmDtypes"', 'nonempty list');
    expectSfError(parse(tinyWith((j) => (j.delays = 3))), 'field "delays"', 'memRead');
    expectSfError(parse(tinyWith((j) => (j.name = 7))), 'field "name"', 'string');
    expectSfError(parse([1, 2]), F, 'JSON object');
  });

  it('out of range', () => {
    expectSfError(
      parse(tinyWith((j) => (j.delays.mxm.value = -3))),
      `${F}: field "delays.mxm": must be an integer in 1..64, got -3`,
    );
    expectSfError(parse(tinyWith((j) => (j.clockHz = 1e12))), 'field "clockHz"', '1000000..100000000000');
    expectSfError(parse(tinyWith((j) => (j.superlanes = 0))), 'field "superlanes"', '1..64');
    expectSfError(parse(tinyWith((j) => (j.hopCycles.value = 17))), 'field "hopCycles"', '1..16');
    expectSfError(parse(tinyWith((j) => (j.mxmInstallRows = 17))), 'field "mxmInstallRows"', '1..16', '17');
    expectSfError(
      parse(tinyWith((j) => ((j.superlanes = 64), (j.lanesPerSuperlane = 32)))),
      'field "lanesPerSuperlane"',
      'at most 1024',
    );
  });

  it('total SRAM over 1.5 GiB', () => {
    const j = tinyWith((j) => {
      j.superlanes = 64;
      j.lanesPerSuperlane = 16;
      j.memSlicesPerHemisphere = 128;
      j.memVectorsPerSlice = 8192;
    });
    expectSfError(parse(j), 'field "memVectorsPerSlice"', 'total SRAM', '1.5 GiB', 'Wasm32');
    // Exactly at the limit is fine: 2 x 96 x 8192 x 1024 = 1.5 GiB.
    j.superlanes = 64;
    j.lanesPerSuperlane = 16;
    j.memSlicesPerHemisphere = 96;
    expect(parseChipPreset(j, F).memVectorsPerSlice).toBe(8192);
  });

  it('unknown field', () => {
    const e = expectSfError(parse(tinyWith((j) => (j.clock = 1))), `${F}: unknown field "clock"`, 'allowed fields', 'clockHz');
    expect(e.message).toContain('delays');
    expectSfError(parse(tinyWith((j) => (j.delays.mxmm = 1))), 'unknown field "delays.mxmm"', 'sxmReduce');
    expectSfError(parse(tinyWith((j) => (j.lanes = 32))), 'field "lanes"', 'derived');
    expectSfError(parse(tinyWith((j) => (j.memPorts.units = 'x'))), 'field "memPorts"', 'unknown key "units"', 'value, kind, source, note');
  });

  it('bad figure objects', () => {
    expectSfError(parse(tinyWith((j) => delete j.clockHz.value)), 'field "clockHz"', '"value"');
    expectSfError(parse(tinyWith((j) => (j.clockHz.kind = 'guess'))), 'field "clockHz.kind"', 'published, derived, assumption', '"guess"');
    expectSfError(parse(tinyWith((j) => (j.clockHz.source = ''))), 'field "clockHz.source"', 'nonempty string');
    expectSfError(parse(tinyWith((j) => (j.delays.sxm.note = 5))), 'field "delays.sxm.note"', 'string');
  });

  it('unknown, disallowed or duplicate dtype', () => {
    expectSfError(
      parse(tinyWith((j) => (j.mxmDtypes.value = ['int8', 'fp8']))),
      'field "mxmDtypes[1]": unknown dtype "fp8"; allowed: int8, fp16, bf16',
    );
    expectSfError(parse(tinyWith((j) => (j.mxmDtypes.value = ['fp32']))), 'field "mxmDtypes[0]"', 'allowed: int8, fp16, bf16');
    expectSfError(parse(tinyWith((j) => (j.vxmDtypes.value = ['int8', 'int8']))), 'field "vxmDtypes[1]"', 'duplicate');
    expectSfError(parse(tinyWith((j) => (j.vxmDtypes.value = []))), 'field "vxmDtypes"', 'nonempty');
  });

  it('missing field', () => {
    expectSfError(parse(tinyWith((j) => delete j.streamsPerDirection)), 'field "streamsPerDirection"', 'missing', '1..64');
    expectSfError(parse(tinyWith((j) => delete j.delays.sxmReduce)), 'field "delays.sxmReduce"', 'missing');
    expectSfError(parse(tinyWith((j) => delete j.delays)), 'field "delays"', 'missing');
  });

  it('name and description are optional for user presets', () => {
    const j = tinyWith((j) => {
      delete j.name;
      delete j.description;
    });
    const c = parseChipPreset(j, 'some/dir/mine.json');
    expect(c.name).toBe('mine');
    expect(c.description).toBe('');
  });
});

describe('loading files', () => {
  it('bad JSON gives file:line:col', () => {
    const p = join(tmp, 'bad.json');
    writeFileSync(p, '{\n  "name": "x",\n  oops\n}\n');
    expectSfError(() => loadChipPreset(p), `${p}:3:3: invalid JSON`);
    const empty = join(tmp, 'empty.json');
    writeFileSync(empty, '');
    expectSfError(() => loadChipPreset(empty), empty, 'invalid JSON');
  });

  it('missing file', () => {
    const p = join(tmp, 'nope.json');
    expectSfError(() => loadChipPreset(p), `${p}: no such chip preset file (shipped: tsp-v1, tiny`);
    expectSfError(() => loadChipPreset('tsp-v9'), 'tsp-v9: no such chip preset file');
  });

  it('a directory is not a preset', () => {
    expectSfError(() => loadChipPreset(tmp), tmp, 'directory');
  });

  it('a user preset with plain values loads', () => {
    const plain = {
      $comment: 'plain numbers',
      name: 'mine',
      clockHz: 1e9,
      superlanes: 4,
      lanesPerSuperlane: 16,
      streamsPerDirection: 16,
      memSlicesPerHemisphere: 8,
      memVectorsPerSlice: 1024,
      memPorts: 1,
      vxmAlus: 8,
      mxmPlanesPerHemisphere: 1,
      mxmInstallRows: 8,
      mxmDtypes: ['int8'],
      vxmDtypes: ['int8', 'int32', 'fp32'],
      hopCycles: 2,
      c2cLinks: 2,
      c2cLatencyCycles: 30,
      c2cVectorCycles: 3,
      c2cBufferMessages: 8,
      delays: { memRead: 1, vxmAlu: 1, vxmLarge: 3, mxm: 6, sxm: 1, sxmReduce: 3, c2cRecv: 1 },
    };
    const p = join(tmp, 'mine.json');
    writeFileSync(p, JSON.stringify(plain, null, 2));
    const c = loadChipPreset(p);
    expect(c.lanes).toBe(64);
    expect(c.file).toBe(p);
    expect(c.hopCycles).toBe(2);
    expect(c.delays.mxm).toBe(6);
    expect(c.provenance['delays.mxm']).toEqual({ kind: 'assumption', source: `user preset ${p}` });
    expect(c.provenance.clockHz!.source).toBe(`user preset ${p}`);
  });
});
