import fs from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { sql, type CompiledQuery } from 'kysely';
import { BatchingStore, type BatchConnection, type Settle } from '../sql/batching-store.js';
import { queryBuilder } from '../sql/database.js';
import { migrate } from '../sql/migrations.js';
import type { AuditRenderer, KnownHead } from '../sql/sql-ledger.js';
import type { Indexer } from '../sql/sql-tx.js';
import type { RebuildReports } from '../report-facts.js';
import { Checkpointer } from './checkpointer.js';

/**
 * How the connection reads pages. SQLite's default page cache is 2 MiB, so on a store of 100,000
 * resources nearly every index page a search touches is a read() of the OS cache; memory-mapping the
 * database file lets those reads be plain memory accesses (the OS page cache, shared, not this heap),
 * and a larger page cache keeps the hot index pages of writes. Measured on the bench's poll: the
 * statement's p99 fell from 1.3 to 0.7 ms. Exported so that the bench's query-plan script reads as the store does.
 */
export const READ_PATH_PRAGMAS: readonly string[] = ['mmap_size = 1073741824', 'cache_size = -32768'];

export interface SqliteStoreOptions {
  file: string;
  indexer: Indexer;
  /**
   * 'full' (the default): a transaction is acknowledged only once the write-ahead log holding it has
   * been fsynced, so it survives power loss. 'normal': acknowledged at commit, without the fsync.
   */
  synchronous?: 'full' | 'normal';
  /** Most transactions that share one commit. */
  maxBatch?: number;
  /** How audit ledger entries read as AuditEvents (see AuditRenderer); by default, their JSON as stored. */
  renderAudit?: AuditRenderer;
  /** For the migration that rebuilds the reports' read model (10): see migrations.ts. */
  rebuildReports?: RebuildReports;
}

/**
 * The embedded store. better-sqlite3 is synchronous and SQLite has one writer: group commit
 * (BatchingStore) runs the queued transactions back to back, and this connection, the only writer,
 * knows the audit ledger's head from one batch to the next.
 *
 * Durability is made asynchronous: SQLite commits in WAL mode without syncing (synchronous=NORMAL),
 * and the store itself fsyncs the WAL file on libuv's thread pool, settling every batch committed
 * before that fsync began once it completes. The event loop keeps serving (and the next batches keep
 * committing) while the disk flushes, and no promise settles before its data is on disk. Checkpoints
 * still sync the WAL before copying it and the database after (SQLite's NORMAL rules), so data that
 * leaves the WAL stays durable; they run on a worker thread of their own (checkpointer.ts).
 */
export class SqliteStore extends BatchingStore {
  private readonly conn: Sqlite.Database;
  private readonly statements = new Map<string, Sqlite.Statement>();
  private readonly batchConn: BatchConnection;
  private readonly control: Record<'begin' | 'commit' | 'rollback', Sqlite.Statement>;
  private readonly durable: boolean;
  private walFd: number | undefined;
  /** Settlements of committed batches waiting for the next fsync, and whether one is running. */
  private awaitingSync: Settle[] = [];
  private syncing: Promise<void> | undefined;
  private checkpointer: Checkpointer | undefined;
  /** The audit ledger's head as committed: this connection is the only writer, so it is read once. */
  private ledgerHead: KnownHead = 'unknown';

