// The SRAM occupancy map: one column per MEM slice (west to east), address running down in
// buckets of vectors; each tensor of the program's placement in its own colour, brighter where
// the program has written since cycle 0 (the snapshots' dirty vectors up to now).
import type { Machine } from './machine.js';
import type { ChipInspector } from './inspect.js';
import { colorFor, fitCanvas, fmtBytes } from './dom.js';
import { dtypeByName } from '../../isa/dtypes.js';

const LABEL_H = 16;
const MAP_H = 220;

export class SramView {
  private key = '';
  private owner = new Int32Array(0);
  private buckets = 1;
  private bucketSize = 1;
  private geom = { colW: 1, rowH: 1, x0: 30 };
  private ins: ChipInspector | null = null;
  private written = new Uint8Array(0);

  constructor(private readonly canvas: HTMLCanvasElement, private readonly tip: HTMLElement, private readonly info: HTMLElement, private readonly pick: (tensor: string) => void) {
    canvas.addEventListener('mousemove', (e) => this.hover(e));
    canvas.addEventListener('mouseleave', () => (this.tip.hidden = true));
    canvas.addEventListener('click', (e) => {
      const t = this.at(e)?.tensor;
      if (t) this.pick(t);
    });
  }

  /** Addresses shown: [0, span) (the used part of the slices, so that small programs show). */
  private span = 1;

  private prepare(ins: ChipInspector, chip: number): void {
    const key = `${chip}`;
    if (key === this.key) return;
    this.key = key;
    const V = ins.core.chip.memVectorsPerSlice;
    const slices = ins.core.plan.memSlices.length;
    let top = 0;
    for (const t of ins.program.tensors) {
      const pps = dtypeByName(t.dtype)!.bytes / t.placement.length;
      for (const p of t.placement) top = Math.max(top, p.addr + t.shape[0] * pps);
    }
    // round the used range up to 1, 2 or 5 x 10^k (at least 64 vectors, at most the slice)
    let span = 64;
    for (const k of [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000]) {
      if (64 * k >= top * 1.1) { span = 64 * k; break; }
      span = V;
    }
    this.span = Math.min(V, span);
    this.buckets = Math.min(this.span, MAP_H);
    this.bucketSize = Math.ceil(this.span / this.buckets);
    this.buckets = Math.ceil(this.span / this.bucketSize);
    this.owner = new Int32Array(slices * this.buckets).fill(-1);
    const sliceIndex = new Map(ins.core.plan.memSlices.map((s, i) => [s.name, i]));
    ins.program.tensors.forEach((t, ti) => {
      const bytes = dtypeByName(t.dtype)!.bytes;
      const pps = bytes / t.placement.length;
      for (const p of t.placement) {
        const si = sliceIndex.get(p.slice);
        if (si === undefined) continue;
        const lo = Math.floor(p.addr / this.bucketSize);
        const hi = Math.floor((p.addr + t.shape[0] * pps - 1) / this.bucketSize);
        for (let b = Math.max(0, lo); b <= Math.min(this.buckets - 1, hi); b++) this.owner[si * this.buckets + b] = ti;
      }
    });
  }

