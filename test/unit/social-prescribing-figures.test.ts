import { describe, expect, it } from 'vitest';
import { SCORE_CODES } from '../../src/outcomes/scoring.js';
import { CHANGE_SCORES, socialPrescribingFigures, type Figure, type GroupFigures } from '../../src/reports/social-prescribing.js';
import { changeColumn, type CohortRow, type ReferralFact, type ScoreFact } from '../../src/store/report-facts.js';

/**
 * The report's figures over a population built so that every right answer is known by construction,
 * each computed here independently of the code under test.
 */

/** The rows the store's cohort query would give: each referral with each score's latest less first, where there are two or more. */
function cohortOf(facts: ReferralFact[], scores: ScoreFact[]): CohortRow[] {
  return facts.map(({ referral, service: _service, ...row }) => ({
    ...row,
    ...Object.fromEntries(CHANGE_SCORES.map((code) => {
      const s = scores.find((x) => x.referral === referral && x.code === code && x.count >= 2);
      return [changeColumn(code), s ? s.latest - s.first : null];
    })),
  }));
}

const DAY = 86_400_000_000;
const T0 = Date.UTC(2026, 0, 5) * 1000;

function fact(i: number, more: Partial<ReferralFact>): ReferralFact {
  return {
    referral: `r${i}`, practice: 'A81001', service: 'SP001', received: T0 + i * 60_000_000, reason: '267076002',
    ageBand: '35-49', gender: 'female', ethnicity: 'A', status: 'requested', acceptedAt: null, completedAt: null, declineReason: null, ...more,
  };
}

// 35 referrals: 30 from A81001, 5 from B82002; 20 women, 15 men; 25 accepted, the i-th of them after i+1
// days; 12 of those completed after 30 + i days; 6 declined (4 at capacity, 2 outside the area).
const facts: ReferralFact[] = Array.from({ length: 35 }, (_, i) => {
  const accepted = i < 25;
  return fact(i, {
    practice: i < 30 ? 'A81001' : 'B82002',
    gender: i < 20 ? 'female' : 'male',
    ageBand: i % 2 ? '18-34' : '65-79',
    acceptedAt: accepted ? T0 + i * 60_000_000 + (i + 1) * DAY : null,
    status: i < 12 ? 'completed' : accepted ? 'in-progress' : i < 31 ? 'rejected' : 'requested',
    completedAt: i < 12 ? T0 + i * 60_000_000 + (30 + i) * DAY : null,
    declineReason: !accepted && i < 31 ? (i < 29 ? 'service-at-capacity' : 'outside-service-area') : null,
  });
});
// SWEMWBS baseline and follow-up for the first 10: changes 1..10 (i + 1); the 11th has a baseline only.
const changes = Array.from({ length: 10 }, (_, i) => i + 1);
const scores: ScoreFact[] = [
  ...changes.map((c, i) => ({ referral: `r${i}`, code: 'swemwbs-metric', first: 20, latest: 20 + c, count: 2 })),
  { referral: 'r10', code: 'swemwbs-metric', first: 20, latest: 20, count: 1 },
];

const figures = socialPrescribingFigures({ cohort: cohortOf(facts, scores), practices: ['A81001', 'B82002'] });
const group = (code: string) => figures.find((g) => g.code === code)!;
const stratum = (g: GroupFigures, stratifier: string, value: string): Figure =>
  g.stratified.find((s) => s.stratifier === stratifier)!.strata.find((s) => s.value === value)!.figure;

describe('the social prescribing report\'s figures', () => {
  it('reports the change of scores the outcomes actually record', () => {
    for (const code of CHANGE_SCORES) expect(Object.keys(SCORE_CODES)).toContain(code);
  });

  it('counts the cohort and its strata, publishing zeros', () => {
    const received = group('received');
    expect(received.total.count).toBe(35);
    expect(stratum(received, 'gender', 'female').count).toBe(20);
    expect(stratum(received, 'gender', 'male').count).toBe(15);
    expect(stratum(received, 'gender', 'other').count).toBe(0);
    expect(stratum(received, 'age-band', '18-34').count).toBe(17);
    expect(stratum(received, 'age-band', '65-79').count).toBe(18);
    expect(stratum(received, 'age-band', '80+').count).toBe(0);
    expect(group('accepted').total.count).toBe(25);
    expect(group('completed').total.count).toBe(12);
  });

  it('suppresses the small practice, and the other with it, since the total would give it away', () => {
    const received = group('received');
    expect(stratum(received, 'practice', 'B82002').count).toBeNull();
    expect(stratum(received, 'practice', 'A81001').count).toBeNull();
    expect(received.total.count).toBe(35);
  });

  it('suppresses a group of 6 whole, its strata too', () => {
    const declined = group('declined');
    expect(declined.total.count).toBeNull();
    for (const s of declined.stratified) for (const { figure } of s.strata) expect([null, 0]).toContain(figure.count);
  });

  it('gives the median days to acceptance and to completion', () => {
    // Accepted after 1..25 days: median 13. Completed after 30..41 days: median (35 + 36) / 2.
    expect(group('days-to-acceptance').total).toEqual({ count: 25, value: 13 });
    expect(group('days-to-completion').total).toEqual({ count: 12, value: 35.5 });
  });

  it('gives the mean SWEMWBS change with its 95% interval, counting only people with a follow-up', () => {
    const n = changes.length;
    const mean = changes.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(changes.reduce((a, c) => a + (c - mean) ** 2, 0) / (n - 1));
    const half = 2.262 * sd / Math.sqrt(n); // t, 9 degrees of freedom (NIST table)
    const total = group('change-swemwbs-metric').total;
    expect(total.count).toBe(10);
    expect(total.value).toBeCloseTo(5.5, 12);
    expect(total.low).toBeCloseTo(mean - half, 12);
    expect(total.high).toBeCloseTo(mean + half, 12);
    // The share who improved by 2.87 points or more: changes 3..10, 8 of 10; but 2 did not, a group of 2.
    expect(group('swemwbs-improved').total).toEqual({ count: 10, value: null });
  });

  it('publishes no count from 1 to 7, and no figure resting on fewer than 8 people, anywhere', () => {
    for (const g of figures) {
      for (const f of [g.total, ...g.stratified.flatMap((s) => s.strata.map((x) => x.figure))]) {
        if (f.count !== null) expect(f.count === 0 || f.count >= 8, `${g.code}: ${f.count}`).toBe(true);
        if (f.value !== undefined && f.value !== null) expect(f.count ?? 0, `${g.code}`).toBeGreaterThanOrEqual(8);
      }
    }
  });
});

