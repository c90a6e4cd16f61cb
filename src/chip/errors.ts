// Turns the core's error record into one line a person can act on: where in the source, which
// cycle, slice, queue and instruction, and what went wrong.
import type { Core, CoreError } from './core.js';
import { ERRORS, INSTRUCTION_BYTES, instructionByOpcode } from '../isa/table.js';
import { SfError, placeName } from '../util/errors.js';

function streamName(core: Core, id: number): string {
  return id >= 0 && id < 2 * core.chip.streamsPerDirection ? core.plan.streamName(id) : `#${id}`;
}

function detail(core: Core, e: CoreError): string {
  const s = streamName(core, e.stream);
  switch (e.name) {
    case 'STREAM_EMPTY':
      return e.a >= 0
        ? `stream ${s} holds a value written at position ${e.a}, downstream of this slice: nothing has arrived here`
        : `stream ${s} holds nothing at this slice on this cycle (read too early, too late, or never written)`;
    case 'STREAM_COLLISION': {
      if (e.a < 0) return `more than ${e.b} values on one flight of stream ${s} (the emulator keeps ${e.b} segments per flight; use another stream)`;
      const other = core.plan.queues[e.b]?.name ?? `#${e.b}`;
      return `stream ${s} already carries a value written at this position (${e.a}) by ${other} on the same flight`;
    }
    case 'MEM_PORT':
      return `${e.a} vector accesses on one cycle; the slice has ${e.b} ports (a WRITE uses its ports one cycle after issue)`;
    case 'SRAM_RANGE':
      return `address ${e.a} (+${e.b} planes) is outside the slice (0..${core.chip.memVectorsPerSlice - 1})`;
    case 'MXM_NO_WEIGHTS':
      return `plane has ${e.a} of ${e.b} weight rows installed in this dtype`;
    case 'QUEUE_OVERRUN':
      return 'the queue ran past the end of its program (missing HALT)';
    case 'LINK_UNCONNECTED':
      return `link ${e.a} is not wired to another chip in this system (single-chip runs wire none)`;
    case 'LINK_BUSY':
      return `link ${e.b} is still serialising the previous message for ${e.a} more cycle(s)`;
    case 'RECV_EMPTY':
      return e.b < 0
        ? `no message has arrived on link ${e.a} (never sent, or already received)`
        : `the next message on link ${e.a} arrives ${e.b} cycle(s) later`;
    case 'LINK_OVERFLOW':
      return `${e.a} messages are in flight on this link; its buffer holds ${e.b}`;
    case 'DEADLOCK':
      return 'every running queue is parked in SYNC and nothing can NOTIFY';
    default:
      if (instructionAt(core, e.queue, e.pc) === 'RECV' && e.b > 0) return `the message on this link has ${e.b} vector(s); RECV asked for ${e.a}`;
      return `bad operand (${e.a}, ${e.b}${e.stream >= 0 ? ', stream ' + s : ''})`;
  }
}

export function instructionAt(core: Core, queue: string, pc: number): string {
  const qp = core.loadedProgram?.queues.find((q) => q.name === queue);
  if (!qp || pc < 0 || pc * INSTRUCTION_BYTES >= qp.code.length) return '(none)';
  const op = qp.code[pc * INSTRUCTION_BYTES];
  return instructionByOpcode(op)?.mnemonic ?? `opcode ${op}`;
}

/** The error as an SfError whose `where` is the instruction's source position. */
export function coreErrorToSfError(core: Core, e: CoreError): SfError {
  // an overrun's pc is one past the end: point at the queue's last instruction instead
  const src = core.sourceOf(e.queue, e.pc) ?? (e.name === 'QUEUE_OVERRUN' ? core.sourceOf(e.queue, e.pc - 1) : null);
  const file = placeName(core.loadedProgram?.source ?? 'program');
  const where = src ? `${file}:${src.line}:${src.col}` : file;
  const q = core.plan.queueByName.get(e.queue);
  const slice = q ? `${q.slice.name} (position ${q.position})` : '?';
  const doc = ERRORS.find((x) => x.code === e.code);
  return new SfError(
    `${doc?.name ?? 'ERROR'} at cycle ${e.cycle}, slice ${slice}, queue ${e.queue}, instruction ${instructionAt(core, e.queue, e.pc)} (#${e.pc}): ${detail(core, e)}`,
    where,
  );
}
