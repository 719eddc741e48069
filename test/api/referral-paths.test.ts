import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderStoredAuditRecord } from '../../src/audit/audit-event.js';
import { nhsNumber, patient } from '../fixtures/gateway.js';
import { loadR4Definitions, r4Errors } from '../fixtures/r4-validator.js';
import { startSecureTestGateway, type AuthedClient, type SecureTestGateway } from '../fixtures/secure-gateway.js';

let gw: SecureTestGateway;
let gp: AuthedClient;
let lw: AuthedClient;
beforeAll(async () => {
  gw = await startSecureTestGateway();
  [gp, lw] = await Promise.all([gw.as('referrer'), gw.as('linkWorker')]);
});
afterAll(async () => { await gw.close(); });

const consent = (patientId: string): fhir4.Consent => ({
  resourceType: 'Consent', status: 'active',
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
  patient: { reference: `Patient/${patientId}` }, provision: { type: 'permit' },
  // R4 invariant ppc-1 wants a policy; the gateway accepts Consents without (DESIGN.md's own example has none).
  policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
});

const referral = (patientRef: fhir4.Reference, consentId: string, extra: Partial<fhir4.ServiceRequest> = {}): fhir4.ServiceRequest => ({
  resourceType: 'ServiceRequest', status: 'active', intent: 'order',
  identifier: [{ system: 'https://riverside.example/referral', value: `r-${Math.random().toString(36).slice(2)}` }],
  code: { coding: [{ system: 'http://snomed.info/sct', code: '871731000000106' }] },
  reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '267076002' }] }],
  subject: patientRef, requester: { reference: 'Organization/A81001' },
  supportingInfo: [{ reference: `Consent/${consentId}` }], ...extra,
});

async function patientWithConsent(seed: number): Promise<{ patientId: string; consentId: string; nhs: string }> {
  const nhs = nhsNumber(seed);
  const p = await gp.post('/fhir/Patient', patient(nhs));
  const c = await gp.post('/fhir/Consent', consent(p.body.id));
  return { patientId: p.body.id, consentId: c.body.id, nhs };
}

describe('referral by POST /fhir/ServiceRequest', () => {
  it('accepts a referral to a Patient referenced by id, routes it by config and creates its Task', async () => {
    const { patientId, consentId } = await patientWithConsent(7101);
    const res = await gp.post('/fhir/ServiceRequest', referral({ reference: `Patient/${patientId}` }, consentId));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.performer[0].reference).toBe('Organization/SP001');
    const tasks = await lw.get(`/fhir/Task?based-on=ServiceRequest/${res.body.id}`);
    expect(tasks.body.entry.map((e: { resource: fhir4.Task }) => e.resource.status)).toEqual(['requested']);
  });

  it('finds the Patient by a logical reference to its NHS number', async () => {
    const { consentId, nhs, patientId } = await patientWithConsent(7102);
    const res = await gp.post('/fhir/ServiceRequest', referral({ identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs } }, consentId));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body.subject.reference).toBe(`Patient/${patientId}`);
  });

  it('routes to the service a performer names, and refuses a performer that is not a service', async () => {
    const { patientId, consentId } = await patientWithConsent(7103);
    const named = await gp.post('/fhir/ServiceRequest', referral({ reference: `Patient/${patientId}` }, consentId, { performer: [{ reference: 'Organization/SP002' }] }));
    expect(named.status, JSON.stringify(named.body)).toBe(201);
    const task = (await (await gw.as('otherLinkWorker')).get(`/fhir/Task?focus=ServiceRequest/${named.body.id}`)).body.entry[0].resource as fhir4.Task;
    expect(task.owner?.reference).toBe('Organization/SP002');
    const wrong = await gp.post('/fhir/ServiceRequest', referral({ reference: `Patient/${patientId}` }, consentId, { performer: [{ reference: 'Organization/V001' }] }));
    expect(wrong.status).toBe(422);
    expect(wrong.body.issue[0].expression).toEqual(['ServiceRequest.performer[0]']);
  });

  it('answers a plain re-POST of the same referral with 409 duplicate, and If-None-Exist with the original', async () => {
    const { patientId, consentId } = await patientWithConsent(7104);
    const body = referral({ reference: `Patient/${patientId}` }, consentId);
    const first = await gp.post('/fhir/ServiceRequest', body);
    const again = await gp.post('/fhir/ServiceRequest', body);
    expect(again.status).toBe(409);
    expect(again.body.issue[0].code).toBe('duplicate');
    const id = body.identifier![0]!;
    const conditional = await gp.post('/fhir/ServiceRequest', body).set('If-None-Exist', `identifier=${id.system}|${id.value}`);
    expect(conditional.status).toBe(200);
    expect(conditional.body.id).toBe(first.body.id);
    expect((await lw.get(`/fhir/Task?focus=ServiceRequest/${first.body.id}&_summary=count`)).body.total).toBe(1);
  });

  it('refuses a Patient whose NHS number fails the Modulus 11 check', async () => {
    const res = await gp.post('/fhir/Patient', patient('9434765910'));
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['Patient.identifier[0].value']);
  });
});

