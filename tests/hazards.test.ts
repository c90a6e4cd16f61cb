// One test per hazard/error class of the ISA table (ERRORS): a program that commits exactly that
// hazard stops with exactly that error, on the right cycle, in the right queue, naming the source
// line of the offending instruction; the formatted message starts with file:line:col. Hazards
// marked "checked" are reported only in checked mode (`--check`); the others always.
//
// tiny: positions MXM.W 0, SXM.W/C2C.0-1 1, MEM.W3 2, MEM.W2 3, MEM.W1 4, MEM.W0 5, VXM 6,
// MEM.E0 7, MEM.E1 8, MEM.E2 9, MEM.E3 10, SXM.E/C2C.2-3 11, MXM.E 12. memRead 1, vxmLarge 2.
import { describe, expect, it } from 'vitest';
import type { Core, CoreError } from '../src/chip/core.js';
import { coreErrorToSfError } from '../src/chip/errors.js';
import { ERRORS, STOP } from '../src/isa/table.js';
import { chip, errorLine, lineOf, loadAsm, Sched, type RunOptions } from './helpers/run.js';

const TINY = chip('tiny');
const S = TINY.streamsPerDirection;
const L = TINY.lanes;
const FILE = 'hz.sfa';

interface Case {
  title: string;
  src: string;
  /** Text on the offending instruction's line (its mnemonic's position is the debug line);
   * several: any of them is acceptable. */
  line: string | string[];
  /** Which occurrence of `line` (default 0). */
  nth?: number;
  want: Partial<CoreError> & { cycle: number; queue: string };
  /** A regular expression the message (after file:line:col: NAME at cycle ...) must match. */
  msg?: RegExp;
  /** Prepares the core before the run (e.g. connects a link). */
  setup?: (core: Core) => void;
  /** Reported even without --check (an emulator limit rather than a schedule check). */
  always?: boolean;
}

async function run(c: Case, opts: RunOptions = {}): Promise<Core> {
  const core = await loadAsm(c.src, { file: FILE, ...opts });
  c.setup?.(core);
  core.run();
  return core;
}

async function expectHazard(name: string, c: Case): Promise<void> {
  const core = await run(c);
  const e = core.error();
  expect(e, `${c.title}: expected ${name}, the run ${core.halted ? 'halted' : 'stopped'} without an error`).not.toBeNull();
  expect(e!.name, `${c.title}: ${errorLine(core)}`).toBe(name);
  expect(e).toMatchObject(c.want);
  expect(core.stopReason & STOP.ERROR).toBe(STOP.ERROR);
  expect(core.cycle, 'the core stops on the error cycle').toBe(c.want.cycle);
  const ats = (Array.isArray(c.line) ? c.line : [c.line]).map((l) => lineOf(c.src, l, c.nth));
  const prog = core.loadedProgram!.queues.find((q) => q.name === e!.queue)!;
  // the error's pc is the offending instruction's (for QUEUE_OVERRUN it is one past the end)
  if (e!.pc < prog.lines.length) expect(ats, `${c.title}: source line`).toContainEqual(core.sourceOf(e!.queue, e!.pc));
  const message = coreErrorToSfError(core, e!).message;
  const q = core.plan.queueByName.get(c.want.queue)!;
  const rest = `: ${name} at cycle ${c.want.cycle}, slice ${q.slice.name} (position ${q.position}), queue ${c.want.queue}, `;
  const ok = ats.some((at) => message.startsWith(`${FILE}:${at.line}:${at.col}${rest}`));
  expect(ok, `"${message}" should start with ${ats.map((at) => `${FILE}:${at.line}:${at.col}`).join(' or ')}${rest}`).toBe(true);
  expect(message).not.toContain('\n');
  if (c.msg) expect(message).toMatch(c.msg);
  // a stopped core stays stopped: running again reports the same error and does not advance
  expect(core.run()).toBe(STOP.ERROR);
  expect(core.cycle).toBe(c.want.cycle);
  expect(core.error()).toEqual(e);
}

// ---- the hazard programs ----------------------------------------------------------------------

