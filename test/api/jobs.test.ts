import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditVerificationJob } from '../../src/jobs/audit-verification.js';
import { cleanupJob, SETTLED_DELIVERIES_KEPT_DAYS } from '../../src/jobs/cleanup.js';
import { deliverySweepJob } from '../../src/jobs/delivery-sweep.js';
import { JobScheduler } from '../../src/jobs/scheduler.js';
import { BASE_URL } from '../fixtures/gateway.js';
import { refer } from '../fixtures/referrals.js';
import { startSecureTestGateway, type AuthedClient, type SecureTestGateway } from '../fixtures/secure-gateway.js';

/**
 * Issue 9's scheduled jobs, each run for a moment the test chooses (its controllable clock), on a
 * real store: what they change, what they leave, and that a second run for the same moment changes
 * nothing more.
 */

const DAY = 86_400_000_000;
const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });

let gw: SecureTestGateway;
let gp: AuthedClient;
let lw: AuthedClient;
let auditor: AuthedClient;
beforeAll(async () => {
  gw = await startSecureTestGateway(logger, { deliveries: {} });
  [gp, lw, auditor] = await Promise.all([gw.as('referrer'), gw.as('linkWorker'), gw.as('auditor')]);
});
afterAll(async () => { await gw.close(); });

const now = () => Date.now() * 1000;

describe('clean-up', () => {
  it('forgets expired claims and long-settled deliveries, keeping the rest, and a second run finds nothing', async () => {
    const t = now();
    await gw.store.transaction(async (tx) => {
      await tx.remember('jti', 'expired-1', '1', t - DAY);
      await tx.remember('idempotency', 'live', '{}', t + DAY);
      await tx.deliveries.enqueue([
        { receiver: 'endpoint:ZZ001', stream: 's-old', resource: 'Task/old/_history/1' },
        { receiver: 'endpoint:ZZ001', stream: 's-new', resource: 'Task/new/_history/1' },
        { receiver: 'endpoint:ZZ001', stream: 's-failed', resource: 'Task/failed/_history/1' },
      ]);
    });
    const leased = await gw.store.transaction((tx) => tx.deliveries.lease(tx.now(), 'test', tx.now() + DAY, 100, []));
    const of = (stream: string) => leased.find((d) => d.stream === stream)!;
    await gw.store.transaction(async (tx) => {
      await tx.deliveries.settle(of('s-old').seq, 'test', { state: 'delivered' }, t - (SETTLED_DELIVERIES_KEPT_DAYS + 1) * DAY);
      await tx.deliveries.settle(of('s-new').seq, 'test', { state: 'delivered' }, t - DAY);
      await tx.deliveries.settle(of('s-failed').seq, 'test', { state: 'failed', error: '400 no' }, t - (SETTLED_DELIVERIES_KEPT_DAYS + 1) * DAY);
    });
    const job = cleanupJob(gw.store);
    const first = await job.run(t);
    expect(first.deliveries).toBe(1);
    expect(first.claims).toBeGreaterThanOrEqual(1);
    expect(await gw.store.transaction((tx) => tx.recall('idempotency', 'live'))).toBe('{}');
    const left = await gw.store.transaction((tx) => tx.deliveries.list({ limit: 100, receiver: 'endpoint:ZZ001' }));
    expect(left.map((d) => d.stream).sort()).toEqual(['s-failed', 's-new']); // a dead letter waits for its auditor
    expect(await job.run(t)).toEqual({ claims: 0, deliveries: 0 });
  });
});

describe('delivery sweep', () => {
  it('counts what the outbox holds and warns of events a worker should have tried long ago', async () => {
    await gw.store.transaction((tx) => tx.deliveries.enqueue([{ receiver: 'endpoint:ZZ002', stream: 's', resource: 'Task/x/_history/1' }]));
    const job = deliverySweepJob(gw.store, gw.worker!, logger);
    const soon = await job.run(now());
    expect(soon.pending).toBeGreaterThanOrEqual(1);
    expect(soon.overdue).toBe(0);
    const later = await job.run(now() + 10 * 60_000_000); // ten minutes on, nobody has delivered it
    expect(later.overdue).toBeGreaterThanOrEqual(1);
    expect(logs.some((l) => l.level === 40 && /overdue/.test(l.msg))).toBe(true);
  });
});

describe('nightly audit verification', () => {
  it('passes an intact chain, and records a break as an alert an auditor can find', async () => {
    await refer(gp, lw, 940_001);
    const job = auditVerificationJob(gw.store, () => BASE_URL, logger);
    expect(await job.run(now())).toMatchObject({ result: true });
    // Someone edits one recorded event behind the gateway's back.
    await gw.db.query("UPDATE audit_event SET json = replace(json, '\"outcome\":\"0\"', '\"outcome\":\"4\"') WHERE seq = 2");
    const verdict = await job.run(now());
    expect(verdict).toEqual({ result: false, brokenAt: 2 });
    expect(logs.some((l) => l.level === 50 && /audit chain is broken at event 2/.test(l.msg))).toBe(true);
    const alerts = await auditor.get('/fhir/AuditEvent?outcome=8&subtype=verify');
    expect(alerts.status).toBe(200);
    const alert = alerts.body.entry?.[0]?.resource as fhir4.AuditEvent | undefined;
    expect(alert?.outcomeDesc).toMatch(/^the audit chain is broken at event 2/);
    expect(alert?.agent?.[0]?.who?.display ?? JSON.stringify(alert?.agent)).toMatch(/signpost/);
  });
});

describe('the scheduler', () => {
  it('runs a job on its schedule, logs what it did, and logs a failure without stopping', async () => {
    const scheduler = new JobScheduler(gw.store, logger);
    let runs = 0;
    scheduler.start([
      { job: { name: 'every-second', run: async () => ({ runs: ++runs }) }, schedule: '* * * * * *' },
      { job: { name: 'breaks', run: async () => { throw new Error('disk on fire'); } }, schedule: '* * * * * *' },
    ]);
    try {
      for (let i = 0; i < 100 && (runs < 2 || !logs.some((l) => l.msg === 'job breaks failed')); i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await scheduler.stop();
    }
    expect(runs).toBeGreaterThanOrEqual(2);
    expect(logs.some((l) => l.msg === 'job every-second done' && typeof l.runs === 'number')).toBe(true);
    expect(logs.find((l) => l.msg === 'job breaks failed')).toMatchObject({ level: 50, job: 'breaks', err: 'disk on fire' });
    const after = runs;
    await new Promise((r) => setTimeout(r, 1200));
    expect(runs).toBe(after); // stopped
    // A failed run gave its lease back: the next run is not skipped.
    expect(await scheduler.runNow({ name: 'breaks', run: async () => ({}) })).toBe('ran');
  });
});
