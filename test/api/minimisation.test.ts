import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOutcome } from '../fixtures/api.js';
import { arrangeReferralWorlds, NHS_NUMBER_SYSTEM, type ReferralWorlds } from '../fixtures/referral-world.js';
import { startSecureTestGateway, type AuthedClient, type SecureTestGateway } from '../fixtures/secure-gateway.js';

/**
 * DESIGN.md "Roles": the community asset gets a minimised Patient — name and contact details, no NHS
 * number or other identifier, nothing clinical, labelled REDACTED — wherever the Patient reaches it:
 * read, vread, history, search, _include and batch entries. Everyone else gets the Patient as stored.
 */
const REDACTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'REDACTED' };
/** What a minimised Patient may hold at most. */
const MINIMISED_KEYS = ['resourceType', 'id', 'meta', 'name', 'telecom', 'communication'];

let gw: SecureTestGateway;
let worlds: ReferralWorlds;
let asset: AuthedClient;
let stored: fhir4.Patient & { meta: fhir4.Meta };

beforeAll(async () => {
  gw = await startSecureTestGateway();
  worlds = await arrangeReferralWorlds(gw, 7_300_000);
  asset = await gw.as('communityAsset');
  stored = (await (await gw.as('auditor')).get(`/fhir/Patient/${worlds.first.patient}`)).body;
});
afterAll(async () => { await gw.close(); });

/** Asserts `p` is the first world's Patient, minimised. */
function expectMinimised(p: fhir4.Patient | undefined): void {
  expect(p?.resourceType).toBe('Patient');
  expect(p!.id).toBe(worlds.first.patient);
  for (const removed of ['identifier', 'birthDate', 'gender', 'address', 'extension', 'generalPractitioner',
    'managingOrganization', 'maritalStatus', 'contact', 'active', 'text']) {
    expect(p, `Patient.${removed} is removed`).not.toHaveProperty(removed);
  }
  expect(Object.keys(p!).filter((k) => !MINIMISED_KEYS.includes(k)), 'nothing beyond name and contact details').toEqual([]);
  expect(p!.name).toEqual(stored.name);
  expect(p!.telecom).toEqual(stored.telecom);
  expect(p!.meta?.security).toEqual(expect.arrayContaining([expect.objectContaining(REDACTED)]));
  const text = JSON.stringify(p);
  expect(text, 'no NHS number anywhere').not.toContain(worlds.first.nhsNumber);
  expect(text, 'no birth date anywhere').not.toContain(stored.birthDate!);
}

function expectFull(p: fhir4.Patient | undefined): void {
  expect(p).toEqual(stored);
  expect(p!.identifier).toEqual([{ system: NHS_NUMBER_SYSTEM, value: worlds.first.nhsNumber }]);
  expect(JSON.stringify(p!.meta?.security ?? [])).not.toContain('REDACTED');
}

const patientsIn = (bundle: fhir4.Bundle): fhir4.Patient[] =>
  (bundle.entry ?? []).map((e) => e.resource).filter((r): r is fhir4.Patient => r?.resourceType === 'Patient');

describe('the community asset sees a minimised Patient', () => {
  it('the stored Patient is the full one (the arrangement is right)', () => {
    for (const element of ['identifier', 'birthDate', 'gender', 'address', 'extension', 'generalPractitioner', 'name', 'telecom']) {
      expect(stored).toHaveProperty(element);
    }
  });

  it('on read', async () => {
    const res = await asset.get(`/fhir/Patient/${worlds.first.patient}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectMinimised(res.body);
  });

  it('on vread and in the instance history', async () => {
    const vread = await asset.get(`/fhir/Patient/${worlds.first.patient}/_history/1`);
    expect(vread.status).toBe(200);
    expectMinimised(vread.body);
    const history = await asset.get(`/fhir/Patient/${worlds.first.patient}/_history`);
    expect(history.status).toBe(200);
    expect(patientsIn(history.body).length).toBeGreaterThan(0);
    patientsIn(history.body).forEach(expectMinimised);
  });

  it('in search results', async () => {
    const res = await asset.get(`/fhir/Patient?_id=${worlds.first.patient}`);
    expect(res.status).toBe(200);
    expect(patientsIn(res.body)).toHaveLength(1);
    expectMinimised(patientsIn(res.body)[0]);
  });

  it('in the type history', async () => {
    const res = await asset.get('/fhir/Patient/_history');
    expect(res.status).toBe(200);
    expect(patientsIn(res.body).length).toBeGreaterThan(0);
    patientsIn(res.body).forEach(expectMinimised);
  });

  it('through _include=Task:patient', async () => {
    const res = await asset.get('/fhir/Task?_include=Task:patient');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const tasks = (res.body.entry as fhir4.BundleEntry[]).filter((e) => e.resource?.resourceType === 'Task');
    expect(tasks.map((e) => e.resource?.id)).toEqual([worlds.first.childTask]);
    expect(patientsIn(res.body)).toHaveLength(1);
    expectMinimised(patientsIn(res.body)[0]);
  });

  it('in a batch GET entry', async () => {
    const res = await asset.post('/fhir', { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Patient/${worlds.first.patient}` } }] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expectMinimised(res.body.entry[0].resource);
  });

  it('cannot find the Patient by the NHS number it is not given', async () => {
    for (const identifier of [`${NHS_NUMBER_SYSTEM}|${worlds.first.nhsNumber}`, worlds.first.nhsNumber]) {
      const res = await asset.get(`/fhir/Patient?identifier=${encodeURIComponent(identifier)}`);
      expect([200, 403], JSON.stringify(res.body)).toContain(res.status);
      if (res.status === 200) expect(patientsIn(res.body), `Patient?identifier=${identifier} must not confirm the NHS number`).toEqual([]);
    }
  });

  it('does not see the other world\'s Patient at all', async () => {
    expectOutcome(await asset.get(`/fhir/Patient/${worlds.second.patient}`), { status: 404, code: 'not-found' });
  });

  it('minimising is a view: the stored Patient is unchanged', async () => {
    const after = await (await gw.as('auditor')).get(`/fhir/Patient/${worlds.first.patient}`);
    expect(after.body).toEqual(stored);
  });
});

describe('everyone else sees the Patient as stored', () => {
  it('the link worker, on read and through _include=Task:patient', async () => {
    const lw = await gw.as('linkWorker');
    const read = await lw.get(`/fhir/Patient/${worlds.first.patient}`);
    expect(read.status).toBe(200);
    expectFull(read.body);
    const included = await lw.get(`/fhir/Task?_id=${worlds.first.task}&_include=Task:patient`);
    expect(included.status).toBe(200);
    expect(patientsIn(included.body)).toHaveLength(1);
    expectFull(patientsIn(included.body)[0]);
  });

  it('the referrer', async () => {
    const read = await (await gw.as('referrer')).get(`/fhir/Patient/${worlds.first.patient}`);
    expect(read.status).toBe(200);
    expectFull(read.body);
  });
});
