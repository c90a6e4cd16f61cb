// The timeline: one row per queue with a program, time running right; each instruction issue a
// bar as long as its issue cycles, coloured by unit (from the issue history, i.e. the core's TRACE
// ring). Wheel zooms around the pointer, dragging pans, a click goes to that cycle. Cycles not run
// yet are shaded; small ticks on the axis mark the snapshots.
import type { Machine } from './machine.js';
import type { ChipInspector } from './inspect.js';
import { UNIT_COLORS, fitCanvas } from './dom.js';
import { decodeAt } from './format.js';
import { issueCycles, instructionByOpcode } from '../../isa/table.js';

const LABEL_W = 70;
const AXIS_H = 18;
const UNITS = ['ICU', 'MEM', 'VXM', 'MXM', 'SXM', 'C2C'];

export class TimelineView {
  v0 = 0;
  v1 = 100;
  /** Follow the current cycle while running. */
  follow = true;
  private drag: { x: number; v0: number; v1: number; moved: boolean } | null = null;
  private rows: number[] = [];
  private rowOf = new Int32Array(0);
  /** Per queue: unit index and issue cycles of each pc. */
  private unitOfPc: Uint8Array[] = [];
  private durOfPc: Int32Array[] = [];
  private key = '';
  private m: Machine | null = null;
  private ins: ChipInspector | null = null;
  private chip = 0;
  private extent = 100;

