import Sqlite from 'better-sqlite3';
import type { CompiledQuery } from 'kysely';
import pg from 'pg';
import { sqliteFileIn } from '../src/store/open-store.js';
import { PG_TYPES } from '../src/store/postgres/postgres-store.js';
import { queryBuilder } from '../src/store/sql/database.js';
import { CHANGE_SCORES } from '../src/reports/social-prescribing.js';
import { cohortQuery } from '../src/store/sql/sql-report-facts.js';
import { READ_PATH_PRAGMAS } from '../src/store/sqlite/sqlite-store.js';
import { renderSqlitePlan, type SqlitePlanRow } from './plan-text.js';

/**
 * Child process, compiled with the servers: the query the store runs for the social prescribing
 * report, built by the function the store builds it with (sql-report-facts.ts), with its plan
 * from the database that runs it (SQLite's EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN ANALYZE) and timed
 * alone through the store's own driver, every row fetched into JavaScript as the store fetches it: the
 * floor under any report computed from this read model, and the report scenario's baseline. Also
 * the plan of the same query for a narrow report (the first practice's first 31 days), which shows
 * whether the indexes serve where a database that plans by its statistics would choose them.
 * Usage: report-plan.js <data dir> <from µs> <to µs> <practice>…; with DATABASE_URL, on that PostgreSQL
 * database. Prints ReportPlans as JSON.
 */

export interface ReportQueryPlan {
  query: 'cohort';
  sql: string;
  plan: string[];
  rows: number;
  /** Milliseconds the statement takes alone, rows fetched: median and worst of the timed runs. */
  medianMs: number;
  maxMs: number;
}

export interface ReportPlans {
  store: 'sqlite' | 'postgres';
  plans: ReportQueryPlan[];
  /** The plans for the narrow report, not timed. */
  narrowPlans: Pick<ReportQueryPlan, 'query' | 'plan'>[];
  /** The report's queries, as a report runs them: median and worst of the timed runs. */
  queriesMedianMs: number;
  queriesMaxMs: number;
  runs: number;
}

/** As the report scenario: one run to warm the caches, then these, timed. */
const RUNS = 5;

const middle = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

const [dataDir, from, to, ...practices] = process.argv.slice(2);
if (!dataDir || !from || !to || practices.length === 0) throw new Error('usage: report-plan.js <data dir> <from µs> <to µs> <practice>…');
const url = process.env.DATABASE_URL;
const db = queryBuilder(url ? 'postgres' : 'sqlite');
const scope = { from: Number(from), to: Number(to), practices };
const queries = { cohort: cohortQuery(db, scope, CHANGE_SCORES) };
const narrow = { from: scope.from, to: scope.from + 31 * 86_400_000_000, practices: practices.slice(0, 1) };
const narrowQueries = { cohort: cohortQuery(db, narrow, CHANGE_SCORES) };

/** Runs one of the report's queries, fetching every row; answers how many. */
type Run = (query: keyof typeof queries) => Promise<number>;

const QUERIES = Object.keys(queries) as (keyof typeof queries)[];

async function measure(explain: (q: CompiledQuery) => Promise<string[]>, run: Run): Promise<ReportPlans> {
  const times = Object.fromEntries(QUERIES.map((q) => [q, [] as number[]])) as Record<keyof typeof queries, number[]>;
  const rows = Object.fromEntries(QUERIES.map((q) => [q, 0])) as Record<keyof typeof queries, number>;
  const all: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const start = performance.now();
    for (const query of QUERIES) {
      const t0 = performance.now();
      rows[query] = await run(query);
      if (i > 0) times[query].push(performance.now() - t0);
    }
    if (i > 0) all.push(performance.now() - start);
  }
  const plans: ReportQueryPlan[] = [];
  for (const query of QUERIES) {
    plans.push({
      query, sql: queries[query].sql, plan: await explain(queries[query]), rows: rows[query],
      medianMs: middle(times[query]), maxMs: Math.max(...times[query]),
    });
  }
  const narrowPlans: ReportPlans['narrowPlans'] = [];
  for (const query of QUERIES) narrowPlans.push({ query, plan: await explain(narrowQueries[query]) });
  return { store: url ? 'postgres' : 'sqlite', plans, narrowPlans, queriesMedianMs: middle(all), queriesMaxMs: Math.max(...all), runs: RUNS };
}

let result: ReportPlans;
if (url) {
  // As the store's connections: int8 as numbers, each statement prepared by name.
  const client = new pg.Client({ connectionString: url, types: PG_TYPES });
  await client.connect();
  try {
    const params = (q: CompiledQuery) => q.parameters as unknown[];
    result = await measure(
      async (q) => (await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`, params(q))).rows.map((r) => r['QUERY PLAN']),
      async (query) => (await client.query({ name: `report-${query}`, text: queries[query].sql, values: params(queries[query]) })).rows.length,
    );
  } finally {
    await client.end();
  }
} else {
  const conn = new Sqlite(sqliteFileIn(dataDir), { fileMustExist: true, readonly: true });
  for (const p of READ_PATH_PRAGMAS) conn.pragma(p);
  // Prepared once, as the store prepares each statement once.
  const statements = { cohort: conn.prepare(queries.cohort.sql) };
  try {
    result = await measure(
      async (q) => renderSqlitePlan(conn.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...(q.parameters as unknown[])) as SqlitePlanRow[]),
      async (query) => statements[query].all(...(queries[query].parameters as unknown[])).length,
    );
  } finally {
    conn.close();
  }
}
process.stdout.write(JSON.stringify(result));
