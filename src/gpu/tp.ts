// Tensor parallelism: how a Llama layer splits over n chips, and what its collectives cost.
//
// Megatron-style split: q/k/v and gate/up are column-parallel (each chip holds heads/n query
// heads, its kv heads, intermediate/n columns), o_proj and down_proj row-parallel (each chip
// holds the matching input slice and produces a partial sum of the full hidden vector), so each
// layer ends both halves with an all-reduce of [tokens, hidden] activations. Norms, residuals and
// the embedding are replicated. The LM head is split by vocabulary and its logits all-gathered.
// The per-chip layer is then an ordinary layer graph of a narrower model (splitConfig), which is
// exactly what each chip runs.
import type { ModelConfig } from '../models/config.js';
import { SfError } from '../util/errors.js';
import type { GpuPreset } from './preset.js';

/** The config one of `tp` chips runs: heads, kv heads and intermediate size divided by tp. */
export function splitConfig(config: ModelConfig, tp: number): ModelConfig {
  if (!Number.isInteger(tp) || tp < 1) throw new SfError(`tensor parallelism must be an integer >= 1, got ${tp}`);
  if (tp === 1) return config;
  const nh = config.numAttentionHeads;
  const nkv = config.numKeyValueHeads;
  if (nh % tp !== 0) throw new SfError(`tensor parallelism ${tp} must divide num_attention_heads (${nh}) of ${config.name}`);
  if (nkv % tp !== 0 && tp % nkv !== 0) {
    throw new SfError(`tensor parallelism ${tp} must divide num_key_value_heads (${nkv}) of ${config.name}, or be a multiple of it (kv heads are then replicated)`);
  }
  if (config.intermediateSize % tp !== 0) {
    throw new SfError(`tensor parallelism ${tp} must divide intermediate_size (${config.intermediateSize}) of ${config.name}`);
  }
  return {
    ...config,
    name: `${config.name} (1/${tp} for TP${tp})`,
    numAttentionHeads: nh / tp,
    // Fewer kv heads than chips: each chip keeps the one kv head its query heads read.
    numKeyValueHeads: Math.max(1, nkv / tp),
    intermediateSize: config.intermediateSize / tp,
  };
}

/**
 * Link bandwidth (bytes/s, one direction) a ring over `n` chips gets per chip, before
 * linkEfficiency. switch: all links (NVSwitch serves any group); mesh: one link to each of n-1
 * peers; torus: a bidirectional ring uses 2 ports (1 for a pair).
 */
export function ringBandwidth(preset: GpuPreset, n: number): number {
  const link = preset.scaleUpLinkGBps * 1e9;
  switch (preset.scaleUpTopology) {
    case 'switch':
      return preset.scaleUpLinks * link;
    case 'mesh':
      return Math.min(n - 1, preset.scaleUpLinks) * link;
    case 'torus':
      return Math.min(n === 2 ? 1 : 2, preset.scaleUpLinks) * link;
    case 'none':
      return 0;
  }
}

function needLinks(preset: GpuPreset, n: number): void {
  if (n > 1 && preset.scaleUpTopology === 'none') {
    throw new SfError(`${preset.name} has no scale-up links (scaleUpTopology "none"), so it cannot run tensor parallel over ${n} chips`, preset.file);
  }
}

/**
 * Ring all-reduce of `bytes` over `n` chips: each chip sends and receives 2(n-1)/n x bytes
 * (reduce-scatter then all-gather), plus a fixed latency per collective.
 */
export function allReduceSeconds(preset: GpuPreset, n: number, bytes: number): number {
  if (n <= 1) return 0;
  needLinks(preset, n);
  const bw = ringBandwidth(preset, n) * preset.knobs.linkEfficiency;
  return preset.knobs.allReduceLatencyUs * 1e-6 + ((2 * (n - 1)) / n) * (bytes / bw);
}

/** Ring all-gather where each chip ends with all `bytes`: (n-1)/n x bytes per chip, plus latency. */
export function allGatherSeconds(preset: GpuPreset, n: number, bytes: number): number {
  if (n <= 1) return 0;
  needLinks(preset, n);
  const bw = ringBandwidth(preset, n) * preset.knobs.linkEfficiency;
  return preset.knobs.allReduceLatencyUs * 1e-6 + ((n - 1) / n) * (bytes / bw);
}
