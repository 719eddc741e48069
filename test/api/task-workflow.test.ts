import { describe, expect, it } from 'vitest';
import { expectOutcome } from '../fixtures/api.js';
import { moveTask, refer, type Versioned } from '../fixtures/referrals.js';
import { gatewayForFile, type AuthedClient } from '../fixtures/secure-gateway.js';

/** DESIGN.md "Link-worker workflow" over HTTP, with the deployment's own clients (secure-gateway.ts). */

const SNOMED = 'http://snomed.info/sct';
const PATIENT_DECLINED = { system: SNOMED, code: '871711000000103', display: 'Social prescribing declined' };
const LOCAL_REASON = 'https://signpost.health/fhir/CodeSystem/sp-task-status-reason';
const reason = (code: string, system = LOCAL_REASON) => ({ coding: [{ system, code }] });

const t = gatewayForFile(['referrer', 'linkWorker', 'otherLinkWorker', 'communityAsset', 'auditor']);
let seed = 7_300_000;

const newReferral = () => refer(t.referrer, t.linkWorker, (seed += 17));
const read = async <T extends fhir4.Resource>(type: string, id: string) => (await t.auditor.get(`/fhir/${type}/${id}`)).body as Versioned<T>;

/** Moves a Task and expects it to be stored; returns the new version. */
async function moved(api: AuthedClient, task: Versioned<fhir4.Task>, change: Partial<fhir4.Task>): Promise<Versioned<fhir4.Task>> {
  const res = await moveTask(api, task, change);
  expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(200);
  return res.body;
}

/** A referral whose Task the service has accepted and started, with a hand-on to the walking group V001. */
async function handedOn() {
  const r = await newReferral();
  const started = await moved(t.linkWorker, await moved(t.linkWorker, r.task, { status: 'accepted' }), { status: 'in-progress' });
  const res = await t.linkWorker.post('/fhir/Task', handOnBody(started));
  expect(res.status, JSON.stringify(res.body).slice(0, 400)).toBe(201);
  return { ...r, task: started, child: res.body as Versioned<fhir4.Task> };
}

function handOnBody(parent: fhir4.Task & { id: string }, owner = 'V001'): fhir4.Task {
  return {
    resourceType: 'Task', status: 'requested', intent: 'order',
    code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
    partOf: [{ reference: `Task/${parent.id}` }],
    owner: { reference: `Organization/${owner}` },
    description: 'Tuesday walking group, meet at the library',
  };
}

