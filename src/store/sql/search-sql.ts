import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import type { MicroRange } from '../../fhir/instant.js';
import type { DatePrefix, Filter, SearchQuery } from '../store.js';
import type { Database } from './database.js';

type Eb = ExpressionBuilder<Database & { r: Database['resource'] }, 'r'>;
type Cond = Expression<SqlBool>;

/**
 * A FHIR date comparison of a stored range [lo, hi] against a search range p, as the R4 search page
 * defines the prefixes (http://hl7.org/fhir/R4/search.html#prefix), all bounds inclusive.
 */
function dateCondition<E extends ExpressionBuilder<any, any>>(
  eb: E, lo: string, hi: string, prefix: DatePrefix, p: MicroRange,
): Cond {
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

function filterCondition(db: Kysely<Database>, eb: Eb, type: string, f: Filter): Cond {
  const param = (name: string) => `${type}.${name}`;
  switch (f.kind) {
    case 'id':
      return eb('r.id', 'in', f.ids);
    case 'lastUpdated':
      return dateCondition(eb, 'r.last_updated', 'r.last_updated', f.prefix, f.range);
    case 'token': {
      const matching = db.selectFrom('sp_token as t').select('t.rid').where('t.param', '=', param(f.param)).where((t) =>
        t.or(f.values.map((v) => {
          const parts: Cond[] = [];
          if (v.code !== undefined) parts.push(t('t.code', '=', v.code));
          if (v.system === null) parts.push(t('t.system', 'is', null));
          else if (v.system !== undefined) parts.push(t('t.system', '=', v.system));
          return t.and(parts);
        })));
      return f.not ? eb('r.rid', 'not in', matching) : eb('r.rid', 'in', matching);
    }
    case 'reference':
      return eb('r.rid', 'in', db.selectFrom('sp_reference as x').select('x.rid')
        .where('x.param', '=', param(f.param)).where('x.target', 'in', f.targets));
    case 'date':
      return eb('r.rid', 'in', db.selectFrom('sp_date as d').select('d.rid')
        .where('d.param', '=', param(f.param)).where((d) => dateCondition(d, 'd.lo', 'd.hi', f.prefix, f.range)));
    case 'string':
      return eb('r.rid', 'in', db.selectFrom('sp_string as s').select('s.rid').where('s.param', '=', param(f.param))
        .where((s) => s.or(f.values.map((v) =>
          f.exact ? s('s.value', '=', v) : s.and([s('s.value', '>=', v), s('s.value', '<', `${v}\uffff`)])))));
    case 'missing': {
      const table = ({ token: 'sp_token', reference: 'sp_reference', date: 'sp_date', string: 'sp_string' } as const)[f.index];
      const present = db.selectFrom(table).select('rid').where('param', '=', param(f.param));
      return f.missing ? eb('r.rid', 'not in', present) : eb('r.rid', 'in', present);
    }
  }
}

/** The filtered set of current resources of one type, before ordering and paging. */
function filtered(db: Kysely<Database>, q: SearchQuery) {
  return db.selectFrom('resource as r').where('r.type', '=', q.type)
    .where((eb) => eb.and(q.filters.map((f) => filterCondition(db, eb, q.type, f))));
}

/** One page of matches in a stable keyset order: (sort key, rid) strictly after the cursor. */
export function searchPageQuery(db: Kysely<Database>, q: SearchQuery) {
  const desc = q.sort === '-_lastUpdated';
  const byRid = q.sort === 'default';
  let query = filtered(db, q)
    .innerJoin('resource_version as v', (j) => j.onRef('v.rid', '=', 'r.rid').onRef('v.version', '=', 'r.version'))
    .select(['r.rid', 'r.last_updated', 'v.version', 'v.method', 'v.json', 'r.id']);
  const after = q.after;
  if (after) {
    query = byRid
      ? query.where('r.rid', '>', after.rid)
      : query.where((eb) => eb.or([
        eb('r.last_updated', desc ? '<' : '>', after.key),
        eb.and([eb('r.last_updated', '=', after.key), eb('r.rid', desc ? '<' : '>', after.rid)]),
      ]));
  }
  query = byRid
    ? query.orderBy('r.rid')
    : query.orderBy('r.last_updated', desc ? 'desc' : 'asc').orderBy('r.rid', desc ? 'desc' : 'asc');
  return query.limit(q.count + 1).compile();
}

export function searchCountQuery(db: Kysely<Database>, q: SearchQuery) {
  return filtered(db, q).select(sql<number>`count(*)`.as('n')).compile();
}
