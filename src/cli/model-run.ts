// `sramflow run <model.json>` and `sramflow compile <model.json> -o layer.sfa`: one decoder layer of
// a model config compiled for the chip (src/compiler/layer.ts), then emulated and checked against
// the reference (run), or written as a program with its data files (compile).
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { availableParallelism, totalmem } from 'node:os';
import { SfError } from '../util/errors.js';
import { parseArgs } from './args.js';
import { loadModelConfig } from '../models/config.js';
import { loadChipPreset } from '../chip/preset.js';
import { loadCoreWasm } from '../chip/wasm-node.js';
import { MODEL_DTYPES, type ModelDtype } from '../models/quant.js';
import { projections } from '../models/graph.js';
import { compileLayer, type CompiledLayer, type CompileLayerOptions, type OnOp } from '../compiler/layer.js';
import { runCompiledLayer, type LayerRun } from '../compiler/run-layer.js';
import { DEFAULT_CHIP } from './program-file.js';

const FLAGS = {
  phase: { type: 'string' },
  context: { type: 'int', min: 1, max: 1 << 20 },
  batch: { type: 'int', min: 1, max: 4096 },
  dtype: { type: 'string' },
  chips: { type: 'int', min: 1, max: 4096 },
  chip: { type: 'string' },
  layer: { type: 'int', min: 0, max: 1 << 16 },
  seed: { type: 'int', min: 0, max: 2 ** 31 - 1 },
  json: { type: 'bool' },
} as const;

export function isModelPath(p: string): boolean {
  return p.endsWith('.json');
}

/** The layer the flags describe, compiled. */
export function compileFromFlags(path: string, flags: Record<string, unknown>, dataDir?: string, onOp?: OnOp): CompiledLayer {
  const phase = (flags.phase as string | undefined) ?? 'decode';
  if (phase !== 'decode' && phase !== 'prefill') throw new SfError(`--phase must be decode or prefill, not "${phase}"`);
  const dtype = (flags.dtype as string | undefined) ?? 'int8';
  if (!(MODEL_DTYPES as readonly string[]).includes(dtype)) throw new SfError(`--dtype must be one of ${MODEL_DTYPES.join(', ')}, not "${dtype}"`);
  const config = loadModelConfig(path);
  const chip = loadChipPreset((flags.chip as string | undefined) ?? DEFAULT_CHIP);
  const batch = (flags.batch as number | undefined) ?? 1;
  // --context: tokens in each sequence's KV cache after this step (decode: the past plus the new
  // token; prefill: the prompt)
  const context = (flags.context as number | undefined) ?? Math.min(phase === 'decode' ? 2048 : 128, config.maxPositionEmbeddings);
  if (context > config.maxPositionEmbeddings) throw new SfError(`--context ${context} exceeds the model's max_position_embeddings (${config.maxPositionEmbeddings})`);
  if (flags['timing-only'] !== true) checkHostMemory(config, batch * (phase === 'decode' ? 1 : context));
  const o: CompileLayerOptions = {
    phase, batch, dtype: dtype as ModelDtype, chip,
    ...(phase === 'decode' ? { tokens: 1, past: context - 1 } : { tokens: context, past: 0 }),
    layer: flags.layer as number | undefined,
    chips: flags.chips as number | undefined,
    seed: flags.seed as number | undefined,
    dataDir,
    // a timing-only run needs no values: no weights are generated
    timingOnly: flags['timing-only'] === true,
    onOp,
  };
  return compileLayer(config, o);
}

/** Host bytes a layer's values take per weight, and how that grows with the tokens of a step: an
 * estimate from two measurements on a 23 GB machine, not a bound. Llama-3-8B decode with values
 * peaks at 3.8 GB for 218 M weights (17.5 B each: float64 weights, their int8 copies per chip,
 * the chips' SRAM images, the reference); Llama-2-70B decode (856 M) runs; its 128-token prefill
 * passed 19 GB and was killed. */
const HOST_BYTES_PER_WEIGHT = 22;
const HOST_TOKENS_DOUBLING = 512;

/** A run or compile with values that would not fit this machine's memory is refused up front
 * (else the system kills it, with no word said). */
