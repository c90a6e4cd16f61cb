// `sramflow`: the command line. It only wires: parse flags, load inputs, call the library, print.
// Exit codes: 0 ok; 2 bad input (usage, file, program text, preset); 3 the program failed on
// the chip (a hazard or error the core reported); 4 the cycle limit came before HALT;
// 70 an internal error (a bug in sramflow: please report it).
import { SfError } from '../util/errors.js';
import { parseArgs } from './args.js';
import { loadProgram, readInput, displayPath, isContainer } from './program-file.js';
import { Core, instructionCount } from '../chip/core.js';
import { loadCoreWasm } from '../chip/wasm-node.js';
import { coreErrorToSfError } from '../chip/errors.js';
import { buildRunReport, formatRunReport } from '../report/run-report.js';
import { encodeProgram, decodeProgram } from '../asm/container.js';
import { disassemble } from '../asm/disasm.js';
import { loadChipPreset } from '../chip/preset.js';
import { STOP } from '../isa/table.js';
import { availableParallelism } from 'node:os';
import { runSystem } from '../system/system.js';
import { buildSystemReport, formatSystemReport } from '../report/system-report.js';
import type { SystemProgram } from '../system/source.js';
import { cmdDebug } from './debug.js';
import { cmdTrace } from './trace.js';
import { cmdCompile, cmdRunModel, isModelPath } from './model-run.js';
import { writeOutput } from './output.js';
import { cmdCompare } from './compare.js';

export const EXIT = { OK: 0, BAD_INPUT: 2, CHIP_ERROR: 3, CYCLE_LIMIT: 4, INTERNAL: 70 } as const;

const HELP = `sramflow: a cycle-level emulator of a compiler-scheduled, SRAM-only dataflow chip

usage:
  sramflow run <program.sfa|program.sfp> [--chip tsp-v1|tiny|FILE] [--system PRESET|FILE]
               [--check] [--timing-only] [--threads N] [--max-cycles N] [--json]
      run a program and report cycles, time, unit and slice busy fractions, SRAM and stream
      traffic, and the output tensors. --check reports every hazard (stream read too early, two
      writes to one stream slot, MEM port overuse, ...) as an error at its source line.
      Multi-chip programs (a .system directive) report per chip and per link; --threads spreads
      the chips over worker threads (default: the cores available) with identical results;
      --timing-only runs the same schedule without values, fast and in little memory.
  sramflow run <model.json> [--phase decode|prefill] [--context N] [--batch N] [--dtype int8]
               [--chips N] [--chip P] [--seed N] [--timing-only] [--json]
      compile one decoder layer of a Hugging Face config (programs/models/*.json) for the chip,
      emulate it, check every op against the reference within its rounding bound, and print the
      cycles per op, the total (predicted == emulated) and the chip roofline
  sramflow compile <model.json> -o <layer.sfa> [same flags]  write the layer's program and data
  sramflow compare <model.json> [--batch N] [--context N] [--phase decode|prefill] [--prompt N]
               [--gpus h100-sxm,h200,...|all|FILE] [--gpu-dtype D] [--chip P] [--chip-power W]
               [--chips N] [--wafer cs-3|FILE|none] [--sweep batch=1,2,4|context=...|chips=...]
               [--json] [--csv FILE] [--svg FILE] [--threads N]
      the whole model on an SRAM system (layers pipelined over chip groups, emulated) side by
      side with GPU presets (the GPU model) and a CS-3 wafer (analytical): chips, per-token
      latency, tokens/s per user and system, time to first token, energy per token, and a
      per-operator breakdown; --sweep writes a CSV and an SVG chart (docs/compare.md)
  sramflow asm <program.sfa> -o <program.sfp> [--chip ...]   assemble to the binary container
  sramflow disasm <program.sfp> [-o <program.sfa>] [--chip ...] print assembly for a container
  sramflow debug <program> [--chip P] [--port N] [--host H] [--ref FILE]
      serve the browser debugger on http://127.0.0.1:8320/ (step, step back, breakpoints,
      floorplan, streams, SRAM, tensors, timeline); runs until Ctrl-C. --port 0: any free port
  sramflow trace <program> -o <trace.json> [--chip P] [--check] [--time cycles|us]
      write every instruction issue as a Perfetto / Chrome trace (one track per queue)
  sramflow help                                                this text

exit codes: 0 ok, 2 bad input, 3 the program failed on the chip, 4 cycle limit reached
docs: README.md, docs/isa.md (instructions), docs/asm.md (text format), docs/machine.md (model)`;

export const DEFAULT_MAX_CYCLES = 100_000_000;

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

