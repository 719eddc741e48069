import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatInstant, MonotonicClock, parseDateRange } from '../../src/fhir/instant.js';

/** Microseconds since the epoch of a UTC wall-clock time, for any year 1-9999 (Date.UTC maps 0-99 to 1900-1999). */
function utc(y: number, mo = 1, d = 1, h = 0, mi = 0, s = 0, us = 0): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  return t.getTime() * 1000 + us;
}
const SECOND = 1_000_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('parseDateRange: the range each precision denotes', () => {
  it.each<[string, string, number, number]>([
    // [text, precision, lo, span]: hi is lo + span - 1 (inclusive)
    ['2026', 'year', utc(2026), 365 * DAY],
    ['2024', 'leap year', utc(2024), 366 * DAY],
    ['2026-02', 'month (28 days)', utc(2026, 2), 28 * DAY],
    ['2024-02', 'month (leap February)', utc(2024, 2), 29 * DAY],
    ['2026-12', 'month (December)', utc(2026, 12), 31 * DAY],
    ['2026-02-28', 'day', utc(2026, 2, 28), DAY],
    ['2024-02-29', 'day (leap day)', utc(2024, 2, 29), DAY],
    ['2000-02-29', 'day (leap day of a century divisible by 400)', utc(2000, 2, 29), DAY],
    ['2026-01-01T10:00', 'minute, no zone (read as UTC)', utc(2026, 1, 1, 10), MINUTE],
    ['2026-01-01T10:00Z', 'minute, UTC', utc(2026, 1, 1, 10), MINUTE],
    ['2026-01-01T10:00:05', 'second, no zone (read as UTC)', utc(2026, 1, 1, 10, 0, 5), SECOND],
    ['2026-01-01T10:00:05Z', 'second, UTC', utc(2026, 1, 1, 10, 0, 5), SECOND],
    ['2026-01-01T10:00:05.5Z', 'tenth of a second', utc(2026, 1, 1, 10, 0, 5, 500_000), 100_000],
    ['2026-01-01T10:00:05.123Z', 'millisecond', utc(2026, 1, 1, 10, 0, 5, 123_000), 1_000],
    ['2026-01-01T10:00:05.123456Z', 'microsecond', utc(2026, 1, 1, 10, 0, 5, 123_456), 1],
    ['2026-01-01T10:00:05.123456789Z', 'nanosecond (truncated to the microsecond)', utc(2026, 1, 1, 10, 0, 5, 123_456), 1],
    ['1969-12-31T23:59:59.999999Z', 'before the epoch', -1, 1],
    ['2200-01-01', 'far future (still exact in µs)', utc(2200), DAY],
  ])('%s (%s)', (text, _precision, lo, span) => {
    expect(parseDateRange(text)).toEqual({ lo, hi: lo + span - 1 });
  });

  it.each<[string, number]>([
    ['2026-01-01T10:00:00+01:00', utc(2026, 1, 1, 9)],
    ['2026-01-01T10:00:00-05:30', utc(2026, 1, 1, 15, 30)],
    ['2026-01-01T00:30:00+14:00', utc(2025, 12, 31, 10, 30)],
    ['2026-01-01T10:00:00-12:00', utc(2026, 1, 1, 22)],
    ['2026-01-01T10:00:00+00:00', utc(2026, 1, 1, 10)],
    ['2026-01-01T10:00:00-00:00', utc(2026, 1, 1, 10)],
    ['2026-03-29T01:30:00+01:00', utc(2026, 3, 29, 0, 30)],
  ])('time zone offset: %s starts at the right UTC instant', (text, lo) => {
    expect(parseDateRange(text)?.lo).toBe(lo);
  });

  it.each([
    ['2026-02-30', 'no 30 February'],
    ['2026-02-29', '2026 is not a leap year'],
    ['2100-02-29', '2100 is not a leap year'],
    ['2026-04-31', 'April has 30 days'],
    ['2026-13-01', 'month 13'],
    ['2026-00-10', 'month 0'],
    ['2026-01-00', 'day 0'],
    ['2026-01-32', 'day 32'],
    ['2026-01-01T24:00:00Z', 'hour 24'],
    ['2026-01-01T23:60:00Z', 'minute 60'],
    ['2026-01-01T23:59:60Z', 'leap second'],
    ['2026-01-01T10', 'hour without minutes'],
    ['2026-01-01T', 'T without a time'],
    ['2026-01-01Z', 'zone without a time'],
    ['2026-01-01T10:00:00.Z', 'empty fraction'],
    ['2026-01-01T10:00:00+1:00', 'one-digit zone hour'],
    ['2026-01-01 10:00:00', 'space instead of T'],
    ['26', 'two-digit year'],
    ['2026-1-1', 'one-digit month and day'],
    ['2026/01/01', 'slashes'],
    [' 2026', 'leading space'],
    ['+2026', 'signed year'],
    ['', 'empty'],
    ['now', 'a word'],
  ])('%s is not a FHIR date (%s)', (text) => {
    expect(parseDateRange(text)).toBeUndefined();
  });

  // FHIR R4 datatypes.html#dateTime: year 0001-9999; zone (Z|(+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)).
  it.each([
    ['0000', 'year 0000'],
    ['2026-01-01T10:00:00+15:00', 'offset beyond +14:00'],
    ['2026-01-01T10:00:00+99:99', 'offset 99:99'],
    ['2026-01-01T10:00:00+01:75', 'offset minutes 75'],
  ])('%s is outside the FHIR lexical space (%s)', (text) => {
    expect(parseDateRange(text)).toBeUndefined();
  });

  it.each<[string, number, number]>([
    ['0001', utc(1), 365 * DAY],
    ['0099', utc(99), 365 * DAY],
    ['0050-06-15', utc(50, 6, 15), DAY],
    ['0099-12-31T23:59:59Z', utc(99, 12, 31, 23, 59, 59), SECOND],
  ])('years before 100 are not read as 19xx: %s', (text, lo, span) => {
    expect(parseDateRange(text)).toEqual({ lo, hi: lo + span - 1 });
  });
});