function checkHostMemory(config: ReturnType<typeof loadModelConfig>, tokens: number): void {
  const weights = projections(config).reduce((n, p) => n + p.out * p.in, 0);
  const need = weights * HOST_BYTES_PER_WEIGHT * (1 + tokens / HOST_TOKENS_DOUBLING);
  const have = totalmem();
  if (need > 0.8 * have) {
    const gb = (b: number) => `${(b / 2 ** 30).toFixed(0)} GB`;
    throw new SfError(`values for one ${config.name ?? 'model'} layer need about ${gb(need)} of host memory, more than 80% of this machine's ${gb(have)}; 'sramflow run --timing-only' gives its schedule and cycles without values`);
  }
}

function describe(layer: CompiledLayer): string {
  const s = layer.graph.shape;
  return `${layer.config.name ?? 'model'} layer ${s.layer}, ${s.phase}: batch ${s.batch}, ${s.tokens} new token(s) after ${s.past}, ${s.dtype}, on ${layer.chips} x ${layer.chip.name}`;
}

function table(layer: CompiledLayer, run: LayerRun | null): string {
  const us = (c: number) => ((c / layer.chip.clockHz) * 1e6).toFixed(2);
  const lines = [
    describe(layer),
    'ops start when their inputs are in SRAM; independent ops overlap (from..to: cycles of the program)',
    '',
    `${'op'.padEnd(16)} ${'from'.padStart(7)} ${'to'.padStart(7)} ${'cycles'.padStart(7)}  ${'units'.padEnd(16)} ${'floor'.padStart(6)}  floor is`,
  ];
  const total = layer.predictedCycles;
  for (const op of layer.ops) {
    lines.push(`${op.name.padEnd(16)} ${String(op.start).padStart(7)} ${String(op.end).padStart(7)} ${String(op.cycles).padStart(7)}  ${op.units.join(' ').padEnd(16)} ${String(op.floorCycles).padStart(6)}  ${op.bound}`);
  }
  lines.push('');
  lines.push(`cycles      ${total} predicted${run ? `, ${run.cycles} emulated (${run.cycles === total ? 'equal' : 'DIFFERENT'})` : ''} = ${us(total)} us at ${layer.chip.clockHz / 1e6} MHz`);
  lines.push(`roofline    ${layer.roofline.cycles} cycles (${layer.roofline.bound}); the schedule reaches ${(layer.roofline.cycles / total).toFixed(2)} of it`);
  if (run) {
    const worst = run.checks.reduce((w, c) => (c.comparison.maxRatio > w.r ? { r: c.comparison.maxRatio, op: c.op } : w), { r: 0, op: '' });
    lines.push(run.checks.length
      ? `verified    ${run.verified ? 'yes' : 'NO'}: ${run.checks.filter((c) => c.comparison.ok).length}/${run.checks.length} op outputs within their rounding bound (worst ${worst.r.toFixed(2)} of the bound, ${worst.op})`
      : 'verified    no values (--timing-only)');
    lines.push(run.checked ? `hazards     ${run.hazards} (checked mode)` : 'hazards     not checked (--timing-only)');
    lines.push(`host        ${run.seconds.toFixed(2)} s to emulate`);
  }
  return lines.join('\n');
}

function json(layer: CompiledLayer, run: LayerRun | null): string {
  const s = layer.graph.shape;
  return JSON.stringify({
    model: layer.config.name ?? null,
    phase: s.phase, batch: s.batch, tokens: s.tokens, past: s.past, dtype: s.dtype,
    chip: layer.chip.name, chips: layer.chips,
    cycles: run?.cycles ?? null,
    predictedCycles: layer.predictedCycles,
    seconds: layer.predictedCycles / layer.chip.clockHz,
    verified: run ? run.verified : null,
    hazards: run?.checked ? run.hazards : null,
    rooflineCycles: layer.roofline.cycles,
    rooflineBound: layer.roofline.bound,
    efficiency: layer.roofline.cycles / layer.predictedCycles,
    ops: layer.ops,
    checks: run?.checks.map((c) => ({ op: c.op, output: c.output, ok: c.comparison.ok, maxRatio: c.comparison.maxRatio })) ?? [],
  });
}

/** The progress line of a long compile (a terminal only). */
const compiling: OnOp = (op, i, n, chips) => {
  process.stderr.write(`\r\x1b[Kcompiling for ${chips} chip(s): ${op} (${i + 1} of ${n})`);
};

