import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyClient, roleClients, type KeyClient } from '../fixtures/clients.js';
import { nhsNumber, patient } from '../fixtures/gateway.js';
import { deploy, startInstance, tokenFrom, type Api, type Deployed, type Instance } from '../fixtures/instances.js';
import { freshSchema, type TestSchema } from '../fixtures/postgres.js';
import { testDeployment } from '../fixtures/secure-gateway.js';

/**
 * Two gateway processes on one PostgreSQL database, as an integrated care board runs them behind a load
 * balancer (docs/ARCHITECTURE.md "Several instances"): each promise one writer keeps by being alone is
 * tried with requests to both at once.
 */

const clients = roleClients();
let keyed: KeyClient;
let schema: TestSchema;
let deployed: Deployed;
let a: Instance;
let b: Instance;
/** Each role's API on each instance, with a token from that instance. */
let on: { a: Record<'gp' | 'lw' | 'auditor', Api>; b: Record<'gp' | 'lw' | 'auditor', Api> };

beforeAll(async () => {
  keyed = await keyClient('link-worker', 'SP001', 'ES384', 'lw-sp001-key');
  schema = await freshSchema();
  deployed = deploy({ ...testDeployment(clients), clients: [...Object.values(clients).map((c) => c.config), keyed.config] });
  // Started together: they migrate the empty schema once between them.
  [a, b] = await Promise.all([startInstance(deployed, { DATABASE_URL: schema.url }), startInstance(deployed, { DATABASE_URL: schema.url })]);
  const apis = async (i: Instance) => ({ gp: await i.as(clients.referrer), lw: await i.as(clients.linkWorker), auditor: await i.as(clients.auditor) });
  on = { a: await apis(a), b: await apis(b) };
}, 90_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await schema?.drop();
  deployed?.remove();
});

/** A referral as the JSON API takes it, with a fresh NHS number. */
const jsonReferral = (seed: number, identifier = randomUUID()) => ({
  identifier,
  patient: { nhsNumber: nhsNumber(seed), name: { given: ['Sam'], family: `Two${seed}` }, birthDate: '1960-01-01', phone: '07700 900000' },
  consent: { date: '2026-12-01T09:00:00Z', givenBy: 'patient' },
  reasons: [{ code: '422650009' }],
});

