// Wafer-scale presets (a Cerebras-style wafer: all weights and KV cache in on-wafer SRAM), JSON
// files in presets/wafers/ validated into a WaferPreset for the analytical model in model.ts.
//
// Same figure format as the GPU presets: each figure is a plain value or
//   { "value": ..., "kind": ..., "source": "...", "note": "..." }
// Hardware figures take kind "published" | "derived" | "assumption"; the model's knobs (under
// "knobs") "calibrated" | "assumption". Every problem is a one-line SfError naming the file and
// the field path.
import { basename } from 'node:path';
import { parseJsonText, readDataFile, listShipped } from '../util/data-file.js';
import { FigureReader, isObject, show } from '../util/figures.js';
import { SfError } from '../util/errors.js';

const PRESETS_DIR = new URL('../../presets/wafers/', import.meta.url);
const SHIPPED_ORDER = ['cs-3'];

export const WAFER_HW_KINDS = ['published', 'derived', 'assumption'] as const;
export const WAFER_KNOB_KINDS = ['calibrated', 'assumption'] as const;
export type WaferFigureKind = (typeof WAFER_HW_KINDS)[number] | (typeof WAFER_KNOB_KINDS)[number];

export interface WaferProvenance {
  kind: WaferFigureKind;
  source: string;
  note?: string;
}

/** The analytical model's parameters; docs/gpu-model.md ("Wafer-scale systems") explains each. */
export interface WaferKnobs {
  /** Fraction of the aggregate SRAM bandwidth a region's matrix-vector work reaches. */
  sramBwEfficiency: number;
  /** Fraction of peakTflops a region's matrix work reaches. */
  computeEfficiency: number;
  /** Fraction of the SRAM that can hold weights and KV cache (the rest: code, buffers, activations). */
  usableSramFraction: number;
  /**
   * The pipeline/fabric assumption: fixed time each pipeline stage (one decoder layer, or the
   * final norm + LM head) adds per micro-batch on top of its roofline time: moving the
   * activation vector across the stage's region of cores, reductions, synchronisation (us).
   */
  stageLatencyUs: number;
  /** Fixed cost of passing activations from one wafer to the next (us). */
  interWaferLatencyUs: number;
  /** Prefill streams the prompt through the layer pipeline in chunks of this many tokens. */
  prefillChunkTokens: number;
}

export const WAFER_KNOB_NAMES: readonly (keyof WaferKnobs)[] = [
  'sramBwEfficiency',
  'computeEfficiency',
  'usableSramFraction',
  'stageLatencyUs',
  'interWaferLatencyUs',
  'prefillChunkTokens',
];

export interface WaferPreset {
  name: string;
  description: string;
  vendor: string;
  /** On-wafer SRAM, GB (1e9 bytes). */
  sramGB: number;
  /** Aggregate SRAM bandwidth, TB/s (1e12 bytes/s). */
  sramTBps: number;
  /** Cores on the wafer (informational). */
  cores: number;
  /** Peak 16-bit tensor rate, TFLOPS, as the vendor gives it. */
  peakTflops: number;
  /** Bandwidth between two wafers (systems), GB/s, one direction. */
  interWaferGBps: number;
  /** Power of one system (wafer, power delivery, cooling), W. */
  powerW: number;
  knobs: WaferKnobs;
  provenance: Record<string, WaferProvenance>;
  file: string;
}

const HW_FIELDS = ['sramGB', 'sramTBps', 'cores', 'peakTflops', 'interWaferGBps', 'powerW'] as const;
const TOP_FIELDS = ['name', 'description', 'vendor', ...HW_FIELDS, 'knobs'] as const;

/** Every figure's field path (what provenance is keyed by). */
export const WAFER_FIGURE_PATHS: readonly string[] = [...HW_FIELDS, ...WAFER_KNOB_NAMES.map((k) => `knobs.${k}`)];

type Limits = { min: number; max: number; minExclusive?: boolean; int?: boolean };

class Reader extends FigureReader<WaferFigureKind> {
  constructor(file: string) {
    super(file, [...WAFER_HW_KINDS, ...WAFER_KNOB_KINDS]);
  }

  num(obj: Record<string, unknown>, key: string, path: string, l: Limits, kinds: readonly WaferFigureKind[]): number {
    const what = `${l.int ? 'an integer' : 'a finite number'} ${l.minExclusive ? `> ${l.min}` : `>= ${l.min}`} and <= ${l.max}`;
    const v = this.figure(obj, key, path, what, kinds);
    if (typeof v !== 'number' || !Number.isFinite(v) || (l.int && !Number.isInteger(v))) this.fail(path, `must be ${what}, got ${show(v)}`);
    if (v < l.min || (l.minExclusive && v === l.min) || v > l.max) this.fail(path, `must be ${what}, got ${v}`);
    return v;
  }

