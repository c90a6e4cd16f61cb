// A group of chips run by one thread: the unit the lockstep system drives, in-process or inside a
// worker. Each step: put the messages delivered to its chips into their receive buffers, run
// every chip to the window's end, and hand back what its chips sent.
import { Core, type LinkMessage } from '../chip/core.js';
import type { ChipConfig } from '../chip/config.js';
import type { Program } from '../asm/program.js';
import { coreErrorToSfError } from '../chip/errors.js';
import { buildRunReport, type RunReport } from '../report/run-report.js';
import { STOP } from '../isa/table.js';
import type { Endpoint } from './topology.js';

export interface Delivery {
  /** Destination chip and link. */
  chip: number;
  link: number;
  msgs: LinkMessage[];
}

export interface ChipStatus {
  chip: number;
  state: 'running' | 'halted' | 'error' | 'limit';
  cycle: number;
  /** No SEND before this cycle (Core.nextSendBound; Infinity: none). */
  nextSend: number;
  error?: { cycle: number; message: string };
}

export interface GroupSpec {
  chip: ChipConfig;
  peer: (Endpoint | null)[][];
  programs: Program[];
  chipProgram: number[];
  chips: number[];
  functional: boolean;
  checked: boolean;
  traceCapacity?: number;
}

export interface ChipSummary {
  chip: number;
  program: number;
  report: RunReport;
  links: { link: number; peer: Endpoint | null; sent: number; received: number }[];
}

export class ChipGroup {
  private readonly cores = new Map<number, Core>();
  private readonly state = new Map<number, ChipStatus>();

  private constructor(private readonly spec: GroupSpec) {}

  static async create(spec: GroupSpec, wasm: Uint8Array | WebAssembly.Module): Promise<ChipGroup> {
    const g = new ChipGroup(spec);
    const capacity = Math.max(...spec.programs.map((p) => p.queues.reduce((n, q) => n + q.code.length / 16, 0)), 1);
    for (const c of spec.chips) {
      const core = await Core.create(spec.chip, wasm, { functional: spec.functional, checked: spec.checked, maxInstructions: capacity, traceCapacity: spec.traceCapacity });
      spec.peer[c].forEach((p, l) => core.setLinkConnected(l, p !== null));
      core.load(spec.programs[spec.chipProgram[c]]);
      g.cores.set(c, core);
      g.state.set(c, { chip: c, state: 'running', cycle: 0, nextSend: core.nextSendBound() });
    }
    return g;
  }

  core(chip: number): Core | undefined {
    return this.cores.get(chip);
  }

  step(limit: number, deliveries: Delivery[]): { sent: Delivery[]; status: ChipStatus[] } {
    for (const d of deliveries) {
      const core = this.cores.get(d.chip)!;
      const st = this.state.get(d.chip)!;
      if (st.state !== 'running' && st.state !== 'limit') continue;
      if (!core.deliver(d.link, d.msgs)) {
        st.state = 'error';
        st.error = {
          cycle: d.msgs[0]?.arrival ?? 0,
          message: `chip ${d.chip}: LINK_OVERFLOW: link ${d.link} received more messages than its buffer holds (${this.spec.chip.c2cBufferMessages}); RECV them sooner`,
        };
      }
    }
    const sent: Delivery[] = [];
    for (const [c, core] of this.cores) {
      const st = this.state.get(c)!;
      if (st.state === 'running' || st.state === 'limit') {
        const r = core.run(limit);
        st.cycle = core.cycle;
        st.nextSend = core.nextSendBound();
        if (r & STOP.ERROR) {
          const e = core.error();
          st.state = 'error';
          st.error = { cycle: e?.cycle ?? core.cycle, message: `chip ${c}: ${e ? coreErrorToSfError(core, e).message : 'error'}` };
        } else if (r & STOP.HALT) st.state = 'halted';
        else st.state = 'limit';
      }
      this.spec.peer[c].forEach((p, l) => {
        if (!p) return;
        const msgs = core.takeOutbox(l);
        if (msgs.length) sent.push({ chip: p.chip, link: p.link, msgs });
      });
    }
    return { sent, status: [...this.state.values()].map((s) => ({ ...s })) };
  }

  summaries(): ChipSummary[] {
    return [...this.cores].map(([c, core]) => ({
      chip: c,
      program: this.spec.chipProgram[c],
      report: buildRunReport(core),
      links: core.linkStats().map((s, l) => ({ link: l, peer: this.spec.peer[c][l], ...s })),
    }));
  }

  hashes(): { chip: number; hash: string }[] {
    return [...this.cores].map(([c, core]) => ({ chip: c, hash: core.hash() }));
  }

  /** The named tensors of every chip (those a chip's program has), as dtype and bytes. */
  tensors(names: string[]): { chip: number; tensors: Record<string, { dtype: string; bytes: Uint8Array }> }[] {
    return [...this.cores].map(([c, core]) => {
      const out: Record<string, { dtype: string; bytes: Uint8Array }> = {};
      for (const n of names) {
        let t;
        try {
          t = core.tensor(n);
        } catch {
          continue;
        }
        out[n] = { dtype: t.dtype, bytes: core.readTensorBytes(n).slice() };
      }
      return { chip: c, tensors: out };
    });
  }
}
