import { sql, type Expression, type ExpressionBuilder, type Kysely, type SelectQueryBuilder, type SqlBool } from 'kysely';
import type { MicroRange, Micros } from '../../fhir/instant.js';
import type { DatePrefix, Filter, SearchQuery } from '../store.js';
import type { Database, SqlDialect } from './database.js';

type Cond = Expression<SqlBool>;
type IndexTable = 'sp_token' | 'sp_reference' | 'sp_date' | 'sp_string';
/** A subquery selecting row ids, whichever index table it reads. */
type RidQuery = SelectQueryBuilder<Database, any, { rid: number }>;

/**
 * A FHIR date comparison of a stored range [lo, hi] against a search range p, as the R4 search page
 * defines the prefixes (http://hl7.org/fhir/R4/search.html#prefix), all bounds inclusive.
 */
export function dateCondition<E extends ExpressionBuilder<any, any>>(
  eb: E, lo: string, hi: string, prefix: DatePrefix, p: MicroRange,
): Cond {
  // A stored instant (lastUpdated, recorded) is a point: each prefix is then one bound, which an index
  // range can use (`ge` as "after p or within p" would leave SQLite scanning from the start).
  if (lo === hi) {
    switch (prefix) {
      case 'ge': return eb(eb.ref(lo), '>=', p.lo);
      case 'le': return eb(eb.ref(lo), '<=', p.hi);
      case 'gt': case 'sa': return eb(eb.ref(lo), '>', p.hi);
      case 'lt': case 'eb': return eb(eb.ref(lo), '<', p.lo);
      default: break;
    }
  }
  const within = eb.and([eb(eb.ref(lo), '>=', p.lo), eb(eb.ref(hi), '<=', p.hi)]);
  switch (prefix) {
    case 'eq': return within;
    case 'ne': return eb.not(within);
    case 'gt': return eb(eb.ref(hi), '>', p.hi);
    case 'lt': return eb(eb.ref(lo), '<', p.lo);
    case 'ge': return eb.or([eb(eb.ref(hi), '>', p.hi), within]);
    case 'le': return eb.or([eb(eb.ref(lo), '<', p.lo), within]);
    case 'sa': return eb(eb.ref(lo), '>', p.hi);
    case 'eb': return eb(eb.ref(hi), '<', p.lo);
    case 'ap': return eb.and([eb(eb.ref(lo), '<=', p.hi), eb(eb.ref(hi), '>=', p.lo)]);
  }
}

/**
 * Index rows of one parameter that were current at `asOf`. The index tables share rid, param and the
 * validity columns, which is all this reads, so the builder is typed as one of them.
 */
function indexRows(db: Kysely<Database>, table: IndexTable, param: string, asOf: Micros): RidQuery {
  return (db.selectFrom(table) as unknown as SelectQueryBuilder<Database, 'sp_token', object>).select('rid').where('param', '=', param)
    .where('valid_to', '>', asOf).where('valid_from', '<=', asOf);
}

/** The rows (rid) a filter matches, as a subquery; undefined for filters on the version row itself. */
function matchingRids(db: Kysely<Database>, type: string, f: Filter, asOf: Micros): RidQuery | undefined {
  const param = (name: string) => `${type}.${name}`;
  switch (f.kind) {
    case 'id':
      return db.selectFrom('resource').select('rid').where('type', '=', type).where('id', 'in', f.ids) as unknown as RidQuery;
    case 'granted':
      return db.selectFrom('access_grant').select('rid').where('org', '=', f.org) as unknown as RidQuery;
    case 'token':
      return (db.selectFrom('sp_token as t').select('t.rid').where('t.param', '=', param(f.param))
        .where('t.valid_to', '>', asOf).where('t.valid_from', '<=', asOf)
        .where((t) => t.or(f.values.map((v) => {
          const parts: Cond[] = [];
          if (v.code !== undefined) parts.push(t('t.code', '=', v.code));
          if (v.system === null) parts.push(t('t.system', 'is', null));
          else if (v.system !== undefined) parts.push(t('t.system', '=', v.system));
          return t.and(parts);
        }))) as unknown as RidQuery);
    case 'reference':
      return indexRows(db, 'sp_reference', param(f.param), asOf).where('target', 'in', f.targets);
    case 'date':
      return indexRows(db, 'sp_date', param(f.param), asOf).where((d) => dateCondition(d, 'lo', 'hi', f.prefix, f.range));
    case 'string':
      return indexRows(db, 'sp_string', param(f.param), asOf).where((s) => s.or(f.values.map((v) =>
        f.exact ? s('exact', '=', v) : s.and([s('value', '>=', v), s('value', '<', `${v}\uffff`)]))));
    case 'missing':
      return indexRows(db, ({ token: 'sp_token', reference: 'sp_reference', date: 'sp_date', string: 'sp_string' } as const)[f.index], param(f.param), asOf);
    case 'lastUpdated':
      return undefined;
  }
}

