// Multi-chip programs in one text file. Two host-level directives wrap the assembly language:
//   .system <preset>     the system (presets/systems/<name>.json or a file) the program runs on
//   .program <chips>     the following lines are the program of these chips: `3`, `0-7`, `0,2,4`, `all`
// Lines before the first `.program` are shared by every chip (e.g. `.chip`, common tensors).
// Inside a program, `${chip}` expands to the chip's index and `${chips}` to the chip count, so
// one SPMD text can give each chip its own data (`random(${chip})`).
// Each chip's text keeps every line in place (other chips' lines become blank), so errors keep
// their file:line:col. Chips whose expanded text is identical share one assembled Program.
import { SfError } from '../util/errors.js';
import { assemble } from '../asm/assemble.js';
import type { Program } from '../asm/program.js';
import type { SystemConfig } from './topology.js';

export interface SystemProgram {
  system: SystemConfig;
  /** Distinct programs; chipProgram[c] indexes this list. */
  programs: Program[];
  chipProgram: number[];
}

const SYSTEM_RE = /^[ \t]*\.system[ \t]+([^\s;#]+)/m;

/** The `.system` preset a source names, or null for a one-chip program. */
export function systemDirective(text: string): string | null {
  return SYSTEM_RE.exec(text)?.[1] ?? null;
}

function parseChips(spec: string, n: number, where: string): number[] {
  if (spec === 'all') return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new SfError(`bad chip list "${spec}"; write e.g. 3, 0-7, 0,2,4 or all`, where);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b >= n) throw new SfError(`chips ${part} are outside 0..${n - 1}`, where);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

export function assembleSystem(text: string, file: string, system: SystemConfig, readFile?: (p: string) => Uint8Array): SystemProgram {
  const lines = text.split('\n');
  const n = system.chips;
  // owner[i]: -1 shared prelude, -2 a directive line, k >= 0 the k-th .program section
  const owner: number[] = [];
  const sections: number[][] = [];
  let current = -1;
  lines.forEach((line, i) => {
    const m = /^([ \t]*)\.(program|system)\b[ \t]*([^;#]*)/.exec(line);
    if (m && m[2] === 'program') {
      const where = `${file}:${i + 1}:${m[1].length + 1}`;
      const spec = m[3].trim();
      if (!spec) throw new SfError('.program needs a chip list, e.g. .program 0-7', where);
      sections.push(parseChips(spec, n, where));
      current = sections.length - 1;
      owner.push(-2);
    } else if (m) {
      owner.push(-2);
    } else {
      owner.push(current);
    }
  });
  const chipSections: number[][] = Array.from({ length: n }, () => []);
  sections.forEach((chips, k) => chips.forEach((c) => chipSections[c].push(k)));
  if (sections.length === 0) throw new SfError(`a .system program needs .program sections (e.g. ".program 0-${n - 1}")`, file);
  const missing = chipSections.findIndex((s) => s.length === 0);
  if (missing >= 0) throw new SfError(`no .program section covers chip ${missing} of ${n}`, file);

  const byText = new Map<string, number>();
  const programs: Program[] = [];
  const chipProgram: number[] = [];
  for (let c = 0; c < n; c++) {
    const mine = new Set(chipSections[c]);
    const body = lines
      .map((line, i) => (owner[i] === -1 || (owner[i] >= 0 && mine.has(owner[i])) ? line.replace(/\$\{chip\}/g, String(c)).replace(/\$\{chips\}/g, String(n)) : ''))
      .join('\n');
    let idx = byText.get(body);
    if (idx === undefined) {
      idx = programs.length;
      programs.push(assemble(body, { file, chip: system.chip, readFile }));
      byText.set(body, idx);
    }
    chipProgram.push(idx);
  }
  return { system, programs, chipProgram };
}
