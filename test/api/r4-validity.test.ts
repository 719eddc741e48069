import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bundleOf, created, marker, markedTask, nhsKey, postEntry, qs, serviceRequest, taskKey, urn, type Api,
} from '../fixtures/api.js';
import { fhir, nhsNumber, patient, startTestGateway, type TestGateway } from '../fixtures/gateway.js';
import { loadR4Definitions, r4Errors } from '../fixtures/r4-validator.js';

let gw: TestGateway;
let api: Api;
beforeAll(async () => {
  loadR4Definitions();
  gw = await startTestGateway();
  api = fhir(gw.app);
});
afterAll(async () => { await gw.close(); });

/** Asserts the R4 validator finds no error, printing what it found otherwise. */
function expectValidR4(resource: unknown): void {
  expect(r4Errors(resource), JSON.stringify(resource).slice(0, 400)).toEqual([]);
}

describe('the independent R4 validator', () => {
  it('is a real judge: it rejects a Bundle that breaks bdl-3 and an OperationOutcome without issue', () => {
    expect(r4Errors({ resourceType: 'Bundle', type: 'searchset', entry: [{ request: { method: 'GET', url: 'Task' } }] })).not.toEqual([]);
    expect(r4Errors({ resourceType: 'OperationOutcome' })).not.toEqual([]);
    expect(r4Errors({ resourceType: 'Task', status: 'requested' })).not.toEqual([]); // intent is 1..1
  });
});

describe('responses are valid R4', () => {
  it('the CapabilityStatement from /fhir/metadata', async () => {
    const res = await api.get('/fhir/metadata');
    expect(res.status).toBe(200);
    expect(res.body.resourceType).toBe('CapabilityStatement');
    expect(res.body.fhirVersion).toBe('4.0.1');
    const task = (res.body as fhir4.CapabilityStatement).rest?.[0]?.resource?.find((r) => r.type === 'Task');
    expect(task?.searchParam?.map((p) => p.name)).toEqual(expect.arrayContaining(['owner', 'status', '_lastUpdated', 'focus']));
    expectValidR4(res.body);
  });

  it('a searchset Bundle with matches, includes, total and links', async () => {
    const p = await created(api, patient(nhsNumber(4_242_000)));
    const sr = await created(api, serviceRequest(`Patient/${p.id}`));
    const m = marker();
    await created(api, markedTask(m, { focus: { reference: `ServiceRequest/${sr.id}` }, for: { reference: `Patient/${p.id}` } }));
    await created(api, markedTask(m));
    const res = await api.get(`/fhir/Task?${qs([
      ['identifier', taskKey(m)], ['_include', 'Task:focus'], ['_include', 'Task:patient'], ['_total', 'accurate'], ['_count', '1'], ['_sort', '_lastUpdated'],
    ])}`);
    expect(res.status).toBe(200);
    expect(res.body.entry.map((e: fhir4.BundleEntry) => e.search?.mode)).toEqual(['match', 'include', 'include']);
    expectValidR4(res.body);
  });

  it('a _summary=count searchset', async () => {
    const res = await api.get('/fhir/Task?_summary=count');
    expect(res.status).toBe(200);
    expectValidR4(res.body);
  });

  it('a history Bundle', async () => {
    const t = await created(api, markedTask(marker()));
    expect((await api.patch(`/fhir/Task/${t.id}`, [{ op: 'replace', path: '/status', value: 'accepted' }])).status).toBe(200);
    const instance = await api.get(`/fhir/Task/${t.id}/_history`);
    expect(instance.status).toBe(200);
    expect(instance.body.entry).toHaveLength(2);
    expectValidR4(instance.body);
    const type = await api.get('/fhir/Task/_history?_count=5');
    expect(type.status).toBe(200);
    expectValidR4(type.body);
  });

  it('a transaction-response', async () => {
    const nhs = nhsNumber(4_243_000);
    const pu = urn();
    const res = await api.post('/fhir', bundleOf('transaction', [
      postEntry(patient(nhs), { fullUrl: pu, ifNoneExist: `identifier=${nhsKey(nhs)}` }),
      postEntry(markedTask(marker(), { for: { reference: pu } })),
    ]));
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('transaction-response');
    expectValidR4(res.body);
  });

  it('a batch-response with a failed entry', async () => {
    const res = await api.post('/fhir', bundleOf('batch', [
      postEntry(markedTask(marker())),
      postEntry(markedTask(marker(), { status: 'finished' as fhir4.Task['status'] })),
    ]));
    expect(res.status).toBe(200);
    expect(res.body.entry[1].response.outcome.resourceType).toBe('OperationOutcome');
    expectValidR4(res.body);
  });

  it('OperationOutcomes of refusals', async () => {
    const notFound = await api.get('/fhir/Task/unknown');
    expect(notFound.status).toBe(404);
    expectValidR4(notFound.body);
    const invalid = await api.post('/fhir/Task', markedTask(marker(), { status: 'finished' as fhir4.Task['status'] }));
    expect(invalid.status).toBe(400);
    expectValidR4(invalid.body);
    const failedTx = await api.post('/fhir', bundleOf('transaction', [postEntry({ resourceType: 'Task', status: 'requested' } as fhir4.Task)]));
    expect(failedTx.status).toBe(400);
    expectValidR4(failedTx.body);
  });

  it('a stored resource as read back, with the meta the server added', async () => {
    const t = await created(api, markedTask(marker(), { description: 'valid', authoredOn: '2024-05-01T10:00:00Z' }));
    const res = await api.get(`/fhir/Task/${t.id}`);
    expectValidR4(res.body);
  });
});
