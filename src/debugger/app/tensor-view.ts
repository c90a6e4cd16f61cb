// The tensor inspector: a tensor by symbol name, its values now in its dtype, and the difference
// from a reference (the session's reference values) where one exists.
import type { ChipInspector } from './inspect.js';
import type { References } from './session-types.js';
import { el, fmtBytes } from './dom.js';
import { formatNumber } from './format.js';
import { dtypeByName } from '../../isa/dtypes.js';
import { fp16BitsToF32, bf16BitsToF32 } from '../../util/numerics.js';

/** Element i of little-endian `dtype` data (without decoding the whole tensor into an array). */
function elementAt(v: DataView, dtype: string, i: number): number {
  switch (dtype) {
    case 'int8': return v.getInt8(i);
    case 'int16': return v.getInt16(2 * i, true);
    case 'int32': return v.getInt32(4 * i, true);
    case 'fp16': return fp16BitsToF32(v.getUint16(2 * i, true));
    case 'bf16': return bf16BitsToF32(v.getUint16(2 * i, true));
    default: return v.getFloat32(4 * i, true);
  }
}

const ROWS = 8;
const COLS = 12;

export class TensorView {
  name: string | null = null;
  row0 = 0;
  col0 = 0;
  showDiff = false;

  constructor(private readonly root: HTMLElement, private readonly refs: References | null, private readonly refFile: string | null) {}

  private reference(name: string, chip: number, chips: number): number[] | null {
    if (!this.refs) return null;
    return this.refs[`${name}@${chip}`] ?? (chips === 1 || !Object.keys(this.refs).some((k) => k.startsWith(`${name}@`)) ? this.refs[name] ?? null : null);
  }

  draw(ins: ChipInspector, chip: number, chips: number): void {
    const root = this.root;
    root.replaceChildren();
    const name = this.name;
    if (!name) {
      root.append(el('p', { class: 'muted' }, 'Pick a tensor above or on the SRAM map.'));
      return;
    }
    const t = ins.program.tensors.find((x) => x.name === name);
    if (!t) {
      root.append(el('p', { class: 'muted' }, `No tensor "${name}" on this chip.`));
      return;
    }
    const d = dtypeByName(t.dtype)!;
    const bytes = ins.core.readTensorBytes(name);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const [rows, cols] = t.shape;
    const n = rows * cols;
    const at = (i: number) => elementAt(view, t.dtype, i);
    root.append(el('div', { class: 'kv' },
      el('b', {}, `${t.name}`), ` ${t.dtype}[${rows},${cols}] · ${fmtBytes(rows * cols * d.bytes)} · `,
      t.placement.map((p) => `${p.slice}:${p.addr}`).join(', '), t.output ? ' · output' : '', t.data ? ' · initialised' : ''));
    // summary
    let mn = Infinity;
    let mx = -Infinity;
    let sum = 0;
    let nan = 0;
    for (let i = 0; i < n; i++) {
      const v = at(i);
      if (Number.isNaN(v)) { nan++; continue; }
      if (v < mn) mn = v;
      if (v > mx) mx = v;
      sum += v;
    }
    root.append(el('div', { class: 'kv muted' },
      `min ${formatNumber(mn, d.float)} · max ${formatNumber(mx, d.float)} · mean ${formatNumber(sum / Math.max(1, n - nan), true)}${nan ? ` · ${nan} NaN` : ''}`));
    const ref = this.reference(name, chip, chips);
    let diff: Float64Array | null = null;
    if (!this.refs) {
      root.append(el('div', { class: 'kv ref none' }, 'No reference for this program: add a <program>.ref.json next to it (or pass --ref FILE) to compare values.'));
    } else if (!ref) {
      root.append(el('div', { class: 'kv ref none' }, `The reference file (${this.refFile}) has no values for "${name}".`));
    } else if (ref.length !== n) {
      root.append(el('div', { class: 'kv ref bad' }, `The reference for "${name}" has ${ref.length} values; the tensor has ${n}.`));
    } else {
      diff = new Float64Array(n);
      let worst = 0;
      let where = -1;
      let mism = 0;
      for (let i = 0; i < n; i++) {
        const v = at(i);
        const x = v - ref[i];
        const a = Number.isNaN(x) ? (Number.isNaN(v) && Number.isNaN(ref[i]) ? 0 : Infinity) : Math.abs(x);
        diff[i] = Number.isNaN(v) && Number.isNaN(ref[i]) ? 0 : x;
        if (a > 0) mism++;
        if (a > worst) { worst = a; where = i; }
      }
      root.append(el('div', { class: `kv ref ${mism ? 'bad' : 'ok'}` },
        mism === 0
          ? `equal to the reference (${this.refFile}) in all ${n} values`
          : `differs from the reference in ${mism} of ${n} values; max |Δ| ${formatNumber(worst, true)} at [${Math.floor(where / cols)},${where % cols}]`));
    }
    // the grid
    const nav = el('div', { class: 'tnav' });
    const mk = (label: string, fn: () => void) => {
      const b = el('button', {}, label);
      b.addEventListener('click', () => { fn(); this.draw(ins, chip, chips); });
      return b;
    };
    this.row0 = Math.max(0, Math.min(this.row0, rows - 1));
    this.col0 = Math.max(0, Math.min(this.col0, cols - 1));
    nav.append(
      mk('▲', () => (this.row0 = Math.max(0, this.row0 - ROWS))), mk('▼', () => (this.row0 = Math.min(rows - 1, this.row0 + ROWS))),
      mk('◀', () => (this.col0 = Math.max(0, this.col0 - COLS))), mk('▶', () => (this.col0 = Math.min(cols - 1, this.col0 + COLS))),
      el('span', { class: 'muted' }, ` rows ${this.row0}..${Math.min(rows, this.row0 + ROWS) - 1}, cols ${this.col0}..${Math.min(cols, this.col0 + COLS) - 1} `),
    );
    if (diff) {
      const cb = el('input', { type: 'checkbox', id: 'tdiff' }) as HTMLInputElement;
      cb.checked = this.showDiff;
      cb.addEventListener('change', () => { this.showDiff = cb.checked; this.draw(ins, chip, chips); });
      nav.append(el('label', {}, cb, ' show Δ'));
    }
    root.append(nav);
    const table = el('table', { class: 'vals' });
    const head = el('tr', {}, el('th', {}, ''));
    for (let c = this.col0; c < Math.min(cols, this.col0 + COLS); c++) head.append(el('th', {}, String(c)));
    table.append(head);
    for (let r = this.row0; r < Math.min(rows, this.row0 + ROWS); r++) {
      const tr = el('tr', {}, el('th', {}, String(r)));
      for (let c = this.col0; c < Math.min(cols, this.col0 + COLS); c++) {
        const i = r * cols + c;
        const value = at(i);
        const bad = diff !== null && diff[i] !== 0;
        const v = this.showDiff && diff ? diff[i] : value;
        tr.append(el('td', { class: bad ? 'bad' : '', title: diff ? `value ${value}, reference ${ref![i]}` : String(value) }, formatNumber(v, d.float || (this.showDiff && !!diff))));
      }
      table.append(tr);
    }
    root.append(table);
  }
}
