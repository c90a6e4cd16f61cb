// What the debugger page gets from GET /api/session: the chip, the system (if any), the
// program(s) as binary containers (base64), the program's source text, and reference values.
import { readFileSync, statSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SfError } from '../util/errors.js';
import { loadProgram, readInput, isContainer, displayPath } from '../cli/program-file.js';
import { encodeProgram } from '../asm/container.js';
import type { ChipConfig } from '../chip/config.js';
import type { Session, References } from './app/session-types.js';

const MAX_SOURCE = 16 << 20;

function publicChip(c: ChipConfig): ChipConfig {
  return { ...c, file: basename(c.file) };
}

function readText(path: string): string | null {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_SOURCE) return null;
    const bytes = new Uint8Array(readFileSync(path));
    if (isContainer(bytes)) return null;
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  } catch {
    return null;
  }
}

/** Reference values: `{ "tensor": [numbers, row-major], "tensor@chip": [...] }`. */
export function readReferences(path: string): References {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(readInput(path)));
  } catch (e) {
    if (e instanceof SfError) throw e;
    throw new SfError(`not valid JSON (${(e as Error).message})`, displayPath(path));
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SfError('a reference file is a JSON object: { "tensor": [values, row-major], ... }', displayPath(path));
  const out: References = {};
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    if (k === '$comment') continue;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' || x === null)) throw new SfError(`field "${k}": expected an array of numbers`, displayPath(path));
    out[k] = v.map((x) => (x === null ? NaN : (x as number)));
  }
  return out;
}

export interface SessionOptions {
  chip?: string;
  system?: string;
  /** Reference file; default: <program>.ref.json next to the program, when it exists. */
  ref?: string;
}

export function buildSession(programPath: string, opts: SessionOptions = {}): Session {
  const loaded = loadProgram(programPath, opts.chip, opts.system);
  const bytes = readInput(programPath);
  let source: string | null = null;
  let sourceName = displayPath(programPath);
  if (!isContainer(bytes)) source = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  else if (loaded.program.source) {
    // a container names its source file (debug info): show it when it is there
    const p = loaded.program.source;
    const candidates = [p, join(dirname(programPath), basename(p))];
    for (const c of candidates) {
      if (existsSync(c)) {
        source = readText(c);
        if (source !== null) {
          sourceName = displayPath(c);
          break;
        }
      }
    }
  }
  const sidecar = programPath.replace(/\.(sfa|sfp)$/i, '') + '.ref.json';
  const refPath = opts.ref ?? (existsSync(sidecar) ? sidecar : null);
  const references = refPath ? readReferences(refPath) : null;
  const programs = loaded.system ? loaded.system.programs : [loaded.program];
  const b64 = programs.map((p) => Buffer.from(encodeProgram(p, { debug: true })).toString('base64'));
  const sys = loaded.system?.system;
  return {
    version: 1,
    file: displayPath(programPath),
    chip: publicChip(sys ? sys.chip : loaded.chip),
    system: sys ? { name: sys.name, description: sys.description, chips: sys.chips, topology: sys.topology, peer: sys.peer } : null,
    chips: sys ? sys.chips : 1,
    programs: b64,
    chipProgram: loaded.system ? loaded.system.chipProgram : [0],
    source,
    sourceName,
    references,
    referenceFile: refPath ? displayPath(refPath) : null,
  };
}
