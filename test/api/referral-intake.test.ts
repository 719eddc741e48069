import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshReferral, loadExample } from '../fixtures/referrals.js';
import { startSecureTestGateway, type AuthedClient, type SecureTestGateway } from '../fixtures/secure-gateway.js';

const load = loadExample;
const expected = (JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../profiles/examples/EXPECTED.json'), 'utf8')) as {
  examples: { file: string; rule: string; status: number; issueCode: string; bundleExpression: string }[];
}).examples;

let gw: SecureTestGateway;
let gp: AuthedClient;
let auditor: AuthedClient;
let lw: AuthedClient;
beforeAll(async () => {
  gw = await startSecureTestGateway();
  [gp, auditor, lw] = await Promise.all([gw.as('referrer'), gw.as('auditor'), gw.as('linkWorker')]);
});
afterAll(async () => { await gw.close(); });

const count = async (query: string) => (await auditor.get(`${query}${query.includes('?') ? '&' : '?'}_summary=count`)).body.total as number;

describe('referral intake: the transaction path', () => {
  it('accepts the profile example and creates the Task the link worker polls', async () => {
    const { bundle, identifier } = freshReferral(5001);
    const res = await gp.post('/fhir', bundle);
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
    const srId = (res.body.entry as fhir4.BundleEntry[]).map((e) => e.response?.location ?? '').find((l) => l.startsWith('ServiceRequest/'))!.split('/')[1];
    const sr = (await gp.get(`/fhir/ServiceRequest/${srId}`)).body as fhir4.ServiceRequest;
    expect(sr.performer?.[0]?.reference).toBe('Organization/SP001');
    expect(sr.requester?.reference).toBe('Organization/A81001');
    const tasks = await lw.get(`/fhir/Task?focus=ServiceRequest/${srId}&status=requested`);
    expect(tasks.body.entry).toHaveLength(1);
    const task = tasks.body.entry[0].resource as fhir4.Task;
    expect(task).toMatchObject({ intent: 'order', owner: { reference: 'Organization/SP001' }, requester: { reference: 'Organization/A81001' }, for: { reference: sr.subject?.reference } });
    expect(task.code?.coding?.[0]?.code).toBe('fulfill');
    expect(await count(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`https://signpost.health/fhir/Id/referral|${identifier}`)}`)).toBe(1);
  });

  it.each(expected.map((e) => [e.rule, e] as const))('refuses %s with the expected outcome and writes nothing', async (_rule, e) => {
    const before = await count('/fhir/ServiceRequest');
    const patientsBefore = await count('/fhir/Patient');
    const res = await gp.post('/fhir', load(e.file));
    expect(res.status, JSON.stringify(res.body).slice(0, 600)).toBe(e.status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue.map((i: fhir4.OperationOutcomeIssue) => i.code)).toContain(e.issueCode);
    expect(res.body.issue.flatMap((i: fhir4.OperationOutcomeIssue) => i.expression ?? [])).toContain(e.bundleExpression);
    expect(await count('/fhir/ServiceRequest')).toBe(before);
    expect(await count('/fhir/Patient')).toBe(patientsBefore);
  });

  it('never creates a second referral, Task or Consent for a re-sent referral: it answers with the original entries', async () => {
    const { bundle, identifier } = freshReferral(5002);
    const first = await gp.post('/fhir', bundle);
    expect(first.status).toBe(200);
    // The example's ServiceRequest entry is conditional (If-None-Exist): re-sending answers with the original.
    const again = await gp.post('/fhir', bundle);
    expect(again.status).toBe(200);
    const locations = (r: typeof first) => (r.body.entry as fhir4.BundleEntry[]).map((e) => e.fullUrl);
    expect(locations(first).every((u) => typeof u === 'string')).toBe(true);
    expect(locations(again)).toEqual(locations(first));
    expect((again.body.entry as fhir4.BundleEntry[]).map((e) => e.response?.status)).toEqual(['200 OK', '200 OK', '200 OK']);
    const q = encodeURIComponent(`https://signpost.health/fhir/Id/referral|${identifier}`);
    expect(await count(`/fhir/ServiceRequest?identifier=${q}`)).toBe(1);
    const sr = (await auditor.get(`/fhir/ServiceRequest?identifier=${q}`)).body.entry[0].resource as fhir4.ServiceRequest;
    expect(await count(`/fhir/Task?focus=ServiceRequest/${sr.id}`)).toBe(1);
    expect(await count(`/fhir/Consent?patient=${sr.subject?.reference}`)).toBe(1);
    // A Consent that states anything differently is a new record, even in a re-send.
    const changed = structuredClone(bundle);
    (changed.entry![1]!.resource as fhir4.Consent).dateTime = '2025-06-02T10:00:00+01:00';
    expect((await gp.post('/fhir', changed)).status).toBe(200);
    expect(await count(`/fhir/Consent?patient=${sr.subject?.reference}`)).toBe(2);
  });

  it('gives a second practice referring the same patient the one Patient there is, not a 409 or a second Patient', async () => {
    const { bundle, nhs } = freshReferral(5005);
    expect((await gp.post('/fhir', bundle)).status).toBe(200);
    const other = await gw.as('otherReferrer');
    const nhsQuery = `/fhir/Patient?identifier=${encodeURIComponent(`https://fhir.nhs.uk/Id/nhs-number|${nhs}`)}`;
    // Before it refers, the other practice cannot find the Patient the first one recorded.
    expect((await other.get(nhsQuery)).body.entry ?? []).toEqual([]);
    let text = JSON.stringify(freshReferral(5005).bundle).split('A81001').join('B82002');
    text = text.split('Organization/SP001').join('Organization/SP002');
    const theirs = JSON.parse(text) as fhir4.Bundle;
    const res = await other.post('/fhir', theirs);
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
    const [patientEntry, , srEntry] = res.body.entry as fhir4.BundleEntry[];
    expect(patientEntry!.response?.status).toBe('200 OK');
    expect(await count(nhsQuery)).toBe(1);
    const patientId = (await auditor.get(nhsQuery)).body.entry[0].resource.id as string;
    expect(patientEntry!.fullUrl).toMatch(new RegExp(`/Patient/${patientId}$`));
    const sr = (await other.get(`/fhir/${srEntry!.response!.location!.split('/_history')[0]}`)).body as fhir4.ServiceRequest;
    expect(sr.subject?.reference).toBe(`Patient/${patientId}`);
    expect((await other.get(`/fhir/Patient/${patientId}`)).status).toBe(200);
    // A plain create (not conditional on the NHS number) is still refused without naming the Patient.
    const plain = await gw.as('otherReferrer');
    const refused = await plain.post('/fhir/Patient', (theirs.entry![0]!.resource as fhir4.Patient));
    expect(refused.status).toBe(409);
  });

  it('keeps one Patient, one referral and one Task under 20 parallel identical referrals', async () => {
    const { bundle, nhs, identifier } = freshReferral(5003);
    const results = await Promise.all(Array.from({ length: 20 }, () => gp.post('/fhir', bundle)));
    expect(results.every((r) => r.status === 200), results.map((r) => r.status).join(',')).toBe(true);
    const q = encodeURIComponent(`https://signpost.health/fhir/Id/referral|${identifier}`);
    expect(await count(`/fhir/ServiceRequest?identifier=${q}`)).toBe(1);
    expect(await count(`/fhir/Patient?identifier=${encodeURIComponent(`https://fhir.nhs.uk/Id/nhs-number|${nhs}`)}`)).toBe(1);
    const srId = (await auditor.get(`/fhir/ServiceRequest?identifier=${q}`)).body.entry[0].resource.id;
    expect(await count(`/fhir/Task?focus=ServiceRequest/${srId}`)).toBe(1);
  });

  it('refuses a referral from another practice\'s requester', async () => {
    const { bundle } = freshReferral(5004);
    const other = await gw.as('otherReferrer');
    const res = await other.post('/fhir', bundle);
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['Bundle.entry[2].resource.requester']);
  });
});
