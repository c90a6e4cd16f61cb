// Output writers with no browser: the SVG line chart (well-formed, deterministic, values placed
// on the axes where they belong, the crossover mark) and the CSV writer (RFC 4180 quoting).
import { describe, expect, it } from 'vitest';
import { csvField, recordsToCsv, toCsv } from '../src/report/csv.js';
import { escapeXml, findCrossover, formatTick, renderLineChart, type LineChart } from '../src/report/svg.js';

interface El {
  name: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

/** A small strict XML reader: matched tags, quoted unique attributes, escaped text, one root. */
function parseXml(src: string): El {
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[A-Za-z][\w:-]*="[^"<]*")*)\s*(\/?)>/y;
  const attr = /\s+([A-Za-z][\w:-]*)="([^"<]*)"/g;
  const checkText = (t: string, where: number) => {
    if (t.includes('<') || t.includes('>')) throw new Error(`unescaped < or > at ${where}`);
    const amp = /&(?!(?:amp|lt|gt|quot|#\d+);)/.exec(t);
    if (amp) throw new Error(`bare & at ${where}`);
  };
  const root: El = { name: '#root', attrs: {}, children: [], text: '' };
  const stack: El[] = [root];
  let i = 0;
  while (i < src.length) {
    const lt = src.indexOf('<', i);
    const text = src.slice(i, lt < 0 ? src.length : lt);
    checkText(text, i);
    stack[stack.length - 1]!.text += text;
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(src);
    if (!m) throw new Error(`malformed tag at ${lt}: ${src.slice(lt, lt + 40)}`);
    const [whole, close, name, attrText, selfClose] = m;
    if (close) {
      const top = stack.pop()!;
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}> at ${lt}`);
    } else {
      const attrs: Record<string, string> = {};
      for (const a of attrText!.matchAll(attr)) {
        if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]} at ${lt}`);
        checkText(a[2]!, lt);
        attrs[a[1]!] = a[2]!;
      }
      const el: El = { name: name!, attrs, children: [], text: '' };
      stack[stack.length - 1]!.children.push(el);
      if (!selfClose) stack.push(el);
    }
    i = lt + whole!.length;
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (root.children.length !== 1 || root.text.trim() !== '') throw new Error('not exactly one root element');
  return root.children[0]!;
}

function all(el: El, pred: (e: El) => boolean, out: El[] = []): El[] {
  if (pred(el)) out.push(el);
  for (const ch of el.children) all(ch, pred, out);
  return out;
}

const group = (svg: El, cls: string) => all(svg, (e) => e.name === 'g' && e.attrs.class === cls);
const num = (e: El, a: string) => Number(e.attrs[a]);

const sweep: LineChart = {
  title: 'Llama-3-8B decode: tokens/s per user',
  subtitle: 'GPU: analytical model; SRAM system: emulated',
  xLabel: 'batch',
  yLabel: 'tokens/s per user',
  xScale: 'log2',
  series: [
    { name: 'SRAM system', points: [[1, 900], [2, 880], [4, 850], [8, 800]] },
    { name: 'H200', points: [[1, 150], [2, 148], [4, 145], [8, 140]], dashed: true },
  ],
};