  private constructor(options: SqliteStoreOptions) {
    super(queryBuilder('sqlite'), 'sqlite', options.indexer, options.renderAudit, options.maxBatch ?? 256);
    fs.mkdirSync(path.dirname(options.file), { recursive: true });
    this.conn = new Sqlite(options.file);
    this.conn.pragma('journal_mode = WAL');
    this.conn.pragma('synchronous = NORMAL');
    this.conn.pragma('busy_timeout = 5000');
    // Savepoint journals (one per queued transaction) stay in memory rather than spilling to temporary files.
    this.conn.pragma('temp_store = MEMORY');
    // Checkpoints run on a worker thread (checkpointer.ts), not inside our commits.
    this.conn.pragma('wal_autocheckpoint = 0');
    for (const p of READ_PATH_PRAGMAS) this.conn.pragma(p);
    this.durable = options.synchronous !== 'normal';
    const prep = (text: string) => this.conn.prepare(text);
    this.control = { begin: prep('BEGIN IMMEDIATE'), commit: prep('COMMIT'), rollback: prep('ROLLBACK') };
    const savepoint = prep('SAVEPOINT tx');
    const release = prep('RELEASE tx');
    const rollbackTo = prep('ROLLBACK TO tx');
    this.batchConn = {
      runner: {
        all: async <R>(q: CompiledQuery) => this.statement(q).all(...(q.parameters as unknown[])) as R[],
        run: async (q: CompiledQuery) => {
          const stmt = this.statement(q);
          if (stmt.reader) stmt.all(...(q.parameters as unknown[]));
          else stmt.run(...(q.parameters as unknown[]));
        },
      },
      savepoint: () => { savepoint.run(); },
      release: () => { release.run(); },
      rollbackToSavepoint: () => { rollbackTo.run(); },
    };
  }

  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const store = new SqliteStore(options);
    try {
      store.control.begin.run();
      await migrate(store.db, 'sqlite', store.batchConn.runner, store.migrationOptions(store.batchConn.runner, options.rebuildReports));
      store.control.commit.run();
      // The clock resumes after everything stamped before: versions and audit records alike, or a search
      // right after a restart (as of the clock's instant) would miss the newest audit records.
      for (const q of [
        store.db.selectFrom('resource_version').select(sql<number | null>`max(last_updated)`.as('t')),
        store.db.selectFrom('audit_event').select(sql<number | null>`max(recorded)`.as('t')),
      ]) {
        const rows = await store.batchConn.runner.all<{ t: number | null }>(q.compile());
        store.clock.observe(Number(rows[0]?.t ?? 0));
      }
      // The WAL file exists from the first commit on and keeps its inode while this connection is open.
      if (store.durable) store.walFd = fs.openSync(`${options.file}-wal`, 'r');
      store.checkpointer = new Checkpointer(options.file);
    } catch (e) {
      if (store.conn.inTransaction) store.control.rollback.run();
      store.conn.close();
      throw e;
    }
    return store;
  }

  private statement(q: CompiledQuery): Sqlite.Statement {
    let stmt = this.statements.get(q.sql);
    if (!stmt) {
      stmt = this.conn.prepare(q.sql);
      this.statements.set(q.sql, stmt);
    }
    return stmt;
  }

  protected async beginBatch(): Promise<{ conn: BatchConnection; head: KnownHead }> {
    this.control.begin.run();
    return { conn: this.batchConn, head: this.ledgerHead };
  }

  protected async commitBatch(_conn: BatchConnection, head: KnownHead): Promise<void> {
    this.control.commit.run();
    this.ledgerHead = head;
  }

  protected async abandonBatch(): Promise<void> {
    if (this.conn.inTransaction) this.control.rollback.run();
  }

  /**
   * Settles a committed batch once it is durable. Every batch waits for an fsync that starts after its
   * commit, including batches that only read: what they saw may have been committed moments before.
   */
  protected settleCommitted(settles: Settle[]): void {
    if (this.walFd === undefined) {
      settles.forEach((s) => s.settle());
      return;
    }
    this.awaitingSync.push(...settles);
    if (!this.syncing) this.syncing = this.syncLoop();
  }

  private async syncLoop(): Promise<void> {
    while (this.awaitingSync.length > 0) {
      const group = this.awaitingSync;
      this.awaitingSync = [];
      try {
        await new Promise<void>((resolve, reject) => fs.fdatasync(this.walFd!, (err) => (err ? reject(err) : resolve())));
        group.forEach((s) => s.settle());
      } catch (error) {
        // Committed but not known to be on disk: the clients must not be told it is saved.
        group.forEach((s) => s.fail(error));
      }
    }
    this.syncing = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle;
    await this.syncing;
    await this.checkpointer?.stop();
    if (this.walFd !== undefined) fs.closeSync(this.walFd);
    this.conn.close();
  }
}
