// Multi-chip systems: the shipped multi-chip kernels (all-reduce on node-2/4/8, a two-stage
// pipeline on node-2) against TypeScript references and the cycle counts derived by hand in their
// header comments; the lockstep runner's invariants (timing-only = functional cycles, threads do
// not change hashes or cycles, no hazard under checked); the link errors (LINK_UNCONNECTED,
// RECV_EMPTY, LINK_BUSY) at their source lines; bad system presets; the topology builder; and
// one multi-chip run through the CLI.
//
// tsp-v1 functional cores are 220 MiB each, so 8 of them are ~2 GB: allreduce-8 runs functional
// once (in worker threads, which free their memory when they end); its thread comparison runs
// timing-only. The error programs run timing-only too: the core makes the same checks there.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillRandom } from '../src/asm/fill.js';
import { loadCoreWasm } from '../src/chip/wasm-node.js';
import { assembleSystem, systemDirective, type SystemProgram } from '../src/system/source.js';
import { runSystem, type SystemResult, type SystemRunOptions } from '../src/system/system.js';
import { loadSystemPreset, parseSystemPreset, type Endpoint, type SystemConfig } from '../src/system/topology.js';
import { decodeElements } from '../src/util/numerics.js';
import { SfError } from '../src/util/errors.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const wasm = loadCoreWasm();

/** The cycle counts derived by hand in each kernel's header comment (the "Total:" line). */
const HAND_COUNTS: Record<string, number> = {
  'allreduce-2': 387, // 368 (last HALT, MEM.E1) + 19 stagger
  'allreduce-4': 389, // 370 + 19
  'allreduce-8': 436, // 417 + 19
  'pipeline-2': 1108, // 1089 (chip 1's MEM.E1) + 19
};

// ---- loading and running ---------------------------------------------------------------------

const systems = new Map<string, SystemConfig>();
function system(name: string): SystemConfig {
  let s = systems.get(name);
  if (!s) {
    s = loadSystemPreset(name);
    systems.set(name, s);
  }
  return s;
}

interface Kernel {
  name: string;
  src: string;
  sp: SystemProgram;
}

const kernels = new Map<string, Kernel>();
function kernel(name: string): Kernel {
  let k = kernels.get(name);
  if (!k) {
    const src = readFileSync(join(root, `programs/kernels/${name}.sfa`), 'utf8');
    const preset = systemDirective(src);
    if (!preset) throw new Error(`${name}.sfa has no .system`);
    k = { name, src, sp: assembleSystem(src, `programs/kernels/${name}.sfa`, system(preset)) };
    kernels.set(name, k);
  }
  return k;
}

/** "; Total: H + S cycles of superlane stagger = N cycles." in the header, checked for sums. */
function handCount(k: Kernel): number {
  const m = /^; Total: (\d+) \+ (\d+) cycles of superlane stagger = (\d+) cycles\.$/m.exec(k.src);
  if (!m) throw new Error(`${k.name}.sfa: no "; Total: H + S cycles of superlane stagger = N cycles." line`);
  const [h, s, n] = [Number(m[1]), Number(m[2]), Number(m[3])];
  expect(h + s, `${k.name}: the Total line adds up`).toBe(n);
  expect(s, `${k.name}: stagger = superlanes - 1`).toBe(k.sp.system.chip.superlanes - 1);
  return n;
}

async function run(sp: SystemProgram, opts: SystemRunOptions): Promise<SystemResult> {
  return runSystem(sp, wasm, opts);
}

function expectHalted(r: SystemResult, what: string): void {
  expect(r.error?.message, `${what}: no error`).toBeUndefined();
  expect(r.stop, what).toBe('halt');
}

/** Output tensor values of one chip of a functional run. */
function output(r: SystemResult, chip: number, tensor: string): number[] {
  const o = r.chips[chip].report.outputs[tensor];
  if (!o) throw new Error(`chip ${chip} has no output ${tensor}`);
  return o.values;
}

