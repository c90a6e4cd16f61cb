// The floorplan: slices west to east as columns; a unit strip; one row per superlane lit where
// the slice issues (superlane s runs s cycles behind superlane 0, so row s shows the issues of
// cycle - s); then every stream as a row, with the values in flight drawn at their position now.
import type { Machine } from './machine.js';
import type { ChipInspector, InFlight } from './inspect.js';
import { UNIT_COLORS, fitCanvas } from './dom.js';

const LABEL_W = 92;
const UNIT_H = 22;
const GAP = 8;

export interface FloorHit {
  kind: 'slice' | 'stream';
  position: number;
  stream?: number;
  value?: InFlight;
}

export class FloorplanView {
  private flights: InFlight[] = [];
  private geom = { colW: 1, slRowH: 4, stRowH: 3, slY: 0, eY: 0, wY: 0, h: 0 };

  constructor(private readonly canvas: HTMLCanvasElement, private readonly tip: HTMLElement, private readonly onPick: (hit: FloorHit) => void) {
    canvas.addEventListener('mousemove', (e) => this.hover(e));
    canvas.addEventListener('mouseleave', () => (this.tip.hidden = true));
    canvas.addEventListener('click', (e) => {
      const h = this.hitAt(e);
      if (h) this.onPick(h);
    });
  }

  private ins: ChipInspector | null = null;

  draw(m: Machine, ins: ChipInspector, chip: number): void {
    this.ins = ins;
    const core = ins.core;
    const plan = core.plan;
    const P = plan.positions;
    const SL = core.chip.superlanes;
    const S = core.chip.streamsPerDirection;
    const slRowH = SL > 24 ? 3 : SL > 12 ? 5 : 8;
    const stRowH = S > 24 ? 3 : S > 8 ? 5 : 8;
    const height = UNIT_H + SL * slRowH + GAP + 2 * S * stRowH + GAP + 4;
    const { ctx, w } = fitCanvas(this.canvas, height);
    const colW = (w - LABEL_W) / P;
    const slY = UNIT_H;
    const eY = slY + SL * slRowH + GAP;
    const wY = eY + S * stRowH;
    this.geom = { colW, slRowH, stRowH, slY, eY, wY, h: height };
    ctx.fillStyle = '#11151c';
    ctx.fillRect(0, 0, w, height);
    // unit strip
    ctx.font = '10px ui-monospace, SFMono-Regular, Menlo, monospace';
    ctx.textBaseline = 'middle';
    for (const s of plan.slices) {
      const x = LABEL_W + s.position * colW;
      ctx.fillStyle = UNIT_COLORS[s.unit];
      ctx.globalAlpha = s.unit === 'MEM' ? 0.35 : 0.8;
      ctx.fillRect(x + 0.5, 2, Math.max(1, colW - 1), UNIT_H - 6);
      ctx.globalAlpha = 1;
    }
    ctx.fillStyle = '#e6e9ef';
    ctx.textAlign = 'center';
    for (const s of plan.slices) {
      if (s.unit === 'MEM' || s.unit === 'C2C') continue;
      const x = LABEL_W + (s.position + 0.5) * colW;
      const label = colW >= 34 ? s.name : s.unit === 'VXM' ? 'VXM' : '';
      if (label) ctx.fillText(label, x, UNIT_H / 2 - 1);
    }
    // MEM slice names every few slices
    ctx.fillStyle = '#c3cad5';
    const every = Math.max(1, Math.ceil(26 / colW));
    for (const s of plan.slices) {
      if (s.unit !== 'MEM') continue;
      const i = Number(s.name.slice(5));
      if (i % every !== 0 || i === 0) continue;
      ctx.fillText(s.name.slice(4), LABEL_W + (s.position + 0.5) * colW, UNIT_H / 2 - 1);
    }
    ctx.textAlign = 'right';
    ctx.fillStyle = '#9aa4b2';
    ctx.fillText('W  slices  E', LABEL_W - 6, UNIT_H / 2 - 1);
    ctx.fillText(`superlane 0`, LABEL_W - 6, slY + slRowH / 2);
    ctx.fillText(`${SL - 1}`, LABEL_W - 6, slY + (SL - 0.5) * slRowH);
    ctx.fillText(`E0-E${S - 1} →`, LABEL_W - 6, eY + (S * stRowH) / 2);
    ctx.fillText(`← W0-W${S - 1}`, LABEL_W - 6, wY + (S * stRowH) / 2);
    // grid backgrounds
    ctx.fillStyle = '#171c25';
    ctx.fillRect(LABEL_W, slY, w - LABEL_W, SL * slRowH);
    ctx.fillStyle = '#141922';
    ctx.fillRect(LABEL_W, eY, w - LABEL_W, S * stRowH);
    ctx.fillStyle = '#161b24';
    ctx.fillRect(LABEL_W, wY, w - LABEL_W, S * stRowH);
    const vxm = plan.slices.find((s) => s.unit === 'VXM');
    if (vxm) {
      ctx.fillStyle = 'rgba(242,165,65,0.08)';
      ctx.fillRect(LABEL_W + vxm.position * colW, slY, colW, height - slY);
    }
    // superlane wave: row s lit where the slice issued on cycle - s (row 0: issuing now)
    const c = core.cycle;
    const unitAt = plan.queues.map((q) => q.unit);
    const posOf = plan.queues.map((q) => q.position);
    const lit = (row: number, pos: number, unit: string, alpha: number) => {
      ctx.globalAlpha = alpha;
      ctx.fillStyle = UNIT_COLORS[unit];
      ctx.fillRect(LABEL_W + pos * colW + 0.5, slY + row * slRowH + 0.5, Math.max(1, colW - 1), slRowH - 1);
    };
    for (const q of ins.activeQueues()) {
      const st = ins.queue(q);
      if (st.issuing) lit(0, posOf[q], unitAt[q], 1);
    }
    const h = m.histories[chip];
    if (h.length) {
      const from = h.lowerBound(c - SL + 1);
      for (let i = from; i < h.length && h.cycles[i] < c; i++) {
        const row = c - h.cycles[i];
        const q = h.queues[i];
        lit(row, posOf[q], unitAt[q], 1 - row / (SL + 4));
      }
    }
    ctx.globalAlpha = 1;
    // values in flight
    this.flights = ins.inFlight();
    for (const f of this.flights) {
      const east = f.stream < S;
      const row = east ? f.stream : f.stream - S;
      const y = (east ? eY : wY) + row * stRowH;
      const wq = plan.queues[f.writerQueue];
      ctx.fillStyle = UNIT_COLORS[wq?.unit ?? 'ICU'];
      const x = LABEL_W + f.position * colW;
      ctx.fillRect(x + 0.5, y + 0.5, Math.max(2, colW - 1), Math.max(1, stRowH - 1));
      // a short tail behind the value shows where it came from
      ctx.globalAlpha = 0.25;
      const tail = Math.min(3, Math.abs(f.position - f.writerPosition));
      ctx.fillRect(east ? x - tail * colW : x + colW, y + 0.5, tail * colW, Math.max(1, stRowH - 1));
      ctx.globalAlpha = 1;
    }
    // slice separators every 4 MEM slices, hemisphere divider
    ctx.strokeStyle = 'rgba(255,255,255,0.05)';
    ctx.beginPath();
    for (let p = 0; p <= P; p += 4) {
      const x = LABEL_W + p * colW + 0.5;
      ctx.moveTo(x, slY);
      ctx.lineTo(x, height - 4);
    }
    ctx.stroke();
    ctx.strokeStyle = 'rgba(255,255,255,0.18)';
    ctx.beginPath();
    ctx.moveTo(LABEL_W, wY + 0.5);
    ctx.lineTo(w, wY + 0.5);
    ctx.stroke();
  }

