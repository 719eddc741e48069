import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  count, created, expectOutcome, INVALID, marker, markedTask, readBack, taskKey, UNPROCESSABLE, versionIds, type Api,
} from '../fixtures/api.js';
import { BASE_URL, fhir, startTestGateway, type TestGateway } from '../fixtures/gateway.js';

let gw: TestGateway;
let api: Api;
beforeAll(async () => {
  gw = await startTestGateway();
  api = fhir(gw.app);
});
afterAll(async () => { await gw.close(); });

describe('create', () => {
  it('answers 201 with ETag W/"1", Last-Modified and Location <base>/fhir/T/id/_history/1, and stores the resource', async () => {
    const m = marker();
    const res = await api.post('/fhir/Task', markedTask(m));
    expect(res.status).toBe(201);
    const id = res.body.id as string;
    expect(id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers.location).toBe(`${BASE_URL}/fhir/Task/${id}/_history/1`);
    expect(res.body.meta.versionId).toBe('1');
    expect(res.headers['last-modified']).toBe(new Date(res.body.meta.lastUpdated).toUTCString());
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);

    const stored = await readBack<fhir4.Task>(api, 'Task', id);
    expect(stored.identifier?.[0]?.value).toBe(m);
    expect(stored.meta.versionId).toBe('1');
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(1);
  });

  it('assigns the id itself, ignoring an id in the body', async () => {
    const m = marker();
    const res = await api.post('/fhir/Task', { ...markedTask(m), id: 'client-chosen' });
    expect(res.status).toBe(201);
    expect(res.body.id).not.toBe('client-chosen');
    expectOutcome(await api.get('/fhir/Task/client-chosen'), { status: 404, code: 'not-found' });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(1);
  });

  it('refuses an invalid resource with 400 and an expression to the element, and stores nothing', async () => {
    const m = marker();
    const res = await api.post('/fhir/Task', markedTask(m, { status: 'finished' as fhir4.Task['status'] }));
    expectOutcome(res, { status: 400, code: INVALID, expression: 'Task.status' });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('refuses a body whose resourceType does not match the URL, and stores nothing', async () => {
    const m = marker();
    const res = await api.post('/fhir/Patient', markedTask(m));
    expectOutcome(res, { status: 400, code: INVALID, expression: 'resourceType' });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });
});

describe('read and vread', () => {
  it('read answers the current version with its ETag and Last-Modified', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.get(`/fhir/Task/${t.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(t);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers['last-modified']).toBe(new Date(t.meta.lastUpdated).toUTCString());
    expect(res.headers.location).toBeUndefined();
  });

  it('vread answers each version as it was, after later updates', async () => {
    const t = await created(api, markedTask(marker()));
    const upd = await api.put(`/fhir/Task/${t.id}`, { ...t, status: 'accepted' }).set('If-Match', 'W/"1"');
    expect(upd.status).toBe(200);
    const v1 = await api.get(`/fhir/Task/${t.id}/_history/1`);
    expect(v1.status).toBe(200);
    expect(v1.headers.etag).toBe('W/"1"');
    expect(v1.body.status).toBe('requested');
    expect(v1.body.meta.versionId).toBe('1');
    const v2 = await api.get(`/fhir/Task/${t.id}/_history/2`);
    expect(v2.status).toBe(200);
    expect(v2.headers.etag).toBe('W/"2"');
    expect(v2.body.status).toBe('accepted');
  });

  it('read of an unknown id answers 404 with an OperationOutcome not-found', async () => {
    const res = await api.get('/fhir/Task/does-not-exist');
    expectOutcome(res, { status: 404, code: 'not-found' });
    expect(res.body.issue[0].diagnostics).toContain('does-not-exist');
  });

  it('vread of a version that does not exist answers 404 not-found', async () => {
    const t = await created(api, markedTask(marker()));
    expectOutcome(await api.get(`/fhir/Task/${t.id}/_history/2`), { status: 404, code: 'not-found' });
    expectOutcome(await api.get('/fhir/Task/does-not-exist/_history/1'), { status: 404, code: 'not-found' });
  });

  it('an unsupported resource type answers 404 not-supported for read, search, create and history', async () => {
    expectOutcome(await api.get('/fhir/Foo/1'), { status: 404, code: 'not-supported' });
    expectOutcome(await api.get('/fhir/Foo?name=x'), { status: 404, code: 'not-supported' });
    expectOutcome(await api.get('/fhir/Encounter'), { status: 404, code: 'not-supported' });
    const m = marker();
    const res = await api.post('/fhir/Encounter', { resourceType: 'Encounter', status: 'planned', class: { code: 'AMB' }, identifier: [{ value: m }] });
    expectOutcome(res, { status: 404, code: 'not-supported' });
    const history = await api.get('/fhir/Encounter/_history');
    expectOutcome(history, { status: 404, code: 'not-supported' });
  });
});

describe('update (PUT)', () => {
  it('with If-Match of the current version answers 200, version 2, and stores the new content', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.put(`/fhir/Task/${t.id}`, { ...t, status: 'accepted' }).set('If-Match', 'W/"1"');
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('W/"2"');
    expect(res.headers.location).toBeUndefined();
    expect(res.body.meta.versionId).toBe('2');
    expect(res.body.status).toBe('accepted');
    expect(Date.parse(res.body.meta.lastUpdated)).toBeGreaterThanOrEqual(Date.parse(t.meta.lastUpdated));
    expect(res.body.meta.lastUpdated).not.toBe(t.meta.lastUpdated);
    const stored = await readBack<fhir4.Task>(api, 'Task', t.id);
    expect(stored.status).toBe('accepted');
    expect(stored.meta.versionId).toBe('2');
  });

  it('with a stale If-Match answers 412 and writes nothing', async () => {
    const t = await created(api, markedTask(marker()));
    const first = await api.put(`/fhir/Task/${t.id}`, { ...t, status: 'accepted' }).set('If-Match', 'W/"1"');
    expect(first.status).toBe(200);
    const stale = await api.put(`/fhir/Task/${t.id}`, { ...t, status: 'cancelled' }).set('If-Match', 'W/"1"');
    expectOutcome(stale, { status: 412, code: 'conflict' });
    const stored = await readBack<fhir4.Task>(api, 'Task', t.id);
    expect(stored.status).toBe('accepted');
    expect(stored.meta.versionId).toBe('2');
    expect(await versionIds(api, 'Task', t.id)).toEqual(['2', '1']);
  });

  it('of an id that does not exist yet creates it: 201, version 1, Location', async () => {
    const id = marker('put');
    const res = await api.put(`/fhir/Task/${id}`, markedTask(id, { id }));
    expect(res.status).toBe(201);
    expect(res.headers.etag).toBe('W/"1"');
    expect(res.headers.location).toBe(`${BASE_URL}/fhir/Task/${id}/_history/1`);
    const stored = await readBack<fhir4.Task>(api, 'Task', id);
    expect(stored.meta.versionId).toBe('1');
    expect(await count(api, 'Task', { identifier: taskKey(id) })).toBe(1);
  });

  it('whose body id differs from the URL answers 400 and writes nothing', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.put(`/fhir/Task/${t.id}`, { ...t, id: 'someone-else', status: 'accepted' });
    expectOutcome(res, { status: 400, code: INVALID, expression: 'Task.id' });
    expect(await versionIds(api, 'Task', t.id)).toEqual(['1']);
    expectOutcome(await api.get('/fhir/Task/someone-else'), { status: 404, code: 'not-found' });
  });

  it('with an If-Match that is not an ETag answers 400 and writes nothing', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.put(`/fhir/Task/${t.id}`, { ...t, status: 'accepted' }).set('If-Match', 'yesterday');
    expectOutcome(res, { status: 400, code: INVALID });
    expect(await versionIds(api, 'Task', t.id)).toEqual(['1']);
  });
});

describe('patch (JSON Patch)', () => {
  it('applies the operations and increments the version', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.patch(`/fhir/Task/${t.id}`, [
      { op: 'test', path: '/status', value: 'requested' },
      { op: 'replace', path: '/status', value: 'accepted' },
      { op: 'add', path: '/note', value: [{ text: 'seen' }] },
    ]).set('If-Match', 'W/"1"');
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe('W/"2"');
    expect(res.body.meta.versionId).toBe('2');
    const stored = await readBack<fhir4.Task>(api, 'Task', t.id);
    expect(stored.status).toBe('accepted');
    expect(stored.note).toEqual([{ text: 'seen' }]);
    expect(stored.meta.versionId).toBe('2');
  });

  it('with a failing test operation answers 422 and writes nothing', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.patch(`/fhir/Task/${t.id}`, [
      { op: 'test', path: '/status', value: 'accepted' },
      { op: 'replace', path: '/status', value: 'completed' },
    ]);
    expectOutcome(res, { status: 422, code: UNPROCESSABLE });
    const stored = await readBack<fhir4.Task>(api, 'Task', t.id);
    expect(stored.status).toBe('requested');
    expect(await versionIds(api, 'Task', t.id)).toEqual(['1']);
  });

  it.each([
    ['an object instead of an array', { op: 'replace', path: '/status', value: 'accepted' }],
    ['an empty array', []],
    ['an unknown operation', [{ op: 'frobnicate', path: '/status', value: 'accepted' }]],
    ['an operation without a path', [{ op: 'replace', value: 'accepted' }]],
    ['a replace without a value', [{ op: 'replace', path: '/status' }]],
    ['a path that is not a JSON Pointer', [{ op: 'replace', path: 'status', value: 'accepted' }]],
  ])('that is malformed (%s) answers 400 and writes nothing', async (_what, body) => {
    const t = await created(api, markedTask(marker()));
    const res = await api.patch(`/fhir/Task/${t.id}`, body);
    expectOutcome(res, { status: 400, code: INVALID });
    expect(await versionIds(api, 'Task', t.id)).toEqual(['1']);
  });

  it('that would change the id is refused and writes nothing', async () => {
    const t = await created(api, markedTask(marker()));
    const other = marker('id');
    const res = await api.patch(`/fhir/Task/${t.id}`, [{ op: 'replace', path: '/id', value: other }]);
    expect([400, 422]).toContain(res.status);
    expectOutcome(res, { status: res.status, code: [...INVALID, ...UNPROCESSABLE], expression: 'Task.id' });
    expect(await versionIds(api, 'Task', t.id)).toEqual(['1']);
    expectOutcome(await api.get(`/fhir/Task/${other}`), { status: 404, code: 'not-found' });
  });

  it('with a stale If-Match answers 412 and writes nothing', async () => {
    const t = await created(api, markedTask(marker()));
    expect((await api.patch(`/fhir/Task/${t.id}`, [{ op: 'replace', path: '/status', value: 'accepted' }])).status).toBe(200);
    const res = await api.patch(`/fhir/Task/${t.id}`, [{ op: 'replace', path: '/status', value: 'cancelled' }]).set('If-Match', 'W/"1"');
    expectOutcome(res, { status: 412, code: 'conflict' });
    expect((await readBack<fhir4.Task>(api, 'Task', t.id)).status).toBe('accepted');
    expect(await versionIds(api, 'Task', t.id)).toEqual(['2', '1']);
  });

  it('of an unknown id answers 404 and creates nothing', async () => {
    const id = marker('nobody');
    expectOutcome(await api.patch(`/fhir/Task/${id}`, [{ op: 'replace', path: '/status', value: 'accepted' }]), { status: 404, code: 'not-found' });
    expectOutcome(await api.get(`/fhir/Task/${id}`), { status: 404, code: 'not-found' });
  });

  it('sent as application/json instead of application/json-patch+json answers 415 and writes nothing', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.raw.patch(`/fhir/Task/${t.id}`).set('Content-Type', 'application/json')
      .send(JSON.stringify([{ op: 'replace', path: '/status', value: 'accepted' }]));
    expectOutcome(res, { status: 415, code: 'not-supported' });
    expect(await versionIds(api, 'Task', t.id)).toEqual(['1']);
  });
});

describe('server-written types', () => {
  it.each(['AuditEvent', 'Provenance'])('%s cannot be created by a client: 405, and nothing is stored', async (type) => {
    const target = `Task/${marker('t')}`;
    const body = type === 'AuditEvent'
      ? { resourceType: 'AuditEvent', type: { code: 'rest' }, recorded: '2024-01-01T00:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'x' } }, entity: [{ what: { reference: target } }] }
      : { resourceType: 'Provenance', target: [{ reference: target }], recorded: '2024-01-01T00:00:00Z', agent: [{ who: { display: 'x' } }] };
    expectOutcome(await api.post(`/fhir/${type}`, body), { status: 405, code: 'not-supported' });
    expect(await count(api, type, { [type === 'AuditEvent' ? 'entity' : 'target']: target })).toBe(0);
    expectOutcome(await api.put(`/fhir/${type}/forged`, { ...body, id: 'forged' }), { status: 405, code: 'not-supported' });
    expectOutcome(await api.get(`/fhir/${type}/forged`), { status: 404, code: 'not-found' });
  });
});

describe('delete', () => {
  it('answers 405 with an OperationOutcome, and the resource stays readable', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.delete(`/fhir/Task/${t.id}`);
    expectOutcome(res, { status: 405, code: 'not-supported' });
    const stored = await readBack<fhir4.Task>(api, 'Task', t.id);
    expect(stored.meta.versionId).toBe('1');
    expect(await versionIds(api, 'Task', t.id)).toEqual(['1']);
  });

  it('conditional delete on the type also answers 405 and removes nothing', async () => {
    const m = marker();
    await created(api, markedTask(m));
    expectOutcome(await api.delete(`/fhir/Task?identifier=${encodeURIComponent(taskKey(m))}`), { status: 405, code: 'not-supported' });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(1);
  });
});
