import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import type { Micros } from '../../fhir/instant.js';
import type { Filter, HistoryQuery, SearchQuery } from '../store.js';
import type { Database, SqlDialect } from './database.js';
import { dateCondition } from './search-sql.js';

type Eb = ExpressionBuilder<Database & { a: Database['audit_event'] }, 'a'>;
type Cond = Expression<SqlBool>;

// The codings every ledger entry carries (see src/audit/audit-event.ts).
const TYPE = { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' };
const SUBTYPE_SYSTEM = 'http://hl7.org/fhir/restful-interaction';
const OUTCOME_SYSTEM = 'http://hl7.org/fhir/audit-event-outcome';

const never = (eb: Eb): Cond => eb(sql.lit(1), '=', sql.lit(0));
const always = (eb: Eb): Cond => eb(sql.lit(1), '=', sql.lit(1));

/** A reference as one FTS token: hex of its UTF-8, since FTS tokenizers fold case and FHIR ids do not. */
function refToken(ref: string): string {
  return Buffer.from(ref, 'utf8').toString('hex');
}

/** The FTS document of an event's references (migration 3). */
export function auditRefTokens(refs: readonly string[]): string {
  return [...new Set(refs)].map(refToken).join(' ');
}

/**
 * Events concerning any of `targets`. SQLite asks the FTS index of references (a query of quoted
 * tokens joined by OR); PostgreSQL its audit_entity rows.
 */
function entityMatches(db: Kysely<Database>, dialect: SqlDialect, eb: Eb, targets: string[]): Cond {
  if (targets.length === 0) return never(eb);
  if (dialect === 'sqlite') {
    const match = targets.map((t) => `"${refToken(t)}"`).join(' OR ');
    return eb('a.seq', 'in', sql<number>`(select rowid from audit_ref where audit_ref match ${match})`);
  }
  return eb.exists(db.selectFrom('audit_entity as e').select('e.seq').where('e.seq', '=', sql.ref<number>('a.seq')).where('e.ref', 'in', targets));
}

/** Events that concern any resource or patient at all. */
function concernsAnything(db: Kysely<Database>, dialect: SqlDialect, eb: Eb): Cond {
  if (dialect === 'sqlite') return eb.exists(sql<number>`(select 1 from audit_ref where rowid = ${sql.ref('a.seq')})`);
  return eb.exists(db.selectFrom('audit_entity as e').select('e.seq').where('e.seq', '=', sql.ref<number>('a.seq')));
}

function tokenColumn(eb: Eb, column: 'a.subtype' | 'a.outcome', system: string, values: { system?: string | null; code?: string }[]): Cond {
  return eb.or(values.map((v) => {
    if (v.system === null || (v.system !== undefined && v.system !== system)) return never(eb);
    return v.code === undefined ? always(eb) : eb(column, '=', v.code);
  }));
}

/** One AuditEvent search condition on the ledger's columns and entity references. */
function condition(db: Kysely<Database>, dialect: SqlDialect, eb: Eb, f: Filter): Cond {
  switch (f.kind) {
    case 'id': {
      const seqs = f.ids.filter((id) => /^[1-9]\d{0,14}$/.test(id)).map(Number);
      return seqs.length ? eb('a.seq', 'in', seqs) : never(eb);
    }
    case 'lastUpdated':
      return dateCondition(eb, 'a.recorded', 'a.recorded', f.prefix, f.range);
    case 'date':
      return f.param === 'date' ? dateCondition(eb, 'a.recorded', 'a.recorded', f.prefix, f.range) : never(eb);
    case 'token': {
      let c: Cond;
      if (f.param === 'subtype') c = tokenColumn(eb, 'a.subtype', SUBTYPE_SYSTEM, f.values);
      else if (f.param === 'outcome') c = tokenColumn(eb, 'a.outcome', OUTCOME_SYSTEM, f.values);
      else if (f.param === 'type') {
        c = f.values.some((v) => (v.code === undefined || v.code === TYPE.code) && (v.system === undefined || v.system === TYPE.system))
          ? always(eb) : never(eb);
      } else c = never(eb);
      return f.not ? eb.not(c) : c;
    }
    case 'reference':
      if (f.param === 'agent') {
        const orgs = f.targets.filter((t) => t.startsWith('Organization/')).map((t) => t.slice('Organization/'.length));
        return orgs.length ? eb('a.org', 'in', orgs) : never(eb);
      }
      return entityMatches(db, dialect, eb, f.param === 'patient' ? f.targets.filter((t) => t.startsWith('Patient/')) : f.targets);
    case 'missing': {
      if (f.param === 'patient' || f.param === 'entity') return f.missing ? eb.not(concernsAnything(db, dialect, eb)) : concernsAnything(db, dialect, eb);
      if (f.param === 'agent') return f.missing ? eb('a.org', 'is', null) : eb('a.org', 'is not', null);
      return f.missing ? never(eb) : always(eb);
    }
    // AuditEvents are granted to no organisation: only unscoped callers (auditors) see them.
    case 'granted':
    case 'string':
      return never(eb);
  }
}

function filtered(db: Kysely<Database>, dialect: SqlDialect, q: SearchQuery, asOf: Micros) {
  return db.selectFrom('audit_event as a').where('a.recorded', '<=', asOf)
    .where((eb) => eb.and(q.filters.map((f) => condition(db, dialect, eb as Eb, f))));
}

/** A page of the ledger in chain order (which is also recorded order), keyset-paged on seq. */
export function auditSearchQuery(db: Kysely<Database>, dialect: SqlDialect, q: SearchQuery, asOf: Micros) {
  const desc = q.sort === '-_lastUpdated';
  let query = filtered(db, dialect, q, asOf).select(['a.seq', 'a.recorded', 'a.json']);
  if (q.after) query = query.where('a.seq', desc ? '<' : '>', q.after.rid);
  return query.orderBy('a.seq', desc ? 'desc' : 'asc').limit(q.count + 1).compile();
}

export function auditCountQuery(db: Kysely<Database>, dialect: SqlDialect, q: SearchQuery, asOf: Micros) {
  return filtered(db, dialect, q, asOf).select(sql<number>`count(*)`.as('n')).compile();
}

/** Ledger entries as history: each event has one version, listed newest first. */
export function auditHistoryQuery(db: Kysely<Database>, q: HistoryQuery) {
  let query = db.selectFrom('audit_event as a').select(['a.seq', 'a.recorded', 'a.json']);
  if (q.id !== undefined) query = query.where('a.seq', '=', /^[1-9]\d{0,14}$/.test(q.id) ? Number(q.id) : -1);
  if (q.since !== undefined) query = query.where('a.recorded', '>=', q.since);
  if (q.before !== undefined) query = query.where('a.recorded', '<', q.before);
  if (q.granted !== undefined) query = query.where(sql.lit(1), '=', sql.lit(0));
  return query.orderBy('a.seq', 'desc').limit(q.count + 1).compile();
}
