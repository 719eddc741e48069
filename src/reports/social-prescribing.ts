import { SWEMWBS_MEANINGFUL_CHANGE } from '../outcomes/scoring.js';
import { changeColumn, type CohortRow } from '../store/report-facts.js';
import { isSmall, publishDerived, type Published } from './disclosure.js';
import { figurePeople, stratumKey, suppressedFigures, totalKey, type CountTable } from './secondary-suppression.js';
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
export const CHANGE_SCORES = ['swemwbs-metric', 'ons4-satisfaction', 'ons4-worthwhile', 'ons4-happiness', 'ons4-anxiety', 'ucla3-total'] as const;

export type GroupCode =
  | 'received' | 'accepted' | 'declined' | 'completed' | 'days-to-acceptance' | 'days-to-completion'
  | 'swemwbs-improved' | `change-${(typeof CHANGE_SCORES)[number]}`;

const DAY_MICROS = 86_400_000_000;

/** A member of the cohort: its row, with each reported score's change where it has a baseline and a follow-up. */
type Member = CohortRow;

/** The column of each reported score's change. */
const CHANGE = Object.fromEntries(CHANGE_SCORES.map((code) => [code, changeColumn(code)])) as Record<(typeof CHANGE_SCORES)[number], `change:${string}`>;
const changeOf = (m: Member, code: (typeof CHANGE_SCORES)[number]) => m[CHANGE[code]] ?? null;

const strataValue: Record<(typeof STRATIFIERS)[number], (f: CohortRow) => string> = {
  'age-band': (f) => f.ageBand, gender: (f) => f.gender, ethnicity: (f) => f.ethnicity, practice: (f) => f.practice, reason: (f) => f.reason || 'not-coded',
};

const valueIn = (stratifier: Stratifier, f: CohortRow) => (stratifier === 'decline-reason' ? f.declineReason ?? 'unspecified' : strataValue[stratifier](f));

/** Every value a stratifier can take in this report, so that an empty stratum is published as 0, not left out. */
function strataOf(stratifier: Stratifier, cohort: readonly Member[], practices: readonly string[]): string[] {
  switch (stratifier) {
    case 'age-band': return [...AGE_BANDS];
    case 'gender': return [...GENDERS];
    case 'ethnicity': return Object.keys(ETHNIC_CATEGORIES);
    case 'practice': return [...practices].sort();
    case 'reason': return [...new Set(cohort.map((m) => strataValue.reason(m)))].sort();
    case 'decline-reason': return [...new Set(cohort.filter(isDeclined).map((m) => valueIn('decline-reason', m)))].sort();
  }
}

const isDeclined = (m: Member) => m.status === 'rejected';

/**
 * The sets of the cohort whose sizes the report publishes (each group's population is one of them),
 * and the one behind the share who improved, which with its group's count gives that count away.
 */
const COUNTED = {
  received: () => true,
  accepted: (m: Member) => m.acceptedAt !== null,
  declined: isDeclined,
  completed: (m: Member) => m.completedAt !== null,
  ...Object.fromEntries(CHANGE_SCORES.map((code) => [`change-${code}`, (m: Member) => changeOf(m, code) !== null])),
  'swemwbs-improved-count': (m: Member) => (changeOf(m, 'swemwbs-metric') ?? -Infinity) >= SWEMWBS_MEANINGFUL_CHANGE,
} as Record<string, (m: Member) => boolean>;

/**
 * The counted sets that overlap, tabled together for secondary suppression (secondary-suppression.ts):
 * a referral's progress (accepted, declined, completed nest within received), and each score's change
 * (those with a follow-up within received, those who improved within them). Sets in different tables
 * share only `received`, so no sum of people is computable from one table's figures and another's.
 */
const FAMILIES: readonly string[][] = [
  ['accepted', 'declined', 'completed'],
  ...CHANGE_SCORES.map((code) => (code === 'swemwbs-metric' ? [`change-${code}`, 'swemwbs-improved-count'] : [`change-${code}`])),
];

/** How a group is measured: the counted set it is of, and what its figure is of the members. */
interface GroupDef {
  code: GroupCode;
  counted: string;
  /** A value per member (days, a change), or undefined for a count alone. */
  measure?: (m: Member) => number;
  summary?: 'median' | 'mean' | 'share-improved';
  extraStratifiers?: Stratifier[];
}

