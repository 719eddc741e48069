import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDeployment, writeDemoDeployment } from '../../src/config/deployment.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-config-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const hash = 'a'.repeat(64);
const valid = {
  clients: [{ clientId: 'gp-a81001', role: 'referrer', organization: 'A81001', secretSha256: hash }],
  organizations: [
    { ods: 'A81001', name: 'Riverside Surgery', kind: 'gp-practice' },
    { ods: 'SP001', name: 'Riverside Social Prescribing Service', kind: 'sp-service', endpoint: { url: 'http://127.0.0.1:9/fhir', bearer: 'x' } },
  ],
  routes: [{ practice: 'A81001', service: 'SP001' }],
};

function write(name: string, content: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

describe('deployment config', () => {
  it('accepts the shape DESIGN.md gives', () => {
    expect(loadDeployment(write('ok.json', valid)).clients[0]?.clientId).toBe('gp-a81001');
  });

  it('fills in the delivery settings and job schedules a config leaves out, and keeps those it gives', () => {
    const d = loadDeployment(write('jobs.json', { ...valid, jobs: { cleanup: '0 4 * * *' }, delivery: { maxAttempts: 3 } }));
    expect(d.jobs).toEqual({ deliverySweep: '* * * * *', auditVerification: '30 2 * * *', cleanup: '0 4 * * *', slaEscalation: '5 * * * *', consentExpiry: '10 * * * *' });
    expect(d.delivery).toMatchObject({ maxAttempts: 3, firstRetrySeconds: 5, maxRetrySeconds: 3600, timeoutSeconds: 10 });
  });

  it('allows 5 working days by default, counting England and Wales bank holidays, and takes a deployment\'s own', () => {
    const d = loadDeployment(write('sla-default.json', valid));
    expect(d.sla.requestedWorkingDays).toBe(5);
    expect(d.sla.holidays).toContain('2026-12-28'); // Boxing Day 2026 falls on a Saturday: the Monday is the substitute
    const own = loadDeployment(write('sla.json', { ...valid, sla: { requestedWorkingDays: 3, holidays: ['2026-11-30'] } }));
    expect(own.sla).toEqual({ requestedWorkingDays: 3, holidays: ['2026-11-30'] });
  });

  it.each<[string, unknown, RegExp]>([
    ['an unknown top-level field', { ...valid, extra: 1 }, /\(root\).*extra|extra/],
    ['an unknown client field', { ...valid, clients: [{ ...valid.clients[0], colour: 'red' }] }, /clients\[0\].*colour|clients\[0\]/],
    ['a role outside the five', { ...valid, clients: [{ ...valid.clients[0], role: 'admin' }] }, /clients\[0\]\.role/],
    ['a client without credentials', { ...valid, clients: [{ clientId: 'x', role: 'auditor', organization: 'QWE' }] }, /clients\[0\]\.secretSha256/],
    ['a secret hash that is not SHA-256 hex', { ...valid, clients: [{ ...valid.clients[0], secretSha256: 'abc' }] }, /clients\[0\]\.secretSha256/],
    ['a route to an organisation that is not a service', { ...valid, routes: [{ practice: 'A81001', service: 'A81001' }] }, /routes\[0\]\.service/],
    ['a duplicate client id', { ...valid, clients: [valid.clients[0], valid.clients[0]] }, /clients\[1\]\.clientId/],
    ['a job schedule that is not a cron expression', { ...valid, jobs: { cleanup: 'every night' } }, /jobs\.cleanup: must be a cron expression/],
    ['a job it does not know', { ...valid, jobs: { defrag: '* * * * *' } }, /jobs/],
    ['an endpoint with both a bearer and client credentials', { ...valid, organizations: [valid.organizations[0], { ...valid.organizations[1], endpoint: { url: 'https://x.example/fhir', bearer: 'b', clientCredentials: { tokenUrl: 'https://x.example/token', clientId: 'c', clientSecret: 's' } } }] }, /organizations\[1\]\.endpoint\.clientCredentials/],
    ['a holiday that is not a calendar date', { ...valid, sla: { holidays: ['2026-02-30'] } }, /sla\.holidays\[0\]/],
    ['no working days at all', { ...valid, sla: { requestedWorkingDays: 0 } }, /sla\.requestedWorkingDays/],
    ['retries whose longest wait is shorter than the first', { ...valid, delivery: { firstRetrySeconds: 60, maxRetrySeconds: 5 } }, /delivery\.maxRetrySeconds/],
  ])('refuses %s, naming the field', (_name, content, field) => {
    const file = write('bad.json', content);
    expect(() => loadDeployment(file)).toThrow(field);
    expect(() => loadDeployment(file)).toThrow(new RegExp(`^config ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  });

  it('refuses a file that is not JSON with one line', () => {
    const file = write('broken.json', '{"clients": [');
    expect(() => loadDeployment(file)).toThrow(/^config .*broken\.json: [^\n]+$/);
  });

  it('writes a demo deployment with only secret hashes, the secrets beside it, both mode 0600', () => {
    const file = path.join(dir, 'demo', 'config.json');
    const { config, credentialsFile } = writeDemoDeployment(file);
    expect(new Set(config.clients.map((c) => c.role))).toEqual(new Set(['referrer', 'link-worker', 'community-asset', 'auditor', 'commissioner']));
    for (const f of [file, credentialsFile]) expect(fs.statSync(f).mode & 0o777).toBe(0o600);
    const stored = fs.readFileSync(file, 'utf8');
    const creds = JSON.parse(fs.readFileSync(credentialsFile, 'utf8')) as { clients: { secret: string }[] };
    for (const c of creds.clients) expect(stored).not.toContain(c.secret);
    expect(loadDeployment(file).clients).toHaveLength(5);
  });
});