const f32 = Math.fround;
const fp32 = (bytes: Uint8Array) => decodeElements('fp32', bytes);

/** Exact equality of two fp32 vectors (bit patterns, so -0 and +0 differ). */
function expectSameBits(got: number[], want: number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  const a = new Float32Array(got);
  const b = new Float32Array(want);
  const ua = new Uint32Array(a.buffer);
  const ub = new Uint32Array(b.buffer);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) expect(`${what}[${i}] = ${a[i]}`).toBe(`${what}[${i}] = ${b[i]}`);
  }
}

// ---- the all-reduce reference ----------------------------------------------------------------

/** Chip c's x: `random(c)` over fp32[1,320], the fill the kernels declare. */
const xOf = (c: number) => fp32(fillRandom('fp32', 320, c));

/**
 * The kernels' order of summation on chip c. Offset k is x_(c+k) (k = 0: the chip's own x; on
 * link j the chip receives offset j+1). The butterfly folds the upper half of the offsets onto
 * the lower: [k0+k4, k1+k5, k2+k6, k3+k7], then [p0+p2, p1+p3], then q0+q1, each an fp32 add.
 */
function butterfly(n: number, c: number): number[] {
  let v = Array.from({ length: n }, (_, k) => xOf((c + k) % n));
  while (v.length > 1) {
    const h = v.length / 2;
    v = Array.from({ length: h }, (_, i) => v[i].map((a, lane) => f32(a + v[i + h][lane])));
  }
  return v[0];
}

// ---- the kernels: shared properties -----------------------------------------------------------

/** The functional, checked run of each kernel (allreduce-8 in 2 threads: see the top). */
const functional = new Map<string, SystemResult>();
async function functionalRun(name: string): Promise<SystemResult> {
  let r = functional.get(name);
  if (!r) {
    const k = kernel(name);
    r = await run(k.sp, { functional: true, checked: true, threads: k.sp.system.chips > 4 ? 2 : 1 });
    expectHalted(r, `${name} (functional, checked)`);
    functional.set(name, r);
  }
  return r;
}

afterAll(() => {
  functional.clear();
  kernels.clear();
});

describe.each(Object.keys(HAND_COUNTS))('kernel %s', (name) => {
  beforeAll(async () => {
    await functionalRun(name);
  });

  it('halts without a hazard in checked mode, on the hand-counted cycle', async () => {
    const k = kernel(name);
    const r = await functionalRun(name);
    const hand = handCount(k);
    expect(hand, 'the header comment agrees with HAND_COUNTS').toBe(HAND_COUNTS[name]);
    expect(r.cycles).toBe(hand);
    expect(r.chips).toHaveLength(k.sp.system.chips);
  });

  it('runs timing-only to the same cycle count (checked)', async () => {
    const k = kernel(name);
    const f = await functionalRun(name);
    const t = await run(k.sp, { functional: false, checked: true, threads: 1 });
    expectHalted(t, `${name} (timing-only)`);
    expect(t.cycles).toBe(f.cycles);
    expect(t.chips.map((c) => c.report.cycles)).toEqual(f.chips.map((c) => c.report.cycles));
    expect(t.links.map((l) => l.vectorsSent)).toEqual(f.links.map((l) => l.vectorsSent));
  });

  it('gives the same hashes and cycles in 2 threads as in 1', async () => {
    const k = kernel(name);
    if (k.sp.system.chips > 4) {
      // 8 functional tsp-v1 cores twice would be ~4 GB: compare timing-only runs instead
      const one = await run(k.sp, { functional: false, checked: true, threads: 1 });
      const two = await run(k.sp, { functional: false, checked: true, threads: 2 });
      expectHalted(two, `${name} (2 threads)`);
      expect(two.threads).toBe(2);
      expect(two.hashes).toEqual(one.hashes);
      expect(two.cycles).toBe(one.cycles);
      expect(two.windows).toBe(one.windows);
    } else {
      const one = await functionalRun(name);
      const two = await run(k.sp, { functional: true, checked: true, threads: 2 });
      expectHalted(two, `${name} (2 threads)`);
      expect(two.threads).toBe(2);
      expect(two.hashes).toEqual(one.hashes);
      expect(two.cycles).toBe(one.cycles);
      expect(two.windows).toBe(one.windows);
    }
  });
});

