// `sramflow compare <model.json>`: the SRAM system (emulated) side by side with GPU presets (the
// GPU model) and a wafer (analytical), at one point or along a sweep. See docs/compare.md.
import { fileURLToPath } from 'node:url';
import { availableParallelism } from 'node:os';
import { SfError } from '../util/errors.js';
import { parseArgs } from './args.js';
import { checkNotInput, writeOutput } from './output.js';
import { existsSync } from 'node:fs';
import { loadModelConfig } from '../models/config.js';
import { loadChipPreset } from '../chip/preset.js';
import { MODEL_DTYPES, type ModelDtype } from '../models/quant.js';
import { GPU_DTYPES, listGpuPresets, loadGpuPreset, type GpuDtype } from '../gpu/index.js';
import { loadWaferPreset } from '../wafer/index.js';
import { DEFAULT_CHIP } from './program-file.js';
import { compare, type CompareOptions } from '../compare/compare.js';
import { formatComparison, fmtEnergy, fmtRate, fmtTime, grid } from '../compare/format.js';
import { parseSweep, runSweep, sweepCsv, sweepSvg } from '../compare/sweep.js';
import type { SramProgress } from '../compare/sram-system.js';

const FLAGS = {
  phase: { type: 'string' },
  batch: { type: 'int', min: 1, max: 4096 },
  context: { type: 'int', min: 1, max: 1 << 20 },
  prompt: { type: 'int', min: 1, max: 1 << 20 },
  gpus: { type: 'string' },
  'gpu-dtype': { type: 'string' },
  chip: { type: 'string' },
  'chip-power': { type: 'string' },
  chips: { type: 'int', min: 1, max: 64 },
  dtype: { type: 'string' },
  wafer: { type: 'string' },
  sweep: { type: 'string' },
  json: { type: 'bool' },
  csv: { type: 'string' },
  svg: { type: 'string' },
  threads: { type: 'int', min: 1, max: 256 },
} as const;

export const COMPARE_USAGE = 'usage: sramflow compare <model.json> [--phase decode|prefill] [--batch N] [--context N] [--prompt N] [--gpus h100-sxm,h200,...|all|FILE] [--gpu-dtype int8|fp8|bf16|fp16|int8-wo] [--chip P] [--chip-power W] [--chips N] [--dtype int8|fp16] [--wafer cs-3|FILE|none] [--sweep batch=1,2,4|context=...|chips=...] [--json] [--csv FILE] [--svg FILE] [--threads N]';

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new SfError(`--${flag} must be one of ${allowed.join(', ')}, not "${v}"`);
  return v as T;
}