const GROUPS: GroupDef[] = [
  { code: 'received', counted: 'received' },
  { code: 'accepted', counted: 'accepted' },
  { code: 'declined', counted: 'declined', extraStratifiers: ['decline-reason'] },
  { code: 'completed', counted: 'completed' },
  { code: 'days-to-acceptance', counted: 'accepted', measure: (m) => (m.acceptedAt! - m.received) / DAY_MICROS, summary: 'median' },
  { code: 'days-to-completion', counted: 'completed', measure: (m) => (m.completedAt! - m.received) / DAY_MICROS, summary: 'median' },
  ...CHANGE_SCORES.map((code): GroupDef => ({ code: `change-${code}`, counted: `change-${code}`, measure: (m) => changeOf(m, code)!, summary: 'mean' })),
  { code: 'swemwbs-improved', counted: 'change-swemwbs-metric', measure: (m) => changeOf(m, 'swemwbs-metric')!, summary: 'share-improved' },
];

const rowName = (stratifier: Stratifier, value: string) => `${stratifier}:${value}`;

const COUNTED_SETS = Object.keys(COUNTED);
const bitOf = (set: string) => 1 << COUNTED_SETS.indexOf(set);

/** A cohort indexed once: each member's counted sets (a bit each) and its stratum under each stratifier. */
interface IndexedCohort {
  members: readonly Member[];
  sets: Uint16Array;
  /** Each stratifier's strata and each member's row among them; -1 where it does not apply (the decline reason of one not declined). */
  strata: Map<Stratifier, { values: string[]; rows: Int32Array }>;
}

function indexed(members: readonly Member[], practices: readonly string[]): IndexedCohort {
  const tests = COUNTED_SETS.map((set) => COUNTED[set]!);
  const sets = new Uint16Array(members.length);
  members.forEach((m, i) => {
    for (let t = 0; t < tests.length; t++) if (tests[t]!(m)) sets[i]! |= 1 << t;
  });
  const strata = new Map<Stratifier, { values: string[]; rows: Int32Array }>();
  for (const stratifier of [...STRATIFIERS, 'decline-reason'] as const) {
    const values = strataOf(stratifier, members, practices);
    const index = new Map(values.map((v, i) => [v, i]));
    const rows = new Int32Array(members.length).fill(-1);
    members.forEach((m, i) => {
      if (stratifier === 'decline-reason' && !isDeclined(m)) return;
      const row = index.get(valueIn(stratifier, m));
      // The strata must partition the cohort, or the suppression's arithmetic would be unsound.
      if (row === undefined) throw new Error(`${stratifier} has no stratum ${valueIn(stratifier, m)}`);
      rows[i] = row;
    });
    strata.set(stratifier, { values, rows });
  }
  return { members, sets, strata };
}

/** The cohort's people as suppression tables: per stratifier and family, strata by combinations of the family's sets. */
function countTables({ members, sets, strata }: IndexedCohort): CountTable[] {
  const tables: CountTable[] = [];
  for (const family of FAMILIES) {
    const bits = family.map(bitOf);
    const signatures = new Uint8Array(sets.length);
    for (let i = 0; i < sets.length; i++) for (let f = 0; f < bits.length; f++) if (sets[i]! & bits[f]!) signatures[i]! |= 1 << f;
    // Only the combinations someone is in: one nobody is in is known to be empty (completed without accepted).
    const cells = [...new Set(signatures)].sort((a, b) => a - b);
    const cellOf = new Int32Array(1 << bits.length);
    cells.forEach((c, k) => { cellOf[c] = k; });
    const groups = [
      { key: 'received', cells: cells.map((_, k) => k) },
      ...family.map((set, i) => ({ key: set, cells: cells.flatMap((c, k) => (c & (1 << i) ? [k] : [])) })),
    ];
    for (const stratifier of STRATIFIERS) {
      const { values, rows } = strata.get(stratifier)!;
      const people = values.map(() => cells.map(() => 0));
      for (let i = 0; i < members.length; i++) people[rows[i]!]![cellOf[signatures[i]!]!]! += 1;
      tables.push({ rows: values.map((v) => rowName(stratifier, v)), people, groups });
    }
  }
  const { values, rows } = strata.get('decline-reason')!;
  const people = values.map(() => [0]);
  for (const row of rows) if (row >= 0) people[row]![0]! += 1;
  tables.push({ rows: values.map((v) => rowName('decline-reason', v)), people, groups: [{ key: 'declined', cells: [0] }] });
  return tables;
}

