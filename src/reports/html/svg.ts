/**
 * Chart primitives for the HTML reports. Each returns one <svg> string whose root carries data-chart="<kind>" and a
 * <title>; nothing in it runs or loads anything. Null and non-finite values are skipped and an empty or flat range
 * is widened before it is scaled, so no coordinate or label is ever NaN. Sizes are CSS pixels; the page's stylesheet
 * lets a chart shrink to its column. Text widths are estimated (0.6 em a character), which is enough to size margins.
 */
import type { EvaluationMetrics, Histogram } from '../../storage/report-manifests.js';
import { escapeHtml, isFiniteNumber as finite } from './escape.js';

export type ChartKind = 'line' | 'heatmap' | 'reliability' | 'histogram-pair' | 'bar';
type ReliabilityBin = EvaluationMetrics['calibration']['bins'][number];
type Range = [number, number];
interface Plot { left: number; top: number; width: number; height: number }
interface LegendItem { name: string; color: string; shape: 'box' | 'line' | 'dashed' }

/** Okabe–Ito colours, told apart with the common colour-vision deficiencies. */
export const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#d55e00', '#cc79a7', '#56b4e9', '#8c6d1f', '#555555'];
const FONT = 11;
const HEAD = 34; // room for the visible title above a plot
const REFERENCE = '#0072b2';
const CURRENT = '#d55e00';

const textWidth = (text: string, size = FONT) => text.length * size * 0.6;
const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const px = (v: number) => (Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '0');
/** A rectangle's geometry from x0 to x1 between two y values in either order; at least 1 px wide. */
const span = (x0: number, x1: number, ya: number, yb: number) => ({ x: x0, y: Math.min(ya, yb), width: Math.max(1, x1 - x0), height: Math.abs(ya - yb) });

function el(tag: string, attrs: Record<string, string | number | undefined>, content?: string): string {
  let out = `<${tag}`;
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) out += ` ${k}="${typeof v === 'number' ? px(v) : escapeHtml(v)}"`;
  return content === undefined ? `${out}/>` : `${out}>${content}</${tag}>`;
}
const label = (x: number, y: number, content: string, attrs: Record<string, string | number | undefined> = {}) =>
  el('text', { x, y, ...attrs }, escapeHtml(content));
const tooltip = (content: string) => el('title', {}, escapeHtml(content));

/**
 * Names under columns `spacing` px apart, centred at `xs`, hanging from `y`: level when the widest fits, slanted 45°
 * while slanted ones stay clear of each other (sin 45° · spacing ≥ 1.15 font sizes), upright below that. Returns the
 * markup and how far it reaches below `y`.
 */
function columnLabels(names: string[], xs: number[], y: number, spacing: number, font: number): { svg: string; depth: number } {
  const short = names.map((n) => clip(n, 16));
  const widest = Math.max(0, ...short.map((s) => textWidth(s, font)));
  const angle = widest <= spacing - 4 ? 0 : spacing * Math.SQRT1_2 >= font * 1.15 ? -45 : -90;
  const svg = short.map((s, i) => {
    const x = angle === 0 ? xs[i] : xs[i] + font * 0.35;
    const attrs = angle === 0 ? { y: y + font + 4, 'text-anchor': 'middle' } : { y, 'text-anchor': 'end', transform: `rotate(${angle} ${px(x)} ${px(y)})` };
    return el('text', { x, ...attrs, 'font-size': font, fill: '#333' }, tooltip(names[i]) + escapeHtml(s));
  });
  const depth = angle === 0 ? font + 6 : angle === -45 ? widest * Math.SQRT1_2 + 4 : widest + 4;
  return { svg: svg.join(''), depth };
}

/** [min, max] of the finite values (and of `include`), widened by 10% (or ±1 around 0) when empty or flat. */
function extent(values: Iterable<number | null | undefined>, include: number[] = []): Range {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of [...values, ...include]) {
    if (!finite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo > hi) return [0, 1];
  if (lo < hi) return [lo, hi];
  const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
  return [lo - pad, hi + pad];
}

const linear = ([d0, d1]: Range, [r0, r1]: Range) => (v: number) => r0 + ((v - d0) * (r1 - r0)) / (d1 - d0);

/**
 * Ticks 1, 2 or 5 × 10^k apart inside a widened range; `extend` stretches the range to the outer ticks (for value
 * axes that should start and end on a labelled line), `integer` keeps steps whole (for epochs).
 */
