// Reads a program from disk: assembly text (.sfa) or the binary container (any name; detected by
// its magic bytes). Resolves the chip: --chip wins, then the program's `.chip`, then tsp-v1.
import { dirname, resolve, relative } from 'node:path';
import { readRegularFile } from '../util/data-file.js';
import { placeName } from '../util/errors.js';
import { assemble } from '../asm/assemble.js';
import { decodeProgram, CONTAINER_MAGIC } from '../asm/container.js';
import { loadChipPreset } from '../chip/preset.js';
import { checkProgramForChip } from '../chip/core.js';
import type { ChipConfig } from '../chip/config.js';
import type { Program } from '../asm/program.js';
import { systemDirective, assembleSystem, type SystemProgram } from '../system/source.js';
import { loadSystemPreset } from '../system/topology.js';

export const DEFAULT_CHIP = 'tsp-v1';

/** Programs, data files and references are read by the one regular-file reader. */
export const readInput = readRegularFile;


export function isContainer(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && String.fromCharCode(...bytes.subarray(0, 4)) === CONTAINER_MAGIC;
}

/** Display name of a path: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), resolve(path));
  return placeName(rel.startsWith('..') ? path : rel);
}

export interface Loaded {
  program: Program;
  chip: ChipConfig;
  /** Set for multi-chip programs (a .system directive or --system). */
  system?: SystemProgram;
}

export function loadProgram(path: string, chipFlag?: string, systemFlag?: string): Loaded {
  const bytes = readInput(path);
  const name = displayPath(path);
  if (isContainer(bytes)) {
    const program = decodeProgram(bytes, name);
    const chip = loadChipPreset(chipFlag ?? program.chip ?? DEFAULT_CHIP);
    // the container names queues and slices; they must exist on the chip it runs on
    checkProgramForChip(program, chip, name);
    // without debug info, errors at run time name the container
    if (program.source === null) program.source = name;
    return { program, chip };
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const sysName = systemFlag ?? systemDirective(text);
  if (sysName) {
    const chipOverride = chipFlag ? loadChipPreset(chipFlag) : undefined;
    const sysPath = !systemFlag && /[/\\]|\.json$/.test(sysName) ? resolve(dirname(path), sysName) : sysName;
    const system = loadSystemPreset(sysPath, chipOverride);
    const sp = assembleSystem(text, name, system, readInput);
    return { program: sp.programs[0], chip: system.chip, system: sp };
  }
  const m = /^[ \t]*\.chip[ \t]+([^\s;#]+)/m.exec(text);
  let chipName = chipFlag ?? m?.[1] ?? DEFAULT_CHIP;
  // a .chip naming a preset file is relative to the program's folder
  if (!chipFlag && m && /[/\\]|\.json$/.test(chipName)) chipName = resolve(dirname(path), chipName);
  const chip = loadChipPreset(chipName);
  const program = assemble(text, {
    file: name,
    chip,
    readFile: readInput,
  });
  return { program, chip };
}
