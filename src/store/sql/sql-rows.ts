import type { Kysely } from 'kysely';
import type { IndexEntries } from '../../fhir/index-values.js';
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

/** The search index's tables: one per kind of parameter, each row valid over [valid_from, valid_to). */
export const INDEX_TABLES = ['sp_token', 'sp_reference', 'sp_date', 'sp_string'] as const;

/**
 * Inserts the search index rows of one version of a resource of `type`, valid over `validity`: a new
 * version's (valid until replaced), or a stored one's indexed again (sql/reindex.ts). Parameters are
 * stored qualified by type (`Task.owner`).
 */
export async function insertIndexRows(
  db: Kysely<Database>, queries: QueryCache, runner: SqlRunner, type: string,
  validity: { rid: number; valid_from: number; valid_to: number }, idx: Omit<IndexEntries, 'uniqueIdentifiers'>,
): Promise<void> {
  const q = (p: string) => `${type}.${p}`;
  await insertRows(db, queries, runner, 'sp_token', idx.tokens.map((t) => ({ ...validity, param: q(t.param), system: t.system, code: t.code })));
  await insertRows(db, queries, runner, 'sp_reference', idx.references.map((r) => ({ ...validity, param: q(r.param), target: r.target })));
  await insertRows(db, queries, runner, 'sp_date', idx.dates.map((d) => ({ ...validity, param: q(d.param), lo: d.lo, hi: d.hi })));
  await insertRows(db, queries, runner, 'sp_string', idx.strings.map((s) => ({ ...validity, param: q(s.param), value: s.value, exact: s.exact })));
}
