import type { CompiledQuery, Kysely } from 'kysely';
import type { AuditEntry, AuditHead, HistoryPage, HistoryQuery, SearchPage, SearchQuery, Stored } from '../store.js';
import { auditCountQuery, auditHistoryQuery, auditRefTokens, auditSearchQuery } from './audit-sql.js';
import type { Database, SqlDialect, SqlRunner } from './database.js';
import type { QueryCache } from './query-cache.js';
import { insertRows, num } from './sql-rows.js';

/**
 * How a stored audit ledger entry reads as an AuditEvent. The ledger keeps what its writer appended
 * (src/audit keeps a compact record and renders the FHIR resource); the default reads the JSON as is.
 */
export type AuditRenderer = (json: string) => fhir4.Resource;
export const AUDIT_JSON_AS_IS: AuditRenderer = (json) => JSON.parse(json) as fhir4.Resource;

/** The audit ledger's head when a store knows it without a query, or 'unknown'. */
export type KnownHead = AuditHead | undefined | 'unknown';

/**
 * Ledger entries of a batch of transactions that share one commit, awaiting insertion. Both stores
 * append the entries of a whole batch with one multi-row INSERT just before its commit, rather than
 * two statements per audited interaction; an entry appended by a transaction that fails is never
 * released here. Whatever reads the ledger inserts what is pending first.
 */
export class LedgerBatch {
  /** Entries of the batch's completed transactions, in chain order. */
  released: AuditEntry[] = [];
}

export interface LedgerOptions {
  /**
   * The ledger's head as the batch knows it: from the transactions before this one, or (PostgreSQL)
   * read under the batch's lock; 'unknown' until SQLite's first batch reads it.
   */
  knownHead: KnownHead;
  renderAudit?: AuditRenderer | undefined;
  /** Appends wait for the batch's one insert (see LedgerBatch). */
  batch: LedgerBatch;
}

const AUDIT = 'AuditEvent';
/** SQLite: events whose references wait in their ledger rows before one bulk FTS insert (migration 6). */
const INDEX_EVERY = 256;

/**
 * The audit ledger as one transaction of a relational store sees it: appends (hash-chained by the
 * caller, placed here), and reads of its entries as the read-only resource type AuditEvent.
 */
