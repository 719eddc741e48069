import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  count, created, createMany, entries, expectOutcome, ids, INVALID, link, marker, markedTask, organization, qs, sleep,
  taskKey, type Api,
} from '../fixtures/api.js';
import { fhir, startTestGateway, task, type TestGateway } from '../fixtures/gateway.js';

let gw: TestGateway;
let api: Api;
beforeAll(async () => {
  gw = await startTestGateway();
  api = fhir(gw.app);
});
afterAll(async () => { await gw.close(); });

async function search(type: string, params: Record<string, string> | [string, string][]): Promise<fhir4.Bundle> {
  const res = await api.get(`/fhir/${type}?${qs(params)}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.resourceType).toBe('Bundle');
  expect(res.body.type).toBe('searchset');
  return res.body as fhir4.Bundle;
}

const sorted = (xs: string[]) => [...xs].sort();

describe('token parameters', () => {
  it('accept system|code, |code and code', async () => {
    const value = marker('tok');
    const withSystem = await created(api, { resourceType: 'Patient', identifier: [{ system: 'urn:test:a', value }] });
    const otherSystem = await created(api, { resourceType: 'Patient', identifier: [{ system: 'urn:test:b', value }] });
    const noSystem = await created(api, { resourceType: 'Patient', identifier: [{ value }] });

    expect(ids(await search('Patient', { identifier: `urn:test:a|${value}` }))).toEqual([withSystem.id]);
    expect(ids(await search('Patient', { identifier: `|${value}` }))).toEqual([noSystem.id]);
    expect(sorted(ids(await search('Patient', { identifier: value })))).toEqual(sorted([withSystem.id, otherSystem.id, noSystem.id]));
    expect(ids(await search('Patient', { identifier: `urn:test:c|${value}` }))).toEqual([]);
  });

  it('accept system|code, |code and code on a CodeableConcept (Observation.code)', async () => {
    const code = marker('obs');
    const obs = (system?: string) => created(api, {
      resourceType: 'Observation', status: 'final', code: { coding: [{ ...(system ? { system } : {}), code }] },
    } as fhir4.Observation);
    const loinc = await obs('http://loinc.org');
    const snomed = await obs('http://snomed.info/sct');
    const bare = await obs();
    expect(ids(await search('Observation', { code: `http://loinc.org|${code}` }))).toEqual([loinc.id]);
    expect(ids(await search('Observation', { code: `|${code}` }))).toEqual([bare.id]);
    expect(sorted(ids(await search('Observation', { code })))).toEqual(sorted([loinc.id, snomed.id, bare.id]));
  });

  it('match status codes and OR comma-separated values', async () => {
    const owner = `Organization/${marker('own')}`;
    const requested = await created(api, task({ owner: { reference: owner } }));
    const accepted = await created(api, task({ owner: { reference: owner }, status: 'accepted' }));
    await created(api, task({ owner: { reference: owner }, status: 'cancelled' }));
    expect(ids(await search('Task', { owner, status: 'requested' }))).toEqual([requested.id]);
    expect(sorted(ids(await search('Task', { owner, status: 'requested,accepted' })))).toEqual(sorted([requested.id, accepted.id]));
  });
});

describe('reference parameters', () => {
  it('accept Type/id and a bare id, and match nothing else', async () => {
    const org = await created(api, organization(marker('org')));
    const other = await created(api, organization(marker('org')));
    const mine = [
      await created(api, task({ owner: { reference: `Organization/${org.id}` } })),
      await created(api, task({ owner: { reference: `Organization/${org.id}` } })),
    ].map((t) => t.id);
    await created(api, task({ owner: { reference: `Organization/${other.id}` } }));

    expect(sorted(ids(await search('Task', { owner: `Organization/${org.id}` })))).toEqual(sorted(mine));
    expect(sorted(ids(await search('Task', { owner: org.id })))).toEqual(sorted(mine));
  });
});

