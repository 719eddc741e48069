import fs from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { sql, type CompiledQuery, type Kysely } from 'kysely';
import { MonotonicClock } from '../../fhir/instant.js';
import type { Store, StoreTx } from '../store.js';
import { queryBuilder, type Database, type SqlRunner } from '../sql/database.js';
import { migrate } from '../sql/migrations.js';
import { SqlStoreTx, type Indexer } from '../sql/sql-tx.js';

export interface SqliteStoreOptions {
  file: string;
  indexer: Indexer;
  /** 'full' fsyncs every commit (durable against power loss); 'normal' only checkpoints. */
  synchronous?: 'full' | 'normal';
  /** Most transactions that share one commit. */
  maxBatch?: number;
}

interface Pending {
  fn: (tx: StoreTx) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * The embedded store. better-sqlite3 is synchronous and SQLite has one writer, so transactions are
 * queued and run back to back inside one database transaction, each in its own SAVEPOINT (a failing
 * one rolls back alone), with one commit — one fsync — per batch: group commit. A transaction's
 * promise settles only after its batch has committed, so nothing is acknowledged before it is durable.
 */
export class SqliteStore implements Store {
  private readonly conn: Sqlite.Database;
  private readonly db: Kysely<Database>;
  private readonly statements = new Map<string, Sqlite.Statement>();
  private readonly runner: SqlRunner;
  private readonly clock = new MonotonicClock();
  private readonly queue: Pending[] = [];
  private draining = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly maxBatch: number;

  private constructor(private readonly options: SqliteStoreOptions) {
    fs.mkdirSync(path.dirname(options.file), { recursive: true });
    this.conn = new Sqlite(options.file);
    this.conn.pragma('journal_mode = WAL');
    this.conn.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    this.conn.pragma('busy_timeout = 5000');
    this.conn.pragma('foreign_keys = ON');
    this.db = queryBuilder('sqlite');
    this.maxBatch = options.maxBatch ?? 256;
    this.runner = {
      all: async <R>(q: CompiledQuery) => this.statement(q).all(...(q.parameters as unknown[])) as R[],
      run: async (q: CompiledQuery) => {
        const stmt = this.statement(q);
        if (stmt.reader) stmt.all(...(q.parameters as unknown[]));
        else stmt.run(...(q.parameters as unknown[]));
      },
    };
  }

  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    const store = new SqliteStore(options);
    try {
      store.conn.exec('BEGIN IMMEDIATE');
      await migrate(store.db, 'sqlite', store.runner);
      store.conn.exec('COMMIT');
      const rows = await store.runner.all<{ t: number | null }>(
        store.db.selectFrom('resource_version').select(sql<number | null>`max(last_updated)`.as('t')).compile());
      store.clock.observe(Number(rows[0]?.t ?? 0));
    } catch (e) {
      if (store.conn.inTransaction) store.conn.exec('ROLLBACK');
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

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // Let the current turn of the event loop queue its work too, so that it shares the commit.
        this.idle = new Promise((done) => setImmediate(() => void this.drain().finally(done)));
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
      try {
        this.conn.exec('BEGIN IMMEDIATE');
        for (const item of batch) {
          this.conn.exec('SAVEPOINT tx');
          const tx = new SqlStoreTx(this.db, this.runner, this.clock, this.options.indexer);
          try {
            const value = await item.fn(tx);
            this.conn.exec('RELEASE tx');
            outcomes.push({ ok: true, value });
          } catch (error) {
            this.conn.exec('ROLLBACK TO tx');
            this.conn.exec('RELEASE tx');
            outcomes.push({ ok: false, error });
          }
        }
        this.conn.exec('COMMIT');
      } catch (commitError) {
        // The batch as a whole failed (disk full, I/O error): nothing in it was committed.
        if (this.conn.inTransaction) this.conn.exec('ROLLBACK');
        for (const item of batch) item.reject(commitError);
        continue;
      }
      batch.forEach((item, i) => {
        const o = outcomes[i];
        if (o?.ok) item.resolve(o.value);
        else item.reject(o?.error);
      });
    }
    this.draining = false;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle;
    this.conn.close();
  }
}