describe('what the gateway stores is valid R4', () => {
  it('passes an independent validator: every current version in the store', async () => {
    loadR4Definitions();
    const rows = await gw.db.query<{ json: string }>('SELECT v.json FROM resource r JOIN resource_version v ON v.rid = r.rid AND v.version = r.version');
    const audit = await gw.db.query<{ json: string }>('SELECT json FROM audit_event');
    expect(rows.length).toBeGreaterThan(20);
    // The ledger keeps compact records; what the gateway emits of them is the AuditEvent they render as.
    const emitted = [...rows.map(({ json }) => JSON.parse(json) as fhir4.Resource), ...audit.map(({ json }) => renderStoredAuditRecord(json))];
    expect(audit.length).toBeGreaterThan(10);
    const problems = emitted.flatMap((r) => {
      return r4Errors(r).filter((i) => i.severity === 'error').map((i) => `${r.resourceType}/${r.id}: ${i.message} at ${i.expression.join(',')}`);
    });
    expect(problems).toEqual([]);
  });
});

describe('the CapabilityStatement cites our profiles', () => {
  it('names the social-prescribing profiles as supportedProfile', async () => {
    const res = await gp.get('/fhir/metadata');
    const byType = Object.fromEntries((res.body.rest[0].resource as fhir4.CapabilityStatementRestResource[]).map((r) => [r.type, r.supportedProfile ?? []]));
    expect(byType.ServiceRequest).toContain('https://signpost.health/fhir/StructureDefinition/sp-servicerequest');
    expect(byType.Task).toContain('https://signpost.health/fhir/StructureDefinition/sp-task');
    expect(byType.Patient).toContain('https://signpost.health/fhir/StructureDefinition/sp-patient');
    expect(byType.Consent).toContain('https://signpost.health/fhir/StructureDefinition/sp-consent');
  });
});

describe('a referral once made', () => {
  it('can be revoked (its open Task is cancelled with a coded reason) but not re-targeted or reactivated', async () => {
    const { patientId, consentId } = await patientWithConsent(7105);
    const made = await gp.post('/fhir/ServiceRequest', referral({ reference: `Patient/${patientId}` }, consentId));
    const sr = made.body as fhir4.ServiceRequest & { id: string };
    const retarget = await gp.put(`/fhir/ServiceRequest/${sr.id}`, { ...sr, performer: [{ reference: 'Organization/SP002' }] }, 'W/"1"');
    expect(retarget.status).toBe(422);
    expect((await gp.get(`/fhir/ServiceRequest/${sr.id}`)).body.meta.versionId).toBe('1');
    const revoked = await gp.put(`/fhir/ServiceRequest/${sr.id}`, { ...sr, status: 'revoked' }, 'W/"1"');
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    const task = (await lw.get(`/fhir/Task?focus=ServiceRequest/${sr.id}`)).body.entry[0].resource as fhir4.Task;
    expect(task.status).toBe('cancelled');
    expect(task.statusReason?.coding?.[0]?.code).toBe('cancelled-by-referrer');
    const again = await gp.put(`/fhir/ServiceRequest/${sr.id}`, { ...sr, status: 'active' }, 'W/"2"');
    expect(again.status).toBe(422);
    expect(again.body.issue[0].expression).toEqual(['ServiceRequest.status']);
  });

  it('gives another practice the Patient its conditional create names, so that it can refer by REST too', async () => {
    const { nhs, patientId } = await patientWithConsent(7150);
    const other = await gw.as('otherReferrer');
    expect((await other.get(`/fhir/Patient/${patientId}`)).status).toBe(404);
    const res = await other.post('/fhir/Patient', patient(nhs)).set('If-None-Exist', `identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}`);
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(patientId);
    expect((await other.get(`/fhir/Patient/${patientId}`)).status).toBe(200);
    // What the other practice sent did not overwrite what the first recorded.
    expect(res.body.meta.versionId).toBe('1');
    // The grant is part of the audited create: the auditor sees whom it was given to, and when.
    const auditor = await gw.as('auditor');
    const events = (await auditor.get(`/fhir/AuditEvent?patient=Patient/${patientId}&subtype=create&agent=Organization/B82002`)).body.entry ?? [];
    expect(events).toHaveLength(1);
  });

  it('does not name another practice\'s Patient when an NHS number is taken', async () => {
    const { nhs, patientId } = await patientWithConsent(7106);
    const other = await gw.as('otherReferrer');
    const res = await other.post('/fhir/Patient', patient(nhs));
    expect(res.status).toBe(409);
    expect(JSON.stringify(res.body)).not.toContain(patientId);
  });
});

