import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nhsNumber } from '../fixtures/gateway.js';
import { startSecureTestGateway, type AuthedClient, type SecureTestGateway } from '../fixtures/secure-gateway.js';

const examples = path.resolve(import.meta.dirname, '../../profiles/examples');
const text = (file: string) => fs.readFileSync(path.join(examples, file), 'utf8');

let gw: SecureTestGateway;
let gp: AuthedClient;
let auditor: AuthedClient;
beforeAll(async () => {
  gw = await startSecureTestGateway();
  [gp, auditor] = await Promise.all([gw.as('referrer'), gw.as('auditor')]);
});
afterAll(async () => { await gw.close(); });

/** The BaRS example message with its own NHS number and referral identifier. */
function message(seed: number, reason = 'new', status = 'active'): { bundle: fhir4.Bundle; identifier: string } {
  const identifier = `bars-${seed}-${Date.now()}`;
  const body = text('Bundle-sp-referral-bars-message.json')
    .split('A81001-2025-bars-000456').join(identifier)
    .split('9000000106').join(nhsNumber(seed))
    .replace('"code": "new"', `"code": "${reason}"`).replace('"code":"new"', `"code":"${reason}"`);
  const bundle = JSON.parse(body) as fhir4.Bundle;
  const sr = bundle.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!.resource as fhir4.ServiceRequest;
  sr.status = status as fhir4.ServiceRequest['status'];
  const header = bundle.entry![0]!.resource as fhir4.MessageHeader;
  header.reason = { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/message-reason-bars', code: reason }] };
  return { bundle, identifier };
}

const send = (bundle: fhir4.Bundle, requestId?: string) => {
  const r = gp.post('/fhir/$process-message', bundle);
  return requestId ? r.set('X-Request-Id', requestId) : r;
};

async function referral(identifier: string): Promise<{ sr: fhir4.ServiceRequest; tasks: fhir4.Task[] }> {
  const q = encodeURIComponent(`https://signpost.health/fhir/Id/referral|${identifier}`);
  const srs = (await auditor.get(`/fhir/ServiceRequest?identifier=${q}`)).body.entry ?? [];
  expect(srs).toHaveLength(1);
  const sr = srs[0].resource as fhir4.ServiceRequest;
  const tasks = ((await auditor.get(`/fhir/Task?focus=ServiceRequest/${sr.id}`)).body.entry ?? []).map((e: { resource: fhir4.Task }) => e.resource);
  return { sr, tasks };
}

describe('BaRS $process-message', () => {
  it('accepts a new referral as published BaRS shapes it (intent plan, no code, lower-case ODS system) and answers with a response message', async () => {
    const { bundle, identifier } = message(6001);
    const res = await send(bundle, `msg-${identifier}`);
    expect(res.status, JSON.stringify(res.body).slice(0, 600)).toBe(200);
    expect(res.body.type).toBe('message');
    const header = res.body.entry[0].resource as fhir4.MessageHeader;
    expect(header.response?.code).toBe('ok');
    const { sr, tasks } = await referral(identifier);
    expect(sr.intent).toBe('plan');
    expect(sr.code?.coding?.[0]?.code).toBe('871731000000106');
    expect(sr.requester?.identifier).toEqual({ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' });
    expect(sr.performer?.[0]?.reference).toBe('Organization/SP001');
    expect(tasks.map((t) => [t.status, t.owner?.reference])).toEqual([['requested', 'Organization/SP001']]);
    expect(header.focus?.[0]?.reference).toBe(`ServiceRequest/${sr.id}`);
  });

  it('treats X-Request-Id as the idempotency key: a repeat answers with the first response and creates nothing', async () => {
    const { bundle, identifier } = message(6002);
    const first = await send(bundle, `msg-${identifier}`);
    const again = await send(bundle, `msg-${identifier}`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const { tasks } = await referral(identifier);
    expect(tasks).toHaveLength(1);
  });

  it('cancels the referral and its open Task on an update carrying a revoked ServiceRequest', async () => {
    const { bundle, identifier } = message(6003);
    expect((await send(bundle)).status).toBe(200);
    const cancel = message(6003, 'update', 'revoked');
    const body = JSON.parse(JSON.stringify(cancel.bundle).split(cancel.identifier).join(identifier)) as fhir4.Bundle;
    const res = await send(body);
    expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
    const { sr, tasks } = await referral(identifier);
    expect(sr.status).toBe('revoked');
    expect(tasks.map((t) => t.status)).toEqual(['cancelled']);
    expect(tasks[0]!.statusReason?.text).toMatch(/revoked/);
  });

  it('marks the referral and its Task entered-in-error on a delete', async () => {
    const { bundle, identifier } = message(6004);
    expect((await send(bundle)).status).toBe(200);
    const del = message(6004, 'delete');
    const body = JSON.parse(JSON.stringify(del.bundle).split(del.identifier).join(identifier)) as fhir4.Bundle;
    expect((await send(body)).status).toBe(200);
    const { sr, tasks } = await referral(identifier);
    expect(sr.status).toBe('entered-in-error');
    expect(tasks.map((t) => t.status)).toEqual(['entered-in-error']);
  });

  it('refuses an update for a referral it does not know, and other message events', async () => {
    const { bundle } = message(6005, 'update', 'revoked');
    const res = await send(bundle);
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['ServiceRequest.identifier']);
    const other = message(6006).bundle;
    (other.entry![0]!.resource as fhir4.MessageHeader).eventCoding = { system: 'https://fhir.nhs.uk/CodeSystem/message-events-bars', code: 'booking-request' };
    const refused = await send(other);
    expect(refused.status).toBe(422);
    expect(refused.body.issue[0].code).toBe('not-supported');
  });

  it('names the faulty element by its place in the message, not in any internal bundle', async () => {
    const { bundle } = message(6008);
    const index = bundle.entry!.findIndex((e) => e.resource?.resourceType === 'ServiceRequest');
    (bundle.entry![index]!.resource as fhir4.ServiceRequest).reasonCode = [{ coding: [{ system: 'http://snomed.info/sct', code: '365552003' }] }];
    const res = await send(bundle);
    expect(res.status).toBe(422);
    expect(res.body.issue[0].code).toBe('code-invalid');
    expect(res.body.issue[0].expression).toEqual([`Bundle.entry[${index}].resource.reasonCode[0]`]);
  });

  it('gives the same stored referral and Task as the transaction path (ids and timestamps aside)', async () => {
    const { bundle, identifier } = message(6007);
    expect((await send(bundle)).status).toBe(200);
    const viaMessage = await referral(identifier);
    // The same referral as a transaction Bundle: the message's entries with the code it lacked.
    const tx = JSON.parse(JSON.stringify(bundle)) as fhir4.Bundle;
    const sr = tx.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!.resource as fhir4.ServiceRequest;
    const second = `${identifier}-tx`;
    sr.identifier = [{ system: 'https://signpost.health/fhir/Id/referral', value: second }];
    sr.code = { coding: [{ system: 'http://snomed.info/sct', code: '871731000000106', display: 'Referral to social prescribing service' }] };
    sr.requester = { type: 'Organization', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' }, display: 'Riverside Surgery' };
    sr.performer = [{ type: 'Organization', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'SP001' }, display: 'Riverside Social Prescribing Service' }];
    const transaction: fhir4.Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: tx.entry!.filter((e) => ['Patient', 'Consent', 'ServiceRequest'].includes(e.resource!.resourceType)).map((e) => {
        const { meta: _m, ...resource } = e.resource as fhir4.Resource;
        const nhs = (resource as fhir4.Patient).identifier?.[0]?.value;
        return { fullUrl: e.fullUrl!, resource, request: { method: 'POST' as const, url: resource.resourceType, ...(resource.resourceType === 'Patient' ? { ifNoneExist: `identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}` } : {}) } };
      }),
    };
    const res = await gp.post('/fhir', transaction);
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(200);
    const viaTransaction = await referral(second);
    const comparable = (r: fhir4.Resource) => JSON.parse(JSON.stringify(r, (k, v) => (['id', 'meta', 'authoredOn', 'identifier', 'reference', 'supportingInfo'].includes(k) ? undefined : v)));
    expect(comparable(viaTransaction.sr)).toEqual(comparable(viaMessage.sr));
    expect(comparable(viaTransaction.tasks[0]!)).toEqual(comparable(viaMessage.tasks[0]!));
    expect(viaTransaction.sr.subject?.reference).toBe(viaMessage.sr.subject?.reference);
  });
});

describe('BaRS entries beyond the referral itself', () => {
  /** The example reshaped as GP systems commonly send it: a clinician (PractitionerRole and Practitioner) requests, a HealthcareService performs. */
  function withClinicianAndService(seed: number): { bundle: fhir4.Bundle; identifier: string; roleId: string } {
    const { bundle, identifier } = message(seed);
    const entries = bundle.entry!;
    const sr = entries.find((e) => e.resource?.resourceType === 'ServiceRequest')!.resource as fhir4.ServiceRequest;
    const orgs = entries.filter((e) => e.resource?.resourceType === 'Organization');
    const practiceUrl = orgs.find((e) => e.fullUrl === sr.requester?.reference)!.fullUrl!;
    const serviceUrl = orgs.find((e) => e.fullUrl === sr.performer?.[0]?.reference)!.fullUrl!;
    const roleId = `sds-role-${seed}-${Date.now()}`;
    const roleUrl = 'urn:uuid:8d1c6f0e-5a3b-4c2d-9e1f-00000000a001';
    const practitionerUrl = 'urn:uuid:8d1c6f0e-5a3b-4c2d-9e1f-00000000a002';
    const hsUrl = 'urn:uuid:8d1c6f0e-5a3b-4c2d-9e1f-00000000a003';
    entries.push(
      { fullUrl: practitionerUrl, resource: { resourceType: 'Practitioner', identifier: [{ system: 'https://fhir.nhs.uk/Id/sds-user-id', value: `u-${roleId}` }], name: [{ family: 'Okafor', given: ['Ada'], prefix: ['Dr'] }] } as fhir4.Practitioner },
      { fullUrl: roleUrl, resource: { resourceType: 'PractitionerRole', identifier: [{ system: 'https://fhir.nhs.uk/Id/sds-role-profile-id', value: roleId }], practitioner: { reference: practitionerUrl }, organization: { reference: practiceUrl } } as fhir4.PractitionerRole },
      { fullUrl: hsUrl, resource: { resourceType: 'HealthcareService', name: 'Riverside social prescribing', providedBy: { reference: serviceUrl } } as fhir4.HealthcareService },
    );
    sr.requester = { reference: roleUrl };
    sr.performer = [{ reference: hsUrl }];
    (entries.find((e) => e.resource?.resourceType === 'Patient')!.resource as fhir4.Patient).generalPractitioner = [{ reference: practiceUrl }];
    return { bundle, identifier, roleId };
  }

  it('records the requesting clinician as a role at the practice, routes by the HealthcareService provider and keeps every other reference resolvable', async () => {
    const { bundle, identifier, roleId } = withClinicianAndService(6101);
    const res = await send(bundle, `msg-${identifier}`);
    expect(res.status, JSON.stringify(res.body).slice(0, 600)).toBe(200);
    const { sr, tasks } = await referral(identifier);
    expect(sr.requester?.reference).toMatch(/^PractitionerRole\//);
    const role = (await gp.get(`/fhir/${sr.requester!.reference}`)).body as fhir4.PractitionerRole;
    expect(role.identifier?.[0]?.value).toBe(roleId);
    expect(role.organization?.identifier).toEqual({ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' });
    const practitioner = (await gp.get(`/fhir/${role.practitioner!.reference}`)).body as fhir4.Practitioner;
    expect(practitioner.name?.[0]?.family).toBe('Okafor');
    expect(sr.performer?.[0]?.reference).toBe('Organization/SP001');
    expect(tasks.map((t) => t.owner?.reference)).toEqual(['Organization/SP001']);
    const patient = (await gp.get(`/fhir/${sr.subject!.reference}`)).body as fhir4.Patient;
    expect(patient.generalPractitioner?.[0]).toMatchObject({ identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A81001' } });
    expect(JSON.stringify(patient)).not.toContain('urn:uuid:');
  });

  it('finds the clinician again by identifier: a second referral by the same role records no second PractitionerRole', async () => {
    const first = withClinicianAndService(6102);
    expect((await send(first.bundle)).status).toBe(200);
    const second = withClinicianAndService(6103);
    const body = JSON.parse(JSON.stringify(second.bundle).split(second.roleId).join(first.roleId)) as fhir4.Bundle;
    expect((await send(body)).status).toBe(200);
    const roles = await gp.get(`/fhir/PractitionerRole?identifier=${encodeURIComponent(`https://fhir.nhs.uk/Id/sds-role-profile-id|${first.roleId}`)}`);
    expect(roles.body.entry).toHaveLength(1);
    const [a, b] = await Promise.all([referral(first.identifier), referral(second.identifier)]);
    expect(a.sr.requester?.reference).toBe(b.sr.requester?.reference);
  });
});

describe('BaRS updates correlated by fullUrl (SERVREQ01)', () => {
  it('finds the referral by the urn:uuid its ServiceRequest had in the original message when the update carries no identifier', async () => {
    const srUrl = `urn:uuid:${crypto.randomUUID()}`;
    const withUrl = (b: fhir4.Bundle, from: string) => JSON.parse(JSON.stringify(b).split(from).join(srUrl)) as fhir4.Bundle;
    const { bundle, identifier } = message(6201);
    const originalUrl = bundle.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!.fullUrl!;
    expect((await send(withUrl(bundle, originalUrl))).status).toBe(200);
    const cancel = withUrl(message(6201, 'update', 'revoked').bundle, originalUrl);
    delete (cancel.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!.resource as fhir4.ServiceRequest).identifier;
    // Another practice sending the same fullUrl finds nothing of this one's.
    const other = await gw.as('otherReferrer');
    const refused = await other.post('/fhir/$process-message', cancel);
    expect(refused.status).toBe(422);
    expect(refused.body.issue[0].expression).toEqual(['ServiceRequest.identifier']);
    const res = await send(cancel);
    expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
    const { sr, tasks } = await referral(identifier);
    expect(sr.status).toBe('revoked');
    expect(tasks.map((t) => t.status)).toEqual(['cancelled']);
    // The stored referral carries nothing of the message's fullUrl: every path stores the same.
    expect(JSON.stringify(sr)).not.toContain(srUrl);
  });
});
