// The wafer-scale side of a comparison (a Cerebras-style wafer, src/wafer): analytical, not
// emulated, and labelled so wherever it is shown.
import type { ModelConfig } from '../models/config.js';
import type { ModelDtype } from '../models/quant.js';
import { WAFER_DTYPES, WAFER_LABEL, waferDecode, waferPrefill, type WaferDtype, type WaferEstimate, type WaferPreset } from '../wafer/index.js';

export interface WaferSideEstimate {
  label: typeof WAFER_LABEL;
  wafer: string;
  dtype: WaferDtype;
  wafers: number;
  powerW: number;
  decode: WaferEstimate | null;
  prefill: WaferEstimate | null;
  tokensPerSecondPerUser: number | null;
  systemTokensPerSecond: number | null;
  ttftSeconds: number | null;
  energyPerTokenJoules: number | null;
  /** Seconds of the decode step (or prefill) that are the fitted per-stage latency assumption. */
  fixedSeconds: number;
}

export function waferSide(preset: WaferPreset, config: ModelConfig, o: { batch: number; context: number; prompt: number | null; decode: boolean; dtype: ModelDtype }): WaferSideEstimate {
  const dtype: WaferDtype = (WAFER_DTYPES as readonly string[]).includes(o.dtype) ? (o.dtype as WaferDtype) : 'bf16';
  const decode = o.decode ? waferDecode(preset, config, { batch: o.batch, context: o.context - 1, dtype }) : null;
  const pre = o.prompt !== null ? waferPrefill(preset, config, { batch: o.batch, prompt: o.prompt, dtype }) : null;
  const main = (decode ?? pre)!;
  return {
    label: WAFER_LABEL,
    wafer: preset.name,
    dtype,
    wafers: Math.max(decode?.wafers ?? 0, pre?.wafers ?? 0),
    powerW: preset.powerW,
    decode,
    prefill: pre,
    tokensPerSecondPerUser: decode?.tokensPerSecondPerUser ?? null,
    systemTokensPerSecond: decode?.systemTokensPerSecond ?? null,
    ttftSeconds: pre?.seconds ?? null,
    energyPerTokenJoules: decode?.energyPerTokenJoules ?? null,
    fixedSeconds: main.fixedSeconds,
  };
}
