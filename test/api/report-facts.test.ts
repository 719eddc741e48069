import { describe, expect, it } from 'vitest';
import { parseDateRange } from '../../src/fhir/instant.js';
import { ETHNIC_CATEGORY_EXTENSION } from '../../src/reports/strata.js';
import type { ReferralFact } from '../../src/store/report-facts.js';
import { freshReferral, moveTask, type Versioned } from '../fixtures/referrals.js';
import { gatewayForFile, type AuthedClient } from '../fixtures/secure-gateway.js';

/**
 * Issue 10's read model, kept in the transaction of every change by the gateway's projection: what a
 * referral's row says after intake, each move of its Task (the server's own moves included) and each
 * outcome recorded, checked against what the test itself sent.
 */

const t = gatewayForFile(['referrer', 'linkWorker', 'auditor']);
let seed = 9_700_000;

/** Refers a patient born on `birthDate`, of `gender` and ethnic category `ethnicity` (absent: none recorded). */
async function referPatient(birthDate: string, gender: fhir4.Patient['gender'], ethnicity?: string) {
  const { bundle } = freshReferral((seed += 17));
  const patient = bundle.entry!.find((e) => e.resource?.resourceType === 'Patient')!.resource as fhir4.Patient;
  patient.birthDate = birthDate;
  patient.gender = gender;
  delete patient.extension;
  if (ethnicity) {
    patient.extension = [{ url: ETHNIC_CATEGORY_EXTENSION, valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland', code: ethnicity }] } }];
  }
  const sr = bundle.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!.resource as fhir4.ServiceRequest;
  const res = await t.referrer.post('/fhir', bundle);
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  const idOf = (type: string) => (res.body.entry as fhir4.BundleEntry[]).map((e) => e.fullUrl ?? '').find((u) => u.includes(`/${type}/`))!.split('/').at(-1)!;
  const referral = idOf('ServiceRequest');
  const task = (await t.linkWorker.get(`/fhir/Task?focus=ServiceRequest/${referral}`)).body.entry[0].resource as Versioned<fhir4.Task>;
  return { referral, patient: idOf('Patient'), task, reason: sr.reasonCode![0]!.coding![0]!.code! };
}

const factOf = (referral: string) => t.gw.store.transaction((tx) => tx.reportFacts.getReferral(referral));
const micros = (instant: string) => parseDateRange(instant)!.lo;

async function moved(api: AuthedClient, task: Versioned<fhir4.Task>, change: Partial<fhir4.Task>): Promise<Versioned<fhir4.Task>> {
  const res = await moveTask(api, task, change);
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  return res.body;
}

function swemwbs(referral: string, patient: string, answers: number[], authored: string): fhir4.QuestionnaireResponse {
  return {
    resourceType: 'QuestionnaireResponse', questionnaire: 'https://signpost.health/fhir/Questionnaire/swemwbs', status: 'completed',
    subject: { reference: `Patient/${patient}` }, basedOn: [{ reference: `ServiceRequest/${referral}` }], authored,
    item: answers.map((a, i) => ({ linkId: `swemwbs-${i + 1}`, answer: [{ valueInteger: a }] })),
  };
}

describe('the reports\' read model', () => {
  it('records a referral as it arrives: practice, service, reason, and its patient\'s strata as at that day', async () => {
    const r = await referPatient('1961-03-10', 'female', 'H');
    const sr = (await t.auditor.get(`/fhir/ServiceRequest/${r.referral}`)).body as Versioned<fhir4.ServiceRequest>;
    const age = new Date().getUTCFullYear() - 1961 - (new Date().toISOString().slice(5, 10) < '03-10' ? 1 : 0);
    expect(await factOf(r.referral)).toEqual({
      referral: r.referral, practice: 'A81001', service: 'SP001', received: micros(sr.meta.lastUpdated), reason: r.reason,
      ageBand: age < 65 ? '50-64' : '65-79', gender: 'female', ethnicity: 'H',
      status: 'requested', acceptedAt: null, completedAt: null, declineReason: null,
    } satisfies ReferralFact);
    const unknown = await referPatient('2015', 'unknown');
    expect(await factOf(unknown.referral)).toMatchObject({ ageBand: '0-17', gender: 'unknown', ethnicity: 'Z' });
  });

  it('follows the Task: accepted and completed at the moments they were, scores first and latest', async () => {
    const r = await referPatient('1990-07-01', 'male');
    const accepted = await moved(t.linkWorker, r.task, { status: 'accepted' });
    const started = await moved(t.linkWorker, accepted, { status: 'in-progress' });
    for (const [answers, authored] of [[[2, 2, 2, 2, 2, 2, 2], '2026-01-05T10:00:00Z'], [[3, 3, 3, 3, 3, 3, 3], '2026-03-05T10:00:00Z']] as const) {
      const res = await t.linkWorker.post('/fhir/QuestionnaireResponse', swemwbs(r.referral, r.patient, [...answers], authored));
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(201);
    }
    const completed = await moved(t.linkWorker, await t.linkWorker.get(`/fhir/Task/${started.id}`).then((x) => x.body), { status: 'completed' });
    const fact = await factOf(r.referral);
    expect(fact).toMatchObject({ status: 'completed', acceptedAt: micros(accepted.meta.lastUpdated), completedAt: micros(completed.meta.lastUpdated) });
    const scores = await t.gw.store.transaction((tx) => tx.reportFacts.scores({ from: 0, to: Number.MAX_SAFE_INTEGER, practices: ['A81001'] }));
    // SWEMWBS raw 14 and 21: metric 15.32 and 19.25 (the published raw-to-metric conversion table).
    expect(scores.filter((s) => s.referral === r.referral && s.code === 'swemwbs-metric')).toEqual([
      { referral: r.referral, code: 'swemwbs-metric', first: 15.32, latest: 19.25, count: 2 },
    ]);
  });

  it('records why a referral was declined, and the server\'s own moves of a Task (a referral revoked)', async () => {
    const declined = await referPatient('1970-01-01', 'female');
    await moved(t.linkWorker, declined.task, {
      status: 'rejected', statusReason: { coding: [{ system: 'https://signpost.health/fhir/CodeSystem/sp-task-status-reason', code: 'service-at-capacity' }] },
    });
    expect(await factOf(declined.referral)).toMatchObject({ status: 'rejected', acceptedAt: null, declineReason: 'service-at-capacity' });

    const revoked = await referPatient('1970-01-01', 'female');
    const sr = (await t.referrer.get(`/fhir/ServiceRequest/${revoked.referral}`)).body as Versioned<fhir4.ServiceRequest>;
    const res = await t.referrer.put(`/fhir/ServiceRequest/${sr.id}`, { ...sr, status: 'revoked' });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    expect(await factOf(revoked.referral)).toMatchObject({ status: 'cancelled' });
  });
});
