import { sql, type Kysely } from 'kysely';
import type { IndexEntries } from '../../fhir/index-values.js';
import { formatInstant, type MonotonicClock } from '../../fhir/instant.js';
import {
  type AuditEntry, type AuditHead, type ClaimRow, type GrantRow, type VersionCursor,
  UniqueIdentifierConflict, VersionConflict, type HistoryPage, type HistoryQuery, type SearchPage, type SearchQuery,
  type Stored, type StoreTx, type WriteOptions,
} from '../store.js';
import { OPEN_ENDED, type Database, type SqlDialect, type SqlRunner } from './database.js';
import type { QueryCache } from './query-cache.js';
import { searchCountQuery, searchPageQuery } from './search-sql.js';
import { SqlDeliveryQueue } from './sql-deliveries.js';
import { SqlReportFacts } from './sql-report-facts.js';
import { SqlLedger, type LedgerOptions } from './sql-ledger.js';
import { INDEX_TABLES, insertIndexRows, num } from './sql-rows.js';

export type Indexer = (resource: fhir4.Resource) => IndexEntries;

interface VersionRow {
  rid: number; id: string; version: number; last_updated: number; method: string; json: string;
}

function toStored(row: VersionRow): Stored {
  const resource = JSON.parse(row.json) as Stored['resource'];
  return {
    resource, type: resource.resourceType, id: row.id, version: Number(row.version),
    lastUpdated: Number(row.last_updated), method: row.method as Stored['method'],
  };
}

/** AuditEvents live in the audit ledger rather than in the resource tables. */
const AUDIT = 'AuditEvent';

