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
  /** The row it counts, or -1 for a total. */
  row: number;
  group: number;
  cells: number[];
  people: number;
}

const widthOf = (t: CountTable) => t.people[0]?.length ?? 0;

/** The counts of a table as equations in its cells (cell r·K + k), published or not. */
function equations(t: CountTable): Equation[] {
  const width = widthOf(t);
  const sum = (cells: number[]) => cells.reduce((a, c) => a + t.people[Math.floor(c / width)]![c % width]!, 0);
  return t.groups.flatMap((g, group) => {
    const perRow = t.rows.map((row, r) => ({ key: stratumKey(g.key, row), row: r, group, cells: g.cells.map((k) => r * width + k) }));
    const all = { key: totalKey(g.key), row: -1, group, cells: perRow.flatMap((e) => e.cells) };
    return [...perRow, all].map((e) => ({ ...e, people: sum(e.cells) }));
  });
}

/** Hiding a count of people costs what it holds; a zero hides nobody, so it goes last; a stratum before a total. */
const rank = (e: Equation) => (e.people === 0 ? 1e12 : e.people * 2) + (e.row < 0 ? 1 : 0);

/** What a reader works with: published equations in some unknowns, each standing for one or more counts. */
interface System {
  width: number;
  equations: { cells: number[]; counts: Equation[] }[];
  /**
   * The sums to protect (in the system's unknowns) and how many people each holds, given what the span
   * computes; `always` for one that must not be computable whatever it holds.
   */
  probes: (span: PublishedSpan) => Iterable<{ cells: number[]; people: number; always?: boolean }>;
}

function spanOf(system: System, without?: number): PublishedSpan {
  const span = new PublishedSpan(system.width, system.equations.length);
  system.equations.forEach((e, i) => { if (i !== without) span.add(e.cells, i); });
  return span;
}

/** The cheapest count an equation stands for (an aggregate stands for several). */
const cheapest = (counts: readonly Equation[]) => [...counts].sort((a, b) => rank(a) - rank(b))[0]!;

/**
 * For every small sum the system computes, the count to suppress next: the cheapest (rank) of the
 * equations it is computed from whose suppression alone makes it not computable, or failing one, the
 * cheapest of them.
 */
function leaks(system: System): string[] {
  const span = spanOf(system);
  const chosen = new Set<string>();
  for (const probe of system.probes(span)) {
    if (!probe.always && !isSmall(probe.people)) continue;
    const from = span.computedFrom(probe.cells);
    // One already chosen in this pass may make this one safe too: the next pass will tell.
    if (!from || from.some((i) => system.equations[i]!.counts.some((e) => chosen.has(e.key)))) continue;
    const candidates = from.sort((a, b) => rank(cheapest(system.equations[a]!.counts)) - rank(cheapest(system.equations[b]!.counts)));
    const breaking = candidates.find((i) => !spanOf(system, i).computedFrom(probe.cells));
    chosen.add(cheapest(system.equations[breaking ?? candidates[0]!]!.counts).key);
  }
  return [...chosen];
}

/** Each non-empty combination of a table's cells. */
const patterns = (width: number) => [...Array((1 << width) - 1).keys()].map((m) => [...Array(width).keys()].filter((k) => ((m + 1) >> k) & 1));

/**
 * One pass over a table: the counts to suppress next, none when it is safe. What the reader knows is
 * reduced first, both to be exact and to stay small for a stratifier of hundreds of strata: a cell
 * inside a published 0 is known to be empty (people are never negative); the strata whose every count
 * is published are fully known, so they enter the totals only as their sum (and are checked alone);
 * the strata whose every count is suppressed enter only the totals, so they are one unknown together.
 */
