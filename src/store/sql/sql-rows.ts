import type { Kysely } from 'kysely';
import type { Database, SqlRunner } from './database.js';
import type { QueryCache } from './query-cache.js';

/** Rows per multi-row INSERT: well under SQLite's 32,766 bound-parameter limit. */
const INSERT_CHUNK = 200;

/** A slot standing where the builder expects a number (slots are placeholders, typed by what fills them). */
export const num = ($: (name: string) => string, name: string) => $(name) as unknown as number;

export type RowTable = 'sp_token' | 'sp_reference' | 'sp_date' | 'sp_string' | 'audit_event' | 'audit_entity' | 'audit_ref';

/** Inserts rows with multi-row INSERTs, each shape (table and row count) compiled once. */
export async function insertRows<T extends RowTable>(
  db: Kysely<Database>, queries: QueryCache, runner: SqlRunner, table: T, rows: Database[T][],
): Promise<void> {
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    const chunk = rows.slice(i, i + INSERT_CHUNK);
    const columns = Object.keys(chunk[0]!) as (keyof Database[T] & string)[];
    // Row by row, column by column: the order the INSERT binds its values in.
    const values: unknown[] = [];
    for (const row of chunk) for (const c of columns) values.push(row[c]);
    // The union of row types is too wide for the builder's overloads; each table gets its own rows.
    await runner.run(queries.positional(`insert-${table}-${columns.join(',')}-${chunk.length}`, ($) => db.insertInto(table)
      .values(chunk.map((_, r) => Object.fromEntries(columns.map((c, k) => [c, $(r * columns.length + k)]))) as never), values));
  }
}