/** The StoreTx of the relational stores: every query goes through the runner of one open transaction. */
export class SqlStoreTx implements StoreTx {
  /** This transaction's part of the audit ledger. */
  readonly ledger: SqlLedger;
  readonly deliveries: SqlDeliveryQueue;
  readonly reportFacts: SqlReportFacts;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    private readonly queries: QueryCache,
    private readonly sql: SqlRunner,
    private readonly clock: MonotonicClock,
    private readonly indexer: Indexer,
    ledger: LedgerOptions,
  ) {
    this.ledger = new SqlLedger(db, dialect, queries, sql, ledger);
    this.deliveries = new SqlDeliveryQueue(db, queries, sql, () => clock.next());
    this.reportFacts = new SqlReportFacts(db, queries, sql);
  }

  /** Row ids of resources this transaction has read or written, `Type/id` → rid, for its grants. */
  private readonly rids = new Map<string, number>();

  async read(type: string, id: string, granted?: string): Promise<Stored | undefined> {
    if (type === AUDIT) return this.ledger.read(id, granted);
    const current = ($: (name: string) => string) => this.db.selectFrom('resource as r')
      .innerJoin('resource_version as v', (j) => j.onRef('v.rid', '=', 'r.rid').onRef('v.version', '=', 'r.version'))
      .select(['r.rid', 'r.id', 'v.version', 'v.last_updated', 'v.method', 'v.json'])
      .where('r.type', '=', $('type')).where('r.id', '=', $('id'));
    const rows = await this.sql.all<VersionRow>(granted === undefined
      ? this.queries.get('read', current, { type, id })
      : this.queries.get('read-granted', ($) => current($).where((eb) => eb.exists(this.db.selectFrom('access_grant as g')
        .select('g.rid').where('g.org', '=', $('org')).where('g.rid', '=', sql.ref<number>('r.rid')))), { type, id, org: granted }));
    const row = rows[0];
    if (row) this.rids.set(`${type}/${id}`, Number(row.rid));
    return row && toStored(row);
  }

  async vread(type: string, id: string, version: number): Promise<Stored | undefined> {
    if (type === AUDIT) return version === 1 ? this.read(type, id) : undefined;
    // Through the resource's unique (type, id), then the version's primary key (rid, version):
    // resource_version has no index on its id, and filtering it by type would read every version of the type.
    const rows = await this.sql.all<VersionRow>(this.queries.get('vread', ($) => this.db.selectFrom('resource as r')
      .innerJoin('resource_version as v', (j) => j.onRef('v.rid', '=', 'r.rid'))
      .select(['v.rid', 'v.id', 'v.version', 'v.last_updated', 'v.method', 'v.json'])
      .where('r.type', '=', $('type')).where('r.id', '=', $('id')).where('v.version', '=', num($, 'version')),
    { type, id, version }));
    return rows[0] && toStored(rows[0]);
  }

  async write(input: fhir4.Resource & { id: string }, options: WriteOptions): Promise<Stored> {
    const type = input.resourceType;
    if (type === AUDIT) throw new Error('AuditEvents are appended to the audit ledger, not written as resources');
    const existing = await this.current(type, input.id);
    const current = existing?.version;
    if (options.expectVersion !== undefined && options.expectVersion !== (current ?? 0)) {
      throw new VersionConflict(type, input.id, current);
    }
    const version = (current ?? 0) + 1;
    const lastUpdated = this.clock.next();
    const { meta, ...rest } = input;
    const resource = {
      ...rest,
      meta: { ...meta, versionId: String(version), lastUpdated: formatInstant(lastUpdated) },
    } as Stored['resource'];
    const stored: Stored = { resource, type, id: input.id, version, lastUpdated, method: options.method };
    await this.put(stored, existing);
    return stored;
  }

  async restore(stored: Stored): Promise<void> {
    if (stored.type === AUDIT) throw new Error('AuditEvents are appended to the audit ledger, not restored as resources');
    const existing = await this.current(stored.type, stored.id);
    if (stored.version !== (existing?.version ?? 0) + 1) {
      throw new Error(`${stored.type}/${stored.id} version ${stored.version} cannot follow version ${existing?.version ?? 'none'}`);
    }
    this.clock.observe(stored.lastUpdated);
    await this.put(stored, existing);
  }

  private async current(type: string, id: string): Promise<{ rid: number; version: number } | undefined> {
    const row = (await this.sql.all<{ rid: number; version: number }>(this.queries.get('current', ($) =>
      this.db.selectFrom('resource').select(['rid', 'version']).where('type', '=', $('type')).where('id', '=', $('id')),
    { type, id })))[0];
    return row && { rid: Number(row.rid), version: Number(row.version) };
  }

  /** Stores a version that follows `existing` (the resource's current one, if any), with its index rows. */
  private async put(stored: Stored, existing: { rid: number; version: number } | undefined): Promise<void> {
    const { type, id, version, lastUpdated, resource } = stored;
    const index = this.indexer(resource);
    // Checked before anything is written, so that a caller may recover from the conflict in this transaction.
    for (const u of index.uniqueIdentifiers) {
      const holder = await this.identifierHolder(type, u.system, u.value);
      if (holder && holder.rid !== existing?.rid) {
        throw new UniqueIdentifierConflict(type, u.system, u.value, holder.id, true);
      }
    }
    let rid: number;
    if (existing) {
      rid = existing.rid;
      await this.sql.run(this.queries.get('bump', ($) => this.db.updateTable('resource')
        .set({ version: num($, 'version'), last_updated: num($, 'at') }).where('rid', '=', num($, 'rid')),
      { version, at: lastUpdated, rid }));
      await this.closeVersion(rid, existing.version, lastUpdated);
    } else {
      const inserted = await this.sql.all<{ rid: number }>(this.queries.get('insert', ($) => this.db.insertInto('resource')
        .values({ type: $('type'), id: $('id'), version: num($, 'version'), last_updated: num($, 'at') }).returning('rid'),
      { type, id, version, at: lastUpdated }));
      rid = Number(inserted[0]?.rid);
    }
    await this.sql.run(this.queries.get('version', ($) => this.db.insertInto('resource_version').values({
      rid: num($, 'rid'), version: num($, 'version'), type: $('type'), id: $('id'), last_updated: num($, 'at'),
      valid_to: num($, 'open'), method: $('method'), json: $('json'),
    }), {
      rid, version, type, id, at: lastUpdated, open: OPEN_ENDED, method: stored.method, json: JSON.stringify(resource),
    }));
    await this.writeIndex(rid, type, lastUpdated, index);
    this.rids.set(`${type}/${id}`, rid);
  }

  async versions(after: VersionCursor | undefined, limit: number, types?: readonly string[]): Promise<{ versions: Stored[]; next?: VersionCursor }> {
    let q = this.db.selectFrom('resource_version as v').select(['v.rid', 'v.id', 'v.version', 'v.last_updated', 'v.method', 'v.json']);
    if (types) q = q.where('v.type', 'in', [...types]);
    if (after) {
      q = q.where((eb) => eb.or([
        eb('v.last_updated', '>', after.at),
        eb.and([eb('v.last_updated', '=', after.at), eb.or([eb('v.rid', '>', after.rid), eb.and([eb('v.rid', '=', after.rid), eb('v.version', '>', after.version)])])]),
      ]));
    }
    const rows = await this.sql.all<VersionRow>(q.orderBy('v.last_updated').orderBy('v.rid').orderBy('v.version').limit(limit).compile());
    const last = rows.at(-1);
    return { versions: rows.map(toStored), ...(rows.length === limit && last ? { next: { at: Number(last.last_updated), rid: Number(last.rid), version: Number(last.version) } } : {}) };
  }

  async grantRows(after: GrantRow | undefined, limit: number): Promise<GrantRow[]> {
    let q = this.db.selectFrom('access_grant as g').innerJoin('resource as r', 'r.rid', 'g.rid').select(['r.type', 'r.id', 'g.org']);
    if (after) {
      q = q.where((eb) => eb.or([
        eb('r.type', '>', after.type),
        eb.and([eb('r.type', '=', after.type), eb.or([eb('r.id', '>', after.id), eb.and([eb('r.id', '=', after.id), eb('g.org', '>', after.org)])])]),
      ]));
    }
    return this.sql.all<GrantRow>(q.orderBy('r.type').orderBy('r.id').orderBy('g.org').limit(limit).compile());
  }

  async claimRows(after: Pick<ClaimRow, 'scope' | 'key'> | undefined, limit: number): Promise<ClaimRow[]> {
    let q = this.db.selectFrom('claim').select(['scope', 'key', 'value', 'expires_at']).where('expires_at', '>', this.clock.current());
    if (after) q = q.where((eb) => eb.or([eb('scope', '>', after.scope), eb.and([eb('scope', '=', after.scope), eb('key', '>', after.key)])]));
    const rows = await this.sql.all<{ scope: string; key: string; value: string; expires_at: number }>(q.orderBy('scope').orderBy('key').limit(limit).compile());
    return rows.map((r) => ({ scope: r.scope, key: r.key, value: r.value, expiresAt: Number(r.expires_at) }));
  }

  /** Ends the validity of the previous version and its index rows at `at`; only uniqueness is current-only. */
  private async closeVersion(rid: number, version: number, at: number): Promise<void> {
    await this.sql.run(this.queries.get('close-version', ($) => this.db.updateTable('resource_version')
      .set({ valid_to: num($, 'at') }).where('rid', '=', num($, 'rid')).where('version', '=', num($, 'version')),
    { at, rid, version }));
    for (const table of INDEX_TABLES) {
      await this.sql.run(this.queries.get(`close-${table}`, ($) => this.db.updateTable(table).set({ valid_to: num($, 'at') })
        .where('rid', '=', num($, 'rid')).where('valid_to', '=', num($, 'open')), { at, rid, open: OPEN_ENDED }));
    }
    await this.sql.run(this.queries.get('release-identifiers', ($) => this.db.deleteFrom('unique_identifier')
      .where('rid', '=', num($, 'rid')), { rid }));
  }

  private async writeIndex(rid: number, type: string, from: number, idx: IndexEntries): Promise<void> {
    await insertIndexRows(this.db, this.queries, this.sql, type, { rid, valid_from: from, valid_to: OPEN_ENDED }, idx);
    for (const u of idx.uniqueIdentifiers) {
      const claimed = await this.sql.all<{ rid: number }>(this.db.insertInto('unique_identifier')
        .values({ type, system: u.system, value: u.value, rid })
        .onConflict((oc) => oc.columns(['type', 'system', 'value']).doNothing()).returning('rid').compile());
      if (claimed.length === 0) {
        // Claimed meanwhile by a concurrent writer (a store with several): this write is half done.
        throw new UniqueIdentifierConflict(type, u.system, u.value, (await this.identifierHolder(type, u.system, u.value))?.id ?? 'unknown');
      }
    }
  }

  async identified(type: string, system: string, value: string): Promise<string | undefined> {
    return (await this.identifierHolder(type, system, value))?.id;
  }

  private async identifierHolder(type: string, system: string, value: string): Promise<{ rid: number; id: string } | undefined> {
    const rows = await this.sql.all<{ rid: number; id: string }>(this.queries.get('identifier-holder', ($) => this.db.selectFrom('unique_identifier as u')
      .innerJoin('resource as r', 'r.rid', 'u.rid').select(['r.rid', 'r.id'])
      .where('u.type', '=', $('type')).where('u.system', '=', $('system')).where('u.value', '=', $('value')), { type, system, value }));
    return rows[0] && { rid: Number(rows[0].rid), id: rows[0].id };
  }

  async search(query: SearchQuery): Promise<SearchPage> {
    const asOf = query.asOf ?? this.clock.current();
    if (query.type === AUDIT) return this.ledger.search(query, asOf);
    const rows = await this.sql.all<VersionRow>(searchPageQuery(this.db, this.dialect, query, asOf));
    const more = rows.length > query.count;
    const matches = rows.slice(0, query.count).map(toStored);
    const page: SearchPage = { matches, asOf };
    const last = rows[query.count - 1];
    if (more && last) {
      page.next = { key: query.sort === 'default' ? Number(last.rid) : Number(last.last_updated), rid: Number(last.rid) };
    }
    if (query.total) {
      const n = await this.sql.all<{ n: number }>(searchCountQuery(this.db, this.dialect, query, asOf));
      page.total = Number(n[0]?.n ?? 0);
    }
    return page;
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    if (query.type === AUDIT) return this.ledger.history(query);
    let q = this.db.selectFrom('resource_version as v')
      .select(['v.rid', 'v.id', 'v.version', 'v.last_updated', 'v.method', 'v.json']);
    if (query.type && query.id) {
      // One resource's versions: by its rid, the version table's primary key, not by a scan of its type.
      const rid = await this.ridOf(query.type, query.id);
      if (rid === undefined) return { versions: [] };
      q = q.where('v.rid', '=', rid);
    } else if (query.type) q = q.where('v.type', '=', query.type);
    else if (query.id) q = q.where('v.id', '=', query.id);
    if (query.since !== undefined) q = q.where('v.last_updated', '>=', query.since);
    if (query.before !== undefined) q = q.where('v.last_updated', '<', query.before);
    if (query.granted !== undefined) q = q.where('v.rid', 'in', this.db.selectFrom('access_grant').select('rid').where('org', '=', query.granted));
    const rows = await this.sql.all<VersionRow>(q.orderBy('v.last_updated', 'desc').limit(query.count + 1).compile());
    const versions = rows.slice(0, query.count).map(toStored);
    const last = versions.at(-1);
    return rows.length > query.count && last ? { versions, next: last.lastUpdated } : { versions };
  }

  private async ridOf(type: string, id: string): Promise<number | undefined> {
    const known = this.rids.get(`${type}/${id}`);
    if (known !== undefined) return known;
    const rows = await this.sql.all<{ rid: number }>(this.queries.get('rid', ($) => this.db.selectFrom('resource')
      .select('rid').where('type', '=', $('type')).where('id', '=', $('id')), { type, id }));
    return rows[0] === undefined ? undefined : Number(rows[0].rid);
  }

  async grant(type: string, id: string, orgs: readonly string[]): Promise<void> {
    const rid = await this.ridOf(type, id);
    if (rid === undefined) throw new Error(`cannot grant ${type}/${id}: it does not exist`);
    const distinct = [...new Set(orgs)];
    if (distinct.length === 0) return;
    const values: Record<string, unknown> = {};
    distinct.forEach((org, i) => { values[`${i}.org`] = org; values[`${i}.rid`] = rid; });
    await this.sql.run(this.queries.get(`grant-${distinct.length}`, ($) => this.db.insertInto('access_grant')
      .values(distinct.map((_, i) => ({ rid: num($, `${i}.rid`), org: $(`${i}.org`) })))
      .onConflict((oc) => oc.columns(['org', 'rid']).doNothing()), values));
  }

  async revoke(type: string, id: string, orgs: readonly string[]): Promise<void> {
    const rid = await this.ridOf(type, id);
    if (rid === undefined || orgs.length === 0) return;
    await this.sql.run(this.db.deleteFrom('access_grant').where('rid', '=', rid).where('org', 'in', [...orgs]).compile());
  }

  async grantsOf(type: string, id: string): Promise<string[]> {
    const rows = await this.sql.all<{ org: string }>(this.queries.get('grants-of', ($) => this.db.selectFrom('access_grant as g')
      .innerJoin('resource as r', 'r.rid', 'g.rid').select('g.org')
      .where('r.type', '=', $('type')).where('r.id', '=', $('id')).orderBy('g.org'), { type, id }));
    return rows.map((r) => r.org);
  }

  async claimOnce(scope: string, key: string, value: string, expiresAt: number): Promise<string | undefined> {
    const found = await this.recall(scope, key);
    if (found !== undefined) return found;
    await this.remember(scope, key, value, expiresAt);
    return undefined;
  }

  async recall(scope: string, key: string): Promise<string | undefined> {
    const now = this.clock.next();
    const existing = await this.sql.all<{ value: string; expires_at: number }>(this.queries.get('claim-get', ($) =>
      this.db.selectFrom('claim').select(['value', 'expires_at']).where('scope', '=', $('scope')).where('key', '=', $('key')),
    { scope, key }));
    const found = existing[0];
    return found && Number(found.expires_at) > now ? found.value : undefined;
  }

  async remember(scope: string, key: string, value: string, expiresAt: number): Promise<void> {
    await this.sql.run(this.queries.get('claim-put', ($) => this.db.insertInto('claim')
      .values({ scope: $('scope'), key: $('key'), value: $('value'), expires_at: num($, 'exp') })
      .onConflict((oc) => oc.columns(['scope', 'key']).doUpdateSet({ value: $('value'), expires_at: num($, 'exp') })),
    { scope, key, value, exp: expiresAt }));
  }

  async forgetExpiredClaims(now: number): Promise<number> {
    const rows = await this.sql.all<{ key: string }>(this.db.deleteFrom('claim').where('expires_at', '<=', now).returning('key').compile());
    return rows.length;
  }

  now(): number {
    return this.clock.next();
  }

  auditHead(): Promise<AuditHead | undefined> {
    return this.ledger.head();
  }

  appendAudit(entry: AuditEntry): Promise<void> {
    // An imported entry keeps its own instant: searches read as of the clock, which must not lag it.
    this.clock.observe(entry.recorded);
    return this.ledger.append(entry);
  }

  auditEntries(afterSeq: number, limit: number): Promise<Pick<AuditEntry, 'seq' | 'json' | 'hash'>[]> {
    return this.ledger.entries(afterSeq, limit);
  }
}
