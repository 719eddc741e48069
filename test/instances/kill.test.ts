import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { roleClients } from '../fixtures/clients.js';
import { nhsNumber } from '../fixtures/gateway.js';
import { deploy, INSTANCE_DATABASES, startInstance } from '../fixtures/instances.js';
import { testDeployment } from '../fixtures/secure-gateway.js';

/**
 * "Nothing acknowledged is ever lost": referrals pour in on 8 connections, the process is killed with
 * SIGKILL mid-stream, and after a restart every referral answered 201 is there, whole.
 */

const clients = roleClients();

const jsonReferral = (seed: number) => ({
  identifier: randomUUID(),
  patient: { nhsNumber: nhsNumber(seed), name: { given: ['Kim'], family: `Kill${seed}` }, birthDate: '1950-02-02' },
  consent: { date: '2026-12-01T09:00:00Z', givenBy: 'patient' },
  reasons: [{ code: '422650009' }],
});

describe.each(INSTANCE_DATABASES)('kill -9 on %s', (_name, database) => {
  it('loses no referral it acknowledged with 201, and leaves none half-written', async () => {
    const db = await database();
    const deployed = deploy(testDeployment(clients));
    try {
      const first = await startInstance(deployed, db.env);
      const gp = await first.as(clients.referrer);
      const acknowledged: { id: string; task: string; identifier: string }[] = [];
      let sent = 0;
      let killed = false;
      const sender = async (lane: number) => {
        for (let i = 0; !killed; i++) {
          const body = jsonReferral(700_000 + lane * 10_000 + i);
          sent++;
          const res = await gp('POST', '/api/v1/referrals', body).catch(() => undefined);
          if (res?.status === 201) acknowledged.push({ id: res.body.id, task: res.body.task, identifier: body.identifier });
        }
      };
      const lanes = Array.from({ length: 8 }, (_, lane) => sender(lane));
      while (acknowledged.length < 60) await new Promise((r) => setTimeout(r, 20));
      await first.kill(); // mid-stream: requests in flight get no answer
      killed = true;
      await Promise.all(lanes);
      expect(sent).toBeGreaterThan(acknowledged.length); // some were in flight, unanswered

      const second = await startInstance(deployed, db.env);
      try {
        const gpAgain = await second.as(clients.referrer);
        const auditor = await second.as(clients.auditor);
        for (const r of acknowledged) {
          const res = await gpAgain('GET', `/api/v1/referrals/${r.id}`);
          expect(res.status, `referral ${r.id}`).toBe(200);
          expect(res.body).toMatchObject({ identifier: r.identifier, task: r.task, status: 'requested' });
        }
        // Whole or not at all, acknowledged or not: every ServiceRequest has its Patient, Consent and Task.
        const requests = await auditor('GET', '/fhir/ServiceRequest?_count=1000');
        const all = (requests.body.entry ?? []).map((e: { resource: fhir4.ServiceRequest }) => e.resource) as fhir4.ServiceRequest[];
        expect(all.length).toBeGreaterThanOrEqual(acknowledged.length);
        const tasks = await auditor('GET', '/fhir/Task?_count=1000');
        const focused = new Set((tasks.body.entry ?? []).map((e: { resource: fhir4.Task }) => e.resource.focus?.reference));
        for (const sr of all) {
          expect(focused.has(`ServiceRequest/${sr.id}`), `the Task of ServiceRequest/${sr.id}`).toBe(true);
          expect((await auditor('GET', `/fhir/${sr.subject.reference}`)).status).toBe(200);
          expect((await auditor('GET', `/fhir/${sr.supportingInfo?.[0]?.reference}`)).status).toBe(200);
        }
        const verdict = await auditor('GET', '/fhir/AuditEvent/$verify');
        expect((verdict.body.parameter as { name: string; valueBoolean?: boolean }[]).find((p) => p.name === 'result')?.valueBoolean).toBe(true);
      } finally {
        await second.stop();
      }
    } finally {
      await db.drop();
      deployed.remove();
    }
  }, 120_000);
});
