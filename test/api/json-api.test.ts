import { Validator } from '@seriousme/openapi-schema-validator';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { nhsNumber } from '../fixtures/gateway.js';
import { freshReferral, moveTask, type Versioned } from '../fixtures/referrals.js';
import { gatewayForFile, type AuthedClient } from '../fixtures/secure-gateway.js';

const t = gatewayForFile(['referrer', 'auditor', 'linkWorker', 'communityAsset', 'otherReferrer', 'otherLinkWorker']);

const SOCIAL_ISOLATION = '422650009';

/** A referral as a referral tool without FHIR sends it. */
function jsonReferral(seed: number, overrides: Record<string, unknown> = {}) {
  return {
    identifier: `json-${seed}-${Date.now()}`,
    patient: {
      nhsNumber: nhsNumber(seed), name: { given: ['Alex', 'Jo'], family: `Jones${seed}` }, birthDate: '1958-03-14',
      phone: '07700 900123', email: 'alex@example.org',
    },
    consent: { date: '2026-11-30T09:15:00Z', givenBy: 'patient', agreed: 'Sharing with the social prescribing service' },
    reasons: [{ code: SOCIAL_ISOLATION, text: 'Lives alone since bereavement' }],
    referrer: { name: 'Dr Amara Okoye' },
    note: 'Prefers a morning call',
    ...overrides,
  };
}

const post = (client: AuthedClient | undefined, path: string, body: unknown) => {
  const r = request(t.gw.app).post(`/api/v1${path}`).set('Content-Type', 'application/json');
  return (client ? r.set('Authorization', `Bearer ${client.token}`) : r).send(JSON.stringify(body));
};
const count = async (query: string) => (await t.auditor.get(`${query}${query.includes('?') ? '&' : '?'}_summary=count`)).body.total as number;

