// Schedule quality of the layer compiler: for each shipped 7B/8B config, one decoder layer in
// decode (batch 1, context 2048) and in prefill, compiled for tsp-v1 chips (the fewest that hold
// it), emulated (timing-only: the schedule, no values) and compared with the chip roofline (the
// larger of weight and KV-cache bytes over the streams into the MXMs and MACs over the MXM peak,
// plus the partition's unavoidable C2C time). Writes bench/schedule-quality.md and .json.
// Prefill takes the CLI's default prompt, 128 tokens (minutes per model on a 2-core machine).
//
//   node bench/schedule-quality.js [--prefill N] [--models a,b]   (after npm run build)
import { writeFileSync } from 'node:fs';
import { loadModelConfig } from '../dist/models/config.js';
import { loadChipPreset } from '../dist/chip/preset.js';
import { loadCoreWasm } from '../dist/chip/wasm-node.js';
import { compileLayer } from '../dist/compiler/layer.js';
import { runCompiledLayer } from '../dist/compiler/run-layer.js';

const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const models = flag('models', 'llama-3-8b,llama-2-7b,mistral-7b,qwen2.5-7b').split(',');
const prompt = Number(flag('prefill', '128'));
const chip = loadChipPreset('tsp-v1');
const wasm = loadCoreWasm();

const rows = [];
for (const model of models) {
  const config = loadModelConfig(model);
  for (const phase of ['decode', 'prefill']) {
    const shape = phase === 'decode' ? { phase, tokens: 1, past: 2047 } : { phase, tokens: prompt, past: 0 };
    const t0 = performance.now();
    let row;
    try {
      const layer = compileLayer(config, { chip, timingOnly: true, ...shape });
      const compileS = (performance.now() - t0) / 1000;
      const run = await runCompiledLayer(layer, wasm, { functional: false, checked: false, threads: 2 });
      if (run.cycles !== layer.predictedCycles) throw new Error(`emulated ${run.cycles} != predicted ${layer.predictedCycles}`);
      row = {
        model: config.name ?? model, phase, tokens: shape.tokens, past: shape.past, chips: layer.chips,
        cycles: run.cycles, rooflineCycles: layer.roofline.cycles, weightCycles: layer.roofline.weightCycles,
        macCycles: layer.roofline.macCycles, c2cCycles: layer.roofline.c2cCycles,
        quality: layer.roofline.cycles / run.cycles, compileS, emulateS: run.seconds,
      };
    } catch (e) {
      row = { model: config.name ?? model, phase, tokens: shape.tokens, past: shape.past, error: String(e.message ?? e).split('\n')[0] };
    }
    rows.push(row);
    console.log(row.error ? `${row.model} ${phase}: ${row.error}` : `${row.model} ${phase}: ${row.cycles} cycles on ${row.chips} chips, roofline ${row.rooflineCycles} -> ${row.quality.toFixed(3)} (compile ${row.compileS.toFixed(1)} s, emulate ${row.emulateS.toFixed(1)} s)`);
  }
}

const md = [
  '# Layer schedule quality (chip roofline / emulated cycles)',
  '',
  `Measured by \`node bench/schedule-quality.js\` on ${new Date().toISOString().slice(0, 10)}: one decoder layer per config on tsp-v1 chips (the fewest`,
  'that hold its weights), int8, timing-only emulation (emulated == predicted cycles is checked).',
  'Roofline = max((weight + KV-cache bytes) / stream bandwidth into the MXMs, MACs / MXM peak) + the unavoidable',
  'C2C time of the tensor-parallel partition (src/compiler/layer.ts, chipRoofline). Target: >= 0.8 in decode.',
  '',
  '| model | phase | tokens | past | chips | cycles | roofline (weights+KV / MACs / C2C) | quality |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => r.error
    ? `| ${r.model} | ${r.phase} | ${r.tokens} | ${r.past} | - | - | - | fails: ${r.error.replace(/\|/g, '/')} |`
    : `| ${r.model} | ${r.phase} | ${r.tokens} | ${r.past} | ${r.chips} | ${r.cycles} | ${r.rooflineCycles} (${r.weightCycles} / ${r.macCycles} / ${r.c2cCycles}) | ${r.quality.toFixed(3)} |`),
  '',
];
writeFileSync(new URL('./schedule-quality.md', import.meta.url), md.join('\n'));
writeFileSync(new URL('./schedule-quality.json', import.meta.url), JSON.stringify(rows, null, 2) + '\n');
