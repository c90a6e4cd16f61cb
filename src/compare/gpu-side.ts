// The HBM side of a comparison: each GPU (or TPU) preset through the GPU model (src/gpu), with
// the fewest chips that hold the weights and the KV cache (tensor parallel), the same figures as
// the SRAM side and the same breakdown groups.
import type { ModelConfig } from '../models/config.js';
import { decodeStep, prefill, splitConfig, type GpuDtype, type GpuPreset, type StepEstimate } from '../gpu/index.js';
import { SfError } from '../util/errors.js';
import { addTo, gpuGroupOf, type Breakdown } from './breakdown.js';

export const GPU_LABEL = 'GPU model (per-kernel roofline, calibrated knobs; docs/gpu-model.md)';

export interface GpuSideOptions {
  batch: number;
  /** Tokens in each sequence's cache after the decode step (the new token included). */
  context: number;
  prompt: number | null;
  decode: boolean;
  dtype: GpuDtype;
  /** Tensor-parallel chips (default: the fewest that fit). */
  tp?: number;
}

export interface GpuSideEstimate {
  label: typeof GPU_LABEL;
  gpu: string;
  file: string;
  dtype: GpuDtype;
  /** Set when the preset has no tensor math for the asked dtype and another 8-bit or 16-bit one was used. */
  dtypeNote: string | null;
  /** GPUs (tensor parallel). */
  chips: number;
  powerW: number;
  decode: StepEstimate | null;
  prefill: StepEstimate | null;
  tokensPerSecondPerUser: number | null;
  systemTokensPerSecond: number | null;
  ttftSeconds: number | null;
  energyPerTokenJoules: number | null;
  /** Wall seconds per breakdown group of the decode step (or the prefill when there is none). */
  breakdown: Breakdown;
}

/** Tensor-parallel sizes tried when looking for the fewest chips that fit. */
export const TP_SIZES = [1, 2, 4, 8, 16, 32, 64];

function validTp(config: ModelConfig, tp: number): boolean {
  try {
    splitConfig(config, tp);
    return true;
  } catch {
    return false;
  }
}

/** The dtype the preset can run: the asked one, else another 8-bit format, else 16-bit. */
function runnableDtype(p: GpuPreset, dtype: GpuDtype): { dtype: GpuDtype; note: string | null } {
  const math = dtype === 'int8' || dtype === 'fp8' ? dtype : dtype === 'int8-wo' ? 'bf16' : dtype;
  if (p.peakTflops[math] !== null) return { dtype, note: null };
  const other = dtype === 'int8' ? 'fp8' : dtype === 'fp8' ? 'int8' : null;
  if (other && p.peakTflops[other] !== null) return { dtype: other, note: `${p.name} has no ${dtype} tensor math: ${other} used (the same bytes)` };
  const half = p.peakTflops.bf16 !== null ? 'bf16' : 'fp16';
  return { dtype: half, note: `${p.name} has no ${math} tensor math: ${half} used` };
}

/** One GPU preset on the comparison's workload. */
export function gpuSide(preset: GpuPreset, config: ModelConfig, o: GpuSideOptions): GpuSideEstimate {
  const { dtype, note } = runnableDtype(preset, o.dtype);
  const past = o.context - 1;
  const run = (tp: number) => ({
    decode: o.decode ? decodeStep(preset, config, { batch: o.batch, context: past, dtype, tp }) : null,
    prefill: o.prompt !== null ? prefill(preset, config, { batch: o.batch, prompt: o.prompt, dtype, tp }) : null,
  });
  const fits = (r: ReturnType<typeof run>) => (r.decode?.fitsInHbm ?? true) && (r.prefill?.fitsInHbm ?? true);
  let tp: number;
  let r: ReturnType<typeof run>;
  if (o.tp !== undefined) {
    if (!validTp(config, o.tp)) splitConfig(config, o.tp); // throws the model's reason
    tp = o.tp;
    r = run(tp);
    if (!fits(r)) throw new SfError(`${config.name} does not fit on ${tp} x ${preset.name} (${preset.hbmGB} GB each): weights + KV cache need more`);
  } else {
    const sizes = TP_SIZES.filter((n) => validTp(config, n));
    let found: { tp: number; r: ReturnType<typeof run> } | null = null;
    for (const n of sizes) {
      if (n > 1 && preset.scaleUpTopology === 'none') break;
      const x = run(n);
      if (fits(x)) {
        found = { tp: n, r: x };
        break;
      }
    }
    if (!found) {
      throw new SfError(`${config.name} (batch ${o.batch}, context ${o.context}) does not fit on up to ${sizes.at(-1)} x ${preset.name} (${preset.hbmGB} GB each)`);
    }
    tp = found.tp;
    r = found.r;
  }
  const main = r.decode ?? r.prefill!;
  const breakdown: Breakdown = {};
  let known = 0;
  for (const [k, s] of Object.entries(main.wallByKernel)) {
    addTo(breakdown, gpuGroupOf(k), s);
    known += s;
  }
  addTo(breakdown, 'other', main.seconds - known);
  const lat = r.decode?.seconds ?? null;
  return {
    label: GPU_LABEL,
    gpu: preset.name,
    file: preset.file,
    dtype,
    dtypeNote: note,
    chips: tp,
    powerW: preset.powerW,
    decode: r.decode,
    prefill: r.prefill,
    tokensPerSecondPerUser: lat === null ? null : 1 / lat,
    systemTokensPerSecond: r.decode?.tokensPerSecond ?? null,
    ttftSeconds: r.prefill?.seconds ?? null,
    energyPerTokenJoules: r.decode?.energyPerTokenJoules ?? null,
    breakdown,
  };
}
