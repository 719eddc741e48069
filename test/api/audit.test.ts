import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/audit-event.js';
import { nhsNumber, patient } from '../fixtures/gateway.js';
import { startSecureTestGateway, type SecureTestGateway } from '../fixtures/secure-gateway.js';

let gw: SecureTestGateway;
beforeAll(async () => { gw = await startSecureTestGateway(); });
afterAll(async () => { await gw.close(); });

const entries = (bundle: fhir4.Bundle) => (bundle.entry ?? []).map((e) => e.resource as fhir4.AuditEvent);

describe('audit trail', () => {
  it('records a read with agent, patient and outcome, findable by the auditor', async () => {
    const gp = await gw.as('referrer');
    const created = await gp.post('/fhir/Patient', patient(nhsNumber(7001)));
    expect(created.status).toBe(201);
    const read = await gp.get(`/fhir/Patient/${created.body.id}`);
    expect(read.status).toBe(200);
    const auditor = await gw.as('auditor');
    const found = await auditor.get(`/fhir/AuditEvent?patient=Patient/${created.body.id}&subtype=read&agent=Organization/A81001`);
    expect(found.status).toBe(200);
    const events = entries(found.body);
    expect(events).toHaveLength(1);
    expect(events[0]!.outcome).toBe('0');
    expect(events[0]!.agent[0]!.who?.identifier?.value).toBe('gp-a81001');
    expect(events[0]!.entity?.some((e) => e.what?.reference === `Patient/${created.body.id}/_history/1`)).toBe(true);
    // The create left its Provenance, naming the client on behalf of its practice.
    const prov = await auditor.get(`/fhir/Provenance?target=Patient/${created.body.id}`);
    expect(prov.body.entry).toHaveLength(1);
    expect(prov.body.entry[0].resource.agent[0].onBehalfOf.identifier.value).toBe('A81001');
  });

  it('records refused requests: no token, and a role reaching beyond its rights', async () => {
    const anonymous = await (await import('supertest')).default(gw.app).get('/fhir/Task').set('Accept', 'application/fhir+json');
    expect(anonymous.status).toBe(401);
    const asset = await gw.as('communityAsset');
    const refused = await asset.get('/fhir/ServiceRequest');
    expect(refused.status).toBe(403);
    const auditor = await gw.as('auditor');
    const failures = entries((await auditor.get('/fhir/AuditEvent?outcome=4&_count=100')).body);
    expect(failures.some((e) => e.agent[0]?.who?.display === 'unauthenticated client')).toBe(true);
    expect(failures.some((e) => e.agent[0]?.who?.identifier?.value === 'vcs-v001' && e.subtype?.[0]?.code === 'search-type')).toBe(true);
  });

  it('verifies the hash chain, and finds the event that was altered in the database', async () => {
    const auditor = await gw.as('auditor');
    const ok = await auditor.get('/fhir/AuditEvent/$verify');
    expect(ok.status).toBe(200);
    expect(ok.body.parameter.find((p: { name: string }) => p.name === 'result').valueBoolean).toBe(true);
    const gp = await gw.as('referrer');
    expect((await gp.get('/fhir/AuditEvent/$verify')).status).toBe(403);

    // Tamper with one stored event directly in the database.
    const [victim] = await gw.db.query<{ seq: number; json: string }>('SELECT seq, json FROM audit_event ORDER BY seq LIMIT 1 OFFSET 2');
    if (!victim) throw new Error('no third audit event');
    const altered = JSON.parse(victim.json) as AuditRecord;
    altered.outcome = altered.outcome === '4' ? '0' : '4';
    await gw.db.query('UPDATE audit_event SET json = ? WHERE seq = ?', [JSON.stringify(altered), victim.seq]);
    const broken = await auditor.get('/fhir/AuditEvent/$verify');
    const param = (name: string) => broken.body.parameter.find((p: { name: string }) => p.name === name);
    expect(param('result').valueBoolean).toBe(false);
    expect(param('firstBadEvent').valueReference.reference).toBe(`AuditEvent/${victim.seq}`);
    expect(altered.seq).toBe(victim.seq);
  });
});
