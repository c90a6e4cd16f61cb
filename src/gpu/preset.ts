// HBM accelerator presets: JSON files that describe one GPU or TPU for the roofline model in
// model.ts, validated into a GpuPreset.
//
// A preset is a JSON object. Each figure is a plain value or a figure object
//   { "value": ..., "kind": ..., "source": "...", "note": "..." }
// Hardware figures take kind "published" | "derived" | "assumption"; the efficiency knobs
// (under "knobs") take "calibrated" (fitted to the measurements in docs/calibration.md) or
// "assumption" (reasoned, not fitted). Shipped presets (presets/gpus/*.json) use the object form
// everywhere so each figure carries its source; user presets may use plain values (recorded as
// assumptions). "$comment" is allowed anywhere a field is. Every problem is an SfError with a
// one-line message naming the file and the field path.
//
// Peaks are dense figures: datasheets often print 2:4-sparse peaks, twice the dense ones. A
// preset whose 8-bit peak is not 1.5x-2.5x its 16-bit peak is refused, since on every part
// modelled here dense 8-bit runs at twice the 16-bit rate and the usual mistake (a sparse 16-bit
// figure next to a dense 8-bit one, or the reverse) breaks that ratio.
import { basename } from 'node:path';
import { parseJsonText, readDataFile, listShipped } from '../util/data-file.js';
import { FigureReader, isObject, show } from '../util/figures.js';
import { SfError } from '../util/errors.js';

/** The presets folder: ../../presets/gpus/ from src/gpu/ and from dist/gpu/ alike. */
const PRESETS_DIR = new URL('../../presets/gpus/', import.meta.url);

/** Shipped presets in the order they are listed to users. */
const SHIPPED_ORDER = ['a100-80gb', 'h100-sxm', 'h200', 'b200', 'mi300x', 'tpu-v5e', 'tpu-v6e'];

/** Number formats a peak is given for. */
export const PEAK_DTYPES = ['bf16', 'fp16', 'fp8', 'int8'] as const;
export type PeakDtype = (typeof PEAK_DTYPES)[number];

/**
 * How the scale-up links connect chips, which sets the bandwidth a ring all-reduce over n chips
 * gets (see tp.ts): "switch" (NVLink through NVSwitch: every link, whatever n), "mesh" (one link
 * to each peer, as AMD's xGMI: n-1 links), "torus" (TPU ICI: a bidirectional ring uses 2 ports),
 * "none" (a single chip).
 */