describe('formatInstant', () => {
  it.each<[number, string]>([
    [0, '1970-01-01T00:00:00.000000Z'],
    [1, '1970-01-01T00:00:00.000001Z'],
    [999, '1970-01-01T00:00:00.000999Z'],
    [1000, '1970-01-01T00:00:00.001000Z'],
    [-1, '1969-12-31T23:59:59.999999Z'],
    [utc(2026, 2, 14, 9, 30, 15, 123_456), '2026-02-14T09:30:15.123456Z'],
    [utc(2200, 12, 31, 23, 59, 59, 999_999), '2200-12-31T23:59:59.999999Z'],
  ])('%i µs is %s', (us, text) => {
    expect(formatInstant(us)).toBe(text);
  });

  // Micros are JavaScript numbers: exact to the microsecond between about 1685 and 2255 (±2^53 µs).
  it('round-trips through parseDateRange to exactly one microsecond, wherever µs are exact', () => {
    fc.assert(fc.property(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }), (us) => {
      expect(parseDateRange(formatInstant(us))).toEqual({ lo: us, hi: us });
    }), { seed: 20_260_214, numRuns: 1000 });
  });

  it('round-trips an instant in year 0050', () => {
    const us = utc(50, 6, 15, 12); // a multiple of 8 µs: exact even this far from the epoch
    expect(parseDateRange(formatInstant(us))).toEqual({ lo: us, hi: us });
  });
});

describe('MonotonicClock', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is strictly increasing over many calls', () => {
    const clock = new MonotonicClock();
    let last = clock.next();
    for (let i = 0; i < 10_000; i++) {
      const v = clock.next();
      expect(v).toBeGreaterThan(last);
      last = v;
    }
  });

  it('reads the wall clock in microseconds when it has moved on', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    expect(new MonotonicClock().next()).toBe(1_700_000_000_000_000);
  });

  it('still increases when the wall clock stands still', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    const clock = new MonotonicClock();
    expect([clock.next(), clock.next(), clock.next()]).toEqual([1_700_000_000_000_000, 1_700_000_000_000_001, 1_700_000_000_000_002]);
  });

  it('still increases when the wall clock runs backwards', () => {
    const now = vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    const clock = new MonotonicClock();
    const first = clock.next();
    now.mockReturnValue(1_600_000_000_000);
    expect(clock.next()).toBe(first + 1);
  });

  it('never hands out a value at or below one observed (e.g. the largest stored lastUpdated)', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    const clock = new MonotonicClock();
    clock.observe(1_800_000_000_000_000);
    expect(clock.next()).toBe(1_800_000_000_000_001);
    clock.observe(5); // older values change nothing
    expect(clock.next()).toBe(1_800_000_000_000_002);
  });

  it('starts after the value it is constructed with', () => {
    vi.spyOn(Date, 'now').mockReturnValue(1);
    expect(new MonotonicClock(42).next()).toBe(1000);
    expect(new MonotonicClock(5000).next()).toBe(5001);
  });

  it('is strictly increasing whatever the wall clock does (property)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 2_000_000_000_000 }), { minLength: 1, maxLength: 50 }), (nows) => {
      const now = vi.spyOn(Date, 'now');
      const clock = new MonotonicClock();
      let last = -Infinity;
      for (const n of nows) {
        now.mockReturnValue(n);
        const v = clock.next();
        expect(v).toBeGreaterThan(last);
        expect(v).toBeGreaterThanOrEqual(n * 1000);
        last = v;
      }
      now.mockRestore();
    }), { seed: 20_260_214 });
  });
});
