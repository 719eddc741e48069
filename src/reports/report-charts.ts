import type { Published } from './disclosure.js';
import { html, type Html } from './html.js';
import type { Figure } from './social-prescribing.js';

/**
 * The reports page's charts as inline SVG (no script, no external asset): horizontal bars of counts per
 * stratum, and means of change with their 95% intervals per stratum and score. Pure. A suppressed
 * figure is drawn as a hatched, labelled placeholder, never as zero; everything that carries meaning is
 * told by shape, pattern or text as well as colour, so it survives black-and-white printing. Each chart
 * names itself (title and desc, role img); its exact figures are in the table the page puts after it.
 */

export interface ChartText {
  /** Unique in the page: the prefix of the chart's element ids. */
  id: string;
  title: string;
  description: string;
}

const INK = '#1a1a1a';
const MUTED = '#595959';
const GRID = '#c8c8c8';
const DARK = '#1f4e79';
const LIGHT = '#bdd7ee';

const COUNT = new Intl.NumberFormat('en-GB');
const SIGNED = new Intl.NumberFormat('en-GB', { maximumFractionDigits: 2, signDisplay: 'exceptZero' });

/** A label in at most two lines of about `width` characters, broken at spaces; a longer one is cut (the table has it whole). */
function lines(label: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of label.split(/\s+/)) {
    if (line && `${line} ${word}`.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  out.push(line);
  if (out.length <= 2) return out;
  return [out[0]!, `${out.slice(1).join(' ').slice(0, width - 1)}…`];
}

/** Text in one or two lines, its middle at y. */
function label(text: string, x: number, y: number, width: number, anchor: 'start' | 'middle' | 'end' = 'end'): Html {
  const ls = lines(text, width);
  const first = y - ((ls.length - 1) * 14) / 2 + 4;
  return html`<text x="${x}" y="${first}" text-anchor="${anchor}">${ls.map((l, i) => html`<tspan x="${x}" dy="${i === 0 ? 0 : 14}">${l}</tspan>`)}</text>`;
}

/** The smallest round number (1, 1.5, 2, 3, 4, 5, 6 or 8 times a power of ten) at least `v`: a scale's end that fits its figures closely. */
function roundUp(v: number): number {
  const power = 10 ** Math.floor(Math.log10(v));
  return [1, 1.5, 2, 3, 4, 5, 6, 8, 10].map((m) => m * power).find((r) => r >= v - 1e-9)!;
}

/** Tick step and top of an axis from 0 to at least `max`: steps of 1, 2 or 5 times a power of ten. */
function niceScale(max: number, ticks: number): { step: number; top: number } {
  const raw = Math.max(max, Number.EPSILON) / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  return { step, top: Math.ceil(max / step) * step || step };
}

/** The hatch of a suppressed figure: diagonal lines, legible in greyscale. */
function defs(id: string): Html {
  return html`<defs><pattern id="${id}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
<rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="${MUTED}" stroke-width="2"/></pattern></defs>`;
}

function suppressedMark(id: string, x: number, y: number, height: number): Html {
  return html`<g class="suppressed"><rect x="${x}" y="${y}" width="22" height="${height}" fill="url(#${id}-hatch)" stroke="${MUTED}" stroke-dasharray="3 2"/>
<text x="${x + 27}" y="${y + height / 2 + 4}" class="muted">suppressed</text></g>`;
}

function frame(t: ChartText, width: number, height: number, body: Html): Html {
  return html`<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-labelledby="${t.id}-title ${t.id}-desc" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
<title id="${t.id}-title">${t.title}</title><desc id="${t.id}-desc">${t.description}</desc>${defs(t.id)}${body}</svg>`;
}

export interface BarSeries {
  name: string;
  /** Solid dark bars, or light bars with a dark outline: told apart in greyscale too. */
  style: 'solid' | 'outlined';
}

export interface BarRow {
  label: string;
  /** One per series, as published. */
  values: readonly Published[];
}

const BAR = { width: 720, labelWidth: 230, bar: 12, gap: 2, pad: 6, legend: 30, axis: 26, valueRoom: 90 };

/** A coordinate to a tenth of a unit: enough for the eye, and short markup. */
const at = (v: number) => Math.round(v * 10) / 10;

function swatch(id: string, style: BarSeries['style'] | 'suppressed'): Html {
  if (style === 'suppressed') return html`<rect width="14" height="12" fill="url(#${id}-hatch)" stroke="${MUTED}" stroke-dasharray="3 2"/>`;
  return html`<rect width="14" height="12" fill="${style === 'solid' ? DARK : LIGHT}" stroke="${DARK}"/>`;
}

/** Horizontal bars: a row per stratum, a bar per series, its count at its end. */
export function barChart(t: ChartText, series: readonly BarSeries[], rows: readonly BarRow[]): Html {
  const rowHeight = BAR.pad * 2 + series.length * BAR.bar + (series.length - 1) * BAR.gap;
  const plotX = BAR.labelWidth + 12;
  const plotWidth = BAR.width - plotX - BAR.valueRoom;
  const plotTop = BAR.legend;
  const plotBottom = plotTop + rows.length * rowHeight;
  const max = Math.max(0, ...rows.flatMap((r) => r.values.filter((v): v is number => v !== null)));
  const { step, top } = niceScale(max, 4);
  const x = (v: number) => at(plotX + (v / top) * plotWidth);

  let legendX = plotX;
  const legend = [...series.map((s) => ({ name: s.name, style: s.style })), { name: 'suppressed (fewer than 8)', style: 'suppressed' as const }].map((item) => {
    const g = html`<g transform="translate(${at(legendX)} 8)">${swatch(t.id, item.style)}<text x="18" y="10">${item.name}</text></g>`;
    legendX += 30 + item.name.length * 6.5;
    return g;
  });

  const bands = rows.map((row, r) => {
    const y0 = plotTop + r * rowHeight;
    return html`${r % 2 ? '' : html`<rect x="0" y="${y0}" width="${BAR.width}" height="${rowHeight}" fill="#f3f3f3"/>`}
${label(row.label, BAR.labelWidth, y0 + rowHeight / 2, 34)}`;
  });

  const grid = [];
  for (let v = 0; v <= top; v += step) {
    grid.push(html`<line x1="${x(v)}" y1="${plotTop}" x2="${x(v)}" y2="${plotBottom}" stroke="${GRID}"/>
<text x="${x(v)}" y="${plotBottom + 16}" text-anchor="middle" class="tick">${COUNT.format(v)}</text>`);
  }

  const bars = rows.map((row, r) => series.map((s, i) => {
    const y = plotTop + r * rowHeight + BAR.pad + i * (BAR.bar + BAR.gap);
    const v = row.values[i];
    if (v === null || v === undefined) return suppressedMark(t.id, plotX, y, BAR.bar);
    const end = x(v);
    return html`${v > 0 && html`<rect x="${plotX}" y="${y}" width="${at(end - plotX)}" height="${BAR.bar}" fill="${s.style === 'solid' ? DARK : LIGHT}" stroke="${DARK}"/>`}
<text x="${at(end + 4)}" y="${y + BAR.bar - 2}">${COUNT.format(v)}</text>`;
  }));

  return frame(t, BAR.width, plotBottom + BAR.axis, html`${bands}${grid}${legend}${bars}
<line x1="${plotX}" y1="${plotTop}" x2="${plotX}" y2="${plotBottom}" stroke="${INK}"/>`);
}

export interface ChangeColumn {
  /** Up to three short lines: the instrument, the score, and which way is better. */
  heading: readonly string[];
}

export interface ChangeRow {
  label: string;
  /** One per column: the number of people and the mean change with its interval, as published. */
  figures: readonly Figure[];
}

const CHANGE = { width: 880, labelWidth: 210, row: 30, head: 62, legend: 26, axis: 24 };

/**
 * Mean change with its 95% confidence interval, a panel per score (each on its own symmetric scale
 * around no change, since the instruments' ranges differ) and a row per stratum.
 */
export function changeChart(t: ChartText, columns: readonly ChangeColumn[], rows: readonly ChangeRow[]): Html {
  const panelsX = CHANGE.labelWidth + 12;
  const panelWidth = (CHANGE.width - panelsX) / columns.length;
  const plotTop = CHANGE.legend + CHANGE.head;
  const height = plotTop + rows.length * CHANGE.row + CHANGE.axis;
  const half = panelWidth / 2 - 12;

  const panels = columns.map((column, c) => {
    const left = at(panelsX + c * panelWidth);
    const mid = at(left + panelWidth / 2);
    const reach = Math.max(0, ...rows.flatMap((r) => {
      const f = r.figures[c];
      return [f?.low, f?.high, f?.value].filter((v): v is number => typeof v === 'number').map(Math.abs);
    }));
    // At least ±1 on every scale, so that a panel whose figures are all suppressed still has an axis.
    const top = roundUp(Math.max(reach, 1));
    const x = (v: number) => at(mid + (v / top) * half);
    const heading = column.heading.map((line, i) => html`<text x="${mid}" y="${CHANGE.legend + 14 + i * 15}" text-anchor="middle" class="${i === 0 ? 'heading' : 'tick'}">${line}</text>`);
    const marks = rows.map((row, r) => {
      const y = plotTop + r * CHANGE.row + CHANGE.row / 2;
      const f = row.figures[c];
      if (!f || f.count === 0) return html`<text x="${mid}" y="${y + 4}" text-anchor="middle" class="tick muted">none</text>`;
      if (f.count === null || typeof f.value !== 'number') return suppressedMark(t.id, left + 8, y - 6, 12);
      const whisker = typeof f.low === 'number' && typeof f.high === 'number'
        ? html`<line x1="${x(f.low)}" y1="${y}" x2="${x(f.high)}" y2="${y}" stroke="${DARK}" stroke-width="2"/>
<line x1="${x(f.low)}" y1="${y - 5}" x2="${x(f.low)}" y2="${y + 5}" stroke="${DARK}" stroke-width="2"/>
<line x1="${x(f.high)}" y1="${y - 5}" x2="${x(f.high)}" y2="${y + 5}" stroke="${DARK}" stroke-width="2"/>`
        : '';
      return html`${whisker}<circle cx="${x(f.value)}" cy="${y}" r="4.5" fill="${DARK}"/>`;
    });
    const bottom = plotTop + rows.length * CHANGE.row;
    return html`<g class="panel"><rect x="${left + 2}" y="${plotTop}" width="${at(panelWidth - 4)}" height="${bottom - plotTop}" fill="none" stroke="${GRID}"/>
<line x1="${mid}" y1="${plotTop}" x2="${mid}" y2="${bottom}" stroke="${MUTED}" stroke-dasharray="4 3"/>${heading}${marks}
${[-top, 0, top].map((v) => html`<text x="${x(v)}" y="${bottom + 16}" text-anchor="middle" class="tick">${SIGNED.format(v)}</text>`)}</g>`;
  });

  const bands = rows.map((row, r) => {
    const y0 = plotTop + r * CHANGE.row;
    return html`${r % 2 ? '' : html`<rect x="0" y="${y0}" width="${CHANGE.width}" height="${CHANGE.row}" fill="#f3f3f3"/>`}${label(row.label, CHANGE.labelWidth, y0 + CHANGE.row / 2, 32)}`;
  });

  const legend = html`<g transform="translate(${panelsX} 6)" class="tick">
<circle cx="6" cy="7" r="4.5" fill="${DARK}"/><text x="16" y="11">mean change</text>
<line x1="110" y1="7" x2="140" y2="7" stroke="${DARK}" stroke-width="2"/><line x1="110" y1="2" x2="110" y2="12" stroke="${DARK}" stroke-width="2"/><line x1="140" y1="2" x2="140" y2="12" stroke="${DARK}" stroke-width="2"/>
<text x="148" y="11">95% confidence interval</text>
<line x1="300" y1="0" x2="300" y2="14" stroke="${MUTED}" stroke-dasharray="4 3"/><text x="308" y="11">no change</text>
<rect x="385" y="1" width="14" height="12" fill="url(#${t.id}-hatch)" stroke="${MUTED}" stroke-dasharray="3 2"/><text x="405" y="11">suppressed (fewer than 8)</text></g>`;

  return frame(t, CHANGE.width, height, html`${bands}${legend}${panels}`);
}
