// Chip presets: JSON files that describe one chip, validated and derived into a ChipConfig.
//
// A preset is a JSON object. Each figure is either a plain value or a figure object
//   { "value": ..., "kind": "published" | "derived" | "assumption", "source": "...", "note": "..." }
// Shipped presets (presets/chips/*.json) use the object form for every figure, so that each one
// carries where it came from; user presets may use plain values (recorded as assumptions).
// "delays" is a group of figures, not a figure itself. "$comment" is allowed and ignored.
// Every problem is an SfError with a one-line message naming the file and the field path.
import { basename } from 'node:path';
import { DTYPE_NAMES, type DtypeName } from '../isa/dtypes.js';
import { FigureReader, isObject, show } from '../util/figures.js';
import { SfError } from '../util/errors.js';
import { parseJsonText, readDataFile, listShipped } from '../util/data-file.js';
import type { ChipConfig, Delays, Provenance } from './config.js';

/** The presets folder: ../../presets/chips/ from src/chip/ and from dist/chip/ alike. */
const PRESETS_DIR = new URL('../../presets/chips/', import.meta.url);

/** Shipped presets in the order they are listed to users (any other shipped files follow, sorted). */
const SHIPPED_ORDER = ['tsp-v1', 'tiny'];

/** Total SRAM the Wasm32 core can hold: 1.5 GiB. */
export const MAX_SRAM_BYTES = 1.5 * 1024 * 1024 * 1024;
export const MAX_LANES = 1024;

const KINDS = ['published', 'derived', 'assumption'] as const;
const MXM_DTYPES: readonly DtypeName[] = ['int8', 'fp16', 'bf16'];

type Limits = { min: number; max: number };
type ScalarField = Exclude<keyof ChipConfig, 'name' | 'description' | 'lanes' | 'mxmDtypes' | 'vxmDtypes' | 'delays' | 'provenance' | 'file'>;

/** Integer figures and their static ranges (mxmInstallRows' upper bound depends on streamsPerDirection). */
const INT_FIELDS: Record<Exclude<ScalarField, 'clockHz'>, Limits> = {
  superlanes: { min: 1, max: 64 },
  lanesPerSuperlane: { min: 1, max: 64 },
  streamsPerDirection: { min: 1, max: 64 },
  memSlicesPerHemisphere: { min: 1, max: 128 },
  memVectorsPerSlice: { min: 1, max: 1048576 },
  memPorts: { min: 1, max: 8 },
  vxmAlus: { min: 1, max: 64 },
  mxmPlanesPerHemisphere: { min: 1, max: 8 },
  mxmInstallRows: { min: 1, max: 128 },
  hopCycles: { min: 1, max: 16 },
  c2cLinks: { min: 0, max: 32 },
  c2cLatencyCycles: { min: 1, max: 100000 },
  c2cVectorCycles: { min: 1, max: 10000 },
  c2cBufferMessages: { min: 1, max: 4096 },
};
const CLOCK: Limits = { min: 1e6, max: 1e11 };
const DELAY_KEYS: readonly (keyof Delays)[] = ['memRead', 'vxmAlu', 'vxmLarge', 'mxm', 'sxm', 'sxmReduce', 'c2cRecv'];
const DELAY_LIMITS: Limits = { min: 1, max: 64 };

/** Top-level fields in file order. */
const TOP_FIELDS = [
  'name',
  'description',
  'clockHz',
  'superlanes',
  'lanesPerSuperlane',
  'streamsPerDirection',
  'memSlicesPerHemisphere',
  'memVectorsPerSlice',
  'memPorts',
  'vxmAlus',
  'mxmPlanesPerHemisphere',
  'mxmInstallRows',
  'mxmDtypes',
  'vxmDtypes',
  'hopCycles',
  'c2cLinks',
  'c2cLatencyCycles',
  'c2cVectorCycles',
  'c2cBufferMessages',
  'delays',
] as const;

/** Every figure's field path, in file order (what provenance is keyed by, besides the derived "lanes"). */
export const FIGURE_PATHS: readonly string[] = [
  ...TOP_FIELDS.filter((f) => f !== 'name' && f !== 'description' && f !== 'delays'),
  ...DELAY_KEYS.map((k) => `delays.${k}`),
];