// ---- the kernels: values -----------------------------------------------------------------------

describe.each([
  ['allreduce-2', 2],
  ['allreduce-4', 4],
  ['allreduce-8', 8],
] as const)('%s sums x over the chips', (name, n) => {
  it('every chip holds the butterfly-ordered fp32 sum, bit for bit, and all chips agree', async () => {
    const r = await functionalRun(name);
    const want = butterfly(n, 0);
    for (let c = 0; c < n; c++) {
      // chip c sums in its own rotated order; commutativity makes it chip 0's
      expectSameBits(butterfly(n, c), want, `reference of chip ${c}`);
      expectSameBits(output(r, c, 'y'), want, `chip ${c} y`);
    }
  });

  it('is within the tree bound of the exact sum: |y - sum| <= log2(N) * 2^-24 * sum |x|', async () => {
    const r = await functionalRun(name);
    const y = output(r, 0, 'y');
    const xs = Array.from({ length: n }, (_, c) => xOf(c));
    const depth = Math.log2(n);
    for (let lane = 0; lane < 320; lane++) {
      const exact = xs.reduce((s, x) => s + x[lane], 0);
      const mag = xs.reduce((s, x) => s + Math.abs(x[lane]), 0);
      expect(Math.abs(y[lane] - exact)).toBeLessThanOrEqual(depth * 2 ** -24 * mag * (1 + 1e-9));
    }
  });

  it('seeds every chip differently (the ${chip} substitution)', () => {
    const k = kernel(name);
    expect(k.sp.programs).toHaveLength(n);
    for (let c = 0; c < n; c++) {
      const x = k.sp.programs[k.sp.chipProgram[c]].tensors.find((t) => t.name === 'x')!;
      expectSameBits(fp32(x.data!), xOf(c), `chip ${c} x`);
    }
  });

  it('sends 4 vectors on each of the N-1 links of every chip', async () => {
    const r = await functionalRun(name);
    expect(r.links).toHaveLength(n * (n - 1));
    for (const l of r.links) expect(l.vectorsSent).toBe(4);
  });
});

describe('pipeline-2', () => {
  it('chip 1 holds y = x * w + b (two fp32 roundings), row by row', async () => {
    const r = await functionalRun('pipeline-2');
    const x = fp32(fillRandom('fp32', 8 * 320, 1, -4, 4));
    const w = fp32(fillRandom('fp32', 320, 2, 0, 2));
    const b = fp32(fillRandom('fp32', 320, 3, -1, 1));
    const want = x.map((v, i) => f32(f32(v * w[i % 320]) + b[i % 320]));
    expectSameBits(output(r, 1, 'y'), want, 'y');
    expect(Object.keys(r.chips[0].report.outputs)).toEqual([]);
  });

  it('keeps the link busy: 32 vectors, one 4-vector row per 96 cycles', async () => {
    const r = await functionalRun('pipeline-2');
    const sent = r.links.filter((l) => l.vectorsSent > 0);
    expect(sent).toEqual([expect.objectContaining({ chip: 0, link: 0, peerChip: 1, peerLink: 0, vectorsSent: 32 })]);
    // chip 0 halts after its last SEND (on 726), long before chip 1 (1089)
    expect(r.chips[0].report.cycles).toBe(726 + 19);
    expect(r.chips[1].report.cycles).toBe(1089 + 19);
  });
});

// ---- link errors ------------------------------------------------------------------------------

/** Assembles an inline program for a shipped system as file "e.sfa". */
function sys(preset: string, body: string): SystemProgram {
  return assembleSystem(body, 'e.sfa', system(preset));
}

