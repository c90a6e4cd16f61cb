// The host Core and the Wasm core as a machine: determinism and the state hash, snapshot/restore,
// stepping, breakpoints of every kind, cycle limits, timing-only mode, the issue-cycle function
// shared with the ISA table, and a full-size tsp-v1 core.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Program } from '../src/asm/program.js';
import { Core, type Breakpoint, type BreakpointKind } from '../src/chip/core.js';
import { loadCoreWasm } from '../src/chip/wasm-node.js';
import { floorplan } from '../src/chip/floorplan.js';
import { DTYPES } from '../src/isa/dtypes.js';
import { BREAKPOINTS, INSTRUCTIONS, STOP, issueCycles } from '../src/isa/table.js';
import { asm, chip, errorLine, expectHalted, loadAsm, runAsm } from './helpers/run.js';

const TINY = chip('tiny');

/**
 * A program that uses every unit on tiny: a + b (fp16) at VXM.0, chained into EXP at VXM.1, the
 * result written at MEM.E0 and reduced at SXM.E (segments of 8) into r; an int8 weight set
 * installed two rows a cycle and one MM whose int32 result is written at MEM.E1/E2.
 */
const MIXED = `
.tensor a fp16[4,32] @ MEM.W0:0 = random(1, -2, 2)
.tensor b fp16[4,32] @ MEM.W1:0 = random(2, -2, 2)
.tensor s fp16[4,32] @ MEM.E0:0
.tensor r fp16[4,32] @ MEM.E3:8
.tensor w int8[32,32] @ MEM.W3:0 = random(3)
.tensor x int8[32] @ MEM.W2:0 = random(4)
.tensor y int32[32] @ MEM.E1:0, MEM.E2:0
.queue MEM.W1
  @0 READ b[0], E2          ; at 4 on 1, at the VXM (6) on 3
  REPEAT 3, 1
  HALT
.queue MEM.W0
  @1 READ a[0], E0          ; at 5 on 2, at 6 on 3
  REPEAT 3, 1
  HALT
.queue VXM.0
  @3 ADD.fp16 E4, E0, E2    ; E4 at 6 on 4
  REPEAT 3, 1
  HALT
.queue VXM.1
  @4 EXP.fp16 E6, E4        ; chained at 6 on 4; E6 at 6 on 6, MEM.E0 (7) on 7, SXM.E (11) on 11
  REPEAT 3, 1
  HALT
.queue MEM.E0
  @7 WRITE s[0], E6
  REPEAT 3, 1
  HALT
.queue SXM.E
  @11 RSUM.fp16 W0, E6, 8   ; W0 at 11 on 13, at MEM.E3 (10) on 14
  REPEAT 3, 1
  HALT
.queue MEM.E3
  @14 WRITE r[0], W0
  REPEAT 3, 1
  HALT
.queue MEM.W3
  @0 READ w[0], W4, 2, +2   ; two rows a cycle, at MXM.W (0) on 3 .. 18
  REPEAT 15, 1
  HALT
.queue MEM.W2
  @16 READ x, W6            ; at 0 on 20
  HALT
.queue MXM.W0
  @3 IW.int8 0, W4, 2
  REPEAT 15, 1
  @20 MM.int8 W6, E0        ; E0..E3 at 0 on 23, MEM.E1 (8) on 31, MEM.E2 (9) on 32
  HALT
.queue MEM.E1
  @31 WRITE y, E0
  HALT
.queue MEM.E2
  @32 WRITE y, E2
  HALT
`;
const MIXED_CYCLES = 33 + TINY.superlanes - 1; // MEM.E2 halts on 33