describe('Provenance of an interaction', () => {
  const provenances = async (client: AuthedClient, target: string) =>
    ((await client.get(`/fhir/Provenance?target=${target}`)).body.entry ?? []).map((e: { resource: fhir4.Provenance }) => e.resource) as fhir4.Provenance[];
  const targets = (p: fhir4.Provenance) => p.target.map((t) => t.reference!.replace(/\/_history\/\d+$/, '')).sort();

  it('is one per activity and audience: a referral and the Task made for it share one, which the service sees', async () => {
    const { patientId, consentId } = await patientWithConsent(7107);
    const made = await gp.post('/fhir/ServiceRequest', referral({ reference: `Patient/${patientId}` }, consentId));
    expect(made.status).toBe(201);
    const task = (await lw.get(`/fhir/Task?based-on=ServiceRequest/${made.body.id}`)).body.entry[0].resource as fhir4.Task;
    const seen = await provenances(lw, `ServiceRequest/${made.body.id}`);
    expect(seen).toHaveLength(1);
    expect(targets(seen[0]!)).toEqual([`ServiceRequest/${made.body.id}`, `Task/${task.id}`].sort());
    expect(seen[0]!.target.every((t) => t.reference!.endsWith('/_history/1'))).toBe(true);
    expect(seen[0]!.activity?.coding?.[0]?.code).toBe('CREATE');
    // Revoking revises both in one interaction: one UPDATE Provenance for the two new versions.
    const revoked = await gp.put(`/fhir/ServiceRequest/${made.body.id}`, { ...made.body, status: 'revoked' }, 'W/"1"');
    expect(revoked.status).toBe(200);
    const after = await provenances(gp, `Task/${task.id}`);
    expect(after.map((p) => p.activity?.coding?.[0]?.code).sort()).toEqual(['CREATE', 'UPDATE']);
    expect(targets(after.find((p) => p.activity?.coding?.[0]?.code === 'UPDATE')!)).toEqual([`ServiceRequest/${made.body.id}`, `Task/${task.id}`].sort());
  });

  it('never names to an organisation a version it may not see: writes with different audiences get separate Provenances', async () => {
    const unreferred = nhsNumber(7108);
    const referredNhs = nhsNumber(7109);
    const bundle: fhir4.Bundle = {
      resourceType: 'Bundle', type: 'transaction', entry: [
        { fullUrl: 'urn:uuid:7a0c3d55-0b7e-4d1e-9c4e-000000007108', resource: patient(unreferred), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: 'urn:uuid:7a0c3d55-0b7e-4d1e-9c4e-000000007109', resource: patient(referredNhs), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: 'urn:uuid:7a0c3d55-0b7e-4d1e-9c4e-00000000c109', resource: { ...consent('x'), patient: { reference: 'urn:uuid:7a0c3d55-0b7e-4d1e-9c4e-000000007109' } } as fhir4.Consent, request: { method: 'POST', url: 'Consent' } },
        { resource: referral({ reference: 'urn:uuid:7a0c3d55-0b7e-4d1e-9c4e-000000007109' }, 'x', { supportingInfo: [{ reference: 'urn:uuid:7a0c3d55-0b7e-4d1e-9c4e-00000000c109' }] }), request: { method: 'POST', url: 'ServiceRequest' } },
      ],
    };
    const res = await gp.post('/fhir', bundle);
    expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
    const [alone, referred] = (res.body.entry as fhir4.BundleEntry[]).map((e) => e.response!.location!.split('/_history')[0]!);
    // The practice sees both Provenances; the service only the one of what was shared with it.
    expect((await provenances(gp, alone!)).map(targets)).toEqual([[alone]]);
    const shared = await provenances(lw, referred!);
    expect(shared).toHaveLength(1);
    expect(targets(shared[0]!)).toHaveLength(4);
    expect(targets(shared[0]!)).not.toContain(alone);
    expect(await provenances(lw, alone!)).toEqual([]);
  });
});
