import { isSmall } from './disclosure.js';

/**
 * Secondary suppression (disclosure.ts states the rule) for figures that overlap: the strata of a
 * stratifier partition each group's total, and the groups nest (accepted within received, completed
 * within accepted), so a suppressed count may be recomputed by arithmetic on published ones: a total
 * less the other strata, received less accepted less declined, and chains of both. No rule of thumb
 * over one partition at a time catches the chains, so this one asks exactly what a reader can
 * compute: every published count is a linear equation in the unknown numbers of people in each cell
 * (a stratum crossed with a combination of groups), and a sum of cells is recomputable exactly when
 * its vector lies in the span of the published equations. It suppresses more until no recomputable
 * sum it probes is from 1 to 7. Exact for what it probes; a reader's bounds (a count known to lie
 * between two figures) are not arithmetic it prevents, as in the published rules it follows.
 */

/** People of one stratifier's strata (rows) by the combinations of groups they are in (cells), and the groups counted. */
export interface CountTable {
  /** Each row's name in the keys of the published figures, unique across tables ("age-band:18-34"). */
  rows: readonly string[];
  /** people[r][k]: how many of row r are in cell k. */
  people: readonly (readonly number[])[];
  /** Each group counted, per row and in total: the cells it sums. One key in two tables is one figure. */
  groups: readonly { key: string; cells: readonly number[] }[];
}

export const totalKey = (group: string) => `${group}|*`;
export const stratumKey = (group: string, row: string) => `${group}|${row}`;

/**
 * What a reader can compute: the span of the published equations, kept in echelon form, each row
 * with the combination of equations it came from, so that a sum found computable names the figures
 * it was computed from.
 */
class PublishedSpan {
  private readonly pivots: { column: number; row: Float64Array; from: Float64Array }[] = [];
  constructor(private readonly width: number, private readonly equations: number) {}

  /** The cells' vector less what the span explains of it, and the equations that explain it. */
  private reduced(cells: readonly number[], from = new Float64Array(this.equations)): { rest: Float64Array; from: Float64Array } {
    const rest = new Float64Array(this.width);
    for (const c of cells) rest[c] = 1;
    // Each pivot row was reduced by those before it, so one pass in order clears every pivot column.
    for (const p of this.pivots) {
      const f = rest[p.column]!;
      if (f === 0) continue;
      for (let i = 0; i < this.width; i++) rest[i]! -= f * p.row[i]!;
      for (let i = 0; i < this.equations; i++) from[i]! += f * p.from[i]!;
    }
    return { rest, from };
  }

  add(cells: readonly number[], equation: number): void {
    const start = new Float64Array(this.equations);
    start[equation] = -1;
    // rest = e - Σ f·p, so rest as a combination of equations is e less the pivots used.
    const { rest, from } = this.reduced(cells, start);
    let column = -1;
    for (let i = 0; i < this.width; i++) if (Math.abs(rest[i]!) > EPSILON && (column < 0 || Math.abs(rest[i]!) > Math.abs(rest[column]!))) column = i;
    if (column < 0) return;
    const pivot = rest[column]!;
    for (let i = 0; i < this.width; i++) rest[i]! /= pivot;
    for (let i = 0; i < this.equations; i++) from[i]! /= -pivot;
    this.pivots.push({ column, row: rest, from });
  }

  /** The equations a sum of these cells is computed from, or undefined when it is not computable. */
  computedFrom(cells: readonly number[]): number[] | undefined {
    const { rest, from } = this.reduced(cells);
    if (!rest.every((x) => Math.abs(x) < EPSILON)) return undefined;
    return [...from.keys()].filter((i) => Math.abs(from[i]!) > EPSILON);
  }
}

// Coefficients stay small rationals (sums of 0/1 rows), far from where float error reaches this.
const EPSILON = 1e-9;

interface Equation {
  key: string;
  cells: number[];
  people: number;
  total: boolean;
}

