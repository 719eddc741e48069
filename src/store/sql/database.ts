import {
  type Generated,
  DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, SqliteAdapter,
  SqliteIntrospector, SqliteQueryCompiler, type CompiledQuery,
} from 'kysely';

/**
 * Versions and index rows are valid over [valid_from, valid_to) in commit time (microseconds); rows of
 * current versions are open-ended. A search can therefore read the database as of one instant, which
 * is what keeps paging stable while others write.
 */
export const OPEN_ENDED = Number.MAX_SAFE_INTEGER;

interface Validity {
  rid: number;
  valid_from: number;
  valid_to: number;
}

/** Tables of the relational stores (SQLite and PostgreSQL share them). */
export interface Database {
  schema_migration: { version: number; applied_at: string };
  resource: { rid: Generated<number>; type: string; id: string; version: number; last_updated: number };
  resource_version: {
    rid: number; version: number; type: string; id: string; last_updated: number; valid_to: number; method: string; json: string;
  };
  sp_token: Validity & { param: string; system: string | null; code: string };
  sp_reference: Validity & { param: string; target: string };
  sp_date: Validity & { param: string; lo: number; hi: number };
  sp_string: Validity & { param: string; value: string; exact: string };
  unique_identifier: { type: string; system: string; value: string; rid: number };
  access_grant: { rid: number; org: string };
  claim: { scope: string; key: string; value: string; expires_at: number };
  /** `refs` (SQLite): the references the event concerns, space-separated, for the FTS index (migration 6). */
  audit_event: { seq: number; recorded: number; outcome: string; subtype: string; org: string | null; json: string; hash: string; refs?: string | null };
  /** PostgreSQL: one row per (reference, event). */
  audit_entity: { ref: string; seq: number };
  /** SQLite: an FTS5 index of each event's references (see migration 3); rowid is the event's seq. */
  audit_ref: { rowid: number; refs: string };
  /** SQLite: one row, the last event whose references are in audit_ref (migration 6). */
  audit_ref_indexed: { through: number };
  /** The outbox (migration 8): see store/deliveries.ts. `lease_until` 0: not leased. */
  delivery: {
    seq: Generated<number>; receiver: string; stream: string; resource: string; patient: string | null; org: string | null; state: string;
    attempts: number; created: number; due: number; lease_holder: string | null; lease_until: number;
    last_error: string | null; settled_at: number | null;
  };
  /** The reports' read model (migration 9): see store/report-facts.ts. */
  referral_fact: {
    referral: string; practice: string; service: string; received: number; reason: string; age_band: string; gender: string;
    ethnicity: string; status: string; accepted_at: number | null; completed_at: number | null; decline_reason: string | null;
  };
  score_fact: { referral: string; code: string; first: number; latest: number; count: number };
  /** PostgreSQL: one row, locked by every batch: the store's clock and the ledger's head (migration 7). */
  store_head: { one: number; clock: number; seq: number; hash: string | null; recorded: number | null };
}

export type SqlDialect = 'sqlite' | 'postgres';

/**
 * Kysely used as a query compiler only: queries are built once with its typed builder and executed by
 * each store's own driver code (synchronously for SQLite), which keeps group commit under our control.
 */
export function queryBuilder(dialect: SqlDialect): Kysely<Database> {
  return new Kysely<Database>({
    dialect: {
      createAdapter: () => (dialect === 'sqlite' ? new SqliteAdapter() : new PostgresAdapter()),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => (dialect === 'sqlite' ? new SqliteIntrospector(db) : new PostgresIntrospector(db)),
      createQueryCompiler: () => (dialect === 'sqlite' ? new SqliteQueryCompiler() : new PostgresQueryCompiler()),
    },
  });
}

/** Runs compiled queries inside the current transaction. */
export interface SqlRunner {
  all<R>(query: CompiledQuery): Promise<R[]>;
  run(query: CompiledQuery): Promise<void>;
}