describe('_id', () => {
  it('finds exactly the resources named', async () => {
    const a = await created(api, markedTask(marker()));
    const b = await created(api, markedTask(marker()));
    await created(api, markedTask(marker()));
    expect(ids(await search('Task', { _id: a.id }))).toEqual([a.id]);
    expect(sorted(ids(await search('Task', { _id: `${a.id},${b.id}` })))).toEqual(sorted([a.id, b.id]));
    expect(ids(await search('Task', { _id: 'no-such-id' }))).toEqual([]);
  });
});

describe('_lastUpdated', () => {
  it('compares with ge, gt, lt, le and eq at microsecond precision', async () => {
    const m = marker();
    const t1 = await created(api, markedTask(m));
    await sleep(2);
    const t2 = await created(api, markedTask(m));
    await sleep(2);
    const t3 = await created(api, markedTask(m));
    const at = (prefix: string) => ({ identifier: taskKey(m), _lastUpdated: `${prefix}${t2.meta.lastUpdated}` });

    expect(sorted(ids(await search('Task', at('ge'))))).toEqual(sorted([t2.id, t3.id]));
    expect(ids(await search('Task', at('gt')))).toEqual([t3.id]);
    expect(ids(await search('Task', at('lt')))).toEqual([t1.id]);
    expect(sorted(ids(await search('Task', at('le'))))).toEqual(sorted([t1.id, t2.id]));
    expect(ids(await search('Task', at('eq')))).toEqual([t2.id]);
    expect(ids(await search('Task', at('')))).toEqual([t2.id]);
  });

  it('combines two bounds into a range', async () => {
    const m = marker();
    const made = [];
    for (let i = 0; i < 4; i++) made.push(await created(api, markedTask(m)));
    const res = await search('Task', [
      ['identifier', taskKey(m)], ['_lastUpdated', `gt${made[0]!.meta.lastUpdated}`], ['_lastUpdated', `lt${made[3]!.meta.lastUpdated}`],
    ]);
    expect(sorted(ids(res))).toEqual(sorted([made[1]!.id, made[2]!.id]));
  });

  it('refuses a value that is not a date with 400', async () => {
    expectOutcome(await api.get('/fhir/Task?_lastUpdated=ge2024-13-45'), { status: 400, code: INVALID, expression: '_lastUpdated' });
  });
});

describe('_sort', () => {
  it('_lastUpdated sorts oldest first and -_lastUpdated newest first', async () => {
    const m = marker();
    const a = await created(api, markedTask(m));
    const b = await created(api, markedTask(m));
    const c = await created(api, markedTask(m));
    // Touching a makes it the most recently updated.
    expect((await api.patch(`/fhir/Task/${a.id}`, [{ op: 'replace', path: '/status', value: 'accepted' }])).status).toBe(200);
    expect(ids(await search('Task', { identifier: taskKey(m), _sort: '_lastUpdated' }))).toEqual([b.id, c.id, a.id]);
    expect(ids(await search('Task', { identifier: taskKey(m), _sort: '-_lastUpdated' }))).toEqual([a.id, c.id, b.id]);
  });

  it('refuses a sort it does not support with 400', async () => {
    expectOutcome(await api.get('/fhir/Task?_sort=status'), { status: 400, code: ['not-supported', ...INVALID], expression: '_sort' });
  });
});

describe('_count', () => {
  it('defaults to 50 per page, with a next link to the rest', async () => {
    const m = marker();
    await createMany(api, Array.from({ length: 55 }, () => markedTask(m)));
    const page = await search('Task', { identifier: taskKey(m) });
    expect(entries(page)).toHaveLength(50);
    expect(link(page, 'next')).toBeDefined();
    expect(link(page, 'self')).toBeDefined();
  });

  it('caps at 1000: a larger _count is clamped to 1000', async () => {
    const m = marker();
    await createMany(api, Array.from({ length: 1005 }, () => markedTask(m)));
    const big = await search('Task', { identifier: taskKey(m), _count: '5000' });
    expect(entries(big)).toHaveLength(1000);
    expect(link(big, 'next')).toBeDefined();
    const max = await search('Task', { identifier: taskKey(m), _count: '1000' });
    expect(entries(max)).toHaveLength(1000);
  });

  it('smaller than the matches gives that many and a next link; with _count=0 no entries', async () => {
    const m = marker();
    await createMany(api, Array.from({ length: 3 }, () => markedTask(m)));
    const two = await search('Task', { identifier: taskKey(m), _count: '2' });
    expect(entries(two)).toHaveLength(2);
    expect(link(two, 'next')).toBeDefined();
    const all = await search('Task', { identifier: taskKey(m), _count: '3' });
    expect(entries(all)).toHaveLength(3);
    expect(link(all, 'next')).toBeUndefined();
  });

  it('refuses a _count that is not a whole number with 400', async () => {
    expectOutcome(await api.get('/fhir/Task?_count=-1'), { status: 400, code: INVALID, expression: '_count' });
    expectOutcome(await api.get('/fhir/Task?_count=ten'), { status: 400, code: INVALID, expression: '_count' });
  });
});

