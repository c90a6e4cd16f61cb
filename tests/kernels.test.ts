// The hand-scheduled kernels in programs/kernels/: each is assembled from its file, run with the
// checked hazards on its chip, and compared with a TypeScript reference computed from the
// tensors' initial data. The cycle count must be the figure derived by hand in the kernel's
// header comment ("Total: H + S cycles of superlane stagger = N cycles."), so any change to a
// schedule fails here until its comment (and HAND_COUNTS below) are re-derived. Each kernel is
// also run unchecked (same outputs, same cycles) and run twice (same state hash).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../src/asm/assemble.js';
import type { Program } from '../src/asm/program.js';
import type { ChipConfig } from '../src/chip/config.js';
import { Core } from '../src/chip/core.js';
import { coreErrorToSfError } from '../src/chip/errors.js';
import { loadChipPreset } from '../src/chip/preset.js';
import { loadCoreWasm } from '../src/chip/wasm-node.js';
import { dtypeByName } from '../src/isa/dtypes.js';
import { decodeElements } from '../src/util/numerics.js';

/** The cycle counts derived by hand in each kernel's header comment (the "Total:" line). */
const HAND_COUNTS: Record<string, number> = {
  'gemv-int8': 103, // 84 (last HALT, MEM.W42) + 19 stagger
  'gemv-fp16': 84, //  65 (last HALT, MEM.W42) + 19 stagger
  softmax: 188, //    169 (last HALT, MEM.E1) + 19 stagger
  rmsnorm: 136, //    117 (last HALT, MEM.E1) + 19 stagger
};

/** One unit in the last place of 1.0 in fp32 (half an ulp: the bound of one rounding). */
const U = 2 ** -24;
const f32 = Math.fround;

// ---- running a kernel ------------------------------------------------------------------------

interface Kernel {
  name: string;
  src: string;
  program: Program;
  chip: ChipConfig;
}

const kernels = new Map<string, Kernel>();

function kernel(name: string): Kernel {
  let k = kernels.get(name);
  if (!k) {
    const path = fileURLToPath(new URL(`../programs/kernels/${name}.sfa`, import.meta.url));
    const src = readFileSync(path, 'utf8');
    const chipName = /^\.chip\s+(\S+)/m.exec(src)?.[1];
    if (!chipName) throw new Error(`${name}.sfa has no .chip`);
    const chip = loadChipPreset(chipName);
    k = { name, src, program: assemble(src, { file: `programs/kernels/${name}.sfa`, chip }), chip };
    kernels.set(name, k);
  }
  return k;
}

/** The hand count from the header: "; Total: H + S cycles of superlane stagger = N cycles." */
function handCount(k: Kernel): number {
  const m = /^; Total: (\d+) \+ (\d+) cycles of superlane stagger = (\d+) cycles\.$/m.exec(k.src);
  if (!m) throw new Error(`${k.name}.sfa: no "; Total: H + S cycles of superlane stagger = N cycles." line`);
  const [halt, stagger, total] = [Number(m[1]), Number(m[2]), Number(m[3])];
  expect(halt + stagger, `${k.name}: the Total line's sum`).toBe(total);
  expect(stagger, `${k.name}: the stagger is superlanes - 1`).toBe(k.chip.superlanes - 1);
  return total;
}

// Cores are large (a tsp-v1 core holds 220 MiB of SRAM), so the file keeps one checked and one
// unchecked core per chip and loads each kernel into them.
const cores = new Map<string, Core>();

async function coreFor(chip: ChipConfig, checked: boolean): Promise<Core> {
  const key = `${chip.name}/${checked}`;
  let c = cores.get(key);
  if (!c) {
    c = await Core.create(chip, loadCoreWasm(), { checked });
    cores.set(key, c);
  }
  return c;
}

/** Runs the loaded program to its end and fails with the core's own message on any error. */
function runToHalt(core: Core, what: string): void {
  core.run(1_000_000);
  const e = core.error();
  if (e) throw new Error(`${what}: ${coreErrorToSfError(core, e).message}`);
  expect(core.halted, `${what}: halted`).toBe(true);
}