describe('link errors', () => {
  it('a SEND on a link the system does not wire is LINK_UNCONNECTED at its line (node-2 wires only link 0)', async () => {
    const sp = sys('node-2', ['.system node-2', '.chip tsp-v1', '.program all', '.queue C2C.5', '  @3 SEND W0', '     HALT'].join('\n'));
    for (const checked of [false, true]) {
      const r = await run(sp, { functional: false, checked });
      expect(r.stop).toBe('error');
      expect(r.error!.chip).toBe(0);
      expect(r.error!.cycle).toBe(3);
      expect(r.error!.message).toMatch(/^chip 0: e\.sfa:5:6: LINK_UNCONNECTED at cycle 3, .*queue C2C\.5, instruction SEND/);
    }
  });

  const exchange = (recvAt: number) =>
    [
      '.system node-2', '.chip tsp-v1', '.program all',
      '.queue MEM.W43', '  @0 READ 0, W0', '     HALT',
      '.queue C2C.0', '  @3 SEND W0          ; arrives on 3 + 24 + 216 = 243', `  @${recvAt} RECV E0`, '     HALT',
    ].join('\n');

  it('a RECV one cycle before the message arrives is RECV_EMPTY at its line; on the arrival cycle it is fine', async () => {
    const early = await run(sys('node-2', exchange(242)), { functional: false, checked: false });
    expect(early.stop).toBe('error');
    expect(early.error!.cycle).toBe(242);
    expect(early.error!.message).toMatch(/^chip 0: e\.sfa:9:8: RECV_EMPTY at cycle 242, .*queue C2C\.0, instruction RECV/);
    const onTime = await run(sys('node-2', exchange(243)), { functional: false, checked: true });
    expectHalted(onTime, 'RECV on the arrival cycle');
  });

  it('a RECV on a link nothing was sent on is RECV_EMPTY', async () => {
    const sp = sys('node-2', ['.system node-2', '.chip tsp-v1', '.program 0', '.queue C2C.0', '  @500 RECV E0', '     HALT', '.program 1', '.queue C2C.0', '  HALT'].join('\n'));
    const r = await run(sp, { functional: false, checked: false });
    expect(r.stop).toBe('error');
    expect(r.error!.message).toMatch(/^chip 0: e\.sfa:5:8: RECV_EMPTY at cycle 500/);
  });

  const twoSends = (gap: number) =>
    [
      '.system node-2', '.chip tsp-v1', '.program all',
      '.queue MEM.W43', '  @0 READ 0, W0', `  @${gap} READ 1, W0`, '     HALT',
      '.queue C2C.0', '  @3 SEND W0', `  @${3 + gap} SEND W0`, '     HALT',
    ].join('\n');

  it('two back-to-back SENDs on one link are LINK_BUSY under checked (not detected unchecked)', async () => {
    const r = await run(sys('node-2', twoSends(1)), { functional: false, checked: true });
    expect(r.stop).toBe('error');
    expect(r.error!.cycle).toBe(4);
    expect(r.error!.message).toMatch(/^chip 0: e\.sfa:10:6: LINK_BUSY at cycle 4, .*queue C2C\.0, instruction SEND/);
    const unchecked = await run(sys('node-2', twoSends(1)), { functional: false, checked: false });
    expectHalted(unchecked, 'unchecked back-to-back SENDs');
  });

  it('a SEND exactly c2cVectorCycles (24) after the previous one is fine', async () => {
    const r = await run(sys('node-2', twoSends(24)), { functional: false, checked: true });
    expectHalted(r, 'SENDs 24 cycles apart');
    expect(r.links.map((l) => l.vectorsSent)).toEqual([2, 2]);
  });
});

// ---- program sections --------------------------------------------------------------------------