describe('JSON API: referrals in', () => {
  it('makes the same FHIR resources a GP system would send, field by field, and the Task the service polls', async () => {
    const input = jsonReferral(7001);
    const res = await post(t.referrer, '/referrals', input);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers.location).toBe(`/api/v1/referrals/${res.body.id}`);
    expect(res.body).toMatchObject({ identifier: input.identifier, status: 'requested' });

    const sr = (await t.auditor.get(`/fhir/ServiceRequest/${res.body.id}`)).body as fhir4.ServiceRequest;
    expect(sr.identifier).toEqual([{ system: 'https://signpost.health/Id/referral/A81001', value: input.identifier }]);
    expect(sr).toMatchObject({ status: 'active', intent: 'order', subject: { reference: `Patient/${res.body.patient}` } });
    expect(sr.code?.coding?.[0]).toMatchObject({ system: 'http://snomed.info/sct', code: '871731000000106' });
    expect(sr.requester?.reference).toBe('Organization/A81001');
    expect(sr.performer?.[0]?.reference).toBe('Organization/SP001'); // the practice's configured route
    expect(sr.reasonCode).toEqual([{ coding: [{ system: 'http://snomed.info/sct', code: SOCIAL_ISOLATION }], text: 'Lives alone since bereavement' }]);
    expect(sr.supportingInfo).toEqual([{ reference: `Consent/${res.body.consent}` }]);
    expect(sr.note).toEqual([{ text: 'Prefers a morning call', authorString: 'Dr Amara Okoye' }]);

    const patient = (await t.auditor.get(`/fhir/Patient/${res.body.patient}`)).body as fhir4.Patient;
    expect(patient.identifier).toEqual([{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: input.patient.nhsNumber }]);
    expect(patient.name).toEqual([{ use: 'official', family: 'Jones7001', given: ['Alex', 'Jo'] }]);
    expect(patient.birthDate).toBe('1958-03-14');
    expect(patient.telecom).toEqual([{ system: 'phone', value: '07700 900123' }, { system: 'email', value: 'alex@example.org' }]);

    const consent = (await t.auditor.get(`/fhir/Consent/${res.body.consent}`)).body as fhir4.Consent;
    expect(consent).toMatchObject({
      status: 'active', dateTime: '2026-11-30T09:15:00Z', patient: { reference: `Patient/${res.body.patient}` },
      performer: [{ reference: `Patient/${res.body.patient}` }], policyRule: { text: 'Sharing with the social prescribing service' },
      provision: { type: 'permit' },
    });

    const task = (await t.linkWorker.get(`/fhir/Task/${res.body.task}`)).body as fhir4.Task;
    expect(task).toMatchObject({ status: 'requested', focus: { reference: `ServiceRequest/${res.body.id}` }, owner: { reference: 'Organization/SP001' } });
  });

  it('answers a re-sent referral with the first one (200) and stores nothing twice', async () => {
    const input = jsonReferral(7002);
    const first = await post(t.referrer, '/referrals', input);
    expect(first.status).toBe(201);
    const again = await post(t.referrer, '/referrals', input);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await count(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`https://signpost.health/Id/referral/A81001|${input.identifier}`)}`)).toBe(1);
    expect(await count(`/fhir/Consent?patient=Patient/${first.body.patient}`)).toBe(1);
    expect(await count(`/fhir/Task?focus=ServiceRequest/${first.body.id}`)).toBe(1);
  });

  it('never answers another practice\'s client with a referral it may not see, whatever identifier and practice it sends', async () => {
    const input = jsonReferral(7004);
    const first = await post(t.referrer, '/referrals', input);
    expect(first.status).toBe(201);
    const stolen = await post(t.otherReferrer, '/referrals', { ...input, practice: 'A81001' });
    expect(stolen.status, JSON.stringify(stolen.body)).toBe(422);
    expect(stolen.body.errors).toEqual([expect.objectContaining({ pointer: '#/practice' })]);
    expect(JSON.stringify(stolen.body)).not.toContain(first.body.id);
    expect(await count(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`https://signpost.health/Id/referral/A81001|${input.identifier}`)}`)).toBe(1);
  });

  it.each([
    ['a nine-digit NHS number', { patient: { ...jsonReferral(1).patient, nhsNumber: '123456789' } }, '#/patient/nhsNumber'],
    ['no reasons', { reasons: [] }, '#/reasons'],
    ['a field it does not know', { urgency: 'high' }, '#'],
    ['a consent without a date', { consent: { givenBy: 'patient' } }, '#/consent/date'],
    ['a malformed email', { patient: { ...jsonReferral(1).patient, email: 'not-an-email' } }, '#/patient/email'],
    // U+0000 cannot even be stored by PostgreSQL: refused on both stores alike.
    ['a NUL character in a note', { note: 'see\u0000me' }, '#/note'],
  ])('refuses %s with 400 problem details pointing at the field, and writes nothing', async (_what, change, pointer) => {
    const before = await count('/fhir/ServiceRequest');
    const res = await post(t.referrer, '/referrals', jsonReferral(7003, change));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 400, type: expect.stringMatching(/^https:\/\/signpost\.health\/problems\//), title: expect.any(String) });
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    expect(await count('/fhir/ServiceRequest')).toBe(before);
  });

  it('refuses a body nested deeper than /fhir allows (100 levels), before reading it as a referral', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 150; i++) deep = { d: deep };
    const res = await post(t.referrer, '/referrals', deep);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toMatch(/nested more than 100 levels/);
  });

  it.each([
    ['an NHS number whose check digit is wrong', (r: ReturnType<typeof jsonReferral>) => ({ patient: { ...r.patient, nhsNumber: `${r.patient.nhsNumber.slice(0, 9)}${(Number(r.patient.nhsNumber[9]) + 1) % 10}` } }), '#/patient/nhsNumber'],
    ['a reason outside the social-prescribing reasons', () => ({ reasons: [{ code: '22298006' }] }), '#/reasons/0/code'],
    ['a service that is not configured', () => ({ service: 'ZZZ99' }), '#/service'],
  ])('refuses %s as the FHIR intake does (422), pointing at the field, and writes nothing', async (_what, change, pointer) => {
    const before = await count('/fhir/ServiceRequest');
    const patients = await count('/fhir/Patient');
    const base = jsonReferral(7004);
    const res = await post(t.referrer, '/referrals', { ...base, ...change(base) });
    expect(res.status, JSON.stringify(res.body)).toBe(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    expect(res.body.errors.every((e: { detail: string }) => e.detail.length > 0 && !e.detail.includes('Bundle'))).toBe(true);
    expect(await count('/fhir/ServiceRequest')).toBe(before);
    expect(await count('/fhir/Patient')).toBe(patients);
  });

  it('refuses a call without a token (401, with the challenge) and a role that may not refer (403), and audits both', async () => {
    const none = await post(undefined, '/referrals', jsonReferral(7005));
    expect(none.status).toBe(401);
    expect(none.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer realm="signpost"/);
    const input = jsonReferral(7006);
    const refused = await post(t.linkWorker, '/referrals', input);
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(refused.body.type).toBe('https://signpost.health/problems/forbidden');
    const events = (await t.auditor.get('/fhir/AuditEvent?subtype=transaction&outcome=4&_sort=-_lastUpdated&_count=5')).body as fhir4.Bundle;
    const agents = (events.entry ?? []).map((e) => (e.resource as fhir4.AuditEvent).agent[0]?.who?.identifier?.value);
    expect(agents).toContain(t.gw.clients.linkWorker.config.clientId);
  });

  it('leaves an AuditEvent of the call naming the client, the referral and the patient', async () => {
    const res = await post(t.referrer, '/referrals', jsonReferral(7007));
    expect(res.status).toBe(201);
    const events = (await t.auditor.get(`/fhir/AuditEvent?entity=ServiceRequest/${res.body.id}&subtype=transaction`)).body as fhir4.Bundle;
    expect(events.entry).toHaveLength(1);
    const event = events.entry![0]!.resource as fhir4.AuditEvent;
    expect(event.outcome).toBe('0');
    expect(event.agent[0]?.who?.identifier?.value).toBe(t.gw.clients.referrer.config.clientId);
    expect((event.entity ?? []).map((e) => e.what?.reference)).toContain(`Patient/${res.body.patient}`);
  });
});

