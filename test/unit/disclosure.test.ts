import { describe, expect, it } from 'vitest';
import { isSmall, publishDerived } from '../../src/reports/disclosure.js';
import { suppressedFigures, type CountTable } from '../../src/reports/secondary-suppression.js';

/** One group's strata as a table: each stratum one row of one cell. */
const partition = (strata: number[]): CountTable => ({ rows: strata.map((_, i) => `s${i}`), people: strata.map((c) => [c]), groups: [{ key: 'g', cells: [0] }] });

/** The partition as published: the total and each stratum, or null where suppressed. */
function published(strata: number[]): { total: number | null; strata: (number | null)[] } {
  const hidden = suppressedFigures([partition(strata)]);
  return { total: hidden.has('g|*') ? null : strata.reduce((a, b) => a + b, 0), strata: strata.map((c, i) => (hidden.has(`g|s${i}`) ? null : c)) };
}

describe('small-number suppression (disclosure.ts)', () => {
  it('suppresses counts from 1 to 7 and publishes 0 and 8 upwards', () => {
    expect([0, 1, 7, 8, 100].map(isSmall)).toEqual([false, true, true, false, false]);
  });

  it('suppresses a figure resting on fewer than 8 people, whatever the figure', () => {
    expect(publishDerived(7, 2.5)).toBeNull();
    expect(publishDerived(8, 2.5)).toBe(2.5);
    expect(publishDerived(0, 0)).toBeNull();
  });

  it('publishes a partition with no small stratum as it is', () => {
    expect(published([10, 0, 20])).toEqual({ total: 30, strata: [10, 0, 20] });
  });

  it('suppresses a second stratum so that a lone small one cannot be recomputed from the total', () => {
    expect(published([3, 12, 25])).toEqual({ total: 40, strata: [null, null, 25] });
  });

  it('keeps suppressing until the hidden strata hold at least 8 people between them', () => {
    // 1 and 2 hidden would tell the reader "these two together are 3".
    expect(published([1, 2, 9, 38])).toEqual({ total: 50, strata: [null, null, null, 38] });
  });

  it('never hides a zero to make up the numbers: it hides nobody', () => {
    expect(published([4, 0, 16])).toEqual({ total: 20, strata: [null, 0, null] });
  });

  it('suppresses the total when no other stratum holding anyone can hide a small one', () => {
    expect(published([5, 0])).toEqual({ total: null, strata: [null, 0] });
  });

  it('suppresses everything but the zeros when the total itself is small', () => {
    expect(published([2, 0, 3])).toEqual({ total: null, strata: [null, 0, null] });
  });

  it('never leaves a small sum recomputable, over every partition of 8 to 24 into three strata', () => {
    for (let total = 8; total <= 24; total++) {
      for (let a = 0; a <= total; a++) {
        for (let b = 0; a + b <= total; b++) {
          const strata = [a, b, total - a - b];
          const p = published(strata);
          for (const c of p.strata) if (c !== null) expect(c === 0 || c >= 8, `${strata}`).toBe(true);
          const hidden = strata.filter((_, i) => p.strata[i] === null);
          if (p.total !== null && hidden.length) {
            expect(hidden.length, `${strata}`).toBeGreaterThanOrEqual(2);
            expect(hidden.reduce((x, y) => x + y, 0), `${strata}`).toBeGreaterThanOrEqual(8);
          }
        }
      }
    }
  });
});
