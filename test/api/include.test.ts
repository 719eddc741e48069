import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  created, entries, expectOutcome, ids, INVALID, link, marker, markedTask, qs, refs, serviceRequest, taskKey, type Api,
} from '../fixtures/api.js';
import { fhir, nhsNumber, patient, startTestGateway, task, type TestGateway } from '../fixtures/gateway.js';

let gw: TestGateway;
let api: Api;
beforeAll(async () => {
  gw = await startTestGateway();
  api = fhir(gw.app);
});
afterAll(async () => { await gw.close(); });

let seed = 9_500_000;
const freshNhs = () => nhsNumber((seed += 23));

async function search(type: string, params: [string, string][]): Promise<fhir4.Bundle> {
  const res = await api.get(`/fhir/${type}?${qs(params)}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.type).toBe('searchset');
  return res.body as fhir4.Bundle;
}

const sorted = (xs: string[]) => [...xs].sort();

describe('_include and _revinclude', () => {
  /** Three Tasks, each with its own ServiceRequest (focus) and Patient (for). */
  async function threeReferrals() {
    const m = marker();
    const made: { task: string; sr: string; patient: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await created(api, patient(freshNhs()));
      const sr = await created(api, serviceRequest(`Patient/${p.id}`));
      const t = await created(api, markedTask(m, { focus: { reference: `ServiceRequest/${sr.id}` }, for: { reference: `Patient/${p.id}` } }));
      made.push({ task: t.id, sr: sr.id, patient: p.id });
    }
    return { m, made };
  }

  it('_include=Task:focus and Task:patient add the referenced resources as include, not counted by _count', async () => {
    const { m, made } = await threeReferrals();
    const page = await search('Task', [
      ['identifier', taskKey(m)], ['_count', '2'], ['_sort', '_lastUpdated'], ['_total', 'accurate'],
      ['_include', 'Task:focus'], ['_include', 'Task:patient'],
    ]);
    expect(page.total).toBe(3);
    expect(ids(page, 'match')).toEqual([made[0]!.task, made[1]!.task]);
    expect(sorted(refs(page, 'include'))).toEqual(sorted([
      `ServiceRequest/${made[0]!.sr}`, `ServiceRequest/${made[1]!.sr}`, `Patient/${made[0]!.patient}`, `Patient/${made[1]!.patient}`,
    ]));
    expect(entries(page)).toHaveLength(6);
    expect(link(page, 'next')).toBeDefined();
  });

  it('_include follows only the parameter named', async () => {
    const { m, made } = await threeReferrals();
    const page = await search('Task', [['identifier', taskKey(m)], ['_include', 'Task:patient']]);
    expect(sorted(refs(page, 'include'))).toEqual(sorted(made.map((x) => `Patient/${x.patient}`)));
  });

  it('_revinclude=Task:focus on ServiceRequest adds the Tasks that point to the page as include', async () => {
    const p = await created(api, patient(freshNhs()));
    const sr1 = await created(api, serviceRequest(`Patient/${p.id}`));
    const sr2 = await created(api, serviceRequest(`Patient/${p.id}`));
    const onSr1 = [
      await created(api, task({ focus: { reference: `ServiceRequest/${sr1.id}` } })),
      await created(api, task({ focus: { reference: `ServiceRequest/${sr1.id}` } })),
    ].map((t) => `Task/${t.id}`);
    const onSr2 = await created(api, task({ focus: { reference: `ServiceRequest/${sr2.id}` } }));

    const page = await search('ServiceRequest', [
      ['_id', `${sr1.id},${sr2.id}`], ['_sort', '_lastUpdated'], ['_count', '1'], ['_revinclude', 'Task:focus'],
    ]);
    expect(ids(page, 'match')).toEqual([sr1.id]);
    expect(sorted(refs(page, 'include'))).toEqual(sorted(onSr1));
    expect(refs(page, 'include')).not.toContain(`Task/${onSr2.id}`);
    for (const e of entries(page, 'include')) expect(e.fullUrl).toMatch(/\/fhir\/Task\/[\w.-]+$/);
  });

  it('refuses an _include of a parameter that is not a reference with 400', async () => {
    expectOutcome(await api.get('/fhir/Task?_include=Task:status'), { status: 400, code: INVALID, expression: '_include' });
  });
});
