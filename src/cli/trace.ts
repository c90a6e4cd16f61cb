// `sramflow trace <program> -o trace.json`: runs a program and writes its instruction issues as a
// Chrome / Perfetto trace (JSON trace event format): one process per chip, one thread (track) per
// queue, one complete ("X") event per issue named by its mnemonic, lasting its issue cycles.
// ts and dur are in chip cycles by default (the viewer's 1 us is one cycle), or in microseconds
// of chip time with --time us; otherData.timeUnit says which.
import { openSync, writeSync, closeSync, renameSync, existsSync, realpathSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { SfError } from '../util/errors.js';
import { parseArgs } from './args.js';
import { loadProgram, displayPath } from './program-file.js';
import { loadCoreWasm } from '../chip/wasm-node.js';
import { Machine } from '../debugger/app/machine.js';
import { formatInstruction, issueCyclesAt, mnemonicOf, unitOf } from '../debugger/app/format.js';

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

// exit codes as in main.ts (EXIT): imported there, so not imported from there
const OK = 0;
const CHIP_ERROR = 3;
const CYCLE_LIMIT = 4;
const MAX_CYCLES = 100_000_000;

/** Refuses an output path that is the input file. */
export function checkNotInput(output: string, input: string): void {
  if (existsSync(output) && existsSync(input) && realpathSync(output) === realpathSync(input)) {
    throw new SfError('refusing to overwrite the input file', output);
  }
}

export async function cmdTrace(argv: string[], io: Io): Promise<number> {
  const { positional, flags } = parseArgs(argv, {
    chip: { type: 'string' },
    system: { type: 'string' },
    output: { type: 'string', alias: 'o' },
    check: { type: 'bool' },
    time: { type: 'string' },
    'max-cycles': { type: 'int', min: 1, max: 2 ** 53 },
    'max-events': { type: 'int', min: 1, max: 200_000_000 },
  }, 'trace');
  const usage = 'usage: sramflow trace <program> -o <trace.json> [--chip P] [--system S] [--check] [--time cycles|us] [--max-cycles N] [--max-events N]';
  if (positional.length !== 1 || !flags.output) throw new SfError(usage);
  const time = (flags.time as string | undefined) ?? 'cycles';
  if (time !== 'cycles' && time !== 'us') throw new SfError(`option --time: "${time}" is not one of cycles, us`);
  const input = positional[0];
  const output = flags.output as string;
  checkNotInput(output, input);
  const loaded = loadProgram(input, flags.chip as string | undefined, flags.system as string | undefined);
  const chip = loaded.chip;
  const spec = loaded.system
    ? { chip: loaded.system.system.chip, programs: loaded.system.programs, chipProgram: loaded.system.chipProgram, peer: loaded.system.system.peer }
    : { chip, programs: [loaded.program], chipProgram: [0] };
  const limit = (flags['max-cycles'] as number | undefined) ?? MAX_CYCLES;
  const m = await Machine.create({ ...spec, timeTravel: false, checked: flags.check === true, maxEvents: (flags['max-events'] as number | undefined) ?? 20_000_000 }, loadCoreWasm());
  const stop = m.advance(limit, false);

  const scale = time === 'us' ? 1e6 / m.chip.clockHz : 1;
  const tmp = `${resolve(output)}.tmp-${process.pid}`;
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    throw new SfError(`cannot write (${(e as NodeJS.ErrnoException).code ?? 'error'})`, output);
  }
  let events = 0;
  try {
    let buf: string[] = [];
    let first = true;
    const put = (o: unknown) => {
      buf.push((first ? '' : ',\n') + JSON.stringify(o));
      first = false;
      if (buf.length >= 4096) {
        writeSync(fd, buf.join(''));
        buf = [];
      }
    };
    writeSync(fd, '{"traceEvents":[\n');
    for (let c = 0; c < m.chips; c++) {
      const program = m.program(c);
      const plan = m.cores[c].plan;
      put({ ph: 'M', pid: c, name: 'process_name', args: { name: m.chips > 1 ? `chip ${c} (${m.chip.name})` : `${m.chip.name}` } });
      put({ ph: 'M', pid: c, name: 'process_sort_index', args: { sort_index: c } });
      const byName = new Map(program.queues.map((q) => [q.name, q]));
      for (const q of plan.queues) {
        if (!byName.has(q.name)) continue;
        put({ ph: 'M', pid: c, tid: q.id, name: 'thread_name', args: { name: q.name } });
        put({ ph: 'M', pid: c, tid: q.id, name: 'thread_sort_index', args: { sort_index: q.id } });
      }
      const text = new Map<number, { name: string; cat: string; dur: number; args: Record<string, unknown> }>();
      const h = m.histories[c];
      for (let i = 0; i < h.length; i++) {
        const qid = h.queues[i];
        const pc = h.pcs[i];
        const key = qid * 1_000_000_007 + pc;
        let t = text.get(key);
        if (!t) {
          const qn = plan.queues[qid].name;
          const qp = byName.get(qn)!;
          const line = qp.lines[pc]?.line;
          t = {
            name: mnemonicOf(qp.code, pc),
            cat: unitOf(qp.code, pc),
            dur: issueCyclesAt(qp.code, pc),
            args: { pc, ...(line !== undefined ? { line } : {}), instruction: formatInstruction(qp, pc, plan, program) },
          };
          text.set(key, t);
        }
        put({ ph: 'X', pid: c, tid: qid, ts: h.cycles[i] * scale, dur: t.dur * scale, name: t.name, cat: t.cat, args: t.args });
        events++;
      }
    }
    writeSync(fd, buf.join(''));
    const meta = {
      generator: 'sramflow trace',
      program: displayPath(input),
      chip: m.chip.name,
      chips: m.chips,
      clockHz: m.chip.clockHz,
      timeUnit: time === 'us' ? 'microseconds of chip time' : 'cycles',
      note: time === 'us'
        ? 'ts and dur are microseconds of chip time (cycle / clockHz)'
        : 'ts and dur are chip cycles: the viewer shows one cycle as one microsecond',
      cycles: m.cycle,
      instructionsIssued: m.cores.reduce((n, core) => n + core.instructionsIssued, 0),
      events,
      stop: stop.kind,
      truncated: m.histories.some((h) => h.truncated),
    };
    writeSync(fd, `\n],\n"displayTimeUnit":"ns",\n"otherData":${JSON.stringify(meta)}}\n`);
    closeSync(fd);
    renameSync(tmp, output);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    if (existsSync(tmp)) unlinkSync(tmp);
    if (e instanceof SfError) throw e;
    throw new SfError(`cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`, output);
  }
  const truncated = m.histories.some((h) => h.truncated);
  io.out(`wrote ${displayPath(output)}: ${events} instruction issues on ${m.chips} chip${m.chips > 1 ? 's' : ''} over ${m.cycle} cycles (ts in ${time === 'us' ? 'microseconds of chip time' : 'cycles'})${truncated ? '; truncated: raise --max-events' : ''}`);
  if (stop.kind === 'error') {
    io.err(`sramflow: ${stop.message}`);
    return CHIP_ERROR;
  }
  if (stop.kind !== 'halted') {
    io.err(`sramflow: ${displayPath(input)}: stopped at the cycle limit (${limit}) before every queue halted; raise --max-cycles (the trace covers the cycles run)`);
    return CYCLE_LIMIT;
  }
  return OK;
}