const get = (client: AuthedClient, path: string) => request(t.gw.app).get(`/api/v1${path}`).set('Authorization', `Bearer ${client.token}`);

/** Moves a Task through FHIR, as a FHIR platform would, and returns the new version. */
async function moved(api: AuthedClient, task: Versioned<fhir4.Task>, change: Partial<fhir4.Task>): Promise<Versioned<fhir4.Task>> {
  const res = await moveTask(api, task, change);
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  return res.body;
}

/** Every page of the link worker's list from `after` on, as a poller reads it. */
async function drain(client: AuthedClient, after?: string) {
  const items: { id: string; status: string; changed: string }[] = [];
  let cursor = after;
  for (;;) {
    const res = await get(client, `/referrals${cursor ? `?after=${cursor}` : ''}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    items.push(...res.body.items);
    if (res.body.next === cursor || res.body.items.length === 0) return { items, next: res.body.next as string };
    cursor = res.body.next;
  }
}

describe('JSON API: referrals out', () => {
  it('gives back what went in, field by field (ignoring what the server adds)', async () => {
    const input = jsonReferral(7101);
    const made = await post(t.referrer, '/referrals', input);
    expect(made.status).toBe(201);
    for (const client of [t.referrer, t.linkWorker]) {
      const res = await get(client, `/referrals/${made.body.id}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const r = res.body;
      expect(r).toMatchObject({
        id: made.body.id, identifier: input.identifier, task: made.body.task, status: 'requested',
        patient: input.patient, reasons: input.reasons, note: input.note, referrer: input.referrer,
        consent: { status: 'active', ...input.consent },
        practice: { ods: 'A81001', name: 'Riverside Surgery' }, service: { ods: 'SP001', name: 'Riverside Social Prescribing Service' },
        steps: [{ status: 'requested' }], handOns: [],
      });
      expect(r.etag).toBe('W/"1"');
      expect(res.headers.etag).toBe('W/"1"');
    }
    // Each read is audited as the FHIR read it is, naming what it returned.
    const events = (await t.auditor.get(`/fhir/AuditEvent?entity=Patient/${made.body.patient}&subtype=read`)).body as fhir4.Bundle;
    const readers = (events.entry ?? []).map((e) => (e.resource as fhir4.AuditEvent).agent[0]?.who?.identifier?.value);
    expect(readers).toEqual(expect.arrayContaining([t.gw.clients.referrer.config.clientId, t.gw.clients.linkWorker.config.clientId]));
  });

  it('carries what a platform needs of a referral made through FHIR, and its steps and hand-ons as they happen', async () => {
    const input = jsonReferral(7102);
    const made = await post(t.referrer, '/referrals', input);
    let task = (await t.linkWorker.get(`/fhir/Task/${made.body.task}`)).body as Versioned<fhir4.Task>;
    task = await moved(t.linkWorker, task, { status: 'accepted' });
    task = await moved(t.linkWorker, task, { status: 'in-progress' });
    const handOn = await t.linkWorker.post('/fhir/Task', {
      resourceType: 'Task', status: 'requested', intent: 'order',
      code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
      partOf: [{ reference: `Task/${task.id}` }], owner: { reference: 'Organization/V001' },
      note: [{ text: 'Tuesday walks' }],
    });
    expect(handOn.status, JSON.stringify(handOn.body)).toBe(201);
    const res = await get(t.linkWorker, `/referrals/${made.body.id}`);
    expect(res.body.status).toBe('in-progress');
    expect(res.body.etag).toBe(`W/"${task.meta.versionId}"`);
    expect(res.body.steps.map((s: { status: string }) => s.status)).toEqual(['requested', 'accepted', 'in-progress']);
    expect(res.body.handOns).toEqual([{ task: handOn.body.id, asset: { ods: 'V001', name: 'Riverside Walking Group' }, status: 'requested', note: 'Tuesday walks' }]);

    // The community group sees its hand-on: the patient's name and contact details, nothing clinical, no NHS number.
    const asAsset = await get(t.communityAsset, `/referrals/${made.body.id}`);
    expect(asAsset.status, JSON.stringify(asAsset.body)).toBe(200);
    expect(asAsset.body).toMatchObject({ task: handOn.body.id, status: 'requested', service: { ods: 'SP001' } });
    expect(asAsset.body.patient).toEqual({ name: input.patient.name, phone: input.patient.phone, email: input.patient.email });
    for (const hidden of ['reasons', 'consent', 'note', 'referrer', 'identifier', 'practice']) expect(asAsset.body).not.toHaveProperty(hidden);
    const listed = (await drain(t.communityAsset)).items.find((i) => i.id === made.body.id);
    expect(listed).toMatchObject({ task: handOn.body.id, status: 'requested' });
    expect(listed).not.toHaveProperty('reasons');
  });

  it('gives a platform every field it needs of a referral a GP system sent as a FHIR transaction', async () => {
    const { bundle, nhs, identifier } = freshReferral(7110);
    const sent = await t.referrer.post('/fhir', bundle);
    expect(sent.status).toBe(200);
    const srId = (sent.body.entry as fhir4.BundleEntry[]).map((e) => e.response?.location ?? '').find((l) => l.startsWith('ServiceRequest/'))!.split('/')[1]!;
    const sr = (await t.auditor.get(`/fhir/ServiceRequest/${srId}`)).body as fhir4.ServiceRequest;
    const patient = (await t.auditor.get(`/fhir/${sr.subject.reference}`)).body as fhir4.Patient;
    const consent = (await t.auditor.get(`/fhir/${sr.supportingInfo![0]!.reference}`)).body as fhir4.Consent;
    const res = await get(t.linkWorker, `/referrals/${srId}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const official = patient.name!.find((n) => n.use === 'official') ?? patient.name![0]!;
    expect(res.body).toMatchObject({
      id: srId, identifier, status: 'requested', practice: { ods: 'A81001' }, service: { ods: 'SP001' },
      patient: { nhsNumber: nhs, name: { given: official.given, family: official.family }, birthDate: patient.birthDate },
      reasons: sr.reasonCode!.map((c) => ({ code: c.coding![0]!.code, ...(c.text ? { text: c.text } : {}) })),
      consent: { status: 'active', date: consent.dateTime },
      etag: 'W/"1"', steps: [{ status: 'requested' }], handOns: [],
    });
    expect(res.body.received).toMatch(/^\d{4}-\d{2}-\d{2}T/);
  });

  it('answers 404 for a referral the client may not see, as for one that does not exist', async () => {
    const made = await post(t.referrer, '/referrals', jsonReferral(7103));
    for (const [client, id] of [[t.otherReferrer, made.body.id], [t.otherLinkWorker, made.body.id], [t.linkWorker, 'no-such-referral']] as const) {
      const res = await get(client, `/referrals/${id}`);
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('lists changes in order with a cursor that never misses one, and keeps to the status asked for', async () => {
    const start = await drain(t.linkWorker);
    const a = await post(t.referrer, '/referrals', jsonReferral(7104));
    const b = await post(t.referrer, '/referrals', jsonReferral(7105));
    const first = await drain(t.linkWorker, start.next);
    expect(first.items.map((i) => i.id)).toEqual([a.body.id, b.body.id]);
    // Nothing new: an empty page, and a cursor that still works.
    const idle = await get(t.linkWorker, `/referrals?after=${first.next}`);
    expect(idle.body).toEqual({ items: [], next: first.next });
    // A changes: it comes back once, with its new status.
    const task = (await t.linkWorker.get(`/fhir/Task/${a.body.task}`)).body as Versioned<fhir4.Task>;
    await moved(t.linkWorker, task, { status: 'accepted' });
    const later = await drain(t.linkWorker, first.next);
    expect(later.items.map((i) => [i.id, i.status])).toEqual([[a.body.id, 'accepted']]);
    const requested = await get(t.linkWorker, `/referrals?status=requested&after=${start.next}`);
    expect(requested.body.items.map((i: { id: string }) => i.id)).toEqual([b.body.id]);
    // The list is audited as the search it is, with its query.
    const searches = (await t.auditor.get('/fhir/AuditEvent?subtype=search-type&_sort=-_lastUpdated&_count=20')).body as fhir4.Bundle;
    const queries = (searches.entry ?? []).flatMap((e) => (e.resource as fhir4.AuditEvent).entity ?? []).flatMap((en) => (en.query ? [Buffer.from(en.query, 'base64').toString()] : []));
    expect(queries).toContain(`status=requested&after=${start.next}`);
    // Another service's link worker sees none of them.
    const other = await drain(t.otherLinkWorker, start.next);
    expect(other.items.map((i) => i.id)).not.toContain(a.body.id);
  });

  it('refuses a cursor it did not give out and a status that is not one, naming the parameter', async () => {
    for (const q of ['after=bm90LWEtY3Vyc29y', 'status=pending']) {
      const res = await get(t.linkWorker, `/referrals?${q}`);
      expect(res.status).toBe(400);
      expect(res.body.errors[0].parameter).toBe(q.split('=')[0]);
    }
    expect((await get(t.referrer, '/referrals')).status).toBe(403);
  });
});

/** Posts an action with the etag and, if given, an Idempotency-Key. */
const act = (client: AuthedClient, id: string, action: string, etag: string | undefined, body: unknown = {}, key?: string) => {
  let r = request(t.gw.app).post(`/api/v1/referrals/${id}/${action}`).set('Authorization', `Bearer ${client.token}`).set('Content-Type', 'application/json');
  if (etag !== undefined) r = r.set('If-Match', etag);
  if (key !== undefined) r = r.set('Idempotency-Key', key);
  return r.send(JSON.stringify(body));
};
const fhirTask = async (id: string) => (await t.auditor.get(`/fhir/Task/${id}`)).body as Versioned<fhir4.Task>;
/** The Provenances of one version of a Task (a search by target finds those of every version). */
const provenanceOf = async (task: string, version: string) =>
  (((await t.auditor.get(`/fhir/Provenance?target=Task/${task}&_count=100`)).body as fhir4.Bundle).entry ?? [])
    .map((e) => e.resource as fhir4.Provenance)
    .filter((p) => p.target.some((r) => r.reference === `Task/${task}/_history/${version}`));

describe('JSON API: actions', () => {
  it('moves the Task through the workflow as FHIR updates would: status, statusReason, Provenance and AuditEvent', async () => {
    const made = await post(t.referrer, '/referrals', jsonReferral(7201));
    let etag = 'W/"1"';
    const steps: [string, unknown, string][] = [
      ['accept', {}, 'accepted'], ['start', { note: 'First call done' }, 'in-progress'],
      ['hold', { reason: { code: 'service-at-capacity', text: 'Waiting list until January' } }, 'on-hold'], ['resume', {}, 'in-progress'],
      ['complete', {}, 'completed'],
    ];
    for (const [action, body, status] of steps) {
      const res = await act(t.linkWorker, made.body.id, action, etag, body);
      expect(res.status, `${action}: ${JSON.stringify(res.body)}`).toBe(200);
      expect(res.body.status).toBe(status);
      expect(res.headers.etag).toBe(res.body.etag);
      etag = res.body.etag;
      const task = await fhirTask(made.body.task);
      expect(task.status).toBe(status);
      expect(`W/"${task.meta.versionId}"`).toBe(etag);
      const provenance = await provenanceOf(task.id, task.meta.versionId);
      expect(provenance).toHaveLength(1);
      expect(provenance[0]!.agent[0]?.who?.identifier?.value).toBe(t.gw.clients.linkWorker.config.clientId);
    }
    const held = (await t.auditor.get(`/fhir/Task/${made.body.task}/_history/4`)).body as fhir4.Task;
    expect(held.statusReason).toEqual({ coding: [{ system: 'https://signpost.health/fhir/CodeSystem/sp-task-status-reason', code: 'service-at-capacity' }], text: 'Waiting list until January' });
    expect(((await t.auditor.get(`/fhir/Task/${made.body.task}/_history/3`)).body as fhir4.Task).note?.[0]?.text).toBe('First call done');
    // The referral followed its Task, as on /fhir.
    expect(((await t.auditor.get(`/fhir/ServiceRequest/${made.body.id}`)).body as fhir4.ServiceRequest).status).toBe('completed');
    const detail = await get(t.linkWorker, `/referrals/${made.body.id}`);
    expect(detail.body.steps.map((s: { status: string }) => s.status)).toEqual(['requested', 'accepted', 'in-progress', 'on-hold', 'in-progress', 'completed']);
    const audited = (await t.auditor.get(`/fhir/AuditEvent?entity=Task/${made.body.task}&subtype=update`)).body as fhir4.Bundle;
    expect(audited.entry).toHaveLength(5);
  });

  it('declines with a patient-declined reason, and hands on to a community group', async () => {
    const declined = await post(t.referrer, '/referrals', jsonReferral(7202));
    const res = await act(t.linkWorker, declined.body.id, 'decline', 'W/"1"', { reason: { code: '871711000000103' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await fhirTask(declined.body.task)).statusReason?.coding?.[0]).toEqual({ system: 'http://snomed.info/sct', code: '871711000000103' });
    expect(((await t.auditor.get(`/fhir/ServiceRequest/${declined.body.id}`)).body as fhir4.ServiceRequest).status).toBe('revoked');

    const made = await post(t.referrer, '/referrals', jsonReferral(7203));
    const started = await act(t.linkWorker, made.body.id, 'start', (await act(t.linkWorker, made.body.id, 'accept', 'W/"1"')).body.etag);
    const handed = await act(t.linkWorker, made.body.id, 'hand-on', started.body.etag, { asset: 'V001', note: 'Tuesday walks at 10' });
    expect(handed.status, JSON.stringify(handed.body)).toBe(201);
    expect(handed.body).toMatchObject({ id: made.body.id, task: made.body.task, status: 'in-progress', etag: started.body.etag, handOn: { asset: { ods: 'V001' }, status: 'requested' } });
    const listed = await get(t.linkWorker, `/referrals/${made.body.id}`);
    expect(listed.body.handOns).toEqual([{ task: handed.body.handOn.task, asset: { ods: 'V001', name: 'Riverside Walking Group' }, status: 'requested', note: 'Tuesday walks at 10' }]);
    const child = await fhirTask(handed.body.handOn.task);
    expect(child).toMatchObject({ partOf: [{ reference: `Task/${made.body.task}` }], owner: { reference: 'Organization/V001' }, for: { reference: `Patient/${made.body.patient}` } });
    expect(await provenanceOf(child.id, '1')).toEqual([expect.objectContaining({ agent: [expect.objectContaining({ who: expect.objectContaining({ identifier: expect.objectContaining({ value: t.gw.clients.linkWorker.config.clientId }) }) })] })]);
    const handOnAudit = (await t.auditor.get(`/fhir/AuditEvent?entity=Task/${child.id}&subtype=create`)).body as fhir4.Bundle;
    expect(handOnAudit.entry).toHaveLength(1);
    // The group works its hand-on through the same API.
    const accepted = await act(t.communityAsset, made.body.id, 'accept', 'W/"1"');
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect((await fhirTask(child.id)).status).toBe('accepted');
  });

  it('fails an accepted referral with its reason: the Task, its reason, the referral revoked, Provenance and AuditEvent', async () => {
    const made = await post(t.referrer, '/referrals', jsonReferral(7207));
    const accepted = await act(t.linkWorker, made.body.id, 'accept', 'W/"1"');
    const failed = await act(t.linkWorker, made.body.id, 'fail', accepted.body.etag, { reason: { code: 'needs-met-elsewhere', text: 'Joined a lunch club' } });
    expect(failed.status, JSON.stringify(failed.body)).toBe(200);
    expect(failed.body).toMatchObject({ status: 'failed', statusReason: { code: 'needs-met-elsewhere', text: 'Joined a lunch club' } });
    const task = await fhirTask(made.body.task);
    expect(task).toMatchObject({ status: 'failed', statusReason: { coding: [{ system: 'https://signpost.health/fhir/CodeSystem/sp-task-status-reason', code: 'needs-met-elsewhere' }] } });
    expect(((await t.auditor.get(`/fhir/ServiceRequest/${made.body.id}`)).body as fhir4.ServiceRequest).status).toBe('revoked');
    expect(await provenanceOf(task.id, task.meta.versionId)).toHaveLength(1);
    const audited = (await t.auditor.get(`/fhir/AuditEvent?entity=Task/${made.body.task}&subtype=update&outcome=0`)).body as fhir4.Bundle;
    expect(audited.entry).toHaveLength(2);
  });

  it.each([
    ['a move the state machine forbids', 'complete', {}, 422, '#'],
    ['start from a status other than accepted', 'start', {}, 422, '#'],
    ['hold without a reason', 'hold', {}, 422, '#/reason'],
    ['fail with a reason outside the ValueSet', 'fail', { reason: { code: '12345678' } }, 422, '#/reason/code'],
    ['a field it does not know', 'accept', { urgency: 1 }, 400, '#'],
  ])('refuses %s with problem details pointing at the cause, and leaves the Task as it was', async (_what, action, body, status, pointer) => {
    const made = await post(t.referrer, '/referrals', jsonReferral(7204));
    const res = await act(t.linkWorker, made.body.id, action, 'W/"1"', body);
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { pointer?: string }) => e.pointer)).toContain(pointer);
    expect((await fhirTask(made.body.task)).meta.versionId).toBe('1');
  });

  it('needs If-Match (428) naming the current version (412), and answers a replayed Idempotency-Key with the first response', async () => {
    const made = await post(t.referrer, '/referrals', jsonReferral(7205));
    const missing = await act(t.linkWorker, made.body.id, 'accept', undefined);
    expect(missing.status).toBe(428);
    expect(missing.body.errors).toEqual([expect.objectContaining({ header: 'If-Match' })]);
    const stale = await act(t.linkWorker, made.body.id, 'accept', 'W/"7"');
    expect(stale.status).toBe(412);
    expect(stale.body.errors).toEqual([expect.objectContaining({ header: 'If-Match' })]);

    const key = `key-${made.body.id}`;
    const first = await act(t.linkWorker, made.body.id, 'accept', 'W/"1"', {}, key);
    expect(first.status).toBe(200);
    // Replayed with the now stale etag: the first answer, not a 412 and not a second change.
    const again = await act(t.linkWorker, made.body.id, 'accept', 'W/"1"', {}, key);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect((await fhirTask(made.body.task)).meta.versionId).toBe('2');
    // The same key for another request is refused.
    const misuse = await act(t.linkWorker, made.body.id, 'start', first.body.etag, {}, key);
    expect(misuse.status).toBe(422);
    expect(misuse.body.errors).toEqual([expect.objectContaining({ header: 'Idempotency-Key' })]);
    expect((await fhirTask(made.body.task)).meta.versionId).toBe('2');
  });

  it('answers 404 to a client that does not work on the referral, and 403 to a role that may not act', async () => {
    const made = await post(t.referrer, '/referrals', jsonReferral(7206));
    expect((await act(t.otherLinkWorker, made.body.id, 'accept', 'W/"1"')).status).toBe(404);
    const byReferrer = await act(t.referrer, made.body.id, 'accept', 'W/"1"');
    expect(byReferrer.status, JSON.stringify(byReferrer.body)).toBe(403);
    expect((await fhirTask(made.body.task)).meta.versionId).toBe('1');
  });
});

describe('JSON API: outcomes in', () => {
  const outcome = (client: AuthedClient, id: string, body: unknown) => post(client, `/referrals/${id}/outcomes`, body);

  it('records the answers as the QuestionnaireResponse a platform would send, and returns the scores the Observations hold', async () => {
    const made = await post(t.referrer, '/referrals', jsonReferral(7301));
    await act(t.linkWorker, made.body.id, 'accept', 'W/"1"');
    const swemwbs = await outcome(t.linkWorker, made.body.id, { instrument: 'swemwbs', answers: [4, 4, 3, 3, 4, 3, 4], completedAt: '2026-12-01T10:00:00Z' });
    expect(swemwbs.status, JSON.stringify(swemwbs.body)).toBe(201);
    // Raw 25 is metric 22.35 in the published SWEMWBS conversion table (Warwick Medical School).
    expect(swemwbs.body.scores.map((x: { code: string; value: number }) => [x.code, x.value])).toEqual([['swemwbs-raw', 25], ['swemwbs-metric', 22.35]]);
    const qr = (await t.auditor.get(`/fhir/QuestionnaireResponse/${swemwbs.body.questionnaireResponse}`)).body as fhir4.QuestionnaireResponse;
    expect(qr).toMatchObject({
      status: 'completed', questionnaire: 'https://signpost.health/fhir/Questionnaire/swemwbs', authored: '2026-12-01T10:00:00Z',
      subject: { reference: `Patient/${made.body.patient}` }, basedOn: [{ reference: `ServiceRequest/${made.body.id}` }],
    });
    expect(qr.item?.map((i) => [i.linkId, i.answer?.[0]?.valueInteger])).toEqual([4, 4, 3, 3, 4, 3, 4].map((v, i) => [`swemwbs-${i + 1}`, v]));
    for (const score of swemwbs.body.scores) {
      const o = (await t.auditor.get(`/fhir/Observation/${score.observation}`)).body as fhir4.Observation;
      expect(o.valueQuantity?.value).toBe(score.value);
      expect(o.derivedFrom).toEqual([{ reference: `QuestionnaireResponse/${qr.id}` }]);
    }
    const ons = await outcome(t.linkWorker, made.body.id, { instrument: 'ons4', answers: [7, 5, 9, 2], completedAt: '2026-12-01T10:05:00Z' });
    expect(ons.status).toBe(201);
    // ONS thresholds: life satisfaction, worthwhile and happiness 0–4 low, 5–6 medium, 7–8 high, 9–10 very high; anxiety 0–1 very low, 2–3 low.
    expect(ons.body.scores.map((x: { value: number; band: string }) => [x.value, x.band])).toEqual([[7, 'high'], [5, 'medium'], [9, 'very-high'], [2, 'low']]);
  });

  it.each([
    ['an answer out of range', { instrument: 'ucla3', answers: [1, 4, 2] }, 422, '#/answers/1'],
    ['an answer missing', { instrument: 'ucla3', answers: [1, 2] }, 422, '#/answers'],
    ['an instrument it does not know', { instrument: 'phq9', answers: [1] }, 400, '#/instrument'],
    ['a time without a zone', { instrument: 'ucla3', answers: [1, 2, 3], completedAt: '2026-12-01T10:00' }, 400, '#/completedAt'],
  ])('refuses %s, pointing at it, and records nothing', async (_what, body, status, pointer) => {
    const made = await post(t.referrer, '/referrals', jsonReferral(7302));
    const before = await count(`/fhir/QuestionnaireResponse?based-on=ServiceRequest/${made.body.id}`);
    const res = await outcome(t.linkWorker, made.body.id, { completedAt: '2026-12-01T10:00:00Z', ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    expect(res.body.errors.map((e: { pointer?: string }) => e.pointer)).toContain(pointer);
    expect(await count(`/fhir/QuestionnaireResponse?based-on=ServiceRequest/${made.body.id}`)).toBe(before);
  });

  it('answers 404 for a referral the platform does not work on', async () => {
    const made = await post(t.referrer, '/referrals', jsonReferral(7303));
    expect((await outcome(t.otherLinkWorker, made.body.id, { instrument: 'ucla3', answers: [1, 2, 3], completedAt: '2026-12-01T10:00:00Z' })).status).toBe(404);
  });
});

describe('JSON API: its OpenAPI document', () => {
  it('is served without a token, as OpenAPI 3.1, with every route and the schemas they validate with', async () => {
    const res = await request(t.gw.app).get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    expect(res.body.paths['/referrals'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ReferralIn' });
    expect(res.body.components.schemas.ReferralIn.required).toEqual(expect.arrayContaining(['identifier', 'patient', 'consent', 'reasons']));
    expect(res.body.components.schemas.ReferralIn.properties.patient).toEqual({ $ref: '#/components/schemas/PatientIn' });
    const operations = Object.entries(res.body.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(['GET /referrals', 'GET /referrals/{id}', 'POST /referrals',
      ...['accept', 'complete', 'decline', 'fail', 'hand-on', 'hold', 'outcomes', 'resume', 'start'].map((a) => `POST /referrals/{id}/${a}`)]);
    // An independent validator (the OpenAPI Initiative's 3.1 schema) accepts it.
    const validator = new Validator();
    const verdict = await validator.validate(res.body);
    expect(verdict.errors ?? [], JSON.stringify(verdict.errors ?? []).slice(0, 500)).toEqual([]);
    expect(verdict.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // Every schema a path names is in the document.
    const refs = JSON.stringify(res.body).match(/#\/components\/schemas\/\w+/g) ?? [];
    for (const r of new Set(refs)) expect(res.body.components.schemas).toHaveProperty(r.split('/').at(-1)!);
  });
});
