// Model configs: a Hugging Face config.json (the model's own file, or one shipped in
// programs/models/) read into the figures one decoder layer needs.
//
// The file uses Hugging Face's field names. Fields sramflow does not use are accepted and
// ignored (real config.json files carry many: bos_token_id, initializer_range, ...); the fields
// it uses are validated, and a missing or impossible one is an SfError naming the file and the
// field. A field that HF itself defaults when absent takes HF's default for the model types
// accepted here (llama, mistral, qwen2), and is listed in ModelConfig.defaulted:
//   num_key_value_heads  = num_attention_heads (no GQA)
//   head_dim             = hidden_size / num_attention_heads (must divide exactly)
//   rope_theta           = 10000
//   hidden_act           = "silu"
//   tie_word_embeddings  = false
//   rope_scaling         = null
//   attention_bias, mlp_bias = false (qwen2: q/k/v have a bias, o_proj has none, as in HF)
// Fields whose HF defaults differ between model types (rms_norm_eps, max_position_embeddings)
// and the sizes are required. "_name" and "_source" are sramflow's own (a display name and
// where the figures come from); HF ignores fields that start with "_".
import { basename } from 'node:path';
import { parseJsonText, readDataFile, listShipped } from '../util/data-file.js';
import { SfError, quoteJson } from '../util/errors.js';

/** The models folder: ../../programs/models/ from src/models/ and from dist/models/ alike. */
const MODELS_DIR = new URL('../../programs/models/', import.meta.url);

/** Shipped configs in the order they are listed to users (others follow, sorted). */
const SHIPPED_ORDER = ['llama-3-8b', 'llama-2-7b', 'llama-2-70b', 'mistral-7b', 'qwen2.5-7b', 'tiny'];

