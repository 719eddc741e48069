import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMany, entries, ids, link, marker, markedTask, qs, relative, taskKey, type Api } from '../fixtures/api.js';
import { fhir, startTestGateway, task, type TestGateway } from '../fixtures/gateway.js';

let gw: TestGateway;
let api: Api;
beforeAll(async () => {
  gw = await startTestGateway();
  api = fhir(gw.app);
});
afterAll(async () => { await gw.close(); });

/** Counts how often each id occurs. */
function tally(list: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const id of list) out.set(id, (out.get(id) ?? 0) + 1);
  return out;
}

describe('paging under concurrent writes', () => {
  it.each([
    ['the default order', {}],
    ['_sort=_lastUpdated', { _sort: '_lastUpdated' }],
    ['_sort=-_lastUpdated', { _sort: '-_lastUpdated' }],
  ])('in %s shows each of 120 existing Tasks exactly once while more are created between pages', async (_order, sort) => {
    const m = marker();
    const existing = await createMany(api, Array.from({ length: 120 }, () => markedTask(m)));
    expect(new Set(existing).size).toBe(120);

    const seen: string[] = [];
    const addedMeanwhile: string[] = [];
    let url: string | undefined = `/fhir/Task?${qs({ identifier: taskKey(m), _count: '25', ...sort })}`;
    let pages = 0;
    while (url) {
      // Writers race the page fetch: some land before it is read, some after.
      const writers = Promise.all(Array.from({ length: 4 }, () => api.post('/fhir/Task', markedTask(m))));
      const [page, written] = await Promise.all([api.get(url), writers]);
      for (const w of written) {
        expect(w.status).toBe(201);
        addedMeanwhile.push(w.body.id as string);
      }
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      expect(entries(page.body).length).toBeLessThanOrEqual(25);
      seen.push(...ids(page.body));
      const next = link(page.body, 'next');
      url = next === undefined ? undefined : relative(next);
      if (++pages > 60) throw new Error('paging does not end');
    }

    const counts = tally(seen);
    const missing = existing.filter((id) => !counts.has(id));
    const repeated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    expect(missing, 'existing Tasks never shown').toEqual([]);
    expect(repeated, 'Tasks shown more than once').toEqual([]);
    // Only our Tasks turn up, and anything else shown was created during the walk.
    const known = new Set([...existing, ...addedMeanwhile]);
    expect(seen.filter((id) => !known.has(id))).toEqual([]);
  });

  it('keeps the default order stable when existing Tasks are updated between pages', async () => {
    const m = marker();
    const existing = await createMany(api, Array.from({ length: 60 }, () => markedTask(m)));
    const seen: string[] = [];
    let url: string | undefined = `/fhir/Task?${qs({ identifier: taskKey(m), _count: '20' })}`;
    let i = 0;
    while (url) {
      const page = await api.get(url);
      expect(page.status).toBe(200);
      seen.push(...ids(page.body));
      // Update a Task on the page just read and one not yet reached.
      for (const id of [seen[seen.length - 1]!, existing[Math.min(existing.length - 1, 25 + i * 10)]!]) {
        const patched = await api.patch(`/fhir/Task/${id}`, [{ op: 'add', path: '/note', value: [{ text: `touched ${i}` }] }]);
        expect(patched.status).toBe(200);
      }
      i++;
      const next = link(page.body, 'next');
      url = next === undefined ? undefined : relative(next);
    }
    expect([...seen].sort()).toEqual([...existing].sort());
  });

  // DESIGN.md: paging is "stable under concurrent writes: no item skipped or repeated" — updates are writes too.
  // By identifier, a token drives the query; by owner, the reference rows in order of last change do
  // (the poll's plan, search-sql.ts recentRids): each must read the snapshot the first page fixed.
  it.each([
    ['_sort=_lastUpdated', '_lastUpdated', 'identifier'],
    ['_sort=-_lastUpdated', '-_lastUpdated', 'identifier'],
    ['_sort=_lastUpdated', '_lastUpdated', 'owner'],
    ['_sort=-_lastUpdated', '-_lastUpdated', 'owner'],
  ])('in %s by %s shows each existing Task exactly once while Tasks are updated between pages', async (_order, sort, by) => {
    const m = marker();
    const owner = `Organization/${m}`;
    const existing = await createMany(api, Array.from({ length: 60 }, () => markedTask(m, { owner: { reference: owner } })));
    const seen: string[] = [];
    const filter: Record<string, string> = by === 'owner' ? { owner } : { identifier: taskKey(m) };
    let url: string | undefined = `/fhir/Task?${qs({ ...filter, _count: '20', _sort: sort })}`;
    let i = 0;
    while (url) {
      const page = await api.get(url);
      expect(page.status).toBe(200);
      const onPage = ids(page.body);
      seen.push(...onPage);
      // Update one Task already shown and one not reached yet.
      const notYet = existing.find((id) => !seen.includes(id));
      for (const id of [onPage[0], notYet].filter((x): x is string => x !== undefined)) {
        const patched = await api.patch(`/fhir/Task/${id}`, [{ op: 'add', path: '/note', value: [{ text: `touched ${i}` }] }]);
        expect(patched.status).toBe(200);
      }
      i++;
      const next = link(page.body, 'next');
      url = next === undefined ? undefined : relative(next);
      if (i > 20) throw new Error('paging does not end');
    }
    const counts = tally(seen);
    expect(existing.filter((id) => !counts.has(id)), 'existing Tasks never shown').toEqual([]);
    expect([...counts].filter(([, n]) => n > 1).map(([id]) => id), 'Tasks shown more than once').toEqual([]);
  });

  it('refuses a cursor it did not hand out with 400', async () => {
    const res = await api.get('/fhir/Task?_count=2&_cursor=not-a-cursor');
    expect(res.status).toBe(400);
    expect(res.body.resourceType).toBe('OperationOutcome');
  });
});