export async function cmdCompare(argv: string[], io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const { positional, flags } = parseArgs(argv, FLAGS, 'compare');
  if (positional.length !== 1) throw new SfError(COMPARE_USAGE);
  const modelPath = positional[0]!;
  const phase = oneOf('phase', (flags.phase as string | undefined) ?? 'decode', ['decode', 'prefill'] as const);
  const dtype = oneOf('dtype', (flags.dtype as string | undefined) ?? 'int8', MODEL_DTYPES) as ModelDtype;
  // the GPUs run the SRAM side's format unless told otherwise (fp32 inference: bf16)
  const sameAsSram = (GPU_DTYPES as readonly string[]).includes(dtype) ? dtype : 'bf16';
  const gpuDtype = oneOf('gpu-dtype', (flags['gpu-dtype'] as string | undefined) ?? sameAsSram, GPU_DTYPES) as GpuDtype;
  let chipPower: number | undefined;
  if (flags['chip-power'] !== undefined) {
    const v = flags['chip-power'] as string;
    chipPower = /^\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
    if (!(chipPower > 0 && chipPower <= 100_000)) throw new SfError(`option --chip-power: "${v}" is not a power in watts (a number > 0 and <= 100000)`);
  }
  const config = loadModelConfig(modelPath);
  const chip = loadChipPreset((flags.chip as string | undefined) ?? DEFAULT_CHIP);
  const gpuSpec = (flags.gpus as string | undefined) ?? 'h100-sxm,h200';
  const gpuNames = gpuSpec === 'all' ? listGpuPresets() : gpuSpec === 'none' ? [] : gpuSpec.split(',').map((s) => s.trim());
  if (gpuNames.some((n) => n === '')) throw new SfError(`--gpus: an empty name in "${gpuSpec}"; give shipped names (${listGpuPresets().join(', ')}) or preset files, comma-separated`);
  const gpus = gpuNames.map((n) => loadGpuPreset(n));
  const waferSpec = (flags.wafer as string | undefined) ?? 'cs-3';
  const wafer = waferSpec === 'none' ? null : loadWaferPreset(waferSpec);
  const batch = (flags.batch as number | undefined) ?? 1;
  const context = (flags.context as number | undefined) ?? Math.min(2048, config.maxPositionEmbeddings);
  const prompt = (flags.prompt as number | undefined) ?? (phase === 'prefill' ? Math.min(128, config.maxPositionEmbeddings) : null);
  const sweep = flags.sweep !== undefined ? parseSweep(flags.sweep as string) : null;
  if (!sweep && (flags.csv !== undefined || flags.svg !== undefined)) throw new SfError('--csv and --svg write a sweep: give --sweep AXIS=V1,V2,...');
  // every file read, shipped ones by their real path, so that no output lands on one
  const shipped = (dir: string, n: string) => (existsSync(n) ? n : fileURLToPath(new URL(`../../${dir}/${n}.json`, import.meta.url)));
  const inputs = [
    shipped('programs/models', modelPath),
    ...gpuNames.map((n) => shipped('presets/gpus', n)),
    shipped('presets/chips', (flags.chip as string | undefined) ?? DEFAULT_CHIP),
    ...(waferSpec === 'none' ? [] : [shipped('presets/wafers', waferSpec)]),
  ].filter((p) => existsSync(p));
  for (const f of ['csv', 'svg'] as const) if (flags[f] !== undefined) checkNotInput(flags[f] as string, inputs);

  const tty = !flags.json && process.stderr.isTTY === true;
  let last = 0;
  const progress = tty
    ? (p: SramProgress) => {
        const now = Date.now();
        if (p.stage === 'emulating' && now - last < 100 && p.cycle < p.of) return;
        last = now;
        process.stderr.write(p.stage === 'compiling'
          ? `\r\x1b[Kcompiling ${p.what}`
          : `\r\x1b[Kemulating ${p.what}: cycle ${p.cycle.toLocaleString('en-US')} of ${p.of.toLocaleString('en-US')}`);
      }
    : undefined;
  const base: CompareOptions = {
    phase, batch, context, prompt, dtype, chip, chipPower, chips: flags.chips as number | undefined,
    gpus, gpuDtype, wafer, threads: (flags.threads as number | undefined) ?? availableParallelism(), onProgress: progress,
  };
  try {
    if (!sweep) {
      const c = await compare(config, base);
      if (tty) process.stderr.write('\r\x1b[K');
      io.out(flags.json ? JSON.stringify(c) : formatComparison(c));
      return 0;
    }
    const records = await runSweep(config, base, sweep, tty ? (v, i) => process.stderr.write(`\r\x1b[Ksweep ${sweep.axis}=${v} (${i + 1} of ${sweep.values.length})\n`) : undefined);
    if (tty) process.stderr.write('\r\x1b[K');
    const fixed = [
      sweep.axis !== 'batch' ? `batch ${batch}` : null,
      phase === 'decode' && sweep.axis !== 'context' ? `context ${context}` : null,
      prompt !== null ? `prompt ${prompt}` : null,
      `${dtype} (GPUs ${gpuDtype})`,
      `${chip.name} chips`,
    ].filter((x) => x !== null).join(', ');
    if (flags.csv) writeOutput(flags.csv as string, sweepCsv(records), inputs);
    if (flags.svg) writeOutput(flags.svg as string, sweepSvg(records, { model: config.name, phase, fixed, sweep }), inputs);
    if (flags.json) io.out(JSON.stringify({ model: config.name, phase, sweep, fixed, records }));
    else {
      const rows = [[sweep.axis, 'system', 'how', 'chips', phase === 'decode' ? 'latency' : 'TTFT', 'tok/s per user', 'system tok/s', 'energy/token']];
      const errors: string[] = [];
      for (const r of records) {
        if (r.error !== null) {
          errors.push(r.error);
          rows.push([String(r.value), r.system, r.how, '-', `error [${errors.length}]`]);
        } else {
          rows.push([String(r.value), r.system, r.how, String(r.chips ?? '-'), fmtTime(phase === 'decode' ? r.latency_s : r.ttft_s), fmtRate(r.tokens_per_s_per_user), fmtRate(r.system_tokens_per_s), fmtEnergy(r.energy_per_token_j)]);
        }
      }
      const notes = errors.map((e, i) => `[${i + 1}] ${e}`);
      const wrote = [flags.csv ? `wrote ${flags.csv}` : null, flags.svg ? `wrote ${flags.svg}` : null].filter((x) => x !== null);
      io.out([`${config.name} ${phase} sweep over ${sweep.axis} (${fixed})`, '', grid(rows), ...(notes.length ? ['', ...notes] : []), ...(wrote.length ? ['', ...wrote] : [])].join('\n'));
    }
    return 0;
  } finally {
    if (tty) process.stderr.write('\r\x1b[K');
  }
}