  draw(m: Machine, ins: ChipInspector, chip: number): void {
    this.ins = ins;
    this.prepare(ins, chip);
    const slices = ins.core.plan.memSlices;
    const { ctx, w } = fitCanvas(this.canvas, LABEL_H + MAP_H + 6);
    const x0 = 30;
    const colW = (w - x0 - 4) / slices.length;
    const rowH = MAP_H / this.buckets;
    this.geom = { colW, rowH, x0 };
    ctx.fillStyle = '#11151c';
    ctx.fillRect(0, 0, w, LABEL_H + MAP_H + 6);
    // written since cycle 0, per bucket
    const store = m.stores?.[chip];
    const written = new Uint8Array(slices.length * this.buckets);
    let writtenVectors = 0;
    let outside = 0;
    if (store) {
      const base = store.base >= 0 ? store.snaps[store.base].cycle : 0;
      const fw = store.firstWrite;
      const dirty = store.dirtyVectors();
      const V = ins.core.chip.memVectorsPerSlice;
      const mark = (v: number) => {
        const b = Math.floor((v % V) / this.bucketSize);
        if (b < this.buckets) written[Math.floor(v / V) * this.buckets + b] = 1;
        else outside++;
      };
      for (let v = 0; v < fw.length; v++) {
        if (fw[v] <= base) {
          mark(v);
          writtenVectors++;
        }
      }
      for (let i = 0; i < dirty.length; i++) {
        const v = dirty[i];
        if (!(fw[v] <= base)) writtenVectors++;
        mark(v);
      }
    }
    this.written = written;
    const tensors = ins.program.tensors;
    for (let s = 0; s < slices.length; s++) {
      for (let b = 0; b < this.buckets; b++) {
        const o = this.owner[s * this.buckets + b];
        const wr = written[s * this.buckets + b];
        if (o < 0 && !wr) continue;
        ctx.fillStyle = o >= 0 ? colorFor(tensors[o].name, 55, wr ? 62 : 32) : '#c8ccd4';
        ctx.fillRect(x0 + s * colW, LABEL_H + b * rowH, Math.max(1, colW - 0.5), Math.max(1, rowH));
      }
    }
    // slice labels: hemispheres
    ctx.fillStyle = '#9aa4b2';
    ctx.font = '10px ui-monospace, SFMono-Regular, Menlo, monospace';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    ctx.fillText(`${slices[0]?.name ?? ''}`, x0, LABEL_H / 2);
    ctx.textAlign = 'right';
    ctx.fillText(`${slices[slices.length - 1]?.name ?? ''}`, w - 4, LABEL_H / 2);
    ctx.textAlign = 'center';
    ctx.fillText('VXM', x0 + (slices.length / 2) * colW, LABEL_H / 2);
    ctx.strokeStyle = 'rgba(242,165,65,0.5)';
    ctx.beginPath();
    ctx.moveTo(x0 + (slices.length / 2) * colW, LABEL_H);
    ctx.lineTo(x0 + (slices.length / 2) * colW, LABEL_H + MAP_H);
    ctx.stroke();
    ctx.textAlign = 'right';
    ctx.fillText('0', x0 - 4, LABEL_H + 4);
    ctx.fillText(String(this.span), x0 - 4, LABEL_H + MAP_H - 4);
    const used = tensors.reduce((n, t) => n + t.shape[0] * t.shape[1] * dtypeByName(t.dtype)!.bytes, 0);
    const total = slices.length * ins.core.chip.memVectorsPerSlice * ins.core.chip.lanes;
    const V = ins.core.chip.memVectorsPerSlice;
    this.info.textContent = `addresses 0..${this.span - 1} of ${V} shown (${this.bucketSize} vector${this.bucketSize > 1 ? 's' : ''} a row) · ${tensors.length} tensors, ${fmtBytes(used)} of ${fmtBytes(total)} · ${writtenVectors} vectors written so far${outside ? ` (${outside} beyond the map)` : ''} · bright: written · click a tensor to inspect it`;
  }

  private at(e: MouseEvent): { slice: string; lo: number; hi: number; tensor: string | null; written: boolean } | null {
    const ins = this.ins;
    if (!ins) return null;
    const { colW, rowH, x0 } = this.geom;
    const s = Math.floor((e.offsetX - x0) / colW);
    const b = Math.floor((e.offsetY - LABEL_H) / rowH);
    const slices = ins.core.plan.memSlices;
    if (s < 0 || s >= slices.length || b < 0 || b >= this.buckets) return null;
    const o = this.owner[s * this.buckets + b];
    return {
      slice: slices[s].name, lo: b * this.bucketSize, hi: (b + 1) * this.bucketSize - 1,
      tensor: o >= 0 ? ins.program.tensors[o].name : null, written: this.written[s * this.buckets + b] === 1,
    };
  }

  private hover(e: MouseEvent): void {
    const a = this.at(e);
    if (!a) {
      this.tip.hidden = true;
      return;
    }
    this.tip.textContent = `${a.slice}  vectors ${a.lo}..${a.hi}\n${a.tensor ? `tensor ${a.tensor}` : 'no tensor'}${a.written ? ', written' : ''}`;
    this.tip.hidden = false;
    this.tip.style.left = `${Math.min(e.offsetX + 14, this.canvas.clientWidth - 200)}px`;
    this.tip.style.top = `${e.offsetY + 14}px`;
  }
}
