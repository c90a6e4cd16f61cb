// A dependency-free SVG line-chart writer for sweep plots (tokens/s against batch, context or
// chip count): several series, a linear or log2 x axis, a linear or log10 y axis, ticks, axis
// labels, a title, a legend and an optional marked crossover point. Output is deterministic: the
// same chart gives the same bytes (coordinates rounded to 0.01, numbers in fixed forms, no dates
// or random ids), so plots can be committed and compared.

export type XScale = 'linear' | 'log2';
export type YScale = 'linear' | 'log10';

export interface ChartSeries {
  name: string;
  /** [x, y] points; drawn in x order. Non-finite points, and points <= 0 on a log axis, are gaps. */
  points: readonly (readonly [number, number])[];
  /** A CSS colour (default: from a fixed palette, by position). */
  color?: string;
  dashed?: boolean;
}

export interface ChartPoint {
  x: number;
  y: number;
  /** Text beside the mark (default: none). */
  label?: string;
}

export interface LineChart {
  title: string;
  /** A second line under the title (e.g. "analytical, not emulated"). */
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  xScale?: XScale;
  yScale?: YScale;
  /** Linear y axes start at 0 unless the data go below it (default true). */
  yFromZero?: boolean;
  series: readonly ChartSeries[];
  /** A point to mark with a ring, a dashed line down to the x axis and its label. */
  crossover?: ChartPoint | null;
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Text and attribute values, escaped for XML. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!).replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, '');
}

/** A coordinate: rounded to 0.01, no "-0", no exponent. */
function c(n: number): string {
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) || r === 0 ? '0' : String(r);
}

/** A tick label: integers as they are below 10,000; k, M, G, T above; otherwise 3 significant digits. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  if (a >= 1e4) {
    for (const [u, s] of units) if (a >= u) return `${String(Number((v / u).toPrecision(3)))}${s}`;
  }
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(3)));
}

interface Axis {
  min: number;
  max: number;
  ticks: number[];
  /** Data value -> 0..1 along the axis. */
  frac: (v: number) => number;
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function clean(v: number): number {
  return Number(v.toPrecision(12));
}

function linearAxis(lo: number, hi: number): Axis {
  if (lo === hi) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const step = niceStep((hi - lo) / 5);
  const min = clean(Math.floor(lo / step) * step);
  const max = clean(Math.ceil(hi / step) * step);
  const ticks: number[] = [];
  for (let k = Math.round(min / step); k <= Math.round(max / step); k++) ticks.push(clean(k * step));
  return { min, max, ticks, frac: (v) => (v - min) / (max - min) };
}

function log2Axis(lo: number, hi: number): Axis {
  let a = Math.floor(Math.log2(lo));
  let b = Math.ceil(Math.log2(hi));
  if (a === b) {
    a -= 1;
    b += 1;
  }
  const every = Math.max(1, Math.ceil((b - a) / 12));
  const ticks: number[] = [];
  for (let k = a; k <= b; k += every) ticks.push(2 ** k);
  return { min: 2 ** a, max: 2 ** b, ticks, frac: (v) => (Math.log2(v) - a) / (b - a) };
}

function log10Axis(lo: number, hi: number): Axis {
  let a = Math.floor(Math.log10(lo));
  let b = Math.ceil(Math.log10(hi));
  if (a === b) b += 1;
  const ticks: number[] = [];
  const minor = b - a <= 2 ? [1, 2, 5] : [1];
  for (let k = a; k <= b; k++) for (const m of minor) if (k < b || m === 1) ticks.push(clean(m * 10 ** k));
  return { min: 10 ** a, max: 10 ** b, ticks, frac: (v) => (Math.log10(v) - a) / (b - a) };
}

function usable(v: number, log: boolean): boolean {
  return Number.isFinite(v) && (!log || v > 0);
}

