// The compiler's first brick: y = x W (int8 -> int32) with weights streamed through every MXM
// plane. Each compiled program must run hazard-free under --check, produce exact sums, and take
// exactly the cycles the schedule predicted.
import { describe, it, expect } from 'vitest';
import { compileMatVec } from '../src/compiler/matvec.js';
import { compileRmsNorm } from '../src/compiler/rmsnorm.js';
import { assemble } from '../src/asm/assemble.js';
import { loadChipPreset } from '../src/chip/preset.js';
import { Core, instructionCount } from '../src/chip/core.js';
import { loadCoreWasm } from '../src/chip/wasm-node.js';
import { mulberry32 } from '../src/asm/fill.js';
import { packTails, splitK } from '../src/compiler/linear.js';
import { WeightStore } from '../src/compiler/weight-store.js';
import { Schedule, ScheduleConflict } from '../src/compiler/schedule.js';
import { FitError, Sram } from '../src/compiler/sram.js';

function data(K: number, N: number, seed: number) {
  const r = mulberry32(seed);
  const v = () => Math.floor(r() * 255) - 127;
  return { K, N, w: Int8Array.from({ length: K * N }, v), x: Int8Array.from({ length: K }, v) };
}

async function check(chipName: string, K: number, N: number, seed = 1) {
  const chip = loadChipPreset(chipName);
  const inp = data(K, N, seed);
  const r = compileMatVec(chip, inp);
  const program = assemble(r.source, { file: 'matvec.sfa', chip });
  const results: { cycles: number; y: number[] }[] = [];
  for (const checked of [true, false]) {
    const core = await Core.create(chip, loadCoreWasm(), { checked, maxInstructions: instructionCount(program) });
    core.load(program);
    core.run(1e7);
    expect(core.error()).toBeNull();
    expect(core.halted).toBe(true);
    const y: number[] = [];
    r.tiles.forEach((t, nn) => {
      const row = core.readTensor(t.tensor).values.slice(t.row * chip.lanes, (t.row + 1) * chip.lanes);
      for (let c = 0; c < chip.lanes && nn * chip.lanes + c < N; c++) y.push(row[c]);
    });
    results.push({ cycles: core.programCycles, y });
  }
  const ref = Array.from({ length: N }, (_, n) => {
    let s = 0;
    for (let k = 0; k < K; k++) s += inp.x[k] * inp.w[k * N + n];
    return s;
  });
  expect(results[0].y).toEqual(ref);
  expect(results[1]).toEqual(results[0]);
  expect(results[0].cycles).toBe(r.predictedCycles);
  return r;
}

describe('compileMatVec', () => {
  for (const [K, N] of [[32, 32], [64, 96], [50, 33], [7, 1], [100, 130]]) {
    it(`tiny ${K}x${N}: exact sums, no hazards, cycles as predicted`, async () => {
      await check('tiny', K, N);
    });
  }
  it('tsp-v1 640x1280 (2x4 tiles over all four planes)', async () => {
    const r = await check('tsp-v1', 640, 1280);
    expect(r.tiles).toHaveLength(4);
  });
  it('tsp-v1 1000x700 (partial tiles)', async () => {
    await check('tsp-v1', 1000, 700);
  });
  it('approaches the stream roofline as the product grows', () => {
    const chip = loadChipPreset('tsp-v1');
    const small = compileMatVec(chip, data(640, 640, 2));
    const large = compileMatVec(chip, data(2560, 2560, 3));
    expect(large.efficiency).toBeGreaterThan(small.efficiency);
    expect(large.efficiency).toBeGreaterThan(0.6);
  });
  it('rejects a product that does not fit the feeding slices', () => {
    const chip = loadChipPreset('tiny');
    expect(() => compileMatVec(chip, data(32 * 40, 32 * 8, 4))).toThrow(/does not fit/);
  });
});

