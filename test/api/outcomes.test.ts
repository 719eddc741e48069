import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { Questionnaires } from '../../src/outcomes/questionnaires.js';
import { expectOutcome } from '../fixtures/api.js';
import { loadR4Definitions, r4Errors } from '../fixtures/r4-validator.js';
import { moveTask, refer, type Versioned } from '../fixtures/referrals.js';
import { gatewayForFile } from '../fixtures/secure-gateway.js';

/** DESIGN.md "Outcomes" over HTTP: questionnaires, validation, scoring, Task.output and the GP's feedback. */

const Q = 'https://signpost.health/fhir/Questionnaire';
const ANSWER_SYSTEM: Record<string, string> = {
  swemwbs: 'https://signpost.health/fhir/CodeSystem/sp-swemwbs-answer',
  ons4: 'https://signpost.health/fhir/CodeSystem/sp-ons4-answer',
  ucla3: 'https://signpost.health/fhir/CodeSystem/sp-ucla3-answer',
};
const SCORE_SYSTEM = 'https://signpost.health/fhir/CodeSystem/sp-outcome-score';
const PROFILES = fileURLToPath(new URL('../../profiles/', import.meta.url));

const t = gatewayForFile(['referrer', 'linkWorker', 'otherLinkWorker', 'communityAsset', 'auditor']);
beforeAll(() => loadR4Definitions());
let seed = 8_100_000;

async function moved(task: Versioned<fhir4.Task>, change: Partial<fhir4.Task>): Promise<Versioned<fhir4.Task>> {
  const res = await moveTask(t.linkWorker, task, change);
  expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
  return res.body;
}

/** A referral the service has accepted and started. */
async function working() {
  const r = await refer(t.referrer, t.linkWorker, (seed += 13));
  return { ...r, task: await moved(await moved(r.task, { status: 'accepted' }), { status: 'in-progress' }) };
}

interface ResponseOptions {
  sr: string; patient: string; authored?: string; status?: fhir4.QuestionnaireResponse['status']; as?: 'coding' | 'integer';
}

/** A response to `instrument` with one answer per item, in item order. */
function response(instrument: 'swemwbs' | 'ons4' | 'ucla3', answers: number[], o: ResponseOptions): fhir4.QuestionnaireResponse {
  return {
    resourceType: 'QuestionnaireResponse',
    questionnaire: `${Q}/${instrument}`,
    status: o.status ?? 'completed',
    subject: { reference: `Patient/${o.patient}` },
    basedOn: [{ reference: `ServiceRequest/${o.sr}` }],
    authored: o.authored ?? '2026-01-05T10:00:00Z',
    item: answers.map((a, i) => ({
      linkId: `${instrument}-${i + 1}`,
      answer: [o.as === 'integer' ? { valueInteger: a } : { valueCoding: { system: ANSWER_SYSTEM[instrument]!, code: String(a) } }],
    })),
  };
}

async function scoresOf(qr: string): Promise<fhir4.Observation[]> {
  const res = await t.linkWorker.get(`/fhir/Observation?derived-from=QuestionnaireResponse/${qr}`);
  expect(res.status).toBe(200);
  return ((res.body as fhir4.Bundle).entry ?? []).map((e) => e.resource as fhir4.Observation);
}

const summary = (obs: fhir4.Observation[]) => obs
  .map((o) => [o.code.coding?.find((c) => c.system === SCORE_SYSTEM)?.code, o.valueQuantity?.value, o.interpretation?.[0]?.coding?.[0]?.code])
  .sort((a, b) => String(a[0]).localeCompare(String(b[0])));

async function countFor(sr: string): Promise<{ responses: number; observations: number }> {
  const count = async (type: string) => ((await t.auditor.get(`/fhir/${type}?based-on=ServiceRequest/${sr}`)).body as fhir4.Bundle).entry?.length ?? 0;
  return { responses: await count('QuestionnaireResponse'), observations: await count('Observation') };
}

