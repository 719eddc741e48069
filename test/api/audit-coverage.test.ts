import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nhsNumber, patient } from '../fixtures/gateway.js';
import { startSecureTestGateway, type AuthedClient, type SecureTestGateway } from '../fixtures/secure-gateway.js';

let gw: SecureTestGateway;
/** `npm run audit:verify`'s script, pointed at this gateway's store as an operator would point it. */
const verifyCli = () => promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/audit/verify-cli.ts'], {
  cwd: path.resolve(import.meta.dirname, '../..'), env: { ...process.env, ...gw.db.env },
});
let gp: AuthedClient;
let auditor: AuthedClient;
beforeAll(async () => {
  gw = await startSecureTestGateway();
  gp = await gw.as('referrer');
  auditor = await gw.as('auditor');
});
afterAll(async () => { await gw.close(); });

/** The AuditEvents written since `after` (ledger ids are chain positions), oldest first. */
async function eventsAfter(after: number): Promise<fhir4.AuditEvent[]> {
  const res = await auditor.get(`/fhir/AuditEvent?_count=1000&_sort=_lastUpdated`);
  return (res.body.entry ?? []).map((e: { resource: fhir4.AuditEvent }) => e.resource).filter((e: fhir4.AuditEvent) => Number(e.id) > after);
}

async function head(): Promise<number> {
  const res = await auditor.get('/fhir/AuditEvent?_count=1&_sort=-_lastUpdated');
  return Number(res.body.entry?.[0]?.resource.id ?? 0);
}

describe('every interaction leaves exactly one AuditEvent', () => {
  const anonymous = () => request(gw.app).get('/fhir/Patient').set('Accept', 'application/fhir+json');
  let id = '';
  const cases: [string, () => Promise<{ status: number }>, string, string][] = [
    ['create', () => gp.post('/fhir/Patient', patient(nhsNumber(9100))).then((r) => { id = r.body.id; return r; }), 'create', '0'],
    ['read', () => gp.get(`/fhir/Patient/${id}`), 'read', '0'],
    ['vread', () => gp.get(`/fhir/Patient/${id}/_history/1`), 'vread', '0'],
    ['search', () => gp.get(`/fhir/Patient?_id=${id}`), 'search-type', '0'],
    ['update', () => gp.put(`/fhir/Patient/${id}`, { ...patient(nhsNumber(9100)), id }, 'W/"1"'), 'update', '0'],
    ['patch', () => gp.patch(`/fhir/Patient/${id}`, [{ op: 'replace', path: '/birthDate', value: '1970-01-01' }]), 'patch', '0'],
    ['instance history', () => gp.get(`/fhir/Patient/${id}/_history`), 'history-instance', '0'],
    ['type history', () => gp.get('/fhir/Patient/_history'), 'history-type', '0'],
    ['a stale update (412)', () => gp.put(`/fhir/Patient/${id}`, { ...patient(nhsNumber(9100)), id }, 'W/"1"'), 'update', '4'],
    ['an unknown id (404)', () => gp.get('/fhir/Patient/nope'), 'read', '4'],
    ['a forbidden type (403)', () => gp.get('/fhir/AuditEvent'), 'search-type', '4'],
    ['a bad body (400)', () => gp.post('/fhir/Patient', { resourceType: 'Patient', name: [] }), 'create', '4'],
    ['a delete (405)', () => gp.delete(`/fhir/Patient/${id}`), 'delete', '4'],
    ['no token (401)', anonymous, 'search-type', '4'],
    ['a transaction', () => gp.post('/fhir', { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: patient(nhsNumber(9101)), request: { method: 'POST', url: 'Patient' } }] }), 'transaction', '0'],
  ];

  it.each(cases)('%s', async (_name, act, subtype, outcome) => {
    const before = await head();
    const res = await act();
    expect(res.status).toBeGreaterThan(0);
    const events = (await eventsAfter(before)).filter((e) => !(e.subtype?.[0]?.code === 'search-type' && e.agent[0]?.who?.identifier?.value === 'icb-audit'));
    expect(events.map((e) => `${e.subtype?.[0]?.code}/${e.outcome}`)).toEqual([`${subtype}/${outcome}`]);
  });

  it('the batch entries are audited one by one', async () => {
    const before = await head();
    const res = await gp.post('/fhir', { resourceType: 'Bundle', type: 'batch', entry: [
      { resource: patient(nhsNumber(9102)), request: { method: 'POST', url: 'Patient' } },
      { request: { method: 'GET', url: 'Patient/nope' } },
    ] });
    expect(res.status).toBe(200);
    const events = (await eventsAfter(before)).filter((e) => e.agent[0]?.who?.identifier?.value === 'gp-a81001');
    expect(events.map((e) => `${e.subtype?.[0]?.code}/${e.outcome}`).sort()).toEqual(['create/0', 'read/4']);
  });

  it('finds events by date, and the CLI verifies the same chain', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const res = await auditor.get(`/fhir/AuditEvent?date=${today}&agent=Organization/A81001&_summary=count`);
    expect(res.body.total).toBeGreaterThan(10);
    const none = await auditor.get('/fhir/AuditEvent?date=lt2000-01-01&_summary=count');
    expect(none.body.total).toBe(0);
    const cli = await verifyCli();
    expect(cli.stdout).toMatch(/audit chain intact: \d+ events verified/);
  });

  it('the CLI exits 1 and names the event when the chain is broken', async () => {
    const [victim] = await gw.db.query<{ seq: number; json: string }>('SELECT seq, json FROM audit_event ORDER BY seq LIMIT 1 OFFSET 1');
    if (!victim) throw new Error('no second audit event');
    await gw.db.query('UPDATE audit_event SET json = ? WHERE seq = ?', [victim.json.replace('"outcome":"', '"outcome":"x'), victim.seq]);
    const run = verifyCli();
    const failure = await run.then(() => undefined, (e: { code: number; stdout: string }) => e);
    expect(failure?.code).toBe(1);
    expect(failure?.stdout).toMatch(new RegExp(`BROKEN at event ${victim.seq} \\(AuditEvent/${victim.seq}\\)`));
  });
});