describe('Task updates name the version they change', () => {
  it('without If-Match: 428 and the Task unchanged; with a stale one: 412 and unchanged', async () => {
    const { task } = await newReferral();
    const missing = await t.linkWorker.put(`/fhir/Task/${task.id}`, { ...task, status: 'accepted' });
    expectOutcome(missing, { status: 428, code: 'required', expression: 'Task.meta.versionId' });
    const patch = await t.linkWorker.patch(`/fhir/Task/${task.id}`, [{ op: 'replace', path: '/status', value: 'accepted' }]);
    expectOutcome(patch, { status: 428, code: 'required', expression: 'Task.meta.versionId' });
    const stale = await t.linkWorker.put(`/fhir/Task/${task.id}`, { ...task, status: 'accepted' }, 'W/"7"');
    expectOutcome(stale, { status: 412, code: 'conflict', expression: 'Task.meta.versionId' });
    expect(await read('Task', task.id)).toEqual(task);
  });

  it('a JSON Patch with If-Match moves the Task', async () => {
    const { task } = await newReferral();
    const res = await t.linkWorker.patch(`/fhir/Task/${task.id}`, [{ op: 'replace', path: '/status', value: 'accepted' }], `W/"${task.meta.versionId}"`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('accepted');
  });
});

describe('the owner changes only what the workflow lets it', () => {
  it.each([
    ['description', { description: 'changed' }],
    ['for', { for: { reference: 'Patient/someone-else' } }],
    ['focus', { focus: { reference: 'ServiceRequest/another' } }],
    ['priority', { priority: 'urgent' as const }],
  ])('changing %s is 422 with its expression, and nothing is stored', async (element, change) => {
    const { task } = await newReferral();
    const res = await moveTask(t.linkWorker, task, change as Partial<fhir4.Task>);
    expectOutcome(res, { status: 422, code: 'business-rule', expression: `Task.${element}` });
    expect(await read('Task', task.id)).toEqual(task);
  });

  it('status, statusReason, businessStatus, note and output are the owner\'s to change', async () => {
    const { task } = await newReferral();
    const res = await moveTask(t.linkWorker, task, {
      status: 'accepted', businessStatus: { text: 'first call booked' }, note: [{ text: 'patient prefers mornings' }],
      output: [{ type: { text: 'plan' }, valueString: 'agreed a plan' }],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: 'accepted', businessStatus: { text: 'first call booked' } });
  });

  it('an invalid transition is 422 at Task.status; a decline needs a reason from the bound ValueSet', async () => {
    const { task, sr } = await newReferral();
    expectOutcome(await moveTask(t.linkWorker, task, { status: 'completed' }), { status: 422, code: 'business-rule', expression: 'Task.status' });
    expectOutcome(await moveTask(t.linkWorker, task, { status: 'rejected' }), { status: 422, code: 'business-rule', expression: 'Task.status' });
    expectOutcome(await moveTask(t.linkWorker, task, { status: 'rejected', statusReason: reason('not-a-reason') }),
      { status: 422, code: 'code-invalid', expression: 'Task.statusReason.coding[0]' });
    expect(await read('Task', task.id)).toEqual(task);
    // The patient declined: SNOMED CT 871711000000103; the referral follows its Task.
    const declined = await moved(t.linkWorker, task, { status: 'rejected', statusReason: { coding: [PATIENT_DECLINED] } });
    expect(declined.status).toBe('rejected');
    expect((await read<fhir4.ServiceRequest>('ServiceRequest', sr)).status).toBe('revoked');
  });

  it('no Task is ever ownerless', async () => {
    const { task } = await newReferral();
    const { owner: _owner, ...unowned } = task;
    const res = await t.linkWorker.put(`/fhir/Task/${task.id}`, unowned, `W/"${task.meta.versionId}"`);
    expectOutcome(res, { status: 422, code: 'required', expression: 'Task.owner' });
    expect(await read('Task', task.id)).toEqual(task);
  });

  it('someone else\'s Task: the other service gets 404, the practice 403 for anything but entered-in-error', async () => {
    const { task } = await newReferral();
    expectOutcome(await moveTask(t.otherLinkWorker, task, { status: 'accepted' }), { status: 404, code: 'not-found' });
    expectOutcome(await moveTask(t.referrer, task, { status: 'accepted' }), { status: 403, code: 'forbidden' });
    expectOutcome(await moveTask(t.referrer, task, { note: [{ text: 'from the practice' }] }), { status: 403, code: 'forbidden' });
    expect(await read('Task', task.id)).toEqual(task);
    const erased = await moveTask(t.referrer, task, { status: 'entered-in-error' });
    expect(erased.status, JSON.stringify(erased.body)).toBe(200);
    expect(erased.body.status).toBe('entered-in-error');
  });

  it('entered-in-error is final, from any status', async () => {
    const { task } = await newReferral();
    const erased = await moved(t.linkWorker, await moved(t.linkWorker, task, { status: 'accepted' }), { status: 'entered-in-error' });
    expectOutcome(await moveTask(t.linkWorker, erased, { status: 'accepted' }), { status: 422, code: 'business-rule', expression: 'Task.status' });
  });
});

describe('the ServiceRequest follows its Task, in the same transaction, with Provenance naming who', () => {
  it('completed → completed; the SR\'s new version has a Provenance by the link worker', async () => {
    const { task, sr } = await newReferral();
    const started = await moved(t.linkWorker, await moved(t.linkWorker, task, { status: 'accepted' }), { status: 'in-progress' });
    expect((await read<fhir4.ServiceRequest>('ServiceRequest', sr)).status).toBe('active');
    await moved(t.linkWorker, started, { status: 'completed' });
    const referral = await read<fhir4.ServiceRequest>('ServiceRequest', sr);
    expect(referral.status).toBe('completed');
    const provenance = (await t.auditor.get(`/fhir/Provenance?target=ServiceRequest/${sr}`)).body as fhir4.Bundle;
    const latest = provenance.entry?.map((e) => e.resource as fhir4.Provenance)
      .find((p) => p.target.some((t) => t.reference === `ServiceRequest/${sr}/_history/${referral.meta.versionId}`));
    expect(latest?.agent[0]?.who?.identifier?.value).toBe(t.gw.clients.linkWorker.clientId);
  });

  it.each(['cancelled', 'failed'] as const)('%s → revoked, and the open hand-ons are cancelled with it', async (status) => {
    const { task, sr, child } = await handedOn();
    await moved(t.linkWorker, task, { status, statusReason: reason('service-at-capacity') });
    expect((await read<fhir4.ServiceRequest>('ServiceRequest', sr)).status).toBe('revoked');
    const c = await read<fhir4.Task>('Task', child.id);
    expect(c.status).toBe('cancelled');
    expect(c.statusReason?.coding?.[0]?.code).toBe('referral-closed');
  });

  it('the referrer revoking its referral cancels the open Task and its hand-ons', async () => {
    const { task, sr, child } = await handedOn();
    const current = await read<fhir4.ServiceRequest>('ServiceRequest', sr);
    const { meta: _meta, ...rest } = current;
    const res = await t.referrer.put(`/fhir/ServiceRequest/${sr}`, { ...rest, status: 'revoked' });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await read<fhir4.Task>('Task', task.id)).status).toBe('cancelled');
    expect((await read<fhir4.Task>('Task', child.id)).status).toBe('cancelled');
  });
});