describe('the outcome Questionnaires', () => {
  it.each([['swemwbs', 7, 5], ['ons4', 4, 11], ['ucla3', 3, 3]] as const)('%s is served with %i items of %i ordinal options, once', async (id, items, options) => {
    const res = await t.linkWorker.get(`/fhir/Questionnaire/${id}`);
    expect(res.status).toBe(200);
    const q = res.body as fhir4.Questionnaire;
    expect(q.url).toBe(`${Q}/${id}`);
    expect(q.copyright).toBeTruthy();
    expect(q.item?.map((i) => i.linkId)).toEqual(Array.from({ length: items }, (_, i) => `${id}-${i + 1}`));
    for (const item of q.item ?? []) {
      expect(item.answerOption).toHaveLength(options);
      for (const o of item.answerOption ?? []) expect(o.valueCoding?.extension?.[0]?.url).toBe('http://hl7.org/fhir/StructureDefinition/ordinalValue');
    }
    expect(r4Errors(q)).toEqual([]);
    const byUrl = await t.linkWorker.get(`/fhir/Questionnaire?url=${encodeURIComponent(`${Q}/${id}`)}`);
    expect(byUrl.body.entry).toHaveLength(1);
  });

  it('are written once: loading them again at start-up adds no version', async () => {
    const before = (await t.linkWorker.get('/fhir/Questionnaire/swemwbs')).body as Versioned<fhir4.Questionnaire>;
    await Questionnaires.load(PROFILES).materialise(t.gw.store);
    const after = (await t.linkWorker.get('/fhir/Questionnaire/swemwbs')).body as Versioned<fhir4.Questionnaire>;
    expect(after.meta.versionId).toBe(before.meta.versionId);
    expect(after.meta.versionId).toBe('1');
  });
});