interface Outcome {
  cycles: number;
  hash: string;
  /** Bytes of every .output tensor. */
  outputs: Map<string, Uint8Array>;
  /** Decoded values of every .output tensor. */
  values: Map<string, number[]>;
}

function outcome(core: Core, program: Program): Outcome {
  const outputs = new Map<string, Uint8Array>();
  const values = new Map<string, number[]>();
  for (const t of program.tensors.filter((t) => t.output)) {
    outputs.set(t.name, core.readTensorBytes(t.name));
    values.set(t.name, core.readTensor(t.name).values);
  }
  return { cycles: core.programCycles, hash: core.hash(), outputs, values };
}

const results = new Map<string, Outcome>();

/** The checked run of a kernel (cached: every test of a kernel looks at the same run). */
async function checkedRun(name: string): Promise<Outcome> {
  let r = results.get(name);
  if (!r) {
    const k = kernel(name);
    const core = await coreFor(k.chip, true);
    core.load(k.program);
    runToHalt(core, `${name} (checked)`);
    r = outcome(core, k.program);
    results.set(name, r);
  }
  return r;
}

/** A tensor's initial values (row-major), from the program's data. */
function initial(k: Kernel, name: string): number[] {
  const t = k.program.tensors.find((x) => x.name === name);
  if (!t) throw new Error(`${k.name}: no tensor ${name}`);
  const bytes = t.data ?? new Uint8Array(t.shape[0] * t.shape[1] * dtypeByName(t.dtype)!.bytes);
  return decodeElements(t.dtype, bytes);
}

afterAll(() => {
  cores.clear();
  results.clear();
});

// ---- the properties every kernel shares -----------------------------------------------------

describe.each(Object.keys(HAND_COUNTS))('kernel %s', (name) => {
  beforeAll(async () => {
    await checkedRun(name);
  });

  it('halts without a hazard in checked mode, on the hand-counted cycle', async () => {
    const k = kernel(name);
    const r = await checkedRun(name);
    const hand = handCount(k);
    expect(hand, 'the header comment agrees with HAND_COUNTS').toBe(HAND_COUNTS[name]);
    expect(r.cycles).toBe(hand);
  });

  it('runs unchecked to the same outputs and cycle count', async () => {
    const k = kernel(name);
    const r = await checkedRun(name);
    const core = await coreFor(k.chip, false);
    core.load(k.program);
    runToHalt(core, `${name} (unchecked)`);
    const u = outcome(core, k.program);
    expect(u.cycles).toBe(r.cycles);
    expect([...u.outputs.keys()]).toEqual([...r.outputs.keys()]);
    for (const [t, bytes] of r.outputs) expect(Buffer.from(u.outputs.get(t)!).equals(Buffer.from(bytes)), `${t} bytes`).toBe(true);
  });

  it('runs twice to the same state hash', async () => {
    const k = kernel(name);
    const r = await checkedRun(name);
    const core = await coreFor(k.chip, true);
    core.load(k.program);
    runToHalt(core, `${name} (second run)`);
    const again = outcome(core, k.program);
    expect(again.hash).toBe(r.hash);
    expect(again.cycles).toBe(r.cycles);
    // and once more after reset(): back to cycle 0 with the initial SRAM image
    core.reset();
    runToHalt(core, `${name} (after reset)`);
    expect(core.hash()).toBe(r.hash);
  });
});

// ---- the references --------------------------------------------------------------------------

