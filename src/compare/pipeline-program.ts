// A pipeline of compiled one-chip programs as one multi-chip program: stage i runs on chip i of a
// fully connected node, and its output tensor goes to stage i + 1's input tensor over the link
// between them, with the hop schedule of hop.ts. Stage i + 1's program is shifted to start on the
// cycle the hop has written its input (its input's initial data is dropped: the values arrive over
// the link). This is the whole-model composition (layer after layer, then the head) built as a
// real program, so that the emulator can check both the composed cycle count (chainCycles) and
// that every stage computes on what the previous one sent. Used by the tests on the tiny model.
import type { ChipConfig } from '../chip/config.js';
import { SfError } from '../util/errors.js';
import { planHop, type HopInstruction, type HopPlan, type HopTensor } from './hop.js';

export interface PipelineStage {
  /** The stage's one-chip program (the layer compiler's assembly text). */
  source: string;
  /** Its data files by the path its source names them with. */
  data: Map<string, Uint8Array>;
  /** Its emulated (= predicted) cycles alone. */
  cycles: number;
  /** The tensor it takes from the previous stage (fp32 rows, e.g. "x"), and its slices. */
  input: HopTensor;
  /** The tensor it hands to the next stage (e.g. "y"), and its slices. */
  output: HopTensor;
  /** Rows (4-vector fp32 rows) handed on. */
  rows: number;
}

export interface PipelineProgram {
  /** The multi-chip program text (`.system node-N`, `.program i` per stage). */
  source: string;
  /** Every stage's data files (their paths must not clash). */
  data: Map<string, Uint8Array>;
  /** Cycle on which each stage's program starts. */
  starts: number[];
  hops: HopPlan[];
}

/** The link from chip i to chip i + 1 in a fully connected node of n chips, and where it arrives
 * (docs/system.md: link j of chip i goes to chip (i + j + 1) mod n, arriving on its link n - 2 - j). */
function nodeLinks(n: number): { send: number; recv: number } {
  return { send: 0, recv: n - 2 };
}

interface Queue {
  /** Instruction lines at absolute cycles, in order. */
  lines: string[];
  /** Absolute HALT cycle. */
  halt: number;
}

/** Splits a program into its directive lines and its queues, shifted to start on cycle `at`. */
function parse(source: string, at: number): { directives: string[]; queues: Map<string, Queue>; order: string[] } {
  const directives: string[] = [];
  const queues = new Map<string, Queue>();
  const order: string[] = [];
  let cur: Queue | null = null;
  for (const raw of source.split('\n')) {
    const line = raw.replace(/\s*;.*$/, '');
    if (line.trim() === '') continue;
    const q = /^\.queue\s+(\S+)/.exec(line);
    if (q) {
      cur = { lines: [], halt: at };
      queues.set(q[1]!, cur);
      order.push(q[1]!);
      continue;
    }
    if (line.startsWith('.')) {
      if (cur) throw new Error(`internal: directive after a queue: ${line}`);
      directives.push(line);
      continue;
    }
    if (!cur) throw new Error(`internal: instruction outside a queue: ${line}`);
    const h = /^\s*@(\d+)\s+HALT\s*$/.exec(line);
    if (h) cur.halt = Number(h[1]) + at;
    else cur.lines.push(line.replace(/^(\s*)@(\d+)/, (_, sp: string, c: string) => `${sp}@${Number(c) + at}`));
  }
  return { directives, queues, order };
}

/** Build the program of a chain of stages on `node-N` (N = stages; the shipped node presets hold 2, 4 or 8 chips). */
export function pipelineProgram(chip: ChipConfig, stages: PipelineStage[], system = `node-${stages.length}`): PipelineProgram {
  const n = stages.length;
  if (n < 2) throw new SfError('a pipeline needs at least 2 stages');
  const size = Number(/node-(\d+)/.exec(system)?.[1] ?? n);
  if (size < n) throw new SfError(`${system} has fewer chips than the ${n} stages`);
  stages.forEach((s, i) => {
    if (/^[ \t]*\.system/m.test(s.source)) throw new SfError(`stage ${i} is a multi-chip program; a pipeline joins one-chip programs`);
  });
  const links = nodeLinks(size);
  const stagger = chip.superlanes - 1;
  const hops: HopPlan[] = [];
  const starts = [0];
  /** First cycle after each stage's last HALT: where its hop out starts. */
  const sendAt: number[] = [];
  for (let i = 0; i + 1 < n; i++) {
    const a = stages[i]!;
    const h = planHop(chip, a.output, stages[i + 1]!.input, a.rows, links.send, links.recv);
    hops.push(h);
    sendAt.push(starts[i]! + a.cycles - stagger + 1);
    starts.push(starts[i]! + a.cycles - stagger + h.cycles);
  }
  const out: string[] = [`; a pipeline of ${n} compiled programs (src/compare/pipeline-program.ts), one per chip`, `.system ${system}`, `.chip ${chip.name}`];
  const data = new Map<string, Uint8Array>();
  stages.forEach((s, i) => {
    for (const [k, v] of s.data) {
      if (data.has(k)) throw new Error(`internal: stages share the data file ${k}`);
      data.set(k, v);
    }
    const { directives, queues, order } = parse(s.source, starts[i]!);
    const add = (list: HopInstruction[], base: number, before: boolean) => {
      const lines = new Map<string, string[]>();
      for (const ins of list) {
        let q = queues.get(ins.queue);
        if (!q) {
          q = { lines: [], halt: 0 };
          queues.set(ins.queue, q);
          order.push(ins.queue);
        }
        if (!lines.has(ins.queue)) lines.set(ins.queue, []);
        lines.get(ins.queue)!.push(`  @${ins.cycle + base}  ${ins.text}`);
        q.halt = Math.max(q.halt, ins.cycle + base + 1);
      }
      for (const [name, ls] of lines) {
        const q = queues.get(name)!;
        q.lines = before ? [...ls, ...q.lines] : [...q.lines, ...ls];
      }
    };
    // the hop in (before this stage's first cycle) and the hop out (after its last HALT)
    if (i > 0) add(hops[i - 1]!.recv, sendAt[i - 1]!, true);
    if (i + 1 < n) add(hops[i]!.send, sendAt[i]!, false);
    out.push(`.program ${i}`);
    for (const d of directives) {
      if (d.startsWith('.chip') || d.startsWith('.system') || d.startsWith('.program')) continue;
      // the input arrives over the link: no initial data
      if (i > 0 && new RegExp(`^\\.tensor\\s+${s.input.name}\\s`).test(d)) out.push(d.replace(/\s*=.*$/, ''));
      else out.push(d);
    }
    for (const name of order) {
      const q = queues.get(name)!;
      out.push(`.queue ${name}`, ...q.lines, `  @${q.halt}  HALT`);
    }
  });
  // chips of the node beyond the stages idle
  if (size > n) out.push(`.program ${size - 1 === n ? n : `${n}-${size - 1}`}`, '.queue VXM.0', '  @0  HALT');
  return { source: out.join('\n') + '\n', data, starts, hops };
}
