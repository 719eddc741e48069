import type { Kysely } from 'kysely';
import { MonotonicClock } from '../../fhir/instant.js';
import type { RebuildReports } from '../report-facts.js';
import type { Store, StoreTx } from '../store.js';
import type { Database, SqlDialect, SqlRunner } from './database.js';
import type { MigrationOptions } from './migrations.js';
import { QueryCache } from './query-cache.js';
import { LedgerBatch, type AuditRenderer, type KnownHead } from './sql-ledger.js';
import { SqlStoreTx, type Indexer } from './sql-tx.js';

interface Pending {
  fn: (tx: StoreTx) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** How a finished transaction reports back: its outcome, or the error that kept it from being durable. */
export interface Settle {
  settle: () => void;
  fail: (e: unknown) => void;
}

/** The SQL the batch loop issues, on whatever connection the store runs its batch on. */
export interface BatchConnection {
  runner: SqlRunner;
  /** Named savepoint control; SQLite's are synchronous, PostgreSQL's are round trips. */
  savepoint(): void | Promise<void>;
  release(): void | Promise<void>;
  rollbackToSavepoint(): void | Promise<void>;
}

/**
 * Group commit, the one transaction primitive of the relational stores (DESIGN.md "Durability and
 * speed"): transactions are queued and run back to back inside one database transaction, each in its
 * own SAVEPOINT (a failing one rolls back alone), with one commit per batch. The audit entries of the
 * batch are inserted in one statement just before its commit. Each store says how a batch begins (and
 * where it learns the audit ledger's head), how it commits, and when its transactions may be told.
 */
export abstract class BatchingStore implements Store {
  protected readonly clock = new MonotonicClock();
  protected readonly queries = new QueryCache();
  private readonly queue: Pending[] = [];
  private draining = false;
  protected closed = false;
  protected idle: Promise<void> = Promise.resolve();

  protected constructor(
    protected readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    private readonly indexer: Indexer,
    private readonly renderAudit: AuditRenderer | undefined,
    private readonly maxBatch: number,
  ) {}

  /** Opens the batch's database transaction; answers its connection and the audit ledger's head as it then stands. */
  protected abstract beginBatch(): Promise<{ conn: BatchConnection; head: KnownHead }>;
  /** Commits the batch, which leaves the ledger's head at `head`. */
  protected abstract commitBatch(conn: BatchConnection, head: KnownHead): Promise<void>;
  /** Undoes a batch that could not commit (and gives its connection back). */
  protected abstract abandonBatch(conn: BatchConnection, error: unknown): Promise<void>;
  /** Tells a committed batch's transactions their outcome: at once, or once their commit is durable. */
  protected abstract settleCommitted(settles: Settle[]): void;
  abstract close(): Promise<void>;

  /**
   * What `migrate` needs of this store on the connection that migrates: the indexer, and the reports'
   * rebuild given a transaction on that connection, so that it commits with the migration.
   */
  protected migrationOptions(runner: SqlRunner, rebuildReports: RebuildReports | undefined): MigrationOptions {
    const tx = () => new SqlStoreTx(this.db, this.dialect, this.queries, runner, this.clock, this.indexer,
      { knownHead: 'unknown', renderAudit: this.renderAudit, batch: new LedgerBatch() });
    return { indexer: this.indexer, ...(rebuildReports ? { rebuildReports: () => rebuildReports(tx()) } : {}) };
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
      const settles: Settle[] = [];
      const ledgerBatch = new LedgerBatch();
      let conn: BatchConnection | undefined;
      try {
        const begun = await this.beginBatch();
        conn = begun.conn;
        let head = begun.head;
        const txOf = (known: KnownHead) => new SqlStoreTx(this.db, this.dialect, this.queries, begun.conn.runner, this.clock, this.indexer,
          { knownHead: known, renderAudit: this.renderAudit, batch: ledgerBatch });
        for (const item of batch) {
          await conn.savepoint();
          const tx = txOf(head);
          try {
            const value = await item.fn(tx);
            await conn.release();
            tx.ledger.settle(true);
            head = tx.ledger.knownHead;
            settles.push({ settle: () => item.resolve(value), fail: item.reject });
          } catch (error) {
            await conn.rollbackToSavepoint();
            await conn.release();
            tx.ledger.settle(false);
            settles.push({ settle: () => item.reject(error), fail: item.reject });
          }
        }
        // The batch's audit entries, in one insert, inside the commit they belong to.
        await txOf(head).ledger.flush();
        await this.commitBatch(conn, head);
      } catch (commitError) {
        // The batch as a whole failed (disk full, I/O error, lost connection): nothing in it was committed.
        if (conn) await this.abandonBatch(conn, commitError).catch(() => undefined);
        for (const item of batch) item.reject(commitError);
        continue;
      }
      this.settleCommitted(settles);
    }
    this.draining = false;
  }
}
