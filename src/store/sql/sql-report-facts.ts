import { sql, type CompiledQuery, type Kysely } from 'kysely';
import { changeColumn, type CohortRow, type FactQuery, type ReferralFact, type ReportFacts, type ScoreFact } from '../report-facts.js';
import type { Database, SqlRunner } from './database.js';
import type { QueryCache } from './query-cache.js';

/**
 * A row's columns named as ReferralFact's fields: both drivers give numbers for the instants (SQLite's
 * integers; PostgreSQL's int8 through PG_TYPES), so a row read is a ReferralFact as it is. A report
 * reads 100,000 of them, and copying each into a fact of its own showed in its time.
 */
const FACT_COLUMNS = [
  'referral', 'practice', 'service', 'received', 'reason', 'age_band as ageBand', 'gender', 'ethnicity', 'status',
  'accepted_at as acceptedAt', 'completed_at as completedAt', 'decline_reason as declineReason',
] as const;

const toRow = (f: ReferralFact): Database['referral_fact'] => ({
  referral: f.referral, practice: f.practice, service: f.service, received: f.received, reason: f.reason,
  age_band: f.ageBand, gender: f.gender, ethnicity: f.ethnicity, status: f.status,
  accepted_at: f.acceptedAt, completed_at: f.completedAt, decline_reason: f.declineReason,
});

/**
 * The referrals a report covers: by the index (practice, received), one range of it per practice.
 * Exported with `scoresQuery` so that the bench's query-plan script plans exactly what the store runs.
 */
export function referralsQuery(db: Kysely<Database>, query: FactQuery): CompiledQuery {
  return db.selectFrom('referral_fact').select(FACT_COLUMNS)
    .where('practice', 'in', [...query.practices]).where('received', '>=', query.from).where('received', '<', query.to)
    .compile();
}

/** The scores of the referrals a report covers: those referrals as above, each one's scores by the primary key. */
export function scoresQuery(db: Kysely<Database>, query: FactQuery): CompiledQuery {
  return db.selectFrom('score_fact as s')
    .innerJoin('referral_fact as f', 'f.referral', 's.referral')
    .select(['s.referral', 's.code', 's.first', 's.latest', 's.count'])
    .where('f.practice', 'in', [...query.practices]).where('f.received', '>=', query.from).where('f.received', '<', query.to)
    .compile();
}

/**
 * A report's cohort: the referrals as above, each with its scores' changes pivoted into columns of its
 * row. The scores are pivoted first, over score_fact in its primary key's order (only those with a
 * follow-up), and joined by the referral: on SQLite that halved the time of grouping the joined rows
 * (a temporary B-tree over 100,000 wide rows). Exported for the bench's plans.
 */
export function cohortQuery(db: Kysely<Database>, query: FactQuery, codes: readonly string[]): CompiledQuery {
  const changes = db.selectFrom('score_fact').select('referral')
    .select(codes.map((code) => sql<number | null>`max(case when code = ${code} then latest - first end)`.as(changeColumn(code))))
    .where('count', '>=', 2).groupBy('referral').as('c');
  return db.selectFrom('referral_fact as f')
    .leftJoin(changes, 'c.referral', 'f.referral')
    .select(['f.practice', 'f.received', 'f.reason', 'f.age_band as ageBand', 'f.gender', 'f.ethnicity', 'f.status',
      'f.accepted_at as acceptedAt', 'f.completed_at as completedAt', 'f.decline_reason as declineReason'])
    .select(codes.map((code) => sql<number | null>`${sql.ref(`c.${changeColumn(code)}`)}`.as(changeColumn(code))))
    .where('f.practice', 'in', [...query.practices]).where('f.received', '>=', query.from).where('f.received', '<', query.to)
    .compile();
}

/** The reports' read model on the relational stores, on the runner of one open transaction. */
export class SqlReportFacts implements ReportFacts {
  constructor(private readonly db: Kysely<Database>, private readonly queries: QueryCache, private readonly sql: SqlRunner) {}

  async putReferral(fact: ReferralFact): Promise<void> {
    const { referral: _key, ...rest } = toRow(fact);
    await this.sql.run(this.db.insertInto('referral_fact').values(toRow(fact))
      .onConflict((oc) => oc.column('referral').doUpdateSet(rest)).compile());
  }

  async getReferral(referral: string): Promise<ReferralFact | undefined> {
    const rows = await this.sql.all<ReferralFact>(this.queries.get('referral-fact', ($) => this.db.selectFrom('referral_fact').select(FACT_COLUMNS)
      .where('referral', '=', $('referral')), { referral }));
    return rows[0];
  }

  async putScores(referral: string, scores: readonly Omit<ScoreFact, 'referral'>[]): Promise<void> {
    await this.sql.run(this.db.deleteFrom('score_fact').where('referral', '=', referral).compile());
    if (scores.length === 0) return;
    await this.sql.run(this.db.insertInto('score_fact').values(scores.map((s) => ({ referral, code: s.code, first: s.first, latest: s.latest, count: s.count }))).compile());
  }

  async referrals(query: FactQuery): Promise<ReferralFact[]> {
    if (query.practices.length === 0) return [];
    return this.sql.all<ReferralFact>(referralsQuery(this.db, query));
  }

  async scores(query: FactQuery): Promise<ScoreFact[]> {
    if (query.practices.length === 0) return [];
    // As a referral's row, a score's is a ScoreFact as it is read (REAL and double precision are numbers).
    return this.sql.all<ScoreFact>(scoresQuery(this.db, query));
  }

  async cohort(query: FactQuery, codes: readonly string[]): Promise<CohortRow[]> {
    if (query.practices.length === 0) return [];
    return this.sql.all<CohortRow>(cohortQuery(this.db, query, codes));
  }

  async clear(): Promise<void> {
    await this.sql.run(this.db.deleteFrom('score_fact').compile());
    await this.sql.run(this.db.deleteFrom('referral_fact').compile());
  }
}