/** The published counts of a table as equations in its cells (cell r·K + k). */
function equations(t: CountTable): Equation[] {
  const width = t.people[0]?.length ?? 0;
  const sum = (cells: number[]) => cells.reduce((a, c) => a + t.people[Math.floor(c / width)]![c % width]!, 0);
  return t.groups.flatMap((g) => {
    const perRow = t.rows.map((row, r) => ({ key: stratumKey(g.key, row), cells: g.cells.map((k) => r * width + k), total: false }));
    const all = { key: totalKey(g.key), cells: perRow.flatMap((e) => e.cells), total: true };
    return [...perRow, all].map((e) => ({ ...e, people: sum(e.cells) }));
  });
}

function spanOf(t: CountTable, published: readonly Equation[]): PublishedSpan {
  const span = new PublishedSpan(t.rows.length * (t.people[0]?.length ?? 0), published.length);
  published.forEach((e, i) => span.add(e.cells, i));
  return span;
}

/**
 * The sums a reader must not recompute when small: for each combination of cells, its people in each
 * row, in all rows, and in the rows where it is not computable taken together (the classic "total less
 * the published strata").
 */
function* probes(t: CountTable, span: PublishedSpan): Generator<number[]> {
  const width = t.people[0]?.length ?? 0;
  for (let pattern = 1; pattern < 1 << width; pattern++) {
    const cells = [...Array(width).keys()].filter((k) => pattern & (1 << k));
    const perRow = t.rows.map((_, r) => cells.map((k) => r * width + k));
    const hidden: number[] = [];
    for (const p of perRow) {
      yield p;
      if (!span.computedFrom(p)) hidden.push(...p);
    }
    if (hidden.length) yield hidden;
    yield perRow.flat();
  }
}

/** Hiding a count of people costs what it holds; a zero hides nobody, so it goes last; a stratum before a total. */
const rank = (e: Equation) => (e.people === 0 ? 1e12 : e.people * 2) + (e.total ? 1 : 0);

/**
 * One pass over a table: for every small computable sum, the published count to suppress next: the
 * cheapest (rank) of those it is computed from whose suppression alone makes it not computable, or
 * failing one, the cheapest of them. None when the table is safe.
 */
function nextSuppressions(t: CountTable, suppressed: ReadonlySet<string>): string[] {
  const width = t.people[0]?.length ?? 0;
  const value = (cells: readonly number[]) => cells.reduce((a, c) => a + t.people[Math.floor(c / width)]![c % width]!, 0);
  const published = equations(t).filter((e) => !suppressed.has(e.key));
  const span = spanOf(t, published);
  const chosen = new Set<string>();
  for (const probe of probes(t, span)) {
    if (!isSmall(value(probe))) continue;
    const from = span.computedFrom(probe)?.map((i) => published[i]!);
    // One already chosen in this pass may make this one safe too: the next pass will tell.
    if (!from || from.some((e) => chosen.has(e.key))) continue;
    const candidates = from.sort((a, b) => rank(a) - rank(b));
    const breaking = candidates.find((e) => !spanOf(t, published.filter((x) => x !== e)).computedFrom(probe));
    chosen.add((breaking ?? candidates[0]!).key);
  }
  return [...chosen];
}

/**
 * The keys of the figures to suppress across tables that share figures: every count from 1 to 7, the
 * caller's own (`alsoSuppress`), and as many more as it takes for no small sum to be recomputable in
 * any table. Terminates: each pass suppresses at least one more figure, or stops.
 */
export function suppressedFigures(tables: readonly CountTable[], alsoSuppress: Iterable<string> = []): Set<string> {
  const suppressed = new Set<string>(alsoSuppress);
  for (const t of tables) for (const e of equations(t)) if (isSmall(e.people)) suppressed.add(e.key);
  for (let changed = true; changed;) {
    changed = false;
    for (const t of tables) {
      const more = nextSuppressions(t, suppressed);
      for (const key of more) suppressed.add(key);
      if (more.length) changed = true;
    }
  }
  return suppressed;
}

/** Each figure's number of people, by key, across tables: for comparing two cohorts' figures. */
export function figurePeople(tables: readonly CountTable[]): Map<string, number> {
  return new Map(tables.flatMap((t) => equations(t).map((e) => [e.key, e.people] as const)));
}
