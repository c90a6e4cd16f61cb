// A system of N chips stepped in lockstep. Chips interact only through C2C links, and a message
// sent on cycle t is in its peer's buffer no earlier than t + c2cVectorCycles + c2cLatencyCycles.
// So every chip can run a whole window of that many cycles on its own; between windows the host
// carries each link's outbox to its peer. The result is exact and deterministic, and the chips
// of a window can run on different threads (conservative parallel simulation, with the link
// latency as lookahead). Results do not depend on the thread count: each receive buffer has one
// sender, and messages are delivered in send order.
import { Worker } from 'node:worker_threads';
import { totalmem } from 'node:os';
import { ChipGroup, type ChipStatus, type ChipSummary, type Delivery, type GroupSpec } from './group.js';
import type { SystemProgram } from './source.js';
import { Core, instructionCount } from '../chip/core.js';
import { compileCore } from '../chip/wasm.js';
import { SfError } from '../util/errors.js';

export interface SystemRunOptions {
  functional?: boolean;
  checked?: boolean;
  /** Worker threads (1: run in this thread). */
  threads?: number;
  maxCycles?: number;
  /** Compute each chip's state hash at the end (default true; it reads all of SRAM). */
  hashes?: boolean;
  /** Called after each window with the window's end cycle. */
  onWindow?: (cycle: number) => void;
  /** Called once every chip is made and loaded, before the first window (to time the run apart). */
  onStart?: () => void;
  /** Bytes the chips' cores may take together; a bigger system is refused before any core is
   * made (default: half of this machine's memory). */
  memoryLimit?: number;
  /** Tensors to read back from every chip after the run (functional runs). */
  readBack?: string[];
}

export interface SystemResult {
  stop: 'halt' | 'error' | 'limit';
  /** The system's cycles: the slowest chip's. */
  cycles: number;
  seconds: number;
  error?: { chip: number; cycle: number; message: string };
  chips: ChipSummary[];
  links: { chip: number; link: number; peerChip: number; peerLink: number; vectorsSent: number; utilisation: number }[];
  hashes: string[];
  windows: number;
  threads: number;
  /** The readBack tensors by chip. */
  tensors?: Record<string, { dtype: string; bytes: Uint8Array }>[];
}

interface GroupHandle {
  chips: number[];
  step(limit: number, deliveries: Delivery[]): Promise<{ sent: Delivery[]; status: ChipStatus[] }>;
  summaries(): Promise<ChipSummary[]>;
  hashes(): Promise<{ chip: number; hash: string }[]>;
  tensors(names: string[]): Promise<{ chip: number; tensors: Record<string, { dtype: string; bytes: Uint8Array }> }[]>;
  close(): Promise<void>;
}

function localGroup(g: ChipGroup, chips: number[]): GroupHandle {
  return {
    chips,
    step: async (limit, d) => g.step(limit, d),
    summaries: async () => g.summaries(),
    hashes: async () => g.hashes(),
    tensors: async (names) => g.tensors(names),
    close: async () => {},
  };
}

const WORKER_URL = new URL('../../dist/system/worker.js', import.meta.url);
/** Memory a worker thread takes besides its cores (a V8 isolate and the compiled core): measured
 * about 30 MiB on Node 20 (256 threads over pod-576 in timing-only mode peaked at 7.6 GB). */
const WORKER_BYTES = 32 * 2 ** 20;

async function workerGroup(spec: GroupSpec, module: WebAssembly.Module): Promise<GroupHandle> {
  const w = new Worker(WORKER_URL);
  let pending: { resolve: (v: unknown) => void; reject: (e: Error) => void } | null = null;
  w.on('message', (m: { ok: boolean; value?: unknown; error?: string; sf?: { message: string; where?: string } }) => {
    const p = pending!;
    pending = null;
    if (m.ok) p.resolve(m.value);
    else p.reject(m.sf ? new SfError(m.sf.message, m.sf.where) : new Error(m.error));
  });
  w.on('error', (e) => pending?.reject(e));
  const call = <T>(msg: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      pending = { resolve: resolve as (v: unknown) => void, reject };
      w.postMessage(msg);
    });
  await call({ type: 'init', spec, module });
  return {
    chips: spec.chips,
    step: (limit, deliveries) => call({ type: 'step', limit, deliveries }),
    summaries: () => call({ type: 'summaries' }),
    hashes: () => call({ type: 'hashes' }),
    tensors: (names) => call({ type: 'tensors', names }),
    close: async () => {
      await w.terminate();
    },
  };
}

/** The spec of a group of chips in which only the programs those chips run carry their tensors
 * (a program's tensors hold its SRAM image: cloning every chip's into every worker would copy
 * the whole system's data once per thread). The others keep their code (the core's capacity). */
function groupSpec(base: Omit<GroupSpec, 'chips'>, chips: number[]): GroupSpec {
  const used = new Set(chips.map((c) => base.chipProgram[c]));
  return { ...base, chips, programs: base.programs.map((p, i) => (used.has(i) ? p : { ...p, tensors: [] })) };
}