function niceTicks(range: Range, count: number, opts: { extend?: boolean; integer?: boolean } = {}) {
  const raw = (range[1] - range[0]) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  if (opts.integer) step = Math.max(1, Math.round(step));
  const first = opts.extend ? Math.floor(range[0] / step + 1e-9) : Math.ceil(range[0] / step - 1e-9);
  const last = Math.max(opts.extend ? Math.ceil(range[1] / step - 1e-9) : Math.floor(range[1] / step + 1e-9), first);
  const ticks: number[] = [];
  for (let k = first; k <= last && ticks.length < 60; k++) ticks.push(k * step);
  const domain: Range = opts.extend ? [first * step, Math.max(last, first + 1) * step] : range;
  return { domain, ticks, step };
}

function tickText(v: number, step: number, percent: boolean): string {
  const scale = percent ? 100 : 1;
  const decimals = clamp(-Math.floor(Math.log10(step * scale) + 1e-9), 0, 10);
  const s = Math.abs(v * scale) >= 1e6 ? (v * scale).toExponential(1) : (v * scale).toFixed(decimals);
  return percent ? `${s}%` : s;
}

/** Left margin that fits the y tick labels and the rotated axis title. */
const leftMargin = (ticks: number[], step: number, percent: boolean) =>
  30 + Math.max(0, ...ticks.map((t) => textWidth(tickText(t, step, percent))));

function yAxis(p: Plot, y: (v: number) => number, t: { ticks: number[]; step: number }, title: string, percent = false): string {
  const lines = t.ticks.map((v) => el('line', { x1: p.left, x2: p.left + p.width, y1: y(v), y2: y(v), stroke: '#e3e3e3' }));
  const labels = t.ticks.map((v) => label(p.left - 6, y(v) + 4, tickText(v, t.step, percent), { 'text-anchor': 'end', fill: '#444' }));
  const cy = p.top + p.height / 2;
  const name = label(12, cy, title, { 'text-anchor': 'middle', transform: `rotate(-90 12 ${px(cy)})`, fill: '#333' });
  return el('g', { class: 'axis y' }, lines.join('') + labels.join('') + name);
}

function xAxis(p: Plot, x: (v: number) => number, t: { ticks: number[]; step: number }, title: string): string {
  const base = p.top + p.height;
  const marks = t.ticks.map(
    (v) =>
      el('line', { x1: x(v), x2: x(v), y1: base, y2: base + 4, stroke: '#888' }) +
      label(x(v), base + 16, tickText(v, t.step, false), { 'text-anchor': 'middle', fill: '#444' }),
  );
  const name = label(p.left + p.width / 2, base + 32, title, { 'text-anchor': 'middle', fill: '#333' });
  return el('g', { class: 'axis x' }, el('line', { x1: p.left, x2: p.left + p.width, y1: base, y2: base, stroke: '#888' }) + marks.join('') + name);
}

/** Swatches and names laid out in rows no wider than `maxWidth`; returns the markup and the height it takes. */
function legend(items: LegendItem[], x: number, y: number, maxWidth: number): { svg: string; height: number } {
  let cx = x;
  let cy = y + 11;
  const parts = items.map((item) => {
    const name = clip(item.name, 32);
    const w = 20 + textWidth(name) + 14;
    if (cx > x && cx + w > x + maxWidth) [cx, cy] = [x, cy + 16];
    const dash = item.shape === 'dashed' ? '4 3' : undefined;
    const swatch =
      item.shape === 'box'
        ? el('rect', { x: cx, y: cy - 9, width: 14, height: 10, fill: item.color, 'fill-opacity': 0.7 })
        : el('line', { x1: cx, x2: cx + 14, y1: cy - 4, y2: cy - 4, stroke: item.color, 'stroke-width': 2, 'stroke-dasharray': dash });
    const part = swatch + label(cx + 18, cy, name, { fill: '#333' });
    cx += w;
    return part;
  });
  return { svg: el('g', { class: 'legend' }, parts.join('')), height: cy - y + 6 };
}

function frame(kind: ChartKind, title: string, width: number, height: number, body: string): string {
  const attrs = { 'data-chart': kind, class: 'chart', role: 'img', width, height, viewBox: `0 0 ${px(width)} ${px(height)}`, 'font-size': FONT };
  return el('svg', attrs, tooltip(title) + label(0, 17, title, { 'font-size': 13, 'font-weight': 600, fill: '#222' }) + body);
}

