import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderStoredAuditRecord } from '../../src/audit/audit-event.js';
import { verifyChain } from '../../src/audit/hash-chain.js';
import { indexEntries } from '../../src/fhir/index-values.js';
import { sqliteFileIn } from '../../src/store/open-store.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ClaimRow, GrantRow, Store, Stored, VersionCursor } from '../../src/store/store.js';
import { BASE_URL, nhsNumber } from '../fixtures/gateway.js';
import { freshSchema, type TestSchema } from '../fixtures/postgres.js';
import { freshReferral } from '../fixtures/referrals.js';
import { startSecureTestGateway, type SecureTestGateway } from '../fixtures/secure-gateway.js';

/**
 * Moving a deployment from SQLite to PostgreSQL with `npm run export` and `npm run import`: a store
 * filled by real traffic (referrals, workflow updates, a patch, JSON actions with Idempotency-Keys,
 * audited reads) comes out the other side with every version, audit link, grant and claim identical.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');
const cli = (args: string[], env: Record<string, string>) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/ops/store-cli.ts', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', SIGNPOST_BASE_URL: BASE_URL, ...env } });

const options = { indexer: (r: fhir4.Resource) => indexEntries(r, BASE_URL), renderAudit: renderStoredAuditRecord };

let gw: SecureTestGateway;
let schema: TestSchema;
let exportDir: string;

/** Everything a store holds, as the export reads it. */
async function contents(store: Store) {
  const versions: Stored[] = [];
  let cursor: VersionCursor | undefined;
  do {
    const page = await store.transaction((tx) => tx.versions(cursor, 100));
    versions.push(...page.versions);
    cursor = page.next;
  } while (cursor);
  const ledger = await store.transaction((tx) => tx.auditEntries(0, 100_000));
  const grants: GrantRow[] = await store.transaction((tx) => tx.grantRows(undefined, 100_000));
  const claims: ClaimRow[] = await store.transaction((tx) => tx.claimRows(undefined, 100_000));
  return { versions, ledger, grants, claims };
}

beforeAll(async () => {
  gw = await startSecureTestGateway();
  const gp = await gw.as('referrer');
  const lw = await gw.as('linkWorker');
  for (let i = 0; i < 3; i++) expect((await gp.post('/fhir', freshReferral(660_000 + i).bundle)).status).toBe(200);
  const tasks = (await lw.get('/fhir/Task?owner=Organization/SP001')).body.entry.map((e: { resource: fhir4.Task & { meta: { versionId: string } } }) => e.resource);
  const [first, second] = tasks;
  expect((await lw.put(`/fhir/Task/${first.id}`, { ...first, status: 'accepted' }, `W/"${first.meta.versionId}"`)).status).toBe(200);
  const patched = await lw.patch(`/fhir/Task/${second.id}`, [{ op: 'replace', path: '/status', value: 'accepted' }], `W/"${second.meta.versionId}"`);
  expect(patched.status, JSON.stringify(patched.body)).toBe(200);
  // A JSON action with an Idempotency-Key: a claim the move must keep.
  const res = await request(gw.app).post(`/api/v1/referrals/${first.focus.reference.split('/')[1]}/start`)
    .set('Authorization', `Bearer ${lw.token}`).set('Content-Type', 'application/json').set('If-Match', 'W/"2"').set('Idempotency-Key', 'move-me-1').send('{}');
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect((await gp.get(`/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|${nhsNumber(660_001)}`)).status).toBe(200);
  await gw.store.close();
  schema = await freshSchema();
  exportDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-export-')), 'export');
}, 60_000);

afterAll(async () => {
  await gw.db.drop();
  fs.rmSync(gw.dir, { recursive: true, force: true });
  await schema?.drop();
  fs.rmSync(path.dirname(exportDir), { recursive: true, force: true });
});

