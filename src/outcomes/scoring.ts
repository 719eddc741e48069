/**
 * Scoring of the three outcome instruments (DESIGN.md "Outcomes"): pure functions from item scores to
 * the scores reported, with the published tables they rest on. The Questionnaires themselves are in
 * profiles/; their linkIds are the keys here.
 */

export type InstrumentId = 'swemwbs' | 'ons4' | 'ucla3';

export const OUTCOME_SCORE_SYSTEM = 'https://signpost.health/fhir/CodeSystem/sp-outcome-score';
export const ONS4_BAND_SYSTEM = 'https://signpost.health/fhir/CodeSystem/sp-ons4-band';

/**
 * SWEMWBS raw total (7–35) → metric score, the Rasch conversion table published with the scale
 * (Stewart-Brown S et al., Health and Quality of Life Outcomes 2009, 7:15; reproduced in the Warwick
 * user guide, https://warwick.ac.uk/fac/sci/med/research/platform/wemwbs/using/howto). Index 0 is raw 7.
 */
const SWEMWBS_METRIC = [
  7.00, 9.51, 11.25, 12.40, 13.33, 14.08, 14.75, 15.32, 15.84, 16.36, 16.88, 17.43, 17.98, 18.59, 19.25,
  19.98, 20.73, 21.54, 22.35, 23.21, 24.11, 25.03, 26.02, 27.03, 28.13, 29.31, 30.70, 32.55, 35.00,
] as const;

/**
 * The smallest change in SWEMWBS metric score treated as meaningful for one person: 2.77 standard
 * errors of measurement, 2.87 points (Shah N et al., "Responsiveness of the Short Warwick Edinburgh
 * Mental Well-Being Scale (SWEMWBS): evaluation a clinical sample", Health and Quality of Life
 * Outcomes 2018, 16:239). The stricter of the two thresholds that paper reports (the other, 1 SEM,
 * is 1.03 points), so that "meaningful" is not claimed lightly.
 */
export const SWEMWBS_MEANINGFUL_CHANGE = 2.87;

export function swemwbsMetric(raw: number): number {
  const metric = SWEMWBS_METRIC[raw - 7];
  if (!Number.isInteger(raw) || metric === undefined) throw new RangeError(`a SWEMWBS raw score is a whole number from 7 to 35, not ${raw}`);
  return metric;
}

export type OnsBand = 'very-low' | 'low' | 'medium' | 'high' | 'very-high';

/**
 * ONS personal well-being thresholds (ONS, "Personal well-being user guidance", thresholds table):
 * life satisfaction, worthwhile and happiness 0–4 low, 5–6 medium, 7–8 high, 9–10 very high;
 * anxiety 0–1 very low, 2–3 low, 4–5 medium, 6–10 high.
 */
export function onsBand(linkId: string, score: number): OnsBand {
  if (!Number.isInteger(score) || score < 0 || score > 10) throw new RangeError(`an ONS4 answer is a whole number from 0 to 10, not ${score}`);
  if (linkId === 'ons4-4') return score <= 1 ? 'very-low' : score <= 3 ? 'low' : score <= 5 ? 'medium' : 'high';
  return score <= 4 ? 'low' : score <= 6 ? 'medium' : score <= 8 ? 'high' : 'very-high';
}

export const ONS_BAND_DISPLAY: Record<OnsBand, string> = {
  'very-low': 'Very low', low: 'Low', medium: 'Medium', high: 'High', 'very-high': 'Very high',
};

/** One reported score: what an Observation carries. */
export interface Score {
  /** A code of OUTCOME_SCORE_SYSTEM. */
  code: string;
  display: string;
  value: number;
  /** Decimal places the value is reported with. */
  decimals: number;
  band?: OnsBand;
}

const ONS_ITEMS: [string, string, string][] = [
  ['ons4-1', 'ons4-satisfaction', 'ONS4 life satisfaction'],
  ['ons4-2', 'ons4-worthwhile', 'ONS4 things done in life are worthwhile'],
  ['ons4-3', 'ons4-happiness', 'ONS4 happiness yesterday'],
  ['ons4-4', 'ons4-anxiety', 'ONS4 anxiety yesterday'],
];

/** Every score code this module reports, with its display: the local CodeSystem's content. */
export const SCORE_CODES: Record<string, string> = {
  'swemwbs-raw': 'SWEMWBS raw total score',
  'swemwbs-metric': 'SWEMWBS metric score',
  ...Object.fromEntries(ONS_ITEMS.map(([, code, display]) => [code, display])),
  'ucla3-total': 'UCLA three-item loneliness total score',
};

/** Decimal places a score is reported with: the SWEMWBS metric score to two, the rest are whole numbers. */
export function scoreDecimals(code: string): number {
  return code === 'swemwbs-metric' ? 2 : 0;
}

const sum = (items: ReadonlyMap<string, number>, prefix: string, n: number): number => {
  let total = 0;
  for (let i = 1; i <= n; i++) {
    const v = items.get(`${prefix}-${i}`);
    if (v === undefined) throw new RangeError(`${prefix}-${i} is not answered`);
    total += v;
  }
  return total;
};

/** The scores of a completed response, from its item scores by linkId (validated beforehand). */
export function scoreInstrument(instrument: InstrumentId, items: ReadonlyMap<string, number>): Score[] {
  switch (instrument) {
    case 'swemwbs': {
      const raw = sum(items, 'swemwbs', 7);
      return [
        { code: 'swemwbs-raw', display: SCORE_CODES['swemwbs-raw']!, value: raw, decimals: scoreDecimals('swemwbs-raw') },
        { code: 'swemwbs-metric', display: SCORE_CODES['swemwbs-metric']!, value: swemwbsMetric(raw), decimals: scoreDecimals('swemwbs-metric') },
      ];
    }
    case 'ons4':
      return ONS_ITEMS.map(([linkId, code, display]) => {
        const value = items.get(linkId);
        if (value === undefined) throw new RangeError(`${linkId} is not answered`);
        return { code, display, value, decimals: scoreDecimals(code), band: onsBand(linkId, value) };
      });
    case 'ucla3':
      return [{ code: 'ucla3-total', display: SCORE_CODES['ucla3-total']!, value: sum(items, 'ucla3', 3), decimals: scoreDecimals('ucla3-total') }];
  }
}