describe('totals', () => {
  it('_total=accurate gives the total of all matches; without it there is no total', async () => {
    const m = marker();
    await createMany(api, Array.from({ length: 7 }, () => markedTask(m)));
    const accurate = await search('Task', { identifier: taskKey(m), _total: 'accurate', _count: '2' });
    expect(accurate.total).toBe(7);
    expect(entries(accurate)).toHaveLength(2);
    const plain = await search('Task', { identifier: taskKey(m), _count: '2' });
    expect(plain.total).toBeUndefined();
  });

  it('_summary=count answers the total and no entries', async () => {
    const m = marker();
    await createMany(api, Array.from({ length: 4 }, () => markedTask(m)));
    const res = await search('Task', { identifier: taskKey(m), _summary: 'count' });
    expect(res.total).toBe(4);
    expect(res.entry ?? []).toHaveLength(0);
    expect(await count(api, 'Task', { identifier: `${taskKey(m)}-other` })).toBe(0);
  });
});

describe('unknown parameters', () => {
  it('answer 400 naming the parameter', async () => {
    const res = await api.get('/fhir/Task?colour=blue');
    expectOutcome(res, { status: 400, code: ['not-supported', ...INVALID], expression: 'colour' });
    expect(res.body.issue[0].diagnostics).toContain('colour');
  });

  it('are ignored with Prefer: handling=lenient, and left out of the self link', async () => {
    const m = marker();
    const t = await created(api, markedTask(m));
    const res = await api.get(`/fhir/Task?${qs({ identifier: taskKey(m), colour: 'blue' })}`).set('Prefer', 'handling=lenient');
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([t.id]);
    expect(link(res.body, 'self')).not.toContain('colour');
  });
});

describe('POST _search', () => {
  it('with a form body finds what the same GET finds', async () => {
    const owner = `Organization/${marker('own')}`;
    const a = await created(api, task({ owner: { reference: owner } }));
    await created(api, task({ owner: { reference: owner }, status: 'accepted' }));
    const get = await search('Task', { owner, status: 'requested' });
    const post = await api.raw.post('/fhir/Task/_search').set('Accept', 'application/fhir+json')
      .type('form').send(qs({ owner, status: 'requested' }));
    expect(post.status).toBe(200);
    expect(post.body.type).toBe('searchset');
    expect(ids(post.body)).toEqual([a.id]);
    expect(ids(post.body)).toEqual(ids(get));
  });

  it('with a repeated parameter in the form body applies both, like GET', async () => {
    const m = marker();
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await created(api, markedTask(m)));
    const body = qs([['identifier', taskKey(m)], ['_lastUpdated', `gt${made[0]!.meta.lastUpdated}`], ['_lastUpdated', `lt${made[2]!.meta.lastUpdated}`]]);
    const post = await api.raw.post('/fhir/Task/_search').type('form').send(body);
    expect(post.status).toBe(200);
    expect(ids(post.body)).toEqual([made[1]!.id]);
  });

  it('with an unknown parameter in the body answers 400 like GET', async () => {
    const post = await api.raw.post('/fhir/Task/_search').type('form').send('colour=blue');
    expectOutcome(post, { status: 400, code: ['not-supported', ...INVALID], expression: 'colour' });
  });
});