describe('SVG line chart', () => {
  it('is well-formed XML with one svg root, title, axes labels, legend', () => {
    const text = renderLineChart(sweep);
    const svg = parseXml(text);
    expect(svg.name).toBe('svg');
    expect(svg.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    const texts = all(svg, (e) => e.name === 'text').map((e) => e.text);
    expect(texts).toContain(sweep.title);
    expect(texts).toContain(sweep.subtitle);
    expect(texts).toContain('batch');
    expect(texts).toContain('tokens/s per user');
    expect(all(group(svg, 'legend')[0]!, (e) => e.name === 'text').map((e) => e.text)).toEqual(['SRAM system', 'H200']);
    expect(group(svg, 'series').map((g) => g.attrs['data-name'])).toEqual(['SRAM system', 'H200']);
  });

  it('is deterministic: the same chart gives the same bytes', () => {
    expect(renderLineChart(sweep)).toBe(renderLineChart(structuredClone(sweep)));
    expect(renderLineChart(sweep)).not.toBe(renderLineChart({ ...sweep, title: 'other' }));
  });

  it('places values where the axes say: log2 x evenly spaced by doubling, linear y from 0', () => {
    const svg = parseXml(renderLineChart(sweep));
    const marks = all(group(svg, 'series')[0]!, (e) => e.name === 'circle');
    const cx = marks.map((m) => num(m, 'cx'));
    // 1, 2, 4, 8 are equally spaced on a log2 axis
    for (let i = 1; i < 3; i++) expect(cx[i + 1]! - cx[i]!).toBeCloseTo(cx[1]! - cx[0]!, 1);
    // x tick labels sit at the marks' x
    const xt = all(group(svg, 'x-ticks')[0]!, (e) => e.name === 'text');
    for (const [i, v] of [1, 2, 4, 8].entries()) {
      const t = xt.find((e) => e.attrs['data-value'] === String(v))!;
      expect(t.text).toBe(String(v));
      expect(num(t, 'x')).toBeCloseTo(cx[i]!, 1);
    }
    // y: 0 at the x axis, values in proportion above it
    const yt = all(group(svg, 'y-ticks')[0]!, (e) => e.name === 'text');
    const yOf = (v: number) => num(yt.find((e) => e.attrs['data-value'] === String(v))!, 'y') - 4;
    const zero = yOf(0);
    const topTick = Math.max(...yt.map((e) => Number(e.attrs['data-value'])));
    expect(topTick).toBe(1000);
    const axis = all(group(svg, 'axes')[0]!, (e) => e.name === 'line')[0]!;
    expect(num(axis, 'y1')).toBeCloseTo(zero, 1);
    for (const m of marks) {
      const v = num(m, 'data-y');
      expect((zero - num(m, 'cy')) / (zero - yOf(topTick))).toBeCloseTo(v / topTick, 3);
    }
    // the path goes through the marks
    const d = all(group(svg, 'series')[0]!, (e) => e.name === 'path')[0]!.attrs.d!;
    expect(d.startsWith(`M${marks[0]!.attrs.cx} ${marks[0]!.attrs.cy} L`)).toBe(true);
  });

  it('log10 y: decades evenly spaced, with 2 and 5 ticks over short ranges', () => {
    const svg = parseXml(
      renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', yScale: 'log10', series: [{ name: 'a', points: [[0, 10], [1, 100], [2, 1000]] }] }),
    );
    const cy = all(group(svg, 'series')[0]!, (e) => e.name === 'circle').map((m) => num(m, 'cy'));
    expect(cy[0]! - cy[1]!).toBeCloseTo(cy[1]! - cy[2]!, 1);
    const ticks = all(group(svg, 'y-ticks')[0]!, (e) => e.name === 'text').map((e) => e.text);
    expect(ticks).toEqual(['10', '20', '50', '100', '200', '500', '1000']);
    const wide = parseXml(renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', yScale: 'log10', series: [{ name: 'a', points: [[0, 10], [1, 1e5]] }] }));
    expect(all(group(wide, 'y-ticks')[0]!, (e) => e.name === 'text').map((e) => e.text)).toEqual(['10', '100', '1000', '10k', '100k']);
    const short = parseXml(renderLineChart({ title: 't', xLabel: 'x', yLabel: 'y', yScale: 'log10', series: [{ name: 'a', points: [[0, 3], [1, 40]] }] }));
    expect(all(group(short, 'y-ticks')[0]!, (e) => e.name === 'text').map((e) => e.text)).toEqual(['1', '2', '5', '10', '20', '50', '100']);
  });

  it('marks a crossover, found where two series swap order', () => {
    const chart: LineChart = {
      title: 'where GPUs overtake',
      xLabel: 'batch',
      yLabel: 'system tokens/s',
      xScale: 'log2',
      series: [
        { name: 'SRAM', points: [[1, 30], [2, 25], [4, 20]] },
        { name: 'GPU', points: [[1, 10], [2, 20], [4, 40]] },
      ],
    };
    const x = findCrossover(chart.series[0]!, chart.series[1]!, 'log2')!;
    // between 2 and 4: differences +5 and -20, a fifth of the way in log2 space
    expect(x.x).toBeCloseTo(2 ** 1.2, 9);
    expect(x.y).toBeCloseTo(24, 9);
    expect(findCrossover(chart.series[0]!, chart.series[0]!)).toBeNull();
    // touching at a shared point between opposite orders is the crossover; touching without crossing is not
    const touch = { name: 't', points: [[1, 20], [2, 25], [4, 30]] as [number, number][] };
    expect(findCrossover(chart.series[0]!, touch)).toEqual({ x: 2, y: 25 });
    expect(findCrossover(chart.series[0]!, { name: 'u', points: [[1, 20], [2, 25], [4, 10]] })).toBeNull();
    expect(findCrossover(chart.series[0]!, { name: 'far', points: [[1, 1], [2, 1], [4, 1]] })).toBeNull();
    const svg = parseXml(renderLineChart({ ...chart, crossover: { ...x, label: 'GPU overtakes at batch 2.3' } }));
    const mark = group(svg, 'crossover')[0]!;
    expect(Number(mark.attrs['data-x'])).toBeCloseTo(2 ** 1.2, 9);
    expect(all(mark, (e) => e.name === 'text')[0]!.text).toBe('GPU overtakes at batch 2.3');
    // the ring sits between the marks at x = 2 and x = 4, a fifth of the way
    const ring = all(mark, (e) => e.name === 'circle')[0]!;
    const cx = all(group(svg, 'series')[0]!, (e) => e.name === 'circle').map((m) => num(m, 'cx'));
    expect((num(ring, 'cx') - cx[1]!) / (cx[2]! - cx[1]!)).toBeCloseTo(0.2, 2);
  });

  it('escapes text, leaves gaps for unusable points, survives empty input', () => {
    const text = renderLineChart({
      title: 'a < b & "c"',
      xLabel: "x's",
      yLabel: 'y',
      yScale: 'log10',
      series: [{ name: '<series>', points: [[1, 10], [2, 0], [3, Number.NaN], [4, 30], [5, 40]] }],
    });
    const svg = parseXml(text);
    expect(all(svg, (e) => e.name === 'text')[0]!.text).toBe('a &lt; b &amp; &quot;c&quot;');
    const paths = all(group(svg, 'series')[0]!, (e) => e.name === 'path');
    expect(paths).toHaveLength(2); // [1] and [4, 5]: 0 and NaN cannot be drawn on a log axis
    expect(all(group(svg, 'series')[0]!, (e) => e.name === 'circle')).toHaveLength(3);
    expect(() => parseXml(renderLineChart({ title: '', xLabel: '', yLabel: '', series: [] }))).not.toThrow();
    expect(() => parseXml(renderLineChart({ title: 'flat', xLabel: '', yLabel: '', series: [{ name: 'one', points: [[5, 5]] }] }))).not.toThrow();
    expect(escapeXml('\u0001ok')).toBe('ok');
  });

  it('formats tick labels compactly', () => {
    expect([0, 1, 256, 1500, 9999, 25000, 1e6, 2.5e9, 0.25, 1 / 3].map(formatTick)).toEqual(['0', '1', '256', '1500', '9999', '25k', '1M', '2.5G', '0.25', '0.333']);
  });
});

/** An RFC 4180 reader, to check what the writer writes reads back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else if (ch === '"' || ch === '\r' || ch === '\n') throw new Error(`bare ${JSON.stringify(ch)} at ${i}`);
    else field += ch;
    i++;
  }
  if (field !== '' || row.length) throw new Error('last record does not end in CRLF');
  return rows;
}

describe('CSV writer', () => {
  it('quotes fields with commas, quotes, line breaks and edge spaces, doubling quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\rhere')).toBe('"cr\rhere"');
    expect(csvField(' padded')).toBe('" padded"');
    expect(csvField('')).toBe('');
    expect(csvField(null)).toBe('');
    expect(csvField(undefined)).toBe('');
    expect(csvField(true)).toBe('true');
    expect(csvField(1234.5)).toBe('1234.5');
    expect(csvField(-0)).toBe('0');
    expect(csvField(1e-7)).toBe('1e-7');
    expect(() => csvField(Number.NaN)).toThrow(/NaN/);
    expect(() => csvField(Infinity)).toThrow(/Infinity/);
  });

  it('writes CRLF records that read back to the same fields', () => {
    const rows = [
      ['system', 'batch', 'tokens/s per user', 'note'],
      ['H200', 1, 151.25, 'GPU model, "analytical"'],
      ['sramflow, 8 chips', 64, 812, 'line one\r\nline two'],
      ['empty', 2, null, ''],
    ];
    const text = toCsv(rows);
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.split('\r\n')[0]).toBe('system,batch,tokens/s per user,note');
    expect(parseCsv(text)).toEqual(rows.map((r) => r.map((v) => (v === null ? '' : String(v)))));
    expect(toCsv([])).toBe('');
  });

  it('records with a header, in the given column order', () => {
    const text = recordsToCsv([
      { batch: 1, gpu: 150.5, sram: 900 },
      { batch: 2, gpu: 148, sram: undefined },
    ]);
    expect(text).toBe('batch,gpu,sram\r\n1,150.5,900\r\n2,148,\r\n');
    expect(recordsToCsv([{ a: 1, b: 2 }], ['b', 'a'])).toBe('b,a\r\n2,1\r\n');
    expect(recordsToCsv([])).toBe('\r\n');
  });
});