/** Interpolates the first x where series a and b swap order, over the x values they share. */
export function findCrossover(a: ChartSeries, b: ChartSeries, xScale: XScale = 'linear', yScale: YScale = 'linear'): ChartPoint | null {
  const bAt = new Map(b.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => [x, y]));
  const common = a.points
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && bAt.has(x) && (xScale !== 'log2' || x > 0))
    .map(([x, y]) => [x, y, bAt.get(x)!] as const)
    .sort((p, q) => p[0] - q[0]);
  const tx = (x: number) => (xScale === 'log2' ? Math.log2(x) : x);
  const ty = (y: number) => (yScale === 'log10' && y > 0 ? Math.log10(y) : y);
  const fromTy = (v: number) => (yScale === 'log10' ? 10 ** v : v);
  // The last point where the series differ, and the first point after it where they touch.
  let prev: (typeof common)[number] | null = null;
  let touch: (typeof common)[number] | null = null;
  for (const p of common) {
    const d = p[1] - p[2];
    if (d === 0) {
      if (prev && !touch) touch = p;
      continue;
    }
    if (prev && Math.sign(d) !== Math.sign(prev[1] - prev[2])) {
      if (touch) return { x: touch[0], y: touch[1] };
      const [x0, a0, b0] = prev;
      const [x1, a1] = p;
      const t = (a0 - b0) / (a0 - b0 - d);
      const x = xScale === 'log2' ? 2 ** (tx(x0) + t * (tx(x1) - tx(x0))) : x0 + t * (x1 - x0);
      // where the two lines meet as drawn (each straight in the chart's space)
      return { x, y: fromTy(ty(a0) + t * (ty(a1) - ty(a0))) };
    }
    prev = p;
    touch = null;
  }
  return null;
}

