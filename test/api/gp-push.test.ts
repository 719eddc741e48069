import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPushingGateway, type Received, type Receiver } from '../fixtures/receiver.js';
import { moveTask, refer, type Versioned } from '../fixtures/referrals.js';
import type { AuthedClient, SecureTestGateway } from '../fixtures/secure-gateway.js';

/**
 * Issue 9: feedback and status changes pushed to the practice's FHIR endpoint (a real HTTP server
 * started here), each version once, in order per referral, through a receiver's failures.
 */

let receiver: Receiver;
let gw: SecureTestGateway;
let gp: AuthedClient;
let lw: AuthedClient;
let auditor: AuthedClient;

beforeAll(async () => {
  // Quick retries, and a circuit that never opens here (its own tests are in test/unit).
  ({ receiver, gw } = await startPushingGateway({
    delivery: { firstRetrySeconds: 0.05, maxRetrySeconds: 0.2, pollSeconds: 0.05, timeoutSeconds: 2, breakerFailures: 1000, maxAttempts: 10 },
  }));
  [gp, lw, auditor] = await Promise.all([gw.as('referrer'), gw.as('linkWorker'), gw.as('auditor')]);
});
afterAll(async () => {
  await gw.close();
  await receiver.close();
});

const accepted = (r: Received) => r.status >= 200 && r.status < 300;
const versionOf = (r: Received) => `${r.path.slice(1)}/_history/${(r.body as fhir4.Resource).meta?.versionId}`;

/** Walks a referral through the workflow to completion, each step naming the version it read. */
async function complete(task: Versioned<fhir4.Task>): Promise<void> {
  let current = task;
  for (const status of ['accepted', 'in-progress', 'completed'] as const) {
    const res = await moveTask(lw, current, { status });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    current = res.body;
  }
}

describe('push to a GP system', () => {
  it('delivers every status change and the feedback once each, in order, through three 503s', async () => {
    let failures = 3;
    receiver.answer = (req) => (failures-- > 0
      ? { status: 503, body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient', diagnostics: 'busy' }] } }
      : { status: 200, body: req.body });
    const { sr, task } = await refer(gp, lw, 910_001);
    await complete(task);
    const communications = (await gp.get(`/fhir/Communication?based-on=ServiceRequest/${sr}`)).body.entry ?? [];
    const owed = [
      ...[1, 2, 3, 4].map((v) => `Task/${task.id}/_history/${v}`),
      `ServiceRequest/${sr}/_history/2`,
      ...communications.map((e: { resource: fhir4.Communication & { id: string } }) => `Communication/${e.resource.id}/_history/1`),
    ];
    await receiver.waitFor((got) => got.filter(accepted).length >= owed.length);
    const mine = receiver.received; // the first referral of this gateway: everything it pushed is this referral's
    expect(mine.filter((r) => r.status === 503)).toHaveLength(3);
    // Each version once, in the order the referral's changes were made (the feedback's stream is the referral's).
    expect(mine.filter(accepted).map(versionOf)).toEqual(owed);
    for (const r of mine) {
      expect(r.method).toBe('PUT');
      expect(r.headers.authorization).toBe('Bearer push-token');
      expect(r.headers['content-type']).toMatch(/^application\/fhir\+json/);
      expect((r.body as fhir4.Resource).id).toBe(r.path.split('/')[2]);
    }
    const delivered = await auditor.get('/fhir/$deliveries?status=delivered&_count=500');
    expect(delivered.status).toBe(200);
    const attemptsOf = (resource: string) => (delivered.body.parameter as fhir4.ParametersParameter[])
      .find((p) => p.part?.some((x) => x.name === 'resource' && x.valueReference?.reference === resource))
      ?.part?.find((x) => x.name === 'attempts')?.valueInteger;
    expect(attemptsOf(owed[0]!)).toBe(4);
    expect(attemptsOf(owed[1]!)).toBe(1);
  });

  it('gives up an event the receiver refuses with 400, shows the auditor why, and delivers it once retried', async () => {
    receiver.answer = (req) => (req.path.startsWith('/Task/')
      ? { status: 400, body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: 'Task.owner is not an organisation we know' }] } }
      : { status: 200, body: req.body });
    const { task } = await refer(gp, lw, 910_002);
    const resource = `Task/${task.id}/_history/1`;
    const failedOne = async () => {
      const res = await auditor.get('/fhir/$deliveries?status=failed');
      expect(res.status).toBe(200);
      return (res.body.parameter as fhir4.ParametersParameter[] | undefined ?? [])
        .find((p) => p.part?.some((x) => x.name === 'resource' && x.valueReference?.reference === resource));
    };
    await receiver.waitFor((got) => got.some((r) => r.path === `/Task/${task.id}` && r.status === 400));
    let failed: fhir4.ParametersParameter | undefined;
    for (let i = 0; i < 100 && !failed; i++) {
      failed = await failedOne();
      if (!failed) await new Promise((r) => setTimeout(r, 20));
    }
    const part = (name: string) => failed?.part?.find((x) => x.name === name);
    expect(part('lastError')?.valueString).toBe('400 Task.owner is not an organisation we know');
    expect(part('attempts')?.valueInteger).toBe(1);
    expect(part('receiver')?.valueString).toBe('endpoint:A81001');
    // Nobody but the auditor sees the outbox or retries it.
    for (const client of [gp, lw]) {
      expect((await client.get('/fhir/$deliveries')).status).toBe(403);
      expect((await client.post('/fhir/$retry-delivery', { resourceType: 'Parameters', parameter: [{ name: 'delivery', valueString: part('id')?.valueString }] })).status).toBe(403);
    }
    receiver.answer = (req) => ({ status: 200, body: req.body });
    const retried = await auditor.post('/fhir/$retry-delivery', { resourceType: 'Parameters', parameter: [{ name: 'delivery', valueString: part('id')?.valueString }] });
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
    await receiver.waitFor((got) => got.some((r) => r.path === `/Task/${task.id}` && r.status === 200));
    const again = await auditor.post('/fhir/$retry-delivery', { resourceType: 'Parameters', parameter: [{ name: 'delivery', valueString: part('id')?.valueString }] });
    expect(again.status).toBe(409);
  });

  it('answers bad listings and retries with an OperationOutcome', async () => {
    expect((await auditor.get('/fhir/$deliveries?status=lost')).status).toBe(400);
    expect((await auditor.get('/fhir/$deliveries?_count=x')).status).toBe(400);
    expect((await auditor.post('/fhir/$retry-delivery', { resourceType: 'Parameters' })).status).toBe(400);
    expect((await auditor.post('/fhir/$retry-delivery', { resourceType: 'Parameters', parameter: [{ name: 'delivery', valueString: '999999999' }] })).status).toBe(404);
  });
});
