import { sqliteFileIn } from '../src/store/open-store.js';
import Sqlite from 'better-sqlite3';
import { formatInstant } from '../src/fhir/instant.js';
import { parseSearch } from '../src/fhir/search-params.js';
import { queryBuilder } from '../src/store/sql/database.js';
import { searchPageQuery } from '../src/store/sql/search-sql.js';
import { READ_PATH_PRAGMAS } from '../src/store/sqlite/sqlite-store.js';
import type { SearchQuery } from '../src/store/store.js';
import { renderSqlitePlan, type SqlitePlanRow } from './plan-text.js';

/**
 * Child process, compiled with the servers: the SQL the store runs for one of the bench's Task
 * queries, built exactly as SqlStoreTx.search builds it (parseSearch → searchPageQuery on the SQLite
 * query builder), with SQLite's EXPLAIN QUERY PLAN of it and the time the query alone takes on the
 * seeded database. `search` is a service's page of requested Tasks; `poll` the same changed since T,
 * oldest first, with T spread over the first 80% of the seeded Tasks' lastUpdated range (as the poll
 * scenario picks it). Usage: query-plan.js <data dir> <search|poll> <owner>…; prints QueryPlans as JSON.
 */

export interface QueryPlan {
  /** Which server runs it, and why it differs. */
  server: 'core' | 'gateway';
  sql: string;
  parameters: unknown[];
  /** EXPLAIN QUERY PLAN, one line per step, indented under its parent as the sqlite3 shell does. */
  plan: string[];
  /** Rows returned (the page plus one, which tells whether a next page exists). */
  rows: number;
  /** Milliseconds the statement takes on its own (prepared once, every owner in turn): median and worst. */
  medianMs: number;
  maxMs: number;
  runs: number;
}

export interface QueryPlans {
  query: string;
  plans: QueryPlan[];
}

const RUNS_PER_OWNER = 10;

const [dataDir, kind, ...owners] = process.argv.slice(2);
if (!dataDir || (kind !== 'search' && kind !== 'poll') || owners.length === 0) throw new Error('usage: query-plan.js <data dir> <search|poll> <owner ODS code>…');
const conn = new Sqlite(sqliteFileIn(dataDir), { fileMustExist: true });
for (const p of READ_PATH_PRAGMAS) conn.pragma(p);
const db = queryBuilder('sqlite');
const asOf = Date.now() * 1000; // as the store's clock reads it: after every seeded commit
const range = conn.prepare(`select min(last_updated) as lo, max(last_updated) as hi from resource_version where type = 'Task'`).get() as { lo: number; hi: number };
let polls = 0;
/** The poll's T: the n-th of ten points over the first 80% of the Tasks' lastUpdated range. */
const since = () => formatInstant(Math.floor(range.lo + ((polls++ % 10) / 10) * 0.8 * (range.hi - range.lo)));
const queryFor = (owner: string) => parseSearch('Task', new URLSearchParams({
  owner: `Organization/${owner}`, status: 'requested', _count: '50',
  ...(kind === 'poll' ? { _lastUpdated: `ge${since()}`, _sort: '_lastUpdated' } : {}),
}), { lenient: false, baseUrl: '' }).query;
// The gateway's CallerTx adds the access policy's filter: a link worker sees what its organisation was granted.
const variants: [QueryPlan['server'], (owner: string) => SearchQuery][] = [
  ['core', queryFor],
  ['gateway', (owner) => { const q = queryFor(owner); return { ...q, filters: [...q.filters, { kind: 'granted', org: owner }] }; }],
];
const plans = variants.map(([server, build]): QueryPlan => {
  const first = searchPageQuery(db, 'sqlite', build(owners[0]!), asOf);
  const params = first.parameters as unknown[];
  const plan = renderSqlitePlan(conn.prepare(`EXPLAIN QUERY PLAN ${first.sql}`).all(...params) as SqlitePlanRow[]);
  const stmt = conn.prepare(first.sql);
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < RUNS_PER_OWNER; i++) {
    for (const owner of owners) {
      const q = searchPageQuery(db, 'sqlite', build(owner), asOf);
      const t0 = performance.now();
      rows = stmt.all(...(q.parameters as unknown[])).length;
      times.push(performance.now() - t0);
    }
  }
  times.sort((a, b) => a - b);
  return {
    server, sql: first.sql, parameters: params, plan, rows,
    medianMs: times[times.length >> 1]!, maxMs: times.at(-1)!, runs: times.length,
  };
});
conn.close();
const result: QueryPlans = {
  query: `GET /fhir/Task?owner=Organization/<service>&status=requested${kind === 'poll' ? '&_lastUpdated=ge<T>&_sort=_lastUpdated' : ''}&_count=50`,
  plans,
};
process.stdout.write(JSON.stringify(result));