describe('a completed response is scored into Observations', () => {
  it('SWEMWBS by valueCoding: the raw total and the metric score from the conversion table', async () => {
    const r = await working();
    const res = await t.linkWorker.post('/fhir/QuestionnaireResponse', response('swemwbs', [3, 3, 3, 3, 3, 3, 3], { sr: r.sr, patient: r.patient }));
    expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(201);
    const obs = await scoresOf(res.body.id);
    expect(summary(obs)).toEqual([['swemwbs-metric', 19.25, undefined], ['swemwbs-raw', 21, undefined]]);
    for (const o of obs) {
      expect(o).toMatchObject({
        status: 'final', subject: { reference: `Patient/${r.patient}` }, basedOn: [{ reference: `ServiceRequest/${r.sr}` }],
        derivedFrom: [{ reference: `QuestionnaireResponse/${res.body.id}` }], effectiveDateTime: '2026-01-05T10:00:00Z',
      });
      expect(r4Errors(o)).toEqual([]);
    }
    expect(r4Errors(res.body)).toEqual([]);
  });

  it('ONS4 by valueInteger: four scores, each with its ONS band as interpretation', async () => {
    const r = await working();
    const res = await t.linkWorker.post('/fhir/QuestionnaireResponse', response('ons4', [4, 5, 9, 6], { sr: r.sr, patient: r.patient, as: 'integer' }));
    expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(201);
    expect(summary(await scoresOf(res.body.id))).toEqual([
      ['ons4-anxiety', 6, 'high'], ['ons4-happiness', 9, 'very-high'], ['ons4-satisfaction', 4, 'low'], ['ons4-worthwhile', 5, 'medium'],
    ]);
  });

  it('UCLA-3: the total', async () => {
    const r = await working();
    const res = await t.linkWorker.post('/fhir/QuestionnaireResponse', response('ucla3', [3, 2, 3], { sr: r.sr, patient: r.patient }));
    expect(res.status).toBe(201);
    expect(summary(await scoresOf(res.body.id))).toEqual([['ucla3-total', 8, undefined]]);
  });

  it('an in-progress response is kept but not scored; completing it scores it', async () => {
    const r = await working();
    const partial = response('ucla3', [1, 2], { sr: r.sr, patient: r.patient, status: 'in-progress' });
    const res = await t.linkWorker.post('/fhir/QuestionnaireResponse', partial);
    expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(201);
    expect(await scoresOf(res.body.id)).toEqual([]);
    const done = await t.linkWorker.put(`/fhir/QuestionnaireResponse/${res.body.id}`, { ...response('ucla3', [1, 2, 2], { sr: r.sr, patient: r.patient }), id: res.body.id });
    expect(done.status, JSON.stringify(done.body).slice(0, 400)).toBe(200);
    expect(summary(await scoresOf(res.body.id))).toEqual([['ucla3-total', 5, undefined]]);
    const again = await t.linkWorker.put(`/fhir/QuestionnaireResponse/${res.body.id}`, { ...response('ucla3', [3, 3, 3], { sr: r.sr, patient: r.patient }), id: res.body.id });
    expectOutcome(again, { status: 422, code: 'business-rule', expression: 'QuestionnaireResponse.status' });
    expect(summary(await scoresOf(res.body.id))).toEqual([['ucla3-total', 5, undefined]]);
  });

  it('a response recorded in error is marked entered-in-error, which retracts its scores; nothing else about it changes', async () => {
    const r = await working();
    const body = response('swemwbs', [3, 3, 3, 3, 3, 3, 3], { sr: r.sr, patient: r.patient });
    const res = await t.linkWorker.post('/fhir/QuestionnaireResponse', body);
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    const altered = await t.linkWorker.put(`/fhir/QuestionnaireResponse/${id}`, { ...response('swemwbs', [3, 3, 3, 3, 3, 3, 4], { sr: r.sr, patient: r.patient }), id, status: 'entered-in-error' });
    expectOutcome(altered, { status: 422, code: 'business-rule', expression: 'QuestionnaireResponse.status' });
    expect((await scoresOf(id)).map((o) => o.status)).toEqual(['final', 'final']);

    const retracted = await t.linkWorker.put(`/fhir/QuestionnaireResponse/${id}`, { ...body, id, status: 'entered-in-error' });
    expect(retracted.status, JSON.stringify(retracted.body).slice(0, 400)).toBe(200);
    expect((await scoresOf(id)).map((o) => o.status)).toEqual(['entered-in-error', 'entered-in-error']);
    const again = await t.linkWorker.put(`/fhir/QuestionnaireResponse/${id}`, { ...body, id, status: 'completed' });
    expectOutcome(again, { status: 422, code: 'business-rule', expression: 'QuestionnaireResponse.status' });

    // Completing the referral: the retracted response and scores are neither outputs nor in the feedback.
    const done = await moved(r.task, { status: 'completed' });
    expect(done.output ?? []).toEqual([]);
    const c = (await t.referrer.get(`/fhir/Communication?based-on=ServiceRequest/${r.sr}`)).body.entry[0].resource as fhir4.Communication;
    expect(c.payload?.[0]?.contentString).toContain('No outcome measures were recorded.');
    expect(c.payload).toHaveLength(1);
  });

  it('inside a transaction with the Task update, scores the same and lists the outcomes in Task.output', async () => {
    const r = await working();
    const qr = response('swemwbs', [3, 3, 3, 3, 3, 3, 3], { sr: r.sr, patient: r.patient });
    const task: fhir4.Task = { ...r.task, businessStatus: { text: 'baseline recorded' } };
    const bundle: fhir4.Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:6f1c1d2e-5b0c-4a4e-9d41-0c3f2b7a9e10', resource: qr, request: { method: 'POST', url: 'QuestionnaireResponse' } },
        { fullUrl: `Task/${r.task.id}`, resource: task, request: { method: 'PUT', url: `Task/${r.task.id}`, ifMatch: `W/"${r.task.meta.versionId}"` } },
      ],
    };
    const res = await t.linkWorker.post('/fhir', bundle);
    expect(res.status, JSON.stringify(res.body).slice(0, 600)).toBe(200);
    const qrId = (res.body.entry[0].response.location as string).split('/')[1]!;
    const obs = await scoresOf(qrId);
    expect(summary(obs)).toEqual([['swemwbs-metric', 19.25, undefined], ['swemwbs-raw', 21, undefined]]);
    const stored = (await t.linkWorker.get(`/fhir/Task/${r.task.id}`)).body as fhir4.Task;
    expect(stored.businessStatus?.text).toBe('baseline recorded');
    expect(stored.output?.map((o) => o.valueReference?.reference).sort()).toEqual(
      [`QuestionnaireResponse/${qrId}`, ...obs.map((o) => `Observation/${o.id}`)].sort());
  });
});

