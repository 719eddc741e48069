import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SUBSCRIPTION_SECRET_URL } from '../../src/delivery/subscriptions.js';
import { consentExpiryJob } from '../../src/jobs/consent-expiry.js';
import { expectOutcome } from '../fixtures/api.js';
import { startReceiver, type Receiver } from '../fixtures/receiver.js';
import { freshReferral, moveTask, refer, type Versioned } from '../fixtures/referrals.js';
import { startSecureTestGateway, type AuthedClient, type SecureTestGateway } from '../fixtures/secure-gateway.js';

/**
 * Issue 9: consent that lapses stops sharing. A practice withdrawing consent (its Consent inactive or
 * rejected) stops delivery of the patient's data to community groups at once, puts the referral's open
 * Tasks on hold and takes the patient out of the groups' sight; an ended consent period does the same
 * through the consent-expiry job. Consent recorded again lets the service resume, and the groups with it.
 */

const DAY = 86_400_000_000;
let receiver: Receiver;
let gw: SecureTestGateway;
let gp: AuthedClient;
let lw: AuthedClient;
let asset: AuthedClient;
let auditor: AuthedClient;

beforeAll(async () => {
  receiver = await startReceiver('/hooks');
  gw = await startSecureTestGateway(undefined, {
    configure: (d) => ({ ...d, delivery: { firstRetrySeconds: 0.05, maxRetrySeconds: 0.1, pollSeconds: 0.05, timeoutSeconds: 2, maxAttempts: 100, breakerFailures: 1000 } }),
    deliveries: {},
  });
  [gp, lw, asset, auditor] = await Promise.all([gw.as('referrer'), gw.as('linkWorker'), gw.as('communityAsset'), gw.as('auditor')]);
  const sub = await asset.post('/fhir/Subscription', {
    resourceType: 'Subscription', status: 'requested', reason: 'Our hand-ons', criteria: 'Task?owner=Organization/V001',
    channel: { type: 'rest-hook', endpoint: `${receiver.url}/v001`, payload: 'application/fhir+json' },
    extension: [{ url: SUBSCRIPTION_SECRET_URL, valueString: 'a-long-shared-secret-for-the-hmac-0123456789' }],
  });
  expect(sub.status, JSON.stringify(sub.body)).toBe(201);
});
afterAll(async () => {
  await gw.close();
  await receiver.close();
});

async function moved(api: AuthedClient, task: Versioned<fhir4.Task>, change: Partial<fhir4.Task>): Promise<Versioned<fhir4.Task>> {
  const res = await moveTask(api, task, change);
  expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
  return res.body;
}

const handOnBody = (parent: fhir4.Task & { id: string }): fhir4.Task => ({
  resourceType: 'Task', status: 'requested', intent: 'order',
  code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
  partOf: [{ reference: `Task/${parent.id}` }], owner: { reference: 'Organization/V001' }, description: 'Tuesday walking group',
});

/**
 * A referral started by its service and handed on to the walking group V001; its Consent as the
 * practice reads it. `consentDate` makes the Consent a new statement (the same one would be recognised).
 */
async function handedOn(seed: number, consentDate?: string) {
  const r = consentDate ? await referWithConsentOf(seed, consentDate) : await refer(gp, lw, seed);
  const started = await moved(lw, await moved(lw, r.task, { status: 'accepted' }), { status: 'in-progress' });
  const child = await lw.post('/fhir/Task', handOnBody(started));
  expect(child.status, JSON.stringify(child.body).slice(0, 400)).toBe(201);
  const consentId = ((await gp.get(`/fhir/ServiceRequest/${r.sr}`)).body as fhir4.ServiceRequest).supportingInfo![0]!.reference!.split('/')[1]!;
  return { ...r, task: started, child: child.body as Versioned<fhir4.Task>, consentId };
}

async function referWithConsentOf(seed: number, dateTime: string): Promise<Awaited<ReturnType<typeof refer>>> {
  const { bundle } = freshReferral(seed);
  (bundle.entry!.find((e) => e.resource?.resourceType === 'Consent')!.resource as fhir4.Consent).dateTime = dateTime;
  const res = await gp.post('/fhir', bundle);
  expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
  const idOf = (type: string) => (res.body.entry as fhir4.BundleEntry[]).map((e) => e.fullUrl ?? '').find((u) => u.includes(`/${type}/`))!.split('/').at(-1)!;
  const task = (await lw.get(`/fhir/Task?focus=ServiceRequest/${idOf('ServiceRequest')}`)).body.entry[0].resource;
  return { sr: idOf('ServiceRequest'), patient: idOf('Patient'), task };
}

