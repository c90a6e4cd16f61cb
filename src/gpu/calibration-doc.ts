// Renders docs/calibration.md from the calibration table (calibrate.ts) and the shipped presets'
// knobs. Run `npm run build:ts && node dist/gpu/calibration-doc.js` to rewrite the doc;
// tests/gpu.test.ts fails while the committed doc differs from what this renders.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { calibrationTable, H200_MEASURED_RUNS, h200MeasuredTable, heldOutTable, LLAMA3_8B_LINEARS, loadH200Run, type CalibrationRow, type H200Run } from './calibrate.js';
import { bandwidthEfficiency, linearKernel } from './model.js';
import { KNOB_NAMES, listGpuPresets, loadGpuPreset, type GpuKnobs } from './preset.js';

const TARGET = 0.15;

/** H200 bwEfficiency ceilings the measured section evaluates (the shipped one among them). */
const REFIT_CEILINGS = [0.82, 0.85, 0.87, 0.89];

function num(v: number, unit: CalibrationRow['unit']): string {
  switch (unit) {
    case 'tokens/s':
    case 'ms':
    case 'us':
      return v.toFixed(2);
    case 'GB/s':
      return v.toFixed(0);
    case '% of step':
      return `${v.toFixed(1)}%`;
    case 'x':
      return v.toFixed(2);
  }
}

function measuredText(r: CalibrationRow): string {
  const unit = r.unit === '% of step' ? '' : ` ${r.unit}`;
  if (r.unit === 'us' || r.unit === 'GB/s') return `${num(r.measured, r.unit)}${unit}`;
  return r.unit === '% of step' ? `${r.measured}%` : `${r.measured}${unit}`;
}