describe('.program sections', () => {
  it('a chip list outside the system is an error at its line', () => {
    expect(() => sys('node-2', '.system node-2\n.chip tsp-v1\n.program 0-2\n')).toThrow(/^e\.sfa:3:1: chips 0-2 are outside 0\.\.1/);
  });
  it('every chip must be covered by a section', () => {
    expect(() => sys('node-4', '.system node-4\n.chip tsp-v1\n.program 0-2\n.queue C2C.0\n  HALT\n')).toThrow(/no \.program section covers chip 3 of 4/);
  });
  it('${chip} and ${chips} expand per chip; identical texts share one program', () => {
    const src = ['.system node-4', '.chip tsp-v1', '.program all', '.tensor t int8[1,8] @ MEM.W0:0 = [${chip}, ${chips}, 0, 0, 0, 0, 0, 0]', '.program 2-3', '.queue C2C.0', '  HALT'].join('\n');
    const sp = sys('node-4', src);
    expect(sp.programs).toHaveLength(4);
    for (let c = 0; c < 4; c++) expect([...sp.programs[sp.chipProgram[c]].tensors[0].data!.slice(0, 2)]).toEqual([c, 4]);
    const same = sys('node-4', ['.system node-4', '.chip tsp-v1', '.program all', '.queue C2C.0', '  HALT'].join('\n'));
    expect(same.programs).toHaveLength(1);
    expect(same.chipProgram).toEqual([0, 0, 0, 0]);
  });
});

// ---- system presets ----------------------------------------------------------------------------

describe('system presets', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sramflow-system-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function preset(name: string, json: unknown): string {
    const f = join(dir, `${name}.json`);
    writeFileSync(f, JSON.stringify(json));
    return f;
  }

  function expectPresetError(f: string, pattern: RegExp): void {
    let err: unknown;
    try {
      loadSystemPreset(f);
    } catch (e) {
      err = e;
    }
    expect(err, `${f} should be rejected`).toBeInstanceOf(SfError);
    expect((err as SfError).where).toBe(f);
    expect((err as SfError).message).toMatch(pattern);
  }

  it('fully-connected 13 tsp-v1 chips needs 12 links: an error naming "topology"', () => {
    const f = preset('fc13', { name: 'fc13', chip: 'tsp-v1', chips: 13, topology: 'fully-connected' });
    expectPresetError(f, /field "topology": fully-connected 13 chips needs 12 links per chip; tsp-v1 has 11/);
  });

  it('an explicit link list that wires a link twice: an error naming the entry', () => {
    const f = preset('twice', { chip: 'tsp-v1', chips: 3, topology: 'links', links: [[0, 0, 1, 0], [0, 0, 2, 0]] });
    expectPresetError(f, /field "links\[1\]": link 0 of chip 0 is wired twice/);
  });

  it('an explicit link list naming chip 99: an error naming the entry', () => {
    const f = preset('chip99', { chip: 'tsp-v1', chips: 3, topology: 'links', links: [[0, 0, 1, 0], [1, 1, 99, 0]] });
    expectPresetError(f, /field "links\[1\]": chip 99 does not exist \(0\.\.2\)/);
  });

  it('an explicit link list naming link 11 of an 11-link chip, or a chip linked to itself', () => {
    expectPresetError(preset('link11', { chip: 'tsp-v1', chips: 2, topology: 'links', links: [[0, 11, 1, 0]] }), /field "links\[0\]": link 11 does not exist/);
    expectPresetError(preset('self', { chip: 'tsp-v1', chips: 2, topology: 'links', links: [[0, 1, 0, 2]] }), /field "links\[0\]": chip 0 is linked to itself/);
  });

  it('isca22 with a partial node, an unknown topology, and an unknown field', () => {
    expectPresetError(preset('isca12', { chip: 'tsp-v1', chips: 12, topology: 'isca22' }), /field "chips": isca22 systems are whole nodes of 8 chips, got 12/);
    expectPresetError(preset('torus', { chip: 'tsp-v1', chips: 4, topology: 'torus' }), /field "topology": unknown topology "torus"/);
    expectPresetError(preset('extra', { chip: 'tsp-v1', chips: 2, topology: 'fully-connected', wires: 3 }), /unknown field "wires"/);
  });

  it('a valid explicit link list wires exactly what it lists, and a program runs on it', async () => {
    // a 3-chip line 0 - 1 - 2 on chosen links
    const f = preset('line3', { name: 'line3', chip: 'tsp-v1', chips: 3, topology: 'links', links: [[0, 4, 1, 6], [1, 2, 2, 9]] });
    const s = loadSystemPreset(f);
    expect(s.name).toBe('line3');
    expect(s.peer[0][4]).toEqual({ chip: 1, link: 6 });
    expect(s.peer[1][6]).toEqual({ chip: 0, link: 4 });
    expect(s.peer[2][9]).toEqual({ chip: 1, link: 2 });
    expect(s.peer.flat().filter((p) => p !== null)).toHaveLength(4);
    // chip 0 sends one vector on link 4 (west edge), chip 1 receives it on link 6 (east edge)
    const src = [
      `.system ${f}`, '.chip tsp-v1',
      '.program 0', '.tensor a int8[1,320] @ MEM.W43:0 = range(1)',
      '.queue MEM.W43', '  @0 READ a, W0', '     HALT', '.queue C2C.4', '  @3 SEND W0   ; arrives on 243', '     HALT',
      '.program 1', '.tensor b int8[1,320] @ MEM.E43:0', '.output b',
      '.queue C2C.6', '  @243 RECV W5   ; at position 91 on 245, MEM.E43 (90) on 246', '     HALT', '.queue MEM.E43', '  @246 WRITE b, W5', '     HALT',
      '.program 2', '.queue C2C.9', '  HALT',
    ].join('\n');
    const r = await run(assembleSystem(src, 'line.sfa', s), { functional: true, checked: true });
    expectHalted(r, 'line3');
    expect(output(r, 1, 'b')).toEqual(Array.from({ length: 320 }, (_, i) => Math.min(1 + i, 127))); // int8 saturates
  });

  it('a preset parsed from JSON directly reports the file it was given', () => {
    expect(() => parseSystemPreset({ chip: 'tsp-v1', chips: 0, topology: 'single' }, 'mem.json')).toThrow(/^mem\.json: field "chips": must be an integer in 1\.\.4096, got 0/);
  });
});