async function setConsent(id: string, change: Partial<fhir4.Consent>): Promise<void> {
  const current = (await gp.get(`/fhir/Consent/${id}`)).body as fhir4.Consent;
  const res = await gp.put(`/fhir/Consent/${id}`, { ...current, ...change });
  expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
}

const read = async (api: AuthedClient, type: string, id: string) => (await api.get(`/fhir/${type}/${id}`)).body;
const reasonOf = (t: fhir4.Task) => t.statusReason?.coding?.[0]?.code;

async function deliveriesFor(patient: string, state: string): Promise<string[]> {
  const all = await gw.store.transaction((tx) => tx.deliveries.list({ limit: 1000, state: state as 'pending' }));
  return all.filter((d) => d.patient === `Patient/${patient}` && d.receiver.startsWith('subscription:')).map((d) => d.resource);
}

describe('a practice withdraws consent', () => {
  it('puts the referral\'s open Tasks on hold, withholds what the group was owed and takes the patient out of its sight', async () => {
    receiver.answer = () => ({ status: 503 }); // the group's platform is down: its notifications wait in the outbox
    const r = await handedOn(960_001);
    expect((await asset.get(`/fhir/Patient/${r.patient}`)).status).toBe(200);
    await receiver.waitFor((got) => got.some((x) => x.text.includes(r.child.id)));
    expect(await deliveriesFor(r.patient, 'pending')).toEqual([`Task/${r.child.id}/_history/1`]);

    await setConsent(r.consentId, { status: 'inactive' });

    const task = await read(lw, 'Task', r.task.id) as fhir4.Task;
    expect([task.status, reasonOf(task)]).toEqual(['on-hold', 'consent-withdrawn']);
    const child = await read(lw, 'Task', r.child.id) as fhir4.Task;
    expect([child.status, reasonOf(child)]).toEqual(['on-hold', 'consent-withdrawn']);
    // The group: its Task says why it stopped; the patient is gone, by read, search and _include.
    expect((await read(asset, 'Task', r.child.id) as fhir4.Task).status).toBe('on-hold');
    expect((await asset.get(`/fhir/Patient/${r.patient}`)).status).toBe(404);
    expect((await asset.get(`/fhir/Patient?_id=${r.patient}`)).body.entry ?? []).toEqual([]);
    const included = await asset.get(`/fhir/Task?_id=${r.child.id}&_include=Task:patient`);
    expect((included.body.entry as fhir4.BundleEntry[]).map((e) => e.resource!.resourceType)).toEqual(['Task']);
    // The service keeps its record.
    expect((await lw.get(`/fhir/Patient/${r.patient}`)).status).toBe(200);
    // What the group was still owed is withheld: only the news of the hold (id-only) remains to go.
    expect(await deliveriesFor(r.patient, 'withheld')).toEqual([`Task/${r.child.id}/_history/1`]);
    expect(await deliveriesFor(r.patient, 'pending')).toEqual([`Task/${r.child.id}/_history/2`]);
    receiver.answer = (req) => ({ status: 200, body: req.body });
    await receiver.waitFor((got) => got.some((x) => x.status === 200 && x.text.includes(`Task/${r.child.id}/_history/2`)));
    expect(receiver.received.some((x) => x.status === 200 && x.text.includes(`Task/${r.child.id}/_history/1`))).toBe(false);
    // The hold is the practice's doing: its Provenance names the practice.
    const prov = await auditor.get(`/fhir/Provenance?target=Task/${r.child.id}`);
    const agents = (prov.body.entry as { resource: fhir4.Provenance }[])
      .filter((e) => e.resource.target.some((t) => t.reference === `Task/${r.child.id}/_history/2`))
      .map((e) => e.resource.agent[0]?.who?.identifier?.value);
    expect(agents).toEqual(['gp-a81001']);
  });

  it('nothing more is shared: no hand-on, no resuming, until the practice records consent again; then the group is back', async () => {
    const r = await handedOn(960_020);
    await setConsent(r.consentId, { status: 'rejected' });
    expect((await asset.get(`/fhir/Patient/${r.patient}`)).status).toBe(404);
    const held = await read(lw, 'Task', r.task.id) as Versioned<fhir4.Task>;
    expectOutcome(await lw.post('/fhir/Task', handOnBody(held)), { status: 422, code: 'business-rule', expression: 'Task.partOf[0]' });
    expectOutcome(await moveTask(lw, held, { status: 'in-progress', statusReason: undefined }), { status: 422, code: 'business-rule', expression: 'Task.status' });
    const heldChild = await read(asset, 'Task', r.child.id) as Versioned<fhir4.Task>;
    expectOutcome(await moveTask(asset, heldChild, { status: 'in-progress', statusReason: undefined }), { status: 422, code: 'business-rule', expression: 'Task.status' });
    // A note from the group while held does not give it the patient back.
    await moved(asset, heldChild, { note: [{ text: 'We will wait to hear from the service' }] });
    expect((await asset.get(`/fhir/Patient/${r.patient}`)).status).toBe(404);

    await setConsent(r.consentId, { status: 'active' });
    const resumed = await moved(lw, held, { status: 'in-progress', statusReason: undefined });
    expect(resumed.status).toBe('in-progress');
    const child = await read(asset, 'Task', r.child.id) as fhir4.Task;
    expect([child.status, child.statusReason]).toEqual(['requested', undefined]);
    expect((await asset.get(`/fhir/Patient/${r.patient}`)).status).toBe(200);
  });

  it('a referral resting on a withdrawn consent is refused at intake, naming it', async () => {
    const r = await handedOn(960_030);
    await setConsent(r.consentId, { provision: { type: 'deny' } });
    expect((await read(lw, 'Task', r.task.id) as fhir4.Task).status).toBe('on-hold');
    const again = freshReferral(960_040).bundle;
    const sr = again.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!.resource as fhir4.ServiceRequest;
    again.entry = again.entry!.filter((e) => e.resource?.resourceType !== 'Consent');
    sr.supportingInfo = [{ reference: `Consent/${r.consentId}` }];
    sr.subject = { reference: `Patient/${r.patient}` };
    again.entry = again.entry.filter((e) => e.resource?.resourceType !== 'Patient');
    const res = await gp.post('/fhir', again);
    // The transaction names the entry at fault: the ServiceRequest is its first.
    expectOutcome(res, { status: 422, code: 'business-rule', expression: 'Bundle.entry[0].resource.supportingInfo[0]' });
  });
});

