import type { Published } from './disclosure.js';
import type { Figure, GroupFigures } from './social-prescribing.js';

/** What a suppressed cell says in the CSV: plainly, so that no spreadsheet reads it as zero. */
const SUPPRESSED = 'suppressed';

const HEADER = ['group', 'stratifier', 'stratum', 'count', 'value', 'ci95_low', 'ci95_high'];

/** An RFC 4180 field: quoted when it holds a comma, a quote or a line break. */
function field(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

function cell(v: Published | undefined, decimals: number): string {
  if (v === undefined) return '';
  return v === null ? SUPPRESSED : String(Number(v.toFixed(decimals)));
}

function row(group: string, stratifier: string, stratum: string, f: Figure): string {
  return [group, stratifier, stratum, cell(f.count, 0), cell(f.value, 4), cell(f.low, 4), cell(f.high, 4)].map(field).join(',');
}

/**
 * The report as CSV (issue 10, `Accept: text/csv`) for those who would rather read the table: a row for
 * each group's total (stratifier and stratum empty) and one per stratum, figures as published.
 */
export function reportCsv(figures: readonly GroupFigures[]): string {
  const lines = [HEADER.join(',')];
  for (const g of figures) {
    lines.push(row(g.code, '', '', g.total));
    for (const s of g.stratified) for (const { value, figure } of s.strata) lines.push(row(g.code, s.stratifier, value, figure));
  }
  return `${lines.join('\r\n')}\r\n`;
}
