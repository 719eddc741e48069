import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_CALLER } from '../../src/auth/gateway-caller.js';
import { slaEscalationJob } from '../../src/jobs/sla-escalation.js';
import { pino } from 'pino';
import { startPushingGateway, type Receiver } from '../fixtures/receiver.js';
import { moveTask, refer, type Versioned } from '../fixtures/referrals.js';
import type { AuthedClient, SecureTestGateway } from '../fixtures/secure-gateway.js';

/**
 * Issue 9: a referral left requested beyond the working days the deployment allows is escalated: its
 * Task is marked overdue, the practice and the service are told in one Communication (pushed to the
 * practice's endpoint, a real local server here) and the gateway's change is audited. Run for moments
 * the test chooses (the job's controllable clock).
 */

const DAY = 86_400_000_000;
const logs: { level: number; msg: string }[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });

let receiver: Receiver;
let gw: SecureTestGateway;
let gp: AuthedClient;
let lw: AuthedClient;
let auditor: AuthedClient;

beforeAll(async () => {
  ({ receiver, gw } = await startPushingGateway({
    delivery: { firstRetrySeconds: 0.05, maxRetrySeconds: 0.1, pollSeconds: 0.05, timeoutSeconds: 2 },
    sla: { requestedWorkingDays: 3, holidays: ['2030-01-01'] },
  }));
  [gp, lw, auditor] = await Promise.all([gw.as('referrer'), gw.as('linkWorker'), gw.as('auditor')]);
});
afterAll(async () => {
  await gw.close();
  await receiver.close();
});

const job = () => slaEscalationJob(gw.store, gw.run, gw.deployment, logger);
const readTask = async (id: string) => (await lw.get(`/fhir/Task/${id}`)).body as Versioned<fhir4.Task>;
const overdue = (t: fhir4.Task) => t.businessStatus?.coding?.some((c) => c.code === 'overdue') ?? false;

describe('SLA escalation', () => {
  it('leaves a referral alone within its working days, escalates it once after them, and audits the gateway\'s change', async () => {
    const now = Date.now() * 1000;
    const { task, sr } = await refer(gp, lw, 970_001);
    await job().run(now + DAY); // a day on: within three working days whatever the weekday
    expect(overdue(await readTask(task.id))).toBe(false);

    const later = now + 8 * DAY; // eight days on: at least five working days have passed
    const first = await job().run(later);
    expect(first.escalated).toBeGreaterThanOrEqual(1);
    const marked = await readTask(task.id);
    expect(marked.status).toBe('requested');
    expect(marked.businessStatus).toMatchObject({ coding: [{ system: 'https://signpost.health/fhir/CodeSystem/sp-task-business-status', code: 'overdue' }] });
    expect(marked.meta.versionId).toBe('2');

    // One Communication, to the practice and the service, about the Task and its referral.
    const sent = await gp.get(`/fhir/Communication?based-on=ServiceRequest/${sr}`);
    const comms = (sent.body.entry as { resource: fhir4.Communication & { id: string } }[]).map((e) => e.resource);
    expect(comms).toHaveLength(1);
    const c = comms[0]!;
    expect(c.recipient?.map((r) => r.reference)).toEqual(['Organization/A81001', 'Organization/SP001']);
    expect(c.about).toEqual([{ reference: `Task/${task.id}` }]);
    expect(c.payload?.[0]?.contentString).toMatch(/neither accepted nor declined by Riverside Social Prescribing Service within 3 working days/);
    expect((await lw.get(`/fhir/Communication/${c.id}`)).status).toBe(200);
    // Pushed to the practice's system like feedback.
    await receiver.waitFor((got) => got.some((r) => r.method === 'PUT' && r.path === `/Communication/${c.id}` && r.status === 200));

    const audit = await auditor.get(`/fhir/AuditEvent?subtype=sla-escalation&entity=Task/${task.id}`);
    const events = (audit.body.entry as { resource: fhir4.AuditEvent }[]).map((e) => e.resource);
    expect(events).toHaveLength(1);
    expect(events[0]!.outcome).toBe('0');
    expect(events[0]!.outcomeDesc).toBe(`SLA escalation: Task/${task.id} still requested after 3 working days`);
    expect(events[0]!.agent[0]?.who?.identifier?.value).toBe('signpost');

    expect(await job().run(later)).toEqual({ escalated: 0, failed: 0 });
    expect((await readTask(task.id)).meta.versionId).toBe('2');
    // No holiday listed for the year it ran in: said once per run, as a warning.
    expect(logs.some((l) => l.level === 40 && /sla\.holidays lists no holiday/.test(l.msg))).toBe(true);
  });

  it('escalates only referrals still requested: accepted ones and hand-ons are the service\'s to pursue', async () => {
    const now = Date.now() * 1000;
    const accepted = await refer(gp, lw, 970_020);
    const moved = await moveTask(lw, accepted.task, { status: 'accepted' });
    expect(moved.status).toBe(200);
    const started = await moveTask(lw, moved.body, { status: 'in-progress' });
    const child = await lw.post('/fhir/Task', {
      resourceType: 'Task', status: 'requested', intent: 'order',
      code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
      partOf: [{ reference: `Task/${started.body.id}` }], owner: { reference: 'Organization/V001' },
    });
    expect(child.status).toBe(201);
    await job().run(now + 30 * DAY);
    expect(overdue(await readTask(accepted.task.id))).toBe(false);
    expect(overdue(await readTask(child.body.id))).toBe(false);
  });

  it('the gateway changes a Task only to mark it overdue: anything else is refused and audited', async () => {
    const { task } = await refer(gp, lw, 970_030);
    const attempt = gw.run(GATEWAY_CALLER, { subtype: 'update', type: 'Task' }, async (tx) => {
      const current = (await tx.read('Task', task.id))!;
      const { meta: _meta, ...rest } = current.resource as fhir4.Task & { id: string };
      await tx.write({ ...rest, note: [{ text: 'the gateway has opinions' }] } as fhir4.Task & { id: string }, { method: 'PUT', expectVersion: current.version });
      return { status: 200 };
    });
    await expect(attempt).rejects.toMatchObject({ status: 403 });
    expect((await readTask(task.id)).meta.versionId).toBe('1');
  });
});
