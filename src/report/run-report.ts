// What `sramflow run` reports about one chip's run: cycles and time, how busy each unit kind and
// slice was, SRAM used, bytes moved on streams, MXM work, and the output tensors' values.
import type { Core } from '../chip/core.js';
import { dtypeByName } from '../isa/dtypes.js';

export interface RunReport {
  chip: string;
  program: string | null;
  mode: 'functional' | 'timing-only';
  checked: boolean;
  cycles: number;
  seconds: number;
  clockHz: number;
  instructions: number;
  /** Busy fraction per unit kind: unit-occupied cycles / (queues of that kind x cycles). */
  units: Record<string, { queues: number; busy: number; busyFraction: number }>;
  /** Busy fraction per slice that did any work, west to east. */
  slices: { name: string; position: number; busyFraction: number }[];
  sram: { bytesUsed: number; bytesTotal: number };
  streams: { bytesWritten: number; perStream: Record<string, number> };
  mxm: { macs: number; macsPerCycle: number; peakMacsPerCycle: number };
  outputs: Record<string, { dtype: string; shape: [number, number]; values: number[] }>;
}

export function buildRunReport(core: Core): RunReport {
  const chip = core.chip;
  const cycles = core.programCycles;
  const stats = core.queueStats();
  const units: RunReport['units'] = {};
  for (const unit of ['MEM', 'VXM', 'MXM', 'SXM', 'C2C']) {
    const qs = stats.filter((q) => q.unit === unit);
    const busy = qs.reduce((n, q) => n + q.busy, 0);
    units[unit] = { queues: qs.length, busy, busyFraction: cycles > 0 && qs.length ? busy / (qs.length * cycles) : 0 };
  }
  const slices: RunReport['slices'] = [];
  for (const s of core.plan.slices) {
    const qs = stats.filter((q) => q.slice === s.name);
    const busy = qs.reduce((n, q) => n + q.busy, 0);
    if (busy > 0) slices.push({ name: s.name, position: s.position, busyFraction: busy / (qs.length * Math.max(1, cycles)) });
  }
  const program = core.loadedProgram;
  const bytesUsed = (program?.tensors ?? []).reduce((n, t) => n + t.shape[0] * dtypeByName(t.dtype)!.bytes * chip.lanes, 0);
  const perStream: Record<string, number> = {};
  const sb = core.streamBytes();
  sb.forEach((b, id) => {
    if (b > 0) perStream[core.plan.streamName(id)] = b;
  });
  const macs = core.planeMacs().reduce((a, b) => a + b, 0);
  const outputs: RunReport['outputs'] = {};
  if (core.functional) for (const t of program?.tensors ?? []) if (t.output) outputs[t.name] = core.readTensor(t.name);
  return {
    chip: chip.name,
    program: program?.source ?? null,
    mode: core.functional ? 'functional' : 'timing-only',
    checked: core.checked,
    cycles,
    seconds: cycles / chip.clockHz,
    clockHz: chip.clockHz,
    instructions: core.instructionsIssued,
    units,
    slices,
    sram: { bytesUsed, bytesTotal: 2 * chip.memSlicesPerHemisphere * chip.memVectorsPerSlice * chip.lanes },
    streams: { bytesWritten: sb.reduce((a, b) => a + b, 0), perStream },
    mxm: { macs, macsPerCycle: cycles > 0 ? macs / cycles : 0, peakMacsPerCycle: 2 * chip.mxmPlanesPerHemisphere * chip.lanes * chip.lanes },
    outputs,
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function bytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function time(s: number): string {
  if (s >= 1e-3) return `${(s * 1e3).toFixed(3)} ms`;
  if (s >= 1e-6) return `${(s * 1e6).toFixed(3)} us`;
  return `${(s * 1e9).toFixed(1)} ns`;
}

function values(v: number[], max = 16): string {
  const shown = v.slice(0, max).map((x) => (Number.isInteger(x) ? String(x) : x.toPrecision(6)));
  return `[${shown.join(', ')}${v.length > max ? `, ... (${v.length} values)` : ''}]`;
}

/** Neighbouring active slices of one unit kind folded into runs: `MEM.W43..W28 38.8-40.8%`. */
function sliceRuns(slices: RunReport['slices']): string[] {
  const runs: RunReport['slices'][] = [];
  for (const s of slices) {
    const last = runs[runs.length - 1];
    const prev = last?.[last.length - 1];
    const unit = (n: string) => n.split('.')[0];
    if (prev && unit(prev.name) === unit(s.name) && s.position === prev.position + 1) last.push(s);
    else runs.push([s]);
  }
  return runs.map((run) => {
    const lo = Math.min(...run.map((s) => s.busyFraction));
    const hi = Math.max(...run.map((s) => s.busyFraction));
    const range = lo === hi ? pct(lo) : `${(100 * lo).toFixed(1)}-${pct(hi)}`;
    if (run.length === 1) return `${run[0].name} ${range}`;
    const tail = run[run.length - 1].name.split('.')[1];
    return `${run[0].name}..${tail} ${range}`;
  });
}

export function formatRunReport(r: RunReport): string {
  const out: string[] = [];
  out.push(`${r.program ?? 'program'} on ${r.chip} (${r.mode}${r.checked ? ', checked' : ''})`);
  out.push(`  cycles        ${r.cycles}  (${time(r.seconds)} at ${(r.clockHz / 1e6).toFixed(0)} MHz)`);
  out.push(`  instructions  ${r.instructions} issued`);
  out.push(`  SRAM          ${bytes(r.sram.bytesUsed)} of ${bytes(r.sram.bytesTotal)} used by tensors`);
  out.push(`  streams       ${bytes(r.streams.bytesWritten)} written`);
  if (r.mxm.macs > 0) out.push(`  MXM           ${r.mxm.macs} MACs, ${r.mxm.macsPerCycle.toFixed(0)}/cycle of ${r.mxm.peakMacsPerCycle} peak (${pct(r.mxm.macsPerCycle / r.mxm.peakMacsPerCycle)})`);
  out.push('  busy by unit  ' + Object.entries(r.units).map(([u, x]) => `${u} ${pct(x.busyFraction)}`).join('  '));
  if (r.slices.length) out.push('  busy by slice ' + sliceRuns(r.slices).join('  '));
  for (const [name, t] of Object.entries(r.outputs)) {
    out.push(`  output ${name} ${t.dtype}[${t.shape.join(',')}] = ${values(t.values)}`);
  }
  return out.join('\n');
}