export async function cmdRunModel(argv: string[], io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const { positional, flags } = parseArgs(argv, { ...FLAGS, 'timing-only': { type: 'bool' }, threads: { type: 'int', min: 1, max: 256 } }, 'run');
  if (positional.length !== 1) throw new SfError('usage: sramflow run <model.json> [--phase decode|prefill] [--context N] [--batch N] [--dtype int8] [--chips N] [--chip P] [--json]');
  const progress = !flags.json && process.stderr.isTTY;
  // a long prompt compiles for a minute or more: say where it is
  const layer = compileFromFlags(positional[0], flags, undefined, progress ? compiling : undefined);
  const functional = flags['timing-only'] !== true;
  const run = await runCompiledLayer(layer, loadCoreWasm(), {
    functional, checked: functional, threads: (flags.threads as number | undefined) ?? availableParallelism(),
    onProgress: progress ? (c) => process.stderr.write(`\remulating: cycle ${c} of ${layer.predictedCycles}`) : undefined,
  });
  if (progress) process.stderr.write('\r\x1b[K');
  io.out(flags.json ? json(layer, run) : table(layer, run));
  if (run.cycles !== layer.predictedCycles) {
    io.err(`sramflow: internal: emulated ${run.cycles} cycles, the compiler predicted ${layer.predictedCycles}`);
    return 70;
  }
  return run.verified || !functional ? 0 : 3;
}

/** A data directory an earlier `sramflow compile` wrote: .bin files, or numbered chip folders of them. */
function isCompiledData(dir: string): boolean {
  if (!statSync(dir).isDirectory()) return false;
  return readdirSync(dir, { withFileTypes: true }).every((e) =>
    e.isFile() ? e.name.endsWith('.bin') : e.isDirectory() && /^\d+$/.test(e.name) && readdirSync(join(dir, e.name), { withFileTypes: true }).every((f) => f.isFile() && f.name.endsWith('.bin')));
}

export async function cmdCompile(argv: string[], io: { out: (s: string) => void; err: (s: string) => void }): Promise<number> {
  const { positional, flags } = parseArgs(argv, { ...FLAGS, output: { type: 'string', alias: 'o' } }, 'compile');
  if (positional.length !== 1 || typeof flags.output !== 'string') throw new SfError('usage: sramflow compile <model.json> -o <layer.sfa> [--phase decode|prefill] [--context N] [--batch N] [--dtype int8] [--chips N] [--chip P]');
  const out = resolve(flags.output);
  const input = resolve(positional[0]);
  if (existsSync(out) && existsSync(input) && realpathSync(out) === realpathSync(input)) throw new SfError('refusing to overwrite the input file', flags.output);
  const dataDirName = `${basename(out).replace(/\.sfa$/, '')}.data`;
  const progress = !flags.json && process.stderr.isTTY;
  const layer = compileFromFlags(positional[0], flags, dataDirName, progress ? compiling : undefined);
  if (progress) process.stderr.write('\r\x1b[K');
  // write the data beside the program, into a fresh directory, then move it into place
  const dataDir = join(dirname(out), dataDirName);
  const tmp = `${dataDir}.tmp-${process.pid}`;
  try {
    for (const [rel, bytes] of layer.data) {
      const p = join(dirname(tmp), rel.replace(dataDirName, basename(tmp)));
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, bytes);
    }
    writeFileSync(`${out}.tmp-${process.pid}`, layer.source);
    if (existsSync(dataDir)) {
      if (!isCompiledData(dataDir)) throw new SfError(`${dataDirName}/ exists and holds files sramflow did not write; move it away or choose another -o`, flags.output);
      rmSync(dataDir, { recursive: true });
    }
    renameSync(tmp, dataDir);
    renameSync(`${out}.tmp-${process.pid}`, out);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(`${out}.tmp-${process.pid}`, { force: true });
    if (e instanceof SfError) throw e;
    throw new SfError(`cannot write (${(e as NodeJS.ErrnoException).code ?? String(e)})`, flags.output);
  }
  io.out(`${describe(layer)}\nwrote ${flags.output} (${layer.source.split('\n').length} lines) and ${dataDirName}/ (${layer.data.size} files); predicted ${layer.predictedCycles} cycles; run it with: sramflow run ${flags.output}`);
  return 0;
}
