// Runs a compiled layer on the emulator and checks it: the program is assembled with its data
// files held in memory, run (checked mode reports any hazard as an error), the chip's tensors are
// read back into the reference's layout, and every compiled op is checked against the reference
// evaluated on the chip's own inputs, within the op's stated rounding bound (checkOpByOp).
import { assemble } from '../asm/assemble.js';
import { Core, instructionCount } from '../chip/core.js';
import { coreErrorToSfError } from '../chip/errors.js';
import { runReference, type ReferenceResult } from '../models/reference.js';
import { checkOpByOp, type OpCheck } from '../models/bounds.js';
import { assembleSystem } from '../system/source.js';
import { loadSystemPreset } from '../system/topology.js';
import { runSystem } from '../system/system.js';
import { decodeElements } from '../util/numerics.js';
import { SfError } from '../util/errors.js';
import type { Act } from './context.js';
import type { CompiledLayer } from './layer.js';
import { READ_BACK } from './read-back.js';

export interface LayerRun {
  cycles: number;
  predictedCycles: number;
  /** Hazards found in checked mode (a hazard stops the run with an error, so 0 when it ends). */
  hazards: number;
  checked: boolean;
  verified: boolean;
  checks: OpCheck[];
  seconds: number;
}

export interface RunLayerOptions {
  functional?: boolean;
  checked?: boolean;
  threads?: number;
  /** Called with the cycle reached, while the layer runs. */
  onProgress?: (cycle: number) => void;
}

/** Reads `path` from the compiled layer's data files (the assembler's file("...") reader). */
function dataReader(layer: CompiledLayer, programFile: string): (full: string) => Uint8Array {
  const dir = programFile.includes('/') ? programFile.slice(0, programFile.lastIndexOf('/') + 1) : '';
  return (full: string) => {
    const rel = full.startsWith(dir) ? full.slice(dir.length) : full;
    const key = [...layer.data.keys()].find((k) => full.endsWith(`/${k}`) || full === k || rel === k);
    const d = key ? layer.data.get(key) : undefined;
    if (!d) throw new SfError(`no data file ${rel}`);
    return d;
  };
}

/** Decodes a chip tensor of an Act into graph layout [tokens, cols] (this chip's columns). */
function decodeAct(a: Act, elements: number[], lanes: number): Float64Array {
  const out = new Float64Array(a.tokens * a.cols);
  for (let m = 0; m < a.tokens; m++) {
    for (let f = 0; f < a.cols; f++) {
      const j = Math.floor(f / a.per);
      out[m * a.cols + f] = elements[(m * a.tiles + j) * lanes + (f % a.per)]!;
    }
  }
  return out;
}

/** The chip's tensors in the reference's layout (tensors the chip never formed: the reference's). */
export function gatherTensors(layer: CompiledLayer, ref: ReferenceResult, read: (rank: number, tensor: string) => number[]): Record<string, Float64Array> {
  const values: Record<string, Float64Array> = { ...ref.values };
  const lanes = layer.chip.lanes;
  for (const [name, a] of layer.acts) {
    if (!(name in layer.graph.tensors) || name.endsWith('.acc')) continue;
    const custom = READ_BACK.get(name);
    if (custom) {
      values[name] = custom(layer, read);
      continue;
    }
    const spec = layer.graph.tensors[name]!;
    const total = spec.shape.length === 1 ? 1 : spec.shape[spec.shape.length - 1]!;
    if (name.endsWith('.scale')) {
      values[name] = Float64Array.from({ length: a.tokens }, (_, m) => read(0, a.t.name)[m * lanes]!);
      continue;
    }
    const out = new Float64Array(a.tokens * total);
    const ranks = a.cols === total ? 1 : layer.chips;
    for (let r = 0; r < ranks; r++) {
      const part = decodeAct(a, read(r, a.t.name), lanes);
      const first = r * a.cols;
      for (let m = 0; m < a.tokens; m++) for (let f = 0; f < a.cols; f++) out[m * total + first + f] = part[m * a.cols + f]!;
    }
    values[name] = out;
  }
  return values;
}

export async function runCompiledLayer(layer: CompiledLayer, wasm: Uint8Array, o: RunLayerOptions = {}): Promise<LayerRun> {
  const file = 'layer.sfa';
  const readFile = dataReader(layer, file);
  const functional = o.functional ?? true;
  const checked = o.checked ?? true;
  const t0 = performance.now();
  let cycles: number;
  let read: (rank: number, tensor: string) => number[];
  if (layer.chips === 1) {
    const program = assemble(layer.source, { file, chip: layer.chip, readFile });
    const core = await Core.create(layer.chip, wasm, { functional, checked, maxInstructions: instructionCount(program) });
    core.load(program);
    if (o.onProgress) {
      const step = Math.max(1000, Math.ceil(layer.predictedCycles / 50));
      const limit = 2 * layer.predictedCycles + 1_000_000;
      while (!core.halted && !core.error() && core.cycle < limit) {
        core.run(core.cycle + step);
        o.onProgress(core.cycle);
      }
    } else core.run();
    const err = core.error();
    if (err) throw coreErrorToSfError(core, err);
    cycles = core.programCycles;
    read = (_r, t) => decodeElements(core.tensor(t).dtype, core.readTensorBytes(t));
  } else {
    const system = loadSystemPreset(`node-${layer.chips}`, layer.chip);
    const sp = assembleSystem(layer.source, file, system, readFile);
    const names = layer.acts.size ? [...new Set([...layer.acts.values()].map((a) => a.t.name).concat(...readBackTensors(layer)))] : [];
    const res = await runSystem(sp, wasm, { functional, checked, threads: o.threads ?? 1, readBack: functional ? names : [], onWindow: o.onProgress, hashes: false });
    if (res.error) throw new SfError(`chip ${res.error.chip}, cycle ${res.error.cycle}: ${res.error.message}`);
    cycles = res.cycles;
    const tensors = res.tensors!;
    read = (r, t) => {
      const b = tensors[r]?.[t];
      if (!b) throw new Error(`internal: chip ${r} has no tensor ${t}`);
      return decodeElements(b.dtype as Parameters<typeof decodeElements>[0], b.bytes);
    };
  }
  const seconds = (performance.now() - t0) / 1000;
  let checks: OpCheck[] = [];
  if (functional) {
    const ref = runReference(layer.graph, layer.weights, layer.inputs);
    const actual = gatherTensors(layer, ref, read);
    const compiled = new Set(layer.compiled);
    const ops = layer.graph.ops.filter((op) => compiled.has(op.name));
    // a segment's inputs from earlier ops are inputs of the checked graph (bound 0: given)
    const made = new Set(ops.flatMap((op) => op.outputs.map((t) => t.name)));
    const segmentInputs = ops.flatMap((op) => op.inputs.map((t) => t.name)).filter((n) => !made.has(n) && !layer.graph.inputs.includes(n) && !layer.graph.weights[n]);
    const sub = { ...ref, graph: { ...layer.graph, ops, inputs: [...layer.graph.inputs, ...new Set(segmentInputs)] } };
    checks = checkOpByOp(sub, actual);
  }
  return { cycles, predictedCycles: layer.predictedCycles, hazards: 0, checked, verified: functional && checks.every((c) => c.comparison.ok), checks, seconds };
}

/** Chip tensors the custom read-back decoders may need: all but the weights (w_<op>_<slice>). */
function readBackTensors(layer: CompiledLayer): string[] {
  return layer.symbols.map((s) => s.tensor).filter((t) => !t.startsWith('w_'));
}