/** A program with SYNC/NOTIFY, NOPs and an MM in fp16 (2 issue cycles). */
const SYNCED = `
.tensor w fp16[16,32] @ MEM.E3:0 = random(5, -1, 1)
.tensor x fp16[32] @ MEM.E2:0 = random(6, -1, 1)
.tensor y fp32[32] @ MEM.W0:0, MEM.W1:0
.queue MEM.E3
  SYNC
  READ w[0], E0             ; at 10 on +1, at MXM.E (12) on +3
  REPEAT 15, 1
  HALT
.queue VXM.3
  NOP 5
  NOTIFY                    ; on 5: MEM.E3 reads from 6, rows at the plane on 9 .. 24
  HALT
.queue MXM.E0
  @9 IW.fp16 0, E0
  REPEAT 15, 1
  @25 MM.fp16 E2, W0        ; W0..W3 at 12 on 28, MEM.W0 (5) on 35, MEM.W1 (4) on 36
  HALT
.queue MEM.E2
  @21 READ x, E2            ; at 9 on 22, at 12 on 25
  HALT
.queue MEM.W0
  @35 WRITE y, W0
  HALT
.queue MEM.W1
  @36 WRITE y, W2
  HALT
`;

async function fresh(src = MIXED, opts: Parameters<typeof loadAsm>[1] = {}): Promise<Core> {
  return loadAsm(src, opts);
}

function withByteFlipped(p: Program, tensor: string, byte: number): Program {
  const tensors = p.tensors.map((t) => (t.name === tensor ? { ...t, data: t.data!.slice() } : t));
  const t = tensors.find((x) => x.name === tensor)!;
  t.data![byte]! ^= 1;
  return { ...p, tensors };
}

describe('determinism and the state hash', () => {
  it('the test programs run clean, with hand-counted cycles', async () => {
    const m = await runAsm(MIXED);
    expectHalted(m);
    expect(m.programCycles).toBe(MIXED_CYCLES);
    const s = await runAsm(SYNCED);
    expectHalted(s);
    expect(s.programCycles).toBe(37 + TINY.superlanes - 1);
  });

  it('same program: same cycles and hash, in one core after reset and in two fresh cores', async () => {
    for (const src of [MIXED, SYNCED]) {
      const a = await fresh(src);
      a.run();
      expectHalted(a);
      const h = a.hash();
      const cycles = a.programCycles;
      a.reset();
      expect(a.cycle).toBe(0);
      a.run();
      expect(a.programCycles).toBe(cycles);
      expect(a.hash()).toBe(h);
      const b = await fresh(src);
      const c = await fresh(src);
      b.run();
      c.run();
      expect([b.programCycles, c.programCycles]).toEqual([cycles, cycles]);
      expect([b.hash(), c.hash()]).toEqual([h, h]);
      const out = a.loadedProgram!.tensors.at(-1)!.name;
      expect(b.readTensorBytes(out)).toEqual(a.readTensorBytes(out));
    }
  });

  it('reset returns to the power-on state: the hash equals a fresh core\'s before and after running', async () => {
    const a = await fresh();
    const b = await fresh();
    expect(a.hash()).toBe(b.hash());
    a.run();
    a.reset();
    expect(a.hash(), 'hash after run + reset vs a freshly loaded core').toBe(b.hash());
  });

  it('a core that ran another program gives the same hash as a fresh core', async () => {
    const a = await fresh(MIXED);
    a.run();
    a.load(asm(SYNCED));
    const b = await fresh(SYNCED);
    expect(a.hash(), 'after load, before running').toBe(b.hash());
    a.run();
    b.run();
    expect(a.programCycles).toBe(b.programCycles);
    expect(a.hash(), 'after running').toBe(b.hash());
  });

  it('the hash changes when one input byte changes', async () => {
    const p = asm(MIXED);
    const base = await fresh();
    const h0 = base.hash();
    base.run();
    const h1 = base.hash();
    const seen = new Set([h1]);
    for (const [tensor, byte] of [['a', 0], ['a', 255], ['b', 17], ['w', 1023], ['x', 31]] as const) {
      const c = await Core.create(TINY, loadCoreWasm(), { checked: true });
      c.load(withByteFlipped(p, tensor, byte));
      expect(c.hash(), `${tensor}[${byte}] flipped, before running`).not.toBe(h0);
      c.run();
      expectHalted(c);
      expect(c.programCycles).toBe(MIXED_CYCLES);
      const h = c.hash();
      expect(seen.has(h), `${tensor}[${byte}] flipped, after running`).toBe(false);
      seen.add(h);
    }
  });

  it('the hash leaves out what only the debugger and the checker see', async () => {
    const plain = await runAsm(MIXED, { checked: false });
    for (const opts of [{ checked: true }, { traceCapacity: 64 }, { trackDirty: true }]) {
      const c = await runAsm(MIXED, { checked: false, ...opts });
      expectHalted(c);
      expect(c.hash(), JSON.stringify(opts)).toBe(plain.hash());
    }
  });

  it('the hash covers the cycle and the queues, not only memory', async () => {
    const c = await fresh();
    const h = [c.hash()];
    for (const n of [1, 1, 5]) {
      c.step(n);
      h.push(c.hash());
    }
    expect(new Set(h).size).toBe(h.length);
  });
});