function pct(e: number): string {
  const s = (100 * e).toFixed(1);
  return `${e >= 0 ? '+' : ''}${s}%`;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function table(rows: CalibrationRow[]): string[] {
  const out = ['| point | hardware | stack, precision, setup | measured | predicted | error | bound |', '|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const ok = Math.abs(r.error) <= r.bound ? '' : ' **exceeded**';
    const unit = r.unit === '% of step' ? '' : ` ${r.unit}`;
    out.push(
      `| ${cell(r.what)} | ${cell(r.hardware)} | ${cell(r.setup)} | ${measuredText(r)} | ${num(r.predicted, r.unit)}${unit} | ${pct(r.error)} | +-${(100 * r.bound).toFixed(0)}%${ok} |`,
    );
  }
  return out;
}

function knobValue(k: keyof GpuKnobs, v: GpuKnobs[keyof GpuKnobs]): string {
  switch (k) {
    case 'bwEfficiency':
      return (v as GpuKnobs['bwEfficiency']).map(([mb, e]) => `${mb} MB: ${e}`).join(', ');
    case 'computeEfficiency':
      return Object.entries(v as GpuKnobs['computeEfficiency'])
        .map(([d, e]) => `${d} ${e === null ? '-' : e}`)
        .join(', ');
    case 'gemmTile':
      return (v as number[]).join(' x ');
    case 'launchUs':
    case 'graphKernelUs':
    case 'stepOverheadUs':
    case 'allReduceLatencyUs':
      return `${v} us`;
    case 'splitKvTokens':
      return `${v} keys`;
    default:
      return String(v);
  }
}

/** The largest relative difference between runs of one graph-timed kernel, as a percentage. */
function spread(runs: H200Run[]): string {
  let worst = 0;
  const rel = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / Math.min(...xs);
  for (const k of Object.keys(runs[0]!.gemm)) worst = Math.max(worst, rel(runs.map((r) => r.gemm[k]!.us)));
  for (const k of Object.keys(runs[0]!.attention)) worst = Math.max(worst, rel(runs.map((r) => r.attention[k]!.us)));
  return `${(100 * worst).toFixed(1)}%`;
}

/** The section on the points sramflow measured itself on an H200. */
function measuredSection(): string[] {
  const rows = h200MeasuredTable();
  const runs = H200_MEASURED_RUNS.map(loadH200Run);
  const r0 = runs[0]!;
  const h200 = loadGpuPreset('h200');
  const within = rows.filter((r) => Math.abs(r.error) <= TARGET).length;
  const out: string[] = [];
  out.push(`## Measured by sramflow on an H200, ${r0.date}`);
  out.push('');
  out.push(`Kernel timings taken by this project on one ${r0.gpu} (driver ${r0.driver}, PyTorch ${r0.torch}, CUDA ${r0.cuda})`);
  out.push('with `bench/gpu/measure-h200.py`; the raw results, with clocks and the kernel names the profiler saw,');
  out.push(`are ${runs.map((r) => `\`${r.file}\``).join(' and ')} (${runs.length} runs; their CUDA Graph timings differ by ${spread(runs)} at most).`);
  out.push('Every point: CUDA events, the median of 30 replays after warm-up, random data, weights and KV caches');
  out.push('rotated over 32 layers (14 GiB of weights) so nothing is served from the 60 MB L2. A kernel\'s time is');
  out.push('the slope between CUDA Graphs of 32 and 96 calls, so the graph launch drops out and what is left is');
  out.push('what a step pays per kernel inside a graph. The model\'s figure is the same thing: the kernel\'s');
  out.push(`roofline time plus \`graphKernelUs\` (${h200.knobs.graphKernelUs} us) per kernel it launches, from the H200 preset as shipped.`);
  out.push('These points were not used to set any knob.');
  out.push('');
  out.push(`Met +-${(100 * TARGET).toFixed(0)}% on ${within} of ${rows.length}; the others, and why, below the table.`);
  out.push('');
  out.push(...table(rows));
  out.push('');
  out.push('Not in the table: torch\'s unfused "math" attention backend (132 us at 2,048 keys: 8 kernels, not a');
  out.push('decode kernel a serving stack runs); eager (no graph) timings, which are in the run files (launch-bound:');
  out.push('20-40 us per small kernel from Python, against the preset\'s `launchUs` of 5 us for a C++ launcher).');
  out.push('');
  const missed = rows.filter((r) => r.why !== undefined);
  for (const why of [...new Set(missed.map((r) => r.why!))]) {
    const these = missed.filter((r) => r.why === why);
    out.push(`- ${these.map((r) => `**${r.what}** (${pct(r.error)})`).join('; ')}: bound +-${(100 * these[0]!.bound).toFixed(0)}%. ${why}`);
  }
  out.push('');
  out.push('What the memory-bound points say about the H200 knobs (batch 1; bandwidth reached = bytes over the');
  out.push('measured time less the in-graph gap, as a fraction of 4,800 GB/s (the copy: bytes over its time), beside the');
  out.push('preset\'s `bwEfficiency` at that size):');
  out.push('');
  out.push('| kernel | MB moved | reached | model |');
  out.push('|---|---|---|---|');
  const gap = h200.knobs.graphKernelUs;
  const peak = h200.hbmGBps * 1e9;
  const copyRow = rows.find((r) => r.id === 'h200-copy')!;
  const copyBytes = r0.copy.bytesMoved;
  const reached: { name: string; bytes: number; eff: number }[] = [{ name: 'copy', bytes: copyBytes, eff: (copyRow.measured * 1e9) / peak }];
  const shapes: Record<string, [number, number]> = { ...LLAMA3_8B_LINEARS, qkv_proj: [4096, 6144], gate_up_proj: [4096, 28672] };
  const b1 = rows.filter((r) => /-b1$/.test(r.id) && !r.id.includes('layer7'));
  b1.sort((a, b) => {
    const by = (r: CalibrationRow) => shapes[r.id.slice('h200-'.length, -'-b1'.length)]!;
    return by(a)[0] * by(a)[1] - by(b)[0] * by(b)[1];
  });
  for (const r of b1) {
    const name = r.id.slice('h200-'.length, -'-b1'.length);
    const [i, o] = shapes[name]!;
    const bytes = linearKernel(h200, { rows: 1, inFeatures: i, outFeatures: o }).bytes;
    reached.push({ name, bytes, eff: bytes / ((r.measured - gap) * 1e-6) / peak });
  }
  for (const x of reached) out.push(`| ${x.name} | ${(x.bytes / 1e6).toFixed(1)} | ${x.eff.toFixed(2)} | ${bandwidthEfficiency(h200.knobs, x.bytes).toFixed(2)} |`);
  out.push('');
  const big = reached.filter((x) => x.bytes >= 100e6).map((x) => x.eff);
  out.push(`Streams of 100 MB and more reach ${Math.min(...big).toFixed(2)}-${Math.max(...big).toFixed(2)} of the datasheet bandwidth on this H200, against the 0.82 ceiling the`);
  out.push('preset borrows from H100; kernels of 8-34 MB reach less than calculon\'s curve gives, the split-K');
  out.push('GEMMs (whose figure here includes their reduction kernel) least.');
  out.push('');
  out.push('A re-fit of the H200 `bwEfficiency` ceiling from these points, evaluated: the same table with');
  out.push('calculon\'s curve under other ceilings (everything else as shipped):');
  out.push('');
  out.push('| ceiling | within +-15% | mean abs. error | copy | gate_up_proj, batch 1 | k_proj, batch 1 | down_proj, batch 64 | attention (cuDNN), 8,192 keys |');
  out.push('|---|---|---|---|---|---|---|---|');
  const shipped = h200.knobs.bwEfficiency;
  const top = shipped[shipped.length - 1]![1];
  const ids = ['h200-copy', 'h200-gate_up_proj-b1', 'h200-k_proj-b1', 'h200-down_proj-b64', 'h200-attn-default-8192'];
  for (const ceiling of REFIT_CEILINGS) {
    const curve = shipped.map(([mb, e]) => [mb, Math.round((e / top) * ceiling * 1000) / 1000] as [number, number]);
    const t = ceiling === top ? rows : h200MeasuredTable(H200_MEASURED_RUNS, { bwEfficiency: curve });
    const n = t.filter((r) => Math.abs(r.error) <= TARGET).length;
    const mae = t.reduce((a, r) => a + Math.abs(r.error), 0) / t.length;
    const err = (id: string) => pct(t.find((r) => r.id === id)!.error);
    out.push(`| ${ceiling.toFixed(2)}${ceiling === top ? ' (shipped)' : ''} | ${n} of ${t.length} | ${(100 * mae).toFixed(1)}% | ${ids.map(err).join(' | ')} |`);
  }
  out.push('');
  // Least squares of (measured - gap) against bytes over the batch-1 GEMMs that ran one kernel.
  const one = b1.filter((r) => !/split-K/.test(r.setup)).map((r) => {
    const [i, o] = shapes[r.id.slice('h200-'.length, -'-b1'.length)]!;
    return { x: linearKernel(h200, { rows: 1, inFeatures: i, outFeatures: o }).bytes, y: r.measured - gap };
  });
  const mx = one.reduce((a, p) => a + p.x, 0) / one.length;
  const my = one.reduce((a, p) => a + p.y, 0) / one.length;
  const slope = one.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0) / one.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  const ramp = my - slope * mx;
  out.push('A higher ceiling brings the copy and the 100+ MB GEMMs closer and pushes the small and');
  out.push('mid-sized kernels further below their measurements, so fewer points meet the target and the');
  out.push('mean error grows: the H200 data ask for a different shape (a fixed ramp per kernel plus a');
  out.push(`near-peak streaming rate: the ${one.length} unsplit batch-1 GEMMs fit ${ramp.toFixed(1)} us + bytes / ${(1e6 / slope / 1e12).toFixed(2)} TB/s beyond the in-graph gap), not a`);
  out.push('higher ceiling. The preset keeps H100\'s 0.82; changing the curve\'s shape would move every');
  out.push('GPU\'s calibration and is left as a known limit (gpu-model.md).');
  out.push('');
  return out;
}

