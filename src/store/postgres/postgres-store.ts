import { createHash } from 'node:crypto';
import type { CompiledQuery } from 'kysely';
import pg from 'pg';
import { BatchingStore, type BatchConnection, type Settle } from '../sql/batching-store.js';
import { queryBuilder, type SqlRunner } from '../sql/database.js';
import type { RebuildReports } from '../report-facts.js';
import { migrate, SchemaTooNewError } from '../sql/migrations.js';
import type { AuditRenderer, KnownHead } from '../sql/sql-ledger.js';
import type { Indexer } from '../sql/sql-tx.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (DATABASE_URL). */
  url: string;
  indexer: Indexer;
  renderAudit?: AuditRenderer;
  /** Connections this instance opens at most (SIGNPOST_PG_POOL). */
  poolSize?: number;
  /** Longest any one statement may run before PostgreSQL cancels it (SIGNPOST_PG_STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number;
  maxBatch?: number;
  /** For the migration that rebuilds the reports' read model (10): see migrations.ts. */
  rebuildReports?: RebuildReports;
}

/** How long a session may sit idle inside a transaction before PostgreSQL ends it (see open). */
const IDLE_IN_TRANSACTION_MS = 60_000;

/**
 * A connection lost while checked out (a database restart, a failover, an administrator ending the
 * session) emits 'error' on its client, which the pool listens to only while the client is idle: an
 * unheard 'error' would end the process. The batch learns of the loss from its next query instead.
 */
const ignoreLostConnection = () => undefined;

/** Key of the advisory lock under which an instance migrates the schema: two starting together migrate once. */
const MIGRATION_LOCK = 0x5349474e; // 'SIGN'

/**
 * int8 (bigint, count(*)) as a JavaScript number: every int8 the store keeps is a microsecond instant,
 * a row id or a count, all below 2^53. The driver's default is a string.
 */
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * Statement shapes prepared by name, at most: each connection keeps its prepared statements until it
 * closes, and search queries vary in shape (filters, list lengths) without end; shapes beyond these run
 * as unnamed statements, parsed each time.
 */
const NAMED_SHAPES = 1000;
const names = new Map<string, string>();

