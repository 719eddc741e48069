import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderStoredAuditRecord } from '../../src/audit/audit-event.js';
import { indexEntries } from '../../src/fhir/index-values.js';
import { parseSearch } from '../../src/fhir/search-params.js';
import { rebuildReports } from '../../src/reports/report-replay.js';
import { ETHNIC_CATEGORY_EXTENSION } from '../../src/reports/strata.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { RebuildReports } from '../../src/store/report-facts.js';
import { latestSchemaVersion } from '../../src/store/sql/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { BASE_URL } from '../fixtures/gateway.js';
import { freshReferral, moveTask, type Versioned } from '../fixtures/referrals.js';
import { startSecureTestGateway, type AuthedClient, type SecureTestGateway } from '../fixtures/secure-gateway.js';

/**
 * An existing deployment upgrading: its store holds referrals and Consents written by a version that
 * kept no reports' read model (before migration 9) and did not index the Consent `period` parameter.
 * Migration 10 derives both from the stored versions when the store is next opened. Here a store filled
 * through the gateway is put back as such a version would have left it (no read model rows, no `period`
 * rows, migration 10 not applied) and opened again: it must then hold exactly what the fresh writes made.
 */

let gw: SecureTestGateway;
let gp: AuthedClient;
let lw: AuthedClient;
let store: Store | undefined;
/** What the fresh writes made: the read model's rows and the `period` index rows of every Consent version. */
let fresh: Awaited<ReturnType<typeof derived>>;
let consents: Record<'lasting' | 'shorter' | 'extended', string>;
/** The referral whose patient's record changed after it was made. */
let changedPatientReferral: string;

const options = { indexer: (r: fhir4.Resource) => indexEntries(r, BASE_URL), renderAudit: renderStoredAuditRecord };
const onPostgres = () => gw.db.file === undefined;

async function derived() {
  return {
    referrals: await gw.db.query('SELECT * FROM referral_fact ORDER BY referral'),
    scores: await gw.db.query('SELECT * FROM score_fact ORDER BY referral, code'),
    periods: await gw.db.query("SELECT rid, valid_from, valid_to, lo, hi FROM sp_date WHERE param = 'Consent.period' ORDER BY rid, valid_from"),
  };
}

/** Back to what a version before migration 10 left: the derived rows gone, the migration not recorded. */
async function asBeforeMigration10(): Promise<void> {
  await gw.db.query('DELETE FROM score_fact');
  await gw.db.query('DELETE FROM referral_fact');
  await gw.db.query("DELETE FROM sp_date WHERE param = 'Consent.period'");
  await gw.db.query('DELETE FROM schema_migration WHERE version = 10');
}

/** The ids of the Consents whose period reaches past 2030-06-30, found through the `period` index. */
async function lastingBeyond2030(s: Store): Promise<string[]> {
  const { query } = parseSearch('Consent', new URLSearchParams('period=gt2030-06-30'), { lenient: false, baseUrl: BASE_URL });
  return (await s.transaction((tx) => tx.search(query))).matches.map((m) => m.id).sort();
}

