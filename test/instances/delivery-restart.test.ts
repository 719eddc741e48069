import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deploymentSchema } from '../../src/config/deployment.js';
import { roleClients } from '../fixtures/clients.js';
import { nhsNumber } from '../fixtures/gateway.js';
import { deploy, INSTANCE_DATABASES, startInstance } from '../fixtures/instances.js';
import { startReceiver } from '../fixtures/receiver.js';
import { testDeployment } from '../fixtures/secure-gateway.js';

/**
 * Issue 9: "a killed gateway resumes pending deliveries after restart". The practice's endpoint hangs
 * on the first push, the gateway is killed with SIGKILL while that push is in flight, the endpoint
 * recovers, and the restarted gateway delivers the event once its lease runs out.
 */

const clients = roleClients();

describe.each(INSTANCE_DATABASES)('deliveries across a kill -9 on %s', (_name, database) => {
  it('are resumed by the restarted gateway: the practice gets the Task it was owed', async () => {
    const receiver = await startReceiver();
    const db = await database();
    const config = deploymentSchema.parse({
      ...testDeployment(clients),
      organizations: testDeployment(clients).organizations.map((o) => (o.ods === 'A81001' ? { ...o, endpoint: { url: receiver.url, bearer: 'push' } } : o)),
      // A try may take 1 s; its lease lasts 2 tries and a margin (7 s) before another worker may take it.
      delivery: { timeoutSeconds: 1, firstRetrySeconds: 0.2, maxRetrySeconds: 0.5, pollSeconds: 0.2 },
    });
    const deployed = deploy(config);
    try {
      receiver.answer = () => ({ status: 200, delayMs: 60_000 }); // hangs
      const first = await startInstance(deployed, db.env);
      const gp = await first.as(clients.referrer);
      const sent = await gp('POST', '/api/v1/referrals', {
        identifier: randomUUID(),
        patient: { nhsNumber: nhsNumber(930_001), name: { given: ['Rhea'], family: 'Restart' }, birthDate: '1960-03-03' },
        consent: { date: '2026-12-01T09:00:00Z', givenBy: 'patient' },
        reasons: [{ code: '422650009' }],
      });
      expect(sent.status, JSON.stringify(sent.body)).toBe(201);
      const taskPath = `/Task/${sent.body.task}`;
      await receiver.waitFor((got) => got.some((r) => r.path === taskPath));
      await first.kill();
      receiver.answer = (req) => ({ status: 200, body: req.body });

      const second = await startInstance(deployed, db.env);
      try {
        await receiver.waitFor((got) => got.filter((r) => r.path === taskPath).length >= 2, 30_000);
        const [hung, delivered] = receiver.received.filter((r) => r.path === taskPath);
        expect(delivered!.body).toEqual(hung!.body); // the same version, sent again
        const auditor = await second.as(clients.auditor);
        let state: string | undefined;
        for (let i = 0; i < 100 && state !== 'delivered'; i++) {
          const listing = await auditor('GET', '/fhir/$deliveries?receiver=endpoint:A81001');
          const entry = (listing.body.parameter as fhir4.ParametersParameter[]).find((p) => p.part?.some((x) => x.valueReference?.reference?.startsWith(taskPath.slice(1))));
          state = entry?.part?.find((x) => x.name === 'status')?.valueCode;
          if (state !== 'delivered') await new Promise((r) => setTimeout(r, 50));
        }
        expect(state).toBe('delivered');
      } finally {
        await second.stop();
      }
    } finally {
      await receiver.close();
      await db.drop();
      deployed.remove();
    }
  }, 60_000);
});