const COPY = (writeAt: number) => `
.tensor x int8[32] @ MEM.W0:0 = range(0)
.tensor z int8[32] @ MEM.E0:0
.queue MEM.W0
  READ x, E0          ; on E0 at 5 on 1, at MEM.E0 (7) on 3
  HALT
.queue MEM.E0
  @${writeAt} WRITE z, E0
  HALT
`;

/** A C2C sender: x rows from MEM.E3 (10) onto E0, at the link (11) from cycle 2 on. */
const SENDS = (rows: number, sends: string, reads = `  READ x[0], E0${rows > 1 ? `\n  REPEAT ${rows - 1}, 1` : ''}`) => `
.tensor x int8[${rows},32] @ MEM.E3:0 = range(0)
.queue MEM.E3
${reads}
  HALT
.queue C2C.2
${sends}
  HALT
`;

function partialWeights(): string {
  // 31 of the 32 int8 rows: READ from MEM.W3 (2) on cycles 0..30, at MXM.W (0) on 3..33
  const s = new Sched();
  s.tensor('w', 'int8', [L, L], 'MEM.W3:0');
  s.feed('w', 0, { pos: 0, cycle: 3, stream: 'W0' }, { repeat: [30, 1] });
  s.at('MXM.W0', 3, 'IW.int8 0, W0', [30, 1]);
  s.at('MXM.W0', 40, 'MM.int8 W4, E0');
  return s.text();
}

function wrongDtype(): string {
  const s = new Sched();
  s.tensor('w', 'int8', [L, L], 'MEM.W3:0');
  s.feed('w', 0, { pos: 0, cycle: 3, stream: 'W0' }, { repeat: [31, 1] });
  s.at('MXM.W0', 3, 'IW.int8 0, W0', [31, 1]);
  s.at('MXM.W0', 40, 'MM.fp16 W4, E0');
  return s.text();
}

function permOutOfRange(): string {
  const s = new Sched();
  const idx = Array.from({ length: L }, (_, i) => (i === 5 ? L : L - 1 - i));
  s.tensor('x', 'int8', [1, L], 'MEM.E3:0', Array.from({ length: L }, (_, i) => i));
  s.tensor('idx', 'int16', [1, L], 'MEM.E1:0', idx);
  s.feed('x', 0, { pos: 11, cycle: 5, stream: 'E0' });
  s.feed('idx', 0, { pos: 11, cycle: 5, stream: 'E4' });
  s.at('SXM.E', 5, 'PERM.int8 W0, E0, E4');
  return s.text();
}

