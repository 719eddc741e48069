import { describe, expect, it } from 'vitest';
import { meanWithInterval, median, tCritical } from '../../src/reports/statistics.js';

describe('report statistics (statistics.ts)', () => {
  it('takes Student\'s t from the published table, the row below between rows, the normal beyond 1,000', () => {
    expect(tCritical(7)).toBe(2.365);
    expect(tCritical(30)).toBe(2.042);
    expect(tCritical(45)).toBe(2.021); // between 40 and 50: the 40 row
    expect(tCritical(500)).toBe(1.984);
    expect(tCritical(5000)).toBe(1.960);
    expect(() => tCritical(0)).toThrow();
  });

  it('gives the mean, sample SD and 95% interval of a worked example', () => {
    // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, sample SD √(32/7), t(7) = 2.365.
    const r = meanWithInterval([2, 4, 4, 4, 5, 5, 7, 9]);
    const sd = Math.sqrt(32 / 7);
    expect(r.mean).toBe(5);
    expect(r.sd).toBeCloseTo(sd, 12);
    expect(r.low).toBeCloseTo(5 - 2.365 * sd / Math.sqrt(8), 12);
    expect(r.high).toBeCloseTo(5 + 2.365 * sd / Math.sqrt(8), 12);
  });

  it('takes the median of odd and even counts, and none of nothing', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
  });
});