describe('hand-on to a community asset', () => {
  it('a link worker creates only hand-ons: a Task of its own is 422 at Task.partOf', async () => {
    const { task } = await newReferral();
    const { id: _id, meta: _meta, partOf: _p, ...top } = task;
    expectOutcome(await t.linkWorker.post('/fhir/Task', top), { status: 422, code: 'business-rule', expression: 'Task.partOf' });
  });

  it('hands on only from a Task it owns and works, to a configured community asset', async () => {
    const { task } = await newReferral();
    expectOutcome(await t.linkWorker.post('/fhir/Task', handOnBody(task)), { status: 422, code: 'business-rule', expression: 'Task.partOf[0]' });
    const accepted = await moved(t.linkWorker, task, { status: 'accepted' });
    expectOutcome(await t.linkWorker.post('/fhir/Task', handOnBody(accepted, 'SP002')), { status: 422, code: 'business-rule', expression: 'Task.owner' });
    expectOutcome(await t.linkWorker.post('/fhir/Task', { ...handOnBody(accepted), for: { reference: 'Patient/someone-else' } }),
      { status: 422, code: 'business-rule', expression: 'Task.for' });
    const other = await newReferral();
    expectOutcome(await t.otherLinkWorker.post('/fhir/Task', handOnBody(other.task)), { status: 422, code: 'not-found', expression: 'Task.partOf[0]' });
    const res = await t.linkWorker.post('/fhir/Task', handOnBody(accepted));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      requester: { reference: 'Organization/SP001' }, owner: { reference: 'Organization/V001' },
      focus: task.focus, for: task.for, partOf: [{ reference: `Task/${task.id}` }],
    });
  });

  it('the asset sees its Task and a minimised Patient, never the referral; the parent\'s owner sees its progress', async () => {
    const { child, sr, patient, task } = await handedOn();
    const mine = await t.communityAsset.get(`/fhir/Task?owner=Organization/V001&_include=Task:focus&_include=Task:patient&_id=${child.id}`);
    expect(mine.status).toBe(200);
    const types = (mine.body.entry as fhir4.BundleEntry[]).map((e) => e.resource?.resourceType);
    expect(types).toEqual(['Task', 'Patient']);
    const person = (mine.body.entry as fhir4.BundleEntry[])[1]!.resource as fhir4.Patient;
    expect(person.identifier).toBeUndefined();
    expect(person.meta?.security?.[0]?.code).toBe('REDACTED');
    expectOutcome(await t.communityAsset.get(`/fhir/ServiceRequest/${sr}`), { status: 403, code: 'forbidden' });
    expectOutcome(await t.communityAsset.get(`/fhir/Task/${task.id}`), { status: 404, code: 'not-found' });
    expect((await t.communityAsset.get(`/fhir/Patient/${patient}`)).status).toBe(200);
    const accepted = await moved(t.communityAsset, child, { status: 'accepted', businessStatus: { text: 'first walk booked' } });
    const seen = await t.linkWorker.get(`/fhir/Task?part-of=Task/${task.id}`);
    expect((seen.body.entry as fhir4.BundleEntry[]).map((e) => (e.resource as fhir4.Task).meta?.versionId)).toEqual([accepted.meta.versionId]);
  });

  it('the asset updates only its own Tasks, along the state machine, and cannot reassign them', async () => {
    const { child } = await handedOn();
    expectOutcome(await moveTask(t.communityAsset, child, { owner: { reference: 'Organization/V002' } }), { status: 422, code: 'business-rule', expression: 'Task.owner' });
    expectOutcome(await moveTask(t.communityAsset, child, { status: 'completed' }), { status: 422, code: 'business-rule', expression: 'Task.status' });
    const other = await handedOn();
    const { meta: _m, ...body } = other.child;
    // The second hand-on also belongs to V001; a Task of another group is out of sight.
    expect((await t.communityAsset.put(`/fhir/Task/${other.child.id}`, { ...body, status: 'accepted' }, `W/"${other.child.meta.versionId}"`)).status).toBe(200);
    expectOutcome(await moveTask(t.communityAsset, other.task, { status: 'completed' }), { status: 404, code: 'not-found' });
  });
});

