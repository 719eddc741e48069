import {
  type Generated,
  DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler, SqliteAdapter,
  SqliteIntrospector, SqliteQueryCompiler, type CompiledQuery,
} from 'kysely';

/** Tables of the relational stores (SQLite and PostgreSQL share them). */
export interface Database {
  schema_migration: { version: number; applied_at: string };
  resource: { rid: Generated<number>; type: string; id: string; version: number; last_updated: number };
  resource_version: {
    rid: number; version: number; type: string; id: string; last_updated: number; method: string; json: string;
  };
  sp_token: { rid: number; param: string; system: string | null; code: string };
  sp_reference: { rid: number; param: string; target: string };
  sp_date: { rid: number; param: string; lo: number; hi: number };
  sp_string: { rid: number; param: string; value: string };
  unique_identifier: { type: string; system: string; value: string; rid: number };
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