describe('snapshot, restore and stepping', () => {
  it('snapshot at cycle N, run on, restore, run on again: the same hash', async () => {
    const ref = await fresh();
    ref.run();
    const final = ref.hash();
    for (const n of [0, 1, 7, 20, 31]) {
      const c = await fresh();
      expect(c.run(n)).toBe(STOP.CYCLE_LIMIT);
      expect(c.cycle).toBe(n);
      const hN = c.hash();
      const snap = c.snapshot();
      c.run();
      expectHalted(c);
      expect(c.hash()).toBe(final);
      c.restore(snap);
      expect(c.cycle).toBe(n);
      expect(c.hash()).toBe(hN);
      c.run();
      expectHalted(c);
      expect(c.hash(), `restored at ${n}`).toBe(final);
      expect(c.programCycles).toBe(MIXED_CYCLES);
      // and into another core with the same program
      const d = await fresh();
      d.restore(snap);
      expect(d.hash()).toBe(hN);
      d.run();
      expect(d.hash()).toBe(final);
      expect(d.readTensorBytes('y')).toEqual(ref.readTensorBytes('y'));
    }
  });

  it('a snapshot taken after an error restores to before it', async () => {
    const c = await fresh(MIXED.replace('@14 WRITE r[0], W0', '@15 WRITE r[0], W0'));
    c.run(10);
    const snap = c.snapshot();
    c.run();
    expect(c.error()).toMatchObject({ name: 'STREAM_EMPTY', cycle: 18 });
    c.restore(snap);
    expect(c.error()).toBeNull();
    expect(c.run()).toBe(STOP.ERROR);
    expect(c.error()).toMatchObject({ name: 'STREAM_EMPTY', cycle: 18 });
  });

  it('stepping one cycle at a time gives the same final hash and cycle count as one run', async () => {
    for (const src of [MIXED, SYNCED]) {
      const ref = await fresh(src);
      ref.run();
      const c = await fresh(src);
      let steps = 0;
      while (!c.halted && !c.error()) {
        const before = c.cycle;
        const r = c.step(1);
        steps++;
        if (!(r & STOP.HALT)) {
          expect(r).toBe(STOP.CYCLE_LIMIT);
          expect(c.cycle).toBe(before + 1);
        }
        expect(steps).toBeLessThan(1000);
      }
      expectHalted(c);
      expect(c.programCycles).toBe(ref.programCycles);
      expect(c.cycle).toBe(ref.cycle);
      expect(c.hash()).toBe(ref.hash());
      expect(c.instructionsIssued).toBe(ref.instructionsIssued);
    }
  });

  it('a cycle limit stops with CYCLE_LIMIT at exactly that cycle, also between issues', async () => {
    for (const limit of [1, 3, 25, 32]) {
      const c = await fresh();
      expect(c.run(limit)).toBe(STOP.CYCLE_LIMIT);
      expect(c.stopReason).toBe(STOP.CYCLE_LIMIT);
      expect(c.cycle).toBe(limit);
      expect(c.halted).toBe(false);
      // nothing of cycle `limit` has run: the queues due then are still pending
      const due = c.queueStats().filter((q) => q.status === 1);
      expect(due.length).toBeGreaterThan(0);
      c.run();
      expectHalted(c);
      expect(c.programCycles).toBe(MIXED_CYCLES);
    }
    // a limit past the end: the run halts first
    const c = await fresh();
    expect(c.run(1000)).toBe(STOP.HALT);
    // step() after the halt stays halted
    expect(c.step(1) & STOP.HALT).toBe(STOP.HALT);
  });
});