function nextSuppressions(t: CountTable, suppressed: ReadonlySet<string>, shared: ReadonlySet<string>): string[] {
  const width = widthOf(t);
  const all = equations(t);
  const isPublished = (e: Equation) => !suppressed.has(e.key);
  const empty = new Uint8Array(t.rows.length * width);
  for (const e of all) if (isPublished(e) && e.people === 0) for (const c of e.cells) empty[c] = 1;
  const live = (cells: readonly number[]) => cells.filter((c) => !empty[c]);
  const people = (cells: readonly number[]) => cells.reduce((a, c) => a + t.people[Math.floor(c / width)]![c % width]!, 0);

  const ofRow = t.rows.map((): Equation[] => []);
  for (const e of all) if (e.row >= 0 && live(e.cells).length) ofRow[e.row]!.push(e);
  const kind = ofRow.map((own) => (own.every(isPublished) ? 'published' : own.some(isPublished) ? 'partial' : 'suppressed'));

  const chosen: string[] = [];
  // A stratum whose counts are all published, alone: can its counts be combined into a small one?
  ofRow.forEach((own, r) => {
    if (kind[r] !== 'published' || !own.length) return;
    const cells = live(own.flatMap((e) => e.cells));
    const index = new Map([...new Set(cells)].map((c, i) => [c, i]));
    chosen.push(...leaks({
      width: index.size,
      equations: own.map((e) => ({ cells: live(e.cells).map((c) => index.get(c)!), counts: [e] })),
      probes: () => patterns(width).map((p) => {
        const inRow = live(p.map((k) => r * width + k));
        return { cells: inRow.map((c) => index.get(c)!), people: people(inRow) };
      }).filter((p) => p.cells.length),
    }));
  });

  // The reader's unknowns: each live cell of a partly published stratum; each cell of the published
  // strata together, and of the suppressed strata together.
  let n = 0;
  const unknownOf = new Int32Array(t.rows.length * width).fill(-1);
  const together = { published: new Int32Array(width).fill(-1), suppressed: new Int32Array(width).fill(-1) };
  t.rows.forEach((_, r) => {
    for (let k = 0; k < width; k++) {
      const c = r * width + k;
      if (empty[c]) continue;
      const kindOf = kind[r]!;
      if (kindOf === 'partial') unknownOf[c] = n++;
      else unknownOf[c] = together[kindOf][k]! >= 0 ? together[kindOf][k]! : (together[kindOf][k] = n++);
    }
  });
  const mapped = (cells: readonly number[]) => [...new Set(cells.map((c) => unknownOf[c]!).filter((u) => u >= 0))];

  const system: System['equations'] = [];
  t.groups.forEach((_, group) => {
    // The published strata's counts of a group, as one equation in their cells together.
    const counts = all.filter((e) => e.group === group && e.row >= 0 && kind[e.row] === 'published' && live(e.cells).length);
    const cells = mapped(counts.flatMap((e) => e.cells));
    if (cells.length) system.push({ cells, counts });
  });
  for (const e of all) {
    if (!isPublished(e) || (e.row >= 0 && kind[e.row] === 'published')) continue;
    const cells = mapped(e.cells);
    if (cells.length) system.push({ cells, counts: [e] });
  }
  const rowsOfKind = (k: string) => t.rows.flatMap((_, r) => (kind[r] === k ? [r] : []));
  const partial = rowsOfKind('partial');
  const hidden = rowsOfKind('suppressed');
  const known = rowsOfKind('published');

  chosen.push(...leaks({
    width: n,
    equations: system,
    // In each partly published stratum, in the suppressed strata together, in all the strata where it is
    // not computable together (the classic "total less the published strata"), and in all.
    *probes(span) {
      for (const p of patterns(width)) {
        const sum = (rows: readonly number[]) => {
          const cells = live(rows.flatMap((r) => p.map((k) => r * width + k)));
          return { cells: mapped(cells), people: people(cells) };
        };
        const unknown: number[] = [];
        for (const r of partial) {
          const probe = sum([r]);
          if (!probe.cells.length) continue;
          yield probe;
          if (!span.computedFrom(probe.cells)) unknown.push(r);
        }
        for (const rows of [hidden, known]) {
          const probe = sum(rows);
          if (!probe.cells.length) continue;
          if (rows === hidden) yield probe;
          if (!span.computedFrom(probe.cells)) unknown.push(...rows);
        }
        if (unknown.length) yield sum(unknown);
        yield sum(t.rows.map((_, r) => r));
      }
      // A suppressed figure another table shares protects something there: here it must stay unknown too.
      for (const e of all) {
        if (isPublished(e) || !shared.has(e.key)) continue;
        // One of several wholly suppressed strata: they are one unknown together, so none alone is computable.
        if (e.row >= 0 && kind[e.row] === 'suppressed' && hidden.length > 1) continue;
        const cells = mapped(live(e.cells));
        if (cells.length) yield { cells, people: e.people, always: true };
      }
    },
  }));
  return [...new Set(chosen)];
}

/**
 * The keys of the figures to suppress across tables that share figures: every count from 1 to 7, the
 * caller's own (`alsoSuppress`), and as many more as it takes for no small sum to be recomputable in
 * any table. Terminates: each pass suppresses at least one more figure, or stops.
 */
export function suppressedFigures(tables: readonly CountTable[], alsoSuppress: Iterable<string> = []): Set<string> {
  const suppressed = new Set<string>(alsoSuppress);
  const tablesOf = new Map<string, number>();
  for (const t of tables) {
    for (const e of equations(t)) {
      if (isSmall(e.people)) suppressed.add(e.key);
      tablesOf.set(e.key, (tablesOf.get(e.key) ?? 0) + 1);
    }
  }
  const shared = new Set([...tablesOf].flatMap(([key, n]) => (n > 1 ? [key] : [])));
  for (let changed = true; changed;) {
    changed = false;
    for (const t of tables) {
      const more = nextSuppressions(t, suppressed, shared);
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
