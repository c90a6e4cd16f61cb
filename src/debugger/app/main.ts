// The debugger page: loads the session from the server, runs the Wasm core in the page (checked,
// with time travel), and draws the views. Exposes window.sramflow for tests and the console.
import { decodeProgram } from '../../asm/container.js';
import type { Breakpoint } from '../../chip/core.js';
import { INSTRUCTIONS, STOP } from '../../isa/table.js';
import { Machine, type StopInfo } from './machine.js';
import { ChipInspector } from './inspect.js';
import { FloorplanView, type FloorHit } from './floorplan-view.js';
import { TimelineView } from './timeline-view.js';
import { SramView } from './sram-view.js';
import { TensorView } from './tensor-view.js';
import { staticIssueCycles } from './format.js';
import { $, $in, el, option, fmtBytes, nextFrame } from './dom.js';
import type { Session } from './session-types.js';

interface UiBreakpoint {
  label: string;
  bps: Breakpoint[];
}

/** A breakpoint as window.sramflow.addBreakpoint takes it. */
export type BreakpointSpec =
  | { kind: 'cycle'; cycle: number }
  | { kind: 'queue'; queue: string; pc: number }
  | { kind: 'line'; line: number }
  | { kind: 'opcode'; mnemonic: string }
  | { kind: 'stream'; stream: string }
  | { kind: 'sram'; slice: string; addr: number; count?: number }
  | { kind: 'tensor'; tensor: string };