function empty(kind: ChartKind, title: string, width: number, message = 'No data to plot.'): string {
  return frame(kind, title, width, 64, label(width / 2, 48, message, { 'text-anchor': 'middle', fill: '#777' }));
}

export interface LineSeries { name: string; points: { x: number; y: number | null }[]; color?: string; dashed?: boolean }

/** Several named series over a numeric x (epochs): lines broken at missing values, dots on short series, a legend. */
export function lineChart(o: { title: string; xLabel: string; yLabel: string; series: LineSeries[]; percent?: boolean; width?: number }): string {
  const width = o.width ?? 520;
  const shown = o.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length], points: s.points.filter((p) => finite(p.x)) }));
  const known = shown.flatMap((s) => s.points.filter((p) => finite(p.y)));
  if (known.length === 0) return empty('line', o.title, width);
  const xt = niceTicks(extent(known.map((p) => p.x)), 6, { integer: known.every((p) => Number.isInteger(p.x)) });
  const yt = niceTicks(extent(known.map((p) => p.y)), 5, { extend: true });
  const left = leftMargin(yt.ticks, yt.step, o.percent ?? false);
  const p: Plot = { left, top: HEAD, width: width - left - 16, height: 200 };
  const x = linear(xt.domain, [p.left, p.left + p.width]);
  const y = linear(yt.domain, [p.top + p.height, p.top]);
  const lines = shown.map((s) => {
    let d = '';
    let run = false;
    const dots: string[] = [];
    s.points.forEach((pt, i) => {
      if (!finite(pt.y)) return void (run = false);
      d += `${run ? 'L' : 'M'}${px(x(pt.x))} ${px(y(pt.y))}`;
      run = true;
      const isolated = !finite(s.points[i - 1]?.y) && !finite(s.points[i + 1]?.y);
      if (s.points.length <= 40 || isolated) dots.push(el('circle', { cx: x(pt.x), cy: y(pt.y), r: 2.5, fill: s.color }));
    });
    const path = d ? el('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 1.8, 'stroke-dasharray': s.dashed ? '5 3' : undefined }) : '';
    return el('g', { class: 'series', 'data-series': s.name }, tooltip(s.name) + path + dots.join(''));
  });
  const items = shown.map((s) => ({ name: s.name, color: s.color, shape: s.dashed ? ('dashed' as const) : ('line' as const) }));
  const key = legend(items, p.left, p.top + p.height + 42, p.width);
  const body = yAxis(p, y, yt, o.yLabel, o.percent) + xAxis(p, x, xt, o.xLabel) + lines.join('') + key.svg;
  return frame('line', o.title, width, p.top + p.height + 42 + key.height + 4, body);
}

/** White to dark blue ("Blues"): t in [0, 1]. */
function blues(t: number): string {
  const [a, b] = [[247, 251, 255], [8, 48, 107]];
  return `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * clamp(t, 0, 1))).join(',')})`;
}

/** One confusion cell: a square shaded by its share of the row, its count printed when it fits, a tooltip. */
function heatCell(x: number, y: number, cell: number, value: number | null, rowTotal: number, tip: string, at: [number, number]): string {
  const known = finite(value);
  const share = known && rowTotal > 0 ? value / rowTotal : 0;
  const what = known ? `${value}${rowTotal > 0 ? ` (${(share * 100).toFixed(1)}% of row)` : ''}` : 'no value';
  const attrs = { class: 'cell', 'data-row': at[0], 'data-col': at[1], x, y, width: cell, height: cell };
  const square = el('rect', { ...attrs, fill: known ? blues(share) : '#eee', stroke: '#fff', 'stroke-width': 0.5 }, tooltip(`${tip}: ${what}`));
  if (!known) return square;
  const size = Math.min(12, cell * 0.42, (cell - 3) / (0.62 * String(value).length));
  if (size < 5) return square;
  const colour = share > 0.5 ? '#fff' : '#222';
  return square + label(x + cell / 2, y + cell / 2 + size * 0.35, String(value), { 'text-anchor': 'middle', 'font-size': size, fill: colour });
}

