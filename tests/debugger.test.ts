// The browser debugger. In Node: the machine's time travel (snapshots with SRAM dirty deltas and
// replay) reaches exactly the states a straight run reaches, and its multi-chip lockstep matches
// `sramflow run`'s system. In a real browser (Debian's chromium driven by playwright-core): the
// page steps, steps back to the same state hash, matches the Node core's hash, stops at
// breakpoints, shows a hazard at its source line, offers a chip selector for multi-chip programs,
// and steps back 5,000 cycles on a tsp-v1 program quickly (the figures go to
// test-artifacts/debugger-perf.json; a screenshot to test-artifacts/debugger.png).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../src/debugger/server.js';
import { buildSession } from '../src/debugger/session.js';
import { Machine } from '../src/debugger/app/machine.js';
import { formatInstruction } from '../src/debugger/app/format.js';
import { ChipInspector } from '../src/debugger/app/inspect.js';
import { Core } from '../src/chip/core.js';
import { loadCoreWasm } from '../src/chip/wasm-node.js';
import { loadProgram } from '../src/cli/program-file.js';
import { runSystem } from '../src/system/system.js';

const root = new URL('..', import.meta.url).pathname;
const CHROMIUM = '/usr/bin/chromium';
const artifacts = join(root, 'test-artifacts');
let tmp: string;

/** A long tsp-v1 program: J pipelines of int8 z = x + y over N rows, one row a cycle each
 * (J reads from two slices each, J adds, J writes: 4J vectors written per ... cycle). */
function longAdd(J: number, N: number): string {
  const L: string[] = [`; long-add: ${J} pipelines x ${N} rows of int8 adds (debugger benchmark)`, '.chip tsp-v1'];
  const A = 4 + 2 * (J - 1);
  for (let j = 0; j < J; j++) {
    L.push(`.tensor x${j} int8[${N},320] @ MEM.W${2 * j + 1}:0 = random(${10 + j})`);
    L.push(`.tensor y${j} int8[${N},320] @ MEM.W${2 * j}:0 = random(${20 + j})`);
    L.push(`.tensor z${j} int8[${N},320] @ MEM.E${j}:0`);
  }
  for (let j = 0; j < J; j++) {
    // MEM.Wi is at position 45 - i, the VXM at 46; memRead 2, vxmAlu 2, hop 1
    L.push(`.queue MEM.W${2 * j + 1}`, `  @${A - 4 - 2 * j} READ x${j}[0], E${2 * j}`, `  REPEAT ${N - 1}, 1`, '  HALT');
    L.push(`.queue MEM.W${2 * j}`, `  @${A - 3 - 2 * j} READ y${j}[0], E${2 * j + 1}`, `  REPEAT ${N - 1}, 1`, '  HALT');
    L.push(`.queue VXM.${j}`, `  @${A} ADD.int8 E${16 + j}, E${2 * j}, E${2 * j + 1}`, `  REPEAT ${N - 1}, 1`, '  HALT');
    L.push(`.queue MEM.E${j}`, `  @${A + 3 + j} WRITE z${j}[0], E${16 + j}`, `  REPEAT ${N - 1}, 1`, '  HALT');
  }
  return L.join('\n') + '\n';
}

/** Four tiny chips in a ring (link 0 to the next chip, arriving on its link 2). */
const RING4 = `; ring-4: each tiny chip passes its x to the next chip and stores what it receives
.system tiny-4
.chip tiny
.program all
.tensor x int8[1,32] @ MEM.W3:0 = random(\${chip})
.tensor y int8[1,32] @ MEM.E3:0
.output y
.queue MEM.W3
  @0 READ x, W0
     HALT
.queue C2C.0
  @2 SEND W0
     HALT
.queue C2C.2
  @26 RECV W0
     HALT
.queue MEM.E3
  @28 WRITE y, W0
     HALT
`;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sramflow-debugger-'));
  mkdirSync(artifacts, { recursive: true });
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---- the machine, in Node ----------------------------------------------------------------

