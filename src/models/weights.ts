// A layer's weights and inputs: drawn from a seed, or read from a safetensors checkpoint; and
// stored the way the graph's precision says (int8 codes + fp32 scales, or rounded floats).
//
// Raw weights are float64 arrays in HF layout (matrices [out, in], row-major), keyed by graph
// name ("q_proj.weight", "attn_norm.weight", ...; see WEIGHT_ORDER in graph.ts).
//
// The seeded generator (reproducible in any language). Stream j is mulberry32 (src/asm/fill.ts)
// seeded with (seed + (j + 1) * 0x9E3779B9) mod 2^32; element i of a tensor, row-major, is
// lo + (hi - lo) * u_i, u_i the stream's i-th draw. Weights use j = their index in WEIGHT_ORDER
// (0 attn_norm.weight, 1 q_proj.weight, 2 q_proj.bias, ..., 15 down_proj.bias; a weight the
// config does not have is skipped, and the others keep their j):
//   RMSNorm gains  lo, hi = 0.75, 1.25
//   matrices       lo, hi = -1/sqrt(in), +1/sqrt(in)     (in = the matrix's input features)
//   biases         lo, hi = -0.1, 0.1
// Inputs use j = 16 for x ([B*T, H], -1..1, each rounded to fp32: x is an fp32 tensor),
// j = 17 for the past keys and j = 18 for the past values ([B, kv_heads, past, D], -1..1;
// the reference rounds them into the cache's dtype).
import { mulberry32 } from '../asm/fill.js';
import { SfError } from '../util/errors.js';
import type { ModelConfig } from './config.js';
import {
  hfWeightName,
  layerWeights,
  projections,
  WEIGHT_ORDER,
  type LayerGraph,
  type LayerShape,
  type WeightName,
} from './graph.js';
import { quantizeRowsInt8, roundFloat, type FloatDtype, type Precision } from './quant.js';
import { openSafetensors, type SafetensorsFile } from './safetensors.js';

export type RawWeights = Partial<Record<WeightName, Float64Array>>;

/** Values of the layer's inputs, float64. */
export interface LayerInputs {
  /** [B*T, H], row b*T + t. */
  x: Float64Array;
  /** [B, kv_heads, past, D]: keys (after RoPE) of the cached positions. */
  kPast: Float64Array;
  /** [B, kv_heads, past, D]. */
  vPast: Float64Array;
}

/** The seed of stream j (see the header). */
export function streamSeed(seed: number, j: number): number {
  return (seed + Math.imul(j + 1, 0x9e3779b9)) >>> 0;
}

function draw(seed: number, j: number, n: number, lo: number, hi: number): Float64Array {
  const next = mulberry32(streamSeed(seed, j));
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

/** The expected [shape] of each raw weight the config has, in WEIGHT_ORDER. */
export function rawWeightShapes(config: ModelConfig): { name: WeightName; shape: number[]; kind: 'gain' | 'matrix' | 'bias' }[] {
  const proj = new Map(projections(config).map((p) => [p.name, p]));
  const out: { name: WeightName; shape: number[]; kind: 'gain' | 'matrix' | 'bias' }[] = [];
  for (const name of WEIGHT_ORDER) {
    const [mod, param] = name.split('.') as [string, string];
    if (mod === 'attn_norm' || mod === 'mlp_norm') {
      out.push({ name, shape: [config.hiddenSize], kind: 'gain' });
      continue;
    }
    const p = proj.get(mod)!;
    if (param === 'bias') {
      if (p.bias) out.push({ name, shape: [p.out], kind: 'bias' });
    } else {
      out.push({ name, shape: [p.out, p.in], kind: 'matrix' });
    }
  }
  return out;
}

/** Draw a layer's weights from `seed` (see the header for the exact rule). */
export function randomWeights(config: ModelConfig, seed = 1): RawWeights {
  const out: RawWeights = {};
  for (const w of rawWeightShapes(config)) {
    const j = WEIGHT_ORDER.indexOf(w.name);
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (w.kind === 'gain') out[w.name] = draw(seed, j, n, 0.75, 1.25);
    else if (w.kind === 'bias') out[w.name] = draw(seed, j, n, -0.1, 0.1);
    else {
      const a = 1 / Math.sqrt(w.shape[1]!);
      out[w.name] = draw(seed, j, n, -a, a);
    }
  }
  return out;
}

/** Draw the layer's inputs for a shape from `seed` (see the header). */
export function randomInputs(config: ModelConfig, shape: LayerShape, seed = 1): LayerInputs {
  const x = draw(seed, 16, shape.rows * config.hiddenSize, -1, 1);
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i]!);
  const n = shape.batch * config.numKeyValueHeads * shape.past * config.headDim;
  return { x, kPast: draw(seed, 17, n, -1, 1), vPast: draw(seed, 18, n, -1, 1) };
}

