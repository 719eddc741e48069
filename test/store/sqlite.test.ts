import Sqlite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { indexEntries } from '../../src/fhir/index-values.js';
import { queryBuilder } from '../../src/store/sql/database.js';
import { migrate } from '../../src/store/sql/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { deliveryQueueContract } from './delivery-contract.js';
import { reportFactsContract } from './report-facts-contract.js';
import { storeContract, storeSupportContract, type StoreHarness } from './store-contract.js';

/** A store in a fresh temporary directory; `file` is its database, for tests that look at it directly. */
function sqliteHarness(): StoreHarness & { file: string; open(): Promise<SqliteStore> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signpost-store-'));
  const file = path.join(dir, 'store.sqlite');
  const open = () => SqliteStore.open({ file, indexer: (r) => indexEntries(r, 'http://x') });
  return { file, open, reopen: open, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
}

storeContract('SQLite', sqliteHarness);
storeSupportContract('SQLite', sqliteHarness);
deliveryQueueContract('SQLite', sqliteHarness);
reportFactsContract('SQLite', sqliteHarness);

describe('SQLite group commit', () => {
  it('acknowledges a transaction only once its batch is committed and visible to another connection', async () => {
    const h = sqliteHarness();
    const store = await h.open();
    const other = new Sqlite(h.file, { readonly: true });
    try {
      const writes = Array.from({ length: 40 }, (_, i) =>
        store.transaction((tx) => tx.write({ resourceType: 'Patient', id: `p${i}` }, { method: 'POST' })).then(() =>
          // At the moment each promise settles, its row must already be committed.
          (other.prepare('SELECT count(*) AS n FROM resource WHERE id = ?').get(`p${i}`) as { n: number }).n));
      expect(await Promise.all(writes)).toEqual(Array(40).fill(1));
    } finally {
      other.close();
      await store.close();
      await h.cleanup();
    }
  });
});

describe('SQLite checkpoints', () => {
  it('are made by the background connection, not by commits: the WAL is copied into the database within moments', async () => {
    const h = sqliteHarness();
    const store = await h.open();
    try {
      for (let b = 0; b < 5; b++) {
        await store.transaction(async (tx) => {
          for (let i = 0; i < 500; i++) await tx.write({ resourceType: 'Patient', id: `p${b}-${i}`, name: [{ family: 'x'.repeat(200) }] } as fhir4.Patient & { id: string }, { method: 'POST' });
        });
      }
      // Commits alone never checkpoint (wal_autocheckpoint = 0): only a checkpoint copies pages into the
      // database file, so the file growing past the first pages shows the background connection at work.
      const deadline = Date.now() + 2000;
      while (fs.statSync(h.file).size < 1_000_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(fs.statSync(h.file).size).toBeGreaterThan(1_000_000);
    } finally {
      await store.close();
      await h.cleanup();
    }
  });
});

describe('SQLite schema migrations', () => {
  it('moves the audit references of a version 2 ledger into the FTS index of version 3, case and all', async () => {
    const h = sqliteHarness();
    const raw = new Sqlite(h.file);
    raw.pragma('journal_mode = WAL');
    const runner = {
      all: async <R>(q: import('kysely').CompiledQuery) => raw.prepare(q.sql).all(...(q.parameters as unknown[])) as R[],
      run: async (q: import('kysely').CompiledQuery) => { raw.prepare(q.sql).run(...(q.parameters as unknown[])); },
    };
    raw.exec('BEGIN');
    await migrate(queryBuilder('sqlite'), 'sqlite', runner, { target: 2 });
    const event = raw.prepare('INSERT INTO audit_event (seq, recorded, outcome, subtype, org, json, hash) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const entity = raw.prepare('INSERT INTO audit_entity (ref, seq) VALUES (?, ?)');
    for (const [seq, refs] of [[1, ['Patient/a', 'Task/t']], [2, ['Patient/A']], [3, []]] as const) {
      event.run(seq, 1_000 + seq, '0', 'read', 'A81001', JSON.stringify({ resourceType: 'AuditEvent', id: String(seq) }), `h${seq}`);
      for (const ref of refs) entity.run(ref, seq);
    }
    raw.exec('COMMIT');
    raw.close();

    const store = await h.open();
    try {
      const find = async (filter: import('../../src/store/store.js').Filter) => (await store.transaction((tx) =>
        tx.search({ type: 'AuditEvent', sort: 'default', count: 10, filters: [filter] }))).matches.map((m) => m.id);
      // Found at once after opening: the store's clock resumes after the newest audit record, not only the newest version.
      expect(await find({ kind: 'reference', param: 'patient', targets: ['Patient/a'] })).toEqual(['1']);
      expect(await find({ kind: 'reference', param: 'patient', targets: ['Patient/A'] })).toEqual(['2']);
      expect(await find({ kind: 'reference', param: 'entity', targets: ['Task/t', 'Patient/A'] })).toEqual(['1', '2']);
      expect(await find({ kind: 'missing', param: 'entity', index: 'reference', missing: true })).toEqual(['3']);
      const check = new Sqlite(h.file, { readonly: true });
      expect(check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'audit_entity'").get()).toEqual({ n: 0 });
      check.close();
    } finally {
      await store.close();
      await h.cleanup();
    }
  });
});

describe('SQLite audit reference index', () => {
  it('indexes the references a store of schema 5 kept waiting in audit_ref_pending when it is opened (migration 6)', async () => {
    const h = sqliteHarness();
    let store = await h.open();
    try {
      for (let seq = 1; seq <= 3; seq++) {
        await store.transaction((tx) => tx.appendAudit({
          seq, json: JSON.stringify({ resourceType: 'AuditEvent', id: String(seq) }), hash: `h${seq}`, recorded: tx.now(),
          outcome: '0', subtype: 'read', entities: [`Patient/p${seq}`],
        }));
      }
      await store.close();
      // Back to schema 5 as it left these events: references in audit_ref_pending, hex-encoded, none indexed.
      const raw = new Sqlite(h.file);
      // (and without the tables of later migrations: 8's outbox, 9's report facts)
      raw.exec(`DROP TABLE audit_ref_indexed; ALTER TABLE audit_event DROP COLUMN refs; DROP TABLE delivery; DROP TABLE referral_fact; DROP TABLE score_fact;
        DELETE FROM schema_migration WHERE version >= 6;
        CREATE TABLE audit_ref_pending (seq integer PRIMARY KEY, refs text NOT NULL)`);
      for (let seq = 1; seq <= 3; seq++) raw.prepare('INSERT INTO audit_ref_pending VALUES (?, ?)').run(seq, Buffer.from(`Patient/p${seq}`).toString('hex'));
      raw.close();
      store = await h.open();
      const found = await store.transaction(async (tx) =>
        (await tx.search({ type: 'AuditEvent', sort: 'default', count: 10, filters: [{ kind: 'reference', param: 'patient', targets: ['Patient/p2'] }] })).matches.map((m) => m.id));
      expect(found).toEqual(['2']);
      const after = new Sqlite(h.file, { readonly: true });
      expect(after.prepare("SELECT name FROM sqlite_master WHERE name = 'audit_ref_pending'").all()).toEqual([]);
      expect((after.prepare('SELECT through FROM audit_ref_indexed').get() as { through: number }).through).toBe(3);
      after.close();
    } finally {
      await store.close();
      await h.cleanup();
    }
  });

  it('keeps references in the ledger rows, moves them to the FTS index in bulk, and finds every event by entity, also after a reopen', async () => {
    const h = sqliteHarness();
    let store = await h.open();
    const total = 300; // beyond one bulk move (every 256 events), with some left waiting
    const patientOf = (seq: number) => `Patient/p${seq % 3}`;
    try {
      for (let seq = 1; seq <= total; seq++) {
        await store.transaction((tx) => tx.appendAudit({
          seq, json: JSON.stringify({ resourceType: 'AuditEvent', id: String(seq) }), hash: `h${seq}`, recorded: tx.now(),
          outcome: '0', subtype: 'read', entities: [patientOf(seq)],
        }));
      }
      const raw = new Sqlite(h.file, { readonly: true });
      const indexed = (raw.prepare('SELECT through FROM audit_ref_indexed').get() as { through: number }).through;
      raw.close();
      expect(indexed).toBe(256);
      await store.close();
      store = await h.open();
      const found = await store.transaction(async (tx) =>
        (await tx.search({ type: 'AuditEvent', sort: 'default', count: 1000, filters: [{ kind: 'reference', param: 'patient', targets: ['Patient/p1'] }] })).matches.map((m) => Number(m.id)));
      expect(found).toEqual(Array.from({ length: total }, (_, i) => i + 1).filter((seq) => patientOf(seq) === 'Patient/p1'));
      const after = new Sqlite(h.file, { readonly: true });
      expect((after.prepare('SELECT through FROM audit_ref_indexed').get() as { through: number }).through).toBe(total);
      after.close();
    } finally {
      await store.close();
      await h.cleanup();
    }
  });
});
