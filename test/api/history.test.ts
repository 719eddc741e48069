import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allPages, created, expectOutcome, INVALID, link, marker, markedTask, relative, type Api } from '../fixtures/api.js';
import { fhir, startTestGateway, type TestGateway } from '../fixtures/gateway.js';

let gw: TestGateway;
let api: Api;
beforeAll(async () => {
  gw = await startTestGateway();
  api = fhir(gw.app);
});
afterAll(async () => { await gw.close(); });

/** A Task written `n` times in all: created, then updated with If-Match n-1 times. */
async function taskWithVersions(n: number): Promise<string> {
  const t = await created(api, markedTask(marker()));
  for (let v = 1; v < n; v++) {
    const res = await api.put(`/fhir/Task/${t.id}`, { ...t, note: [{ text: `revision ${v + 1}` }] }).set('If-Match', `W/"${v}"`);
    expect(res.status).toBe(200);
  }
  return t.id;
}

describe('instance history', () => {
  it('lists every version newest first, each with request and response', async () => {
    const t = await created(api, markedTask(marker()));
    expect((await api.put(`/fhir/Task/${t.id}`, { ...t, status: 'accepted' }).set('If-Match', 'W/"1"')).status).toBe(200);
    expect((await api.patch(`/fhir/Task/${t.id}`, [{ op: 'replace', path: '/status', value: 'in-progress' }])).status).toBe(200);

    const res = await api.get(`/fhir/Task/${t.id}/_history`);
    expect(res.status).toBe(200);
    const bundle = res.body as fhir4.Bundle;
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('history');
    const list = bundle.entry ?? [];
    expect(list.map((e) => e.resource?.meta?.versionId)).toEqual(['3', '2', '1']);
    expect(list.map((e) => (e.resource as fhir4.Task).status)).toEqual(['in-progress', 'accepted', 'requested']);
    expect(list.map((e) => e.request?.method)).toEqual(['PATCH', 'PUT', 'POST']);
    expect(list[0]?.request?.url).toBe(`Task/${t.id}`);
    expect(list[2]?.request?.url).toBe('Task');
    expect(list.map((e) => e.response?.status?.slice(0, 3))).toEqual(['200', '200', '201']);
    expect(list.map((e) => e.response?.etag)).toEqual(['W/"3"', 'W/"2"', 'W/"1"']);
    for (const e of list) {
      expect(e.response?.lastModified).toBe(e.resource?.meta?.lastUpdated);
      expect(e.fullUrl).toMatch(new RegExp(`/fhir/Task/${t.id}$`));
    }
    const stamps = list.map((e) => Date.parse(e.resource?.meta?.lastUpdated ?? ''));
    expect([...stamps].sort((a, b) => b - a)).toEqual(stamps);
  });

  it('pages through next links, each version exactly once, newest first', async () => {
    const id = await taskWithVersions(7);
    const pages = await allPages(api, `/fhir/Task/${id}/_history?_count=3`);
    expect(pages.map((p) => p.entry?.length ?? 0)).toEqual([3, 3, 1]);
    const versions = pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource?.meta?.versionId));
    expect(versions).toEqual(['7', '6', '5', '4', '3', '2', '1']);
  });

  it('of an unknown id answers 404 not-found', async () => {
    expectOutcome(await api.get('/fhir/Task/no-such-task/_history'), { status: 404, code: 'not-found' });
  });
});

describe('type history', () => {
  it('with _since lists the versions written at or after that instant, and none before', async () => {
    const a = await created(api, markedTask(marker()));
    const b = await created(api, markedTask(marker()));
    const a2 = await api.put(`/fhir/Task/${a.id}`, { ...a, status: 'accepted' }).set('If-Match', 'W/"1"');
    expect(a2.status).toBe(200);

    const since = b.meta.lastUpdated;
    const res = await api.get(`/fhir/Task/_history?_since=${encodeURIComponent(since)}`);
    expect(res.status).toBe(200);
    const bundle = res.body as fhir4.Bundle;
    expect(bundle.type).toBe('history');
    const got = (bundle.entry ?? []).map((e) => `${e.resource?.id}@${e.resource?.meta?.versionId}`);
    expect(got).toEqual([`${a.id}@2`, `${b.id}@1`]);
    for (const e of bundle.entry ?? []) expect(e.resource?.meta?.lastUpdated! >= since).toBe(true);
    expect(got).not.toContain(`${a.id}@1`);
  });

  it('pages through next links without repeating or skipping a version', async () => {
    const before = await created(api, markedTask(marker()));
    const ids = [await taskWithVersions(3), await taskWithVersions(2), await taskWithVersions(4)];
    const pages = await allPages(api, `/fhir/Task/_history?_since=${encodeURIComponent(before.meta.lastUpdated)}&_count=2`);
    expect(pages.length).toBeGreaterThan(1);
    for (const p of pages) expect(p.entry?.length ?? 0).toBeLessThanOrEqual(2);
    const seen = pages.flatMap((p) => (p.entry ?? []).map((e) => `${e.resource?.id}@${e.resource?.meta?.versionId}`));
    const expected = [`${before.id}@1`, ...ids.flatMap((id, i) => Array.from({ length: [3, 2, 4][i]! }, (_, v) => `${id}@${v + 1}`))];
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...expected].sort());
    const next = link(pages[0]!, 'next');
    expect(next).toBeDefined();
    expect(relative(next!)).toMatch(/^\/fhir\/Task\/_history\?/);
  });

  it('refuses an _since that is not an instant with 400', async () => {
    expectOutcome(await api.get('/fhir/Task/_history?_since=yesterday'), { status: 400, code: INVALID, expression: '_since' });
  });

  it('refuses an unknown history parameter with 400', async () => {
    expectOutcome(await api.get('/fhir/Task/_history?status=requested'), { status: 400, code: ['not-supported', ...INVALID] });
  });
});