/** The name a query shape is prepared under, or undefined when too many shapes have been named. */
function statementName(text: string): string | undefined {
  let name = names.get(text);
  if (!name && names.size < NAMED_SHAPES) {
    name = `s${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return name;
}

/** Runs compiled queries on one connection, each a prepared statement (parsed and planned once per connection). */
class PgRunner implements SqlRunner {
  constructor(readonly client: pg.PoolClient) {}

  async all<R>(q: CompiledQuery): Promise<R[]> {
    return (await this.query(q)).rows as R[];
  }

  async run(q: CompiledQuery): Promise<void> {
    await this.query(q);
  }

  private query(q: CompiledQuery): Promise<pg.QueryResult> {
    const name = statementName(q.sql);
    return this.client.query({ ...(name ? { name } : {}), text: q.sql, values: q.parameters as unknown[] });
  }
}

class PgBatch implements BatchConnection {
  readonly runner: PgRunner;
  constructor(readonly client: pg.PoolClient) {
    this.runner = new PgRunner(client);
  }
  async savepoint(): Promise<void> {
    await this.client.query('SAVEPOINT tx');
  }
  async release(): Promise<void> {
    await this.client.query('RELEASE SAVEPOINT tx');
  }
  async rollbackToSavepoint(): Promise<void> {
    await this.client.query('ROLLBACK TO SAVEPOINT tx');
  }
}

interface HeadRow {
  clock: number;
  seq: number;
  hash: string | null;
  recorded: number | null;
}

/** Why the database could not be opened, naming it as DATABASE_URL does but without its credentials. */
function openingError(url: string, e: unknown): Error {
  const message = (e as Error).message;
  if (e instanceof SchemaTooNewError) return e;
  let where = 'named by DATABASE_URL';
  try {
    const u = new URL(url);
    where = `${decodeURIComponent(u.pathname.slice(1)) || '(default)'} at ${u.hostname}:${u.port || 5432}`;
  } catch {
    // not a URL: the driver's own message says what is wrong with it
  }
  const code = (e as { code?: string }).code;
  return new Error(`cannot open the PostgreSQL database ${where} (DATABASE_URL): ${message || code || 'unknown error'}`, { cause: e });
}

/**
 * The PostgreSQL store, for several gateway instances on one database (docs/ARCHITECTURE.md, "Several
 * instances"). Group commit as in SQLite; each batch begins by locking the one row of `store_head`
 * (FOR UPDATE), which holds the store's clock and the audit ledger's head. Batches of all instances
 * therefore commit one at a time, in the order of their stamps: a version's lastUpdated is later than
 * every one committed before it (never-miss polling), the audit ledger stays one hash chain, and
 * If-Match, unique identifiers and once-only claims are decided against everything committed before.
 */
export class PostgresStore extends BatchingStore {
  private constructor(private readonly pool: pg.Pool, options: PostgresStoreOptions) {
    super(queryBuilder('postgres'), 'postgres', options.indexer, options.renderAudit, options.maxBatch ?? 256);
  }

  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 2,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      // An instance that hangs inside a batch holds the store_head lock that every instance's batches
      // wait for: PostgreSQL ends such a session rather than let it stall the deployment.
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
      connectionTimeoutMillis: 10_000,
      application_name: 'signpost',
      types: PG_TYPES,
      // A request is acknowledged once its commit returns, which means durable only with synchronous
      // commit: set here rather than trusted to the server's, database's or role's configuration.
      options: '-c synchronous_commit=on',
    });
    // An idle connection that breaks (a database restart) is dropped by the pool; the next batch opens another.
    pool.on('error', () => undefined);
    const store = new PostgresStore(pool, options);
    try {
      await store.migrateOnce(options.rebuildReports);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw openingError(options.url, e);
    }
    return store;
  }

  /**
   * Migrates under an advisory lock, so that instances starting together migrate once: the others wait
   * (however long the migration's data work takes) and then find the schema up to date.
   */
  private async migrateOnce(rebuildReports: RebuildReports | undefined): Promise<void> {
    const client = await this.pool.connect();
    client.on('error', ignoreLostConnection);
    try {
      await client.query('BEGIN');
      // Waiting for another instance's migration, or building an index on a large table, may take
      // longer than any one request's statement should.
      await client.query('SET LOCAL statement_timeout = 0');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const runner = new PgRunner(client);
      await migrate(this.db, 'postgres', runner, this.migrationOptions(runner, rebuildReports));
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.off('error', ignoreLostConnection);
      client.release();
    }
  }

  protected async beginBatch(): Promise<{ conn: BatchConnection; head: KnownHead }> {
    const client = await this.pool.connect();
    client.on('error', ignoreLostConnection);
    const conn = new PgBatch(client);
    try {
      await client.query('BEGIN');
      const row = (await client.query<HeadRow>({
        name: 'head-lock', text: 'SELECT clock, seq, hash, recorded FROM store_head WHERE one = 1 FOR UPDATE',
      })).rows[0];
      if (!row) throw new Error('store_head has no row: the schema was not migrated by this version of Signpost');
      this.clock.observe(row.clock);
      const head = row.seq === 0 ? undefined : { seq: row.seq, hash: row.hash ?? '', recorded: row.recorded ?? 0 };
      return { conn, head };
    } catch (e) {
      await this.abandonBatch(conn, e);
      throw e;
    }
  }

  protected async commitBatch(conn: BatchConnection, head: KnownHead): Promise<void> {
    const { client } = conn as PgBatch;
    if (head === 'unknown') throw new Error('a PostgreSQL batch knows the ledger\'s head: it read it under the lock');
    await client.query({
      name: 'head-update', text: 'UPDATE store_head SET clock = $1, seq = $2, hash = $3, recorded = $4 WHERE one = 1',
      values: [this.clock.current(), head?.seq ?? 0, head?.hash ?? null, head?.recorded ?? null],
    });
    await client.query('COMMIT');
    client.off('error', ignoreLostConnection);
    client.release();
  }

  protected async abandonBatch(conn: BatchConnection, error: unknown): Promise<void> {
    const { client } = conn as PgBatch;
    try {
      await client.query('ROLLBACK');
      client.release();
    } catch {
      // The connection itself failed: it is closed rather than given back.
      client.release(error instanceof Error ? error : new Error(String(error)));
    } finally {
      client.off('error', ignoreLostConnection);
    }
  }

  /** PostgreSQL's COMMIT returns once the commit is durable (synchronous_commit on). */
  protected settleCommitted(settles: Settle[]): void {
    settles.forEach((s) => s.settle());
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.idle;
    await this.pool.end();
  }
}
