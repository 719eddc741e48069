import { describe, expect, it } from 'vitest';
import { feedbackSummary, type RecordedScore } from '../../src/outcomes/feedback.js';
import { onsBand, scoreInstrument, swemwbsMetric, SWEMWBS_MEANINGFUL_CHANGE } from '../../src/outcomes/scoring.js';

/**
 * The published SWEMWBS raw → metric conversion table (Stewart-Brown et al. 2009, as printed in the
 * Warwick user guide), written out here row by row rather than derived from the module under test.
 */
const PUBLISHED_SWEMWBS: [number, number][] = [
  [7, 7.00], [8, 9.51], [9, 11.25], [10, 12.40], [11, 13.33], [12, 14.08], [13, 14.75], [14, 15.32], [15, 15.84],
  [16, 16.36], [17, 16.88], [18, 17.43], [19, 17.98], [20, 18.59], [21, 19.25], [22, 19.98], [23, 20.73], [24, 21.54],
  [25, 22.35], [26, 23.21], [27, 24.11], [28, 25.03], [29, 26.02], [30, 27.03], [31, 28.13], [32, 29.31], [33, 30.70],
  [34, 32.55], [35, 35.00],
];

describe('SWEMWBS', () => {
  it('covers every raw score from 7 to 35 exactly once', () => {
    expect(PUBLISHED_SWEMWBS.map(([raw]) => raw)).toEqual(Array.from({ length: 29 }, (_, i) => i + 7));
  });

  it.each(PUBLISHED_SWEMWBS)('raw %i converts to metric %f', (raw, metric) => {
    expect(swemwbsMetric(raw)).toBe(metric);
  });

  it('refuses raw scores outside 7–35 or not whole', () => {
    for (const raw of [6, 36, 0, 20.5, Number.NaN]) expect(() => swemwbsMetric(raw)).toThrow(RangeError);
  });

  it('scores seven answers into the raw total and the metric score', () => {
    const items = new Map([1, 2, 3, 4, 5, 6, 7].map((n) => [`swemwbs-${n}`, n === 7 ? 1 : 3]));
    expect(scoreInstrument('swemwbs', items).map((s) => [s.code, s.value])).toEqual([['swemwbs-raw', 19], ['swemwbs-metric', 17.98]]);
  });

  it('refuses to score with an item unanswered', () => {
    expect(() => scoreInstrument('swemwbs', new Map([['swemwbs-1', 3]]))).toThrow(/swemwbs-2 is not answered/);
  });
});

describe('ONS4 bands (ONS personal well-being thresholds)', () => {
  // Each boundary: the last score of one band and the first of the next.
  const positive: [number, string][] = [[0, 'low'], [4, 'low'], [5, 'medium'], [6, 'medium'], [7, 'high'], [8, 'high'], [9, 'very-high'], [10, 'very-high']];
  const anxiety: [number, string][] = [[0, 'very-low'], [1, 'very-low'], [2, 'low'], [3, 'low'], [4, 'medium'], [5, 'medium'], [6, 'high'], [10, 'high']];

  it.each(['ons4-1', 'ons4-2', 'ons4-3'].flatMap((item) => positive.map(([score, band]) => [item, score, band] as const)))(
    '%s score %i is %s', (item, score, band) => {
      expect(onsBand(item, score)).toBe(band);
    });

  it.each(anxiety)('anxiety (ons4-4) score %i is %s', (score, band) => {
    expect(onsBand('ons4-4', score)).toBe(band);
  });

  it('refuses scores outside 0–10', () => {
    for (const s of [-1, 11, 2.5]) expect(() => onsBand('ons4-1', s)).toThrow(RangeError);
  });

  it('scores the four items with their bands', () => {
    const items = new Map([['ons4-1', 4], ['ons4-2', 5], ['ons4-3', 9], ['ons4-4', 6]]);
    expect(scoreInstrument('ons4', items).map((s) => [s.code, s.value, s.band])).toEqual([
      ['ons4-satisfaction', 4, 'low'], ['ons4-worthwhile', 5, 'medium'], ['ons4-happiness', 9, 'very-high'], ['ons4-anxiety', 6, 'high'],
    ]);
  });
});

describe('UCLA three-item loneliness', () => {
  const answers = [1, 2, 3];
  const totals = answers.flatMap((a) => answers.flatMap((b) => answers.map((c) => [a, b, c, a + b + c] as const)));

  it.each(totals)('answers %i, %i, %i total %i', (a, b, c, total) => {
    const items = new Map([['ucla3-1', a], ['ucla3-2', b], ['ucla3-3', c]]);
    expect(scoreInstrument('ucla3', items)).toEqual([expect.objectContaining({ code: 'ucla3-total', value: total })]);
  });

  it('spans 3 to 9', () => {
    expect(Math.min(...totals.map((t) => t[3]))).toBe(3);
    expect(Math.max(...totals.map((t) => t[3]))).toBe(9);
  });
});

describe('the GP feedback summary', () => {
  const score = (code: string, display: string, value: number, effective: string, extra: Partial<RecordedScore> = {}): RecordedScore => ({
    observation: `${code}-${effective}`, code, display, value, effective, decimals: code === 'swemwbs-metric' ? 2 : 0, ...extra,
  });
  const facts = {
    service: 'Linkwell SP (SP001)', completed: '2026-03-01T10:00:00Z',
    handOns: [{ asset: 'Park Walkers (V001)', status: 'completed' }],
  };

  it('reports baseline against latest, the change, and whether SWEMWBS moved meaningfully', () => {
    const text = feedbackSummary({
      ...facts,
      scores: [
        score('swemwbs-metric', 'SWEMWBS metric score', 19.25, '2026-02-20'),
        score('swemwbs-metric', 'SWEMWBS metric score', 15.32, '2026-01-05'),
        score('ons4-anxiety', 'ONS4 anxiety yesterday', 7, '2026-01-05', { band: 'high' }),
        score('ons4-anxiety', 'ONS4 anxiety yesterday', 3, '2026-02-20', { band: 'low' }),
        score('ucla3-total', 'UCLA three-item loneliness total score', 8, '2026-01-05'),
      ],
    });
    expect(text.split('\n')).toEqual([
      'Social prescribing referral completed by Linkwell SP (SP001) on 2026-03-01.',
      'Connected to: Park Walkers (V001) (completed).',
      `SWEMWBS metric score: baseline 15.32 on 2026-01-05, latest 19.25 on 2026-02-20; change +3.93 (improved, a meaningful change (at least ${SWEMWBS_MEANINGFUL_CHANGE} points, Shah et al. 2018)).`,
      'ONS4 anxiety yesterday: baseline 7 (high) on 2026-01-05, latest 3 (low) on 2026-02-20; change −4 (improved).',
      'UCLA three-item loneliness total score: 8 on 2026-01-05 (one measurement, no change to report).',
    ]);
  });

  it('says when a SWEMWBS change is below the meaningful threshold, and when nothing was measured', () => {
    const small = feedbackSummary({
      ...facts, handOns: [],
      scores: [score('swemwbs-metric', 'SWEMWBS metric score', 19.25, '2026-01-05'), score('swemwbs-metric', 'SWEMWBS metric score', 17.43, '2026-02-05')],
    });
    expect(small).toContain('change −1.82 (worsened, less than the 2.87 points taken as meaningful');
    expect(small).toContain('Not handed on to a community group.');
    expect(feedbackSummary({ ...facts, scores: [] })).toContain('No outcome measures were recorded.');
  });
});
