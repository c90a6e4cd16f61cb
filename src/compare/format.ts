// The comparison as a terminal table: the headline figures side by side (SRAM system, each GPU,
// the wafer), then the per-operator breakdown, then how each column was obtained.
import { GROUPS, GROUP_NOTES, type Breakdown } from './breakdown.js';
import type { Comparison } from './compare.js';

/** Seconds as us / ms / s with 3 significant figures. */
export function fmtTime(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '-';
  if (s < 1e-3) return `${(s * 1e6).toPrecision(3)} us`;
  if (s < 1) return `${(s * 1e3).toPrecision(3)} ms`;
  return `${s.toPrecision(3)} s`;
}

/** A rate with thousands separators (3 significant figures below 100). */
export function fmtRate(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '-';
  if (v < 100) return v.toPrecision(3);
  return Math.round(v).toLocaleString('en-US');
}

export function fmtEnergy(j: number | null): string {
  if (j === null || !Number.isFinite(j)) return '-';
  if (j < 1) return `${(j * 1e3).toPrecision(3)} mJ`;
  return `${j.toPrecision(3)} J`;
}

/** Rows of cells as aligned columns (the first left-aligned). */
export function grid(rows: string[][], gap = 2): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + gap))).join('').trimEnd()).join('\n');
}