describe('compileRmsNorm', () => {
  async function rms(chipName: string, T: number, dim: number) {
    const chip = loadChipPreset(chipName);
    const r0 = mulberry32(T * 1000 + dim);
    const x = Float32Array.from({ length: T * dim }, () => r0() * 4 - 2);
    const g = Float32Array.from({ length: dim }, () => r0() * 2 - 1);
    const eps = 1e-5;
    const r = compileRmsNorm(chip, { tokens: T, dim, x, g, eps });
    const program = assemble(r.source, { file: 'rmsnorm.sfa', chip });
    const core = await Core.create(chip, loadCoreWasm(), { checked: true, maxInstructions: instructionCount(program) });
    core.load(program);
    core.run(1e7);
    expect(core.error()).toBeNull();
    expect(core.programCycles).toBe(r.predictedCycles);
    const y = core.readTensor('y').values;
    const L = chip.lanes;
    // fp32 on the chip (squares summed per lane, then across lanes; rsqrt; two multiplies)
    // against float64: relative error within (dim/2 + 8) u, u = 2^-24
    const bound = (dim / 2 + 8) * 2 ** -24;
    for (let t = 0; t < T; t++) {
      let ss = 0;
      for (let i = 0; i < dim; i++) ss += x[t * dim + i] ** 2;
      const inv = 1 / Math.sqrt(ss / dim + eps);
      for (let i = 0; i < dim; i++) {
        const ref = x[t * dim + i] * inv * g[i];
        const got = y[(t * r.vectorsPerRow + Math.floor(i / L)) * L + (i % L)];
        expect(Math.abs(got - ref)).toBeLessThanOrEqual(bound * Math.abs(ref) + 1e-30);
      }
    }
  }
  it('tiny, 2 tokens x 64 (2 vectors per row)', () => rms('tiny', 2, 64));
  it('tiny, 3 tokens x 50 (a partial vector)', () => rms('tiny', 3, 50));
  it('tsp-v1, 2 tokens x 4096 (Llama-3-8B hidden size)', () => rms('tsp-v1', 2, 4096));
});

describe('layer projections: how K-tiles are dealt to the MXM planes (linear.ts splitK)', () => {
  const load = (pieces: { k0: number; k1: number }[][]) => pieces.map((p) => p.reduce((a, x) => a + x.k1 - x.k0, 0));
  const covers = (pieces: { nn: number; k0: number; k1: number }[][], nt: number, kt: number) => {
    const seen = Array.from({ length: nt }, () => new Array<number>(kt).fill(0));
    for (const p of pieces) for (const x of p) for (let k = x.k0; k < x.k1; k++) seen[x.nn]![k]!++;
    return seen.every((r) => r.every((n) => n === 1));
  };
  it('every K-tile of every N-tile exactly once, every plane within one K-tile of the others', () => {
    for (const [nt, kt] of [[13, 23], [13, 7], [23, 13], [2, 13], [8, 13], [1, 1], [3, 2]]) {
      for (const all of [false, true]) {
        const p = splitK(nt!, kt!, 4, all);
        expect(covers(p, nt!, kt!)).toBe(true);
        const l = load(p);
        expect(Math.max(...l) - Math.min(...l)).toBeLessThanOrEqual(all ? Math.ceil(nt! / 4) : 1);
      }
    }
  });
  it('whole N-tiles while every plane gets one; the rest split by K (Llama-3-8B down_proj: 13 x 23)', () => {
    const p = splitK(13, 23, 4);
    expect(p.flat().filter((x) => x.k1 - x.k0 === 23).length).toBe(12);
    expect(load(p)).toEqual([74, 75, 75, 75]);
  });
  it('tail sets: Q last K-tiles a set, each N-tile once, on the planes with the fewest installs (Qwen2.5-7B gate_proj: 30 x 12, 64 features last)', () => {
    const p = splitK(30, 11, 4);
    packTails(p, 30, 12, 5);
    const sets = p.flat().filter((x) => x.tails);
    expect(sets.map((x) => x.tails).sort((a, b) => a![0]! - b![0]!)).toEqual([0, 5, 10, 15, 20, 25].map((n) => [n, n + 1, n + 2, n + 3, n + 4]));
    expect(sets.every((x) => x.k0 === 11 && x.k1 === 12)).toBe(true);
    // installs a plane: 330 K-tiles and 6 sets over 4 planes (it was 360 K-tiles: 90 each)
    const installs = p.map((q) => q.reduce((a, x) => a + (x.tails ? 1 : x.k1 - x.k0), 0));
    expect(installs.reduce((a, b) => a + b)).toBe(336);
    expect(Math.max(...installs) - Math.min(...installs)).toBeLessThanOrEqual(1);
    // after each plane's first 8 K-tiles (the x tail copies take an SXM round trip)
    for (const q of p) {
      const i = q.findIndex((x) => x.tails);
      if (i >= 0) expect(q.slice(0, i).reduce((a, x) => a + x.k1 - x.k0, 0)).toBeGreaterThanOrEqual(8);
    }
    expect(covers(p.map((q) => q.flatMap((x) => (x.tails ? x.tails.map((nn) => ({ nn, k0: 11, k1: 12 })) : [x]))), 30, 12)).toBe(true);
  });
  it('all: each N-tile split over the four planes in order (row-split projections feed an all-reduce)', () => {
    const p = splitK(13, 7, 4, true);
    for (let nn = 0; nn < 13; nn++) expect(p.map((q) => q.filter((x) => x.nn === nn).length)).toEqual([1, 1, 1, 1]);
  });
});

