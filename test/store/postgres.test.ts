import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { indexEntries } from '../../src/fhir/index-values.js';
import { parseSearch } from '../../src/fhir/search-params.js';
import { queryBuilder } from '../../src/store/sql/database.js';
import { latestSchemaVersion } from '../../src/store/sql/migrations.js';
import { searchPageQuery } from '../../src/store/sql/search-sql.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { freshSchema, type TestSchema } from '../fixtures/postgres.js';
import { deliveryQueueContract } from './delivery-contract.js';
import { reportFactsContract } from './report-facts-contract.js';
import { storeContract, storeSupportContract, type StoreHarness } from './store-contract.js';

/** A store in a fresh schema of the test database. */
function postgresHarness(): StoreHarness & { schema(): Promise<TestSchema> } {
  let schema: Promise<TestSchema> | undefined;
  const open = async () => PostgresStore.open({ url: (await (schema ??= freshSchema())).url, indexer: (r) => indexEntries(r, 'http://x') });
  return {
    open, reopen: open,
    schema: () => (schema ??= freshSchema()),
    cleanup: async () => { await (await schema)?.drop(); },
  };
}

storeContract('PostgreSQL', postgresHarness);
storeSupportContract('PostgreSQL', postgresHarness);
deliveryQueueContract('PostgreSQL', postgresHarness);
reportFactsContract('PostgreSQL', postgresHarness);

describe('PostgreSQL start-up', () => {
  it('migrates once when several instances open an empty database together', async () => {
    const h = postgresHarness();
    const { url } = await h.schema();
    const stores = await Promise.all(Array.from({ length: 4 }, () => PostgresStore.open({ url, indexer: (r) => indexEntries(r, 'http://x') })));
    try {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const versions = (await client.query('SELECT version FROM schema_migration ORDER BY version')).rows.map((r) => Number(r.version));
      await client.end();
      expect(versions).toEqual(Array.from({ length: latestSchemaVersion }, (_, i) => i + 1));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
      await h.cleanup();
    }
  });

  it('refuses a schema newer than this code, saying so', async () => {
    const h = postgresHarness();
    const { url } = await h.schema();
    await (await PostgresStore.open({ url, indexer: (r) => indexEntries(r, 'http://x') })).close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('INSERT INTO schema_migration (version, applied_at) VALUES ($1, $2)', [latestSchemaVersion + 1, new Date().toISOString()]);
    await client.end();
    try {
      await expect(PostgresStore.open({ url, indexer: (r) => indexEntries(r, 'http://x') }))
        .rejects.toThrow(`the database schema (version ${latestSchemaVersion + 1}) is newer than this Signpost (version ${latestSchemaVersion})`);
    } finally {
      await h.cleanup();
    }
  });

  it('fails to open, saying which database and why, without its password, when it cannot be reached', async () => {
    const opening = PostgresStore.open({ url: 'postgres://signpost:s3cret@127.0.0.1:1/clinic', indexer: (r) => indexEntries(r, 'http://x') });
    await expect(opening).rejects.toThrow('cannot open the PostgreSQL database clinic at 127.0.0.1:1 (DATABASE_URL): ');
    await expect(opening).rejects.toThrow(/ECONNREFUSED/);
    await expect(opening).rejects.not.toThrow(/s3cret/);
  });
});

describe('PostgreSQL connections', () => {
  it('survives losing its connection in the middle of a batch: that batch fails whole, the next one succeeds', async () => {
    const h = postgresHarness();
    const { url } = await h.schema();
    const schema = new URL(url).searchParams.get('options')!.replace('-c search_path=', '');
    const store = await PostgresStore.open({ url, indexer: (r) => indexEntries(r, 'http://x') });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const lost = store.transaction(async (tx) => {
        await tx.write({ resourceType: 'Patient', id: 'lost' }, { method: 'POST' });
        // The batch holds the lock on store_head: end exactly that session, as a database restart would.
        const ended = await admin.query(`SELECT pg_terminate_backend(pid) AS ended FROM pg_locks
          WHERE relation = '${schema}.store_head'::regclass AND granted AND pid <> pg_backend_pid()`);
        expect(ended.rows).toEqual([{ ended: true }]);
        await new Promise((resolve) => setTimeout(resolve, 100)); // the client hears of it while checked out
        return tx.read('Patient', 'lost');
      });
      await expect(lost).rejects.toThrow();
      const kept = await store.transaction((tx) => tx.write({ resourceType: 'Patient', id: 'kept' }, { method: 'POST' }));
      expect(kept.version).toBe(1);
      expect(await store.transaction((tx) => tx.read('Patient', 'lost'))).toBeUndefined();
    } finally {
      await admin.end();
      await store.close();
      await h.cleanup();
    }
  });
});

describe('PostgreSQL search plans', () => {
  it('probes every filter but the driving one per candidate, in the driver\'s order: no filter becomes a join it could reorder', async () => {
    const h = postgresHarness();
    const { url } = await h.schema();
    const store = await PostgresStore.open({ url, indexer: (r) => indexEntries(r, 'http://x') });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await store.transaction(async (tx) => {
        for (let i = 0; i < 200; i++) {
          const owner = `SP00${i % 2}`;
          await tx.write({ resourceType: 'Task', id: `t${i}`, status: i % 3 ? 'requested' : 'accepted', intent: 'order', owner: { reference: `Organization/${owner}` } } as fhir4.Task & { id: string }, { method: 'POST' });
          await tx.grant('Task', `t${i}`, [owner]);
        }
      });
      await admin.query('ANALYZE');
      const db = queryBuilder('postgres');
      const query = parseSearch('Task', new URLSearchParams({ owner: 'Organization/SP001', status: 'requested', _lastUpdated: 'ge2020-01-01', _sort: '_lastUpdated', _count: '50' }), { lenient: false, baseUrl: '' }).query;
      const compiled = searchPageQuery(db, 'postgres', { ...query, filters: [...query.filters, { kind: 'granted', org: 'SP001' }] }, Number.MAX_SAFE_INTEGER - 1);
      const plan = (await admin.query(`EXPLAIN ${compiled.sql}`, compiled.parameters as unknown[])).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
      // The status and grant probes stay SubPlans of the driver's scan; pulled up, they would be semi-joins.
      expect(plan.match(/SubPlan/g)?.length ?? 0, plan).toBeGreaterThanOrEqual(2);
      expect(plan, plan).not.toMatch(/Semi Join|Anti Join/);
      const page = await store.transaction((tx) => tx.search({ ...query, filters: [...query.filters, { kind: 'granted', org: 'SP001' }] }));
      expect(page.matches.map((m) => m.id)).toEqual(Array.from({ length: 200 }, (_, i) => i).filter((i) => i % 2 === 1 && i % 3 !== 0).slice(0, 50).map((i) => `t${i}`));
    } finally {
      await admin.end();
      await store.close();
      await h.cleanup();
    }
  });
});