// ---- topologies -------------------------------------------------------------------------------

/** Every wired link's peer points back at it, and no chip is linked to itself. */
function expectSymmetric(s: SystemConfig): void {
  let bad = 0;
  s.peer.forEach((links, c) =>
    links.forEach((p, l) => {
      if (!p) return;
      const back = s.peer[p.chip]?.[p.link] as Endpoint | null | undefined;
      if (!back || back.chip !== c || back.link !== l || p.chip === c) bad++;
    }),
  );
  expect(bad, `${s.name}: asymmetric or self links`).toBe(0);
}

describe('topology builder', () => {
  it('node-8: link j of chip i goes to chip (i+j+1) mod 8, link 6-j; symmetric and complete', () => {
    const s = system('node-8');
    expect(s.chips).toBe(8);
    expectSymmetric(s);
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 7; j++) expect(s.peer[i][j]).toEqual({ chip: (i + j + 1) % 8, link: 6 - j });
      for (let j = 7; j < 11; j++) expect(s.peer[i][j]).toBeNull();
      const peers = s.peer[i].filter((p) => p).map((p) => p!.chip).sort((a, b) => a - b);
      expect(peers).toEqual([0, 1, 2, 3, 4, 5, 6, 7].filter((c) => c !== i));
    }
  });

  it('node-2 and node-4 use the same rotation (link 0: next chip, link N-2: previous)', () => {
    expect(system('node-2').peer.map((l) => l.filter((p) => p))).toEqual([[{ chip: 1, link: 0 }], [{ chip: 0, link: 0 }]]);
    const s = system('node-4');
    expectSymmetric(s);
    for (let i = 0; i < 4; i++) {
      expect(s.peer[i][0]).toEqual({ chip: (i + 1) % 4, link: 2 });
      expect(s.peer[i][2]).toEqual({ chip: (i + 3) % 4, link: 0 });
    }
  });

  it('rack-72 (isca22): every chip has all 11 links wired, symmetric; 4 links between every node pair', () => {
    const s = system('rack-72');
    expect(s.chips).toBe(72);
    expectSymmetric(s);
    const pair = new Map<string, number>();
    for (let c = 0; c < 72; c++) {
      expect(s.peer[c].every((p) => p !== null), `chip ${c} has every link wired`).toBe(true);
      const node = Math.floor(c / 8);
      for (let l = 0; l < 11; l++) {
        const p = s.peer[c][l]!;
        if (l < 7) expect(Math.floor(p.chip / 8), `chip ${c} local link ${l}`).toBe(node);
        else {
          const other = Math.floor(p.chip / 8);
          expect(other, `chip ${c} global link ${l}`).not.toBe(node);
          const key = `${Math.min(node, other)}-${Math.max(node, other)}`;
          pair.set(key, (pair.get(key) ?? 0) + 1);
        }
      }
    }
    expect(pair.size).toBe((9 * 8) / 2);
    for (const [, ends] of pair) expect(ends).toBe(8); // 4 links, counted from both ends
  });

  it('pod-576 (isca22, circulant beyond a rack): builds, symmetric, every chip has its 7 local links in its node', () => {
    const s = system('pod-576');
    expect(s.chips).toBe(576);
    expectSymmetric(s);
    for (let c = 0; c < 576; c++) {
      for (let l = 0; l < 7; l++) {
        const p = s.peer[c][l];
        expect(p && Math.floor(p.chip / 8) === Math.floor(c / 8), `chip ${c} local link ${l}`).toBe(true);
      }
    }
    // the circulant of 72 nodes: global port p < 16 of node n goes to node n+p+1, so every node
    // reaches the 16 nodes on either side once, and every global link is wired
    for (let n = 0; n < 72; n++) {
      const reached = new Set<number>();
      for (let c = n * 8; c < n * 8 + 8; c++) {
        for (let l = 7; l < 11; l++) {
          const p = s.peer[c][l];
          expect(p, `chip ${c} global link ${l}`).not.toBeNull();
          reached.add(Math.floor(p!.chip / 8));
        }
      }
      const want = new Set<number>();
      for (let d = 1; d <= 16; d++) {
        want.add((n + d) % 72);
        want.add((n - d + 72) % 72);
      }
      expect([...reached].sort((a, b) => a - b)).toEqual([...want].sort((a, b) => a - b));
    }
  });
});

// ---- the CLI ----------------------------------------------------------------------------------

describe('sramflow run on a multi-chip program', () => {
  it('allreduce-4 --json --threads 2 reports chips and links', () => {
    const r = spawnSync(process.execPath, [join(root, 'bin/sramflow.js'), 'run', 'programs/kernels/allreduce-4.sfa', '--json', '--threads', '2'], {
      cwd: root, encoding: 'utf8', timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.system).toBe('node-4');
    expect(j.chipCount).toBe(4);
    expect(j.threads).toBe(2);
    expect(j.cycles).toBe(HAND_COUNTS['allreduce-4']);
    expect(Array.isArray(j.chips)).toBe(true);
    expect(j.chips).toHaveLength(4);
    expect(j.chips.map((c: { cycles: number }) => c.cycles)).toEqual([389, 389, 389, 389]);
    expect(Array.isArray(j.links)).toBe(true);
    expect(j.links).toHaveLength(12);
    for (const l of j.links) expect(l).toMatchObject({ vectorsSent: 4 });
    expect(j.chips[2].outputs.y.values.slice(0, 4)).toEqual(j.chips[0].outputs.y.values.slice(0, 4));
  });
});
