// Sweeps: the comparison along one axis (batch, context, or chips per layer: the SRAM system's
// layer-group width and the GPUs' tensor parallelism), as rows for a CSV and an SVG line chart of
// tokens/s per user and system tokens/s with the point where a GPU overtakes the SRAM system.
import type { ModelConfig } from '../models/config.js';
import { findCrossover, renderLineChart, type ChartSeries } from '../report/svg.js';
import { recordsToCsv, type CsvValue } from '../report/csv.js';
import { SfError } from '../util/errors.js';
import { checkWorkload, type CompareOptions } from './compare.js';
import { gpuSide } from './gpu-side.js';
import { chipPower } from './power.js';
import { sramSystem } from './sram-system.js';
import { waferSide } from './wafer-side.js';

export const SWEEP_AXES = ['batch', 'context', 'chips'] as const;
export type SweepAxis = (typeof SWEEP_AXES)[number];

export interface Sweep {
  axis: SweepAxis;
  values: number[];
}

const LIMITS: Record<SweepAxis, number> = { batch: 4096, context: 1 << 20, chips: 64 };

/** `batch=1,2,4` (also context=..., chips=...): strictly increasing positive integers. */
export function parseSweep(spec: string): Sweep {
  const m = /^([a-z]+)=(.+)$/.exec(spec);
  if (!m || !(SWEEP_AXES as readonly string[]).includes(m[1]!)) {
    throw new SfError(`--sweep must be AXIS=V1,V2,... with AXIS one of ${SWEEP_AXES.join(', ')}, e.g. batch=1,2,4,8; got "${spec}"`);
  }
  const axis = m[1] as SweepAxis;
  const values = m[2]!.split(',').map((v) => {
    if (!/^\d+$/.test(v.trim())) throw new SfError(`--sweep ${axis}: "${v}" is not a whole number`);
    const n = Number(v);
    if (n < 1 || n > LIMITS[axis]) throw new SfError(`--sweep ${axis}: ${n} is out of range 1..${LIMITS[axis]}`);
    return n;
  });
  if (values.length > 32) throw new SfError(`--sweep ${axis}: at most 32 values, got ${values.length}`);
  for (let i = 1; i < values.length; i++) {
    if (values[i]! <= values[i - 1]!) throw new SfError(`--sweep ${axis}: values must increase, got ${values[i]} after ${values[i - 1]}`);
  }
  return { axis, values };
}

/** One system at one sweep point. */
export interface SweepRecord {
  [k: string]: CsvValue;
  axis: SweepAxis;
  value: number;
  system: string;
  how: 'emulated' | 'GPU model' | 'analytical';
  chips: number | null;
  latency_s: number | null;
  tokens_per_s_per_user: number | null;
  system_tokens_per_s: number | null;
  ttft_s: number | null;
  energy_per_token_j: number | null;
  error: string | null;
}

export const SWEEP_COLUMNS = ['axis', 'value', 'system', 'how', 'chips', 'latency_s', 'tokens_per_s_per_user', 'system_tokens_per_s', 'ttft_s', 'energy_per_token_j', 'error'];

/** What a sweep record takes from any side's estimate. */
interface Figures {
  chips: number;
  latency: number | null;
  tokensPerSecondPerUser: number | null;
  systemTokensPerSecond: number | null;
  ttftSeconds: number | null;
  energyPerTokenJoules: number | null;
}

function errText(e: unknown): string {
  if (e instanceof SfError) return e.message;
  throw e;
}

/** Runs the comparison at every value of the sweep; a side that fails at a point (does not fit, cannot compile) records its error there. */
export async function runSweep(config: ModelConfig, base: CompareOptions, sweep: Sweep, onPoint?: (value: number, i: number) => void): Promise<SweepRecord[]> {
  const out: SweepRecord[] = [];
  const decode = base.phase === 'decode';
  const perToken = (batch: number, prompt: number | null, ttft: number | null) => {
    // prefill sweeps: prompt tokens/s
    if (ttft === null || prompt === null) return { user: null, system: null };
    return { user: prompt / ttft, system: (batch * prompt) / ttft };
  };
  for (const [i, value] of sweep.values.entries()) {
    onPoint?.(value, i);
    const o: CompareOptions = { ...base, [sweep.axis]: value };
    const rec = (system: string, how: SweepRecord['how']): SweepRecord => ({
      axis: sweep.axis, value, system, how, chips: null, latency_s: null, tokens_per_s_per_user: null, system_tokens_per_s: null, ttft_s: null, energy_per_token_j: null, error: null,
    });
    try {
      checkWorkload(config, o);
    } catch (e) {
      const r = rec('all', 'analytical');
      r.error = errText(e);
      out.push(r);
      continue;
    }
    /** One system's record at this point: its figures, or the error it gave. */
    const side = async (system: string, how: SweepRecord['how'], run: () => Promise<Figures> | Figures) => {
      const r = rec(system, how);
      try {
        const f = await run();
        const p = perToken(o.batch, o.prompt, f.ttftSeconds);
        Object.assign(r, {
          chips: f.chips, latency_s: f.latency,
          tokens_per_s_per_user: decode ? f.tokensPerSecondPerUser : p.user,
          system_tokens_per_s: decode ? f.systemTokensPerSecond : p.system,
          ttft_s: f.ttftSeconds, energy_per_token_j: f.energyPerTokenJoules,
        });
      } catch (e) {
        r.error = errText(e);
      }
      out.push(r);
    };
    await side(`${o.chip.name} system`, 'emulated', async () => {
      const s = await sramSystem(config, {
        chip: o.chip, batch: o.batch, context: o.context, prompt: o.prompt, dtype: o.dtype, decode, chipsPerLayer: o.chips,
        threads: o.threads, power: chipPower(o.chip, o.chipPower), onProgress: o.onProgress,
      });
      return { ...s, latency: s.decode?.seconds ?? null };
    });
    for (const g of o.gpus) {
      await side(g.name, 'GPU model', () => {
        const x = gpuSide(g, config, { batch: o.batch, context: o.context, prompt: o.prompt, decode, dtype: o.gpuDtype, tp: o.chips });
        return { ...x, latency: x.decode?.seconds ?? null };
      });
    }
    if (o.wafer) {
      const w = o.wafer;
      await side(w.name, 'analytical', () => {
        const x = waferSide(w, config, { batch: o.batch, context: o.context, prompt: o.prompt, decode, dtype: o.dtype });
        return { ...x, chips: x.wafers, latency: x.decode?.seconds ?? null };
      });
    }
  }
  return out;
}

