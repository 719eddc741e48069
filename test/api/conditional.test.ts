import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  count, created, expectOutcome, INVALID, marker, markedTask, nhsKey, readBack, taskKey, type Api,
} from '../fixtures/api.js';
import { fhir, nhsNumber, patient, startTestGateway, type TestGateway } from '../fixtures/gateway.js';

let gw: TestGateway;
let api: Api;
beforeAll(async () => {
  gw = await startTestGateway();
  api = fhir(gw.app);
});
afterAll(async () => { await gw.close(); });

/** NHS numbers private to this file (the seed keeps them apart from other files' numbers). */
let seed = 7_000_000;
const freshNhs = () => nhsNumber((seed += 13));

describe('conditional create (If-None-Exist)', () => {
  it('with no match creates the resource: 201 with Location', async () => {
    const nhs = freshNhs();
    const res = await api.post('/fhir/Patient', patient(nhs)).set('If-None-Exist', `identifier=${nhsKey(nhs)}`);
    expect(res.status).toBe(201);
    expect(res.headers.location).toMatch(/\/fhir\/Patient\/[\w.-]+\/_history\/1$/);
    expect(res.body.identifier[0].value).toBe(nhs);
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(1);
  });

  it('with one match answers 200 with the existing resource and writes nothing new', async () => {
    const nhs = freshNhs();
    const original = await created(api, patient(nhs, 'Original'));
    const res = await api.post('/fhir/Patient', patient(nhs, 'Impostor')).set('If-None-Exist', `identifier=${nhsKey(nhs)}`);
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(original.id);
    expect(res.body.name[0].family).toBe('Original');
    expect(res.body.meta.versionId).toBe('1');
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers.location).toBeUndefined();
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(1);
    const stored = await readBack<fhir4.Patient>(api, 'Patient', original.id);
    expect(stored.name?.[0]?.family).toBe('Original');
    expect(stored.meta.versionId).toBe('1');
  });

  it('with several matches answers 412 multiple-matches and writes nothing', async () => {
    const m = marker();
    await created(api, markedTask(m));
    await created(api, markedTask(m));
    const res = await api.post('/fhir/Task', markedTask(m)).set('If-None-Exist', `identifier=${taskKey(m)}`);
    expectOutcome(res, { status: 412, code: 'multiple-matches' });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(2);
  });

  it('with criteria that are not a valid search answers 400 and writes nothing', async () => {
    const m = marker();
    const res = await api.post('/fhir/Task', markedTask(m)).set('If-None-Exist', `colour=${m}`);
    expectOutcome(res, { status: 400, code: ['not-supported', ...INVALID] });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('20 parallel creates of the same NHS number store exactly one Patient and all answer with its id', async () => {
    const nhs = freshNhs();
    const responses = await Promise.all(Array.from({ length: 20 }, () =>
      api.post('/fhir/Patient', patient(nhs)).set('If-None-Exist', `identifier=${nhsKey(nhs)}`)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 201), JSON.stringify(statuses)).toBe(true);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    const idsSeen = new Set(responses.map((r) => r.body.id as string));
    expect(idsSeen.size).toBe(1);
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(1);
    const accurate = await api.get(`/fhir/Patient?identifier=${encodeURIComponent(nhsKey(nhs))}&_total=accurate`);
    expect(accurate.body.total).toBe(1);
    expect(accurate.body.entry[0].resource.id).toBe([...idsSeen][0]);
  });
});

describe('unique business identifiers', () => {
  it('a plain create of a Patient whose NHS number exists answers 409 duplicate and stores nothing', async () => {
    const nhs = freshNhs();
    const original = await created(api, patient(nhs, 'Original'));
    const res = await api.post('/fhir/Patient', patient(nhs, 'Again'));
    expectOutcome(res, { status: 409, code: 'duplicate', expression: 'Patient.identifier' });
    expect(await count(api, 'Patient', { identifier: nhsKey(nhs) })).toBe(1);
    expect((await readBack<fhir4.Patient>(api, 'Patient', original.id)).name?.[0]?.family).toBe('Original');
  });

  it('an update that gives a second Patient an existing NHS number answers 409 and writes nothing', async () => {
    const taken = freshNhs();
    await created(api, patient(taken));
    const other = await created(api, patient(freshNhs()));
    const res = await api.put(`/fhir/Patient/${other.id}`, { ...other, identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: taken }] });
    expectOutcome(res, { status: 409, code: 'duplicate', expression: 'Patient.identifier' });
    expect(await count(api, 'Patient', { identifier: nhsKey(taken) })).toBe(1);
    expect((await readBack<fhir4.Patient>(api, 'Patient', other.id)).meta.versionId).toBe('1');
  });
});