class Reader extends FigureReader<Provenance['kind']> {
  constructor(file: string) {
    super(file, KINDS, (key, group) => (!group && key === 'lanes' ? { message: 'field "lanes" is derived (superlanes x lanesPerSuperlane); remove it from the preset' } : null));
  }

  int(obj: Record<string, unknown>, key: string, path: string, lim: Limits): number {
    const expect = `an integer in ${lim.min}..${lim.max}`;
    const v = this.figure(obj, key, path, expect);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lim.min || v > lim.max) {
      this.fail(path, `must be ${expect}, got ${show(v)}`);
    }
    return v;
  }

  num(obj: Record<string, unknown>, key: string, path: string, lim: Limits): number {
    const expect = `a finite number in ${lim.min}..${lim.max}`;
    const v = this.figure(obj, key, path, expect);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lim.min || v > lim.max) {
      this.fail(path, `must be ${expect}, got ${show(v)}`);
    }
    return v;
  }

  dtypes(obj: Record<string, unknown>, key: string, allowed: readonly DtypeName[]): DtypeName[] {
    const expect = `a nonempty list of distinct dtypes from ${allowed.join(', ')}`;
    const v = this.figure(obj, key, key, expect);
    if (!Array.isArray(v) || v.length === 0) this.fail(key, `must be ${expect}, got ${show(v)}`);
    const out: DtypeName[] = [];
    v.forEach((d, i) => {
      const path = `${key}[${i}]`;
      if (typeof d !== 'string') this.fail(path, `must be a dtype name (${allowed.join(', ')}), got ${show(d)}`);
      if (!(allowed as readonly string[]).includes(d)) {
        const why = (DTYPE_NAMES as readonly string[]).includes(d) ? 'dtype not allowed here' : 'unknown dtype';
        this.fail(path, `${why} ${show(d)}; allowed: ${allowed.join(', ')}`);
      }
      if (out.includes(d as DtypeName)) this.fail(path, `duplicate dtype ${show(d)}; list each dtype once`);
      out.push(d as DtypeName);
    });
    return out;
  }

  text(obj: Record<string, unknown>, key: string, fallback: string | undefined): string {
    if (!(key in obj)) {
      if (fallback !== undefined) return fallback;
      this.fail(key, 'missing; required: a nonempty string');
    }
    const v = obj[key];
    if (typeof v !== 'string' || (fallback === undefined && v.trim() === '')) {
      this.fail(key, `must be a ${fallback === undefined ? 'nonempty ' : ''}string, got ${show(v)}`);
    }
    return v;
  }
}

/**
 * Validate a parsed preset and derive a ChipConfig. `file` names the preset in messages and in
 * the provenance of plain-value figures. Throws SfError on the first problem.
 * "name" defaults to the file's base name without ".json"; "description" defaults to "".
 */
