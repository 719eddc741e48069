import { describe, expect, it } from 'vitest';
import { isSmall } from '../../src/reports/disclosure.js';
import { suppressedFigures, type CountTable } from '../../src/reports/secondary-suppression.js';

/**
 * Secondary suppression checked against an attacker who knows every published count and does exact
 * linear algebra on them, knowing too that a published 0 has nobody in any of its cells: for small tables, every set of strata in every stratum and in all, by every set of cells (not only the
 * sums the code under test probes) is tried. A sum is computable exactly when its vector is orthogonal to every
 * solution of the homogeneous system (the null space of the published equations): a characterisation
 * independent of the code under test, which works in the row space.
 */

/** A basis of the null space of the rows (each a vector over n unknowns), by Gauss–Jordan elimination. */
function nullSpace(rows: number[][], n: number): number[][] {
  const m = rows.map((r) => [...r]);
  const pivotOf: number[] = [];
  let r = 0;
  for (let c = 0; c < n && r < m.length; c++) {
    const p = m.findIndex((row, i) => i >= r && Math.abs(row[c]!) > 1e-9);
    if (p < 0) continue;
    [m[r], m[p]] = [m[p]!, m[r]!];
    const lead = m[r]![c]!;
    m[r] = m[r]!.map((x) => x / lead);
    for (let i = 0; i < m.length; i++) {
      if (i === r) continue;
      const f = m[i]![c]!;
      if (f !== 0) m[i] = m[i]!.map((x, j) => x - f * m[r]![j]!);
    }
    pivotOf[c] = r++;
  }
  const free = [...Array(n).keys()].filter((c) => pivotOf[c] === undefined);
  return free.map((f) => {
    const v = Array<number>(n).fill(0);
    v[f] = 1;
    for (let c = 0; c < n; c++) if (pivotOf[c] !== undefined) v[c] = -m[pivotOf[c]!]![f]!;
    return v;
  });
}

/**
 * Every sum a reader can compute from what is published, of the people in one stratum (row), or in
 * all, who are in some combinations of groups (cells): each atomic cell, each figure published or
 * suppressed, and each difference of nested figures (received less accepted less declined). This is
 * what disclosure control protects (disclosure.ts); a sum over some strata but not all only bounds
 * the strata in it, and is not asked.
 */
function computableSums(tables: CountTable[], hidden: Set<string>): { rows: number[]; cells: number[]; people: number }[] {
  const found: { rows: number[]; cells: number[]; people: number }[] = [];
  for (const t of tables) {
    const k = t.people[0]!.length;
    const n = t.rows.length * k;
    const eqs: number[][] = [];
    for (const g of t.groups) {
      const total = Array<number>(n).fill(0);
      t.rows.forEach((row, r) => {
        const v = Array<number>(n).fill(0);
        for (const c of g.cells) v[r * k + c] = total[r * k + c] = 1;
        if (!hidden.has(`${g.key}|${row}`)) eqs.push(v);
      });
      if (!hidden.has(`${g.key}|*`)) eqs.push(total);
    }
    // People are never negative: every cell inside a published 0 is known to be empty.
    for (const e of [...eqs]) {
      if (e.reduce((a, x, i) => a + x * t.people[Math.floor(i / k)]![i % k]!, 0) > 0) continue;
      e.forEach((x, i) => { if (x) eqs.push(Array.from({ length: n }, (_, j) => (j === i ? 1 : 0))); });
    }
    const basis = nullSpace(eqs, n);
    const subsets = (size: number) => [...Array((1 << size) - 1).keys()].map((m) => [...Array(size).keys()].filter((i) => ((m + 1) >> i) & 1));
    for (const rows of [...t.rows.map((_, r) => [r]), t.rows.map((_, r) => r)]) {
      for (const cells of subsets(k)) {
        const v = Array<number>(n).fill(0);
        for (const r of rows) for (const c of cells) v[r * k + c] = 1;
        if (basis.every((b) => Math.abs(b.reduce((a, x, i) => a + x * v[i]!, 0)) < 1e-9)) {
          found.push({ rows, cells, people: rows.reduce((a, r) => a + cells.reduce((x, c) => x + t.people[r]![c]!, 0), 0) });
        }
      }
    }
  }
  return found;
}

/** A deterministic PRNG (mulberry32), so that a failure names its seed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A referral-progress table like the report's: rows by cells (0 not accepted nor declined, 1 declined,
 * 2 accepted, 3 accepted and completed), groups received, accepted, declined, completed.
 */
function progressTable(people: number[][]): CountTable {
  return {
    rows: people.map((_, r) => `age:${r}`), people,
    groups: [{ key: 'received', cells: [0, 1, 2, 3] }, { key: 'accepted', cells: [2, 3] }, { key: 'declined', cells: [1] }, { key: 'completed', cells: [3] }],
  };
}

