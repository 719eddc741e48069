/**
 * "Never a 500 for bad input" (DESIGN.md, FHIR REST → Errors): hostile or careless requests that
 * are refused with a 4xx OperationOutcome, and leave nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, created, expectOutcome, INVALID, marker, markedTask, taskKey, versionIds, type Api } from '../fixtures/api.js';
import { fhir, startTestGateway, type TestGateway } from '../fixtures/gateway.js';

let gw: TestGateway;
let api: Api;
beforeAll(async () => {
  gw = await startTestGateway();
  api = fhir(gw.app);
});
afterAll(async () => { await gw.close(); });

/** A Task whose extension is `depth` nested arrays: small on the wire (2 bytes a level), deep in memory. */
function deeplyNestedTask(m: string, depth: number): string {
  return JSON.stringify(markedTask(m)).replace(/}$/, `,"extension":${'['.repeat(depth)}"x"${']'.repeat(depth)}}`);
}

/** A 4xx refusal as an OperationOutcome: the request was bad, the server did not fail. */
function expectClientError(res: { status: number; body: unknown }): void {
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBeGreaterThanOrEqual(400);
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBeLessThan(500);
  expect((res.body as { resourceType?: string }).resourceType).toBe('OperationOutcome');
}

describe('bad input is refused with a 4xx, never a 500', () => {
  it('a resource nested 10,000 levels deep (20 KB) is refused and nothing is stored', async () => {
    const m = marker();
    const res = await api.raw.post('/fhir/Task').set('Content-Type', 'application/fhir+json').send(deeplyNestedTask(m, 10_000));
    expectClientError(res);
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('the same deep resource inside a transaction is refused and nothing is stored', async () => {
    const m = marker();
    const body = `{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"POST","url":"Task"},"resource":${JSON.stringify(markedTask(m))}},`
      + `{"request":{"method":"POST","url":"Task"},"resource":${deeplyNestedTask(m, 10_000)}}]}`;
    const res = await api.raw.post('/fhir').set('Content-Type', 'application/fhir+json').send(body);
    expectClientError(res);
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  // R4 strings carry no control characters but tab, CR and LF; PostgreSQL cannot store U+0000 at all.
  it.each([
    ['a string value', (m: string) => ({ ...markedTask(m), description: 'a\u0000b' }), 'Task.description'],
    ['an identifier value', (m: string) => ({ ...markedTask(m), identifier: [...markedTask(m).identifier!, { system: 'urn:x', value: 'a\u0007b' }] }), 'Task.identifier[1].value'],
  ])('a control character in %s is refused with 400 naming it, and nothing is stored', async (_where, body, expression) => {
    const m = marker();
    const res = await api.post('/fhir/Task', body(m));
    expectOutcome(res, { status: 400, code: 'value', expression });
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('a control character in a search value is refused with 400', async () => {
    const res = await api.get('/fhir/Patient?identifier=urn:x%7Ca%00b');
    expectOutcome(res, { status: 400, code: 'value' });
  });

  it('a path with broken percent-encoding answers 400', async () => {
    const res = await api.get('/fhir/Task/%E0%A4%A');
    expectOutcome(res, { status: 400, code: INVALID });
  });

  it('a transaction entry whose request.ifNoneExist is not a string is refused and nothing is stored', async () => {
    const m = marker();
    const res = await api.post('/fhir', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { resource: markedTask(m), request: { method: 'POST', url: 'Task' } },
        { resource: markedTask(m), request: { method: 'POST', url: 'Task', ifNoneExist: 5 } },
      ],
    });
    expectClientError(res);
    expect(await count(api, 'Task', { identifier: taskKey(m) })).toBe(0);
  });

  it('a transaction entry whose request.ifMatch is not a string is refused and writes nothing', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.post('/fhir', {
      resourceType: 'Bundle', type: 'transaction',
      entry: [{ resource: { ...t, status: 'accepted' }, request: { method: 'PUT', url: `Task/${t.id}`, ifMatch: 1 } }],
    });
    expectClientError(res);
    expect(await versionIds(api, 'Task', t.id)).toEqual(['1']);
  });

  it('a JSON Patch whose move.from is not a JSON Pointer is refused and writes nothing', async () => {
    const t = await created(api, markedTask(marker()));
    const res = await api.patch(`/fhir/Task/${t.id}`, [{ op: 'move', from: 'status', path: '/description' }]);
    expectClientError(res);
    expect(await versionIds(api, 'Task', t.id)).toEqual(['1']);
  });
});