describe('breakpoints', () => {
  const qid = (name: string) => floorplan(TINY).queueByName.get(name)!.id;

  /** Runs to the end, collecting (cycle, breakpoint index) at every breakpoint stop. */
  async function stops(bps: Breakpoint[], src = MIXED): Promise<{ core: Core; at: [number, number][] }> {
    const c = await fresh(src);
    c.setBreakpoints(bps);
    const at: [number, number][] = [];
    for (let i = 0; i < 100; i++) {
      const r = c.run();
      if (r & STOP.BREAKPOINT) {
        expect(c.stopReason).toBe(STOP.BREAKPOINT);
        at.push([c.cycle, c.breakpointHit]);
        continue;
      }
      break;
    }
    expectHalted(c);
    return { core: c, at };
  }

  const ref = { hash: '', cycles: 0 };

  /** Each kind: the stops it must produce on MIXED, and a check of the state at the first stop. */
  const CASES: Record<BreakpointKind, { bp: () => Breakpoint; at: number[]; check?: (c: Core) => void }> = {
    CYCLE: { bp: () => ({ kind: 'CYCLE', a: 10 }), at: [10] },
    // VXM.1: pc 0 is the @4 NOP, pc 1 the EXP, issued on 4 (its repeats are the same pc)
    QUEUE_PC: { bp: () => ({ kind: 'QUEUE_PC', a: qid('VXM.1'), b: 1 }), at: [4, 5, 6, 7] },
    OPCODE: { bp: () => ({ kind: 'OPCODE', a: INSTRUCTIONS.find((i) => i.mnemonic === 'MM')!.opcode }), at: [20] },
    // RSUM writes W0 on 11..14 (results at 13..16): the run stops after each of those cycles
    STREAM_WRITE: { bp: () => ({ kind: 'STREAM_WRITE', a: TINY.streamsPerDirection }), at: [12, 13, 14, 15] },
    // s[1] is MEM.E0 (SRAM slice 4) addresses 2, 3, written by the repeat on 8
    SRAM_WRITE: { bp: () => ({ kind: 'SRAM_WRITE', a: 4, b: 2, c: 1 }), at: [9] },
  };

  it('every breakpoint kind in the table has a test', () => {
    expect(BREAKPOINTS.map((b) => b.name).filter((n) => !(n in CASES))).toEqual([]);
  });

  for (const kind of BREAKPOINTS.map((b) => b.name)) {
    it(`${kind}: stops at the right cycles; resuming ends as an uninterrupted run`, async () => {
      if (!ref.hash) {
        const r = await fresh();
        r.run();
        ref.hash = r.hash();
        ref.cycles = r.programCycles;
      }
      const k = CASES[kind];
      if (!k) throw new Error(`no breakpoint test for ${kind}`);
      const { core, at } = await stops([k.bp()]);
      expect(at).toEqual(k.at.map((c) => [c, 0]));
      expect(core.hash()).toBe(ref.hash);
      expect(core.programCycles).toBe(ref.cycles);
    });
  }

  it('the state at a breakpoint is the state before (or just after) the named event', async () => {
    // before cycle 20: the MM has not issued; after SRAM_WRITE on 8: s[1] is written, s[2] not
    const mm = await fresh();
    mm.setBreakpoints([{ kind: 'OPCODE', a: 65 }]);
    mm.run();
    expect(mm.cycle).toBe(20);
    expect(mm.queueStats().find((q) => q.name === 'MXM.W0')!.issued).toBe(1 + 16 + 1); // NOP, IWs, NOP
    const sw = await fresh();
    sw.setBreakpoints([{ kind: 'SRAM_WRITE', a: 4, b: 2, c: 1 }]);
    sw.run();
    const s = sw.readTensor('s').values;
    const done = await runAsm(MIXED);
    const want = done.readTensor('s').values;
    expect(s.slice(32, 64)).toEqual(want.slice(32, 64));
    expect(s.slice(64, 96).every((v) => v === 0)).toBe(true);
  });

  it('several breakpoints: each stop names the one that fired', async () => {
    const { at, core } = await stops([
      { kind: 'CYCLE', a: 25 },
      { kind: 'OPCODE', a: 65 },
      { kind: 'CYCLE', a: 2 },
    ]);
    expect(at).toEqual([[2, 2], [20, 1], [25, 0]]);
    expect(errorLine(core)).toBeNull();
  });

  it('clearing the breakpoints lets the run go to the end', async () => {
    const c = await fresh();
    c.setBreakpoints([{ kind: 'CYCLE', a: 5 }]);
    expect(c.run()).toBe(STOP.BREAKPOINT);
    c.setBreakpoints([]);
    expect(c.run()).toBe(STOP.HALT);
    expect(c.programCycles).toBe(MIXED_CYCLES);
  });
});

