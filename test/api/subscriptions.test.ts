import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAYLOAD_CONTENT_URL, SUBSCRIPTION_SECRET_URL } from '../../src/delivery/subscriptions.js';
import { expectOutcome } from '../fixtures/api.js';
import { startReceiver, type Received, type Receiver } from '../fixtures/receiver.js';
import { freshReferral, moveTask, refer } from '../fixtures/referrals.js';
import { startSecureTestGateway, type AuthedClient, type SecureTestGateway } from '../fixtures/secure-gateway.js';

/**
 * Issue 9: R4 rest-hook Subscriptions for link-worker and community-asset platforms, with a real
 * HTTP endpoint started here: signed, id-only notifications of the subscriber's own Tasks.
 */

const SECRET = 'a-long-shared-secret-for-the-hmac-0123456789';

let receiver: Receiver;
let gw: SecureTestGateway;
let gp: AuthedClient;
let lw: AuthedClient;
let otherLw: AuthedClient;
let asset: AuthedClient;
let auditor: AuthedClient;

beforeAll(async () => {
  receiver = await startReceiver('/hooks');
  gw = await startSecureTestGateway(undefined, {
    configure: (d) => ({ ...d, delivery: { firstRetrySeconds: 0.05, maxRetrySeconds: 0.1, pollSeconds: 0.05, timeoutSeconds: 2, maxAttempts: 3, breakerFailures: 1000 } }),
    deliveries: {},
  });
  [gp, lw, otherLw, asset, auditor] = await Promise.all([
    gw.as('referrer'), gw.as('linkWorker'), gw.as('otherLinkWorker'), gw.as('communityAsset'), gw.as('auditor'),
  ]);
});
afterAll(async () => {
  await gw.close();
  await receiver.close();
});

function subscription(criteria: string, path: string, extra: Partial<fhir4.Subscription> = {}): fhir4.Subscription {
  return {
    resourceType: 'Subscription', status: 'requested', reason: 'Tell our platform when our referrals change', criteria,
    // The refusals below are built before the receiver starts: they name an endpoint never called.
    channel: { type: 'rest-hook', endpoint: `${receiver?.url ?? 'https://platform.example'}${path}`, payload: 'application/fhir+json' },
    extension: [{ url: SUBSCRIPTION_SECRET_URL, valueString: SECRET }],
    ...extra,
  };
}

/** Checks a notification's signature as a subscriber would: HMAC-SHA256 over "<t>.<body>" with its secret. */
function signatureHolds(r: Received, secret = SECRET): boolean {
  const header = String(r.headers['x-signpost-signature'] ?? '');
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const expected = createHmac('sha256', secret).update(`${m[1]}.${r.text}`).digest('hex');
  return expected === m[2] && Math.abs(Number(m[1]) - Date.now() / 1000) < 60;
}

const at = (path: string) => (got: Received[]) => got.filter((r) => r.path === path);