describe('secondary suppression against exact arithmetic on the published counts', () => {
  it('hides "received 9, accepted 8": the one not accepted is recomputable', () => {
    const t = progressTable([[1, 0, 8, 0], [20, 0, 20, 0]]);
    const hidden = suppressedFigures([t]);
    expect(computableSums([t], hidden).filter((s) => isSmall(s.people))).toEqual([]);
    // Without secondary suppression every count here is 0 or at least 8 and the 1 would show.
    const primaryOnly = new Set<string>();
    expect(computableSums([t], primaryOnly).some((s) => s.people === 1)).toBe(true);
  });

  it('hides a chain across strata and groups: received less accepted less declined in one stratum', () => {
    // Stratum 0: 10 received, 0 accepted... the 3 pending are received - accepted - declined.
    const t = progressTable([[3, 9, 0, 0], [0, 8, 12, 9], [10, 0, 10, 8]]);
    const hidden = suppressedFigures([t]);
    expect(computableSums([t], hidden).filter((s) => isSmall(s.people))).toEqual([]);
  });

  it('leaves nothing small computable over 500 random tables of 4 strata, in every stratum and in all, by every set of cells', { timeout: 60_000 }, () => {
    const leaks: string[] = [];
    for (let seed = 1; seed <= 500; seed++) {
      const rand = prng(seed);
      // Mostly small numbers, so that small cells and near-misses are common.
      const people = [0, 1, 2, 3].map(() => [0, 1, 2, 3].map(() => (rand() < 0.3 ? 0 : Math.floor(rand() * (rand() < 0.5 ? 8 : 30)))));
      const t = progressTable(people);
      const hidden = suppressedFigures([t]);
      for (const s of computableSums([t], hidden)) if (isSmall(s.people)) leaks.push(`seed ${seed}: ${JSON.stringify(people)} rows ${s.rows} cells ${s.cells} = ${s.people}`);
    }
    expect(leaks).toEqual([]);
  });

  it('shares a figure between tables: suppressed in one, it is suppressed in the other', () => {
    const byAge = progressTable([[0, 0, 9, 0], [0, 0, 12, 0]]);
    const byGender: CountTable = { ...progressTable([[0, 0, 3, 0], [0, 0, 18, 0]]), rows: ['gender:f', 'gender:m'] };
    const hidden = suppressedFigures([byAge, byGender]);
    expect(hidden.has('received|gender:f')).toBe(true);
    expect(computableSums([byAge, byGender], hidden).filter((s) => isSmall(s.people))).toEqual([]);
  });
});

describe('secondary suppression across two stratifiers of the same people', () => {
  const groups = progressTable([]).groups;
  const subsets = (size: number) => [...Array((1 << size) - 1).keys()].map((m) => [...Array(size).keys()].filter((i) => ((m + 1) >> i) & 1));

  /**
   * The reader's view when the same people are published by age (a) and by practice (p): unknowns are
   * the people of each age × practice × cell; each published count of either table, and the totals
   * both share, is one equation in them. Returns every small sum computable in an age, a practice or all.
   */
  function jointLeaks(cube: number[][][], hidden: Set<string>): string[] {
    const [na, np, k] = [cube.length, cube[0]!.length, 4];
    const n = na * np * k;
    const flat = cube.flat(2);
    const vector = (pick: (a: number, p: number, c: number) => boolean) =>
      Array.from({ length: n }, (_, i): number => (pick(Math.floor(i / (np * k)), Math.floor(i / k) % np, i % k) ? 1 : 0));
    const eqs: number[][] = [];
    for (const g of groups) {
      const inG = (c: number) => g.cells.includes(c);
      for (let a = 0; a < na; a++) if (!hidden.has(`${g.key}|age:${a}`)) eqs.push(vector((x, _, c) => x === a && inG(c)));
      for (let p = 0; p < np; p++) if (!hidden.has(`${g.key}|practice:${p}`)) eqs.push(vector((_, y, c) => y === p && inG(c)));
      if (!hidden.has(`${g.key}|*`)) eqs.push(vector((_, __, c) => inG(c)));
    }
    for (const e of [...eqs]) {
      if (e.reduce((s, x, i) => s + x * flat[i]!, 0) > 0) continue;
      e.forEach((x, i) => { if (x) eqs.push(Array.from({ length: n }, (_, j) => (j === i ? 1 : 0))); });
    }
    const basis = nullSpace(eqs, n);
    const leaks: string[] = [];
    const places: [string, (a: number, p: number) => boolean][] = [
      ...[...Array(na).keys()].map((a): [string, (x: number) => boolean] => [`age ${a}`, (x) => x === a]),
      ...[...Array(np).keys()].map((p): [string, (x: number, y: number) => boolean] => [`practice ${p}`, (_, y) => y === p]),
      ['all', () => true],
    ];
    for (const [name, where] of places) {
      for (const cells of subsets(k)) {
        const v = vector((a, p, c) => where(a, p) && cells.includes(c));
        const people = v.reduce((s, x, i) => s + x * flat[i]!, 0);
        if (isSmall(people) && basis.every((b) => Math.abs(b.reduce((s, x, i) => s + x * v[i]!, 0)) < 1e-9)) leaks.push(`${name} cells ${cells} = ${people}`);
      }
    }
    return leaks;
  }

  it('keeps a figure suppressed in one table from being recomputed in the other, over 300 random populations', { timeout: 60_000 }, () => {
    const found: string[] = [];
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(1000 + seed);
      const cube = [0, 1].map(() => [0, 1].map(() => [0, 1, 2, 3].map(() => (rand() < 0.4 ? 0 : Math.floor(rand() * (rand() < 0.6 ? 6 : 20))))));
      const byAge = { ...progressTable(cube.map((ps) => [0, 1, 2, 3].map((c) => ps.reduce((s, p) => s + p[c]!, 0)))), rows: ['age:0', 'age:1'] };
      const byPractice = { ...progressTable([0, 1].map((p) => [0, 1, 2, 3].map((c) => cube.reduce((s, a) => s + a[p]![c]!, 0)))), rows: ['practice:0', 'practice:1'] };
      const hidden = suppressedFigures([byAge, byPractice]);
      for (const leak of jointLeaks(cube, hidden)) found.push(`seed ${seed}: ${JSON.stringify(cube)} ${leak}`);
    }
    expect(found).toEqual([]);
  });
});