describe('the link-worker poll', () => {
  it('repeated with _lastUpdated=ge<largest lastUpdated seen> never misses a Task created concurrently', async () => {
    const owner = `Organization/${marker('sp')}`;
    const others = `Organization/${marker('sp-other')}`;
    const want = new Set<string>();
    // meta.lastUpdated carries six fractional digits; the start is written the same way so strings compare.
    const start = new Date(Date.now() - 1000).toISOString().replace('Z', '000Z');

    let writing = true;
    const writer = (async () => {
      for (let burst = 0; burst < 25; burst++) {
        const made = await Promise.all([
          ...Array.from({ length: 5 }, () => api.post('/fhir/Task', task({ owner: { reference: owner } }))),
          api.post('/fhir/Task', task({ owner: { reference: owner }, status: 'accepted' })),
          api.post('/fhir/Task', task({ owner: { reference: others } })),
        ]);
        made.forEach((r, i) => {
          expect(r.status).toBe(201);
          if (i < 5) want.add(r.body.id as string);
        });
      }
      writing = false;
    })();

    const got = new Set<string>();
    let since = start;
    let polls = 0;
    let pollsWhileWriting = 0;
    let quietAfterWriter = 0;
    while (quietAfterWriter < 2) {
      const doneBefore = !writing;
      if (writing) pollsWhileWriting++;
      const res = await api.get(`/fhir/Task?${qs({ owner, status: 'requested', _lastUpdated: `ge${since}`, _sort: '_lastUpdated', _count: '10' })}`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const page = res.body as fhir4.Bundle;
      let fresh = 0;
      for (const e of page.entry ?? []) {
        const t = e.resource as fhir4.Task;
        expect(t.owner?.reference).toBe(owner);
        expect(t.status).toBe('requested');
        if (!got.has(t.id!)) fresh++;
        got.add(t.id!);
        const lu = t.meta!.lastUpdated!;
        expect(lu >= since, `${lu} is at or after ${since}`).toBe(true);
        if (lu > since) since = lu;
      }
      if (doneBefore && fresh === 0) quietAfterWriter++;
      if (++polls > 2000) throw new Error('the poll never settles');
    }
    await writer;
    expect(pollsWhileWriting, 'the poller ran while Tasks were being created').toBeGreaterThan(5);
    expect(want.size).toBe(125);
    const missed = [...want].filter((id) => !got.has(id));
    expect(missed, 'Tasks the poller never saw').toEqual([]);
    expect([...got].filter((id) => !want.has(id))).toEqual([]);
  });
});