/** Check that raw weights match the config's shapes (a missing, extra or wrong-size one is an error). */
export function checkRawWeights(config: ModelConfig, raw: RawWeights, where = 'weights'): void {
  const expected = rawWeightShapes(config);
  for (const w of expected) {
    const a = raw[w.name];
    const n = w.shape.reduce((x, y) => x * y, 1);
    if (!a) throw new SfError(`missing weight "${w.name}" [${w.shape.join(', ')}]`, where);
    if (a.length !== n) throw new SfError(`weight "${w.name}" has ${a.length} values, [${w.shape.join(', ')}] needs ${n}`, where);
  }
  for (const k of Object.keys(raw)) {
    if (!expected.some((w) => w.name === k)) throw new SfError(`weight "${k}" is not part of ${config.name}'s layer`, where);
  }
}

/** The weights as stored under a precision: every value exactly representable in its dtype. */
export type StoredWeights = Record<string, Float64Array>;

/**
 * Store raw weights: int8 matrices become codes ("q_proj.weight") and fp32 scales
 * ("q_proj.scale"), one per output channel (row); float matrices, gains and biases are rounded
 * to their dtype. These are the exact element values a program loads.
 */
export function storeWeights(config: ModelConfig, raw: RawWeights, precision: Precision): StoredWeights {
  checkRawWeights(config, raw);
  const out: StoredWeights = {};
  for (const spec of layerWeights(config, precision)) {
    if (spec.kind === 'scale') continue;
    const a = raw[spec.name as WeightName]!;
    if (spec.dtype === 'int8') {
      const q = quantizeRowsInt8(a, spec.shape[0]!, spec.shape[1]!);
      out[spec.name] = q.codes;
      out[spec.name.replace(/\.weight$/, '.scale')] = q.scales;
    } else {
      const r = new Float64Array(a.length);
      for (let i = 0; i < a.length; i++) r[i] = roundFloat(a[i]!, spec.dtype as FloatDtype);
      out[spec.name] = r;
    }
  }
  return out;
}

/** The value a stored weight means (int8 codes times their row's scale; floats as they are). */
export function weightValues(graph: LayerGraph, stored: StoredWeights, name: string): Float64Array {
  const spec = graph.weights[name];
  const data = stored[name];
  if (!spec || !data) throw new SfError(`no weight "${name}"`);
  if (spec.dtype !== 'int8') return data;
  const scales = stored[name.replace(/\.weight$/, '.scale')]!;
  const [rows, cols] = spec.shape as [number, number];
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = data[r * cols + c]! * scales[r]!;
  return out;
}

/** Graph weight name -> HF checkpoint name, for the weights the config has. */
export function hfTensorMap(config: ModelConfig, layer: number): Map<WeightName, string> {
  return new Map(rawWeightShapes(config).map((w) => [w.name, hfWeightName(w.name, layer)]));
}

/**
 * Read layer `layer`'s weights from one or more safetensors files (a checkpoint's shards): each
 * HF tensor (model.layers.N.self_attn.q_proj.weight, ...) is looked up in the files in order,
 * its shape checked against the config ([out, in] for matrices), and decoded to float64. Errors
 * name the file and the tensor.
 */
export function loadLayerWeights(config: ModelConfig, files: string | string[], layer = 0): RawWeights {
  const paths = typeof files === 'string' ? [files] : files;
  if (paths.length === 0) throw new SfError('no safetensors file given');
  if (!Number.isInteger(layer) || layer < 0 || layer >= config.numHiddenLayers) {
    throw new SfError(`layer ${layer} is not in 0..${config.numHiddenLayers - 1} (num_hidden_layers of ${config.name})`);
  }
  const opened: SafetensorsFile[] = [];
  try {
    for (const p of paths) opened.push(openSafetensors(p));
    const out: RawWeights = {};
    for (const w of rawWeightShapes(config)) {
      const hf = hfWeightName(w.name, layer);
      const f = opened.find((o) => o.tensors.has(hf));
      if (!f) throw new SfError(`no tensor "${hf}" (${config.name} layer ${layer} needs it)`, paths.join(', '));
      const t = f.tensors.get(hf)!;
      if (t.shape.length !== w.shape.length || t.shape.some((d, i) => d !== w.shape[i])) {
        throw new SfError(
          `tensor "${hf}" has shape [${t.shape.join(', ')}], ${config.name} needs [${w.shape.join(', ')}]${w.kind === 'matrix' ? ' ([out, in])' : ''}`,
          f.file,
        );
      }
      const v = f.read(hf);
      for (let i = 0; i < v.length; i++) {
        if (!Number.isFinite(v[i]!)) throw new SfError(`tensor "${hf}": element ${i} is ${v[i]}`, f.file);
      }
      out[w.name] = v;
    }
    return out;
  } finally {
    for (const o of opened) o.close();
  }
}
