import Sqlite from 'better-sqlite3';
import type { CompiledQuery, Insertable } from 'kysely';
import pg from 'pg';
import { indexEntries } from '../src/fhir/index-values.js';
import { swemwbsMetric } from '../src/outcomes/scoring.js';
import { AGE_BANDS, ETHNIC_CATEGORIES, GENDERS } from '../src/reports/strata.js';
import { sqliteFileIn } from '../src/store/open-store.js';
import { PG_TYPES, PostgresStore } from '../src/store/postgres/postgres-store.js';
import { queryBuilder, type Database, type SqlDialect } from '../src/store/sql/database.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { londonMidnight } from '../src/workflow/working-days.js';
import { COMMISSIONED_PRACTICES, OTHER_BOARD_PRACTICE, SERVICES } from './clients.js';

/**
 * Child process: fills the reports' read model (referral_fact, score_fact) of a new store for issue 10's
 * report scenario: `referrals` referrals received in REPORT_YEAR from the commissioner's practices, and a
 * quarter as many it must leave out (received the year before, or from another board's practice). Rows
 * go straight into the tables in multi-row INSERTs: the projection that keeps them from resources is
 * tested elsewhere (test/api/report-facts.test.ts), and what is measured here is the report over them;
 * writing 100,000 referrals' resources through the gateway would take the better part of an hour. The
 * population comes from a fixed-seed generator, so every run reports on the same one.
 * Usage: report-seed.ts <data dir> <referrals>; with DATABASE_URL, into that PostgreSQL database.
 * Prints the ReportSeed as JSON.
 */

export interface ReportSeed {
  /** The report's period, London calendar days, both inclusive. */
  periodStart: string;
  periodEnd: string;
  /** Rows in the report's scope, and in the store besides. */
  referrals: number;
  outOfScope: number;
  scores: number;
  seconds: number;
}

const REPORT_YEAR = 2025;

/** mulberry32: a small, fast 32-bit generator; a fixed seed gives the same population every run. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const random = generator(10);

/** One of `items`, each as likely as its weight. */
function weighted<T>(items: readonly (readonly [T, number])[]): () => T {
  const total = items.reduce((sum, [, w]) => sum + w, 0);
  return () => {
    let r = random() * total;
    for (const [item, w] of items) if ((r -= w) < 0) return item;
    return items.at(-1)![0];
  };
}

/** A normal deviate (Box-Muller), rounded and held within [lo, hi]: a score on its scale. */
const normal = (mean: number, sd: number, lo: number, hi: number) =>
  Math.min(hi, Math.max(lo, Math.round(mean + sd * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()))));

const DAY = 86_400_000_000;

// Roughly as referrals to social prescribing are spread: more women, older people, White British (the
// 2021 census shares for England, Z for records without one); practices of different list sizes; the
// reasons of profiles/ValueSet-sp-referral-reasons.json, a few of them common.
const practice = weighted(COMMISSIONED_PRACTICES.map((p, i) => [p, 20 - 2 * i] as const));
const ageBand = weighted(AGE_BANDS.map((b, i) => [b, [3, 18, 22, 25, 22, 9, 1][i]!] as const));
const gender = weighted(GENDERS.map((g, i) => [g, [58, 40, 1, 1][i]!] as const));
const ethnicity = weighted(Object.keys(ETHNIC_CATEGORIES).map((c) => [c, ({ A: 70, C: 6, H: 3, J: 2.5, N: 2, Z: 5 } as Record<string, number>)[c] ?? 1] as const));
const reason = weighted(['267076002', '422650009', '105529008', '160932005', '73438004', '32911000', '266935003', '266934004', '276040005', '366121000000108']
  .map((code, i) => [code, [30, 20, 12, 10, 8, 6, 5, 4, 3, 2][i]!] as const));
const status = weighted([['requested', 8], ['rejected', 12], ['cancelled', 4], ['accepted', 6], ['in-progress', 15], ['on-hold', 3], ['completed', 45], ['failed', 7]] as const);
const declineReason = weighted([['service-at-capacity', 4], ['referral-not-appropriate', 3], ['outside-service-area', 2], ['needs-met-elsewhere', 2]] as const);
const TAKEN_ON = new Set(['accepted', 'in-progress', 'on-hold', 'completed', 'failed']);

const uuid = () => Array.from({ length: 4 }, () => Math.floor(random() * 2 ** 32).toString(16).padStart(8, '0')).join('')
  .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

type Referral = Insertable<Database['referral_fact']>;
type Score = Insertable<Database['score_fact']>;

/**
 * The scores of a referral: a baseline and, once it has run its course, follow-ups. SWEMWBS as its raw
 * and metric scores (the published conversion), ONS4's four items 0–10, UCLA-3's total 3–9; each
 * improving on average, by less than its spread.
 */