/** The heat map's colour key: five swatches from 0% to 100% of the row. */
function colourKey(x: number, y: number): string {
  const swatches = [0, 0.25, 0.5, 0.75, 1].map(
    (t, i) =>
      el('rect', { x, y: y + 18 + i * 16, width: 14, height: 14, fill: blues(t), stroke: '#ccc', 'stroke-width': 0.5 }) +
      label(x + 20, y + 29 + i * 16, `${t * 100}%`, { fill: '#444' }),
  );
  return el('g', { class: 'legend' }, label(x, y + 10, 'share of row', { fill: '#333' }) + swatches.join(''));
}

/**
 * A confusion matrix: rows are true classes, columns predicted ones, each cell shaded by its share of the row and
 * labelled with its count. Cells shrink to 14 px for many classes (50 fit in 700 px); counts too long for a cell
 * are left to the cell's tooltip.
 */
export function heatmap(o: { title: string; labels: string[]; matrix: (number | null)[][]; rowTitle?: string; columnTitle?: string }): string {
  const k = o.matrix.length;
  if (k === 0) return empty('heatmap', o.title, 360);
  const names = Array.from({ length: k }, (_, i) => o.labels[i] ?? `class ${i}`);
  const short = names.map((n) => clip(n, 16));
  const cell = clamp(Math.floor(400 / k), 14, 40);
  const font = clamp(Math.floor(cell * 0.75), 8, 12);
  const labelWidth = Math.max(...short.map((s) => textWidth(s, font)));
  const [left, top, size] = [28 + labelWidth, HEAD + 4, cell * k];
  const cells = o.matrix.flatMap((row, r) => {
    const total = row.reduce<number>((s, v) => s + (finite(v) ? v : 0), 0);
    const tip = (c: number) => `true ${names[r]}, predicted ${names[c]}`;
    return names.map((_, c) => heatCell(left + c * cell, top + r * cell, cell, row[c] ?? null, total, tip(c), [r, c]));
  });
  const rows = short.map((s, r) => {
    const y = top + r * cell + cell / 2 + font * 0.35;
    return el('text', { x: left - 6, y, 'text-anchor': 'end', 'font-size': font }, tooltip(names[r]) + escapeHtml(s));
  });
  const columns = columnLabels(names, names.map((_, c) => left + c * cell + cell / 2), top + size + 8, cell, font);
  const bottom = top + size + 8 + columns.depth;
  const middle = top + size / 2;
  const axisTitles =
    label(left + size / 2, bottom + 14, o.columnTitle ?? 'predicted class', { 'text-anchor': 'middle', fill: '#333' }) +
    label(12, middle, o.rowTitle ?? 'true class', { 'text-anchor': 'middle', fill: '#333', transform: `rotate(-90 12 ${px(middle)})` });
  const body = el('g', { class: 'cells' }, cells.join('')) + rows.join('') + columns.svg + axisTitles + colourKey(left + size + 18, top);
  return frame('heatmap', o.title, Math.max(left + size + 108, textWidth(o.title, 13) + 8), Math.max(bottom + 22, top + 110), body);
}

/** One reliability bin: the accuracy bar, the shaded gap to mean confidence, and the count above them. */
function reliabilityBar(b: ReliabilityBin & { index: number }, sx: (v: number) => number, sy: (v: number) => number, upright: boolean): string {
  const acc = clamp(b.accuracy ?? 0, 0, 1);
  const conf = finite(b.confidence) ? clamp(b.confidence, 0, 1) : acc;
  const [x, width] = [sx(b.lower) + 1, Math.max(1, sx(b.upper) - sx(b.lower) - 2)];
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  const tip = `confidence ${b.lower.toFixed(2)}–${b.upper.toFixed(2)}: ${b.count} predictions, accuracy ${pct(acc)}, mean confidence ${pct(conf)}`;
  const bar = el('rect', { class: 'bar', 'data-bin': b.index, ...span(x, x + width, sy(0), sy(acc)), fill: REFERENCE, 'fill-opacity': 0.8 }, tooltip(tip));
  const gapStyle = { fill: CURRENT, 'fill-opacity': 0.25, stroke: CURRENT, 'stroke-width': 0.8 };
  const gap = el('rect', { class: 'gap', ...span(x, x + width, sy(acc), sy(conf)), ...gapStyle });
  const [tx, ty] = [x + width / 2, sy(Math.max(acc, conf)) - 4];
  const count = upright
    ? label(tx + 3, ty, String(b.count), { 'font-size': 9, fill: '#333', transform: `rotate(-90 ${px(tx + 3)} ${px(ty)})` })
    : label(tx, ty, String(b.count), { 'font-size': 9, fill: '#333', 'text-anchor': 'middle' });
  return bar + gap + count;
}

