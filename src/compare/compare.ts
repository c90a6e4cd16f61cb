// One comparison point: the same model, batch, context and prompt on the SRAM system (emulated),
// on each GPU preset (the GPU model) and on a wafer (analytical).
import type { ChipConfig } from '../chip/config.js';
import type { ModelConfig } from '../models/config.js';
import type { ModelDtype } from '../models/quant.js';
import type { GpuDtype, GpuPreset } from '../gpu/index.js';
import type { WaferPreset } from '../wafer/index.js';
import { SfError } from '../util/errors.js';
import { gpuSide, type GpuSideEstimate } from './gpu-side.js';
import { chipPower } from './power.js';
import { sramSystem, type SramProgress, type SramSystemEstimate } from './sram-system.js';
import { waferSide, type WaferSideEstimate } from './wafer-side.js';

export interface CompareOptions {
  phase: 'decode' | 'prefill';
  batch: number;
  /** Decode: tokens in each sequence's cache after the step (the new token included). */
  context: number;
  /** Prompt for the time to first token (required for prefill; optional for decode). */
  prompt: number | null;
  dtype: ModelDtype;
  chip: ChipConfig;
  /** Watts per SRAM chip (default: the chip's known figure, power.ts). */
  chipPower?: number;
  /** Chips per layer group on the SRAM side, and tensor-parallel GPUs (default: the fewest that hold the model). */
  chips?: number;
  gpus: GpuPreset[];
  gpuDtype: GpuDtype;
  wafer: WaferPreset | null;
  threads?: number;
  onProgress?: (p: SramProgress) => void;
}

export interface Comparison {
  model: string;
  phase: 'decode' | 'prefill';
  batch: number;
  context: number;
  prompt: number | null;
  dtype: ModelDtype;
  sram: SramSystemEstimate;
  gpus: GpuSideEstimate[];
  wafer: WaferSideEstimate | null;
}

export function checkWorkload(config: ModelConfig, o: Pick<CompareOptions, 'phase' | 'context' | 'prompt'>): void {
  const max = config.maxPositionEmbeddings;
  if (o.phase === 'decode' && o.context > max) throw new SfError(`--context ${o.context} exceeds ${config.name}'s max_position_embeddings (${max})`);
  if (o.phase === 'decode' && o.context < 1) throw new SfError('--context must be at least 1');
  if (o.prompt !== null && o.prompt > max) throw new SfError(`--prompt ${o.prompt} exceeds ${config.name}'s max_position_embeddings (${max})`);
  if (o.phase === 'prefill' && o.prompt === null) throw new SfError('--phase prefill needs a prompt length (--prompt N)');
}

export async function compare(config: ModelConfig, o: CompareOptions): Promise<Comparison> {
  checkWorkload(config, o);
  const decode = o.phase === 'decode';
  // the analytical sides first: they are instant, and a model that does not fit fails before minutes of emulation
  const gpus = o.gpus.map((g) => gpuSide(g, config, { batch: o.batch, context: o.context, prompt: o.prompt, decode, dtype: o.gpuDtype, tp: o.chips }));
  const wafer = o.wafer ? waferSide(o.wafer, config, { batch: o.batch, context: o.context, prompt: o.prompt, decode, dtype: o.dtype }) : null;
  const sram = await sramSystem(config, {
    chip: o.chip,
    batch: o.batch,
    context: o.context,
    prompt: o.prompt,
    dtype: o.dtype,
    decode,
    chipsPerLayer: o.chips,
    threads: o.threads,
    power: chipPower(o.chip, o.chipPower),
    onProgress: o.onProgress,
  });
  return { model: config.name, phase: o.phase, batch: o.batch, context: o.context, prompt: o.prompt, dtype: o.dtype, sram, gpus, wafer };
}