describe('debugger machine (Node)', () => {
  it('travels to any cycle and reaches the state a straight run reaches (gemv-int8)', async () => {
    const { program, chip } = loadProgram('programs/kernels/gemv-int8.sfa');
    const m = await Machine.create({ chip, programs: [program], chipProgram: [0] }, loadCoreWasm());
    m.interval = 8;
    const hashes: string[] = [m.hash()];
    while (m.stop.kind !== 'halted') {
      m.advance(m.cycle + 1);
      hashes[m.cycle] = m.hash();
    }
    expect(m.cycle).toBe(85);
    const ref = await Core.create(chip, loadCoreWasm(), { checked: true });
    ref.load(program);
    for (const n of [1, 38, 61, 85]) {
      ref.reset();
      ref.run(n);
      expect(ref.hash(), `cycle ${n}`).toBe(hashes[n]);
    }
    for (const c of [84, 3, 60, 0, 85, 17, 16, 62, 9, 85, 1]) {
      m.travel(c);
      expect(m.cycle).toBe(c);
      expect(m.hash(), `travel to ${c}`).toBe(hashes[c]);
    }
  });

  it('stops at breakpoints when running, never when travelling', async () => {
    const { program, chip } = loadProgram('programs/kernels/gemv-int8.sfa');
    const m = await Machine.create({ chip, programs: [program], chipProgram: [0] }, loadCoreWasm());
    m.interval = 16;
    m.setBreakpoints([{ kind: 'OPCODE', a: 65 }, { kind: 'CYCLE', a: 50 }]); // MM
    expect(m.advance(Infinity)).toMatchObject({ kind: 'breakpoint', cycle: 38, breakpoint: 0 });
    expect(m.advance(Infinity)).toMatchObject({ kind: 'breakpoint', cycle: 39, breakpoint: 0 });
    expect(m.advance(Infinity)).toMatchObject({ kind: 'breakpoint', cycle: 50, breakpoint: 1 });
    m.travel(0);
    expect(m.travel(70)).toMatchObject({ kind: 'ready', cycle: 70 });
    m.travel(10);
    expect(m.advance(Infinity)).toMatchObject({ kind: 'breakpoint', cycle: 38 });
    // from a breakpoint's cycle reached by travel, running goes on past it
    m.travel(50);
    expect(m.advance(Infinity)).toMatchObject({ kind: 'breakpoint', cycle: 59 });
    m.setBreakpoints([]);
    expect(m.advance(Infinity).kind).toBe('halted');
  });

  it('keeps exact states when snapshots are merged to fit a tiny memory budget', async () => {
    const path = join(tmp, 'long-small.sfa');
    writeFileSync(path, longAdd(2, 300));
    const { program, chip } = loadProgram(path);
    const m = await Machine.create({ chip, programs: [program], chipProgram: [0], memoryBudget: 1 }, loadCoreWasm());
    m.interval = 16;
    const hashes = new Map<number, string>();
    const probe = [0, 5, 17, 64, 100, 151, 200, 255, 299, 300];
    for (const c of probe) {
      m.advance(c);
      hashes.set(m.cycle, m.hash());
    }
    m.advance(Infinity);
    hashes.set(m.cycle, m.hash());
    expect(m.stop.kind).toBe('halted');
    for (const c of [...hashes.keys()].reverse()) {
      m.travel(c);
      expect(m.hash(), `travel to ${c}`).toBe(hashes.get(c));
    }
    m.travel(0);
    m.travel(151);
    expect(m.hash()).toBe(hashes.get(151));
  });

  it('finds the values in flight where this cycle\'s instructions read them', async () => {
    const { program, chip } = loadProgram('programs/kernels/vector-add-fp32.sfa');
    const m = await Machine.create({ chip, programs: [program], chipProgram: [0] }, loadCoreWasm());
    const ins = new ChipInspector(m.cores[0], program);
    const plan = m.cores[0].plan;
    const vxm = plan.slices.find((s) => s.unit === 'VXM')!.position;
    m.advance(6); // VXM.0 adds E0..E3 + E4..E7 at the VXM on cycle 6
    expect(ins.queue(plan.queueByName.get('VXM.0')!.id).issuing).toBe(true);
    const at = ins.inFlight().filter((f) => f.position === vxm);
    for (let s = 0; s < 8; s++) {
      const f = at.find((x) => x.stream === s);
      expect(f, `E${s} at the VXM`).toBeDefined();
      // MEM.Wi (position 45 - i) reads on cycle 3 - i onto E2i, E2i+1: on the stream on 5 - i
      expect(plan.queues[f!.writerQueue].name).toBe(`MEM.W${s >> 1}`);
      expect(ins.writtenAt(f!)).toBe(5 - (s >> 1));
      // the payload is the x or y row 0 plane the READ put there
      expect(ins.payload(f!).length).toBe(chip.lanes);
    }
    // the sums leave the VXM two cycles after the add
    m.advance(9);
    const e8 = ins.inFlight().find((f) => f.stream === 8)!;
    expect(plan.queues[e8.writerQueue].name).toBe('VXM.0');
    expect(e8.position).toBe(vxm + 1);
  });

  it('runs chips in lockstep windows with the same results as the system runner', async () => {
    const path = join(tmp, 'ring4.sfa');
    writeFileSync(path, RING4);
    const { system } = loadProgram(path);
    const wasm = loadCoreWasm();
    const r = await runSystem(system!, wasm, { checked: true, threads: 1 });
    expect(r.stop).toBe('halt');
    const m = await Machine.create({ chip: system!.system.chip, programs: system!.programs, chipProgram: system!.chipProgram, peer: system!.system.peer }, wasm);
    m.interval = 4;
    const seen = new Map<number, string>();
    while (m.stop.kind !== 'halted') {
      m.advance(m.cycle + 3);
      seen.set(m.cycle, m.cores.map((c) => c.hash()).join());
    }
    expect(m.cores.map((c) => c.hash())).toEqual(r.hashes);
    for (const c of [...seen.keys()].reverse()) {
      m.travel(c);
      expect(m.cores.map((x) => x.hash()).join(), `travel to ${c}`).toBe(seen.get(c));
    }
  });
});