/** The markdown of docs/calibration.md. */
export function renderCalibrationDoc(): string {
  const rows = calibrationTable();
  const held = heldOutTable();
  const within = rows.filter((r) => Math.abs(r.error) <= TARGET).length;
  const out: string[] = [];
  out.push('<!-- GENERATED by src/gpu/calibration-doc.ts from src/gpu/calibrate.ts and presets/gpus/*.json. Do not edit;');
  out.push('     run `npm run build:ts && node dist/gpu/calibration-doc.js`. tests/gpu.test.ts fails while this file is stale. -->');
  out.push('');
  out.push('# GPU model calibration');
  out.push('');
  out.push('Every published measurement in `shared/design/gpu-facts.md`, what the HBM accelerator model');
  out.push('(`src/gpu`, described in [gpu-model.md](gpu-model.md)) predicts for it, and the error');
  out.push('(predicted - measured) / measured. The predictions use the shipped presets as they are: one');
  out.push('set of knobs per GPU, no knob of a point\'s own. A point sets only what the measured stack did:');
  out.push('precision, tensor parallelism, context, whether it ran under CUDA Graphs, whether its decode');
  out.push('attention splits the keys. `tests/gpu.test.ts` recomputes this table and fails when an error');
  out.push('exceeds its bound.');
  out.push('');
  out.push(`Target: +-${(100 * TARGET).toFixed(0)}% on every point. Met on ${within} of ${rows.length}; the ${rows.length - within} others, and why, are below the table.`);
  out.push('');
  out.push('## Points');
  out.push('');
  out.push(...table(rows));
  out.push('');
  out.push('Sources: ' + [...new Set(rows.map((r) => r.source))].join('; ') + '.');
  out.push('');
  out.push('Notes on the setups:');
  out.push('');
  out.push('- gpt-fast runs batch 1 after a 5-token prompt and generates 200 tokens; the README says its A100s are');
  out.push('  power-limited to 330 W and that about 1,700 GB/s is their empirical peak bandwidth.');
  out.push('- NIM\'s 18.58 ms is the inter-token latency at concurrency 1 with 5,000 input and 500 output tokens.');
  out.push('  Llama-3.3-70B has Llama-3.1-70B\'s shapes; its config is given in `src/gpu/calibrate.ts`.');
  out.push('- TensorRT-LLM v0.5\'s "1st token latency" is the context phase at batch 1. GPT-J-6B is not a');
  out.push('  Llama-family model, so it runs as a Llama-shaped stand-in of equal matmul work (intermediate');
  out.push('  10,923 gated = 16,384 plain, 16 heads of 256); see `GPTJ_6B_STANDIN`.');
  out.push('- DistServe\'s breakdown is given as shares of a decode step; the model\'s share of an op is the');
  out.push('  wall time of its kernels (run plus launch) over the step. Its batch is not given: batch 1 is');
  out.push('  assumed. Its 9% attention share (about 20 us a layer for 4 MB of KV) says the kernel did not');
  out.push('  fill the GPU, so the point runs without split-KV. The breakdown names no RoPE or KV-cache');
  out.push('  write; those kernels (`rope_kv`, between the QKV GEMM and attention) count as attention.');
  out.push('- "H200 keeps about H100\'s time to first token" becomes a ratio of 1.00, modelled on the launch');
  out.push('  blog\'s own headline case (Llama-70B, TP1, 2,048-token prompt, fp8).');
  out.push('');
  const missed = rows.filter((r) => r.why !== undefined);
  if (missed.length > 0) {
    out.push('## Points with a wider bound');
    out.push('');
    const whys = [...new Set(missed.map((r) => r.why!))];
    for (const why of whys) {
      const these = missed.filter((r) => r.why === why);
      out.push(`- ${these.map((r) => `**${r.what}** (${pct(r.error)}, bound +-${(100 * r.bound).toFixed(0)}%)`).join('; ')}. ${why}`);
    }
    out.push('');
  }
  out.push(...measuredSection());
  out.push('## Held-out checks');
  out.push('');
  out.push('Other rows of the same two published tables (gpt-fast\'s README, TensorRT-LLM\'s performance.md)');
  out.push('that gpu-facts.md does not list. No knob was fitted to them: they show how the one knob set');
  out.push('carries to other models, precisions and TP degrees. Bound +-25%.');
  out.push('');
  out.push(...table(held));
  out.push('');
  const heldWithin = held.filter((r) => Math.abs(r.error) <= TARGET).length;
  const worst = held.reduce((a, r) => (Math.abs(r.error) > Math.abs(a.error) ? r : a), held[0]!);
  out.push(`${heldWithin} of ${held.length} within +-15%; the largest error is ${pct(worst.error)} (${worst.what}, ${worst.hardware}).`);
  out.push('');
  out.push('## Knobs per GPU');
  out.push('');
  out.push('"calibrated": fitted to the points above; "assumption": reasoned, not fitted. The reasons are the');
  out.push('notes in each preset file; [gpu-model.md](gpu-model.md) says what each knob does.');
  for (const name of listGpuPresets()) {
    const p = loadGpuPreset(name);
    out.push('');
    out.push(`### ${name}`);
    out.push('');
    out.push(`${p.description}.`);
    out.push('');
    out.push('| knob | value | kind | reason |');
    out.push('|---|---|---|---|');
    for (const k of KNOB_NAMES) {
      const prov = p.provenance[`knobs.${k}`]!;
      out.push(`| \`${k}\` | ${cell(knobValue(k, p.knobs[k]))} | ${prov.kind} | ${cell(prov.note ?? prov.source)} |`);
    }
  }
  out.push('');
  return out.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(new URL('../../docs/calibration.md', import.meta.url), renderCalibrationDoc());
  console.log('wrote docs/calibration.md');
}