  get valuesInFlight(): number {
    return this.flights.length;
  }

  private hitAt(e: MouseEvent): FloorHit | null {
    if (!this.ins) return null;
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const g = this.geom;
    if (x < LABEL_W) return null;
    const pos = Math.floor((x - LABEL_W) / g.colW);
    const S = this.ins.core.chip.streamsPerDirection;
    if (y >= g.eY && y < g.wY + S * g.stRowH) {
      const stream = y < g.wY ? Math.floor((y - g.eY) / g.stRowH) : S + Math.floor((y - g.wY) / g.stRowH);
      const value = this.flights.find((f) => f.stream === stream && Math.abs(f.position - pos) < 1);
      return { kind: 'stream', position: pos, stream, value };
    }
    return { kind: 'slice', position: pos };
  }

  private hover(e: MouseEvent): void {
    const h = this.hitAt(e);
    const ins = this.ins;
    if (!h || !ins) {
      this.tip.hidden = true;
      return;
    }
    const plan = ins.core.plan;
    const slice = plan.slices.filter((s) => s.position === h.position).map((s) => s.name).join(' + ');
    const lines: string[] = [`${slice || '-'}  (position ${h.position})`];
    if (h.kind === 'stream') {
      lines.push(`stream ${plan.streamName(h.stream!)}`);
      if (h.value) {
        const f = h.value;
        const wq = plan.queues[f.writerQueue];
        lines.push(`value written by ${wq?.name ?? '?'} at position ${f.writerPosition}, cycle ${ins.writtenAt(f)}`);
        if (wq) lines.push(`  ${ins.text(wq.id, f.writerPc)}`);
      }
    } else {
      for (const q of plan.queues) {
        if (q.position !== h.position || !ins.queuePrograms[q.id]) continue;
        const st = ins.queue(q.id);
        const what = st.status === 3 ? 'halted' : st.status === 2 ? 'parked (SYNC)' : `${st.issuing ? 'issues now' : `next @${st.next}`}: ${ins.text(q.id, st.pc)}`;
        lines.push(`${q.name}  ${what}`);
      }
    }
    this.tip.textContent = lines.join('\n');
    this.tip.hidden = false;
    const r = this.canvas.getBoundingClientRect();
    const px = e.clientX - r.left;
    this.tip.style.left = `${Math.min(px + 14, r.width - 260)}px`;
    this.tip.style.top = `${e.clientY - r.top + 14}px`;
  }
}