const negated = (f: Filter) => (f.kind === 'token' && f.not === true) || (f.kind === 'missing' && f.missing);

/**
 * How likely a filter is to narrow the search a lot, lowest first: the most selective one drives the
 * query through its index, the others are probed per candidate row. Ids and references name few
 * resources; a status or a grant can match most of a table.
 */
function selectivity(f: Filter): number {
  switch (f.kind) {
    case 'id': return 0;
    case 'reference': return 1;
    case 'string': return 2;
    case 'token': return f.param === 'identifier' || f.param === 'url' ? 2 : 4;
    case 'date': return 3;
    case 'granted': return 5;
    default: return 6;
  }
}

/**
 * The driving filter's rids. Index rows are unique per (resource, param, value), so a single value
 * names each resource once and the rows keep their index order; several values, a prefix, a date range
 * or mere presence can name a resource twice, and are made distinct.
 */
function drivingRids(db: Kysely<Database>, type: string, f: Filter, asOf: Micros): RidQuery {
  const rids = matchingRids(db, type, f, asOf)!;
  const single = (f.kind === 'reference' && f.targets.length === 1) || (f.kind === 'token' && f.values.length === 1)
    || f.kind === 'id' || f.kind === 'granted';
  return single ? rids : rids.distinct();
}

type Rows = SelectQueryBuilder<Database & { v: Database['resource_version']; d: { rid: number; valid_from: number } }, 'v' | 'd', object>;

/** The matching rows, and the columns that carry their order: rid (default order) and last change. */
interface Matches {
  rows: Rows;
  rid: 'd.rid' | 'v.rid';
  updated: 'd.valid_from' | 'v.last_updated';
}

/**
 * Rows of one reference value in order of last change (index sp_reference_recent, migration 4): a
 * reference row is written with each version, so the row current at `asOf` starts at that version's
 * lastUpdated. `_lastUpdated` bounds become a range of that index.
 */
function recentRids(db: Kysely<Database>, type: string, f: Extract<Filter, { kind: 'reference' }>, updated: Filter[], asOf: Micros) {
  let rids = db.selectFrom('sp_reference').select(['rid', 'valid_from'])
    .where('param', '=', `${type}.${f.param}`).where('target', '=', f.targets[0]!)
    .where('valid_from', '<=', asOf).where('valid_to', '>', asOf);
  for (const u of updated) {
    if (u.kind === 'lastUpdated') rids = rids.where((eb) => dateCondition(eb, 'valid_from', 'valid_from', u.prefix, u.range));
  }
  return rids;
}

/** The most selective filter, whose index rows drive the search; undefined when none can. */
function drivingFilter(q: SearchQuery): Filter | undefined {
  return q.filters.filter((f) => f.kind !== 'lastUpdated' && !negated(f)).sort((a, b) => selectivity(a) - selectivity(b))[0];
}

/**
 * The versions of one type current at `asOf` that match every filter. The most selective filter
 * drives: its index rows are the outer loop (a CROSS JOIN keeps SQLite from reordering it) and come in
 * rid order, so a default-ordered page stops after its first matches; every other filter is a
 * correlated EXISTS probe that seeks its (param, value, rid) index. A search by last change driven by
 * one reference (a poll: an owner's Tasks changed since T) reads that reference's rows in order of last
 * change instead, so its page stops early too.
 */