export function sweepCsv(records: SweepRecord[]): string {
  return recordsToCsv(records, SWEEP_COLUMNS);
}

const AXIS_LABEL: Record<SweepAxis, string> = {
  batch: 'batch (sequences decoded together)',
  context: 'context (tokens in the KV cache)',
  chips: 'chips per layer (SRAM: layer group width; GPU: tensor parallel)',
};

/** The sweep as an SVG chart: per-user tokens/s solid, system tokens/s dashed, one colour per system; the first GPU to overtake the SRAM system marked. */
export function sweepSvg(records: SweepRecord[], o: { model: string; phase: 'decode' | 'prefill'; fixed: string; sweep: Sweep }): string {
  const systems = [...new Set(records.filter((r) => r.system !== 'all').map((r) => r.system))];
  const palette = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#17becf'];
  const series: ChartSeries[] = [];
  const byKind: Record<string, { user: ChartSeries; system: ChartSeries; how: string }> = {};
  systems.forEach((name, i) => {
    const rs = records.filter((r) => r.system === name);
    const how = rs[0]!.how;
    const pts = (k: 'tokens_per_s_per_user' | 'system_tokens_per_s') => rs.map((r) => [r.value, r[k] ?? Number.NaN] as const);
    const color = palette[i % palette.length]!;
    const tag = `${name.replace(/ system$/, '')} (${how})`;
    const user: ChartSeries = { name: `${tag}: per user`, points: pts('tokens_per_s_per_user'), color };
    const system: ChartSeries = { name: `${tag}: system`, points: pts('system_tokens_per_s'), color, dashed: true };
    series.push(user, system);
    byKind[name] = { user, system, how };
  });
  const sram = Object.values(byKind).find((k) => k.how === 'emulated');
  const log2 = o.sweep.values.length > 1 && o.sweep.values.at(-1)! / o.sweep.values[0]! >= 4;
  const xScale = log2 ? 'log2' : 'linear';
  let cross: { x: number; y: number; label: string } | null = null;
  if (sram) {
    for (const metric of ['system', 'user'] as const) {
      for (const [name, k] of Object.entries(byKind)) {
        if (k.how !== 'GPU model') continue;
        const s = sram[metric];
        const g = k[metric];
        // the GPU must start below the SRAM system and end above it: it overtakes
        const first = s.points.findIndex(([, y]) => Number.isFinite(y));
        if (first < 0 || !(g.points[first]![1] < s.points[first]![1])) continue;
        const c = findCrossover(s, g, xScale, 'log10');
        if (c && (cross === null || c.x < cross.x)) cross = { x: c.x, y: c.y, label: `${name} overtakes (${metric === 'system' ? 'system tokens/s' : 'tokens/s per user'}) at ${o.sweep.axis} ~${Number(c.x.toPrecision(3))}` };
      }
      if (cross) break;
    }
  }
  const unit = o.phase === 'decode' ? 'tokens/s' : 'prompt tokens/s';
  const failed = records.filter((r) => r.how === 'emulated' && r.error !== null).map((r) => r.value);
  const gaps = failed.length ? ` No emulated point at ${o.sweep.axis} ${failed.join(', ')} (see the CSV).` : '';
  return renderLineChart({
    title: `${o.model} ${o.phase}: ${unit} per user (solid) and system (dashed)`,
    subtitle: `${o.fixed}.${cross ? '' : ' No GPU overtakes the SRAM system here.'}${gaps}`,
    xLabel: AXIS_LABEL[o.sweep.axis],
    yLabel: `${unit} (log scale)`,
    xScale,
    yScale: 'log10',
    series,
    crossover: cross,
    width: 900,
    height: 520,
  });
}
