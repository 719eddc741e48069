import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  count, created, expectOutcome, INVALID, marker, markedTask, readBack, taskKey, versionIds, type Api,
} from '../fixtures/api.js';
import { BASE_URL, fhir, startTestGateway, type TestGateway } from '../fixtures/gateway.js';

let gw: TestGateway;
let api: Api;
beforeAll(async () => {
  gw = await startTestGateway();
  api = fhir(gw.app);
});
afterAll(async () => { await gw.close(); });

/** Every Task in the store, by type history (it sees every write, whatever the body said). */
async function taskWrites(): Promise<number> {
  const res = await api.get('/fhir/Task/_history?_count=1000');
  expect(res.status).toBe(200);
  return (res.body.entry ?? []).length;
}

describe('request bodies', () => {
  it('malformed JSON answers 400 and stores nothing', async () => {
    const before = await taskWrites();
    const res = await api.raw.post('/fhir/Task').set('Content-Type', 'application/fhir+json').send('{"resourceType": "Task", "status": ');
    expectOutcome(res, { status: 400, code: INVALID });
    expect(await taskWrites()).toBe(before);
  });

  it('Content-Type text/plain answers 415 and stores nothing', async () => {
    const m = marker();
    const res = await api.raw.post('/fhir/Task').set('Content-Type', 'text/plain').send(JSON.stringify(markedTask(m)));
    expectOutcome(res, { status: 415, code: 'not-supported' });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('Content-Type application/xml on update answers 415 and writes nothing', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.raw.put(`/fhir/Task/${t.id}`).set('Content-Type', 'application/fhir+xml').send('<Task xmlns="http://hl7.org/fhir"/>');
    expectOutcome(res, { status: 415, code: 'not-supported' });
    expect(await versionIds(api, 'Task', t.id)).toEqual(['1']);
  });

  it('plain application/json bodies are accepted like application/fhir+json', async () => {
    const m = marker();
    const res = await api.raw.post('/fhir/Task').set('Content-Type', 'application/json; charset=utf-8').send(JSON.stringify(markedTask(m)));
    expect(res.status).toBe(201);
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(1);
  });

  it('a body over 1 MiB answers 413 and stores nothing', async () => {
    const m = marker();
    const huge = markedTask(m, { description: 'x'.repeat(1024 * 1024 + 10) });
    const res = await api.post('/fhir/Task', huge);
    expectOutcome(res, { status: 413, code: 'too-costly' });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('a body just under 1 MiB is accepted', async () => {
    const m = marker();
    const body = JSON.stringify(markedTask(m, { description: 'x' }));
    const big = markedTask(m, { description: 'x'.repeat(1024 * 1024 - body.length - 100) });
    const res = await api.post('/fhir/Task', big);
    expect(res.status).toBe(201);
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(1);
  });
});

describe('response formats', () => {
  it('_format=xml answers 406 and does not carry out the request', async () => {
    const t = await created(api, markedTask(marker()));
    expectOutcome(await api.get(`/fhir/Task/${t.id}?_format=xml`), { status: 406, code: 'not-supported' });
    const m = marker();
    expectOutcome(await api.post('/fhir/Task?_format=xml', markedTask(m)), { status: 406, code: 'not-supported' });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('Accept: application/xml answers 406, on metadata too', async () => {
    const t = await created(api, markedTask(marker()));
    expectOutcome(await api.raw.get(`/fhir/Task/${t.id}`).set('Accept', 'application/xml'), { status: 406, code: 'not-supported' });
    expectOutcome(await api.raw.get('/fhir/metadata').set('Accept', 'application/fhir+xml'), { status: 406, code: 'not-supported' });
  });

  it('_format=json and Accept application/json are served', async () => {
    const t = await created(api, markedTask(marker()));
    const viaFormat = await api.raw.get(`/fhir/Task/${t.id}?_format=json`);
    expect(viaFormat.status).toBe(200);
    expect(viaFormat.body.id).toBe(t.id);
    const viaAccept = await api.raw.get(`/fhir/Task/${t.id}`).set('Accept', 'application/json');
    expect(viaAccept.status).toBe(200);
    expect(viaAccept.headers['content-type']).toMatch(/^application\/json/);
    const fhirJson = await api.raw.get(`/fhir/Task/${t.id}`).set('Accept', 'application/fhir+json');
    expect(fhirJson.headers['content-type']).toMatch(/^application\/fhir\+json/);
  });
});

describe('Prefer: return', () => {
  it('return=minimal answers 201 with headers and an empty body, and stores the resource', async () => {
    const m = marker();
    const res = await api.post('/fhir/Task', markedTask(m)).set('Prefer', 'return=minimal');
    expect(res.status).toBe(201);
    expect(res.text ?? '').toBe('');
    expect(res.headers.etag).toBe('W/"1"');
    const location = res.headers.location as string;
    expect(location).toMatch(new RegExp(`^${BASE_URL.replace(/\./g, '\\.')}/fhir/Task/[\\w.-]+/_history/1$`));
    const id = location.split('/')[5]!;
    expect((await readBack<fhir4.Task>(api, 'Task', id)).identifier?.[0]?.value).toBe(m);
  });

  it('return=minimal on update answers 200 with an empty body', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.put(`/fhir/Task/${t.id}`, { ...t, status: 'accepted' }).set('Prefer', 'return=minimal').set('If-Match', 'W/"1"');
    expect(res.status).toBe(200);
    expect(res.text ?? '').toBe('');
    expect(res.headers.etag).toBe('W/"2"');
  });

  it('return=OperationOutcome answers with an OperationOutcome and stores the resource', async () => {
    const m = marker();
    const res = await api.post('/fhir/Task', markedTask(m)).set('Prefer', 'return=OperationOutcome');
    expect(res.status).toBe(201);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].severity).toBe('information');
    expect(res.headers.location).toMatch(/\/_history\/1$/);
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(1);
  });

  it('return=representation answers with the stored resource', async () => {
    const m = marker();
    const res = await api.post('/fhir/Task', markedTask(m)).set('Prefer', 'return=representation');
    expect(res.status).toBe(201);
    expect(res.body.resourceType).toBe('Task');
    expect(res.body.meta.versionId).toBe('1');
  });
});

describe('X-Request-Id', () => {
  it('echoes the id the client sent', async () => {
    const res = await api.get('/fhir/metadata').set('X-Request-Id', 'client-req-42');
    expect(res.headers['x-request-id']).toBe('client-req-42');
  });

  it('generates an id when the client sent none, a different one per request', async () => {
    const a = await api.get('/fhir/metadata');
    const b = await api.get('/fhir/metadata');
    expect(a.headers['x-request-id']).toMatch(/^[\w.:-]{8,}$/);
    expect(b.headers['x-request-id']).toMatch(/^[\w.:-]{8,}$/);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('is echoed on error responses too', async () => {
    const res = await api.get('/fhir/Task/nope').set('X-Request-Id', 'err-req-1');
    expect(res.status).toBe(404);
    expect(res.headers['x-request-id']).toBe('err-req-1');
  });
});

describe('every error is an OperationOutcome', () => {
  const cases: [string, (a: Api) => ReturnType<Api['get']>, number, string | string[], (string | RegExp)?][] = [
    ['read of an unknown id', (a) => a.get('/fhir/Task/unknown'), 404, 'not-found'],
    ['unknown resource type', (a) => a.get('/fhir/Widget/1'), 404, 'not-supported'],
    ['a path that is no FHIR interaction', (a) => a.get('/fhir/Task/1/_history/1/extra'), 404, ['not-found', 'not-supported']],
    ['an id with characters ids may not have', (a) => a.get('/fhir/Task/bad%20id'), 400, INVALID],
    ['vread of a version that is not a number', (a) => a.get('/fhir/Task/x/_history/first'), 400, INVALID],
    ['DELETE', (a) => a.delete('/fhir/Task/anything'), 405, 'not-supported'],
    ['unknown search parameter', (a) => a.get('/fhir/Task?colour=red'), 400, ['not-supported', ...INVALID], 'colour'],
    ['bad _lastUpdated', (a) => a.get('/fhir/Task?_lastUpdated=soon'), 400, INVALID, '_lastUpdated'],
    ['empty token value', (a) => a.get('/fhir/Task?status='), 400, INVALID, 'status'],
    ['malformed JSON', (a) => a.raw.post('/fhir/Task').set('Content-Type', 'application/fhir+json').send('{'), 400, INVALID],
    ['JSON that is not an object', (a) => a.post('/fhir/Task', [1, 2]), 400, INVALID],
    ['null in a resource', (a) => a.post('/fhir/Task', { ...markedTask('n'), description: null }), 400, INVALID, 'Task.description'],
    ['an empty string in a resource', (a) => a.post('/fhir/Task', { ...markedTask('e'), description: '' }), 400, INVALID, 'Task.description'],
    ['contained resources', (a) => a.post('/fhir/Task', { ...markedTask('c'), contained: [{ resourceType: 'Patient', id: 'p' }] }), 400, ['not-supported', ...INVALID], 'Task.contained'],
    ['wrong Content-Type', (a) => a.raw.post('/fhir/Task').set('Content-Type', 'text/plain').send('hello'), 415, 'not-supported'],
    ['_format=xml', (a) => a.get('/fhir/Task?_format=xml'), 406, 'not-supported'],
    ['POST to the base with a non-Bundle', (a) => a.post('/fhir', { resourceType: 'Task' }), 400, INVALID, 'Bundle.type'],
    ['If-None-Exist with no criteria', (a) => a.post('/fhir/Task', markedTask('x')).set('If-None-Exist', '_count=1'), 400, INVALID],
  ];

  it.each(cases)('%s', async (_what, send, status, code, expression) => {
    const res = await send(api);
    expectOutcome(res, { status, code, ...(expression !== undefined ? { expression } : {}) });
    expect(res.headers['x-request-id']).toBeTruthy();
  });
});

describe('negotiation details', () => {
  it('treats q=0 in Accept as "not acceptable"', async () => {
    const gw = await startTestGateway();
    try {
      const res = await request(gw.app).get('/fhir/metadata').set('Accept', 'application/json;q=0, text/html');
      expect(res.status).toBe(406);
      expect(res.body.resourceType).toBe('OperationOutcome');
      const head = await request(gw.app).head('/fhir/Patient/none').set('Accept', 'application/fhir+json');
      expect(head.status).toBe(404);
    } finally {
      await gw.close();
    }
  });
});
