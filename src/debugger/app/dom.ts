// Small DOM helpers: the page has no framework.
export function $(id: string): HTMLElement {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from index.html`);
  return e;
}

export function $in<T extends HTMLElement>(id: string): T {
  return $(id) as T;
}

type Attrs = Record<string, string | number | boolean | null | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...kids: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = String(v);
    else if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

export function option(value: string | number, label: string): HTMLOptionElement {
  return el('option', { value: String(value) }, label);
}

export const UNIT_COLORS: Record<string, string> = {
  MEM: '#4f9dde',
  VXM: '#f2a541',
  MXM: '#b07cf0',
  SXM: '#52c28a',
  C2C: '#ef6461',
  ICU: '#7d8796',
};

/** A canvas sized to its CSS box at the device pixel ratio; returns a context in CSS pixels. */
export function fitCanvas(c: HTMLCanvasElement, cssHeight?: number): { ctx: CanvasRenderingContext2D; w: number; h: number } {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(50, Math.floor(c.clientWidth || c.parentElement?.clientWidth || 300));
  const h = Math.max(20, Math.floor(cssHeight ?? (c.clientHeight || 200)));
  if (cssHeight !== undefined) c.style.height = `${h}px`;
  if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
  }
  const ctx = c.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, w, h };
}

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

/** A hue per name, stable across runs. */
export function colorFor(name: string, s = 55, l = 55): string {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return `hsl(${(h >>> 0) % 360} ${s}% ${l}%)`;
}

export function nextFrame(): Promise<number> {
  return new Promise((r) => requestAnimationFrame(r));
}