describe('the consent hold is the gateway\'s', () => {
  const CONSENT_WITHDRAWN = { coding: [{ system: 'https://signpost.health/fhir/CodeSystem/sp-task-status-reason', code: 'consent-withdrawn' }] };
  const AT_CAPACITY = { coding: [{ system: 'https://signpost.health/fhir/CodeSystem/sp-task-status-reason', code: 'asset-unavailable' }] };

  it('an owner may neither give the consent reasons nor swap them away to resume or share without consent', async () => {
    const r = await handedOn(960_070);
    expectOutcome(await moveTask(lw, r.task, { status: 'on-hold', statusReason: CONSENT_WITHDRAWN }), { status: 422, code: 'business-rule', expression: 'Task.statusReason' });
    await setConsent(r.consentId, { status: 'inactive' });
    const child = await read(asset, 'Task', r.child.id) as Versioned<fhir4.Task>;
    expectOutcome(await moveTask(asset, child, { statusReason: AT_CAPACITY }), { status: 422, code: 'business-rule', expression: 'Task.statusReason' });
    const held = await read(lw, 'Task', r.task.id) as Versioned<fhir4.Task>;
    expectOutcome(await moveTask(lw, held, { statusReason: AT_CAPACITY }), { status: 422, code: 'business-rule', expression: 'Task.statusReason' });
    expect((await asset.get(`/fhir/Patient/${r.patient}`)).status).toBe(404);
  });

  it('a held referral is not passed to another service', async () => {
    const r = await handedOn(960_080);
    await setConsent(r.consentId, { status: 'inactive' });
    const held = await read(lw, 'Task', r.task.id) as Versioned<fhir4.Task>;
    expectOutcome(await moveTask(lw, held, { owner: { reference: 'Organization/SP002' }, status: 'requested', statusReason: undefined }),
      { status: 422, code: 'business-rule', expression: 'Task.owner' });
  });

  it('a group\'s own hold is held for consent too, and comes back as it was when consent is recorded again', async () => {
    const r = await handedOn(960_090);
    const accepted = await moved(asset, await read(asset, 'Task', r.child.id) as Versioned<fhir4.Task>, { status: 'accepted' });
    const own = await moved(asset, accepted, { status: 'on-hold', statusReason: AT_CAPACITY });
    await setConsent(r.consentId, { status: 'inactive' });
    const held = await read(asset, 'Task', own.id) as Versioned<fhir4.Task>;
    expect(reasonOf(held)).toBe('consent-withdrawn');
    await moved(asset, held, { note: [{ text: 'waiting' }] });
    expect((await asset.get(`/fhir/Patient/${r.patient}`)).status).toBe(404);
    await setConsent(r.consentId, { status: 'active' });
    await moved(lw, await read(lw, 'Task', r.task.id) as Versioned<fhir4.Task>, { status: 'in-progress', statusReason: undefined });
    const back = await read(asset, 'Task', own.id) as fhir4.Task;
    expect([back.status, reasonOf(back)]).toEqual(['on-hold', 'asset-unavailable']);
  });

  it('a Consent that ended unnoticed and is then withdrawn is acted on at the withdrawal', async () => {
    const r = await handedOn(960_100);
    // Ended yesterday: the hourly job has not run yet.
    await setConsent(r.consentId, { provision: { type: 'permit', period: { start: '2025-01-01', end: new Date(Date.now() - 86_400_000).toISOString().slice(0, 10) } } });
    expect((await read(lw, 'Task', r.task.id) as fhir4.Task).status).toBe('on-hold');
    await setConsent(r.consentId, { status: 'inactive' });
    expect((await read(lw, 'Task', r.task.id) as fhir4.Task).status).toBe('on-hold');
  });
});