/** Every published count of a report, by group and stratum ("accepted|gender:female", "accepted|*"); null where suppressed. */
function counts(report: GroupFigures[]): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const g of report) {
    out.set(`${g.code}|*`, g.total.count);
    for (const s of g.stratified) for (const x of s.strata) out.set(`${g.code}|${s.stratifier}:${x.value}`, x.figure.count);
  }
  return out;
}

const rows = (report: GroupFigures[]) => ['*', ...report[0]!.stratified.flatMap((s) => s.strata.map((x) => `${s.stratifier}:${x.value}`))];

describe('the report\'s secondary suppression across groups and across reports', () => {
  // 40 referrals, all from A81001, all women aged 35-49: 33 accepted, of whom 20 completed; the other 7
  // neither accepted nor declined. Every count is 0 or at least 8, yet received less accepted is 7.
  const nested = Array.from({ length: 40 }, (_, i) => fact(i, {
    acceptedAt: i < 33 ? T0 + DAY : null, status: i < 20 ? 'completed' : i < 33 ? 'in-progress' : 'requested', completedAt: i < 20 ? T0 + 2 * DAY : null,
  }));

  it('does not let received less accepted (less declined) give away a group of 1 to 7, in total or in any stratum', () => {
    const report = socialPrescribingFigures({ cohort: cohortOf(nested, []), practices: ['A81001'] });
    const published = counts(report);
    let checked = 0;
    for (const row of rows(report)) {
      const [received, accepted, declined, completed] = ['received', 'accepted', 'declined', 'completed'].map((g) => published.get(`${g}|${row}`));
      const differences = [
        received != null && accepted != null ? received - accepted : undefined,
        received != null && accepted != null && declined != null ? received - accepted - declined : undefined,
        accepted != null && completed != null ? accepted - completed : undefined,
      ];
      for (const d of differences) if (d !== undefined) { checked++; expect(d === 0 || d >= 8, `${row}: ${d}`).toBe(true); }
    }
    expect(checked).toBeGreaterThan(0);
    // The 40 received are published; what gives the 7 away is not.
    expect(published.get('received|*')).toBe(40);
    expect(published.get('accepted|*') === null || published.get('declined|*') === null).toBe(true);
  });

  // Practices A81001 (30 referrals, 18 women) and B82002 (12 referrals, 4 women): the report of both
  // gives 22 women, A81001's alone 18, so publishing both would tell that B82002 referred 4 women.
  const two = Array.from({ length: 42 }, (_, i) => fact(i, {
    practice: i < 30 ? 'A81001' : 'B82002', gender: (i < 30 ? i < 18 : i < 34) ? 'female' : 'male',
  }));

  it('suppresses a practice\'s figure that, taken from the whole report\'s, would give the other practices\' as 1 to 7', () => {
    const whole = counts(socialPrescribingFigures({ cohort: cohortOf(two, []), practices: ['A81001', 'B82002'] }));
    const one = counts(socialPrescribingFigures({ cohort: cohortOf(two, []), practices: ['A81001', 'B82002'], practice: 'A81001' }));
    expect(whole.get('received|gender:female')).toBe(22);
    expect(one.get('received|*')).toBe(30);
    expect(one.get('received|gender:female')).toBeNull();
    let compared = 0;
    for (const [key, all] of whole) {
      const part = one.get(key);
      if (all == null || part == null) continue;
      compared++;
      expect(all - part === 0 || all - part >= 8, `${key}: ${all} - ${part}`).toBe(true);
    }
    expect(compared).toBeGreaterThan(0);
  });

  it('narrows a report to one practice: only its referrals, and only it as a practice stratum', () => {
    const report = socialPrescribingFigures({ cohort: cohortOf(two, []), practices: ['A81001', 'B82002'], practice: 'B82002' });
    expect(report[0]!.total.count).toBe(12);
    expect(report[0]!.stratified.find((s) => s.stratifier === 'practice')!.strata.map((s) => s.value)).toEqual(['B82002']);
  });
});