/** A referral of a patient with these strata, whose Consent permits for `period`; its ids and its Task. */
async function refer(seed: number, patient: Partial<fhir4.Patient>, ethnicity: string | undefined, period: fhir4.Period) {
  const { bundle } = freshReferral(seed);
  const resource = <T extends fhir4.Resource>(type: string) => bundle.entry!.find((e) => e.resource?.resourceType === type)!.resource as T;
  Object.assign(resource<fhir4.Patient>('Patient'), patient, ethnicity
    ? { extension: [{ url: ETHNIC_CATEGORY_EXTENSION, valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland', code: ethnicity }] } }] }
    : {});
  resource<fhir4.Consent>('Consent').provision = { type: 'permit', period };
  const res = await gp.post('/fhir', bundle);
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  const idOf = (type: string) => (res.body.entry as fhir4.BundleEntry[]).map((e) => e.fullUrl ?? '').find((u) => u.includes(`/${type}/`))!.split('/').at(-1)!;
  const task = (await lw.get(`/fhir/Task?focus=ServiceRequest/${idOf('ServiceRequest')}`)).body.entry[0].resource as Versioned<fhir4.Task>;
  return { referral: idOf('ServiceRequest'), patient: idOf('Patient'), consent: idOf('Consent'), task };
}

async function moved(task: Versioned<fhir4.Task>, change: Partial<fhir4.Task>): Promise<Versioned<fhir4.Task>> {
  const res = await moveTask(lw, task, change);
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  return res.body;
}

async function swemwbs(r: { referral: string; patient: string }, answer: number, authored: string): Promise<void> {
  const res = await lw.post('/fhir/QuestionnaireResponse', {
    resourceType: 'QuestionnaireResponse', questionnaire: 'https://signpost.health/fhir/Questionnaire/swemwbs', status: 'completed',
    subject: { reference: `Patient/${r.patient}` }, basedOn: [{ reference: `ServiceRequest/${r.referral}` }], authored,
    item: Array.from({ length: 7 }, (_, i) => ({ linkId: `swemwbs-${i + 1}`, answer: [{ valueInteger: answer }] })),
  });
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(201);
}

/** PUTs a resource changed by `change` as the practice. */
async function changed(type: string, id: string, change: object): Promise<void> {
  const current = (await gp.get(`/fhir/${type}/${id}`)).body as fhir4.Resource;
  const res = await gp.put(`/fhir/${type}/${id}`, { ...current, ...change });
  expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
}

beforeAll(async () => {
  gw = await startSecureTestGateway();
  [gp, lw] = await Promise.all([gw.as('referrer'), gw.as('linkWorker')]);
  // Completed with a baseline and a follow-up; declined with a reason; and one whose patient's record
  // and Consent changed after the referral (the model keeps the strata of the referral's day).
  const completed = await refer(9_810_001, { birthDate: '1961-03-10', gender: 'female' }, 'H', { start: '2025-01-01', end: '2030-12-31' });
  const started = await moved(await moved(completed.task, { status: 'accepted' }), { status: 'in-progress' });
  await swemwbs(completed, 2, '2026-01-05T10:00:00Z');
  await swemwbs(completed, 3, '2026-03-05T10:00:00Z');
  await moved((await lw.get(`/fhir/Task/${started.id}`)).body, { status: 'completed' });
  const declined = await refer(9_810_002, { birthDate: '1990-07-01', gender: 'male' }, undefined, { start: '2025-01-01', end: '2027-12-31' });
  await moved(declined.task, { status: 'rejected', statusReason: { coding: [{ system: 'https://signpost.health/fhir/CodeSystem/sp-task-status-reason', code: 'service-at-capacity' }] } });
  const later = await refer(9_810_003, { birthDate: '2010-05-05', gender: 'unknown' }, 'N', { start: '2025-01-01', end: '2028-06-30' });
  await changed('Patient', later.patient, { birthDate: '1950-05-05', gender: 'other' });
  await changed('Consent', later.consent, { provision: { type: 'permit', period: { start: '2025-01-01', end: '2031-06-30' } } });
  consents = { lasting: completed.consent, shorter: declined.consent, extended: later.consent };
  changedPatientReferral = later.referral;
  fresh = await derived();
  // The gateway's store is closed here; each test opens the database as it needs it.
  await gw.store.close();
});

afterAll(async () => {
  await store?.close();
  await gw.db.drop();
  fs.rmSync(gw.dir, { recursive: true, force: true });
});

describe('a store written before migration 10, opened by this version', () => {
  it('starts from what the fresh writes made: every referral in the read model, every Consent version indexed by period', () => {
    expect(fresh.referrals).toHaveLength(3);
    expect(fresh.referrals.find((r) => r.referral === changedPatientReferral)).toMatchObject({ age_band: '0-17', gender: 'unknown', ethnicity: 'N' });
    expect(fresh.scores.length).toBeGreaterThan(0);
    // Four Consent versions: the extended Consent's first was closed when its second was written.
    expect(fresh.periods).toHaveLength(4);
    expect(fresh.periods.filter((p) => p.valid_to !== Number.MAX_SAFE_INTEGER)).toHaveLength(1);
  });

  it('rebuilds the reports\' read model and indexes Consent periods exactly as the fresh writes did', async () => {
    await asBeforeMigration10();
    store = await gw.db.reopen();
    expect(await derived()).toEqual(fresh);
    expect(await lastingBeyond2030(store)).toEqual([consents.lasting, consents.extended].sort());
    await store.close();
    store = undefined;
  });

  it('is refused by an opener that cannot rebuild the read model, and left as it was for one that can', async () => {
    await asBeforeMigration10();
    const opening = onPostgres()
      ? PostgresStore.open({ url: gw.db.env.DATABASE_URL!, ...options })
      : SqliteStore.open({ file: gw.db.file!, ...options });
    await expect(opening).rejects.toThrow(/migration 10 rebuilds the reports' read model.*start the gateway on this store first/);
    // Nothing of migration 10 was kept: not its record, not the Consent periods it had indexed meanwhile.
    expect(await gw.db.query('SELECT version FROM schema_migration WHERE version = 10')).toEqual([]);
    expect((await derived()).periods).toEqual([]);
    store = await gw.db.reopen();
    expect(await derived()).toEqual(fresh);
    await store.close();
    store = undefined;
  });

  it.runIf(process.env.SIGNPOST_TEST_STORE === 'postgres')('migrates and rebuilds once when several instances open it together', async () => {
    await asBeforeMigration10();
    let rebuilds = 0;
    const counted: RebuildReports = (tx) => { rebuilds++; return rebuildReports(tx); };
    const stores = await Promise.all(Array.from({ length: 3 }, () => PostgresStore.open({ url: gw.db.env.DATABASE_URL!, ...options, rebuildReports: counted })));
    try {
      expect(rebuilds).toBe(1);
      expect((await gw.db.query<{ version: number }>('SELECT version FROM schema_migration ORDER BY version')).map((r) => r.version))
        .toEqual(Array.from({ length: latestSchemaVersion }, (_, i) => i + 1));
      expect(await derived()).toEqual(fresh);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