export function formatComparison(c: Comparison): string {
  const s = c.sram;
  const decode = c.phase === 'decode';
  const lines: string[] = [];
  const gdt = c.gpus.length ? ` (GPUs: ${[...new Set(c.gpus.map((g) => g.dtype))].join(', ')})` : '';
  lines.push(
    decode
      ? `${c.model}, decode: batch ${c.batch}, context ${c.context}${c.prompt !== null ? `, time to first token for a ${c.prompt}-token prompt` : ''}, ${c.dtype} weights${gdt}`
      : `${c.model}, prefill: batch ${c.batch}, prompt ${c.prompt} tokens, ${c.dtype} weights${gdt}`,
    '',
  );
  const cols = [`${s.chip} system`, ...c.gpus.map((g) => g.gpu), ...(c.wafer ? [c.wafer.wafer] : [])];
  const how = ['emulated', ...c.gpus.map(() => 'GPU model'), ...(c.wafer ? ['analytical'] : [])];
  const rows: string[][] = [['', ...cols], ['', ...how]];
  const chipsCell = `${s.chips} (${s.layers} x ${s.chipsPerLayer} + ${s.headChips} head + ${s.embeddingChips} embedding)`;
  rows.push(['chips', chipsCell, ...c.gpus.map((g) => `${g.chips} GPU${g.chips > 1 ? 's' : ''}`), ...(c.wafer ? [`${c.wafer.wafers} wafer${c.wafer.wafers > 1 ? 's' : ''}`] : [])]);
  const row = (label: string, f: (x: { tokensPerSecondPerUser: number | null; systemTokensPerSecond: number | null; ttftSeconds: number | null; energyPerTokenJoules: number | null }) => string, sramCell?: string) =>
    rows.push([label, sramCell ?? f(s), ...c.gpus.map(f), ...(c.wafer ? [f(c.wafer)] : [])]);
  if (decode) {
    rows.push(['per-token latency', fmtTime(s.decode!.seconds), ...c.gpus.map((g) => fmtTime(g.decode!.seconds)), ...(c.wafer ? [fmtTime(c.wafer.decode!.seconds)] : [])]);
    row('tokens/s per user', (x) => fmtRate(x.tokensPerSecondPerUser));
    row('system tokens/s', (x) => fmtRate(x.systemTokensPerSecond));
  }
  row('time to first token', (x) => (c.prompt === null ? '-' : fmtTime(x.ttftSeconds)), c.prompt === null ? '- (give --prompt N)' : undefined);
  if (!decode) {
    const rate = (t: number | null) => (t === null ? '-' : fmtRate((c.batch * c.prompt!) / t));
    row('prompt tokens/s', (x) => rate(x.ttftSeconds));
  }
  const energy = (x: { energyPerTokenJoules: number | null }) => fmtEnergy(x.energyPerTokenJoules);
  if (decode) row('energy per token', energy, s.power ? fmtEnergy(s.energyPerTokenJoules) : '- (give --chip-power W)');
  else {
    const pe = (w: number | null, chips: number, t: number | null) => (w === null || t === null ? '-' : fmtEnergy((w * chips * t) / (c.batch * c.prompt!)));
    rows.push(['energy per prompt token', s.power ? pe(s.power.watts, s.chips, s.ttftSeconds) : '- (give --chip-power W)', ...c.gpus.map((g) => pe(g.powerW, g.chips, g.ttftSeconds)), ...(c.wafer ? [pe(c.wafer.powerW, c.wafer.wafers, c.wafer.ttftSeconds)] : [])]);
  }
  rows.push(['power (per chip)', s.power ? `${s.power.watts} W (${s.power.kind})` : '-', ...c.gpus.map((g) => `${g.powerW} W`), ...(c.wafer ? [`${c.wafer.powerW} W (assumption)`] : [])]);
  lines.push(grid(rows), '');

  // per-operator breakdown
  const main = (decode ? s.decode : s.prefill)!;
  const parts: { name: string; b: Breakdown; total: number }[] = [
    { name: `${s.chip} system`, b: main.breakdown, total: main.seconds },
    ...c.gpus.map((g) => ({ name: g.gpu, b: g.breakdown, total: (decode ? g.decode : g.prefill)!.seconds })),
  ];
  lines.push(decode ? 'time per token by operator (all layers; share of the step)' : 'prefill time by operator (all layers; share)');
  const brows: string[][] = [['', ...parts.flatMap((p) => [p.name, ''])]];
  for (const g of GROUPS) {
    if (parts.every((p) => !p.b[g])) continue;
    brows.push([g, ...parts.flatMap((p) => (p.b[g] ? [fmtTime(p.b[g]!), `${((100 * p.b[g]!) / p.total).toFixed(1)}%`] : ['-', '']))]);
  }
  brows.push(['total', ...parts.flatMap((p) => [fmtTime(p.total), ''])]);
  lines.push(grid(brows), '');
  for (const g of ['links', 'other']) if (parts.some((p) => p.b[g as keyof Breakdown])) lines.push(`  ${g}: ${GROUP_NOTES[g]}`);
  lines.push('');

  // how each column was obtained
  const prog = main.programs;
  const layerP = prog.filter((p) => p.kind === 'layer');
  const headP = prog.find((p) => p.kind === 'head')!;
  const us = (cy: number) => fmtTime(cy / s.clockHz);
  lines.push(`${s.chip} system: ${s.label}`);
  for (const p of layerP) {
    lines.push(`  layer program for ${p.layers.length === s.layers ? `all ${s.layers} layers` : `layers ${p.layers.join(',')}`}: ${p.cycles} cycles (${us(p.cycles)}) on ${p.chips} chip(s), emulated = predicted; roofline ${p.roofline.cycles} cycles`);
  }
  lines.push(`  LM head: ${headP.cycles} cycles (${us(headP.cycles)}), vocabulary over ${headP.chips} chip(s); roofline ${headP.roofline.cycles} cycles`);
  for (const h of main.hops) lines.push(`  ${h.count} C2C hop(s) of ${h.rows} fp32 row(s) (${h.vectors} vectors): ${h.cycles} cycles (${us(h.cycles)}) each`);
  lines.push(`  embedding lookup: ${main.embedding.cycles} cycles (${main.embedding.label})`);
  if (s.pipelineFull) {
    const p = s.pipelineFull;
    lines.push(`  with a micro-batch in each of the ${p.microBatches} pipeline stages (${p.users} users): ${fmtRate(p.systemTokensPerSecond)} system tokens/s, ${fmtRate(1 / p.tokenIntervalSeconds)} tokens/s per user${p.energyPerTokenJoules !== null ? `, ${fmtEnergy(p.energyPerTokenJoules)} per token` : ''}`);
  }
  for (const a of s.assumptions) lines.push(`  - ${a}`);
  if (s.power) lines.push(`  - power source: ${s.power.source}`);
  for (const g of c.gpus) {
    lines.push(`${g.gpu}: ${g.label}; ${g.chips > 1 ? `${g.chips} GPUs, tensor parallel` : '1 GPU'}, ${g.dtype}${g.decode ? `, ${(g.decode.bandwidthUtilization * 100).toFixed(0)}% of HBM bandwidth` : ''}; energy = ${g.powerW} W board power x time${g.dtypeNote ? `; ${g.dtypeNote}` : ''}; preset ${g.file}`);
  }
  if (c.wafer) {
    const w = c.wafer;
    lines.push(`${w.wafer}: ${w.label}; ${w.wafers} wafer${w.wafers > 1 ? 's' : ''}, ${w.dtype} weights; ${fmtTime(w.fixedSeconds)} of the step is the fitted per-stage latency assumption (docs/gpu-model.md)`);
  }
  return lines.join('\n');
}