describe('gemv-int8 matches the exact int32 product', () => {
  it('y[nt][n] = sum_k x[k] * W[k][320nt + n] for all 640 outputs', async () => {
    const k = kernel('gemv-int8');
    const r = await checkedRun('gemv-int8');
    const K = 640;
    const N = 640;
    const L = 320;
    // Rebuild W (K x N) from the 16 weight slices, as the header's layout says:
    //   w{nt}{s} row r = W[16*(r div 2) + 2s + (r mod 2)][320nt .. 320nt+319]
    const W = new Int32Array(K * N);
    const seen = new Uint8Array(K * N);
    for (let nt = 0; nt < 2; nt++) {
      for (let s = 0; s < 8; s++) {
        const w = initial(k, `w${nt}${s}`);
        expect(w.length).toBe(80 * L);
        for (let row = 0; row < 80; row++) {
          const kk = 16 * (row >> 1) + 2 * s + (row & 1);
          for (let n = 0; n < L; n++) {
            W[kk * N + nt * L + n] = w[row * L + n]!;
            seen[kk * N + nt * L + n]!++;
          }
        }
      }
    }
    expect(seen.every((c) => c === 1), 'the layout covers every W[k][n] exactly once').toBe(true);
    const x = initial(k, 'x'); // row j = x[320j .. 320j+319], so x[k] is element k
    expect(x.length).toBe(K);
    const want: number[] = [];
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let kk = 0; kk < K; kk++) acc += x[kk]! * W[kk * N + n]!;
      want.push(acc); // |acc| <= 640 * 128 * 128 < 2^31: exact, no wrap
    }
    // y int32[2,320]: row nt = N-tile nt, so y element nt*320 + n is output column 320nt + n
    expect(r.values.get('y')).toEqual(want);
  });

  it('uses both west planes, 2 x 320 x 320 MACs each', async () => {
    const k = kernel('gemv-int8');
    const core = await coreFor(k.chip, true);
    core.load(k.program);
    runToHalt(core, 'gemv-int8');
    expect(core.planeMacs()).toEqual([2 * 320 * 320, 2 * 320 * 320, 0, 0]);
  });
});

describe('gemv-fp16 matches the fp16 product accumulated in fp32', () => {
  // The plane multiplies fp16 x fp16 (exact in fp32: 11 x 11 significand bits) and adds the 320
  // products in fp32, k ascending, starting from 0. Against the exact (float64) sum, n - 1 = 319
  // roundings give |y - ref| <= 319u/(1 - 319u) * sum_k |x[k] W[k][n]| < 320u * sum_k |x w|, with
  // u = 2^-24 (about 1.9e-5 * sum |x w|). And since the order is fixed, an fp32 model that adds in
  // that order must agree bit for bit.
  function reference() {
    const k = kernel('gemv-fp16');
    const K = 320;
    const N = 320;
    const W = new Float64Array(K * N);
    for (let s = 0; s < 16; s++) {
      const w = initial(k, `w${s}`); // w{s} row G = W[16G + s]
      expect(w.length).toBe(20 * N);
      for (let G = 0; G < 20; G++) for (let n = 0; n < N; n++) W[(16 * G + s) * N + n] = w[G * N + n]!;
    }
    const x = initial(k, 'x'); // fp16[2,160]: element k is x[k]
    expect(x.length).toBe(K);
    return { K, N, W, x };
  }

  it('within 320u * sum|x w| of the float64 sum', async () => {
    const r = await checkedRun('gemv-fp16');
    const { K, N, W, x } = reference();
    const y = r.values.get('y')!;
    for (let n = 0; n < N; n++) {
      let exact = 0;
      let mag = 0;
      for (let k = 0; k < K; k++) {
        exact += x[k]! * W[k * N + n]!;
        mag += Math.abs(x[k]! * W[k * N + n]!);
      }
      const bound = 320 * U * mag;
      expect(Math.abs(y[n]! - exact), `y[${n}] = ${y[n]}, float64 ${exact}, bound ${bound}`).toBeLessThanOrEqual(bound);
    }
  });

  it('bit for bit equal to the fp32 sum in k order', async () => {
    const r = await checkedRun('gemv-fp16');
    const { K, N, W, x } = reference();
    const want: number[] = [];
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc = f32(acc + f32(x[k]! * W[k * N + n]!));
      want.push(acc);
    }
    expect(r.values.get('y')).toEqual(want);
  });
});