describe('a patient referred twice', () => {
  it('keeps the group\'s view through the referral that still has consent, and loses it with the last', async () => {
    const first = await handedOn(960_060);
    const second = await handedOn(960_060, '2026-06-01T09:00:00Z'); // the same NHS number: the same Patient; a second referral and Consent
    expect(second.patient).toBe(first.patient);
    expect(second.consentId).not.toBe(first.consentId);
    await setConsent(first.consentId, { status: 'inactive' });
    expect((await read(lw, 'Task', first.child.id) as fhir4.Task).status).toBe('on-hold');
    expect((await read(lw, 'Task', second.child.id) as fhir4.Task).status).toBe('requested');
    expect((await asset.get(`/fhir/Patient/${first.patient}`)).status).toBe(200);
    await setConsent(second.consentId, { status: 'inactive' });
    expect((await read(lw, 'Task', second.child.id) as fhir4.Task).status).toBe('on-hold');
    expect((await asset.get(`/fhir/Patient/${first.patient}`)).status).toBe(404);
  });
});

describe('the consent-expiry job (controllable clock)', () => {
  it('holds the Tasks of a referral whose consent period has ended, once, and is audited', async () => {
    const now = Date.now() * 1000;
    const end = new Date((now + 2 * DAY) / 1000).toISOString().slice(0, 10);
    const r = await handedOn(960_050);
    await setConsent(r.consentId, { provision: { type: 'permit', period: { start: '2025-01-01', end } } });
    const job = consentExpiryJob(gw.store, gw.run, pino({ level: 'silent' }));
    expect(await job.run(now)).toEqual({ consents: 0, held: 0, failed: 0 }); // not yet ended
    expect((await read(lw, 'Task', r.task.id) as fhir4.Task).status).toBe('in-progress');

    const later = now + 4 * DAY;
    expect(await job.run(later)).toEqual({ consents: 1, held: 2, failed: 0 });
    const task = await read(lw, 'Task', r.task.id) as fhir4.Task;
    expect([task.status, reasonOf(task)]).toEqual(['on-hold', 'consent-expired']);
    expect(task.statusReason?.text).toContain(end);
    expect((await asset.get(`/fhir/Patient/${r.patient}`)).status).toBe(404);
    expect(await job.run(later)).toEqual({ consents: 0, held: 0, failed: 0 });

    const audit = await auditor.get(`/fhir/AuditEvent?subtype=consent-expiry&entity=Consent/${r.consentId}`);
    const events = (audit.body.entry as { resource: fhir4.AuditEvent }[]).map((e) => e.resource);
    expect(events).toHaveLength(1);
    expect(events[0]!.outcomeDesc).toContain(`Consent/${r.consentId}`);
    expect(events[0]!.agent[0]?.who?.identifier?.value).toBe('signpost');
    expect(events[0]!.entity?.map((e) => e.what?.reference)).toEqual(expect.arrayContaining([`Patient/${r.patient}`, `Task/${r.task.id}/_history/4`, `Consent/${r.consentId}/_history/2`]));
  });
});
