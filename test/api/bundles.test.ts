import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bundleOf, count, created, expectOutcome, INVALID, marker, markedTask, nhsKey, postEntry, putEntry, readBack,
  relative, serviceRequest, taskKey, urn, versionIds, type Api,
} from '../fixtures/api.js';
import { fhir, nhsNumber, patient, startTestGateway, type TestGateway } from '../fixtures/gateway.js';

let gw: TestGateway;
let api: Api;
beforeAll(async () => {
  gw = await startTestGateway();
  api = fhir(gw.app);
});
afterAll(async () => { await gw.close(); });

let seed = 8_000_000;
const freshNhs = () => nhsNumber((seed += 17));

/** The id in a response entry's location (`Type/id/_history/v`, relative or absolute). */
function idFromLocation(entry: fhir4.BundleEntry | undefined): string {
  const m = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})\/_history\/\d+$/.exec(entry?.response?.location ?? '');
  expect(m, `location of ${JSON.stringify(entry?.response)}`).not.toBeNull();
  return m![2]!;
}

/** Patient (conditional on NHS number), ServiceRequest and Task that refer to each other by urn:uuid. */
function referralTransaction(nhs: string, m: string) {
  const p = urn();
  const sr = urn();
  return bundleOf('transaction', [
    postEntry(patient(nhs), { fullUrl: p, ifNoneExist: `identifier=${nhsKey(nhs)}` }),
    postEntry(serviceRequest(p, { identifier: [{ system: 'urn:signpost:test:sr', value: m }] }), { fullUrl: sr }),
    postEntry(markedTask(m, { focus: { reference: sr }, basedOn: [{ reference: sr }], for: { reference: p } })),
  ]);
}