export const TOPOLOGIES = ['switch', 'mesh', 'torus', 'none'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

export const HW_KINDS = ['published', 'derived', 'assumption'] as const;
export const KNOB_KINDS = ['calibrated', 'assumption'] as const;
export type FigureKind = (typeof HW_KINDS)[number] | (typeof KNOB_KINDS)[number];

export interface GpuProvenance {
  kind: FigureKind;
  source: string;
  note?: string;
}

/** The model's efficiency knobs; see docs/gpu-model.md for each one and why. */
export interface GpuKnobs {
  /**
   * Fraction of peak HBM bandwidth a memory-bound kernel reaches, by the bytes it moves:
   * [megabytes, efficiency] points, ascending; interpolated in log(bytes), clamped at the ends.
   */
  bwEfficiency: [number, number][];
  /** Fraction of the dense peak a large GEMM reaches, per number format (null: no such peak). */
  computeEfficiency: Record<PeakDtype, number | null>;
  /** Per kernel without CUDA Graphs: the launch cost each kernel adds to the timeline (us); with CUDA Graphs, paid once per step for the graph. */
  launchUs: number;
  /** Per kernel inside a CUDA Graph (or an XLA program): the drain/fill gap between kernels (us). */
  graphKernelUs: number;
  /** Per forward pass (decode step or prefill): host work, sampling, scheduling (us). */
  stepOverheadUs: number;
  /** GEMM output tile [rows, cols] for wave quantisation over computeUnits. */
  gemmTile: [number, number];
  /**
   * Narrow tile [rows, cols] of a skinny GEMM (fewer rows than gemmTile's): the library runs it
   * with tiles this size, splitting K when they leave more than half the compute units idle.
   */
  skinnyTile: [number, number];
  /** Split-KV (Flash-Decoding) chunk: keys per split of a decode attention kernel. */
  splitKvTokens: number;
  /** Weight-only quantised GEMV (int8 weights, 16-bit math): fraction of bwEfficiency kept. */
  weightOnlyBwFactor: number;
  /** Fixed cost of one all-reduce (us): launch, synchronisation, the ring's steps. */
  allReduceLatencyUs: number;
  /** Fraction of the scale-up link bandwidth a ring all-reduce reaches. */
  linkEfficiency: number;
}

export const KNOB_NAMES: readonly (keyof GpuKnobs)[] = [
  'bwEfficiency',
  'computeEfficiency',
  'launchUs',
  'graphKernelUs',
  'stepOverheadUs',
  'gemmTile',
  'skinnyTile',
  'splitKvTokens',
  'weightOnlyBwFactor',
  'allReduceLatencyUs',
  'linkEfficiency',
];

export interface GpuPreset {
  name: string;
  description: string;
  vendor: string;
  /** HBM capacity, GB (1e9 bytes). */
  hbmGB: number;
  /** Peak HBM bandwidth, GB/s (1e9 bytes/s). */
  hbmGBps: number;
  /** Dense peak per number format, TFLOPS (1e12/s); null where the part has none. */
  peakTflops: Record<PeakDtype, number | null>;
  /** SMs (NVIDIA), CUs (AMD), TensorCores (TPU): the units a GEMM's tiles spread over. */
  computeUnits: number;
  /** Last-level on-chip cache, MB (informational). */
  l2MB: number;
  scaleUpTopology: Topology;
  /** Scale-up links (NVLink links, xGMI links, ICI ports) per chip. */
  scaleUpLinks: number;
  /** Bandwidth of one link in one direction, GB/s. */
  scaleUpLinkGBps: number;
  /** Board (GPU) or chip power used for energy estimates, W. */
  powerW: number;
  knobs: GpuKnobs;
  /** Field path -> where its value came from. */
  provenance: Record<string, GpuProvenance>;
  /** The file it was read from ("presets/gpus/<name>.json" for shipped ones). */
  file: string;
}

type Limits = { min: number; max: number; minExclusive?: boolean };

const HW_FIELDS = [
  'hbmGB',
  'hbmGBps',
  'peakTflops',
  'computeUnits',
  'l2MB',
  'scaleUpTopology',
  'scaleUpLinks',
  'scaleUpLinkGBps',
  'powerW',
] as const;
const TOP_FIELDS = ['name', 'description', 'vendor', ...HW_FIELDS, 'knobs'] as const;

/** Every figure's field path in file order (what provenance is keyed by). */
export const GPU_FIGURE_PATHS: readonly string[] = [
  ...HW_FIELDS.flatMap((f) => (f === 'peakTflops' ? PEAK_DTYPES.map((d) => `peakTflops.${d}`) : [f])),
  ...KNOB_NAMES.map((k) => `knobs.${k}`),
];

function range(l: Limits): string {
  return `${l.minExclusive ? `> ${l.min}` : `>= ${l.min}`} and <= ${l.max}`;
}

class Reader extends FigureReader<FigureKind> {
  constructor(file: string) {
    super(file, [...HW_KINDS, ...KNOB_KINDS], (key) =>
      /sparse|sparsity/i.test(key) ? { hint: ' (give dense figures only: 2:4-sparse peaks are twice the dense ones)' } : null);
  }

  numberIn(path: string, v: unknown, l: Limits, opts: { int?: boolean; nullable?: boolean } = {}): number | null {
    if (v === null && opts.nullable) return null;
    const what = `${opts.int ? 'an integer' : 'a finite number'} ${range(l)}${opts.nullable ? ' (or null: not supported)' : ''}`;
    if (typeof v !== 'number' || !Number.isFinite(v) || (opts.int && !Number.isInteger(v))) this.fail(path, `must be ${what}, got ${show(v)}`);
    if (v < l.min || (l.minExclusive && v === l.min) || v > l.max) this.fail(path, `must be ${what}, got ${v}`);
    return v;
  }

  num(obj: Record<string, unknown>, key: string, path: string, l: Limits, kinds: readonly FigureKind[], int = false): number {
    const expect = `${int ? 'an integer' : 'a finite number'} ${range(l)}`;
    return this.numberIn(path, this.figure(obj, key, path, expect, kinds), l, { int })!;
  }

  text(obj: Record<string, unknown>, key: string, fallback: string): string {
    if (!(key in obj)) return fallback;
    const v = obj[key];
    if (typeof v !== 'string') this.fail(key, `must be a string, got ${show(v)}`);
    return v;
  }

  group(obj: Record<string, unknown>, key: string, fields: readonly string[]): Record<string, unknown> {
    if (!(key in obj)) this.fail(key, `missing; required: an object with fields ${fields.join(', ')}`);
    const g = obj[key];
    if (!isObject(g) || 'value' in g) this.fail(key, `must be an object with fields ${fields.join(', ')} (each a figure), got ${show(g)}`);
    this.checkKeys(g, fields, key);
    return g;
  }
}

const POS = (max: number): Limits => ({ min: 0, max, minExclusive: true });
const FRACTION: Limits = { min: 0, max: 1, minExclusive: true };

function parseKnobs(r: Reader, json: Record<string, unknown>, peaks: Record<PeakDtype, number | null>): GpuKnobs {
  const g = r.group(json, 'knobs', KNOB_NAMES);
  const K = KNOB_KINDS;

  const bwPath = 'knobs.bwEfficiency';
  const bwExpect = 'a nonempty list of [megabytes > 0, efficiency in (0, 1]] pairs, megabytes ascending';
  const bwRaw = r.figure(g, 'bwEfficiency', bwPath, bwExpect, K);
  if (!Array.isArray(bwRaw) || bwRaw.length === 0) r.fail(bwPath, `must be ${bwExpect}, got ${show(bwRaw)}`);
  const bwEfficiency: [number, number][] = bwRaw.map((p, i) => {
    const path = `${bwPath}[${i}]`;
    if (!Array.isArray(p) || p.length !== 2) r.fail(path, `must be a [megabytes, efficiency] pair, got ${show(p)}`);
    const mb = r.numberIn(`${path}[0]`, p[0], POS(1e9))!;
    const eff = r.numberIn(`${path}[1]`, p[1], FRACTION)!;
    return [mb, eff];
  });
  for (let i = 1; i < bwEfficiency.length; i++) {
    if (bwEfficiency[i]![0] <= bwEfficiency[i - 1]![0]) r.fail(`${bwPath}[${i}][0]`, `megabytes must ascend, got ${bwEfficiency[i]![0]} after ${bwEfficiency[i - 1]![0]}`);
  }

  const ceRaw = r.figure(g, 'computeEfficiency', 'knobs.computeEfficiency', `an object with ${PEAK_DTYPES.join(', ')}`, K);
  if (!isObject(ceRaw)) r.fail('knobs.computeEfficiency', `must be an object with fields ${PEAK_DTYPES.join(', ')} (each in (0, 1], or null), got ${show(ceRaw)}`);
  r.checkKeys(ceRaw, PEAK_DTYPES, 'knobs.computeEfficiency');
  const computeEfficiency = {} as Record<PeakDtype, number | null>;
  for (const d of PEAK_DTYPES) {
    const path = `knobs.computeEfficiency.${d}`;
    if (!(d in ceRaw)) r.fail(path, 'missing; required: a number in (0, 1], or null where the part has no such peak');
    const v = r.numberIn(path, ceRaw[d], FRACTION, { nullable: true });
    if (v === null && peaks[d] !== null) r.fail(path, `must be a number in (0, 1]: peakTflops.${d} is given`);
    computeEfficiency[d] = v;
  }

  const tile = (key: 'gemmTile' | 'skinnyTile'): [number, number] => {
    const path = `knobs.${key}`;
    const raw = r.figure(g, key, path, 'a [rows, cols] pair of integers in 1..4096', K);
    if (!Array.isArray(raw) || raw.length !== 2) r.fail(path, `must be a [rows, cols] pair of integers in 1..4096, got ${show(raw)}`);
    return [r.numberIn(`${path}[0]`, raw[0], { min: 1, max: 4096 }, { int: true })!, r.numberIn(`${path}[1]`, raw[1], { min: 1, max: 4096 }, { int: true })!];
  };
  const gemmTile = tile('gemmTile');
  const skinnyTile = tile('skinnyTile');
  if (skinnyTile[0] > gemmTile[0]) r.fail('knobs.skinnyTile[0]', `must be <= knobs.gemmTile[0] (${gemmTile[0]}): a skinny GEMM's tile is at most as tall as the wide one, got ${skinnyTile[0]}`);

  const us: Limits = { min: 0, max: 1e6 };
  return {
    bwEfficiency,
    computeEfficiency,
    launchUs: r.num(g, 'launchUs', 'knobs.launchUs', us, K),
    graphKernelUs: r.num(g, 'graphKernelUs', 'knobs.graphKernelUs', us, K),
    stepOverheadUs: r.num(g, 'stepOverheadUs', 'knobs.stepOverheadUs', us, K),
    gemmTile,
    skinnyTile,
    splitKvTokens: r.num(g, 'splitKvTokens', 'knobs.splitKvTokens', { min: 1, max: 1 << 24 }, K, true),
    weightOnlyBwFactor: r.num(g, 'weightOnlyBwFactor', 'knobs.weightOnlyBwFactor', FRACTION, K),
    allReduceLatencyUs: r.num(g, 'allReduceLatencyUs', 'knobs.allReduceLatencyUs', us, K),
    linkEfficiency: r.num(g, 'linkEfficiency', 'knobs.linkEfficiency', FRACTION, K),
  };
}

/**
 * Validate a parsed preset. `file` names it in messages and in the provenance of plain-value
 * figures. Throws SfError on the first problem. "name" defaults to the file's base name.
 */
export function parseGpuPreset(json: unknown, file: string): GpuPreset {
  if (!isObject(json)) {
    throw new SfError(`a GPU preset must be a JSON object, got ${Array.isArray(json) ? 'an array' : show(json)}`, file);
  }
  const r: Reader = new Reader(file);
  r.checkKeys(json, TOP_FIELDS);
  const name = r.text(json, 'name', basename(file).replace(/\.json$/i, '') || 'gpu');
  if (name.trim() === '') r.fail('name', 'must be a nonempty string, got ""');
  // the name appears in messages, which are one line
  if (/[\x00-\x1f\x7f]/.test(name)) r.fail('name', `must be one line without control characters, got ${show(name)}`);
  const description = r.text(json, 'description', '');
  const vendor = r.text(json, 'vendor', '');
  const H = HW_KINDS;

  const hbmGB = r.num(json, 'hbmGB', 'hbmGB', POS(1e6), H);
  const hbmGBps = r.num(json, 'hbmGBps', 'hbmGBps', POS(1e7), H);

  const pg = r.group(json, 'peakTflops', PEAK_DTYPES);
  const peakTflops = {} as Record<PeakDtype, number | null>;
  for (const d of PEAK_DTYPES) {
    const path = `peakTflops.${d}`;
    const v = r.figure(pg, d, path, 'a dense peak in TFLOPS, or null where the part has none', H);
    peakTflops[d] = r.numberIn(path, v, POS(1e6), { nullable: true });
  }
  const halfOrNull = peakTflops.bf16 ?? peakTflops.fp16;
  if (halfOrNull === null) r.fail('peakTflops.bf16', 'bf16 or fp16 must be given (the 16-bit dense peak)');
  const half: number = halfOrNull;
  for (const d of ['fp8', 'int8'] as const) {
    const v = peakTflops[d];
    if (v === null) continue;
    const ratio = v / half;
    if (ratio < 1.5 || ratio > 2.5) {
      const which = peakTflops.bf16 !== null ? 'bf16' : 'fp16';
      r.fail(
        `peakTflops.${d}`,
        `${v} is ${ratio.toFixed(2)}x peakTflops.${which} (${half}); dense 8-bit peaks are 2x the dense 16-bit peak, so one of the two looks like a 2:4-sparse figure (give dense figures only)`,
      );
    }
  }
  if (peakTflops.bf16 !== null && peakTflops.fp16 !== null) {
    const ratio = peakTflops.fp16 / peakTflops.bf16;
    if (ratio < 0.9 || ratio > 1.1) {
      r.fail('peakTflops.fp16', `${peakTflops.fp16} differs from peakTflops.bf16 (${peakTflops.bf16}) by more than 10%; dense fp16 and bf16 run at the same rate on tensor units (is one the 2:4-sparse figure?)`);
    }
  }

  const computeUnits = r.num(json, 'computeUnits', 'computeUnits', { min: 1, max: 1e5 }, H, true);
  const l2MB = r.num(json, 'l2MB', 'l2MB', { min: 0, max: 1e6 }, H);
  const topo = r.figure(json, 'scaleUpTopology', 'scaleUpTopology', `one of ${TOPOLOGIES.join(', ')}`, H);
  if (typeof topo !== 'string' || !(TOPOLOGIES as readonly string[]).includes(topo)) {
    r.fail('scaleUpTopology', `must be one of ${TOPOLOGIES.join(', ')}, got ${show(topo)}`);
  }
  const scaleUpTopology = topo as Topology;
  const scaleUpLinks = r.num(json, 'scaleUpLinks', 'scaleUpLinks', { min: 0, max: 4096 }, H, true);
  const scaleUpLinkGBps = r.num(json, 'scaleUpLinkGBps', 'scaleUpLinkGBps', { min: 0, max: 1e6 }, H);
  if (scaleUpTopology !== 'none' && (scaleUpLinks === 0 || scaleUpLinkGBps === 0)) {
    r.fail(scaleUpLinks === 0 ? 'scaleUpLinks' : 'scaleUpLinkGBps', `must be > 0 when scaleUpTopology is ${scaleUpTopology} (use "none" for a part with no scale-up links)`);
  }
  const powerW = r.num(json, 'powerW', 'powerW', POS(1e5), H);
  const knobs = parseKnobs(r, json, peakTflops);

  return {
    name,
    description,
    vendor,
    hbmGB,
    hbmGBps,
    peakTflops,
    computeUnits,
    l2MB,
    scaleUpTopology,
    scaleUpLinks,
    scaleUpLinkGBps,
    powerW,
    knobs,
    provenance: r.provenance,
    file,
  };
}

/** Parse GPU preset text; bad JSON is an SfError at file:line:col. */
export function parseGpuPresetText(text: string, file: string): GpuPreset {
  return parseGpuPreset(parseJsonText(text, file), file);
}

/** Names of the shipped GPU presets (presets/gpus/*.json), in listing order. */
export function listGpuPresets(): string[] {
  return listShipped(PRESETS_DIR, SHIPPED_ORDER);
}

/**
 * Load a GPU preset: a shipped one by name, otherwise a JSON file path. Shipped files are named
 * `presets/gpus/<name>.json` in messages.
 */
export function loadGpuPreset(nameOrPath: string): GpuPreset {
  const { text, file } = readDataFile(nameOrPath, { dir: PRESETS_DIR, shown: 'presets/gpus', what: 'GPU preset', order: SHIPPED_ORDER });
  return parseGpuPresetText(text, file);
}

/**
 * A copy of `preset` with some knobs replaced (the overridable knobs of the model). Values are
 * validated as in a preset file; a bad one is an SfError naming "knobs.<name>".
 */
export function withKnobs(preset: GpuPreset, overrides: Partial<GpuKnobs>): GpuPreset {
  const knobs: Record<string, unknown> = { ...preset.knobs };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    if (!(KNOB_NAMES as readonly string[]).includes(k)) {
      throw new SfError(`unknown knob "${k}"; knobs: ${KNOB_NAMES.join(', ')}`, 'knob override');
    }
    knobs[k] = v;
  }
  const json = {
    name: preset.name,
    description: preset.description,
    vendor: preset.vendor,
    hbmGB: preset.hbmGB,
    hbmGBps: preset.hbmGBps,
    peakTflops: preset.peakTflops,
    computeUnits: preset.computeUnits,
    l2MB: preset.l2MB,
    scaleUpTopology: preset.scaleUpTopology,
    scaleUpLinks: preset.scaleUpLinks,
    scaleUpLinkGBps: preset.scaleUpLinkGBps,
    powerW: preset.powerW,
    knobs,
  };
  const out = parseGpuPreset(json, `${preset.file} (with knob overrides)`);
  const provenance = { ...preset.provenance };
  for (const k of Object.keys(overrides)) {
    if ((overrides as Record<string, unknown>)[k] !== undefined) provenance[`knobs.${k}`] = { kind: 'assumption', source: 'user override' };
  }
  return { ...out, provenance, file: preset.file };
}
