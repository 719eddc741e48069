import { sqliteFileIn } from '../src/store/open-store.js';
import { randomUUID } from 'node:crypto';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { applyGrants } from '../src/auth/grants.js';
import { organizationResource } from '../src/config/organizations.js';
import { indexEntries } from '../src/fhir/index-values.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { ORGANIZATIONS, PRACTICE, SERVICES } from './clients.js';
import { NhsNumbers, patient, task } from './fixtures.js';

/**
 * Child process: fills a data directory with `total` resources through the store itself (same
 * versioning, indexes and access grants as if the practice's client had written them), in large
 * transactions so that seeding takes seconds rather than the minutes 100,000 HTTP requests would.
 * With DATABASE_URL set, it fills that PostgreSQL database instead of the data directory's SQLite file.
 * Usage: seed.ts <data dir> <total> [mixed|tasks]; prints the SeedManifest as JSON on stdout. `mixed`
 * (the default) is half Patients, half Tasks; `tasks` is Tasks alone, for the polling scenario, each
 * about a Patient that is not stored (polling reads Tasks only).
 */

export interface SeedManifest {
  /** Ids of the seeded Patients: the read scenario picks among them. */
  patients: string[];
  /** NHS numbers 0..nhsUsed-1 are taken; later writes continue from here. */
  nhsUsed: number;
  /** The store's clock (µs) just before and just after the seeded writes: their lastUpdated lie between. */
  written: { from: number; to: number };
  /**
   * `mixed` only: the seeded Tasks in status in-progress, as stored at version 1, in the order written.
   * The action scenarios put each on hold and resume it, over and over.
   */
  inProgress: SeededTask[];
}

export interface SeededTask {
  /** The referral (the Task's focus): what the plain-JSON API's actions name. */
  referral: string;
  owner: string;
  task: fhir4.Task & { id: string };
}

/**
 * Writes per store transaction. Small: a store transaction is a SAVEPOINT, and inside one every
 * statement costs SQLite time in proportion to the pages the savepoint has already changed (perf puts
 * 86% of a 2,000-write transaction's time in sqlite3BtreeSavepoint, at each statement's end). Measured
 * here: 2,000 writes a transaction seeded 100,000 Tasks in 18 minutes, slowing as it went; 50 a
 * transaction, in 61 s, at a flat ~1,700 writes/s. (An interaction of the gateway changes tens of pages.)
 */
const PER_TRANSACTION = 50;
/** Transactions between two blocking checkpoints (see seed()): one per 20,000 writes. */
const CHECKPOINT_EVERY = 400;

async function seed(dataDir: string, total: number, kind: 'mixed' | 'tasks'): Promise<SeedManifest> {
  // Durability does not matter while filling a scratch directory; the gateway reopens it with its own setting.
  const file = sqliteFileIn(dataDir); // the file the gateway opens in SIGNPOST_DATA_DIR
  const url = process.env.DATABASE_URL;
  const store = url
    ? await PostgresStore.open({ url, indexer: (r) => indexEntries(r, '') })
    : await SqliteStore.open({ file, indexer: (r) => indexEntries(r, ''), synchronous: 'normal' });
  // The configured organisations first, exactly as the gateway materialises them, so it finds them unchanged.
  const resources: (fhir4.Resource & { id: string })[] = ORGANIZATIONS.map(organizationResource);
  const nhs = new NhsNumbers();
  const patients: string[] = [];
  const inProgress: SeededTask[] = [];
  if (kind === 'tasks') {
    for (let i = 0; resources.length < total; i++) {
      resources.push({ ...task(i, SERVICES[i % SERVICES.length]!, `Patient/${randomUUID()}`), id: randomUUID() });
    }
  }
  const pairs = kind === 'tasks' ? 0 : Math.floor((total - resources.length) / 2);
  for (let i = 0; i < pairs; i++) {
    const id = randomUUID();
    patients.push(id);
    resources.push({ ...patient(nhs.take(), i), id });
    const owner = SERVICES[i % SERVICES.length]!;
    const t = { ...task(i, owner, `Patient/${id}`), id: randomUUID() };
    resources.push(t);
    if (t.status === 'in-progress') inProgress.push({ referral: t.focus!.reference!.split('/')[1]!, owner, task: t });
  }
  // Odd totals: one more Patient, so the store holds exactly `total` resources.
  if (kind === 'mixed' && resources.length < total) {
    const id = randomUUID();
    patients.push(id);
    resources.push({ ...patient(nhs.take(), pairs), id });
  }
  const from = await store.transaction(async (tx) => tx.now());
  // The store's background checkpoints never block its writer, so under back-to-back transactions
  // like these they never catch up and the WAL grows by gigabytes (seen at a million Tasks), slowing
  // every write. Between this script's transactions nothing else writes: a blocking checkpoint there
  // every few transactions keeps the WAL small. (PostgreSQL checkpoints by itself.)
  const checkpoints = url ? undefined : new Sqlite(file);
  checkpoints?.pragma('busy_timeout = 10000');
  for (let i = 0; i < resources.length; i += PER_TRANSACTION) {
    const chunk = resources.slice(i, i + PER_TRANSACTION);
    await store.transaction(async (tx) => {
      for (const r of chunk) await applyGrants(tx, await tx.write(r, { method: 'POST', expectVersion: 0 }), PRACTICE, '');
    });
    if ((i / PER_TRANSACTION) % CHECKPOINT_EVERY === CHECKPOINT_EVERY - 1) checkpoints?.pragma('wal_checkpoint(TRUNCATE)');
  }
  checkpoints?.close();
  const to = await store.transaction(async (tx) => tx.now());
  // What autovacuum does in its own time after a bulk load, done now so that the measured queries run
  // as on a database that has been running: statistics for the planner, and the visibility map that
  // lets the index lookups skip the table. Measured on the Task search page at 20,000 resources:
  // 30 ms (hash join of every owner and status row, then a sort) before, 3.9 ms (index-only scans in
  // rid order, stopping at the page) after.
  if (url) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('VACUUM ANALYZE');
    } finally {
      await client.end();
    }
  }
  // close() waits for the store's checkpoint worker to exit, and that worker is unref'd: with nothing
  // else pending, this script's top-level await would end the process first (exit 13). Hold it open.
  const hold = setInterval(() => undefined, 1000);
  try {
    await store.close();
  } finally {
    clearInterval(hold);
  }
  return { patients, nhsUsed: patients.length, written: { from, to }, inProgress };
}

const [dataDir, total, kind = 'mixed'] = process.argv.slice(2);
if (!dataDir || !total || (kind !== 'mixed' && kind !== 'tasks')) throw new Error('usage: seed.ts <data dir> <total resources> [mixed|tasks]');
process.stdout.write(JSON.stringify(await seed(dataDir, Number(total), kind)));