describe('an invalid response is refused with the expression of its element, and nothing is stored', () => {
  type Case = [string, (qr: fhir4.QuestionnaireResponse, r: { sr: string; patient: string }) => fhir4.QuestionnaireResponse, number, string, string];
  const cases: Case[] = [
    ['an unknown linkId', (qr) => ({ ...qr, item: [...qr.item!, { linkId: 'swemwbs-8', answer: [{ valueInteger: 3 }] }] }), 422, 'value', 'QuestionnaireResponse.item[7].linkId'],
    ['an integer out of range', (qr) => ({ ...qr, item: qr.item!.map((it, i) => (i === 2 ? { ...it, answer: [{ valueInteger: 6 }] } : it)) }), 422, 'value', 'QuestionnaireResponse.item[2].answer[0].valueInteger'],
    ['a coding not among the options', (qr) => ({ ...qr, item: qr.item!.map((it, i) => (i === 4 ? { ...it, answer: [{ valueCoding: { system: ANSWER_SYSTEM.swemwbs!, code: '9' } }] } : it)) }), 422, 'code-invalid', 'QuestionnaireResponse.item[4].answer[0].valueCoding'],
    ['a required item missing', (qr) => ({ ...qr, item: qr.item!.slice(0, 6) }), 422, 'required', 'QuestionnaireResponse.item'],
    ['an item answered twice over', (qr) => ({ ...qr, item: [...qr.item!, qr.item![0]!] }), 422, 'business-rule', 'QuestionnaireResponse.item[7].linkId'],
    ['two answers to one item', (qr) => ({ ...qr, item: qr.item!.map((it, i) => (i === 0 ? { ...it, answer: [{ valueInteger: 2 }, { valueInteger: 3 }] } : it)) }), 422, 'business-rule', 'QuestionnaireResponse.item[0].answer[1]'],
    ['an answer of the wrong kind', (qr) => ({ ...qr, item: qr.item!.map((it, i) => (i === 1 ? { ...it, answer: [{ valueString: 'often' }] } : it)) }), 422, 'value', 'QuestionnaireResponse.item[1].answer[0]'],
    ['no authored', ({ authored: _a, ...qr }) => qr, 422, 'required', 'QuestionnaireResponse.authored'],
    ['a subject that is not a Patient', (qr) => ({ ...qr, subject: { reference: 'Group/g1' } }), 422, 'required', 'QuestionnaireResponse.subject'],
    ['no basedOn', ({ basedOn: _b, ...qr }) => qr, 422, 'required', 'QuestionnaireResponse.basedOn'],
    ['an instrument not scored here', (qr) => ({ ...qr, questionnaire: 'http://example.org/Questionnaire/phq9' }), 422, 'not-found', 'QuestionnaireResponse.questionnaire'],
    ['a status other than completed or in-progress', (qr) => ({ ...qr, status: 'amended' }), 422, 'business-rule', 'QuestionnaireResponse.status'],
    ['another patient than the referral\'s', (qr) => ({ ...qr, subject: { reference: 'Patient/not-the-referral-patient' } }), 422, 'business-rule', 'QuestionnaireResponse.subject'],
  ];

  it.each(cases)('%s', async (_name, breakIt, status, code, expression) => {
    const r = await working();
    const qr = breakIt(response('swemwbs', [3, 3, 3, 3, 3, 3, 3], { sr: r.sr, patient: r.patient, as: 'integer' }), r);
    const res = await t.linkWorker.post('/fhir/QuestionnaireResponse', qr);
    expectOutcome(res, { status, code, expression });
    expect(await countFor(r.sr)).toEqual({ responses: 0, observations: 0 });
  });

  it('a referral of another service is not found', async () => {
    const r = await working();
    const res = await t.otherLinkWorker.post('/fhir/QuestionnaireResponse', response('ucla3', [1, 1, 1], { sr: r.sr, patient: r.patient }));
    expect(res.status).toBe(422);
    expect(await countFor(r.sr)).toEqual({ responses: 0, observations: 0 });
  });

  it('the server writes Observations: a client may not', async () => {
    const r = await working();
    const res = await t.linkWorker.post('/fhir/Observation', {
      resourceType: 'Observation', status: 'final', code: { text: 'made up' }, subject: { reference: `Patient/${r.patient}` }, basedOn: [{ reference: `ServiceRequest/${r.sr}` }],
    });
    expect(res.status).toBe(403);
  });
});