/**
 * Reliability diagram (Guo et al. 2017, fig. 1): per confidence bin a bar of accuracy, the gap to the bin's mean
 * confidence shaded, the diagonal of perfect calibration, and the number of predictions above each bar.
 */
export function reliabilityDiagram(o: { title: string; bins: ReliabilityBin[]; width?: number }): string {
  const width = o.width ?? 380;
  const filled = o.bins
    .map((b, index) => ({ ...b, index }))
    .filter((b) => b.count > 0 && finite(b.accuracy) && finite(b.lower) && finite(b.upper));
  const xd = extent(o.bins.flatMap((b) => [b.lower, b.upper]), [0, 1]);
  const [xt, yt] = [niceTicks(xd, 5), niceTicks([0, 1], 5, { extend: true })];
  const left = leftMargin(yt.ticks, yt.step, false);
  // Counts that are wider than their bar are written upright, which needs headroom above the plot.
  const countWidth = (b: ReliabilityBin) => textWidth(String(b.count), 9);
  const upright = filled.some((b) => countWidth(b) > (Math.abs(b.upper - b.lower) / (xd[1] - xd[0])) * (width - left - 16) - 2);
  const headroom = upright ? 8 + Math.max(0, ...filled.map(countWidth)) : 16;
  const p: Plot = { left, top: HEAD + headroom, width: width - left - 16, height: 240 };
  const sx = linear(xd, [p.left, p.left + p.width]);
  const sy = linear(yt.domain, [p.top + p.height, p.top]);
  const [d0, d1] = [Math.max(xd[0], 0), Math.min(xd[1], 1)];
  const diagonal = el('line', { class: 'diagonal', x1: sx(d0), y1: sy(d0), x2: sx(d1), y2: sy(d1), stroke: '#777', 'stroke-dasharray': '5 4' });
  const bars = el('g', { class: 'bars' }, filled.map((b) => reliabilityBar(b, sx, sy, upright)).join(''));
  const none = filled.length ? '' : label(p.left + p.width / 2, p.top + 100, 'No predictions in any bin.', { 'text-anchor': 'middle', fill: '#777' });
  const items: LegendItem[] = [
    { name: 'accuracy', color: REFERENCE, shape: 'box' },
    { name: 'gap to mean confidence', color: CURRENT, shape: 'box' },
    { name: 'perfect calibration', color: '#777', shape: 'dashed' },
  ];
  const below = p.top + p.height + 40;
  const key = legend(items, p.left, below, p.width);
  const note = label(p.left, below + key.height + 12, 'Numbers above the bars: predictions in the bin.', { fill: '#666', 'font-size': 10 });
  const body = yAxis(p, sy, yt, 'accuracy') + xAxis(p, sx, xt, 'confidence') + bars + diagonal + none + key.svg + note;
  return frame('reliability', o.title, width, below + key.height + 20, body);
}

/** One side's values as shares of its total (left as they are when the total is not positive). */
function shares(values: (number | null)[]): (number | null)[] {
  const total = values.reduce<number>((s, v) => s + (finite(v) ? v : 0), 0);
  return values.map((v) => (finite(v) ? (total > 0 ? v / total : v) : null));
}

