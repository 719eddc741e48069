import type { Kysely, Selectable } from 'kysely';
import type { FactQuery, ReferralFact, ReportFacts, ScoreFact } from '../report-facts.js';
import type { Database, SqlRunner } from './database.js';
import type { QueryCache } from './query-cache.js';

type Row = Selectable<Database['referral_fact']>;

function toFact(r: Row): ReferralFact {
  return {
    referral: r.referral, practice: r.practice, service: r.service, received: Number(r.received), reason: r.reason,
    ageBand: r.age_band, gender: r.gender, ethnicity: r.ethnicity, status: r.status,
    acceptedAt: r.accepted_at === null ? null : Number(r.accepted_at),
    completedAt: r.completed_at === null ? null : Number(r.completed_at),
    declineReason: r.decline_reason,
  };
}

const toRow = (f: ReferralFact): Row => ({
  referral: f.referral, practice: f.practice, service: f.service, received: f.received, reason: f.reason,
  age_band: f.ageBand, gender: f.gender, ethnicity: f.ethnicity, status: f.status,
  accepted_at: f.acceptedAt, completed_at: f.completedAt, decline_reason: f.declineReason,
});

/** The reports' read model on the relational stores, on the runner of one open transaction. */
export class SqlReportFacts implements ReportFacts {
  constructor(private readonly db: Kysely<Database>, private readonly queries: QueryCache, private readonly sql: SqlRunner) {}

  async putReferral(fact: ReferralFact): Promise<void> {
    const { referral: _key, ...rest } = toRow(fact);
    await this.sql.run(this.db.insertInto('referral_fact').values(toRow(fact))
      .onConflict((oc) => oc.column('referral').doUpdateSet(rest)).compile());
  }

  async getReferral(referral: string): Promise<ReferralFact | undefined> {
    const rows = await this.sql.all<Row>(this.queries.get('referral-fact', ($) => this.db.selectFrom('referral_fact').selectAll()
      .where('referral', '=', $('referral')), { referral }));
    return rows[0] && toFact(rows[0]);
  }

  async putScores(referral: string, scores: readonly Omit<ScoreFact, 'referral'>[]): Promise<void> {
    await this.sql.run(this.db.deleteFrom('score_fact').where('referral', '=', referral).compile());
    if (scores.length === 0) return;
    await this.sql.run(this.db.insertInto('score_fact').values(scores.map((s) => ({ referral, code: s.code, first: s.first, latest: s.latest, count: s.count }))).compile());
  }

  async referrals(query: FactQuery): Promise<ReferralFact[]> {
    if (query.practices.length === 0) return [];
    const rows = await this.sql.all<Row>(this.db.selectFrom('referral_fact').selectAll()
      .where('practice', 'in', [...query.practices]).where('received', '>=', query.from).where('received', '<', query.to)
      .compile());
    return rows.map(toFact);
  }

  async scores(query: FactQuery): Promise<ScoreFact[]> {
    if (query.practices.length === 0) return [];
    const rows = await this.sql.all<Selectable<Database['score_fact']>>(this.db.selectFrom('score_fact as s')
      .innerJoin('referral_fact as f', 'f.referral', 's.referral')
      .select(['s.referral', 's.code', 's.first', 's.latest', 's.count'])
      .where('f.practice', 'in', [...query.practices]).where('f.received', '>=', query.from).where('f.received', '<', query.to)
      .compile());
    return rows.map((r) => ({ referral: r.referral, code: r.code, first: Number(r.first), latest: Number(r.latest), count: Number(r.count) }));
  }
}
