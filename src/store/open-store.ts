import path from 'node:path';
import type { Env } from '../config/env.js';
import { rebuildReports } from '../reports/report-replay.js';
import { PostgresStore } from './postgres/postgres-store.js';
import type { AuditRenderer } from './sql/sql-ledger.js';
import type { Indexer } from './sql/sql-tx.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** The SQLite file of a data directory. */
export const sqliteFileIn = (dataDir: string) => path.join(dataDir, 'signpost.sqlite');

/**
 * The store the environment names (DESIGN.md "Running"): PostgreSQL when DATABASE_URL is set, else the
 * SQLite file in the data directory. The gateway and the operator's command-line tools open it alike.
 */
export function openStore(env: Pick<Env, 'dataDir' | 'databaseUrl' | 'sqliteSync' | 'pgPool' | 'pgStatementTimeoutMs'>, indexer: Indexer, renderAudit?: AuditRenderer): Promise<Store> {
  // Whoever opens a store first after an upgrade runs its migrations, the rebuild of the reports' read model included.
  const common = { indexer, rebuildReports, ...(renderAudit ? { renderAudit } : {}) };
  return env.databaseUrl
    ? PostgresStore.open({ url: env.databaseUrl, poolSize: env.pgPool, statementTimeoutMs: env.pgStatementTimeoutMs, ...common })
    : SqliteStore.open({ file: sqliteFileIn(env.dataDir), synchronous: env.sqliteSync, ...common });
}