/** Model types whose decoder layer is the one sramflow models (pre-norm RMSNorm, RoPE, GQA, gated MLP). */
export const MODEL_TYPES = ['llama', 'mistral', 'qwen2'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/**
 * Activations of the gated MLP, act(gate) * up. "silu" and "swish" are the same function;
 * "gelu" is the exact (erf) form; "gelu_new", "gelu_pytorch_tanh" and "gelu_fast" the tanh form.
 */
export const HIDDEN_ACTS = ['silu', 'swish', 'gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'relu'] as const;
export type HiddenAct = (typeof HIDDEN_ACTS)[number];

export const TORCH_DTYPES = ['float32', 'float16', 'bfloat16', 'float64'] as const;

/** rope_scaling forms that sramflow models; the others (dynamic, yarn, longrope, ...) are refused. */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    };

export interface ModelConfig {
  /** "_name", else the file's base name. */
  name: string;
  /** "_source": where the figures come from (HF repo and file), or null. */
  source: string | null;
  /** The file it was read from, as given (or "<object>"). */
  file: string;
  modelType: ModelType;
  hiddenSize: number;
  intermediateSize: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  numHiddenLayers: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  hiddenAct: HiddenAct;
  tieWordEmbeddings: boolean;
  /** torch_dtype (or its newer name "dtype"), the checkpoint's storage type; null when absent. */
  torchDtype: string | null;
  /** q_proj, k_proj, v_proj have a bias vector. */
  qkvBias: boolean;
  /** o_proj has a bias vector. */
  oBias: boolean;
  /** gate_proj, up_proj, down_proj have a bias vector. */
  mlpBias: boolean;
  /**
   * Sliding-window attention: a query at position p sees keys p-W+1 .. p. null: full causal.
   * Applies to the layers given by slidingWindowFor(config, layer).
   */
  slidingWindow: number | null;
  /** qwen2: layers from this index on use the sliding window (when use_sliding_window is true). */
  maxWindowLayers: number | null;
  /** HF fields that were absent and took HF's default (see the header of this file). */
  defaulted: string[];
  /** The parsed JSON as given. */
  raw: Record<string, unknown>;
}

const MAX_DIM = 1 << 24;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = quoteJson(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

class Reader {
  readonly defaulted: string[] = [];
  constructor(
    readonly json: Record<string, unknown>,
    readonly file: string,
  ) {}

  fail(field: string, message: string): never {
    throw new SfError(`${field}: ${message}`, this.file);
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  /** An integer in [min, max]; absent: `def` (recorded as defaulted) or an error. */
  int(field: string, opts: { min?: number; max?: number; def?: number } = {}): number {
    const min = opts.min ?? 1;
    const max = opts.max ?? MAX_DIM;
    if (!this.has(field)) {
      if (opts.def !== undefined) {
        this.defaulted.push(field);
        return opts.def;
      }
      this.fail(field, `missing; required: an integer >= ${min}`);
    }
    const v = this.json[field];
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(field, `must be an integer >= ${min}, got ${show(v)}`);
    if (v < min || v > max) this.fail(field, `must be an integer in ${min}..${max}, got ${v}`);
    return v;
  }

  /** A finite number > 0; absent: `def` or an error. */
  positive(field: string, def?: number): number {
    if (!this.has(field)) {
      if (def !== undefined) {
        this.defaulted.push(field);
        return def;
      }
      this.fail(field, 'missing; required: a finite number > 0');
    }
    const v = this.json[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      this.fail(field, `must be a finite number > 0, got ${show(v)}`);
    }
    return v;
  }

  bool(field: string, def: boolean): boolean {
    if (!this.has(field)) {
      this.defaulted.push(field);
      return def;
    }
    const v = this.json[field];
    if (typeof v !== 'boolean') this.fail(field, `must be true or false, got ${show(v)}`);
    return v;
  }

  oneOf<T extends string>(field: string, allowed: readonly T[], def: T | null): T | null {
    if (!this.has(field)) {
      if (def !== null) this.defaulted.push(field);
      return def;
    }
    const v = this.json[field];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(field, `must be one of ${allowed.join(', ')}, got ${show(v)}`);
    }
    return v as T;
  }

  optString(field: string): string | null {
    if (!this.has(field)) return null;
    const v = this.json[field];
    if (typeof v !== 'string') this.fail(field, `must be a string, got ${show(v)}`);
    return v;
  }
}

function parseRopeScaling(r: Reader): RopeScaling | null {
  const v = r.json.rope_scaling;
  if (v === undefined || v === null) {
    if (v === undefined) r.defaulted.push('rope_scaling');
    return null;
  }
  if (!isObject(v)) r.fail('rope_scaling', `must be null or an object, got ${show(v)}`);
  const typeField = v.rope_type !== undefined ? 'rope_type' : 'type';
  const type = v[typeField];
  const num = (k: string, min: number): number => {
    const x = v[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < min || (min === 0 && x === 0)) {
      r.fail(`rope_scaling.${k}`, `must be a finite number ${min === 0 ? '> 0' : `>= ${min}`}, got ${show(x)}`);
    }
    return x;
  };
  if (type === 'default') return null;
  if (type === 'linear') return { type: 'linear', factor: num('factor', 0) };
  if (type === 'llama3') {
    const lowFreqFactor = num('low_freq_factor', 0);
    const highFreqFactor = num('high_freq_factor', 0);
    if (highFreqFactor <= lowFreqFactor) {
      r.fail('rope_scaling.high_freq_factor', `must be greater than low_freq_factor (${lowFreqFactor}), got ${highFreqFactor}`);
    }
    const o = v.original_max_position_embeddings;
    if (typeof o !== 'number' || !Number.isInteger(o) || o < 1) {
      r.fail('rope_scaling.original_max_position_embeddings', `must be an integer >= 1, got ${show(o)}`);
    }
    return {
      type: 'llama3',
      factor: num('factor', 0),
      lowFreqFactor,
      highFreqFactor,
      originalMaxPositionEmbeddings: o,
    };
  }
  return r.fail(`rope_scaling.${typeField}`, `${show(type)} is not supported (supported: default, linear, llama3)`);
}

/**
 * Validate a parsed config.json. `file` names the source in messages. Throws SfError naming the
 * file and the field on the first problem.
 */
export function parseModelConfig(json: unknown, file = '<object>'): ModelConfig {
  if (!isObject(json)) throw new SfError(`a model config must be a JSON object, got ${show(json)}`, file);
  const r = new Reader(json, file);

  const name = r.optString('_name') ?? basename(file).replace(/\.json$/, '');
  // the name appears in messages, which are one line
  if (/[\x00-\x1f\x7f]/.test(name)) r.fail('_name', `must be one line without control characters, got ${show(name)}`);
  const source = r.optString('_source');

  let modelType: ModelType = 'llama';
  if (r.has('model_type')) {
    modelType = r.oneOf('model_type', MODEL_TYPES, null)!;
  } else {
    r.defaulted.push('model_type');
  }

  const hiddenSize = r.int('hidden_size');
  const intermediateSize = r.int('intermediate_size');
  const numAttentionHeads = r.int('num_attention_heads');
  const numKeyValueHeads = r.int('num_key_value_heads', { def: numAttentionHeads, max: numAttentionHeads });
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    r.fail(
      'num_key_value_heads',
      `must divide num_attention_heads (${numAttentionHeads}), got ${numKeyValueHeads}`,
    );
  }
  let headDim: number;
  if (r.has('head_dim')) {
    headDim = r.int('head_dim', { max: 65536 });
  } else {
    if (hiddenSize % numAttentionHeads !== 0) {
      r.fail(
        'num_attention_heads',
        `must divide hidden_size (${hiddenSize}) when head_dim is not given, got ${numAttentionHeads}`,
      );
    }
    headDim = hiddenSize / numAttentionHeads;
    r.defaulted.push('head_dim');
  }
  if (headDim % 2 !== 0) {
    if (r.defaulted.includes('head_dim')) {
      r.fail('num_attention_heads', `hidden_size / num_attention_heads = ${headDim} is the head_dim, which must be even (RoPE rotates pairs)`);
    }
    r.fail('head_dim', `must be even (RoPE rotates pairs), got ${headDim}`);
  }
  const numHiddenLayers = r.int('num_hidden_layers', { max: 100000 });
  const vocabSize = r.int('vocab_size', { max: 1 << 30 });
  const maxPositionEmbeddings = r.int('max_position_embeddings', { max: 1 << 30 });
  const rmsNormEps = r.positive('rms_norm_eps');
  const ropeTheta = r.positive('rope_theta', 10000);
  const ropeScaling = parseRopeScaling(r);
  let hiddenAct = r.oneOf('hidden_act', HIDDEN_ACTS, 'silu')!;
  const tieWordEmbeddings = r.bool('tie_word_embeddings', false);
  let torchDtype: string | null = null;
  for (const f of ['torch_dtype', 'dtype']) {
    if (r.has(f) && torchDtype === null) torchDtype = r.oneOf(f, TORCH_DTYPES, null);
  }

  let qkvBias: boolean;
  let oBias: boolean;
  if (modelType === 'qwen2') {
    // HF's Qwen2Attention: q/k/v_proj bias=True, o_proj bias=False, whatever the config says.
    qkvBias = true;
    oBias = false;
  } else {
    qkvBias = oBias = r.bool('attention_bias', false);
  }
  const mlpBias = modelType === 'llama' ? r.bool('mlp_bias', false) : false;

  const partial = json.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1) {
    r.fail('partial_rotary_factor', `only 1 (RoPE over the whole head) is supported, got ${show(partial)}`);
  }

  // Sliding window: mistral applies it to every layer when sliding_window is set; qwen2 only
  // when use_sliding_window is true, and then to layers >= max_window_layers (as HF does).
  let slidingWindow: number | null = null;
  let maxWindowLayers: number | null = null;
  const useSliding = r.has('use_sliding_window') ? r.bool('use_sliding_window', false) : null;
  if (modelType !== 'llama' && r.has('sliding_window')) {
    const w = r.int('sliding_window', { max: 1 << 30 });
    if (modelType === 'mistral' && useSliding !== false) slidingWindow = w;
    if (modelType === 'qwen2' && useSliding === true) {
      slidingWindow = w;
      maxWindowLayers = r.int('max_window_layers', { min: 0, max: numHiddenLayers, def: numHiddenLayers });
    }
  }

  if (hiddenAct === 'swish') hiddenAct = 'silu';

  return {
    name,
    source,
    file,
    modelType,
    hiddenSize,
    intermediateSize,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    numHiddenLayers,
    vocabSize,
    maxPositionEmbeddings,
    rmsNormEps,
    ropeTheta,
    ropeScaling,
    hiddenAct,
    tieWordEmbeddings,
    torchDtype,
    qkvBias,
    oBias,
    mlpBias,
    slidingWindow,
    maxWindowLayers,
    defaulted: r.defaulted,
    raw: json,
  };
}

/** The sliding window of `layer` (null: full causal attention). */
export function slidingWindowFor(config: ModelConfig, layer: number): number | null {
  if (config.slidingWindow === null) return null;
  if (config.maxWindowLayers !== null && layer < config.maxWindowLayers) return null;
  return config.slidingWindow;
}

/** Parse model config text; bad JSON is an SfError at file:line:col. */
export function parseModelConfigText(text: string, file: string): ModelConfig {
  return parseModelConfig(parseJsonText(text, file), file);
}

/** Names of the shipped model configs (programs/models/*.json), in listing order. */
export function listModelConfigs(): string[] {
  return listShipped(MODELS_DIR, SHIPPED_ORDER);
}

/**
 * Load a model config: a shipped one by name, otherwise a JSON file path. Shipped files are named
 * `programs/models/<name>.json` in messages.
 */
export function loadModelConfig(nameOrPath: string): ModelConfig {
  const { text, file } = readDataFile(nameOrPath, { dir: MODELS_DIR, shown: 'programs/models', what: 'model config', order: SHIPPED_ORDER });
  return parseModelConfigText(text, file);
}
