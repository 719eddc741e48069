import { idOfType } from '../fhir/index-values.js';
import type { WrittenVersion } from '../auth/caller-tx.js';
import { londonDate } from '../workflow/working-days.js';
import { OUTCOME_SCORE_SYSTEM } from '../outcomes/scoring.js';
import type { ReferralFact, ScoreFact } from '../store/report-facts.js';
import { referencing } from '../store/server-resources.js';
import type { Stored, StoreTx } from '../store/store.js';
import { ageBand, ethnicityOf, genderOf } from './strata.js';

/**
 * What the projection reads of the store: the transaction it runs in, or (reports/report-replay.ts)
 * that transaction's view of the store as it stood when a replayed version was written.
 */
export type ProjectionTx = Pick<StoreTx, 'read' | 'search' | 'reportFacts'>;

/** The types whose versions move the read model: a referral arriving, its Task, and score Observations. */
export const PROJECTED_TYPES = ['ServiceRequest', 'Task', 'Observation'] as const;

const odsOf = (ref: fhir4.Reference | undefined) => idOfType(ref?.reference, 'Organization') ?? ref?.identifier?.value ?? '';

/** Task statuses that mean the service took the referral on. */
const TAKEN_ON = new Set(['accepted', 'in-progress', 'on-hold', 'completed', 'failed']);

/** A new referral's row: who sent it where, when, why, and its patient's strata as at that day. */
async function newReferral(s: Stored, tx: ProjectionTx): Promise<ReferralFact> {
  const sr = s.resource as fhir4.ServiceRequest;
  const patientId = idOfType(sr.subject?.reference, 'Patient');
  const patient = patientId ? (await tx.read('Patient', patientId))?.resource as fhir4.Patient | undefined : undefined;
  return {
    referral: s.id, practice: odsOf(sr.requester), service: odsOf(sr.performer?.[0]), received: s.lastUpdated,
    reason: sr.reasonCode?.[0]?.coding?.[0]?.code ?? '',
    ageBand: ageBand(patient?.birthDate, londonDate(s.lastUpdated / 1000)),
    gender: patient ? genderOf(patient) : 'unknown', ethnicity: patient ? ethnicityOf(patient) : 'Z',
    status: 'requested', acceptedAt: null, completedAt: null, declineReason: null,
  };
}

/** The row again as the referral's Task now stands: its status, its service, and the moments it marks. */
function taskMoved(fact: ReferralFact, s: Stored): ReferralFact {
  const task = s.resource as fhir4.Task;
  const at = s.lastUpdated;
  return {
    ...fact,
    status: task.status,
    service: odsOf(task.owner) || fact.service,
    acceptedAt: fact.acceptedAt ?? (TAKEN_ON.has(task.status) ? at : null),
    completedAt: fact.completedAt ?? (task.status === 'completed' ? at : null),
    declineReason: task.status === 'rejected' ? task.statusReason?.coding?.[0]?.code ?? 'unspecified' : fact.declineReason,
  };
}

/** A referral's scores from its recorded score Observations: first (baseline), latest and how many, per score. */
async function scoresOf(referral: string, tx: ProjectionTx): Promise<Omit<ScoreFact, 'referral'>[]> {
  const byCode = new Map<string, { at: string; value: number }[]>();
  for (const o of await referencing(tx, 'Observation', 'based-on', `ServiceRequest/${referral}`)) {
    const obs = o.resource as fhir4.Observation;
    const code = obs.code.coding?.find((c) => c.system === OUTCOME_SCORE_SYSTEM)?.code;
    const value = obs.valueQuantity?.value;
    if (obs.status !== 'final' || !code || value === undefined || !obs.effectiveDateTime) continue;
    byCode.set(code, [...(byCode.get(code) ?? []), { at: obs.effectiveDateTime, value }]);
  }
  return [...byCode].map(([code, values]) => {
    const sorted = values.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
    return { code, first: sorted[0]!.value, latest: sorted.at(-1)!.value, count: sorted.length };
  });
}

/**
 * Keeps the reports' read model (store/report-facts.ts) in the transaction of every interaction, from
 * the versions it wrote, the server's consequences included: a referral's row when it arrives, again at
 * each change of its Task, and its scores whenever an outcome is recorded or retracted.
 */
export async function projectReports(tx: ProjectionTx, written: readonly WrittenVersion[]): Promise<void> {
  const facts = new Map<string, ReferralFact>();
  const rescore = new Set<string>();
  for (const { stored: s } of written) {
    if (s.type === 'ServiceRequest' && s.version === 1) facts.set(s.id, await newReferral(s, tx));
  }
  for (const { stored: s } of written) {
    if (s.type === 'Task' && !(s.resource as fhir4.Task).partOf?.length) {
      const referral = idOfType((s.resource as fhir4.Task).focus?.reference, 'ServiceRequest');
      const fact = referral ? facts.get(referral) ?? await tx.reportFacts.getReferral(referral) : undefined;
      if (fact) facts.set(fact.referral, taskMoved(fact, s));
    } else if (s.type === 'Observation') {
      for (const b of (s.resource as fhir4.Observation).basedOn ?? []) {
        const referral = idOfType(b.reference, 'ServiceRequest');
        if (referral) rescore.add(referral);
      }
    }
  }
  for (const fact of facts.values()) await tx.reportFacts.putReferral(fact);
  for (const referral of rescore) {
    if (facts.has(referral) || await tx.reportFacts.getReferral(referral)) await tx.reportFacts.putScores(referral, await scoresOf(referral, tx));
  }
}
