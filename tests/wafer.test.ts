// The analytical wafer model (src/wafer): hand-counted figures on a small config, the pipeline
// arithmetic, the shipped CS-3 preset against the vendor's published speeds, and broken presets.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelConfig, parseModelConfig } from '../src/models/config.js';
import {
  listWaferPresets,
  loadWaferPreset,
  parseWaferPreset,
  WAFER_FIGURE_PATHS,
  WAFER_LABEL,
  waferDecode,
  waferPrefill,
  wafersNeeded,
  waferVendorPoints,
} from '../src/wafer/index.js';
import { expectSfError } from './helpers/expect-error.js';

const root = new URL('../', import.meta.url);
const tmp = mkdtempSync(join(tmpdir(), 'sramflow-wafer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// 3 layers, hidden 64, 4 heads and 2 kv heads of 16, MLP 128, vocabulary 256, untied.
const small = parseModelConfig(
  {
    _name: 'wafer-test',
    model_type: 'llama',
    hidden_size: 64,
    intermediate_size: 128,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    num_hidden_layers: 3,
    vocab_size: 256,
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
  },
  'wafer-test',
);

// Round figures: 0.4 MB of SRAM, half usable (200,000 bytes a wafer), 1 TB/s at half efficiency,
// a peak so high that nothing is compute-bound, 1 us per stage, 2 us and 1 GB/s between wafers.
const fig = (value: unknown) => ({ value, kind: 'assumption', source: 'test' });
function testPreset(edit: (j: any) => void = () => {}): any {
  const j: any = {
    name: 'test-wafer',
    sramGB: fig(0.0004),
    sramTBps: fig(1),
    cores: fig(1000),
    peakTflops: fig(1e6),
    interWaferGBps: fig(1),
    powerW: fig(1000),
    knobs: {
      sramBwEfficiency: fig(0.5),
      computeEfficiency: fig(0.5),
      usableSramFraction: fig(0.5),
      stageLatencyUs: fig(1),
      interWaferLatencyUs: fig(2),
      prefillChunkTokens: fig(4),
    },
  };
  edit(j);
  return j;
}
const preset = parseWaferPreset(testPreset(), 'test-wafer.json');

describe('wafer model, hand-counted', () => {
  // Per layer in bf16: q 64x64 + k 64x32 + v 64x32 + o 64x64 + gate, up 64x128 + down 128x64
  // = 36,864 weights = 73,728 bytes, + two RMSNorm gains of 64 = 73,984 bytes.
  const LAYER_W = 73_984;
  // KV cache per layer and sequence: 2 x 2 kv heads x 16 x 2 bytes = 128 bytes a token.
  const KV_PER_TOKEN = 128;
  const TABLE = 256 * 64 * 2; // embedding, and the untied LM head: 32,768 bytes each

  it('capacity, wafers, stage times and latency of a decode step', () => {
    const e = waferDecode(preset, small, { context: 199 }); // 200 tokens cached after the step
    expect(e.label).toBe(WAFER_LABEL);
    const layerCap = LAYER_W + 200 * KV_PER_TOKEN; // 99,584
    const total = TABLE + 3 * layerCap + TABLE; // 364,288
    expect(e.weightBytes).toBe(3 * LAYER_W + 2 * TABLE);
    expect(e.kvCacheBytes).toBe(3 * 200 * KV_PER_TOKEN);
    expect(e.usableBytesPerWafer).toBeCloseTo(200_000, 6);
    expect(e.wafers).toBe(2); // 364,288 / 200,000
    // Bandwidth 2 wafers x 1 TB/s x 0.5 = 1e12 B/s, shared by capacity.
    // A layer reads its weights, 200 attended positions of K and V, and writes one new K and V.
    const layerBytes = LAYER_W + 200 * KV_PER_TOKEN + KV_PER_TOKEN; // 99,712
    const layerMem = (layerBytes * total) / (1e12 * layerCap);
    // Head: its weights, the final-norm gain (64 x 2) and 256 fp32 logits.
    const headBytes = TABLE + 128 + 256 * 4;
    const headMem = (headBytes * total) / (1e12 * TABLE);
    // The wafer boundary at 182,144 bytes falls inside layer.1 (32,768 + 99,584 .. + 2 x 99,584):
    // one hop of 2 us + 64 x 2 bytes / 1 GB/s.
    const hop = 2e-6 + 128 / 1e9;
    expect(e.stages.map((s) => s.name)).toEqual(['layer.0', 'layer.1', 'layer.2', 'lm_head']);
    expect(e.stages.map((s) => s.hops)).toEqual([0, 1, 0, 0]);
    expect(e.stages[0]!.bytes).toBe(layerBytes);
    expect(e.stages[0]!.bound).toBe('memory');
    expect(e.stages[0]!.seconds).toBeCloseTo(1e-6 + layerMem, 15);
    expect(e.stages[1]!.seconds).toBeCloseTo(1e-6 + layerMem + hop, 15);
    expect(e.stages[3]!.seconds).toBeCloseTo(1e-6 + headMem, 15);
    const latency = 3 * (1e-6 + layerMem) + hop + 1e-6 + headMem; // about 7.60 us
    expect(e.seconds).toBeCloseTo(latency, 15);
    expect(e.seconds * 1e6).toBeCloseTo(7.599, 3);
    expect(e.fixedSeconds).toBeCloseTo(4e-6, 15);
    expect(e.tokensPerSecondPerUser).toBeCloseTo(1 / latency, 6);
    expect(e.energyPerTokenJoules).toBeCloseTo(1000 * 2 * latency, 12);
    expect(wafersNeeded(preset, small, { tokens: 200 })).toBe(2);
    expect(wafersNeeded(preset, small, { tokens: 1 })).toBe(2); // 287,488 + 384 bytes
    expect(wafersNeeded(preset, small, { tokens: 200, sequences: 40 })).toBe(Math.ceil((3 * LAYER_W + 2 * TABLE + 3 * 40 * 200 * KV_PER_TOKEN) / 200_000));
  });

  it('micro-batches overlap in the pipeline: a token every max(latency, m x slowest stage)', () => {
    const one = waferDecode(preset, small, { context: 99, microBatches: 1 });
    const many = waferDecode(preset, small, { context: 99, microBatches: 8 });
    expect(many.tokenIntervalSeconds).toBeCloseTo(Math.max(many.seconds, 8 * many.maxStageSeconds), 15);
    expect(many.systemTokensPerSecond).toBeCloseTo(8 / many.tokenIntervalSeconds, 6);
    expect(many.systemTokensPerSecond).toBeGreaterThan(one.systemTokensPerSecond);
    // 8 micro-batches hold 8 sequences' caches
    expect(many.kvCacheBytes).toBe(8 * one.kvCacheBytes);
  });

  it('prefill streams chunks through the pipeline: (layers + chunks - 1) stage times, then the head', () => {
    // Only the fixed latency counts: bandwidth and peak far beyond the work, one wafer.
    const fast = parseWaferPreset(
      testPreset((j) => {
        j.sramGB = fig(1);
        j.sramTBps = fig(1e9);
      }),
      'fast.json',
    );
    const e = waferPrefill(fast, small, { prompt: 10 }); // chunks of 4, 4, 2
    expect(e.wafers).toBe(1);
    expect(e.seconds).toBeCloseTo((3 + 3 - 1 + 1) * 1e-6, 9);
    expect(e.systemTokensPerSecond).toBeCloseTo(10 / e.seconds, 3);
    const one = waferPrefill(fast, small, { prompt: 4 });
    expect(one.seconds).toBeCloseTo(4e-6, 9);
  });
});

describe('CS-3 preset', () => {
  it('ships, every figure with a source and an allowed kind', () => {
    expect(listWaferPresets()).toEqual(['cs-3']);
    const p = loadWaferPreset('cs-3');
    expect(p.sramGB).toBe(44);
    expect(p.sramTBps).toBe(21000);
    for (const path of WAFER_FIGURE_PATHS) {
      const prov = p.provenance[path];
      expect(prov, path).toBeDefined();
      expect(prov!.source.length, path).toBeGreaterThan(0);
      expect(prov!.note?.length ?? 0, path).toBeGreaterThan(0);
      const allowed = path.startsWith('knobs.') ? ['calibrated', 'assumption'] : ['published', 'derived', 'assumption'];
      expect(allowed, path).toContain(prov!.kind);
    }
  });

  it('the vendor points: 8B fitted, 70B a check within its stated bound, as docs/gpu-model.md says', () => {
    const rows = waferVendorPoints();
    const doc = readFileSync(new URL('docs/gpu-model.md', root), 'utf8');
    for (const r of rows) {
      expect(Math.abs(r.error), r.id).toBeLessThanOrEqual(r.bound);
      expect(doc, r.id).toContain(`${Math.round(r.predicted).toLocaleString('en-US')} tokens/s`);
    }
    expect(rows[1]!.hardware).toContain('4x CS-3');
  });

  it('Llama-3-8B decode at batch 1 fits one wafer and is fixed-latency bound', () => {
    const e = waferDecode(loadWaferPreset('cs-3'), loadModelConfig('llama-3-8b'), { context: 2048 });
    expect(e.wafers).toBe(1);
    expect(e.fixedSeconds / e.seconds).toBeGreaterThan(0.9);
  });
});

describe('broken wafer presets', () => {
  const bad = (edit: (j: any) => void, ...parts: string[]) => {
    const f = join(tmp, 'bad.json');
    writeFileSync(f, JSON.stringify(testPreset(edit)));
    expectSfError(() => loadWaferPreset(f), 'bad.json', ...parts);
  };

  it('names the field in one line', () => {
    bad((j) => (j.sramTBps = fig(-21000)), 'field "sramTBps"', '> 0', '-21000');
    bad((j) => (j.sramGB = fig('44 GB')), 'field "sramGB"', '"44 GB"');
    bad((j) => delete j.powerW, 'field "powerW"', 'missing');
    bad((j) => (j.knobs.usableSramFraction = fig(1.5)), 'field "knobs.usableSramFraction"', '<= 1');
    bad((j) => (j.knobs.prefillChunkTokens = fig(2.5)), 'field "knobs.prefillChunkTokens"', 'integer');
    bad((j) => (j.knobs.stageLatencyUs.kind = 'published'), 'field "knobs.stageLatencyUs.kind"', 'calibrated, assumption');
    bad((j) => (j.sramGB.kind = 'calibrated'), 'field "sramGB.kind"', 'published, derived, assumption');
    bad((j) => (j.hbmGB = fig(80)), 'unknown field "hbmGB"');
    bad((j) => (j.knobs.speedup = fig(2)), 'unknown field "knobs.speedup"');
    bad((j) => (j.knobs = 3), 'field "knobs"');
  });

  it('a file that is not a preset', () => {
    const f = join(tmp, 'list.json');
    writeFileSync(f, '[1, 2]');
    expectSfError(() => loadWaferPreset(f), 'list.json', 'must be a JSON object');
    expectSfError(() => loadWaferPreset(join(tmp, 'none.json')), 'no such wafer preset file', 'cs-3');
    writeFileSync(f, '{"sramGB": ');
    expectSfError(() => loadWaferPreset(f), 'list.json:1:', 'invalid JSON');
  });

  it('bad run options', () => {
    const cs3 = loadWaferPreset('cs-3');
    const m = loadModelConfig('llama-3-8b');
    expectSfError(() => waferDecode(cs3, m, { context: -1 }), 'context');
    expectSfError(() => waferDecode(cs3, m, { context: 10, batch: 0 }), 'batch');
    expectSfError(() => waferDecode(cs3, m, { context: 10, dtype: 'fp8' as never }), 'dtype', 'bf16, fp16, int8');
    expectSfError(() => waferDecode(cs3, m, { context: 10, knobs: { stageLatencyUs: -1 } }), 'knobs.stageLatencyUs');
  });
});
