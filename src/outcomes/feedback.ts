import { ONS_BAND_DISPLAY, SWEMWBS_MEANINGFUL_CHANGE, type OnsBand } from './scoring.js';

/** One outcome score as recorded (an Observation), reduced to what the feedback reports. */
export interface RecordedScore {
  observation: string;
  code: string;
  display: string;
  value: number;
  decimals: number;
  /** When the answers were given (the Observation's effectiveDateTime). */
  effective: string;
  band?: OnsBand;
}

export interface FeedbackFacts {
  /** The service that worked the referral, as "Name (ODS)". */
  service: string;
  completed: string;
  /** The community groups the patient was handed on to, with how each hand-on ended. */
  handOns: { asset: string; status: string }[];
  scores: RecordedScore[];
}

/** Codes whose lower values are better: the change is read the other way round. */
const LOWER_IS_BETTER = new Set(['ons4-anxiety', 'ucla3-total']);
/** The order scores are reported in: the headline measure first. */
const ORDER = ['swemwbs-metric', 'swemwbs-raw', 'ons4-satisfaction', 'ons4-worthwhile', 'ons4-happiness', 'ons4-anxiety', 'ucla3-total'];

const fixed = (v: number, decimals: number) => v.toFixed(decimals);
const day = (dateTime: string) => dateTime.slice(0, 10);

function measured(s: RecordedScore): string {
  return `${fixed(s.value, s.decimals)}${s.band ? ` (${ONS_BAND_DISPLAY[s.band].toLowerCase()})` : ''} on ${day(s.effective)}`;
}

/** One line per measure: baseline (earliest) against latest, with the change and what it means. */
function scoreLine(code: string, scores: RecordedScore[]): string {
  const sorted = [...scores].sort((a, b) => a.effective.localeCompare(b.effective));
  const first = sorted[0]!;
  const last = sorted.at(-1)!;
  if (sorted.length === 1) return `${first.display}: ${measured(first)} (one measurement, no change to report).`;
  const change = last.value - first.value;
  const signed = `${change > 0 ? '+' : change < 0 ? '−' : '±'}${fixed(Math.abs(change), first.decimals)}`;
  const better = LOWER_IS_BETTER.has(code) ? change < 0 : change > 0;
  let reading = change === 0 ? 'no change' : better ? 'improved' : 'worsened';
  if (code === 'swemwbs-metric' && change !== 0) {
    reading += Math.abs(change) >= SWEMWBS_MEANINGFUL_CHANGE
      ? `, a meaningful change (at least ${SWEMWBS_MEANINGFUL_CHANGE} points, Shah et al. 2018)`
      : `, less than the ${SWEMWBS_MEANINGFUL_CHANGE} points taken as meaningful (Shah et al. 2018)`;
  }
  return `${first.display}: baseline ${measured(first)}, latest ${measured(last)}; change ${signed} (${reading}).`;
}

/**
 * The human-readable summary the GP receives when a referral's Task completes (DESIGN.md
 * "Outcomes"): who worked it, which community groups the patient was connected to, and each outcome
 * measure's baseline against its latest value. Plain text, so a GP system that files only text
 * still records something useful; the Observations travel beside it as references.
 */
export function feedbackSummary(facts: FeedbackFacts): string {
  const lines = [`Social prescribing referral completed by ${facts.service} on ${day(facts.completed)}.`];
  lines.push(facts.handOns.length
    ? `Connected to: ${facts.handOns.map((h) => `${h.asset} (${h.status})`).join('; ')}.`
    : 'Not handed on to a community group.');
  const byCode = new Map<string, RecordedScore[]>();
  for (const s of facts.scores) byCode.set(s.code, [...(byCode.get(s.code) ?? []), s]);
  if (byCode.size === 0) lines.push('No outcome measures were recorded.');
  for (const code of [...byCode.keys()].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b))) lines.push(scoreLine(code, byCode.get(code)!));
  return lines.join('\n');
}