  constructor(private readonly canvas: HTMLCanvasElement, private readonly tip: HTMLElement, private readonly goTo: (cycle: number) => void) {
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      const c = this.cycleAt(e.offsetX);
      const f = Math.exp(e.deltaY * 0.0015);
      this.setView(c - (c - this.v0) * f, c + (this.v1 - c) * f);
      this.follow = false;
    }, { passive: false });
    canvas.addEventListener('mousedown', (e) => (this.drag = { x: e.offsetX, v0: this.v0, v1: this.v1, moved: false }));
    window.addEventListener('mouseup', (e) => {
      const d = this.drag;
      this.drag = null;
      if (d && !d.moved && e.target === canvas) this.goTo(Math.max(0, Math.round(this.cycleAt(e.offsetX))));
    });
    canvas.addEventListener('mousemove', (e) => {
      const d = this.drag;
      if (d) {
        const dx = e.offsetX - d.x;
        if (Math.abs(dx) > 3) d.moved = true;
        if (d.moved) {
          const per = (d.v1 - d.v0) / Math.max(1, this.canvas.clientWidth - LABEL_W);
          this.setView(d.v0 - dx * per, d.v1 - dx * per);
          this.follow = false;
        }
      }
      this.hover(e);
    });
    canvas.addEventListener('mouseleave', () => (this.tip.hidden = true));
  }

  private setView(a: number, b: number): void {
    const span = Math.max(8, Math.min(b - a, Math.max(this.extent * 4, 64)));
    const mid = (a + b) / 2;
    this.v0 = mid - span / 2;
    this.v1 = mid + span / 2;
    if (this.m && this.ins) this.draw(this.m, this.ins, this.chip);
  }

  fit(extent: number): void {
    this.extent = Math.max(16, extent);
    this.v0 = -this.extent * 0.01;
    this.v1 = this.extent * 1.02;
    this.follow = true;
  }

  private cycleAt(x: number): number {
    const w = this.canvas.clientWidth - LABEL_W;
    return this.v0 + ((x - LABEL_W) / Math.max(1, w)) * (this.v1 - this.v0);
  }

  private prepare(ins: ChipInspector, chip: number): void {
    const key = `${chip}`;
    if (key === this.key) return;
    this.key = key;
    this.rows = ins.activeQueues();
    this.rowOf = new Int32Array(ins.core.plan.queues.length).fill(-1);
    this.rows.forEach((q, i) => (this.rowOf[q] = i));
    this.unitOfPc = [];
    this.durOfPc = [];
    ins.queuePrograms.forEach((qp, q) => {
      if (!qp) return;
      const n = qp.code.length / 16;
      const u = new Uint8Array(n);
      const d = new Int32Array(n);
      for (let pc = 0; pc < n; pc++) {
        const x = decodeAt(qp.code, pc)!;
        u[pc] = Math.max(0, UNITS.indexOf(instructionByOpcode(x.op)?.unit ?? 'ICU'));
        d[pc] = issueCycles(x.op, x.dtype, x.a);
      }
      this.unitOfPc[q] = u;
      this.durOfPc[q] = d;
    });
  }

  draw(m: Machine, ins: ChipInspector, chip: number): void {
    this.m = m;
    this.ins = ins;
    this.chip = chip;
    this.prepare(ins, chip);
    const n = Math.max(1, this.rows.length);
    const rowH = Math.max(3, Math.min(14, Math.floor(240 / n)));
    const height = AXIS_H + n * rowH + 4;
    const { ctx, w } = fitCanvas(this.canvas, height);
    const cur = m.cycle;
    if (this.follow && (cur > this.v1 || cur < this.v0)) {
      const span = this.v1 - this.v0;
      this.v0 = cur - span * 0.1;
      this.v1 = this.v0 + span;
    }
    const W = w - LABEL_W;
    const sx = W / (this.v1 - this.v0);
    const X = (c: number) => LABEL_W + (c - this.v0) * sx;
    ctx.fillStyle = '#11151c';
    ctx.fillRect(0, 0, w, height);
    // rows
    ctx.font = '10px ui-monospace, SFMono-Regular, Menlo, monospace';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    this.rows.forEach((q, i) => {
      const y = AXIS_H + i * rowH;
      if (i % 2 === 0) {
        ctx.fillStyle = '#151a23';
        ctx.fillRect(LABEL_W, y, W, rowH);
      }
      if (rowH >= 8) {
        ctx.fillStyle = UNIT_COLORS[ins.core.plan.queues[q].unit];
        ctx.fillText(ins.core.plan.queues[q].name, LABEL_W - 5, y + rowH / 2);
      }
    });
    // not run yet
    const fr = m.histories[chip].frontier;
    if (X(fr) < w) {
      ctx.fillStyle = 'rgba(255,255,255,0.035)';
      ctx.fillRect(Math.max(LABEL_W, X(fr)), AXIS_H, w - Math.max(LABEL_W, X(fr)), n * rowH);
    }
    // issues
    const h = m.histories[chip];
    const from = h.lowerBound(Math.floor(this.v0) - 64);
    const to = h.lowerBound(Math.ceil(this.v1) + 1);
    const colors = UNITS.map((u) => UNIT_COLORS[u]);
    if (to - from > 4 * W * n || sx < 0.5) {
      // dense: one cell per pixel column and row, the last unit wins
      const occ = new Uint8Array(W * n);
      for (let i = from; i < to; i++) {
        const q = h.queues[i];
        const r = this.rowOf[q];
        if (r < 0) continue;
        const pc = h.pcs[i];
        const d = Math.max(1, this.durOfPc[q][pc]);
        const a = Math.max(0, Math.floor((h.cycles[i] - this.v0) * sx));
        const b = Math.min(W - 1, Math.floor((h.cycles[i] + d - this.v0) * sx));
        const u = this.unitOfPc[q][pc] + 1;
        if (u === 1) continue; // control: not unit activity
        for (let x = a; x <= b; x++) occ[r * W + x] = u;
      }
      for (let r = 0; r < n; r++) {
        let x = 0;
        while (x < W) {
          const u = occ[r * W + x];
          if (!u) { x++; continue; }
          let e = x + 1;
          while (e < W && occ[r * W + e] === u) e++;
          ctx.fillStyle = colors[u - 1];
          ctx.fillRect(LABEL_W + x, AXIS_H + r * rowH + 1, e - x, rowH - 1);
          x = e;
        }
      }
    } else {
      for (let i = from; i < to; i++) {
        const q = h.queues[i];
        const r = this.rowOf[q];
        if (r < 0) continue;
        const pc = h.pcs[i];
        const d = this.durOfPc[q][pc];
        const u = this.unitOfPc[q][pc];
        const x = X(h.cycles[i]);
        const bw = Math.max(1, d * sx - (sx > 4 ? 1 : 0));
        if (x + bw < LABEL_W || x > w) continue;
        if (u === 0) {
          // control (NOP waits, REPEAT, SYNC, HALT): a thin dim line, not a busy unit
          ctx.fillStyle = 'rgba(125,135,150,0.45)';
          ctx.fillRect(Math.max(LABEL_W, x), AXIS_H + r * rowH + rowH / 2 - 0.5, bw, 1);
          if (d === 0) ctx.fillRect(x, AXIS_H + r * rowH + 2, 1.5, rowH - 3);
          continue;
        }
        ctx.fillStyle = colors[u];
        ctx.fillRect(Math.max(LABEL_W, x), AXIS_H + r * rowH + 1, bw, rowH - 1);
      }
    }
    // axis
    ctx.fillStyle = '#0d1016';
    ctx.fillRect(0, 0, w, AXIS_H);
    ctx.fillStyle = '#9aa4b2';
    ctx.textAlign = 'center';
    const span = this.v1 - this.v0;
    const step = Math.pow(10, Math.floor(Math.log10(span / 6)));
    const tick = span / step > 30 ? step * 5 : span / step > 12 ? step * 2 : step;
    ctx.strokeStyle = 'rgba(255,255,255,0.07)';
    ctx.beginPath();
    for (let t = Math.ceil(this.v0 / tick) * tick; t <= this.v1; t += tick) {
      if (t < 0) continue;
      const x = X(t);
      if (x < LABEL_W) continue;
      ctx.fillText(String(Math.round(t)), x, AXIS_H / 2);
      ctx.moveTo(Math.round(x) + 0.5, AXIS_H);
      ctx.lineTo(Math.round(x) + 0.5, height);
    }
    ctx.stroke();
    ctx.textAlign = 'right';
    ctx.fillText('cycle', LABEL_W - 5, AXIS_H / 2);
    // snapshots
    ctx.fillStyle = '#56627a';
    for (const s of m.snapshotCycles()) {
      const x = X(s);
      if (x >= LABEL_W && x <= w) ctx.fillRect(x - 1, AXIS_H - 4, 2, 4);
    }
    // current cycle
    const x = X(cur);
    if (x >= LABEL_W && x <= w) {
      ctx.fillStyle = 'rgba(255,94,98,0.18)';
      ctx.fillRect(x, AXIS_H, Math.max(1.5, sx), n * rowH);
      ctx.fillStyle = '#ff5e62';
      ctx.fillRect(x - 0.5, 0, 1.5, height);
    }
  }

  private hover(e: MouseEvent): void {
    const m = this.m;
    const ins = this.ins;
    if (!m || !ins || e.offsetX < LABEL_W) {
      this.tip.hidden = true;
      return;
    }
    const n = Math.max(1, this.rows.length);
    const rowH = Math.max(3, Math.min(14, Math.floor(240 / n)));
    const r = Math.floor((e.offsetY - AXIS_H) / rowH);
    const c = Math.floor(this.cycleAt(e.offsetX));
    const lines = [`cycle ${c}`];
    if (r >= 0 && r < this.rows.length) {
      const q = this.rows[r];
      lines.push(ins.core.plan.queues[q].name);
      const h = m.histories[this.chip];
      for (let i = h.lowerBound(c - 64); i < h.length && h.cycles[i] <= c; i++) {
        if (h.queues[i] !== q) continue;
        const d = Math.max(1, this.durOfPc[q][h.pcs[i]]);
        if (h.cycles[i] + d > c) lines.push(`@${h.cycles[i]}  ${ins.text(q, h.pcs[i])}`);
      }
    }
    this.tip.textContent = lines.join('\n');
    this.tip.hidden = false;
    const rect = this.canvas.getBoundingClientRect();
    this.tip.style.left = `${Math.min(e.offsetX + 14, rect.width - 260)}px`;
    this.tip.style.top = `${e.offsetY + 14}px`;
  }
}
