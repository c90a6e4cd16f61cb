// What `sramflow run` reports for a multi-chip program: the system's cycles, each chip's
// utilisation and each wired link's traffic.
import type { SystemResult } from '../system/system.js';
import type { SystemConfig } from '../system/topology.js';
import type { RunReport } from './run-report.js';

export interface SystemReport {
  system: string;
  chip: string;
  chipCount: number;
  mode: 'functional' | 'timing-only';
  checked: boolean;
  threads: number;
  cycles: number;
  seconds: number;
  clockHz: number;
  units: RunReport['units'];
  chips: { chip: number; program: number; cycles: number; instructions: number; units: Record<string, number>; outputs: RunReport['outputs'] }[];
  links: SystemResult['links'];
  outputs: Record<string, RunReport['outputs']>;
}

export function buildSystemReport(sys: SystemConfig, r: SystemResult, functional: boolean, checked: boolean): SystemReport {
  const units: RunReport['units'] = {};
  for (const u of ['MEM', 'VXM', 'MXM', 'SXM', 'C2C']) {
    let queues = 0;
    let busy = 0;
    for (const c of r.chips) {
      const x = c.report.units[u];
      if (x) {
        queues += x.queues;
        busy += x.busy;
      }
    }
    units[u] = { queues, busy, busyFraction: r.cycles > 0 && queues ? busy / (queues * r.cycles) : 0 };
  }
  const outputs: SystemReport['outputs'] = {};
  for (const c of r.chips) if (Object.keys(c.report.outputs).length) outputs[`chip${c.chip}`] = c.report.outputs;
  return {
    system: sys.name,
    chip: sys.chip.name,
    chipCount: sys.chips,
    mode: functional ? 'functional' : 'timing-only',
    checked,
    threads: r.threads,
    cycles: r.cycles,
    seconds: r.seconds,
    clockHz: sys.chip.clockHz,
    units,
    chips: r.chips.map((c) => ({
      chip: c.chip,
      program: c.program,
      cycles: c.report.cycles,
      instructions: c.report.instructions,
      units: Object.fromEntries(Object.entries(c.report.units).map(([u, x]) => [u, x.busyFraction])),
      outputs: c.report.outputs,
    })),
    links: r.links,
    outputs,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function formatSystemReport(r: SystemReport, maxRows = 16): string {
  const out: string[] = [];
  out.push(`${r.system}: ${r.chipCount} x ${r.chip} (${r.mode}${r.checked ? ', checked' : ''}, ${r.threads} thread${r.threads > 1 ? 's' : ''})`);
  out.push(`  system cycles ${r.cycles}  (${(r.seconds * 1e6).toFixed(3)} us at ${(r.clockHz / 1e6).toFixed(0)} MHz)`);
  out.push('  busy by unit  ' + Object.entries(r.units).map(([u, x]) => `${u} ${pct(x.busyFraction)}`).join('  '));
  out.push('  chip  cycles      instr  MEM     VXM     MXM     SXM     C2C');
  for (const c of r.chips.slice(0, maxRows)) {
    const u = (k: string) => pct(c.units[k] ?? 0).padStart(6);
    out.push(`  ${String(c.chip).padStart(4)}  ${String(c.cycles).padStart(9)}  ${String(c.instructions).padStart(6)}  ${u('MEM')}  ${u('VXM')}  ${u('MXM')}  ${u('SXM')}  ${u('C2C')}`);
  }
  if (r.chips.length > maxRows) out.push(`  ... ${r.chips.length - maxRows} more chips (--json lists all)`);
  const used = r.links.filter((l) => l.vectorsSent > 0);
  out.push(`  links         ${used.length} of ${r.links.length} wired link ends sent data`);
  for (const l of used.slice(0, maxRows)) {
    out.push(`    chip ${l.chip} link ${l.link} -> chip ${l.peerChip} link ${l.peerLink}: ${l.vectorsSent} vectors, ${pct(l.utilisation)} busy`);
  }
  if (used.length > maxRows) out.push(`    ... ${used.length - maxRows} more`);
  for (const [chip, outs] of Object.entries(r.outputs).slice(0, maxRows)) {
    for (const [name, t] of Object.entries(outs)) {
      const v = t.values.slice(0, 8).map((x) => (Number.isInteger(x) ? String(x) : x.toPrecision(6)));
      out.push(`  ${chip} output ${name} ${t.dtype}[${t.shape.join(',')}] = [${v.join(', ')}${t.values.length > 8 ? ', ...' : ''}]`);
    }
  }
  return out.join('\n');
}