export async function runSystem(sp: SystemProgram, wasm: Uint8Array, opts: SystemRunOptions = {}): Promise<SystemResult> {
  const { system } = sp;
  const chip = system.chip;
  const n = system.chips;
  const threads = Math.max(1, Math.min(opts.threads ?? 1, n));
  const maxCycles = opts.maxCycles ?? 100_000_000;
  const base = {
    chip, peer: system.peer, programs: sp.programs, chipProgram: sp.chipProgram,
    functional: opts.functional ?? true, checked: opts.checked ?? false,
  };
  // every chip has a core of the same size: measure one, add the worker threads, and refuse
  // what cannot fit
  const capacity = Math.max(...sp.programs.map(instructionCount), 1);
  const probe = await Core.create(chip, wasm, { functional: base.functional, checked: base.checked, maxInstructions: capacity });
  const perChip = probe.memory.buffer.byteLength;
  const perThread = threads > 1 ? WORKER_BYTES : 0;
  const need = perChip * n + perThread * threads;
  const memoryLimit = opts.memoryLimit ?? totalmem() / 2;
  if (need > memoryLimit) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    const fix = perChip * n > memoryLimit ? (base.functional ? '; run it with --timing-only, which keeps no values' : '') : '; use fewer --threads';
    throw new SfError(
      `${n} chips need about ${gib(need)} (${mib(perChip)} a chip${perThread ? `, ${mib(perThread)} a thread x ${threads} threads` : ''}), over the limit of ${gib(memoryLimit)}${opts.memoryLimit === undefined ? " (half this machine's memory)" : ''}${fix}`,
      system.file,
    );
  }
  // contiguous blocks of chips per thread
  const blocks: number[][] = Array.from({ length: threads }, (_, t) => {
    const from = Math.floor((t * n) / threads);
    const to = Math.floor(((t + 1) * n) / threads);
    return Array.from({ length: to - from }, (_, i) => from + i);
  });
  let groups: GroupHandle[];
  if (threads === 1) {
    groups = [localGroup(await ChipGroup.create({ ...base, chips: blocks[0] }, wasm), blocks[0])];
  } else {
    const module = await compileCore(wasm);
    groups = await Promise.all(blocks.map((chips) => workerGroup(groupSpec(base, chips), module)));
  }
  const groupOf = new Int32Array(n);
  blocks.forEach((b, gi) => b.forEach((c) => (groupOf[c] = gi)));

  // The lookahead: a message sent on cycle s is in its peer's buffer no earlier than s + window.
  // Every chip reports a lower bound on its next SEND (Core.nextSendBound), so all chips may run
  // to (the earliest of those) + window, and at least window cycles: long stretches without C2C
  // traffic are one window, not one per window cycles. The windows depend only on the program,
  // never on the threads, so neither do the results.
  const window = chip.c2cLatencyCycles + chip.c2cVectorCycles;
  let t = 0;
  let nextSend = t;
  let inbound: Delivery[][] = groups.map(() => []);
  let stop: SystemResult['stop'] = 'halt';
  let error: SystemResult['error'];
  let windows = 0;
  opts.onStart?.();
  try {
    for (;;) {
      const limit = Math.min(Math.max(t, nextSend) + window, maxCycles);
      const steps = await Promise.all(groups.map((g, gi) => g.step(limit, inbound[gi])));
      windows++;
      inbound = groups.map(() => []);
      const status: ChipStatus[] = [];
      for (const s of steps) {
        status.push(...s.status);
        for (const d of s.sent) inbound[groupOf[d.chip]].push(d);
      }
      nextSend = Math.min(...status.map((s) => (s.state === 'running' || s.state === 'limit' ? s.nextSend : Infinity)));
      // one inbox has one sender, so per-destination order is already send order; sorting by
      // destination makes the delivery lists independent of how chips are split over threads
      for (const list of inbound) list.sort((a, b) => a.chip - b.chip || a.link - b.link);
      opts.onWindow?.(limit);
      const errors = status.filter((s) => s.state === 'error').sort((a, b) => a.error!.cycle - b.error!.cycle || a.chip - b.chip);
      if (errors.length) {
        stop = 'error';
        error = { chip: errors[0].chip, cycle: errors[0].error!.cycle, message: errors[0].error!.message };
        break;
      }
      if (status.every((s) => s.state === 'halted')) break;
      if (limit >= maxCycles) {
        stop = 'limit';
        break;
      }
      t = limit;
    }
    const chips = (await Promise.all(groups.map((g) => g.summaries()))).flat().sort((a, b) => a.chip - b.chip);
    const hashes = opts.hashes === false ? [] : (await Promise.all(groups.map((g) => g.hashes()))).flat().sort((a, b) => a.chip - b.chip).map((h) => h.hash);
    const cycles = Math.max(...chips.map((c) => c.report.cycles));
    const links: SystemResult['links'] = [];
    for (const c of chips) {
      for (const l of c.links) {
        if (!l.peer) continue;
        links.push({
          chip: c.chip, link: l.link, peerChip: l.peer.chip, peerLink: l.peer.link, vectorsSent: l.sent,
          utilisation: cycles > 0 ? (l.sent * chip.c2cVectorCycles) / cycles : 0,
        });
      }
    }
    let tensors: SystemResult['tensors'];
    if (opts.readBack?.length) {
      tensors = Array.from({ length: n }, () => ({}));
      for (const part of (await Promise.all(groups.map((g) => g.tensors(opts.readBack!)))).flat()) tensors[part.chip] = part.tensors;
    }
    return { stop, cycles, seconds: cycles / chip.clockHz, error, chips, links, hashes, windows, threads, tensors };
  } finally {
    await Promise.all(groups.map((g) => g.close()));
  }
}