describe('SRAM headroom (sram.ts): activations at the top of the last feeding groups when the activation pairs are full', () => {
  const chip = loadChipPreset('tsp-v1');
  const V = chip.memVectorsPerSlice;
  const make = (headroom = true) => {
    const sch = new Schedule(chip);
    const ws = new WeightStore(sch, 2);
    const last = ws.planes.flatMap((pl) => pl.groups[pl.groups.length - 1]!);
    return { sram: new Sram(sch, ws.activationSlices, true, ws.spareSlices, headroom ? last : []), ws, last };
  };
  it('a tensor the pairs cannot hold goes to the top of a headroom pair, above the weights\' share', () => {
    const { sram, ws, last } = make();
    // fill every activation pair
    for (const [a, b] of sram.pairs) sram.take([a, b], V, 'filler');
    sram.reserveForWeights(V - 1000);
    expect(() => sram.alloc('big', 'fp32', 1100)).toThrow(FitError); // 2200 vectors a slice of a pair, 1100 of 4 slices: > 1000
    const t = sram.alloc('fits', 'fp32', 400);
    expect(t.slices.every((s) => last.includes(s))).toBe(true);
    expect(t.addr).toBe(V - 800);
    // a 4-byte tensor too long for a pair: byte planes over 4 slices, one each
    const wide = sram.alloc('wide', 'fp32', 900);
    expect(wide.slices.length).toBe(4);
    expect(wide.addr).toBe(V - 900);
    // the weights fill the same slices upwards up to the activations, never across them
    expect(sram.take(t.slices, V - 800, 'weights')).toBe(0);
    expect(() => sram.take(t.slices, 1, 'weights')).toThrow(FitError);
    expect(ws.planes.flatMap((pl) => pl.groups[1]!)).toEqual(last);
  });
  it('without headroom slices the same tensor is a FitError naming it', () => {
    const { sram } = make(false);
    for (const [a, b] of sram.pairs) sram.take([a, b], V, 'filler');
    expect(() => sram.alloc('fits', 'fp32', 400)).toThrow(/tensor fits \(fp32\[400,320\]\) does not fit/);
  });
});

describe('feeding groups (weight-store.ts)', () => {
  it('a layer takes the fewest groups that hold its weights; the rest of the slices hold activations', () => {
    const chip = loadChipPreset('tsp-v1');
    expect(WeightStore.groupsFor(chip, 1e6)).toBe(1);
    expect(WeightStore.groupsFor(chip, 109e6)).toBe(2);
    const one = new WeightStore(new Schedule(chip), 1);
    const two = new WeightStore(new Schedule(chip), 2);
    expect(one.capacityBytes(chip) * 2).toBe(two.capacityBytes(chip));
    expect(one.activationSlices).toEqual(two.activationSlices);
    expect(one.spareSlices.length).toBe(2 * 16);
    expect(two.spareSlices.length).toBe(0);
  });
});

describe('Schedule.claimLink', () => {
  it('a link carries one message at a time; a failed try gives its claim back', () => {
    const sch = new Schedule(loadChipPreset('tsp-v1'));
    sch.claimLink('C2C.0', 100, 96, 'first');
    expect(() => sch.claimLink('C2C.0', 195, 96, 'second')).toThrow(/C2C.0 is still sending \(cycles 100..195\)/);
    expect(() => sch.claimLink('C2C.0', 5, 96, 'before')).toThrow(/still sending/);
    sch.claimLink('C2C.0', 196, 96, 'after');
    sch.claimLink('C2C.1', 150, 96, 'another link');
    // a placement that fails after claiming leaves nothing behind
    const at = sch.attempt(300, (c) => {
      sch.claimLink('C2C.2', c, 96, 'tried');
      if (c < 302) throw new ScheduleConflict('not yet');
    }, 'try');
    expect(at).toBe(302);
    expect(() => sch.claimLink('C2C.2', 300, 2, 'freed')).not.toThrow();
  });
});