function filtered(db: Kysely<Database>, dialect: SqlDialect, q: SearchQuery, asOf: Micros): Matches {
  const driver = drivingFilter(q);
  const byChange = q.sort !== 'default' && driver?.kind === 'reference' && driver.targets.length === 1 ? driver : undefined;
  let rows: Rows;
  if (byChange) {
    rows = db.selectFrom(recentRids(db, q.type, byChange, q.filters, asOf).as('d')).crossJoin('resource_version as v')
      .whereRef('v.rid', '=', 'd.rid').whereRef('v.last_updated', '=', 'd.valid_from') as unknown as Rows;
  } else {
    rows = (driver
      ? db.selectFrom(drivingRids(db, q.type, driver, asOf).as('d')).crossJoin('resource_version as v').whereRef('v.rid', '=', 'd.rid')
      : db.selectFrom('resource_version as v')) as unknown as Rows;
  }
  // Unary plus keeps the planner off the (type, last_updated) index for this bound, which nearly every
  // row meets.
  rows = rows.where('v.type', '=', q.type)
    .where(sql<number>`+${sql.ref('v.last_updated')}`, '<=', asOf).where('v.valid_to', '>', asOf);
  for (const f of q.filters) {
    if (f === driver) continue;
    if (f.kind === 'lastUpdated') {
      if (!byChange) rows = rows.where((eb) => dateCondition(eb, 'v.last_updated', 'v.last_updated', f.prefix, f.range));
      continue;
    }
    // A negated filter probes for the rows it excludes (:missing=true excludes those with a value).
    // Correlated with the driver's rid where there is one, so SQLite probes each candidate before
    // it fetches the candidate's version row, and fetches only the rows that match.
    const probe = matchingRids(db, q.type, f.kind === 'token' ? { ...f, not: false } : f, asOf)!;
    let correlated = probe.where(sql.ref('rid'), '=', sql.ref(driver ? 'd.rid' : 'v.rid'));
    // PostgreSQL would turn an EXISTS into a join it may reorder, and from its estimates (which assume
    // that owner and grant, say, are independent, when a service's Tasks are exactly those granted to
    // it) let a probe drive and sort everything it matched: 147 ms for a poll page at 100,000 Tasks.
    // An OFFSET keeps the subquery a probe of each candidate in the driver's order (2 ms).
    if (dialect === 'postgres') correlated = correlated.limit(1).offset(0);
    rows = rows.where((eb) => (negated(f) ? eb.not(eb.exists(correlated)) : eb.exists(correlated)));
  }
  return { rows, rid: driver ? 'd.rid' : 'v.rid', updated: byChange ? 'd.valid_from' : 'v.last_updated' };
}

/** One page of matches in a stable keyset order: (sort key, rid) strictly after the cursor. */
export function searchPageQuery(db: Kysely<Database>, dialect: SqlDialect, q: SearchQuery, asOf: Micros) {
  const desc = q.sort === '-_lastUpdated';
  const byRid = q.sort === 'default';
  const { rows, rid, updated } = filtered(db, dialect, q, asOf);
  let query = rows.select(['v.rid', 'v.id', 'v.version', 'v.last_updated', 'v.method', 'v.json']);
  const after = q.after;
  if (after) {
    query = byRid
      ? query.where(rid, '>', after.rid)
      : query.where((eb) => eb.or([
        eb(updated, desc ? '<' : '>', after.key),
        eb.and([eb(updated, '=', after.key), eb(rid, desc ? '<' : '>', after.rid)]),
      ]));
  }
  query = byRid
    ? query.orderBy(rid)
    : query.orderBy(updated, desc ? 'desc' : 'asc').orderBy(rid, desc ? 'desc' : 'asc');
  return query.limit(q.count + 1).compile();
}

export function searchCountQuery(db: Kysely<Database>, dialect: SqlDialect, q: SearchQuery, asOf: Micros) {
  return filtered(db, dialect, q, asOf).rows.select(sql<number>`count(*)`.as('n')).compile();
}