describe('timing-only mode', () => {
  const PROGRAMS: Record<string, string> = { MIXED, SYNCED };

  for (const [name, src] of Object.entries(PROGRAMS)) {
    it(`${name}: the same cycles, issues and queue statistics as a functional core`, async () => {
      const f = await runAsm(src);
      const t = await runAsm(src, { functional: false });
      expectHalted(f);
      expectHalted(t);
      expect(t.functional).toBe(false);
      expect(t.programCycles).toBe(f.programCycles);
      expect(t.instructionsIssued).toBe(f.instructionsIssued);
      expect(t.queueStats()).toEqual(f.queueStats());
      expect(t.planeMacs()).toEqual(f.planeMacs());
      // no values: a timing-only core reads back zeros
      expect(t.readTensor(t.loadedProgram!.tensors.at(-1)!.name).values.every((v) => v === 0)).toBe(true);
    });
  }

  it('the shipped vector-add kernel: timing-only cycles equal functional cycles on tsp-v1', async () => {
    const src = readFileSync(new URL('../programs/kernels/vector-add-fp32.sfa', import.meta.url), 'utf8');
    const t = await runAsm(src, { chip: 'tsp-v1', functional: false });
    expectHalted(t);
    expect(t.programCycles).toBe(37);
  });

  it('timing-only runs are deterministic and snapshot like functional ones', async () => {
    const a = await runAsm(MIXED, { functional: false });
    const b = await runAsm(MIXED, { functional: false });
    expect(a.hash()).toBe(b.hash());
    const c = await fresh(MIXED, { functional: false });
    c.run(12);
    const snap = c.snapshot();
    c.run();
    c.restore(snap);
    c.run();
    expect(c.hash()).toBe(a.hash());
  });
});

