import { SWEMWBS_MEANINGFUL_CHANGE } from '../outcomes/scoring.js';
import type { ReferralFact, ScoreFact } from '../store/report-facts.js';
import { isSmall, publishDerived, publishPartition, type Published } from './disclosure.js';
import { meanWithInterval, median } from './statistics.js';
import { AGE_BANDS, ETHNIC_CATEGORIES, GENDERS } from './strata.js';

/**
 * The figures of the social prescribing report (issue 10, DESIGN.md "Reports") for one cohort: the
 * referrals received in a period from some practices. Pure: the read model's rows in, published
 * figures out, every count and every figure derived from people already through disclosure control
 * (disclosure.ts), so nothing downstream (FHIR, CSV, the page) can publish what it should not.
 */

/** One published figure: how many people it rests on, and for a timing or a change its value (with a 95% interval). */
export interface Figure {
  count: Published;
  value?: Published;
  low?: Published;
  high?: Published;
}

export interface Stratified {
  stratifier: Stratifier;
  strata: { value: string; figure: Figure }[];
}

export interface GroupFigures {
  code: GroupCode;
  total: Figure;
  stratified: Stratified[];
}

export const STRATIFIERS = ['age-band', 'gender', 'ethnicity', 'practice', 'reason'] as const;
export type Stratifier = (typeof STRATIFIERS)[number] | 'decline-reason';

/** The score codes whose change is reported (outcomes/scoring.ts), and the ONS4 items among them. */
export const CHANGE_SCORES = ['swemwbs-metric', 'ons4-satisfaction', 'ons4-worthwhile', 'ons4-happy', 'ons4-anxious', 'ucla3-total'] as const;

export type GroupCode =
  | 'received' | 'accepted' | 'declined' | 'completed' | 'days-to-acceptance' | 'days-to-completion'
  | 'swemwbs-improved' | `change-${(typeof CHANGE_SCORES)[number]}`;

const DAY_MICROS = 86_400_000_000;

/** A member of the cohort, with what the groups measure of it. */
interface Member {
  fact: ReferralFact;
  /** Latest less first, per score, where the referral has a baseline and a follow-up. */
  change: Map<string, number>;
}

const strataValue: Record<(typeof STRATIFIERS)[number], (f: ReferralFact) => string> = {
  'age-band': (f) => f.ageBand, gender: (f) => f.gender, ethnicity: (f) => f.ethnicity, practice: (f) => f.practice, reason: (f) => f.reason || 'not-coded',
};

/** Every value a stratifier can take in this report, so that an empty stratum is published as 0, not left out. */
function strataOf(stratifier: Stratifier, cohort: readonly Member[], practices: readonly string[]): string[] {
  switch (stratifier) {
    case 'age-band': return [...AGE_BANDS];
    case 'gender': return [...GENDERS];
    case 'ethnicity': return Object.keys(ETHNIC_CATEGORIES);
    case 'practice': return [...practices].sort();
    case 'reason': return [...new Set(cohort.map((m) => strataValue.reason(m.fact)))].sort();
    case 'decline-reason': return [...new Set(cohort.flatMap((m) => (m.fact.declineReason ? [m.fact.declineReason] : [])))].sort();
  }
}

const valueIn = (stratifier: Stratifier, f: ReferralFact) => (stratifier === 'decline-reason' ? f.declineReason ?? 'unspecified' : strataValue[stratifier](f));

/** How a group is measured: who is in it, and what its figure is of the members. */
interface GroupDef {
  code: GroupCode;
  members: (m: Member) => boolean;
  /** A value per member (days, a change), or undefined for a count alone. */
  measure?: (m: Member) => number;
  summary?: 'median' | 'mean' | 'share-improved';
  extraStratifiers?: Stratifier[];
}

const GROUPS: GroupDef[] = [
  { code: 'received', members: () => true },
  { code: 'accepted', members: (m) => m.fact.acceptedAt !== null },
  { code: 'declined', members: (m) => m.fact.status === 'rejected', extraStratifiers: ['decline-reason'] },
  { code: 'completed', members: (m) => m.fact.status === 'completed' },
  { code: 'days-to-acceptance', members: (m) => m.fact.acceptedAt !== null, measure: (m) => (m.fact.acceptedAt! - m.fact.received) / DAY_MICROS, summary: 'median' },
  { code: 'days-to-completion', members: (m) => m.fact.completedAt !== null, measure: (m) => (m.fact.completedAt! - m.fact.received) / DAY_MICROS, summary: 'median' },
  ...CHANGE_SCORES.map((code): GroupDef => ({
    code: `change-${code}`, members: (m) => m.change.has(code), measure: (m) => m.change.get(code)!, summary: 'mean',
  })),
  { code: 'swemwbs-improved', members: (m) => m.change.has('swemwbs-metric'), measure: (m) => m.change.get('swemwbs-metric')!, summary: 'share-improved' },
];

/**
 * The figure of a set of members, if it may be published at all (`count` already through the
 * partition's suppression): a median or a mean with its interval rests on all of them; a share of
 * improvement also reveals how many improved and how many did not, so both must be outside 1 to 7.
 */
function summarise(def: GroupDef, members: readonly Member[], count: Published): Figure {
  if (!def.measure || !def.summary) return { count };
  const values = members.map(def.measure);
  const n = values.length;
  if (count === null || n < 2) return { count, value: null, ...(def.summary === 'mean' ? { low: null, high: null } : {}) };
  switch (def.summary) {
    case 'median': return { count, value: publishDerived(n, median(values)!) };
    case 'mean': {
      const m = meanWithInterval(values);
      return { count, value: publishDerived(n, m.mean), low: publishDerived(n, m.low), high: publishDerived(n, m.high) };
    }
    case 'share-improved': {
      const improved = values.filter((v) => v >= SWEMWBS_MEANINGFUL_CHANGE).length;
      const hidden = isSmall(improved) || isSmall(n - improved);
      return { count, value: hidden ? null : publishDerived(n, improved / n) };
    }
  }
}

export interface ReportInput {
  facts: readonly ReferralFact[];
  scores: readonly ScoreFact[];
  /** The practices the report covers: every one is a stratum of `practice`, referred or not. */
  practices: readonly string[];
}

/** The report's groups, each with its total and its strata, as they may be published. */
export function socialPrescribingFigures({ facts, scores, practices }: ReportInput): GroupFigures[] {
  const changes = new Map<string, Map<string, number>>();
  for (const s of scores) {
    if (s.count < 2) continue; // a baseline without a follow-up shows no change
    const per = changes.get(s.referral) ?? new Map<string, number>();
    per.set(s.code, s.latest - s.first);
    changes.set(s.referral, per);
  }
  const cohort: Member[] = facts.map((fact) => ({ fact, change: changes.get(fact.referral) ?? new Map() }));
  return GROUPS.map((def) => {
    const members = cohort.filter(def.members);
    let total: Published = members.length;
    const stratified = [...STRATIFIERS, ...(def.extraStratifiers ?? [])].map((stratifier): Stratified => {
      const values = strataOf(stratifier, cohort, practices);
      const groups = values.map((v) => members.filter((m) => valueIn(stratifier, m.fact) === v));
      const published = publishPartition(members.length, groups.map((g) => g.length));
      // The total is published only if every partition of it may publish it.
      if (published.total === null) total = null;
      return { stratifier, strata: values.map((value, i) => ({ value, figure: summarise(def, groups[i]!, published.strata[i]!) })) };
    });
    return { code: def.code, total: summarise(def, members, total), stratified };
  });
}
