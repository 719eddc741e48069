import { describe, expect, it } from 'vitest';
import { isWorkingDay, londonDate, londonMidnight, overdueBefore } from '../../src/workflow/working-days.js';

const none = new Set<string>();
const at = (iso: string) => Date.parse(iso);

describe('London days (working-days.ts)', () => {
  it('starts each day at London midnight, in winter and summer and on both days the clocks change', () => {
    expect(new Date(londonMidnight('2026-01-15')).toISOString()).toBe('2026-01-15T00:00:00.000Z');
    expect(new Date(londonMidnight('2026-07-15')).toISOString()).toBe('2026-07-14T23:00:00.000Z');
    // 2026: clocks go forward on 29 March, back on 25 October (01:00 UTC both times).
    expect(new Date(londonMidnight('2026-03-29')).toISOString()).toBe('2026-03-29T00:00:00.000Z');
    expect(new Date(londonMidnight('2026-03-30')).toISOString()).toBe('2026-03-29T23:00:00.000Z');
    expect(new Date(londonMidnight('2026-10-25')).toISOString()).toBe('2026-10-24T23:00:00.000Z');
    expect(new Date(londonMidnight('2026-10-26')).toISOString()).toBe('2026-10-26T00:00:00.000Z');
  });

  it('dates an instant by the London calendar', () => {
    expect(londonDate(at('2026-07-14T23:30:00Z'))).toBe('2026-07-15');
    expect(londonDate(at('2026-01-14T23:30:00Z'))).toBe('2026-01-14');
  });

  it('counts Monday to Friday, less the listed holidays', () => {
    expect(['2026-11-30', '2026-12-04', '2026-12-05', '2026-12-06'].map((d) => isWorkingDay(d, none))).toEqual([true, true, false, false]);
    expect(isWorkingDay('2026-12-25', new Set(['2026-12-25']))).toBe(false);
  });
});

describe('when a referral becomes overdue (overdueBefore)', () => {
  const overdue = (arrived: string, now: string, days: number, holidays = none) => at(arrived) < overdueBefore(at(now), days, holidays);

  it('a Monday referral with 5 working days is overdue from the Tuesday after next, not on the Monday', () => {
    expect(overdue('2026-11-30T10:00:00Z', '2026-12-07T23:59:00Z', 5)).toBe(false);
    expect(overdue('2026-11-30T10:00:00Z', '2026-12-08T00:00:01Z', 5)).toBe(true);
  });

  it('a Saturday referral waits for the whole next week', () => {
    expect(overdue('2026-11-28T10:00:00Z', '2026-12-04T18:00:00Z', 5)).toBe(false);
    expect(overdue('2026-11-28T10:00:00Z', '2026-12-05T09:00:00Z', 5)).toBe(true);
  });

  it('bank holidays do not count: Christmas 2026 (25 and 28 December) moves the day by two', () => {
    const christmas = new Set(['2026-12-25', '2026-12-28']);
    // Wednesday 23 December: Thu 24, Tue 29, Wed 30, Thu 31, Fri 1 Jan (not a listed holiday here).
    expect(overdue('2026-12-23T10:00:00Z', '2027-01-01T12:00:00Z', 5, christmas)).toBe(false);
    expect(overdue('2026-12-23T10:00:00Z', '2027-01-02T12:00:00Z', 5, christmas)).toBe(true);
    expect(overdue('2026-12-23T10:00:00Z', '2026-12-31T00:00:01Z', 5)).toBe(true);
  });

  it('a referral late in a London summer evening belongs to that day, not the next UTC one', () => {
    // 23:30 BST on Monday 13 July is 22:30 UTC: a Monday referral, overdue from Tuesday 21 July.
    expect(overdue('2026-07-13T22:30:00Z', '2026-07-20T22:59:00Z', 5)).toBe(false);
    expect(overdue('2026-07-13T22:30:00Z', '2026-07-20T23:00:01Z', 5)).toBe(true);
  });
});