describe('Subscriptions', () => {
  it('stores a platform\'s subscription active, id-only, and without its secret', async () => {
    const res = await lw.post('/fhir/Subscription', subscription('Task?owner=Organization/SP001', '/keep'));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const stored = (await auditor.get(`/fhir/Subscription/${res.body.id}`)).body as fhir4.Subscription;
    expect(stored.status).toBe('active');
    expect(stored.channel._payload?.extension).toEqual([{ url: PAYLOAD_CONTENT_URL, valueCode: 'id-only' }]);
    expect(JSON.stringify(stored)).not.toContain(SECRET);
    const history = await auditor.get(`/fhir/Subscription/${res.body.id}/_history`);
    expect(JSON.stringify(history.body)).not.toContain(SECRET);
  });

  it.each([
    ['another organisation\'s Tasks', subscription('Task?owner=Organization/SP002', '/x'), 'Subscription.criteria'],
    ['Tasks of no one in particular', subscription('Task?status=requested', '/x'), 'Subscription.criteria'],
    ['a search on other parameters', subscription('Task?owner=Organization/SP001&patient=Patient/p1', '/x'), 'Subscription.criteria'],
    ['a resource other than Task', subscription('Patient?_id=p1', '/x'), 'Subscription.criteria'],
    ['no secret', subscription('Task?owner=Organization/SP001', '/x', { extension: undefined }), 'Subscription.extension'],
    ['a short secret', subscription('Task?owner=Organization/SP001', '/x', { extension: [{ url: SUBSCRIPTION_SECRET_URL, valueString: 'short' }] }), 'Subscription.extension'],
    ['channel headers', subscription('Task?owner=Organization/SP001', '/x', { channel: { type: 'rest-hook', endpoint: 'https://p.example/h', header: ['Authorization: Bearer x'] } }), 'Subscription.channel.header'],
    ['full-resource notifications', subscription('Task?owner=Organization/SP001', '/x', {
      channel: { type: 'rest-hook', endpoint: 'https://p.example/h', payload: 'application/fhir+json', _payload: { extension: [{ url: PAYLOAD_CONTENT_URL, valueCode: 'full-resource' }] } },
    }), 'Subscription.channel.payload'],
    ['an email channel', subscription('Task?owner=Organization/SP001', '/x', { channel: { type: 'email', endpoint: 'mailto:a@b.example' } }), 'Subscription.channel.type'],
  ])('refuses a subscription to %s with 422', async (_what, body, expression) => {
    expectOutcome(await lw.post('/fhir/Subscription', body), { status: 422, code: 'business-rule', expression });
  });

  it('is not for practices: a referrer may not subscribe', async () => {
    expect((await gp.post('/fhir/Subscription', subscription('Task?owner=Organization/A81001', '/x'))).status).toBe(403);
  });

  it('notifies the subscriber of its own Task, signed, naming the Task and no patient data', async () => {
    const sub = await lw.post('/fhir/Subscription', subscription('Task?owner=Organization/SP001&status=requested', '/sp001'));
    expect(sub.status).toBe(201);
    const theirs = await otherLw.post('/fhir/Subscription', subscription('Task?owner=Organization/SP002', '/sp002'));
    expect(theirs.status).toBe(201);
    const referral = freshReferral(920_001);
    const { task } = await refer(gp, lw, 920_001);
    await receiver.waitFor((got) => at('/sp001')(got).some((r) => r.text.includes(task.id)));
    const [note] = at('/sp001')(receiver.received).filter((r) => r.text.includes(task.id));
    expect(note!.method).toBe('POST');
    expect(note!.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(signatureHolds(note!)).toBe(true);
    expect(signatureHolds(note!, `${SECRET}x`)).toBe(false);
    const bundle = note!.body as fhir4.Bundle;
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'history' });
    const status = bundle.entry![0]!.resource as fhir4.Parameters;
    expect(status.parameter?.find((p) => p.name === 'subscription')?.valueReference?.reference).toMatch(new RegExp(`/fhir/Subscription/${sub.body.id}$`));
    const focus = status.parameter?.find((p) => p.name === 'notification-event')?.part?.find((p) => p.name === 'focus')?.valueReference?.reference;
    expect(focus).toMatch(new RegExp(`/fhir/Task/${task.id}/_history/1$`));
    expect(bundle.entry![1]).toMatchObject({ fullUrl: focus });
    expect(bundle.entry![1]!.resource).toBeUndefined();
    // Nothing about the patient: no Patient reference, NHS number, name or date of birth.
    const patient = referral.bundle.entry!.find((e) => e.resource?.resourceType === 'Patient')!.resource as fhir4.Patient;
    for (const secret of ['Patient', referral.nhs, patient.name![0]!.family!, patient.birthDate!]) expect(note!.text).not.toContain(secret);
    // The other service's platform heard nothing of it.
    expect(at('/sp002')(receiver.received).some((r) => r.text.includes(task.id))).toBe(false);
    // The criteria asked for requested Tasks only: accepting it notifies nobody.
    const moved = await moveTask(lw, task, { status: 'accepted' });
    expect(moved.status).toBe(200);
    const all = await lw.post('/fhir/Subscription', subscription('Task?owner=Organization/SP001', '/all'));
    expect(all.status).toBe(201);
    const started = await moveTask(lw, moved.body, { status: 'in-progress' });
    expect(started.status).toBe(200);
    await receiver.waitFor((got) => at('/all')(got).some((r) => r.text.includes(`${task.id}/_history/3`)));
    expect(at('/sp001')(receiver.received).filter((r) => r.text.includes(task.id))).toHaveLength(1);
  });

  it('lets a community group subscribe to its own hand-on Tasks', async () => {
    const res = await asset.post('/fhir/Subscription', subscription('Task?owner=Organization/V001', '/v001'));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expectOutcome(await asset.post('/fhir/Subscription', subscription('Task?owner=Organization/SP001', '/v001')), { status: 422, code: 'business-rule', expression: 'Subscription.criteria' });
  });

  it('puts a subscription whose endpoint keeps failing into error, with the reason, until its client asks again', async () => {
    receiver.answer = (req) => (req.path === '/down' ? { status: 503 } : { status: 200 });
    const sub = await lw.post('/fhir/Subscription', subscription('Task?owner=Organization/SP001', '/down'));
    expect(sub.status).toBe(201);
    await refer(gp, lw, 920_002);
    let current: fhir4.Subscription & { meta: { versionId: string } } = sub.body;
    for (let i = 0; i < 200 && current.status !== 'error'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      current = (await lw.get(`/fhir/Subscription/${sub.body.id}`)).body;
    }
    expect(current.status).toBe('error');
    expect(current.error).toMatch(/503/);
    expect(at('/down')(receiver.received)).toHaveLength(3); // maxAttempts
    const again = await lw.put(`/fhir/Subscription/${sub.body.id}`, { ...current, status: 'requested' }, `W/"${current.meta.versionId}"`);
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.status).toBe('active');
    expect(again.body.error).toBeUndefined();
  });
});