const HAZARDS: Record<string, Case[]> = {
  STREAM_EMPTY: [
    {
      title: 'read one cycle too early',
      src: COPY(2),
      line: 'WRITE z, E0',
      want: { cycle: 2, queue: 'MEM.E0', stream: 0, a: -1 },
      msg: /stream E0 holds nothing at this slice on this cycle/,
    },
    {
      title: 'read one cycle too late (the value has gone)',
      src: COPY(4),
      line: 'WRITE z, E0',
      want: { cycle: 4, queue: 'MEM.E0', stream: 0, a: -1 },
    },
    {
      // EXP at the VXM (6) on 3 puts E0, E1 there on 5; MEM.W0 (5) is upstream of it on an
      // eastward stream: on 4 it sees that flight, written downstream, not yet here (never will be)
      title: 'read at a position upstream of the writer',
      src: `
.tensor x fp16[32] @ MEM.W1:0 = range(0)
.tensor y fp16[32] @ MEM.W0:0
.queue MEM.W1
  READ x, E4          ; E4, E5 at 4 on 1, at the VXM (6) on 3
  HALT
.queue VXM.0
  @3 EXP.fp16 E0, E4  ; E0, E1 at 6 on 5: flight 5 - 6 = -1
  HALT
.queue MEM.W0
  @4 WRITE y, E0      ; at 5 on 4: flight -1, but its writer is at 6
  HALT
`,
      line: 'WRITE y, E0',
      want: { cycle: 4, queue: 'MEM.W0', stream: 0, a: 6 },
      msg: /stream E0 holds a value written at position 6, downstream of this slice/,
    },
    {
      title: 'a stream never written',
      src: COPY(3).replace('READ x, E0', 'READ x, E1'),
      line: 'WRITE z, E0',
      want: { cycle: 3, queue: 'MEM.E0', stream: 0, a: -1 },
    },
  ],
  STREAM_COLLISION: [
    {
      // five writers at positions 2..6 on one flight of E0 (w = -1): segments are legal, but the
      // emulator keeps four per flight, and says so rather than dropping one
      title: 'more segments on one flight than the emulator keeps',
      always: true,
      src: `
.tensor x int8[32] @ MEM.W3:0
.tensor y int8[32] @ MEM.W2:0
.tensor z int8[32] @ MEM.W1:0
.tensor u int8[32] @ MEM.W0:0
.queue MEM.W3
  @0 READ x, E0
  HALT
.queue MEM.W2
  @1 READ y, E0
  HALT
.queue MEM.W1
  @1 READ z, E1             ; the NEG's operand: at the VXM (6) on 4
  @2 READ z, E0
  HALT
.queue MEM.W0
  @3 READ u, E0
  HALT
.queue VXM.0
  @4 NEG.int8 E0, E1
  HALT
`,
      line: 'NEG.int8',
      want: { cycle: 4, queue: 'VXM.0', stream: 0, a: -1, b: 4 },
      msg: /more than 4 values on one flight of stream E0/,
    },
    {
      // two VXM ALUs writing the same stream at the same position and cycle
      title: 'two ALUs write one stream on one cycle',
      src: `
.tensor x int8[32] @ MEM.W0:0
.queue MEM.W0
  READ x, E4
  HALT
.queue VXM.1
  @2 NEG.int8 W0, E4
  HALT
.queue VXM.2
  @2 ABS.int8 W0, E4
  HALT
`,
      line: 'ABS.int8',
      want: { cycle: 2, queue: 'VXM.2', stream: S, a: 6 },
      msg: /already carries a value written at this position \(6\) by VXM\.1 on the same flight/,
    },
  ],
  MEM_PORT: [
    {
      // a 2-wide WRITE on 3 uses both ports on 4; a READ on 4 needs a third
      title: 'a WRITE on t and a READ on t + 1 in one slice',
      src: `
.tensor x int16[32] @ MEM.W0:0
.tensor t int16[32] @ MEM.E0:0
.queue MEM.W0
  READ x, E0
  HALT
.queue MEM.E0
  @3 WRITE t, E0
  READ t, E2
  HALT
`,
      line: 'READ t, E2',
      want: { cycle: 4, queue: 'MEM.E0', a: 4, b: 2 },
      msg: /4 vector accesses on one cycle; the slice has 2 ports/,
    },
    {
      title: 'a 4-wide READ on a 2-port slice',
      src: `
.tensor x fp32[32] @ MEM.W0:0
.queue MEM.W0
  @1 READ x, E0
  HALT
`,
      line: 'READ x, E0',
      want: { cycle: 1, queue: 'MEM.W0', a: 4, b: 2 },
    },
  ],
  SRAM_RANGE: [
    {
      title: 'an address past the slice',
      src: '.queue MEM.W0\n  @2 READ 256, E0\n  HALT\n',
      line: 'READ 256',
      want: { cycle: 2, queue: 'MEM.W0', a: 256, b: 1 },
      msg: /address 256 \(\+1 planes\) is outside the slice \(0\.\.255\)/,
    },
    {
      title: 'a REPEAT stepping past the slice',
      src: '.queue MEM.E2\n  @2 READ 250, E0, 1, +2\n  REPEAT 5, 1\n  HALT\n',
      line: 'READ 250',
      want: { cycle: 5, queue: 'MEM.E2', a: 256, b: 1 },
    },
    {
      title: 'a group running past the slice',
      src: '.queue MEM.W3\n  WRITE 255, E0, 2\n  HALT\n',
      line: 'WRITE 255',
      want: { cycle: 0, queue: 'MEM.W3', a: 255, b: 2 },
    },
    {
      // GATHER row index 300 of a 1-plane table at 0: address 300
      title: 'a GATHER index past the slice',
      src: `
.tensor idx int16[32] @ MEM.W0:0 = range(270)
.queue MEM.W0
  READ idx, E0
  HALT
.queue MEM.E0
  @3 GATHER 0, E0, E2
  HALT
`,
      line: 'GATHER',
      want: { cycle: 3, queue: 'MEM.E0', a: 270, b: 1 },
    },
  ],
  MXM_NO_WEIGHTS: [
    {
      title: 'MM on a plane with no weights',
      src: '.queue MXM.W0\n  @2 MM.int8 W0, E0\n  HALT\n',
      line: 'MM.int8',
      want: { cycle: 2, queue: 'MXM.W0', a: 0, b: 32 },
      msg: /plane has 0 of 32 weight rows installed/,
    },
    {
      title: 'MM with 31 of 32 rows installed',
      src: partialWeights(),
      line: 'MM.int8',
      want: { cycle: 40, queue: 'MXM.W0', a: 31, b: 32 },
    },
    {
      title: 'MM in another dtype than installed',
      src: wrongDtype(),
      line: 'MM.fp16',
      want: { cycle: 40, queue: 'MXM.W0', b: 16 },
    },
  ],
  QUEUE_OVERRUN: [
    {
      // the queue's last instruction is the NOP; on cycle 3 it has nothing left and no HALT.
      // The message should point at the queue's last instruction (or its .queue line).
      title: 'a queue without HALT',
      src: '.queue MEM.W0\n  NOP 3\n.queue MEM.E0\n  @5 HALT\n',
      line: ['NOP 3', '.queue MEM.W0'],
      want: { cycle: 3, queue: 'MEM.W0' },
      msg: /ran past the end of its program/,
    },
  ],
  DEADLOCK: [
    {
      // MEM.W0 parks on 0; MEM.E0 halts on 5; on 6 nothing can ever NOTIFY
      title: 'SYNC with no NOTIFY',
      src: '.queue MEM.W0\n  SYNC\n  HALT\n.queue MEM.E0\n  @5 HALT\n',
      line: 'SYNC',
      want: { cycle: 6, queue: 'MEM.W0', pc: 0 },
      msg: /every running queue is parked in SYNC/,
    },
    {
      // a NOTIFY before the SYNC does not wake it
      title: 'a NOTIFY that comes before the SYNC',
      src: '.queue MEM.W0\n  @3 SYNC\n  HALT\n.queue VXM.0\n  @2 NOTIFY\n  HALT\n',
      line: 'SYNC',
      want: { cycle: 4, queue: 'MEM.W0' },
    },
  ],
  BAD_OPERAND: [
    {
      title: 'a PERM index outside the lanes',
      src: permOutOfRange(),
      line: 'PERM.int8',
      want: { cycle: 5, queue: 'SXM.E', stream: 4, a: 5, b: L },
      msg: /bad operand \(5, 32, stream E4\)/,
    },
    {
      // a raw VXM record in a MEM queue: the unit cannot execute it
      title: 'an instruction of another unit',
      src: '.queue MEM.W0\n  .raw "20000000000000000000000000000000"\n  HALT\n',
      line: '.raw',
      want: { cycle: 0, queue: 'MEM.W0', a: 0x20 },
    },
    {
      // READ onto a stream id past the westward streams
      title: 'a stream id the chip does not have',
      src: `.queue MEM.W0\n  NOP 1\n  .raw "10001000000100000000000000000000"\n  HALT\n`,
      line: '.raw',
      want: { cycle: 1, queue: 'MEM.W0', stream: 16 },
    },
  ],
  LINK_UNCONNECTED: [
    {
      title: 'SEND on a link no chip is wired to',
      src: SENDS(1, '  @2 SEND E0'),
      line: 'SEND E0',
      want: { cycle: 2, queue: 'C2C.2', a: 2 },
    },
  ],
  LINK_BUSY: [
    {
      // one vector keeps the link busy c2cVectorCycles (4) cycles: 2 .. 5
      title: 'SEND while the link serialises the previous message',
      src: SENDS(2, '  @2 SEND E0\n  SEND E0'),
      line: 'SEND E0',
      nth: 1,
      want: { cycle: 3, queue: 'C2C.2', a: 3, b: 2 },
      setup: (core) => core.setLinkConnected(2, true),
    },
  ],
  RECV_EMPTY: [
    {
      title: 'RECV with nothing sent',
      src: '.queue C2C.3\n  @7 RECV W0\n  HALT\n',
      line: 'RECV',
      want: { cycle: 7, queue: 'C2C.3', a: 3 },
    },
    {
      title: 'RECV one cycle before the message arrives',
      src: '.queue C2C.2\n  @25 RECV W0\n  HALT\n',
      line: 'RECV',
      want: { cycle: 25, queue: 'C2C.2', a: 2, b: 1 },
      setup: (core) => core.deliver(2, [{ arrival: 26, width: 1, payload: new Uint8Array(L) }]),
    },
  ],
  LINK_OVERFLOW: [
    {
      // 17 one-vector messages, 4 cycles apart, nobody taking the outbox (it holds 16)
      title: 'more messages than the link buffer holds',
      src: SENDS(17, '  @2 SEND E0\n  REPEAT 16, 4', '  READ x[0], E0\n  REPEAT 16, 4'),
      line: 'SEND E0',
      want: { cycle: 2 + 16 * 4, queue: 'C2C.2', a: 16, b: 16 },
      setup: (core) => core.setLinkConnected(2, true),
    },
  ],
};

