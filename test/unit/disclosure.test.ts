import { describe, expect, it } from 'vitest';
import { publishCount, publishDerived, publishPartition } from '../../src/reports/disclosure.js';

/** What a reader can work out from a published partition: each stratum that is the total less the others. */
function recomputable(published: { total: number | null; strata: (number | null)[] }): number[] {
  if (published.total === null) return [];
  const hidden = published.strata.flatMap((c, i) => (c === null ? [i] : []));
  if (hidden.length !== 1) return [];
  return hidden;
}

describe('small-number suppression (disclosure.ts)', () => {
  it('suppresses counts from 1 to 7 and publishes 0 and 8 upwards', () => {
    expect([0, 1, 7, 8, 100].map(publishCount)).toEqual([0, null, null, 8, 100]);
  });

  it('suppresses a figure resting on fewer than 8 people, whatever the figure', () => {
    expect(publishDerived(7, 2.5)).toBeNull();
    expect(publishDerived(8, 2.5)).toBe(2.5);
    expect(publishDerived(0, 0)).toBeNull();
  });

  it('publishes a partition with no small stratum as it is', () => {
    expect(publishPartition(30, [10, 0, 20])).toEqual({ total: 30, strata: [10, 0, 20] });
  });

  it('suppresses a second stratum so that a lone small one cannot be recomputed from the total', () => {
    const p = publishPartition(40, [3, 12, 25]);
    expect(p).toEqual({ total: 40, strata: [null, null, 25] });
    expect(recomputable(p)).toEqual([]);
  });

  it('keeps suppressing until the hidden strata hold at least 8 people between them', () => {
    // 1 and 2 hidden would tell the reader "these two together are 3".
    expect(publishPartition(50, [1, 2, 9, 38])).toEqual({ total: 50, strata: [null, null, null, 38] });
  });

  it('never hides a zero to make up the numbers: it hides nobody', () => {
    expect(publishPartition(20, [4, 0, 16])).toEqual({ total: 20, strata: [null, 0, null] });
  });

  it('suppresses everything but the zeros when the total itself is small', () => {
    expect(publishPartition(5, [2, 0, 3])).toEqual({ total: null, strata: [null, 0, null] });
  });

  it('refuses strata that do not add up to the total: the rule would be unsound on them', () => {
    expect(() => publishPartition(10, [3, 3])).toThrow(/partition/);
  });

  it('never leaves a small stratum recomputable, over every partition of 8 to 24 into three strata', () => {
    for (let total = 8; total <= 24; total++) {
      for (let a = 0; a <= total; a++) {
        for (let b = 0; a + b <= total; b++) {
          const strata = [a, b, total - a - b];
          const p = publishPartition(total, strata);
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