describe('completion sends the GP feedback', () => {
  it('baseline + follow-up + completion: one Communication with the change, readable by the practice, not by the community group', async () => {
    const r = await working();
    const handOn = await t.linkWorker.post('/fhir/Task', {
      resourceType: 'Task', status: 'requested', intent: 'order', partOf: [{ reference: `Task/${r.task.id}` }], owner: { reference: 'Organization/V001' },
    });
    expect(handOn.status, JSON.stringify(handOn.body).slice(0, 400)).toBe(201);
    const baseline = await t.linkWorker.post('/fhir/QuestionnaireResponse', response('swemwbs', [2, 2, 2, 2, 2, 2, 2], { sr: r.sr, patient: r.patient, authored: '2026-01-05T10:00:00Z' }));
    const followUp = await t.linkWorker.post('/fhir/QuestionnaireResponse', response('swemwbs', [3, 3, 3, 3, 3, 3, 3], { sr: r.sr, patient: r.patient, authored: '2026-03-01T10:00:00Z', as: 'integer' }));
    expect([baseline.status, followUp.status]).toEqual([201, 201]);
    let assetTask = (await t.communityAsset.get(`/fhir/Task/${handOn.body.id}`)).body as Versioned<fhir4.Task>;
    for (const status of ['accepted', 'in-progress', 'completed'] as const) {
      const res = await t.communityAsset.put(`/fhir/Task/${assetTask.id}`, { ...assetTask, status }, `W/"${assetTask.meta.versionId}"`);
      expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
      assetTask = res.body;
    }
    const current = (await t.linkWorker.get(`/fhir/Task/${r.task.id}`)).body as Versioned<fhir4.Task>;
    const completed = await moved(current, { status: 'completed' });
    expect(completed.output?.length).toBe(6); // two responses, two scores each

    const found = await t.referrer.get(`/fhir/Communication?based-on=ServiceRequest/${r.sr}`);
    expect(found.body.entry, 'one Communication').toHaveLength(1);
    const c = found.body.entry[0].resource as fhir4.Communication;
    expect(c).toMatchObject({
      status: 'completed', basedOn: [{ reference: `ServiceRequest/${r.sr}` }], about: [{ reference: `Task/${r.task.id}` }],
      recipient: [{ reference: 'Organization/A81001' }], subject: { reference: `Patient/${r.patient}` },
    });
    const text = c.payload?.[0]?.contentString ?? '';
    expect(text).toContain('Connected to: Riverside Walking Group (V001) (completed).');
    // Raw 14 → metric 15.32, raw 21 → 19.25: +3.93, above the 2.87-point threshold.
    expect(text).toContain('SWEMWBS metric score: baseline 15.32 on 2026-01-05, latest 19.25 on 2026-03-01; change +3.93 (improved, a meaningful change');
    expect(text).toContain('SWEMWBS raw total score: baseline 14 on 2026-01-05, latest 21 on 2026-03-01; change +7 (improved).');
    expect(c.payload!.slice(1).map((p) => p.contentReference?.reference?.split('/')[0])).toEqual(['Observation', 'Observation', 'Observation', 'Observation']);
    expect(r4Errors(c)).toEqual([]);

    // The referral followed its Task.
    const sr = await t.referrer.get(`/fhir/ServiceRequest/${r.sr}`);
    expect(sr.body.status).toBe('completed');

    const all = await t.referrer.get(`/fhir/ServiceRequest?_id=${r.sr}&_revinclude=QuestionnaireResponse:based-on&_revinclude=Observation:based-on&_revinclude=Communication:based-on`);
    expect(all.status).toBe(200);
    const types = ((all.body as fhir4.Bundle).entry ?? []).map((e) => e.resource!.resourceType).sort();
    expect(types).toEqual(['Communication', 'Observation', 'Observation', 'Observation', 'Observation', 'QuestionnaireResponse', 'QuestionnaireResponse', 'ServiceRequest']);
    for (const e of (all.body as fhir4.Bundle).entry ?? []) expect(r4Errors(e.resource), e.resource!.resourceType).toEqual([]);

    for (const path of [`/fhir/QuestionnaireResponse/${baseline.body.id}`, `/fhir/Communication/${c.id}`, `/fhir/QuestionnaireResponse?based-on=ServiceRequest/${r.sr}`, `/fhir/ServiceRequest?_id=${r.sr}&_revinclude=QuestionnaireResponse:based-on`]) {
      const res = await t.communityAsset.get(path);
      expect(res.status, path).toBe(403);
    }
    const viaTask = await t.communityAsset.get(`/fhir/Task?_id=${handOn.body.id}&_include=Task:focus`);
    expect(((viaTask.body as fhir4.Bundle).entry ?? []).map((e) => e.resource!.resourceType)).toEqual(['Task']);
  });
});