/** The chart as SVG text. */
export function renderLineChart(chart: LineChart): string {
  const xScale = chart.xScale ?? 'linear';
  const yScale = chart.yScale ?? 'linear';
  const xLog = xScale === 'log2';
  const yLog = yScale === 'log10';
  const W = chart.width ?? 760;
  const H = chart.height ?? 460;

  // Domains from the usable points (and the crossover mark).
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of chart.series) {
    for (const [x, y] of s.points) {
      if (usable(x, xLog) && usable(y, yLog)) {
        xs.push(x);
        ys.push(y);
      }
    }
  }
  const cross = chart.crossover && usable(chart.crossover.x, xLog) && usable(chart.crossover.y, yLog) ? chart.crossover : null;
  if (cross) {
    xs.push(cross.x);
    ys.push(cross.y);
  }
  const xLo = xs.length ? Math.min(...xs) : 1;
  const xHi = xs.length ? Math.max(...xs) : 2;
  let yLo = ys.length ? Math.min(...ys) : yLog ? 1 : 0;
  const yHi = ys.length ? Math.max(...ys) : yLog ? 10 : 1;
  if (!yLog && (chart.yFromZero ?? true) && yLo > 0) yLo = 0;
  const xAxis = xLog ? log2Axis(xLo, xHi) : linearAxis(xLo, xHi);
  const yAxis = yLog ? log10Axis(yLo, yHi) : linearAxis(yLo, yHi);

  // Layout: title (and subtitle) on top, legend on the right.
  const longest = Math.max(0, ...chart.series.map((s) => s.name.length));
  const legendW = chart.series.length ? Math.min(260, Math.max(120, 44 + 7 * longest)) : 0;
  const top = chart.subtitle ? 62 : 44;
  const left = 78;
  const bottom = 56;
  const right = 16 + legendW;
  const pw = W - left - right;
  const ph = H - top - bottom;
  const px = (x: number) => left + xAxis.frac(x) * pw;
  const py = (y: number) => top + (1 - yAxis.frac(y)) * ph;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text class="title" x="${c(W / 2)}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`);
  if (chart.subtitle) out.push(`<text class="subtitle" x="${c(W / 2)}" y="44" text-anchor="middle" fill="#555555">${escapeXml(chart.subtitle)}</text>`);

  // Grid and ticks.
  out.push('<g class="grid" stroke="#e5e5e5" stroke-width="1">');
  for (const t of xAxis.ticks) out.push(`<line x1="${c(px(t))}" y1="${c(top)}" x2="${c(px(t))}" y2="${c(top + ph)}"/>`);
  for (const t of yAxis.ticks) out.push(`<line x1="${c(left)}" y1="${c(py(t))}" x2="${c(left + pw)}" y2="${c(py(t))}"/>`);
  out.push('</g>');
  out.push('<g class="axes" stroke="#333333" stroke-width="1">');
  out.push(`<line x1="${c(left)}" y1="${c(top + ph)}" x2="${c(left + pw)}" y2="${c(top + ph)}"/>`);
  out.push(`<line x1="${c(left)}" y1="${c(top)}" x2="${c(left)}" y2="${c(top + ph)}"/>`);
  for (const t of xAxis.ticks) out.push(`<line x1="${c(px(t))}" y1="${c(top + ph)}" x2="${c(px(t))}" y2="${c(top + ph + 5)}"/>`);
  for (const t of yAxis.ticks) out.push(`<line x1="${c(left - 5)}" y1="${c(py(t))}" x2="${c(left)}" y2="${c(py(t))}"/>`);
  out.push('</g>');
  out.push('<g class="x-ticks" text-anchor="middle" fill="#333333">');
  for (const t of xAxis.ticks) out.push(`<text x="${c(px(t))}" y="${c(top + ph + 19)}" data-value="${t}">${formatTick(t)}</text>`);
  out.push('</g>');
  out.push('<g class="y-ticks" text-anchor="end" fill="#333333">');
  for (const t of yAxis.ticks) out.push(`<text x="${c(left - 8)}" y="${c(py(t) + 4)}" data-value="${t}">${formatTick(t)}</text>`);
  out.push('</g>');
  out.push(`<text class="x-label" x="${c(left + pw / 2)}" y="${c(H - 14)}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`);
  out.push(`<text class="y-label" x="18" y="${c(top + ph / 2)}" text-anchor="middle" transform="rotate(-90 18 ${c(top + ph / 2)})">${escapeXml(chart.yLabel)}</text>`);

  // Series: a path per run of usable points, a mark per point.
  chart.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = [...s.points].filter(([x]) => !Number.isNaN(x)).sort((p, q) => p[0] - q[0]);
    const runs: (readonly [number, number])[][] = [];
    let run: (readonly [number, number])[] = [];
    for (const p of pts) {
      if (usable(p[0], xLog) && usable(p[1], yLog)) run.push(p);
      else if (run.length) {
        runs.push(run);
        run = [];
      }
    }
    if (run.length) runs.push(run);
    out.push(`<g class="series" data-name="${escapeXml(s.name)}" stroke="${escapeXml(color)}" fill="${escapeXml(color)}">`);
    for (const r of runs) {
      const d = r.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${c(px(x))} ${c(py(y))}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
    for (const r of runs) for (const [x, y] of r) out.push(`<circle cx="${c(px(x))}" cy="${c(py(y))}" r="3" data-x="${x}" data-y="${y}"/>`);
    out.push('</g>');
  });

  if (cross) {
    const x = px(cross.x);
    const y = py(cross.y);
    out.push(`<g class="crossover" data-x="${cross.x}" data-y="${cross.y}">`);
    out.push(`<line x1="${c(x)}" y1="${c(y)}" x2="${c(x)}" y2="${c(top + ph)}" stroke="#000000" stroke-width="1" stroke-dasharray="3 3"/>`);
    out.push(`<circle cx="${c(x)}" cy="${c(y)}" r="6" fill="none" stroke="#000000" stroke-width="2"/>`);
    if (cross.label) {
      const anchor = x > left + pw * 0.7 ? 'end' : 'start';
      out.push(`<text x="${c(anchor === 'end' ? x - 10 : x + 10)}" y="${c(y - 14)}" text-anchor="${anchor}" font-weight="bold" stroke="#ffffff" stroke-width="4" paint-order="stroke">${escapeXml(cross.label)}</text>`);
    }
    out.push('</g>');
  }

  if (chart.series.length) {
    const lx = left + pw + 16;
    out.push('<g class="legend">');
    chart.series.forEach((s, i) => {
      const color = s.color ?? PALETTE[i % PALETTE.length]!;
      const y = top + 8 + i * 20;
      out.push(`<line x1="${c(lx)}" y1="${c(y)}" x2="${c(lx + 24)}" y2="${c(y)}" stroke="${escapeXml(color)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      out.push(`<text x="${c(lx + 30)}" y="${c(y + 4)}">${escapeXml(s.name)}</text>`);
    });
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