export class SqlLedger {
  private known: KnownHead;
  private readonly render: AuditRenderer;
  private readonly batch: LedgerBatch;
  /** Entries this transaction appended and has not inserted. */
  private appended: AuditEntry[] = [];
  /** Released entries of earlier transactions that this one inserted: its rollback undoes those inserts. */
  private insertedForBatch: AuditEntry[] = [];

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect,
    private readonly queries: QueryCache,
    private readonly sql: SqlRunner,
    options: LedgerOptions,
  ) {
    // undefined is a head too: the ledger is known to be empty.
    this.known = options.knownHead;
    this.render = options.renderAudit ?? AUDIT_JSON_AS_IS;
    this.batch = options.batch;
  }

  /** The head as this transaction leaves it: what the store passes on to the next one. */
  get knownHead(): KnownHead {
    return this.known;
  }

  async head(): Promise<AuditHead | undefined> {
    if (this.known !== 'unknown') return this.known;
    const rows = await this.sql.all<{ seq: number; hash: string; recorded: number }>(this.queries.get('audit-head', ($) =>
      this.db.selectFrom('audit_event').select(['seq', 'hash', 'recorded']).orderBy('seq', 'desc').limit(num($, 'one')), { one: 1 }));
    const r = rows[0];
    this.known = r && { seq: Number(r.seq), hash: r.hash, recorded: Number(r.recorded) };
    return this.known;
  }

  async append(e: AuditEntry): Promise<void> {
    // Deferred to the batch's insert: what the unique key would refuse there is refused here, now.
    const head = await this.head();
    if (e.seq !== (head?.seq ?? 0) + 1) throw new Error(`audit ledger entry ${e.seq} does not follow the head (${head?.seq ?? 0})`);
    this.appended.push(e);
    this.known = { seq: e.seq, hash: e.hash, recorded: e.recorded };
  }

  /**
   * Tells the batch how this transaction ended: its entries join the batch, or the batch's entries
   * it inserted (undone by its rollback) are pending again.
   */
  settle(committed: boolean): void {
    if (committed) this.batch.released.push(...this.appended);
    else this.batch.released = [...this.insertedForBatch, ...this.batch.released];
    this.appended = [];
    this.insertedForBatch = [];
  }

  /** Inserts every pending entry: the batch's and this transaction's. */
  async flush(): Promise<void> {
    if (this.batch.released.length === 0 && this.appended.length === 0) return;
    const entries = [...this.batch.released, ...this.appended];
    this.insertedForBatch.push(...this.batch.released);
    this.batch.released = [];
    this.appended = [];
    await this.insert(entries);
  }

  private async insert(entries: AuditEntry[]): Promise<void> {
    const sqlite = this.dialect === 'sqlite';
    await insertRows(this.db, this.queries, this.sql, 'audit_event', entries.map((e) => ({
      seq: e.seq, recorded: e.recorded, outcome: e.outcome, subtype: e.subtype, org: e.org ?? null, json: e.json, hash: e.hash,
      // SQLite: the references ride in the row until their bulk move to the FTS index (migration 6).
      ...(sqlite ? { refs: e.entities.length > 0 ? [...new Set(e.entities)].join(' ') : null } : {}),
    })));
    if (sqlite) {
      const first = entries[0]!.seq;
      const last = entries.at(-1)!.seq;
      if (Math.floor(last / INDEX_EVERY) > Math.floor((first - 1) / INDEX_EVERY)) await this.indexPending();
    } else {
      await insertRows(this.db, this.queries, this.sql, 'audit_entity',
        entries.flatMap((e) => [...new Set(e.entities)].map((ref) => ({ ref, seq: e.seq }))));
    }
  }

  /** Entries after `afterSeq`, oldest first, as stored. */
  async entries(afterSeq: number, limit: number): Promise<Pick<AuditEntry, 'seq' | 'json' | 'hash'>[]> {
    await this.flush();
    const rows = await this.sql.all<{ seq: number; json: string; hash: string }>(this.queries.get('audit-entries', ($) =>
      this.db.selectFrom('audit_event').select(['seq', 'json', 'hash']).where('seq', '>', num($, 'after'))
        .orderBy('seq').limit(num($, 'limit')), { after: afterSeq, limit }));
    return rows.map((r) => ({ seq: Number(r.seq), json: r.json, hash: r.hash }));
  }

  /** An event as an AuditEvent; granted to no organisation, so only unscoped readers see it. */
  async read(id: string, granted: string | undefined): Promise<Stored | undefined> {
    return granted === undefined ? (await this.rows(auditHistoryQuery(this.db, { id, count: 1 })))[0] : undefined;
  }

  /**
   * SQLite: puts the references of the events after the last indexed one into the FTS index, in this
   * transaction, and moves the mark to the last event inserted. References are not case-folded there:
   * each is one hex token (see auditRefTokens).
   */
  private async indexPending(): Promise<void> {
    const mark = await this.sql.all<{ through: number }>(this.queries.get('audit-indexed', () =>
      this.db.selectFrom('audit_ref_indexed').select('through'), {}));
    const through = Number(mark[0]?.through ?? 0);
    const rows = await this.sql.all<{ seq: number; refs: string | null }>(this.queries.get('audit-unindexed', ($) =>
      this.db.selectFrom('audit_event').select(['seq', 'refs']).where('seq', '>', num($, 'through')).orderBy('seq'), { through }));
    if (rows.length === 0) return;
    await insertRows(this.db, this.queries, this.sql, 'audit_ref', rows.flatMap((r) =>
      r.refs ? [{ rowid: Number(r.seq), refs: auditRefTokens(r.refs.split(' ')) }] : []));
    await this.sql.run(this.queries.get('audit-indexed-mark', ($) =>
      this.db.updateTable('audit_ref_indexed').set({ through: num($, 'through') }), { through: Number(rows.at(-1)!.seq) }));
  }

  async search(query: SearchQuery, asOf: number): Promise<SearchPage> {
    await this.flush();
    // Searches by entity and patient read the FTS index: it must hold every event first.
    if (this.dialect === 'sqlite') await this.indexPending();
    const rows = await this.rows(auditSearchQuery(this.db, this.dialect, query, asOf));
    const matches = rows.slice(0, query.count);
    const last = matches.at(-1);
    const page: SearchPage = { matches, asOf };
    if (rows.length > query.count && last) page.next = { key: Number(last.id), rid: Number(last.id) };
    if (query.total) page.total = Number((await this.sql.all<{ n: number }>(auditCountQuery(this.db, this.dialect, query, asOf)))[0]?.n ?? 0);
    return page;
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    const rows = await this.rows(auditHistoryQuery(this.db, query));
    const versions = rows.slice(0, query.count);
    const last = versions.at(-1);
    return rows.length > query.count && last ? { versions, next: last.lastUpdated } : { versions };
  }

  private async rows(query: CompiledQuery): Promise<Stored[]> {
    await this.flush();
    const rows = await this.sql.all<{ seq: number; recorded: number; json: string }>(query);
    return rows.map((r) => ({
      resource: this.render(r.json) as Stored['resource'], type: AUDIT, id: String(r.seq), version: 1,
      lastUpdated: Number(r.recorded), method: 'POST',
    }));
  }
}