describe('transaction', () => {
  it('creates every entry and rewrites urn:uuid references to the server ids', async () => {
    const nhs = freshNhs();
    const m = marker();
    const res = await api.post('/fhir', referralTransaction(nhs, m));
    expect(res.status).toBe(200);
    const bundle = res.body as fhir4.Bundle;
    expect(bundle.type).toBe('transaction-response');
    expect(bundle.entry).toHaveLength(3);
    for (const e of bundle.entry ?? []) {
      expect(e.response?.status).toMatch(/^201/);
      expect(e.response?.etag).toBe('W/"1"');
    }
    const patientId = idFromLocation(bundle.entry?.[0]);
    const srId = idFromLocation(bundle.entry?.[1]);
    const taskId = idFromLocation(bundle.entry?.[2]);

    const sr = await readBack<fhir4.ServiceRequest>(api, 'ServiceRequest', srId);
    expect(sr.subject.reference).toBe(`Patient/${patientId}`);
    const t = await readBack<fhir4.Task>(api, 'Task', taskId);
    expect(t.for?.reference).toBe(`Patient/${patientId}`);
    expect(t.focus?.reference).toBe(`ServiceRequest/${srId}`);
    expect(t.basedOn?.[0]?.reference).toBe(`ServiceRequest/${srId}`);
    expect(JSON.stringify([sr, t])).not.toContain('urn:uuid');
    // The rewritten references are what the indexes hold.
    expect(await count(api, 'Task', { patient: `Patient/${patientId}`, focus: `ServiceRequest/${srId}` })).toBe(1);
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(1);
  });

  it('a conditional create inside it matches the existing resource, and references point to it', async () => {
    const nhs = freshNhs();
    const existing = await created(api, patient(nhs, 'Existing'));
    const m = marker();
    const res = await api.post('/fhir', referralTransaction(nhs, m));
    expect(res.status).toBe(200);
    const bundle = res.body as fhir4.Bundle;
    expect(bundle.entry?.[0]?.response?.status).toMatch(/^200/);
    expect(bundle.entry?.[0]?.resource?.id).toBe(existing.id);
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(1);
    expect((await readBack<fhir4.Patient>(api, 'Patient', existing.id)).name?.[0]?.family).toBe('Existing');
    const taskId = idFromLocation(bundle.entry?.[2]);
    expect((await readBack<fhir4.Task>(api, 'Task', taskId)).for?.reference).toBe(`Patient/${existing.id}`);
    expect(await count(api, 'Task', { identifier: taskKey(m), patient: existing.id })).toBe(1);
  });

  it('with an invalid entry fails as a whole with that entry\'s status and expression, and stores nothing', async () => {
    const nhs = freshNhs();
    const m = marker();
    const tx = referralTransaction(nhs, m);
    (tx.entry![2]!.resource as fhir4.Task).status = 'finished' as fhir4.Task['status'];
    const res = await api.post('/fhir', tx);
    expectOutcome(res, { status: 400, code: INVALID, expression: /^Bundle\.entry\[2\]\.resource\.status$/ });
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(0);
    expect(await count(api, 'ServiceRequest', { identifier: `urn:signpost:test:sr|${m}` })).toBe(0);
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('with a stale If-Match on one entry fails as a whole with 412 at that entry, and stores nothing', async () => {
    const t = await created(api, markedTask(marker()));
    const moved = await api.put(`/fhir/Task/${t.id}`, { ...t, status: 'accepted' }).set('If-Match', 'W/"1"');
    expect(moved.status).toBe(200);
    const nhs = freshNhs();
    const m = marker();
    const res = await api.post('/fhir', bundleOf('transaction', [
      postEntry(patient(nhs)),
      postEntry(markedTask(m)),
      putEntry({ ...t, status: 'cancelled', statusReason: { text: 'stale writer' } }, 'W/"1"'),
    ]));
    expectOutcome(res, { status: 412, code: 'conflict', expression: /^Bundle\.entry\[2\]/ });
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(0);
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
    expect((await readBack<fhir4.Task>(api, 'Task', t.id)).status).toBe('accepted');
    expect(await versionIds(api, 'Task', t.id)).toEqual(['2', '1']);
  });

  it('with a reference to a urn:uuid that no entry declares fails with 400 and stores nothing', async () => {
    const m = marker();
    const res = await api.post('/fhir', bundleOf('transaction', [
      postEntry(markedTask(m)),
      postEntry(markedTask(m, { for: { reference: urn() } })),
    ]));
    expectOutcome(res, { status: 400, code: ['not-found', ...INVALID], expression: /^Bundle\.entry\[1\]/ });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('with a duplicate NHS number in a plain create fails with 409 at that entry, and stores nothing', async () => {
    const nhs = freshNhs();
    await created(api, patient(nhs));
    const m = marker();
    const res = await api.post('/fhir', bundleOf('transaction', [postEntry(markedTask(m)), postEntry(patient(nhs, 'Twin'))]));
    expectOutcome(res, { status: 409, code: 'duplicate', expression: /^Bundle\.entry\[1\]/ });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(1);
  });

  it('resolves a conditional reference (Type?search) to the one resource it matches', async () => {
    const nhs = freshNhs();
    const p = await created(api, patient(nhs));
    const m = marker();
    const res = await api.post('/fhir', bundleOf('transaction', [
      postEntry(markedTask(m, { for: { reference: `Patient?identifier=${nhsKey(nhs)}` } })),
    ]));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const taskId = idFromLocation(res.body.entry[0]);
    expect((await readBack<fhir4.Task>(api, 'Task', taskId)).for?.reference).toBe(`Patient/${p.id}`);
  });

  it('with a conditional reference that matches nothing fails and stores nothing', async () => {
    const m = marker();
    const res = await api.post('/fhir', bundleOf('transaction', [
      postEntry(markedTask(m)),
      postEntry(markedTask(m, { for: { reference: `Patient?identifier=${nhsKey(freshNhs())}` } })),
    ]));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectOutcome(res, { status: res.status, code: ['not-found', 'multiple-matches', 'processing', ...INVALID], expression: /^Bundle\.entry\[1\]/ });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('10 parallel transactions conditionally creating the same Patient store one Patient that all of them reference', async () => {
    const nhs = freshNhs();
    const marks = Array.from({ length: 10 }, () => marker());
    const responses = await Promise.all(marks.map((m) => api.post('/fhir', referralTransaction(nhs, m))));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(1);
    const patientIds = new Set(responses.map((r) => r.body.entry[0].resource.id as string));
    expect(patientIds.size).toBe(1);
    const [pid] = [...patientIds];
    expect(await count(api, 'Task', { patient: `Patient/${pid}` })).toBe(10);
    expect(responses.filter((r) => String(r.body.entry[0].response.status).startsWith('201'))).toHaveLength(1);
  });

  it('runs GET entries, answering reads in the response', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.post('/fhir', bundleOf('transaction', [{ request: { method: 'GET', url: `Task/${t.id}` } }]));
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toMatch(/^200/);
    expect(res.body.entry[0].resource.id).toBe(t.id);
  });
});

describe('batch', () => {
  it('processes entries independently: a bad entry gets an error status and outcome, the others are stored', async () => {
    const m = marker();
    const nhs = freshNhs();
    const res = await api.post('/fhir', bundleOf('batch', [
      postEntry(markedTask(m)),
      postEntry(markedTask(m, { status: 'finished' as fhir4.Task['status'] })),
      postEntry(patient(nhs)),
    ]));
    expect(res.status).toBe(200);
    const bundle = res.body as fhir4.Bundle;
    expect(bundle.type).toBe('batch-response');
    expect(bundle.entry).toHaveLength(3);
    expect(bundle.entry?.[0]?.response?.status).toMatch(/^201/);
    expect(bundle.entry?.[2]?.response?.status).toMatch(/^201/);
    const failed = bundle.entry?.[1]?.response;
    expect(failed?.status).toMatch(/^400/);
    expect(failed?.outcome?.resourceType).toBe('OperationOutcome');
    const issue = (failed?.outcome as fhir4.OperationOutcome | undefined)?.issue[0];
    expect(INVALID).toContain(issue?.code);
    expect(issue?.diagnostics).toBeTruthy();
    expect(issue?.expression?.[0]).toMatch(/^Bundle\.entry\[1\]\.resource\.status$/);
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(1);
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(1);
  });

  it('a stale If-Match fails that entry with 412 while the others are stored', async () => {
    const t = await created(api, markedTask(marker()));
    await api.put(`/fhir/Task/${t.id}`, { ...t, status: 'accepted' }).set('If-Match', 'W/"1"');
    const m = marker();
    const res = await api.post('/fhir', bundleOf('batch', [
      putEntry({ ...t, status: 'cancelled' }, 'W/"1"'),
      postEntry(markedTask(m)),
    ]));
    expect(res.status).toBe(200);
    expect(res.body.entry[0].response.status).toMatch(/^412/);
    expect(res.body.entry[0].response.outcome.issue[0].code).toBe('conflict');
    expect(res.body.entry[1].response.status).toMatch(/^201/);
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(1);
    expect(await versionIds(api, 'Task', t.id)).toEqual(['2', '1']);
  });

  it('answers each entry with a fullUrl the client can follow', async () => {
    const m = marker();
    const res = await api.post('/fhir', bundleOf('batch', [postEntry(markedTask(m))]));
    expect(res.status).toBe(200);
    const fullUrl = res.body.entry[0].fullUrl as string;
    const read = await api.get(relative(fullUrl));
    expect(read.status).toBe(200);
    expect(read.body.identifier[0].value).toBe(m);
  });
});

describe('malformed Bundles', () => {
  it.each([
    ['a Bundle of type collection', { resourceType: 'Bundle', type: 'collection', entry: [] }],
    ['a resource that is not a Bundle', { resourceType: 'Patient' }],
    ['entry that is not an array', { resourceType: 'Bundle', type: 'transaction', entry: {} }],
    ['an entry without request', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient' } }] }],
    ['an entry that is null', { resourceType: 'Bundle', type: 'transaction', entry: [null] }],
    ['a batch entry that is null', { resourceType: 'Bundle', type: 'batch', entry: [null] }],
    ['an entry whose request.url is a number', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 42 } }] }],
  ])('%s is refused with a 4xx OperationOutcome (never a 500)', async (_what, body) => {
    const res = await api.post('/fhir', body);
    expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
    if (res.body.type !== 'batch-response') {
      expectOutcome(res, { status: res.status, code: [...INVALID, 'not-supported'] });
    } else {
      expect(res.body.entry[0].response.status).toMatch(/^4/);
    }
  });
});