/** The figure of a set of members whose count is published as `count`, from their values: a median, a mean with its interval, or a share. */
function summarise(def: GroupDef, values: Float64Array, count: Published, improvedCount: Published): Figure {
  if (!def.measure || !def.summary) return { count };
  const n = values.length;
  if (count === null || n < 2) return { count, value: null, ...(def.summary === 'mean' ? { low: null, high: null } : {}) };
  switch (def.summary) {
    case 'median': return { count, value: publishDerived(n, median(values)!) };
    case 'mean': {
      const m = meanWithInterval(values);
      return { count, value: publishDerived(n, m.mean), low: publishDerived(n, m.low), high: publishDerived(n, m.high) };
    }
    // The share times the count gives how many improved (and how many did not): it goes with that count.
    case 'share-improved': return { count, value: improvedCount === null ? null : publishDerived(n, improvedCount / n) };
  }
}

export interface ReportInput {
  /** The referrals of every practice the caller's reports may cover, with the changes of CHANGE_SCORES. */
  cohort: readonly CohortRow[];
  /** The practices the caller's reports may cover: each is a stratum of `practice`, referred or not. */
  practices: readonly string[];
  /** The one practice this report is of, when narrowed to it. */
  practice?: string;
}

/**
 * The figures to suppress in a report of `cohort`. A report narrowed to one practice is also a
 * difference from the report of all the caller's practices: a figure published in both would give away
 * the other practices' figure, so it is suppressed where that would be from 1 to 7.
 */
function suppressionOf(cohort: IndexedCohort, whole?: IndexedCohort): Set<string> {
  const tables = countTables(cohort);
  if (!whole) return suppressedFigures(tables);
  const wholeTables = countTables(whole);
  const wholeSuppressed = suppressedFigures(wholeTables);
  const wholePeople = figurePeople(wholeTables);
  const differencing = [...figurePeople(tables)].flatMap(([key, people]) => {
    const all = wholePeople.get(key);
    return all !== undefined && !wholeSuppressed.has(key) && isSmall(all - people) ? [key] : [];
  });
  return suppressedFigures(tables, differencing);
}

/** The report's groups, each with its total and its strata, as they may be published. */
export function socialPrescribingFigures({ cohort: everyone, practices, practice }: ReportInput): GroupFigures[] {
  const cohort = practice === undefined
    ? indexed(everyone, practices)
    : indexed(everyone.filter((m) => m.practice === practice), [practice]);
  const suppressed = suppressionOf(cohort, practice === undefined ? undefined : indexed(everyone, practices));
  const published = (key: string, people: number): Published => (suppressed.has(key) ? null : people);
  const improvedBit = bitOf('swemwbs-improved-count');

  return GROUPS.map((def) => {
    // Plain loops over typed arrays: a report runs these over every referral for every group and stratifier.
    const bit = bitOf(def.counted);
    const inGroup: number[] = [];
    for (let i = 0; i < cohort.sets.length; i++) if (cohort.sets[i]! & bit) inGroup.push(i);
    const values = new Float64Array(def.measure ? inGroup.length : 0);
    for (let j = 0; j < values.length; j++) values[j] = def.measure!(cohort.members[inGroup[j]!]!);
    /** The figure of the group's members at these positions in `inGroup`. */
    const figure = (key: (set: string) => string, at: Int32Array) => {
      const of = new Float64Array(values.length ? at.length : 0);
      let improved = 0;
      for (let j = 0; j < of.length; j++) {
        of[j] = values[at[j]!]!;
        if (cohort.sets[inGroup[at[j]!]!]! & improvedBit) improved++;
      }
      return summarise(def, of, published(key(def.counted), at.length), published(key('swemwbs-improved-count'), improved));
    };
    const stratified = [...STRATIFIERS, ...(def.extraStratifiers ?? [])].map((stratifier): Stratified => {
      const { values: strata, rows } = cohort.strata.get(stratifier)!;
      const sizes = new Int32Array(strata.length);
      for (const i of inGroup) if (rows[i]! >= 0) sizes[rows[i]!]! += 1;
      const byRow = Array.from(sizes, (size) => new Int32Array(size));
      const filled = new Int32Array(strata.length);
      for (let j = 0; j < inGroup.length; j++) {
        const row = rows[inGroup[j]!]!;
        if (row >= 0) byRow[row]![filled[row]!++] = j;
      }
      return {
        stratifier,
        strata: strata.map((value, r) => ({ value, figure: figure((set) => stratumKey(set, rowName(stratifier, value)), byRow[r]!) })),
      };
    });
    const everyone = new Int32Array(inGroup.length);
    for (let j = 0; j < everyone.length; j++) everyone[j] = j;
    return { code: def.code, total: figure(totalKey, everyone), stratified };
  });
}