describe('accountability: reassignment to another service', () => {
  it('the new owner sees the Task as requested at its next poll, with the referral, Patient and Consent', async () => {
    const { task, sr, patient } = await newReferral();
    const accepted = await moved(t.linkWorker, task, { status: 'accepted' });
    const since = accepted.meta.lastUpdated;
    const res = await moveTask(t.linkWorker, accepted, { owner: { reference: 'Organization/SP002' }, status: 'requested', note: [{ text: 'patient moved to Hillside' }] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const poll = await t.otherLinkWorker.get(`/fhir/Task?owner=Organization/SP002&status=requested&_lastUpdated=ge${since}&_sort=_lastUpdated`);
    expect((poll.body.entry as fhir4.BundleEntry[]).map((e) => e.resource?.id)).toContain(task.id);
    expect((await t.otherLinkWorker.get(`/fhir/ServiceRequest/${sr}`)).status).toBe(200);
    expect((await t.otherLinkWorker.get(`/fhir/Patient/${patient}`)).status).toBe(200);
    const consent = (await read<fhir4.ServiceRequest>('ServiceRequest', sr)).supportingInfo![0]!.reference!;
    expect((await t.otherLinkWorker.get(`/fhir/${consent}`)).status).toBe(200);
    const provenance = (await t.auditor.get(`/fhir/Provenance?target=Task/${task.id}`)).body as fhir4.Bundle;
    expect(provenance.entry?.some((e) => (e.resource as fhir4.Provenance).target.some((t) => t.reference === `Task/${task.id}/_history/${res.body.meta.versionId}`))).toBe(true);
  });

  it('only to a configured service, and only as requested', async () => {
    const { task } = await newReferral();
    const accepted = await moved(t.linkWorker, task, { status: 'accepted' });
    expectOutcome(await moveTask(t.linkWorker, accepted, { owner: { reference: 'Organization/V001' }, status: 'requested' }), { status: 422, code: 'business-rule', expression: 'Task.owner' });
    expectOutcome(await moveTask(t.linkWorker, accepted, { owner: { reference: 'Organization/SP002' } }), { status: 422, code: 'business-rule', expression: 'Task.status' });
    expectOutcome(await moveTask(t.linkWorker, accepted, { owner: { reference: 'Organization/NOPE1' }, status: 'requested' }), { status: 422, code: 'not-found', expression: 'Task.owner' });
    expect(await read('Task', task.id)).toEqual(accepted);
  });
});

describe('the full loop', () => {
  it('GP refers → link worker polls, accepts, starts, hands on → the group completes → the referral completes; the GP sees who did what', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const { sr, task } = await newReferral();
    // The link-worker platform polls for new work.
    const poll = await t.linkWorker.get(`/fhir/Task?owner=Organization/SP001&status=requested&_lastUpdated=ge${since}&_sort=_lastUpdated&_count=1000`);
    const found = (poll.body.entry as fhir4.BundleEntry[]).map((e) => e.resource as Versioned<fhir4.Task>).find((t) => t.id === task.id)!;
    expect(found).toEqual(task);
    const accepted = await moved(t.linkWorker, found, { status: 'accepted' });
    const started = await moved(t.linkWorker, accepted, { status: 'in-progress', businessStatus: { text: 'plan agreed' } });
    const handOn = await t.linkWorker.post('/fhir/Task', handOnBody(started));
    expect(handOn.status).toBe(201);
    // The walking group polls for its Tasks and works its own.
    const groupPoll = await t.communityAsset.get(`/fhir/Task?owner=Organization/V001&status=requested&_lastUpdated=ge${since}&_sort=_lastUpdated&_count=1000`);
    const mine = (groupPoll.body.entry as fhir4.BundleEntry[]).map((e) => e.resource as Versioned<fhir4.Task>).find((t) => t.id === handOn.body.id)!;
    const walking = await moved(t.communityAsset, await moved(t.communityAsset, mine, { status: 'accepted' }), { status: 'in-progress' });
    await moved(t.communityAsset, walking, { status: 'completed', output: [{ type: { text: 'attendance' }, valueString: 'attended 6 walks' }] });
    // The service sees the group's progress, then completes the referral.
    const child = (await t.linkWorker.get(`/fhir/Task?part-of=Task/${task.id}`)).body.entry[0].resource as fhir4.Task;
    expect(child.status).toBe('completed');
    const current = (await t.linkWorker.get(`/fhir/Task/${task.id}`)).body as Versioned<fhir4.Task>;
    await moved(t.linkWorker, current, { status: 'completed' });
    // The GP sees the referral completed and the Task's history with who made each step.
    expect((await t.referrer.get(`/fhir/ServiceRequest/${sr}`)).body.status).toBe('completed');
    const history = (await t.referrer.get(`/fhir/Task/${task.id}/_history`)).body as fhir4.Bundle;
    const steps = (history.entry ?? []).map((e) => (e.resource as fhir4.Task)).reverse().map((t) => `${t.meta?.versionId} ${t.status}`);
    expect(steps).toEqual(['1 requested', '2 accepted', '3 in-progress', '4 completed']);
    const provenance = (await t.referrer.get(`/fhir/Provenance?target=Task/${task.id}&_count=100`)).body as fhir4.Bundle;
    const who = new Map<string, string>();
    for (const p of (provenance.entry ?? []).map((e) => e.resource as fhir4.Provenance)) {
      for (const t of p.target) if (t.reference?.startsWith(`Task/${task.id}/_history/`)) who.set(t.reference.split('/').at(-1)!, p.agent[0]?.who?.identifier?.value ?? '?');
    }
    expect(Object.fromEntries(who)).toEqual({
      1: t.gw.clients.referrer.clientId, // intake made the Task on the practice's referral
      2: t.gw.clients.linkWorker.clientId, 3: t.gw.clients.linkWorker.clientId, 4: t.gw.clients.linkWorker.clientId,
    });
    const handOns = (await t.referrer.get(`/fhir/Task?part-of=Task/${task.id}`)).body as fhir4.Bundle;
    expect((handOns.entry ?? []).map((e) => (e.resource as fhir4.Task).status), 'the GP sees the hand-on too').toEqual(['completed']);
  });
});