  text(obj: Record<string, unknown>, key: string, fallback: string): string {
    if (!(key in obj)) return fallback;
    const v = obj[key];
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${show(v)}`);
    if (/[\x00-\x1f\x7f]/.test(v)) this.fail(key, `must be one line without control characters, got ${show(v)}`);
    return v;
  }
}

const POS = (max: number): Limits => ({ min: 0, max, minExclusive: true });
const FRACTION: Limits = { min: 0, max: 1, minExclusive: true };

/** Validate a parsed wafer preset; `file` names it in messages. */
export function parseWaferPreset(json: unknown, file: string): WaferPreset {
  if (!isObject(json)) throw new SfError(`a wafer preset must be a JSON object, got ${Array.isArray(json) ? 'an array' : show(json)}`, file);
  const r: Reader = new Reader(file);
  r.checkKeys(json, TOP_FIELDS);
  const name = r.text(json, 'name', basename(file).replace(/\.json$/i, '') || 'wafer');
  if (name.trim() === '') r.fail('name', 'must be a nonempty string, got ""');
  const H = WAFER_HW_KINDS;
  const K = WAFER_KNOB_KINDS;
  const sramGB = r.num(json, 'sramGB', 'sramGB', POS(1e7), H);
  const sramTBps = r.num(json, 'sramTBps', 'sramTBps', POS(1e9), H);
  const cores = r.num(json, 'cores', 'cores', { min: 1, max: 1e9, int: true }, H);
  const peakTflops = r.num(json, 'peakTflops', 'peakTflops', POS(1e9), H);
  const interWaferGBps = r.num(json, 'interWaferGBps', 'interWaferGBps', POS(1e7), H);
  const powerW = r.num(json, 'powerW', 'powerW', POS(1e7), H);

  if (!('knobs' in json)) r.fail('knobs', `missing; required: an object with fields ${WAFER_KNOB_NAMES.join(', ')}`);
  const g = json.knobs;
  if (!isObject(g) || 'value' in g) r.fail('knobs', `must be an object with fields ${WAFER_KNOB_NAMES.join(', ')} (each a figure), got ${show(g)}`);
  r.checkKeys(g, WAFER_KNOB_NAMES, 'knobs');
  const us: Limits = { min: 0, max: 1e6 };
  const knobs: WaferKnobs = {
    sramBwEfficiency: r.num(g, 'sramBwEfficiency', 'knobs.sramBwEfficiency', FRACTION, K),
    computeEfficiency: r.num(g, 'computeEfficiency', 'knobs.computeEfficiency', FRACTION, K),
    usableSramFraction: r.num(g, 'usableSramFraction', 'knobs.usableSramFraction', FRACTION, K),
    stageLatencyUs: r.num(g, 'stageLatencyUs', 'knobs.stageLatencyUs', us, K),
    interWaferLatencyUs: r.num(g, 'interWaferLatencyUs', 'knobs.interWaferLatencyUs', us, K),
    prefillChunkTokens: r.num(g, 'prefillChunkTokens', 'knobs.prefillChunkTokens', { min: 1, max: 1 << 20, int: true }, K),
  };
  return {
    name,
    description: r.text(json, 'description', ''),
    vendor: r.text(json, 'vendor', ''),
    sramGB,
    sramTBps,
    cores,
    peakTflops,
    interWaferGBps,
    powerW,
    knobs,
    provenance: r.provenance,
    file,
  };
}

export function parseWaferPresetText(text: string, file: string): WaferPreset {
  return parseWaferPreset(parseJsonText(text, file), file);
}

/** Names of the shipped wafer presets (presets/wafers/*.json). */
export function listWaferPresets(): string[] {
  return listShipped(PRESETS_DIR, SHIPPED_ORDER);
}

/** Load a wafer preset: a shipped one by name, otherwise a JSON file path. */
export function loadWaferPreset(nameOrPath: string): WaferPreset {
  const { text, file } = readDataFile(nameOrPath, { dir: PRESETS_DIR, shown: 'presets/wafers', what: 'wafer preset', order: SHIPPED_ORDER });
  return parseWaferPresetText(text, file);
}

/** A copy of `preset` with some knobs replaced, validated as in a preset file. */
export function withWaferKnobs(preset: WaferPreset, overrides: Partial<WaferKnobs>): WaferPreset {
  const knobs: Record<string, unknown> = { ...preset.knobs };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    if (!(WAFER_KNOB_NAMES as readonly string[]).includes(k)) throw new SfError(`unknown knob "${k}"; knobs: ${WAFER_KNOB_NAMES.join(', ')}`, 'knob override');
    knobs[k] = v;
  }
  const { provenance: _p, file: _f, knobs: _k, ...hw } = preset;
  const out = parseWaferPreset({ ...hw, knobs }, `${preset.file} (with knob overrides)`);
  const provenance = { ...preset.provenance };
  for (const k of Object.keys(overrides)) {
    if ((overrides as Record<string, unknown>)[k] !== undefined) provenance[`knobs.${k}`] = { kind: 'assumption', source: 'user override' };
  }
  return { ...out, provenance, file: preset.file };
}