describe('softmax matches exp(x - max) / sum', () => {
  // Bound, relative to the float64 softmax, per element (first-order error analysis, u = 2^-24):
  // d = fl(x - m) is off by |d|u, so e = expf(d) by (D + 2)u (D = max |d| of the row, expf within
  // 1 ulp = 2u); the fp32 sum of 320 positive terms adds (n - 1)u; r = 1/sqrt(s) adds half of
  // s's error + 2u; r*r doubles r's and adds u; e * r2 adds u. In all
  // (D + 2) + (n - 1 + D + 2) + 5 + 1 = n + 2D + 9 units; the test allows (n + 2D + 12)u, about
  // 2.1e-5 for n = 320, |x| <= 4.
  it('every element within (n + 2D + 12)u relative', async () => {
    const k = kernel('softmax');
    const r = await checkedRun('softmax');
    const x = initial(k, 'x');
    const y = r.values.get('y')!;
    const n = 320;
    expect(x.length).toBe(4 * n);
    for (let row = 0; row < 4; row++) {
      const xs = x.slice(row * n, (row + 1) * n);
      const m = Math.max(...xs);
      const e = xs.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      const D = Math.max(...xs.map((v) => Math.abs(v - m)));
      const tol = (n + 2 * D + 12) * U;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const want = e[i]! / s;
        const got = y[row * n + i]!;
        sum += got;
        expect(Math.abs(got - want), `y[${row}][${i}] = ${got}, float64 ${want}`).toBeLessThanOrEqual(tol * want);
      }
      expect(Math.abs(sum - 1)).toBeLessThan(1e-4);
    }
  });
});

describe('rmsnorm matches x * g / sqrt(mean(x^2) + eps)', () => {
  const n = 320;
  const eps = 1e-5;
  // Bound, relative to the float64 result (first order, u = 2^-24): squares u; the fp32 sum of
  // n positive terms (n - 1)u; the MULS by fl(1/320) 2u; the ADDS u: (n + 3)u in mean + eps;
  // rsqrt halves that and adds 2u (sqrt, divide); x*g and the last MUL add u each. In all
  // (n + 3)/2 + 4 units; the test allows (n/2 + 8)u, about 1e-5 for n = 320.
  it('every element within (n/2 + 8)u relative', async () => {
    const k = kernel('rmsnorm');
    const r = await checkedRun('rmsnorm');
    const x = initial(k, 'x');
    const g = initial(k, 'g');
    const y = r.values.get('y')!;
    expect(x.length).toBe(4 * n);
    expect(g.length).toBe(n);
    const tol = (n / 2 + 8) * U;
    for (let row = 0; row < 4; row++) {
      const xs = x.slice(row * n, (row + 1) * n);
      const ms = xs.reduce((a, v) => a + v * v, 0) / n;
      const rr = 1 / Math.sqrt(ms + eps);
      for (let i = 0; i < n; i++) {
        const want = xs[i]! * g[i]! * rr;
        const got = y[row * n + i]!;
        expect(Math.abs(got - want), `y[${row}][${i}] = ${got}, float64 ${want}`).toBeLessThanOrEqual(tol * Math.abs(want));
      }
    }
  });

  it('bit for bit equal to the same steps in fp32', async () => {
    // Every step is one IEEE fp32 operation (sqrt and divide included, which fround(Math.*) of
    // fp32 operands reproduces exactly), and RSUM adds in lane order.
    const k = kernel('rmsnorm');
    const r = await checkedRun('rmsnorm');
    const x = initial(k, 'x');
    const g = initial(k, 'g');
    const want: number[] = [];
    for (let row = 0; row < 4; row++) {
      const xs = x.slice(row * n, (row + 1) * n);
      let ss = f32(xs[0]! * xs[0]!);
      for (let i = 1; i < n; i++) ss = f32(ss + f32(xs[i]! * xs[i]!));
      const v = f32(f32(ss * f32(1 / n)) + f32(eps));
      const rr = f32(1 / f32(Math.sqrt(v)));
      for (let i = 0; i < n; i++) want.push(f32(f32(xs[i]! * g[i]!) * rr));
    }
    expect(r.values.get('y')).toEqual(want);
  });
});