function scoresOf(referral: string, finished: boolean): Score[] {
  const count = finished ? 2 + Math.floor(random() * 3) : 1;
  const out: Score[] = [];
  const score = (code: string, first: number, latest: number) => out.push({ referral, code, first, latest, count });
  const pairOf = (mean: number, sd: number, change: number, lo: number, hi: number): [number, number] => {
    const first = normal(mean, sd, lo, hi);
    return [first, finished ? normal(first + change, sd, lo, hi) : first];
  };
  if (random() < 0.8) {
    const [first, latest] = pairOf(20, 4, 3, 7, 35);
    score('swemwbs-raw', first, latest);
    score('swemwbs-metric', swemwbsMetric(first), swemwbsMetric(latest));
  }
  if (random() < 0.6) {
    for (const [code, mean, change] of [['ons4-satisfaction', 5, 1], ['ons4-worthwhile', 6, 1], ['ons4-happiness', 5, 1], ['ons4-anxiety', 5, -1]] as const) {
      score(code, ...pairOf(mean, 2.5, change, 0, 10));
    }
  }
  if (random() < 0.5) score('ucla3-total', ...pairOf(6.5, 1.5, -0.7, 3, 9));
  return out;
}

/** A referral from `from` received in [start, end), its Task as it now stands, and its scores. */
function referral(from: string, start: number, end: number): { row: Referral; scores: Score[] } {
  const id = uuid();
  const received = Math.floor(start + random() * (end - start));
  const now = status();
  const acceptedAt = TAKEN_ON.has(now) ? received + Math.floor((1 + random() * 29) * DAY) : null;
  const completedAt = now === 'completed' ? acceptedAt! + Math.floor((20 + random() * 130) * DAY) : null;
  const row: Referral = {
    referral: id, practice: from, service: SERVICES[Math.floor(random() * 4)]!, received, reason: reason(),
    age_band: ageBand(), gender: gender(), ethnicity: ethnicity(), status: now, accepted_at: acceptedAt, completed_at: completedAt,
    decline_reason: now === 'rejected' ? declineReason() : null,
  };
  const scored = now === 'completed' || now === 'failed' ? random() < 0.75 : acceptedAt !== null && random() < 0.5;
  return { row, scores: scored ? scoresOf(id, now === 'completed' || now === 'failed') : [] };
}

/** Rows per INSERT: 1,000 referrals bind 12,000 values, within both databases' limits. */
const CHUNK = 1000;

async function seed(dataDir: string, referrals: number): Promise<ReportSeed> {
  const started = Date.now();
  const url = process.env.DATABASE_URL;
  const dialect: SqlDialect = url ? 'postgres' : 'sqlite';
  // Opened once as the gateway opens it, so that the schema is the gateway's; then filled by the driver.
  const indexer = (r: fhir4.Resource) => indexEntries(r, '');
  const hold = setInterval(() => undefined, 1000); // see seed.ts: the store's close waits on an unref'd worker
  await (url ? PostgresStore.open({ url, indexer }) : SqliteStore.open({ file: sqliteFileIn(dataDir), indexer, synchronous: 'normal' }))
    .then((s) => s.close()).finally(() => clearInterval(hold));

  const year = { start: londonMidnight(`${REPORT_YEAR}-01-01`) * 1000, end: londonMidnight(`${REPORT_YEAR + 1}-01-01`) * 1000 };
  const before = { start: londonMidnight(`${REPORT_YEAR - 1}-01-01`) * 1000, end: year.start };
  const outOfScope = Math.floor(referrals / 4);
  const rows: Referral[] = [];
  const scores: Score[] = [];
  for (let i = 0; i < referrals + outOfScope; i++) {
    const made = i < referrals ? referral(practice(), year.start, year.end)
      : i % 2 === 0 ? referral(practice(), before.start, before.end) : referral(OTHER_BOARD_PRACTICE, year.start, year.end);
    rows.push(made.row);
    scores.push(...made.scores);
  }

  const db = queryBuilder(dialect);
  const inserts: CompiledQuery[] = [];
  for (let i = 0; i < rows.length; i += CHUNK) inserts.push(db.insertInto('referral_fact').values(rows.slice(i, i + CHUNK)).compile());
  for (let i = 0; i < scores.length; i += CHUNK) inserts.push(db.insertInto('score_fact').values(scores.slice(i, i + CHUNK)).compile());
  if (url) {
    const client = new pg.Client({ connectionString: url, types: PG_TYPES });
    await client.connect();
    try {
      await client.query('BEGIN');
      for (const q of inserts) await client.query(q.sql, q.parameters as unknown[]);
      await client.query('COMMIT');
      // What autovacuum does in its own time after a bulk load (see seed.ts): the planner's statistics.
      await client.query('VACUUM ANALYZE referral_fact, score_fact');
    } finally {
      await client.end();
    }
  } else {
    const conn = new Sqlite(sqliteFileIn(dataDir));
    try {
      conn.transaction(() => { for (const q of inserts) conn.prepare(q.sql).run(...(q.parameters as unknown[])); })();
    } finally {
      conn.close();
    }
  }
  return {
    periodStart: `${REPORT_YEAR}-01-01`, periodEnd: `${REPORT_YEAR}-12-31`, referrals, outOfScope, scores: scores.length,
    seconds: (Date.now() - started) / 1000,
  };
}

const [dataDir, count] = process.argv.slice(2);
if (!dataDir || !count) throw new Error('usage: report-seed.ts <data dir> <referrals>');
process.stdout.write(JSON.stringify(await seed(dataDir, Number(count))));
