import type { Kysely } from 'kysely';
import type { Database, SqlRunner } from './database.js';
import { QueryCache } from './query-cache.js';
import { INDEX_TABLES, insertIndexRows } from './sql-rows.js';
import type { Indexer } from './sql-tx.js';

/** Stored versions read per query while reindexing. */
const PAGE = 500;

interface VersionRow {
  rid: number;
  version: number;
  last_updated: number;
  valid_to: number;
  json: string;
}

/**
 * Indexes search parameters (`Type.name`) that the registry gained after resources of their type were
 * stored: a migration names them (`reindex`, migrations.ts), and every stored version of the type,
 * current and historic, gets the parameter's rows over that version's own validity, exactly as if it
 * had been indexed when it was written, so that searches as of any instant find it. The parameter's
 * rows are dropped first: versions written after the code learnt the parameter, but before the
 * migration ran, already have theirs, and a second row per value would name a resource twice in a search.
 */
export async function reindexParams(db: Kysely<Database>, runner: SqlRunner, indexer: Indexer, params: readonly string[]): Promise<void> {
  const queries = new QueryCache();
  const byType = new Map<string, Set<string>>();
  for (const qualified of params) {
    const [type, name] = qualified.split('.') as [string, string];
    byType.set(type, (byType.get(type) ?? new Set()).add(name));
  }
  for (const [type, names] of byType) {
    const qualified = [...names].map((n) => `${type}.${n}`);
    for (const table of INDEX_TABLES) await runner.run(db.deleteFrom(table).where('param', 'in', qualified).compile());
    const only = <T extends { param: string }>(entries: T[]) => entries.filter((e) => names.has(e.param));
    let after = { rid: 0, version: 0 };
    for (;;) {
      const rows = await runner.all<VersionRow>(db.selectFrom('resource_version')
        .select(['rid', 'version', 'last_updated', 'valid_to', 'json'])
        .where('type', '=', type)
        .where((eb) => eb.or([eb('rid', '>', after.rid), eb.and([eb('rid', '=', after.rid), eb('version', '>', after.version)])]))
        .orderBy('rid').orderBy('version').limit(PAGE).compile());
      for (const r of rows) {
        const entries = indexer(JSON.parse(r.json) as fhir4.Resource);
        await insertIndexRows(db, queries, runner, type, { rid: Number(r.rid), valid_from: Number(r.last_updated), valid_to: Number(r.valid_to) }, {
          tokens: only(entries.tokens), references: only(entries.references), dates: only(entries.dates), strings: only(entries.strings),
        });
      }
      const last = rows.at(-1);
      if (!last || rows.length < PAGE) break;
      after = { rid: Number(last.rid), version: Number(last.version) };
    }
  }
}