describe('two instances on one PostgreSQL database', () => {
  it('accept each other\'s tokens: they share the signing key of their data directory', async () => {
    const token = await tokenFrom(a.url, clients.auditor);
    expect(token.status).toBe(200);
    const res = await fetch(`${b.url}/fhir/Organization?_count=1`, { headers: { authorization: `Bearer ${token.body.access_token}` } });
    expect(res.status).toBe(200);
  });

  it('create one Patient for one NHS number, whichever instance each of 20 concurrent conditional creates reaches', async () => {
    const nhs = nhsNumber(880_001);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      (i % 2 ? on.a : on.b).gp('POST', '/fhir/Patient', patient(nhs), { 'if-none-exist': `identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}` })));
    expect(answers.map((r) => r.status).filter((s) => s !== 200 && s !== 201), JSON.stringify(answers.map((r) => r.body))).toEqual([]);
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1);
    expect(new Set(answers.map((r) => r.body.id)).size).toBe(1);
    const found = await on.b.auditor('GET', `/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}&_summary=count`);
    expect(found.body.total).toBe(1);
  });

  it('make one referral of one referral identifier sent to both at once, answering the others with it', async () => {
    const body = jsonReferral(880_002);
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? on.a : on.b).gp('POST', '/api/v1/referrals', body)));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(answers.map((r) => r.body.id)).size).toBe(1);
    const found = await on.a.auditor('GET', `/fhir/ServiceRequest?identifier=https://signpost.health/Id/referral/A81001|${body.identifier}&_summary=count`);
    expect(found.body.total).toBe(1);
  });

  it('let exactly one of 10 concurrent updates naming one version win (If-Match), the others 412', async () => {
    const made = await on.a.gp('POST', '/api/v1/referrals', jsonReferral(880_003));
    expect(made.status).toBe(201);
    const task = (await on.b.lw('GET', `/fhir/Task/${made.body.task}`)).body as fhir4.Task & { meta: { versionId: string } };
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      (i % 2 ? on.a : on.b).lw('PUT', `/fhir/Task/${task.id}`, { ...task, status: 'accepted' }, { 'if-match': `W/"${task.meta.versionId}"` })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, ...Array(9).fill(412)]);
    const history = await on.a.auditor('GET', `/fhir/Task/${task.id}/_history`);
    expect(history.body.entry).toHaveLength(2);
  });

  it('never let a poller miss a Task, polling either instance while both take referrals', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const made: string[] = [];
    let writing = true;
    const writer = async (api: Api, base: number) => {
      for (let i = 0; i < 25; i++) {
        const res = await api('POST', '/api/v1/referrals', jsonReferral(base + i));
        expect(res.status).toBe(201);
        made.push(res.body.task as string);
      }
    };
    const seen = new Set<string>();
    let cursor = since;
    const pollOnce = async (api: Api) => {
      const page = await api('GET', `/fhir/Task?owner=Organization/SP001&_lastUpdated=ge${cursor}&_sort=_lastUpdated&_count=50`);
      expect(page.status).toBe(200);
      for (const e of (page.body.entry ?? []) as { resource: fhir4.Task & { meta: { lastUpdated: string } } }[]) {
        seen.add(e.resource.id!);
        if (e.resource.meta.lastUpdated > cursor) cursor = e.resource.meta.lastUpdated;
      }
      return (page.body.entry ?? []).length as number;
    };
    const poller = async () => {
      for (let i = 0; writing; i++) await pollOnce(i % 2 ? on.a.lw : on.b.lw);
    };
    const polling = poller();
    await Promise.all([writer(on.a.gp, 881_000), writer(on.b.gp, 882_000), writer(on.a.gp, 883_000), writer(on.b.gp, 884_000)]);
    writing = false;
    await polling;
    // Caught up: poll until a page holds only what was seen (a page at the cursor repeats its last instant).
    for (let i = 0; i < 20 && made.some((t) => !seen.has(t)); i++) await pollOnce(i % 2 ? on.a.lw : on.b.lw);
    expect(made).toHaveLength(100);
    expect(made.filter((t) => !seen.has(t))).toEqual([]);
  });

  it('keep one audit chain that either instance verifies, with the events of both', async () => {
    const before = await on.a.auditor('GET', '/fhir/AuditEvent?_summary=count');
    await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? on.a : on.b).lw('GET', '/fhir/Task?_count=1')));
    for (const api of [on.a.auditor, on.b.auditor]) {
      const verdict = await api('GET', '/fhir/AuditEvent/$verify');
      expect(verdict.status).toBe(200);
      const param = (name: string) => (verdict.body.parameter as { name: string; valueBoolean?: boolean; valueInteger?: number }[]).find((p) => p.name === name);
      expect(param('result')?.valueBoolean).toBe(true);
    }
    const after = await on.b.auditor('GET', '/fhir/AuditEvent?_summary=count');
    expect(after.body.total - before.body.total).toBeGreaterThanOrEqual(11);
  });

  it('refuse a private_key_jwt assertion replayed at the other instance, and let only one of two sent at once through', async () => {
    const assertion = await keyed.assertion();
    expect((await tokenFrom(a.url, keyed, assertion)).status).toBe(200);
    const replay = await tokenFrom(b.url, keyed, assertion);
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe('invalid_client');
    const racing = await keyed.assertion();
    const both = await Promise.all([tokenFrom(a.url, keyed, racing), tokenFrom(b.url, keyed, racing)]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 401]);
  });
});