// ---- the page, in chromium ---------------------------------------------------------------

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`tests/debugger.test.ts: ${CHROMIUM} is missing (apt-get install -y chromium); the browser tests are skipped`);

describe.skipIf(!haveChromium)('debugger page (chromium)', () => {
  let ctx: BrowserContext;
  let profile: string;
  const servers: RunningServer[] = [];

  async function open(program: string): Promise<{ page: Page; srv: RunningServer }> {
    const srv = await startServer({ session: buildSession(program), port: 0 });
    servers.push(srv);
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    await page.goto(srv.url);
    await page.waitForFunction(() => (window as unknown as { sramflow?: { ready: boolean } }).sramflow !== undefined, null, { timeout: 90_000 });
    const ready = await page.evaluate(() => (window as unknown as { sramflow: { ready: boolean; error?: string } }).sramflow);
    expect(ready.error, 'the page started').toBeUndefined();
    expect(errors, 'no page errors').toEqual([]);
    return { page, srv };
  }

  const api = <T>(page: Page, fn: string, ...args: unknown[]): Promise<T> =>
    page.evaluate(([f, a]) => {
      const s = (window as unknown as { sramflow: Record<string, (...x: unknown[]) => unknown> }).sramflow;
      return s[f as string](...(a as unknown[])) as T;
    }, [fn, args] as const) as Promise<T>;

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'sramflow-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1600, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
    });
  }, 60_000);

  afterAll(async () => {
    await ctx?.close();
    for (const s of servers) await s.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('steps a shipped kernel, shows each queue\'s instruction, steps back to the same state, matches Node', async () => {
    const { page } = await open('programs/kernels/gemv-int8.sfa');
    await expect.poll(() => page.textContent('#cycle')).toBe('0');
    await page.click('#b-step');
    await expect.poll(() => page.textContent('#cycle')).toBe('1');
    // MXM.W0 waits in NOP 18 and issues its first IW on cycle 18: instruction #1 is current
    await page.selectOption('#queue', { label: 'MXM.W0' });
    const { program, chip } = loadProgram('programs/kernels/gemv-int8.sfa');
    const ref = await Core.create(chip, loadCoreWasm(), { checked: true });
    ref.load(program);
    const qp = program.queues.find((q) => q.name === 'MXM.W0')!;
    const want = formatInstruction(qp, 1, ref.plan, program);
    expect(want).toMatch(/^IW\.int8 0, W0, 16$/);
    expect(await page.textContent('#listing .row.cur .tx')).toBe(want);
    expect(await page.textContent('#listing-now')).toContain(`line ${qp.lines[1].line}`);
    expect(await page.textContent('#listing-now')).toContain('IW.int8 0, W0, 16');
    // the issuing list on cycle 18 names MXM.W0's IW; its source line is lit
    await api(page, 'goTo', 18);
    expect(await page.textContent('#issuing')).toContain('MXM.W0');
    expect(await page.locator(`#source .ln.issuing[data-line="${qp.lines[1].line}"]`).count()).toBe(1);
    // forward many cycles, on to the end, and back
    await page.fill('#n', '60');
    await api(page, 'goTo', 1);
    await page.click('#b-stepn');
    await expect.poll(() => page.textContent('#cycle')).toBe('61');
    const h61 = await api<string>(page, 'hash');
    await api(page, 'run');
    expect(await api<number>(page, 'cycle')).toBe(85);
    expect((await api<{ kind: string }>(page, 'stop')).kind).toBe('halted');
    const hEnd = await api<string>(page, 'hash');
    await page.fill('#n', '24');
    await page.click('#b-backn');
    await expect.poll(() => page.textContent('#cycle')).toBe('61');
    expect(await api<string>(page, 'hash')).toBe(h61);
    await page.click('#b-back');
    await page.click('#b-step');
    expect(await api<string>(page, 'hash')).toBe(h61);
    // the Node core, same program, same cycles
    ref.run(61);
    expect(ref.hash()).toBe(h61);
    ref.run();
    expect(ref.hash()).toBe(hEnd);
    // the scrubber travels, the timeline has the run
    await page.evaluate(() => {
      const s = document.getElementById('scrub') as HTMLInputElement;
      s.value = '10';
      s.dispatchEvent(new Event('input'));
    });
    await expect.poll(() => page.textContent('#cycle')).toBe('10');
    expect(await page.textContent('#streams')).toMatch(/values in flight/);
    await page.close();
  }, 120_000);

  it('stops at breakpoints on a cycle, an instruction kind, a source line, a stream, a tensor', async () => {
    const { page } = await open('programs/kernels/gemv-int8.sfa');
    // a cycle breakpoint through the form
    await page.selectOption('#bp-kind', 'cycle');
    await page.fill('#bp-a', '30');
    await page.click('#bp-form button[type=submit]');
    await page.click('#b-run');
    await expect.poll(() => page.textContent('#status')).toContain('breakpoint');
    expect(await page.textContent('#cycle')).toBe('30');
    expect(await page.locator('#bp-list li.hit').count()).toBe(1);
    // continuing from a breakpoint goes on to the next stop
    await api(page, 'clearBreakpoints');
    await api(page, 'addBreakpoint', { kind: 'opcode', mnemonic: 'MM' });
    await page.click('#b-reset');
    await page.click('#b-run');
    await expect.poll(() => page.textContent('#status')).toContain('any MM');
    expect(await page.textContent('#cycle')).toBe('38');
    await page.click('#b-run');
    await expect.poll(() => page.textContent('#cycle')).toBe('39');
    // a breakpoint on a source line (click its number): MXM.W0's accumulating MM
    await api(page, 'clearBreakpoints');
    const { program } = loadProgram('programs/kernels/gemv-int8.sfa');
    const qp = program.queues.find((q) => q.name === 'MXM.W0')!;
    const mmAcc = qp.lines[6].line; // NOP, IW, REPEAT, MM, IW, REPEAT, MM acc
    await page.click('#b-reset');
    await page.click(`#source .ln[data-line="${mmAcc}"] .no`);
    expect(await page.textContent('#bp-list')).toContain(`line ${mmAcc}`);
    await page.click('#b-run');
    await expect.poll(() => page.textContent('#cycle')).toBe('59');
    // a stream write, an SRAM write (a named tensor's vectors)
    await api(page, 'clearBreakpoints');
    await api(page, 'goTo', 0);
    await api(page, 'addBreakpoint', { kind: 'stream', stream: 'E0' });
    const s1 = await api<{ kind: string; cycle: number }>(page, 'run');
    expect(s1.kind).toBe('breakpoint');
    await api(page, 'clearBreakpoints');
    await api(page, 'goTo', 0);
    await api(page, 'addBreakpoint', { kind: 'tensor', tensor: 'y' });
    const s2 = await api<{ kind: string; cycle: number }>(page, 'run');
    expect(s2.kind).toBe('breakpoint');
    // the same breakpoint in a Node core stops on the same cycle
    const { chip } = loadProgram('programs/kernels/gemv-int8.sfa');
    const core = await Core.create(chip, loadCoreWasm(), { checked: true });
    core.load(program);
    const y = program.tensors.find((t) => t.name === 'y')!;
    core.setBreakpoints(y.placement.map((p) => ({ kind: 'SRAM_WRITE' as const, a: core.plan.memSlices.findIndex((s) => s.name === p.slice), b: p.addr, c: 4 })));
    core.run();
    expect(s2.cycle).toBe(core.cycle);
    await page.close();
  }, 120_000);

  it('stops on a hazard and shows it at its source line', async () => {
    const late = join(tmp, 'late.sfa');
    writeFileSync(late, readFileSync(join(root, 'programs/kernels/vector-add-fp32.sfa'), 'utf8').replace('@6 ADD.fp32', '@5 ADD.fp32'));
    const { page } = await open(late);
    await page.click('#b-run');
    await expect.poll(() => page.textContent('#status')).toBe('error');
    const err = await page.textContent('#error');
    expect(err).toMatch(/late\.sfa:\d+:\d+: STREAM_EMPTY at cycle 5, slice VXM/);
    const line = Number(/late\.sfa:(\d+):/.exec(err!)![1]);
    expect(await page.locator(`#source .ln.err[data-line="${line}"]`).count()).toBe(1);
    // stepping back leaves the error behind
    await page.click('#b-back');
    await expect.poll(() => page.textContent('#status')).toBe('ready');
    expect(await page.isHidden('#error')).toBe(true);
    await page.close();
  }, 120_000);

  it('inspects a tensor by name against a reference, and says when there is none', async () => {
    // vector-add with a reference next to it: z = x + y in fp32, one value deliberately off
    const dir = join(tmp, 'ref');
    mkdirSync(dir, { recursive: true });
    const prog = join(dir, 'vadd.sfa');
    writeFileSync(prog, readFileSync(join(root, 'programs/kernels/vector-add-fp32.sfa'), 'utf8'));
    const { program } = loadProgram(prog);
    const vals = (name: string) => {
      const t = program.tensors.find((x) => x.name === name)!;
      return Array.from(new Float32Array(t.data!.buffer.slice(t.data!.byteOffset, t.data!.byteOffset + t.data!.byteLength)));
    };
    const x = vals('x');
    const y = vals('y');
    const z = x.map((v, i) => Math.fround(v + y[i]));
    z[5] += 1;
    writeFileSync(join(dir, 'vadd.ref.json'), JSON.stringify({ z }));
    const { page } = await open(prog);
    await page.selectOption('#tensor', 'z');
    await expect.poll(() => page.textContent('#tensor-view')).toContain('z fp32[8,320]');
    await api(page, 'run');
    await page.selectOption('#tensor', 'x');
    await page.selectOption('#tensor', 'z');
    await expect.poll(() => page.textContent('#tensor-view .ref')).toMatch(/differs from the reference in 1 of 2560 values; max \|Δ\| 1 at \[0,5\]/);
    expect(await page.locator('#tensor-view td.bad').count()).toBe(1);
    await page.close();
    // a program without a reference says so
    const g = await open('programs/kernels/gemv-int8.sfa');
    await g.page.selectOption('#tensor', 'y');
    await expect.poll(() => g.page.textContent('#tensor-view .ref.none')).toMatch(/No reference for this program/);
    await g.page.close();
  }, 120_000);

  it('offers a chip selector for a multi-chip program and matches the system runner', async () => {
    let prog = 'programs/kernels/allreduce-2.sfa';
    if (!existsSync(join(root, prog))) {
      prog = join(tmp, 'ring4.sfa');
      writeFileSync(prog, RING4);
    }
    const { system } = loadProgram(prog);
    const chips = system!.system.chips;
    const { page } = await open(prog);
    expect(await page.isVisible('#chip')).toBe(true);
    expect(await page.locator('#chip option').count()).toBe(chips);
    expect(await api<number>(page, 'chips')).toBe(chips);
    const s = await api<{ kind: string }>(page, 'run');
    expect(s.kind).toBe('halted');
    const r = await runSystem(system!, loadCoreWasm(), { checked: true, threads: 1 });
    for (let c = 0; c < chips; c++) expect(await api<string>(page, 'hash', c), `chip ${c}`).toBe(r.hashes[c]);
    await page.selectOption('#chip', '1');
    expect(await api<string>(page, 'hash')).toBe(r.hashes[1]);
    await page.screenshot({ path: join(artifacts, 'debugger-multichip.png') });
    await page.close();
  }, 180_000);

  it('steps and steps back fast on tsp-v1 (figures in test-artifacts/debugger-perf.json)', async () => {
    const figures: Record<string, unknown> = {};
    const time = async (page: Page, fn: string, ...args: unknown[]) =>
      page.evaluate(async ([f, a]) => {
        const s = (window as unknown as { sramflow: Record<string, (...x: unknown[]) => unknown> }).sramflow;
        const t0 = performance.now();
        await s[f as string](...(a as unknown[]));
        return performance.now() - t0;
      }, [fn, args] as const);
    // a shipped kernel: single steps forward and back (each draws the page)
    {
      const { page } = await open('programs/kernels/gemv-int8.sfa');
      let fwd = 0;
      for (let i = 0; i < 40; i++) fwd += await time(page, 'step', 1);
      let back = 0;
      for (let i = 0; i < 40; i++) back += await time(page, 'back', 1);
      figures['gemv-int8 step (ms, incl. drawing)'] = +(fwd / 40).toFixed(2);
      figures['gemv-int8 step back (ms, incl. drawing)'] = +(back / 40).toFixed(2);
      await page.close();
    }
    // a long tsp-v1 program: run it, step back 5,000 cycles
    const path = join(tmp, 'long-add.sfa');
    writeFileSync(path, longAdd(4, 6000));
    const { page } = await open(path);
    const runMs = await time(page, 'run');
    const end = await api<number>(page, 'cycle');
    expect(end).toBeGreaterThan(6000);
    const hEnd = await api<string>(page, 'hash');
    const stats0 = await api<Record<string, number>>(page, 'stats');
    const back5000 = await time(page, 'goTo', end - 5000);
    const stats1 = await api<Record<string, number>>(page, 'stats');
    expect(await api<number>(page, 'cycle')).toBe(end - 5000);
    let steps = 0;
    for (let i = 0; i < 40; i++) steps += await time(page, 'step', 1);
    const fwd5000 = await time(page, 'goTo', end);
    expect(await api<string>(page, 'hash')).toBe(hEnd);
    // the worst case: a cycle just before a snapshot, far from the one before it
    const snaps = await page.evaluate(() => (window as unknown as { sramflow: { machine: { snapshotCycles(): number[] } } }).sramflow.machine.snapshotCycles());
    let gap = 0;
    let worst = 0;
    for (let i = 1; i < snaps.length; i++) if (snaps[i] - snaps[i - 1] > gap) { gap = snaps[i] - snaps[i - 1]; worst = snaps[i] - 1; }
    if (end - snaps[snaps.length - 1] > gap) worst = end - 1;
    const worstMs = await time(page, 'goTo', worst);
    const stats2 = await api<Record<string, number>>(page, 'stats');
    // the Node core agrees on the state 5,000 cycles back
    const { program, chip } = loadProgram(path);
    const ref = await Core.create(chip, loadCoreWasm(), { checked: true });
    ref.load(program);
    ref.run(end - 5000);
    await api(page, 'goTo', end - 5000);
    expect(await api<string>(page, 'hash')).toBe(ref.hash());
    Object.assign(figures, {
      'long-add cycles': end,
      'long-add run to the end (ms)': Math.round(runMs),
      'snapshots kept': stats0.snapshots,
      'snapshot memory (MiB)': +(stats0.snapshotBytes / 1048576).toFixed(1),
      'snapshot interval at the end (cycles)': stats0.interval,
      'snapshot cost, mean (ms)': +(stats0.snapshotMs / Math.max(1, stats0.taken)).toFixed(1),
      'step back 5000 cycles (ms, incl. drawing)': +back5000.toFixed(1),
      'of which restore (ms)': +stats1.lastRestoreMs.toFixed(1),
      'of which replayed cycles': stats1.replayedCycles,
      'SRAM vectors rewritten': stats1.lastRestoreVectors,
      'step there (ms, incl. drawing)': +(steps / 40).toFixed(2),
      'forward 5000 cycles again (ms)': +fwd5000.toFixed(1),
      'worst travel: to the cycle before a snapshot (ms, incl. drawing)': +worstMs.toFixed(1),
      'worst travel replayed cycles': stats2.replayedCycles,
    });
    writeFileSync(join(artifacts, 'debugger-perf.json'), JSON.stringify(figures, null, 2) + '\n');
    console.log('debugger performance:', figures);
    expect(back5000).toBeLessThan(3000);
    await page.close();
  }, 240_000);

  it('saves a screenshot', async () => {
    const { page } = await open('programs/kernels/softmax.sfa');
    await api(page, 'run', 95);
    await api(page, 'selectQueue', 'VXM.1');
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(artifacts, 'debugger.png') });
    expect(existsSync(join(artifacts, 'debugger.png'))).toBe(true);
    await page.close();
  }, 120_000);
});