function base64ToBytes(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

class Debugger {
  chip = 0;
  ins: ChipInspector;
  queue = -1;
  stream = 0;
  running = false;
  private pauseReq = false;
  private chunk = 256;
  private bps: UiBreakpoint[] = [];
  private bpOwner: number[] = [];
  private flatBps: Breakpoint[] = [];
  private hitBp = -1;
  private readonly floor: FloorplanView;
  private readonly timeline: TimelineView;
  private readonly sram: SramView;
  private readonly tensor: TensorView;
  private sourceLines: HTMLElement[] = [];
  private lit = new Set<HTMLElement>();
  private deferred = 0;
  private scrubTo: number | null = null;
  private staticEnd = 0;
  private lastRun = { cycles: 0, ms: 0 };

  constructor(readonly m: Machine, readonly session: Session) {
    this.ins = new ChipInspector(m.cores[0], m.program(0));
    this.floor = new FloorplanView($in<HTMLCanvasElement>('floor'), $('floor-tip'), (h) => this.pickFloor(h));
    this.timeline = new TimelineView($in<HTMLCanvasElement>('timeline'), $('timeline-tip'), (c) => this.goTo(c));
    this.sram = new SramView($in<HTMLCanvasElement>('sram'), $('sram-tip'), $('sram-info'), (t) => this.pickTensor(t));
    this.tensor = new TensorView($('tensor-view'), session.references, session.referenceFile);
    this.staticEnd = Math.max(16, ...m.programs.flatMap((p) => p.queues.map((q) => {
      const c = staticIssueCycles(q);
      return Math.max(0, ...c.filter((x): x is number => x !== null)) + 1;
    })));
    this.timeline.fit(this.staticEnd);
    this.buildChrome();
    this.buildSource();
    this.selectChip(0);
    this.bindControls();
    window.addEventListener('resize', () => this.render(true));
  }

  // ---- setup ---------------------------------------------------------------------------

  private buildChrome(): void {
    const s = this.session;
    $('title').textContent = `${s.file} · ${s.chip.name}${s.chips > 1 ? ` × ${s.chips} (${s.system?.name})` : ''}`;
    if (s.chips > 1) {
      const sel = $in<HTMLSelectElement>('chip');
      for (let c = 0; c < s.chips; c++) sel.append(option(c, `chip ${c}`));
      $('chip-wrap').hidden = false;
      sel.addEventListener('change', () => this.selectChip(Number(sel.value)));
    }
    const st = $in<HTMLSelectElement>('stream');
    for (let i = 0; i < 2 * s.chip.streamsPerDirection; i++) st.append(option(i, this.ins.core.plan.streamName(i)));
    st.addEventListener('change', () => {
      this.stream = Number(st.value);
      this.drawStreams();
    });
    // breakpoint form
    const kind = $in<HTMLSelectElement>('bp-kind');
    const fill = () => this.bpFormFields(kind.value);
    kind.addEventListener('change', fill);
    fill();
    $('bp-form').addEventListener('submit', (e) => {
      e.preventDefault();
      this.addFromForm(kind.value);
    });
    $('tl-fit').addEventListener('click', () => {
      this.timeline.fit(Math.max(this.m.frontier, this.m.haltCycle ?? 0, this.staticEnd));
      this.drawTimeline();
    });
    $in<HTMLSelectElement>('tensor').addEventListener('change', (e) => this.pickTensor((e.target as HTMLSelectElement).value));
    $in<HTMLSelectElement>('queue').addEventListener('change', (e) => this.selectQueue(Number((e.target as HTMLSelectElement).value)));
    $('hash').addEventListener('click', () => {
      $('hash').textContent = `state hash ${this.m.hash(this.chip)}`;
    });
    $('error').addEventListener('click', () => {
      const s2 = this.m.stop;
      if (s2.kind === 'error' && s2.chip !== undefined && s2.error) {
        if (s2.chip !== this.chip) this.selectChip(s2.chip);
        const q = this.ins.core.plan.queueByName.get(s2.error.queue);
        if (q) this.selectQueue(q.id);
      }
    });
  }

  private buildSource(): void {
    const box = $('source');
    $('source-name').textContent = this.session.source !== null ? this.session.sourceName : '(no source file: showing the listing only)';
    const text = this.session.source ?? '';
    const frag = document.createDocumentFragment();
    this.sourceLines = [];
    text.split('\n').forEach((line, i) => {
      const row = el('div', { class: 'ln', 'data-line': i + 1 }, el('span', { class: 'no' }, String(i + 1)), el('span', { class: 'tx' }, line || ' '));
      row.addEventListener('click', () => this.toggleLineBreakpoint(i + 1));
      this.sourceLines.push(row);
      frag.append(row);
    });
    box.replaceChildren(frag);
  }

  selectChip(c: number): void {
    this.chip = c;
    this.ins = new ChipInspector(this.m.cores[c], this.m.program(c));
    $in<HTMLSelectElement>('chip').value = String(c);
    const qs = $in<HTMLSelectElement>('queue');
    qs.replaceChildren(...this.ins.activeQueues().map((q) => option(q, this.ins.core.plan.queues[q].name)));
    const ts = $in<HTMLSelectElement>('tensor');
    ts.replaceChildren(option('', '(pick a tensor)'), ...this.ins.program.tensors.map((t) => option(t.name, `${t.name}  ${t.dtype}[${t.shape.join(',')}]`)));
    if (this.tensor.name && this.ins.program.tensors.some((t) => t.name === this.tensor.name)) ts.value = this.tensor.name;
    else {
      const out = this.ins.program.tensors.find((t) => t.output) ?? this.ins.program.tensors[0];
      this.tensor.name = out?.name ?? null;
      ts.value = this.tensor.name ?? '';
    }
    if (this.queue < 0 || !this.ins.queuePrograms[this.queue]) this.queue = this.ins.activeQueues()[0] ?? -1;
    this.selectQueue(this.queue);
    this.render(true);
  }

  selectQueue(q: number): void {
    this.queue = q;
    $in<HTMLSelectElement>('queue').value = String(q);
    this.buildListing();
    this.drawListing(true);
    this.drawSourceHighlights(true);
  }

  private pickTensor(name: string): void {
    this.tensor.name = name || null;
    this.tensor.row0 = 0;
    this.tensor.col0 = 0;
    $in<HTMLSelectElement>('tensor').value = name;
    this.tensor.draw(this.ins, this.chip, this.m.chips);
  }

  private pickFloor(h: FloorHit): void {
    if (h.kind === 'stream' && h.stream !== undefined) {
      this.stream = h.stream;
      $in<HTMLSelectElement>('stream').value = String(h.stream);
      this.drawStreams();
      return;
    }
    const q = this.ins.core.plan.queues.find((x) => x.position === h.position && this.ins.queuePrograms[x.id]);
    if (q) this.selectQueue(q.id);
  }

  // ---- controls --------------------------------------------------------------------------

  private n(): number {
    return Math.max(1, Math.floor(Number($in<HTMLInputElement>('n').value) || 1));
  }

  private bindControls(): void {
    $('b-reset').addEventListener('click', () => this.goTo(0));
    $('b-back').addEventListener('click', () => this.back(1));
    $('b-backn').addEventListener('click', () => this.back(this.n()));
    $('b-step').addEventListener('click', () => void this.step(1));
    $('b-stepn').addEventListener('click', () => void this.step(this.n()));
    $('b-run').addEventListener('click', () => void this.run());
    $('b-pause').addEventListener('click', () => this.pause());
    $('b-to').addEventListener('click', () => {
      const v = Number($in<HTMLInputElement>('to').value);
      if (!Number.isFinite(v) || v < 0) return;
      if (v <= this.m.frontier || v < this.m.cycle) this.goTo(v);
      else void this.run(v);
    });
    $in<HTMLInputElement>('to').addEventListener('keydown', (e) => {
      if (e.key === 'Enter') $('b-to').click();
    });
    const scrub = $in<HTMLInputElement>('scrub');
    scrub.addEventListener('input', () => {
      const first = this.scrubTo === null;
      this.scrubTo = Number(scrub.value);
      if (first) {
        requestAnimationFrame(() => {
          const t = this.scrubTo!;
          this.scrubTo = null;
          if (!this.running) {
            this.m.travel(Math.min(t, this.m.frontier));
            this.render(false);
          }
        });
      }
    });
    scrub.addEventListener('change', () => this.render(true));
    window.addEventListener('keydown', (e) => {
      const t = e.target as HTMLElement;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA')) return;
      if (e.key === 'ArrowRight') { e.preventDefault(); void this.step(e.shiftKey ? this.n() : 1); }
      else if (e.key === 'ArrowLeft') { e.preventDefault(); this.back(e.shiftKey ? this.n() : 1); }
      else if (e.key === 'Home') { e.preventDefault(); this.goTo(0); }
      else if (e.key === ' ') { e.preventDefault(); if (this.running) this.pause(); else void this.run(); }
    });
  }

  goTo(c: number): StopInfo {
    if (this.running) return this.m.stop;
    const s = c > this.m.frontier ? this.m.advance(c, false) : this.m.travel(c);
    this.afterStop(s);
    this.render(true);
    return s;
  }

  back(n: number): StopInfo {
    return this.goTo(Math.max(0, this.m.cycle - n));
  }

  step(n: number): Promise<StopInfo> {
    return this.runTo(this.m.cycle + n);
  }

  run(to = Infinity): Promise<StopInfo> {
    return this.runTo(to);
  }

  pause(): void {
    this.pauseReq = true;
  }

  private setRunning(on: boolean): void {
    this.running = on;
    for (const id of ['b-reset', 'b-back', 'b-backn', 'b-step', 'b-stepn', 'b-run', 'b-to']) ($(id) as HTMLButtonElement).disabled = on;
    ($('b-pause') as HTMLButtonElement).disabled = !on;
    $in<HTMLInputElement>('scrub').disabled = on;
    document.body.classList.toggle('running', on);
  }

  /** Runs towards `target` with breakpoints, in slices of about 12 ms, drawing between them. */
  async runTo(target: number): Promise<StopInfo> {
    const m = this.m;
    if (this.running) return m.stop;
    this.setRunning(true);
    this.pauseReq = false;
    this.hitBp = -1;
    const t0 = performance.now();
    const c0 = m.cycle;
    let s: StopInfo = m.stop;
    let first = true;
    try {
      for (;;) {
        const f0 = performance.now();
        do {
          const a = performance.now();
          s = m.advance(Math.min(target, m.cycle + this.chunk), true, first);
          first = false;
          const dt = performance.now() - a;
          if (dt < 2 && this.chunk < 1 << 20) this.chunk *= 2;
          else if (dt > 8 && this.chunk > 1) this.chunk = Math.max(1, this.chunk >> 1);
        } while (s.kind === 'ready' && m.cycle < target && performance.now() - f0 < 12 && !this.pauseReq);
        if (s.kind !== 'ready' || m.cycle >= target || this.pauseReq) break;
        this.showProgress(c0, target, t0);
        this.render(false);
        await nextFrame();
      }
    } finally {
      this.lastRun = { cycles: m.cycle - c0, ms: performance.now() - t0 };
      this.setRunning(false);
      $('progress').hidden = true;
    }
    this.afterStop(s);
    this.render(true);
    return s;
  }

  private showProgress(c0: number, target: number, t0: number): void {
    const p = $('progress');
    p.hidden = false;
    const rate = (this.m.cycle - c0) / Math.max(1e-3, (performance.now() - t0) / 1000);
    const bar = $('progress-bar');
    if (Number.isFinite(target)) bar.style.width = `${(100 * (this.m.cycle - c0)) / Math.max(1, target - c0)}%`;
    else bar.style.width = '100%';
    bar.classList.toggle('indeterminate', !Number.isFinite(target));
    $('progress-text').textContent = `running… cycle ${this.m.cycle}${Number.isFinite(target) ? ` of ${target}` : ''} · ${Math.round(rate).toLocaleString()} cycles/s`;
  }

  private afterStop(s: StopInfo): void {
    this.hitBp = s.kind === 'breakpoint' && s.breakpoint !== undefined ? this.bpOwner[s.breakpoint] ?? -1 : -1;
    if (s.kind === 'error' && s.chip !== undefined && s.chip !== this.chip) this.selectChip(s.chip);
    if (s.kind === 'error' && s.chip !== undefined) {
      const q = s.error ? this.ins.core.plan.queueByName.get(s.error.queue) : undefined;
      if (q && this.ins.queuePrograms[q.id]) this.selectQueue(q.id);
    }
    if (s.kind === 'breakpoint' && s.breakpoint !== undefined) {
      if (s.chip !== undefined && s.chip !== this.chip) this.selectChip(s.chip);
      const bp = this.flatBps[s.breakpoint];
      if (bp?.kind === 'QUEUE_PC' && this.ins.queuePrograms[bp.a]) this.selectQueue(bp.a);
    }
    this.drawBreakpoints();
  }

  // ---- breakpoints -----------------------------------------------------------------------

  private installBreakpoints(): void {
    const flat: Breakpoint[] = [];
    this.bpOwner = [];
    this.bps.forEach((b, i) => b.bps.forEach((x) => { flat.push(x); this.bpOwner.push(i); }));
    this.flatBps = flat;
    this.m.setBreakpoints(flat);
    this.drawBreakpoints();
    this.drawListing(true);
    this.drawSourceHighlights(true);
  }

  /** Adds a breakpoint; returns its index, or throws with a message. */
  addBreakpoint(spec: BreakpointSpec): number {
    const plan = this.ins.core.plan;
    const prog = this.ins.program;
    let ui: UiBreakpoint;
    switch (spec.kind) {
      case 'cycle':
        ui = { label: `cycle ${spec.cycle}`, bps: [{ kind: 'CYCLE', a: spec.cycle }] };
        break;
      case 'queue': {
        const q = plan.queueByName.get(spec.queue);
        if (!q) throw new Error(`no queue ${spec.queue}`);
        ui = { label: `${q.name} #${spec.pc}: ${this.ins.text(q.id, spec.pc)}`, bps: [{ kind: 'QUEUE_PC', a: q.id, b: spec.pc }] };
        break;
      }
      case 'line': {
        const bps: Breakpoint[] = [];
        for (const qp of prog.queues) {
          const q = plan.queueByName.get(qp.name);
          if (!q) continue;
          qp.lines.forEach((l, pc) => l.line === spec.line && bps.push({ kind: 'QUEUE_PC', a: q.id, b: pc }));
        }
        if (!bps.length) throw new Error(`line ${spec.line} has no instruction`);
        ui = { label: `line ${spec.line}`, bps };
        break;
      }
      case 'opcode': {
        const ins = INSTRUCTIONS.find((x) => x.mnemonic === spec.mnemonic.toUpperCase());
        if (!ins) throw new Error(`no instruction ${spec.mnemonic}`);
        ui = { label: `any ${ins.mnemonic}`, bps: [{ kind: 'OPCODE', a: ins.opcode }] };
        break;
      }
      case 'stream': {
        const id = plan.streamId(spec.stream);
        if (id === undefined) throw new Error(`no stream ${spec.stream}`);
        ui = { label: `write to stream ${spec.stream}`, bps: [{ kind: 'STREAM_WRITE', a: id }] };
        break;
      }
      case 'sram': {
        const si = plan.memSlices.findIndex((s) => s.name === spec.slice);
        if (si < 0) throw new Error(`no MEM slice ${spec.slice}`);
        const n = Math.max(1, spec.count ?? 1);
        ui = { label: `write to ${spec.slice}:${spec.addr}${n > 1 ? `..${spec.addr + n - 1}` : ''}`, bps: [{ kind: 'SRAM_WRITE', a: si, b: spec.addr, c: n }] };
        break;
      }
      case 'tensor': {
        const t = prog.tensors.find((x) => x.name === spec.tensor);
        if (!t) throw new Error(`no tensor ${spec.tensor}`);
        const bytes = ({ int8: 1, int16: 2, int32: 4, fp16: 2, bf16: 2, fp32: 4 } as Record<string, number>)[t.dtype];
        const pps = bytes / t.placement.length;
        const bps = t.placement.map((p) => ({ kind: 'SRAM_WRITE' as const, a: plan.memSlices.findIndex((s) => s.name === p.slice), b: p.addr, c: t.shape[0] * pps }));
        ui = { label: `write to tensor ${t.name}`, bps };
        break;
      }
    }
    const total = this.bps.reduce((n, b) => n + b.bps.length, 0) + ui.bps.length;
    if (total > 64) throw new Error('at most 64 core breakpoints (a source line or tensor may take several)');
    this.bps.push(ui);
    this.installBreakpoints();
    return this.bps.length - 1;
  }

  removeBreakpoint(i: number): void {
    this.bps.splice(i, 1);
    this.hitBp = -1;
    this.installBreakpoints();
  }

  clearBreakpoints(): void {
    this.bps = [];
    this.installBreakpoints();
  }

  private toggleLineBreakpoint(line: number): void {
    const i = this.bps.findIndex((b) => b.label === `line ${line}`);
    if (i >= 0) this.removeBreakpoint(i);
    else {
      try {
        this.addBreakpoint({ kind: 'line', line });
      } catch (e) {
        this.flash((e as Error).message);
      }
    }
  }

  private toggleQueueBreakpoint(q: number, pc: number): void {
    const i = this.bps.findIndex((b) => b.bps.length === 1 && b.bps[0].kind === 'QUEUE_PC' && b.bps[0].a === q && b.bps[0].b === pc);
    if (i >= 0) this.removeBreakpoint(i);
    else this.addBreakpoint({ kind: 'queue', queue: this.ins.core.plan.queues[q].name, pc });
  }

  private flash(msg: string): void {
    const f = $('flash');
    f.textContent = msg;
    f.hidden = false;
    setTimeout(() => (f.hidden = true), 2500);
  }

  private bpFormFields(kind: string): void {
    const box = $('bp-fields');
    const plan = this.ins.core.plan;
    const sel = (id: string, opts: [string, string][]) => el('select', { id }, ...opts.map(([v, l]) => option(v, l)));
    const num = (id: string, ph: string, v = '') => el('input', { id, type: 'number', min: 0, placeholder: ph, value: v });
    switch (kind) {
      case 'cycle': box.replaceChildren(num('bp-a', 'cycle', String(this.m.cycle + 10))); break;
      case 'queue': box.replaceChildren(sel('bp-a', this.ins.activeQueues().map((q) => [plan.queues[q].name, plan.queues[q].name])), num('bp-b', 'instruction #', '0')); break;
      case 'opcode': box.replaceChildren(sel('bp-a', INSTRUCTIONS.filter((i) => i.mnemonic !== 'REPEAT').map((i) => [i.mnemonic, i.mnemonic]))); break;
      case 'stream': box.replaceChildren(sel('bp-a', Array.from({ length: 2 * this.ins.core.chip.streamsPerDirection }, (_, i) => [plan.streamName(i), plan.streamName(i)]))); break;
      case 'sram': box.replaceChildren(sel('bp-a', plan.memSlices.map((s) => [s.name, s.name])), num('bp-b', 'address', '0'), num('bp-c', 'vectors', '1')); break;
      case 'tensor': box.replaceChildren(sel('bp-a', this.ins.program.tensors.map((t) => [t.name, t.name]))); break;
    }
  }

  private addFromForm(kind: string): void {
    const v = (id: string) => (document.getElementById(id) as HTMLInputElement | null)?.value ?? '';
    try {
      switch (kind) {
        case 'cycle': this.addBreakpoint({ kind: 'cycle', cycle: Number(v('bp-a')) }); break;
        case 'queue': this.addBreakpoint({ kind: 'queue', queue: v('bp-a'), pc: Number(v('bp-b')) }); break;
        case 'opcode': this.addBreakpoint({ kind: 'opcode', mnemonic: v('bp-a') }); break;
        case 'stream': this.addBreakpoint({ kind: 'stream', stream: v('bp-a') }); break;
        case 'sram': this.addBreakpoint({ kind: 'sram', slice: v('bp-a'), addr: Number(v('bp-b')), count: Number(v('bp-c')) || 1 }); break;
        case 'tensor': this.addBreakpoint({ kind: 'tensor', tensor: v('bp-a') }); break;
      }
    } catch (e) {
      this.flash((e as Error).message);
    }
  }

  private drawBreakpoints(): void {
    const ul = $('bp-list');
    if (!this.bps.length) {
      ul.replaceChildren(el('li', { class: 'muted' }, 'None. Click a source line or a listing row, or add one above.'));
      return;
    }
    ul.replaceChildren(...this.bps.map((b, i) => {
      const x = el('button', { class: 'x', title: 'remove' }, '×');
      x.addEventListener('click', () => this.removeBreakpoint(i));
      return el('li', { class: i === this.hitBp ? 'hit' : '' }, el('span', { class: 'dot' }, '●'), el('span', { class: 'lbl' }, b.label), x);
    }));
  }

  // ---- drawing ---------------------------------------------------------------------------

  /** Redraws; `full` also redraws the heavier panels (SRAM map, tensor) soon after. */
  render(full: boolean): void {
    const m = this.m;
    $('cycle').textContent = String(m.cycle);
    const end = m.haltCycle;
    $('cycle-of').textContent = end !== null ? ` / halted at ${end}` : m.frontier > m.cycle ? ` / run to ${m.frontier}` : '';
    const scrub = $in<HTMLInputElement>('scrub');
    const max = Math.max(m.frontier, this.staticEnd, m.haltCycle ?? 0);
    scrub.max = String(max);
    scrub.value = String(m.cycle);
    $('scrub-fill').style.width = `${(100 * m.frontier) / Math.max(1, max)}%`;
    this.drawStatus();
    this.floor.draw(m, this.ins, this.chip);
    this.drawTimeline();
    this.drawIssuing();
    this.drawListing(false);
    this.drawSourceHighlights(false);
    this.drawStreams();
    if (full) {
      clearTimeout(this.deferred);
      this.deferred = window.setTimeout(() => {
        this.sram.draw(this.m, this.ins, this.chip);
        this.tensor.draw(this.ins, this.chip, this.m.chips);
      }, 60) as unknown as number;
    }
    // the state hash covers all of SRAM (tens of ms on tsp-v1): computed on request
    $('hash').textContent = 'state hash';
    $('hash').title = 'compute the 64-bit state hash of this chip (Core.hash())';
  }

  private drawStatus(): void {
    const m = this.m;
    const s = m.stop;
    const st = $('status');
    const states = m.chipStates();
    let text: string;
    let cls: string;
    switch (s.kind) {
      case 'halted': text = 'halted'; cls = 'ok'; break;
      case 'breakpoint': text = `breakpoint${this.hitBp >= 0 ? `: ${this.bps[this.hitBp]?.label}` : ''}${m.chips > 1 ? ` (chip ${s.chip})` : ''}`; cls = 'bp'; break;
      case 'error': text = 'error'; cls = 'err'; break;
      default: text = this.running ? 'running' : 'ready'; cls = this.running ? 'run' : '';
    }
    if (m.chips > 1) text += ` · chips: ${states.map((x, i) => `${i}:${x === 'running' ? '▶' : x === 'halted' ? '■' : '✖'}`).join(' ')}`;
    st.textContent = text;
    st.className = `status ${cls}`;
    const err = $('error');
    if (s.kind === 'error') {
      err.hidden = false;
      err.textContent = `✖ ${s.message ?? 'error'}`;
    } else err.hidden = true;
    $('scrub-info').textContent = `recorded 0–${m.frontier} · ${m.snapshotCount} snapshots (${fmtBytes(m.snapshotBytes)}, every ${m.interval} cycles)${m.stats.restores ? ` · last restore ${m.stats.lastRestoreMs.toFixed(1)} ms + ${m.stats.replayedCycles} cycles replayed` : ''}${this.lastRun.cycles ? ` · last run ${this.lastRun.cycles} cycles in ${this.lastRun.ms.toFixed(0)} ms` : ''}`;
  }

  private drawTimeline(): void {
    this.timeline.draw(this.m, this.ins, this.chip);
  }

  private drawIssuing(): void {
    const box = $('issuing');
    const rows: HTMLElement[] = [];
    for (const q of this.ins.activeQueues()) {
      const st = this.ins.queue(q);
      if (!st.issuing) continue;
      const qq = this.ins.core.plan.queues[q];
      const line = this.ins.line(q, st.pc);
      const r = el('div', { class: `irow${q === this.queue ? ' sel' : ''}`, 'data-queue': qq.name },
        el('span', { class: `qn c-${qq.unit}` }, qq.name),
        el('span', { class: 'tx' }, this.ins.text(q, st.pc)),
        el('span', { class: 'lnref' }, line !== null ? `line ${line}` : ''));
      r.addEventListener('click', () => this.selectQueue(q));
      rows.push(r);
    }
    const c = this.ins.core;
    if (!rows.length) {
      let next = Infinity;
      let who = -1;
      for (const q of this.ins.activeQueues()) {
        const st = this.ins.queue(q);
        if (st.status === 1 && st.next < next) { next = st.next; who = q; }
      }
      rows.push(el('div', { class: 'muted' }, c.halted ? 'every queue has halted'
        : who >= 0 ? `no queue issues on this cycle; next: cycle ${next}, ${c.plan.queues[who].name} ${this.ins.text(who, this.ins.queue(who).pc)}` : 'no queue issues on this cycle'));
    }
    box.replaceChildren(...rows);
    $('issuing-count').textContent = `${rows.length && rows[0].classList.contains('irow') ? rows.length : 0} on cycle ${c.cycle}`;
  }

  private listingRows: HTMLElement[] = [];
  private listingPc = -1;
  private listingWindow = [0, 0];

  private buildListing(): void {
    this.listingRows = [];
    this.listingPc = -1;
    const box = $('listing');
    box.replaceChildren();
    this.listingWindow = [0, 0];
  }

  private drawListing(force: boolean): void {
    const q = this.queue;
    const qp = q >= 0 ? this.ins.queuePrograms[q] : null;
    const box = $('listing');
    const now = $('listing-now');
    if (!qp) {
      box.replaceChildren(el('div', { class: 'muted' }, 'no program on this queue'));
      now.textContent = '';
      return;
    }
    const st = this.ins.queue(q);
    const n = qp.code.length / 16;
    // render a window of rows around the pc (listings can be long)
    const W = 400;
    const lo = Math.max(0, Math.min(st.pc - W / 2, n - W));
    const hi = Math.min(n, lo + W);
    if (force || lo < this.listingWindow[0] || hi > this.listingWindow[1] || this.listingRows.length === 0) {
      const cycles = staticIssueCycles(qp);
      const bpSet = new Set(this.bps.flatMap((b) => b.bps.filter((x) => x.kind === 'QUEUE_PC' && x.a === q).map((x) => x.b!)));
      const frag = document.createDocumentFragment();
      this.listingRows = [];
      for (let pc = lo; pc < hi; pc++) {
        const line = qp.lines[pc]?.line;
        const row = el('div', { class: `row${bpSet.has(pc) ? ' bp' : ''}`, 'data-pc': pc },
          el('span', { class: 'g', title: 'toggle a breakpoint' }, '●'),
          el('span', { class: 'pc' }, String(pc)),
          el('span', { class: 'at' }, cycles[pc] === null ? '@?' : `@${cycles[pc]}`),
          el('span', { class: 'tx' }, this.ins.text(q, pc)),
          el('span', { class: 'lnref' }, line !== undefined ? `line ${line}` : ''));
        row.querySelector('.g')!.addEventListener('click', (e) => {
          e.stopPropagation();
          this.toggleQueueBreakpoint(q, pc);
        });
        row.addEventListener('click', () => {
          if (line !== undefined) this.scrollSource(line);
        });
        this.listingRows[pc] = row;
        frag.append(row);
      }
      box.replaceChildren(frag);
      this.listingWindow = [lo, hi];
      this.listingPc = -1;
    }
    if (this.listingPc !== st.pc || force) {
      this.listingRows[this.listingPc]?.classList.remove('cur');
      const row = this.listingRows[st.pc];
      row?.classList.add('cur');
      this.listingPc = st.pc;
      if (row) box.scrollTop = Math.max(0, row.offsetTop - box.clientHeight / 3);
    }
    this.listingRows.forEach((r) => r?.classList.remove('now'));
    if (st.issuing) this.listingRows[st.pc]?.classList.add('now');
    const line = this.ins.line(q, st.pc);
    const srcText = line !== null && this.session.source !== null ? this.session.source.split('\n')[line - 1]?.trim() : null;
    const state = st.status === 3 ? 'halted' : st.status === 2 ? 'parked in SYNC' : st.issuing ? `issues now (cycle ${this.ins.core.cycle})` : `next issue @${st.next}`;
    now.replaceChildren(
      el('div', {}, el('b', {}, `#${st.pc} `), el('span', { class: 'tx' }, st.pc < n ? this.ins.text(q, st.pc) : '(end)'), ` · ${state}${st.repLeft ? ` · ${st.repLeft} repeats left` : ''}`),
      el('div', { class: 'src' }, line !== null ? `line ${line}: ${srcText ?? ''}` : 'no source line'),
    );
  }

  private drawSourceHighlights(force: boolean): void {
    if (!this.sourceLines.length) return;
    const want = new Map<HTMLElement, string>();
    const add = (line: number | null, cls: string) => {
      if (line === null) return;
      const r = this.sourceLines[line - 1];
      if (r) want.set(r, `${want.get(r) ?? ''} ${cls}`);
    };
    for (const q of this.ins.activeQueues()) {
      const st = this.ins.queue(q);
      if (st.issuing) add(this.ins.line(q, st.pc), 'issuing');
    }
    let focus: number | null = null;
    if (this.queue >= 0) {
      const st = this.ins.queue(this.queue);
      focus = this.ins.line(this.queue, st.pc);
      add(focus, 'cur');
    }
    const s = this.m.stop;
    if (s.kind === 'error' && s.error && (s.chip === undefined || s.chip === this.chip)) {
      const q = this.ins.core.plan.queueByName.get(s.error.queue);
      if (q) {
        const l = this.ins.line(q.id, s.error.pc);
        add(l, 'err');
        focus = l;
      }
    }
    for (const b of this.bps) {
      for (const x of b.bps) if (x.kind === 'QUEUE_PC') add(this.ins.line(x.a, x.b!), 'bp');
    }
    for (const r of this.lit) if (!want.has(r)) r.className = 'ln';
    for (const [r, cls] of want) r.className = `ln${cls}`;
    this.lit = new Set(want.keys());
    if (focus !== null && (force || s.kind === 'error')) this.scrollSource(focus);
    else if (focus !== null) this.keepVisible(focus);
  }

  private scrollSource(line: number): void {
    const box = $('source');
    const r = this.sourceLines[line - 1];
    if (r) box.scrollTop = Math.max(0, r.offsetTop - box.clientHeight / 3);
  }

  private keepVisible(line: number): void {
    const box = $('source');
    const r = this.sourceLines[line - 1];
    if (!r) return;
    if (r.offsetTop < box.scrollTop || r.offsetTop > box.scrollTop + box.clientHeight - 20) this.scrollSource(line);
  }

  private drawStreams(): void {
    const box = $('streams');
    const plan = this.ins.core.plan;
    const all = this.ins.inFlight();
    const mine = all.filter((f) => f.stream === this.stream).sort((a, b) => a.position - b.position);
    const counts = new Map<number, number>();
    for (const f of all) counts.set(f.stream, (counts.get(f.stream) ?? 0) + 1);
    const busy = [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${plan.streamName(s)}×${n}`);
    const kids: HTMLElement[] = [el('div', { class: 'kv muted' }, `${all.length} values in flight${busy.length ? ': ' + busy.join(' ') : ''}`)];
    if (!mine.length) kids.push(el('div', { class: 'muted' }, `nothing on ${plan.streamName(this.stream)} on this cycle`));
    for (const f of mine.slice(0, 24)) {
      const wq = plan.queues[f.writerQueue];
      const slice = plan.slices.filter((s) => s.position === Math.floor(f.position)).map((s) => s.name).join('+');
      const bytes = this.ins.payload(f);
      const hex = Array.from(bytes.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
      kids.push(el('div', { class: 'flight' },
        el('div', {}, el('b', {}, `at ${slice || '?'} (${Number.isInteger(f.position) ? f.position : f.position.toFixed(2)})`), ` · from ${wq?.name ?? '?'} @${this.ins.writtenAt(f)}${f.writers > 1 ? ` (segment ${f.entry + 1} of ${f.writers})` : ''}: `, el('span', { class: 'tx' }, wq ? this.ins.text(wq.id, f.writerPc) : '?')),
        el('div', { class: 'hex' }, `lanes 0-15: ${hex}${bytes.length > 16 ? ' …' : ''}`)));
    }
    box.replaceChildren(...kids);
  }
}

async function boot(): Promise<void> {
  const status = $('status');
  try {
    const res = await fetch('/api/session');
    if (!res.ok) throw new Error(`GET /api/session: ${res.status}`);
    const session = (await res.json()) as Session;
    status.textContent = 'compiling the core…';
    const wasm = await WebAssembly.compileStreaming(fetch('/build/core.wasm'));
    const programs = session.programs.map((b) => decodeProgram(base64ToBytes(b), session.file));
    status.textContent = `placing ${session.chips > 1 ? `${session.chips} chips` : 'the program'}…`;
    const m = await Machine.create({
      chip: session.chip,
      programs,
      chipProgram: session.chipProgram,
      peer: session.system?.peer,
    }, wasm);
    const d = new Debugger(m, session);
    const api = {
      ready: true,
      machine: m,
      cycle: () => m.cycle,
      hash: (chip?: number) => m.hash(chip ?? d.chip),
      stop: () => m.stop,
      step: (n = 1) => d.step(n),
      run: (to?: number) => d.run(to ?? Infinity),
      pause: () => d.pause(),
      back: (n = 1) => d.back(n),
      goTo: (c: number) => d.goTo(c),
      chips: () => m.chips,
      selectChip: (c: number) => d.selectChip(c),
      selectQueue: (name: string) => {
        const q = m.cores[d.chip].plan.queueByName.get(name);
        if (!q) throw new Error(`no queue ${name}`);
        d.selectQueue(q.id);
      },
      addBreakpoint: (spec: BreakpointSpec) => d.addBreakpoint(spec),
      clearBreakpoints: () => d.clearBreakpoints(),
      stats: () => ({ ...m.stats, taken: m.stats.snapshots, interval: m.interval, snapshots: m.snapshotCount, snapshotBytes: m.snapshotBytes, frontier: m.frontier }),
      STOP,
    };
    (window as unknown as { sramflow: typeof api }).sramflow = api;
    document.body.classList.add('ready');
  } catch (e) {
    status.textContent = 'failed';
    status.className = 'status err';
    const err = $('error');
    err.hidden = false;
    err.textContent = `The debugger could not start: ${(e as Error).message}`;
    (window as unknown as { sramflow: unknown }).sramflow = { ready: false, error: String((e as Error).message) };
  }
}

void boot();