async function cmdRun(argv: string[], io: Io): Promise<number> {
  const first = argv.find((a) => !a.startsWith('-'));
  if (first !== undefined && isModelPath(first)) return cmdRunModel(argv, io);
  const { positional, flags } = parseArgs(argv, {
    chip: { type: 'string' },
    system: { type: 'string' },
    check: { type: 'bool' },
    'timing-only': { type: 'bool' },
    threads: { type: 'int', min: 1, max: 256 },
    'max-cycles': { type: 'int', min: 1, max: 2 ** 53 },
    json: { type: 'bool' },
  }, 'run');
  if (positional.length !== 1) throw new SfError('usage: sramflow run <program> [--chip P] [--system S] [--check] [--timing-only] [--threads N] [--max-cycles N] [--json]');
  const loaded = loadProgram(positional[0], flags.chip as string | undefined, flags.system as string | undefined);
  const limit = (flags['max-cycles'] as number | undefined) ?? DEFAULT_MAX_CYCLES;
  const functional = flags['timing-only'] !== true;
  const checked = flags.check === true;
  if (loaded.system) return runSystemProgram(loaded.system, positional[0], flags, limit, functional, checked, io);
  const { program, chip } = loaded;
  const core = await Core.create(chip, loadCoreWasm(), { checked, functional, maxInstructions: instructionCount(program) });
  core.load(program);
  const reason = core.run(limit);
  if (reason & STOP.ERROR) {
    const e = core.error();
    io.err(`sramflow: ${e ? coreErrorToSfError(core, e).message : 'the core stopped with an error'}`);
    return EXIT.CHIP_ERROR;
  }
  if (!(reason & STOP.HALT)) {
    io.err(`sramflow: ${program.source ?? positional[0]}: stopped at the cycle limit (${limit}) before every queue halted; raise --max-cycles`);
    return EXIT.CYCLE_LIMIT;
  }
  const report = buildRunReport(core);
  io.out(flags.json ? JSON.stringify(report) : formatRunReport(report));
  return EXIT.OK;
}

async function runSystemProgram(
  sp: SystemProgram, path: string, flags: Record<string, unknown>, limit: number, functional: boolean, checked: boolean, io: Io,
): Promise<number> {
  const threads = (flags.threads as number | undefined) ?? availableParallelism();
  const r = await runSystem(sp, loadCoreWasm(), { functional, checked, threads, maxCycles: limit, hashes: false });
  if (r.stop === 'error') {
    io.err(`sramflow: ${r.error!.message}`);
    return EXIT.CHIP_ERROR;
  }
  if (r.stop === 'limit') {
    io.err(`sramflow: ${displayPath(path)}: stopped at the cycle limit (${limit}) before every chip halted; raise --max-cycles`);
    return EXIT.CYCLE_LIMIT;
  }
  const report = buildSystemReport(sp.system, r, functional, checked);
  io.out(flags.json ? JSON.stringify(report) : formatSystemReport(report));
  return EXIT.OK;
}

async function cmdAsm(argv: string[], io: Io): Promise<number> {
  const { positional, flags } = parseArgs(argv, { chip: { type: 'string' }, output: { type: 'string', alias: 'o' } }, 'asm');
  if (positional.length !== 1 || !flags.output) throw new SfError('usage: sramflow asm <program.sfa> -o <program.sfp> [--chip P]');
  const { program } = loadProgram(positional[0], flags.chip as string | undefined);
  const bytes = encodeProgram(program);
  writeOutput(flags.output as string, bytes, [positional[0]]);
  io.out(`wrote ${displayPath(flags.output as string)}: ${program.queues.length} queues, ${program.queues.reduce((n, q) => n + q.code.length / 16, 0)} instructions, ${program.tensors.length} tensors`);
  return EXIT.OK;
}

async function cmdDisasm(argv: string[], io: Io): Promise<number> {
  const { positional, flags } = parseArgs(argv, { chip: { type: 'string' }, output: { type: 'string', alias: 'o' } }, 'disasm');
  if (positional.length !== 1) throw new SfError('usage: sramflow disasm <program.sfp> [-o <program.sfa>] [--chip P]');
  const path = positional[0];
  const bytes = readInput(path);
  if (!isContainer(bytes)) throw new SfError('not a sramflow program container (assemble it with `sramflow asm`)', displayPath(path));
  const program = decodeProgram(bytes, displayPath(path));
  const chip = loadChipPreset((flags.chip as string | undefined) ?? program.chip ?? 'tsp-v1');
  const text = disassemble(program, chip);
  if (flags.output) writeOutput(flags.output as string, text, [path]);
  else io.out(text);
  return EXIT.OK;
}

export async function main(argv: string[], io: Io = { out: (s) => console.log(s), err: (s) => console.error(s) }): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'run': return await cmdRun(rest, io);
      case 'asm': return await cmdAsm(rest, io);
      case 'disasm': return await cmdDisasm(rest, io);
      case 'debug': return await cmdDebug(rest, io);
      case 'trace': return await cmdTrace(rest, io);
      case 'compile': return await cmdCompile(rest, io);
      case 'compare': return await cmdCompare(rest, io);
      case undefined: case 'help': case '--help': case '-h':
        io.out(HELP);
        if (cmd === undefined) {
          io.err('sramflow: no command given; commands: run, compare, asm, disasm, debug, trace, help');
          return EXIT.BAD_INPUT;
        }
        return EXIT.OK;
      default:
        throw new SfError(`unknown command "${cmd}"; commands: run, compare, asm, disasm, debug, trace, help`);
    }
  } catch (e) {
    if (e instanceof SfError) {
      io.err(`sramflow: ${e.message}`);
      return EXIT.BAD_INPUT;
    }
    const msg = e instanceof Error ? e.message : String(e);
    io.err(`sramflow: internal error: ${msg.split('\n')[0]} (set SRAMFLOW_DEBUG=1 for details)`);
    if (process.env.SRAMFLOW_DEBUG) io.err(String((e as Error)?.stack ?? e));
    return EXIT.INTERNAL;
  }
}