describe('export from SQLite, import into PostgreSQL', () => {
  it('writes Bulk Data NDJSON per type with a manifest, and the rest beside it', async () => {
    const out = await cli(['export', '--out', exportDir], { SIGNPOST_DATA_DIR: gw.dir });
    expect(out.stdout).toMatch(/^exported \d+ versions of \d+ resource types/);
    const manifest = JSON.parse(fs.readFileSync(path.join(exportDir, 'manifest.json'), 'utf8'));
    expect(manifest.output.map((o: { type: string }) => o.type)).toEqual(expect.arrayContaining(['Consent', 'Organization', 'Patient', 'Provenance', 'ServiceRequest', 'Task']));
    for (const o of manifest.output as { type: string; url: string; count: number }[]) {
      const lines = fs.readFileSync(path.join(exportDir, o.url), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines).toHaveLength(o.count);
      expect(lines.every((r) => r.resourceType === o.type)).toBe(true);
    }
    expect(fs.readFileSync(path.join(exportDir, 'history-methods.ndjson'), 'utf8')).toContain('"method":"PATCH"');
  });

  it('imports every version, audit link, grant and claim identically, and the audit chain verifies', async () => {
    const out = await cli(['import', '--in', exportDir], { DATABASE_URL: schema.url });
    expect(out.stdout).toMatch(/^imported \d+ versions, \d+ audit events/);
    const source = await SqliteStore.open({ file: sqliteFileIn(gw.dir), ...options });
    const target = await PostgresStore.open({ url: schema.url, ...options });
    try {
      const [from, to] = [await contents(source), await contents(target)];
      expect(from.versions.length).toBeGreaterThan(30);
      expect(to.versions).toEqual(from.versions);
      expect(to.ledger).toEqual(from.ledger);
      expect(to.grants).toEqual(from.grants);
      expect(to.claims.map((c) => c.key)).toContain('move-me-1');
      expect(to.claims).toEqual(from.claims);
      expect(await verifyChain(target)).toEqual({ result: true, events: from.ledger.length });
      // Indexed as the target indexes a new version: searches find the same.
      const search = (store: Store) => store.transaction(async (tx) => (await tx.search({
        type: 'Task', sort: 'default', count: 50, filters: [{ kind: 'token', param: 'status', values: [{ code: 'in-progress' }] }],
      })).matches.map((m) => m.id));
      expect(await search(target)).toEqual(await search(source));
      expect((await search(target)).length).toBe(1);
      // The reports' read model is derived again, replayed in commit order, to the same rows.
      const everything = { from: 0, to: Number.MAX_SAFE_INTEGER, practices: ['A81001', 'B82002'] };
      const facts = (store: Store) => store.transaction(async (tx) => ({
        referrals: (await tx.reportFacts.referrals(everything)).sort((a, b) => a.referral.localeCompare(b.referral)),
        scores: (await tx.reportFacts.scores(everything)).sort((a, b) => `${a.referral}${a.code}`.localeCompare(`${b.referral}${b.code}`)),
      }));
      const [before, after] = [await facts(source), await facts(target)];
      expect(before.referrals.length).toBeGreaterThan(0);
      expect(after).toEqual(before);
    } finally {
      await source.close();
      await target.close();
    }
  });

  it('moves back from PostgreSQL to SQLite the same way, identically', async () => {
    const again = path.join(path.dirname(exportDir), 'from-postgres');
    await cli(['export', '--out', again], { DATABASE_URL: schema.url });
    const dataDir = path.join(path.dirname(exportDir), 'sqlite-again');
    await cli(['import', '--in', again], { SIGNPOST_DATA_DIR: dataDir });
    const source = await SqliteStore.open({ file: sqliteFileIn(gw.dir), ...options });
    const back = await SqliteStore.open({ file: sqliteFileIn(dataDir), ...options });
    try {
      const [from, to] = [await contents(source), await contents(back)];
      expect(to).toEqual(from);
      expect(await verifyChain(back)).toEqual({ result: true, events: from.ledger.length });
    } finally {
      await source.close();
      await back.close();
    }
  });

  it('reads a damaged export whole before writing anything: the store stays empty and a good export then imports', async () => {
    const damaged = path.join(path.dirname(exportDir), 'damaged');
    fs.cpSync(exportDir, damaged, { recursive: true });
    const manifest = JSON.parse(fs.readFileSync(path.join(damaged, 'manifest.json'), 'utf8')) as { output: { url: string }[] };
    const last = manifest.output.at(-1)!.url;
    const kept = fs.readFileSync(path.join(damaged, last), 'utf8').trim().split('\n');
    fs.writeFileSync(path.join(damaged, last), `${[...kept.slice(0, -1), '{"resourceType": "Tas'].join('\n')}\n`);
    const dataDir = path.join(path.dirname(exportDir), 'sqlite-damaged');
    const failure = await cli(['import', '--in', damaged], { SIGNPOST_DATA_DIR: dataDir }).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain(`${last} line ${kept.length} is not JSON`);
    await cli(['import', '--in', exportDir], { SIGNPOST_DATA_DIR: dataDir });
    const imported = await SqliteStore.open({ file: sqliteFileIn(dataDir), ...options });
    try {
      expect((await contents(imported)).versions.length).toBeGreaterThan(kept.length);
    } finally {
      await imported.close();
    }
  });

  it('refuses to import into a store that is not empty', async () => {
    const again = cli(['import', '--in', exportDir], { DATABASE_URL: schema.url });
    const failure = await again.then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/not empty/);
  });
});