/** Reference and current distributions of one quantity over shared bins: reference as bars, current as a step line. */
export function histogramPair(h: Histogram, o: { title?: string; width?: number; names?: [string, string] } = {}): string {
  const [title, width] = [o.title ?? h.name, o.width ?? 340];
  const [refName, curName] = o.names ?? ['reference', 'current'];
  const [ref, cur] = [shares(h.reference), shares(h.current)];
  const bins = h.edges
    .slice(0, -1)
    .map((lo, i) => ({ lo, hi: h.edges[i + 1], ref: ref[i] ?? null, cur: cur[i] ?? null }))
    .filter((b) => finite(b.lo) && finite(b.hi));
  if (bins.length === 0) return empty('histogram-pair', title, width);
  const xd = extent(bins.flatMap((b) => [b.lo, b.hi]));
  const xt = niceTicks(xd, 5);
  const yt = niceTicks(extent(bins.flatMap((b) => [b.ref, b.cur]), [0]), 4, { extend: true });
  const left = leftMargin(yt.ticks, yt.step, true);
  const p: Plot = { left, top: HEAD, width: width - left - 14, height: 170 };
  const x = linear(xd, [p.left, p.left + p.width]);
  const y = linear(yt.domain, [p.top + p.height, p.top]);
  const bars = bins
    .filter((b) => finite(b.ref))
    .map((b) => {
      const geometry = span(x(Math.min(b.lo, b.hi)), x(Math.max(b.lo, b.hi)), y(0), y(b.ref as number));
      return el('rect', { class: 'bar reference', ...geometry, fill: REFERENCE, 'fill-opacity': 0.35 });
    });
  let d = '';
  let run = false;
  for (const b of bins) {
    if (!finite(b.cur)) {
      run = false;
      continue;
    }
    d += `${run ? 'L' : 'M'}${px(x(b.lo))} ${px(y(b.cur))}L${px(x(b.hi))} ${px(y(b.cur))}`;
    run = true;
  }
  const step = d ? el('path', { class: 'step current', d, fill: 'none', stroke: CURRENT, 'stroke-width': 2 }) : '';
  const items: LegendItem[] = [
    { name: refName, color: REFERENCE, shape: 'box' },
    { name: curName, color: CURRENT, shape: 'line' },
  ];
  const key = legend(items, p.left, p.top + p.height + 40, p.width);
  const body = yAxis(p, y, yt, 'share of samples', true) + xAxis(p, x, xt, h.name) + bars.join('') + step + key.svg;
  return frame('histogram-pair', title, width, p.top + p.height + 40 + key.height + 4, body);
}

export interface BarSeries { name: string; values: (number | null)[]; color?: string }

/** Grouped bars, one group per category, with a legend for several series. */
export function barChart(o: { title: string; categories: string[]; series: BarSeries[]; yLabel: string; percent?: boolean }): string {
  const k = o.categories.length;
  const series = o.series.map((s, i) => ({ ...s, color: s.color ?? PALETTE[i % PALETTE.length] }));
  const values = series.flatMap((s) => s.values.slice(0, k));
  if (k === 0 || !values.some(finite)) return empty('bar', o.title, 360);
  const group = clamp(Math.floor(540 / k), 12, 72);
  const font = clamp(Math.floor(group * 0.8), 8, 11);
  const yt = niceTicks(extent(values, [0]), 5, { extend: true });
  const left = leftMargin(yt.ticks, yt.step, o.percent ?? false);
  const p: Plot = { left, top: HEAD, width: group * k, height: 200 };
  const y = linear(yt.domain, [p.top + p.height, p.top]);
  const barWidth = (group * 0.8) / Math.max(series.length, 1);
  const bars = series.flatMap((s, si) =>
    s.values.slice(0, k).map((v, i) => {
      if (!finite(v)) return '';
      const tip = `${o.categories[i]} — ${s.name}: ${o.percent ? `${(v * 100).toFixed(1)}%` : String(Math.round(v * 1000) / 1000)}`;
      const x0 = p.left + i * group + group * 0.1 + si * barWidth;
      return el('rect', { class: 'bar', 'data-series': si, ...span(x0, x0 + barWidth - 1, y(0), y(v)), fill: s.color }, tooltip(tip));
    }),
  );
  const base = p.top + p.height;
  const names = columnLabels(o.categories, o.categories.map((_, i) => p.left + i * group + group / 2), base + 8, group, font);
  const under = names.depth + 20;
  const zero = el('line', { x1: p.left, x2: p.left + p.width, y1: y(0), y2: y(0), stroke: '#888' });
  const width = Math.max(p.left + p.width + 16, textWidth(o.title, 13) + 8, 320);
  const items = series.map((s): LegendItem => ({ name: s.name, color: s.color, shape: 'box' }));
  const key = series.length > 1 ? legend(items, p.left, base + under, width - p.left - 8) : { svg: '', height: 0 };
  const body = yAxis(p, y, yt, o.yLabel, o.percent) + el('g', { class: 'bars' }, bars.join('')) + zero + names.svg + key.svg;
  return frame('bar', o.title, width, base + under + key.height + 6, body);
}