export function parseChipPreset(json: unknown, file: string): ChipConfig {
  const r: Reader = new Reader(file);
  if (!isObject(json)) {
    const got = Array.isArray(json) ? 'an array' : show(json);
    throw new SfError(`a chip preset must be a JSON object, got ${got}`, file);
  }
  r.checkKeys(json, TOP_FIELDS);

  const name = r.text(json, 'name', basename(file).replace(/\.json$/i, '') || 'chip');
  if (name.trim() === '') r.fail('name', 'must be a nonempty string, got ""');
  // the name appears in messages, which are one line
  if (/[\x00-\x1f\x7f]/.test(name)) r.fail('name', `must be one line without control characters, got ${show(name)}`);
  const description = r.text(json, 'description', '');

  const clockHz = r.num(json, 'clockHz', 'clockHz', CLOCK);
  const int = (key: keyof typeof INT_FIELDS, lim: Limits = INT_FIELDS[key]) => r.int(json, key, key, lim);

  const superlanes = int('superlanes');
  const lanesPerSuperlane = int('lanesPerSuperlane');
  const lanes = superlanes * lanesPerSuperlane;
  if (lanes > MAX_LANES) {
    r.fail(
      'lanesPerSuperlane',
      `superlanes x lanesPerSuperlane = ${superlanes} x ${lanesPerSuperlane} = ${lanes} lanes; must be at most ${MAX_LANES}`,
    );
  }
  const streamsPerDirection = int('streamsPerDirection');
  const memSlicesPerHemisphere = int('memSlicesPerHemisphere');
  const memVectorsPerSlice = int('memVectorsPerSlice');
  const sram = 2 * memSlicesPerHemisphere * memVectorsPerSlice * lanes;
  if (sram > MAX_SRAM_BYTES) {
    const gib = (sram / 2 ** 30).toFixed(2);
    r.fail(
      'memVectorsPerSlice',
      `total SRAM 2 x memSlicesPerHemisphere x memVectorsPerSlice x lanes = 2 x ${memSlicesPerHemisphere} x ${memVectorsPerSlice} x ${lanes} = ${sram} bytes (${gib} GiB); must be at most 1.5 GiB, the most the Wasm32 core can hold`,
    );
  }
  const memPorts = int('memPorts');
  const vxmAlus = int('vxmAlus');
  const mxmPlanesPerHemisphere = int('mxmPlanesPerHemisphere');
  const mxmInstallRows = int('mxmInstallRows', { min: 1, max: 2 * streamsPerDirection });
  const mxmDtypes = r.dtypes(json, 'mxmDtypes', MXM_DTYPES);
  const vxmDtypes = r.dtypes(json, 'vxmDtypes', DTYPE_NAMES);
  const hopCycles = int('hopCycles');
  const c2cLinks = int('c2cLinks');
  const c2cLatencyCycles = int('c2cLatencyCycles');
  const c2cVectorCycles = int('c2cVectorCycles');
  const c2cBufferMessages = int('c2cBufferMessages');

  if (!('delays' in json)) r.fail('delays', `missing; required: an object with ${DELAY_KEYS.join(', ')}`);
  const rawDelays = json.delays;
  if (!isObject(rawDelays) || 'value' in rawDelays) {
    r.fail('delays', `must be an object with fields ${DELAY_KEYS.join(', ')} (each a figure), got ${show(rawDelays)}`);
  }
  r.checkKeys(rawDelays, DELAY_KEYS, 'delays');
  const delays = {} as Delays;
  for (const k of DELAY_KEYS) delays[k] = r.int(rawDelays, k, `delays.${k}`, DELAY_LIMITS);

  const provenance: Record<string, Provenance> = {};
  for (const path of FIGURE_PATHS) {
    provenance[path] = r.provenance[path]!;
    if (path === 'lanesPerSuperlane') {
      provenance.lanes = {
        kind: 'derived',
        source: `${file}: superlanes x lanesPerSuperlane`,
        note: `${superlanes} x ${lanesPerSuperlane} = ${lanes}`,
      };
    }
  }

  return {
    name,
    description,
    clockHz,
    superlanes,
    lanesPerSuperlane,
    lanes,
    streamsPerDirection,
    memSlicesPerHemisphere,
    memVectorsPerSlice,
    memPorts,
    vxmAlus,
    mxmPlanesPerHemisphere,
    mxmInstallRows,
    mxmDtypes,
    vxmDtypes,
    hopCycles,
    c2cLinks,
    c2cLatencyCycles,
    c2cVectorCycles,
    c2cBufferMessages,
    delays,
    provenance,
    file,
  };
}

/** Names of the shipped presets (presets/chips/*.json), tsp-v1 and tiny first. */
export function listChipPresets(): string[] {
  return listShipped(PRESETS_DIR, SHIPPED_ORDER);
}

/** Parse preset text; bad JSON becomes an SfError at file:line:col where the position is known. */
export function parseChipPresetText(text: string, file: string): ChipConfig {
  return parseChipPreset(parseJsonText(text, file), file);
}

/**
 * Load a chip preset: a shipped preset by name ("tsp-v1", "tiny"), otherwise a JSON file path.
 * Shipped presets are named `presets/chips/<name>.json` in messages and in ChipConfig.file.
 */
export function loadChipPreset(nameOrPath: string): ChipConfig {
  const { text, file } = readDataFile(nameOrPath, { dir: PRESETS_DIR, shown: 'presets/chips', what: 'chip preset', order: SHIPPED_ORDER });
  return parseChipPresetText(text, file);
}