describe('hazards', () => {
  it('every error class in the ISA table has a test', () => {
    const missing = ERRORS.map((e) => e.name).filter((n) => !HAZARDS[n]?.length);
    expect(missing, 'error classes without a test').toEqual([]);
    const stale = Object.keys(HAZARDS).filter((n) => !ERRORS.some((e) => e.name === n));
    expect(stale, 'tests for error classes no longer in the table').toEqual([]);
  });

  for (const e of ERRORS) {
    describe(`${e.name} (code ${e.code}, ${e.checked ? 'checked' : 'always'})`, () => {
      const cases = HAZARDS[e.name] ?? [];
      if (!cases.length) it('has a test', () => expect.fail(`no hazard test for ${e.name}`));
      for (const c of cases) {
        it(c.title, async () => {
          await expectHazard(e.name, c);
          const core = await run(c);
          expect(core.error()!.code).toBe(e.code);
        });
      }
      it(e.checked ? 'is not reported without --check: the run completes' : 'is reported without --check too', async () => {
        for (const c of cases) {
          const core = await run(c, { checked: false });
          if (e.checked && !c.always) {
            expect(errorLine(core), c.title).toBeNull();
            expect(core.halted, c.title).toBe(true);
          } else {
            expect(core.error(), c.title).toMatchObject({ name: e.name, ...c.want });
          }
        }
      });
    });
  }

  it('an unchecked run of a checked hazard still counts its cycles', async () => {
    const core = await run(HAZARDS.STREAM_EMPTY![0]!, { checked: false });
    expect(core.halted).toBe(true);
    expect(core.programCycles).toBe(3 + TINY.superlanes - 1);
  });

  it('the first error wins: a later hazard in the same run is not reported', async () => {
    // too-early WRITE on 2 (STREAM_EMPTY) and an SRAM_RANGE READ on 4
    const src = COPY(2).replace('.queue MEM.E0', '.queue MEM.W3\n  @4 READ 999, E0\n  HALT\n.queue MEM.E0');
    const core = await loadAsm(src);
    core.run();
    expect(core.error()).toMatchObject({ name: 'STREAM_EMPTY', cycle: 2 });
    const unchecked = await loadAsm(src, { checked: false });
    unchecked.run();
    expect(unchecked.error()).toMatchObject({ name: 'SRAM_RANGE', cycle: 4, queue: 'MEM.W3' });
  });

  it('timing-only cores report the same schedule hazards', async () => {
    for (const [name, cases] of Object.entries(HAZARDS)) {
      for (const c of cases) {
        if (name === 'BAD_OPERAND' && c.title.startsWith('a PERM')) continue; // needs the index data
        if (name === 'SRAM_RANGE' && c.title.startsWith('a GATHER')) continue; // needs the index data
        const core = await run(c, { functional: false });
        expect(core.error(), `${name}: ${c.title}`).toMatchObject({ name, ...c.want });
      }
    }
  });
});