describe('issue cycles', () => {
  it('the core\'s issueCycles equals the ISA table\'s for every opcode and dtype', async () => {
    const c = await Core.create(TINY, loadCoreWasm());
    const ops = new Set<number>(INSTRUCTIONS.map((i) => i.opcode));
    for (let op = 0; op < 128; op++) ops.add(op);
    let n = 0;
    for (const op of ops) {
      for (const dt of [...DTYPES.map((d) => d.code), 6, 255]) {
        for (const a of [1, 2, 3, 17, 1000, 0x7fffffff]) {
          expect(c.issueCyclesOf(op, dt, a), `op ${op} dtype ${dt} a ${a}`).toBe(issueCycles(op, dt, a));
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(INSTRUCTIONS.length * 6);
    // and they are what the table says in words
    const mm = INSTRUCTIONS.find((i) => i.mnemonic === 'MM')!;
    expect(c.issueCyclesOf(mm.opcode, 0, 0)).toBe(1);
    expect(c.issueCyclesOf(mm.opcode, 3, 0)).toBe(2);
    expect(c.issueCyclesOf(0, 0, 9)).toBe(9); // NOP 9
  });

  it('the core spends exactly the table\'s issue cycles per instruction (queue busy counts)', async () => {
    const c = await runAsm(SYNCED);
    const st = c.queueStats();
    expect(st.find((q) => q.name === 'MXM.E0')!.busy).toBe(16 * 1 + 2); // 16 IWs, one fp16 MM
    expect(st.find((q) => q.name === 'MEM.E3')!.busy).toBe(16);
    expect(st.find((q) => q.name === 'VXM.3')!.busy).toBe(0); // NOP, NOTIFY, HALT occupy no unit
  });
});

describe('tsp-v1', () => {
  it('a tsp-v1 core (220 MiB SRAM) can be created and runs a small program', async () => {
    const tsp = chip('tsp-v1');
    const sram = 2 * tsp.memSlicesPerHemisphere * tsp.memVectorsPerSlice * tsp.lanes;
    expect(sram).toBeGreaterThanOrEqual(220 * 2 ** 20);
    const core = await Core.create(tsp, loadCoreWasm(), { checked: true });
    expect(core.region(11).size).toBe(sram); // REGION.SRAM
    const src = readFileSync(new URL('../programs/kernels/vector-add-fp32.sfa', import.meta.url), 'utf8');
    core.load(asm(src, { chip: 'tsp-v1' }));
    core.run();
    expectHalted(core);
    expect(core.programCycles).toBe(37); // as the kernel's comments count
    const x = core.readTensor('x').values;
    const y = core.readTensor('y').values;
    const z = core.readTensor('z').values;
    expect(z.length).toBe(8 * 320);
    z.forEach((v, i) => {
      if (v !== Math.fround(x[i]! + y[i]!)) throw new Error(`z[${i}] = ${v}, expected ${Math.fround(x[i]! + y[i]!)}`);
    });
    // the outermost MEM slices and the last address: READ at MEM.W43, WRITE at MEM.E43
    const fp = core.plan;
    const hops = fp.queueByName.get('MEM.E43')!.position - fp.queueByName.get('MEM.W43')!.position;
    const far = await runAsm(`
.tensor p int8[320] @ MEM.W43:100 = range(0)
.tensor q int8[320] @ MEM.E43:8191
.queue MEM.W43
  READ p, E0
  HALT
.queue MEM.E43
  @${tsp.delays.memRead + hops * tsp.hopCycles} WRITE q, E0
  HALT
`, { chip: 'tsp-v1' });
    expectHalted(far);
    expect(tsp.memVectorsPerSlice).toBe(8192);
    expect(far.readTensor('q').values.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('stream segments', () => {
  it('one flight carries a value per segment: each reader sees the nearest writer upstream', async () => {
    // E0, flight w = -2: MEM.W1 (position 4) puts x on it on cycle 2, MEM.W0 (5) puts y on it on
    // cycle 3. MEM.W1 itself samples x on 2; the VXM (6) sees y on 4 and negates it.
    const core = await runAsm(`
.tensor x int8[32] @ MEM.W1:0 = range(1)
.tensor y int8[32] @ MEM.W0:0 = range(-40)
.tensor x2 int8[32] @ MEM.W1:1
.tensor z int8[32] @ MEM.E0:0
.output x2 z
.queue MEM.W1
  @1 READ x, E0
  @2 WRITE x2, E0
  HALT
.queue MEM.W0
  @2 READ y, E0
  HALT
.queue VXM.0
  @4 NEG.int8 E1, E0
  HALT
.queue MEM.E0
  @6 WRITE z, E1
  HALT
`);
    expect(errorLine(core)).toBeNull();
    expect(core.readTensor('x2').values).toEqual(Array.from({ length: 32 }, (_, i) => 1 + i));
    expect(core.readTensor('z').values).toEqual(Array.from({ length: 32 }, (_, i) => 40 - i));
  });
});
