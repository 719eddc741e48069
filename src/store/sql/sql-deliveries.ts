import { sql, type Kysely, type Selectable } from 'kysely';
import type { Micros } from '../../fhir/instant.js';
import type { Delivery, DeliveryEvent, DeliveryListing, DeliveryOutcome, DeliveryQueue, DeliveryState } from '../deliveries.js';
import type { Database, SqlRunner } from './database.js';
import type { QueryCache } from './query-cache.js';
import { num } from './sql-rows.js';

type Row = Selectable<Database['delivery']>;

function toDelivery(r: Row): Delivery {
  return {
    seq: Number(r.seq), receiver: r.receiver, stream: r.stream, resource: r.resource,
    ...(r.patient ? { patient: r.patient } : {}),
    ...(r.org ? { org: r.org } : {}),
    state: r.state as DeliveryState, attempts: Number(r.attempts), created: Number(r.created), due: Number(r.due),
    ...(r.last_error ? { lastError: r.last_error } : {}),
    ...(r.settled_at !== null ? { settledAt: Number(r.settled_at) } : {}),
  };
}

/** Longest reason kept for a failed try: a receiver's OperationOutcome can be long, and it is shown, not parsed. */
const ERROR_LENGTH = 1000;

/** Events inserted per statement: 13 values each, well under SQLite's bound-parameter limit. */
const INSERT_CHUNK = 100;

/** The outbox of the relational stores, on the runner of one open transaction. */
export class SqlDeliveryQueue implements DeliveryQueue {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly queries: QueryCache,
    private readonly sql: SqlRunner,
    private readonly now: () => Micros,
  ) {}

  async enqueue(events: readonly DeliveryEvent[]): Promise<void> {
    const created = this.now();
    for (let i = 0; i < events.length; i += INSERT_CHUNK) {
      const chunk = events.slice(i, i + INSERT_CHUNK);
      await this.sql.run(this.db.insertInto('delivery').values(chunk.map((e) => ({
        receiver: e.receiver, stream: e.stream, resource: e.resource, patient: e.patient ?? null, org: e.org ?? null, state: 'pending',
        attempts: 0, created, due: created, lease_holder: null, lease_until: 0, last_error: null, settled_at: null,
      }))).compile());
    }
  }

  async lease(now: Micros, holder: string, until: Micros, limit: number, skipReceivers: readonly string[]): Promise<Delivery[]> {
    // The next event of a stream waits for the one before it, pending or leased.
    let due = this.db.selectFrom('delivery as d').select('d.seq')
      .where('d.state', '=', 'pending').where('d.due', '<=', now).where('d.lease_until', '<=', now)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('delivery as e').select('e.seq')
        .whereRef('e.receiver', '=', 'd.receiver').whereRef('e.stream', '=', 'd.stream')
        .where('e.state', '=', 'pending').whereRef('e.seq', '<', 'd.seq'))));
    if (skipReceivers.length > 0) due = due.where('d.receiver', 'not in', [...skipReceivers]);
    const rows = await this.sql.all<Row>(this.db.updateTable('delivery')
      .set({ lease_holder: holder, lease_until: until })
      .where('seq', 'in', due.orderBy('d.due').orderBy('d.seq').limit(limit))
      .returningAll().compile());
    return rows.map(toDelivery).sort((a, b) => a.seq - b.seq);
  }

  async settle(seq: number, holder: string, outcome: DeliveryOutcome, now: Micros): Promise<boolean> {
    const change = outcome.state === 'pending'
      ? { due: outcome.due, last_error: outcome.error.slice(0, ERROR_LENGTH), settled_at: null }
      : { last_error: outcome.state === 'failed' ? outcome.error.slice(0, ERROR_LENGTH) : null, settled_at: now };
    const rows = await this.sql.all<{ seq: number }>(this.db.updateTable('delivery')
      .set({ ...change, state: outcome.state, attempts: sql<number>`attempts + 1`, lease_holder: null, lease_until: 0 })
      .where('seq', '=', seq).where('lease_holder', '=', holder).where('state', '=', 'pending')
      .returning('seq').compile());
    return rows.length === 1;
  }

  async list(listing: DeliveryListing): Promise<Delivery[]> {
    let q = this.db.selectFrom('delivery').selectAll();
    if (listing.state) q = q.where('state', '=', listing.state);
    if (listing.receiver) q = q.where('receiver', '=', listing.receiver);
    if (listing.afterSeq !== undefined) q = q.where('seq', '>', listing.afterSeq);
    return (await this.sql.all<Row>(q.orderBy('seq').limit(listing.limit).compile())).map(toDelivery);
  }

  async get(seq: number): Promise<Delivery | undefined> {
    const rows = await this.sql.all<Row>(this.queries.get('delivery-get', ($) => this.db.selectFrom('delivery').selectAll()
      .where('seq', '=', num($, 'seq')), { seq }));
    return rows[0] && toDelivery(rows[0]);
  }

  async retry(seq: number, now: Micros): Promise<Delivery | undefined> {
    const rows = await this.sql.all<Row>(this.db.updateTable('delivery')
      .set({ state: 'pending', attempts: 0, due: now, settled_at: null, lease_holder: null, lease_until: 0 })
      .where('seq', '=', seq).where('state', '=', 'failed').returningAll().compile());
    return rows[0] && toDelivery(rows[0]);
  }

  async withhold(patient: string, orgs: readonly string[], now: Micros): Promise<number> {
    if (orgs.length === 0) return 0;
    const rows = await this.sql.all<{ seq: number }>(this.db.updateTable('delivery')
      .set({ state: 'withheld', settled_at: now, lease_holder: null, lease_until: 0 })
      .where('patient', '=', patient).where('state', '=', 'pending').where('org', 'in', [...orgs])
      .returning('seq').compile());
    return rows.length;
  }

  async summary(overdueBefore: Micros): Promise<{ pending: number; overdue: number; failed: number }> {
    const rows = await this.sql.all<{ state: string; late: number; n: number }>(this.db.selectFrom('delivery')
      .select(['state', sql<number>`sum(case when due < ${overdueBefore} then 1 else 0 end)`.as('late'), sql<number>`count(*)`.as('n')])
      .where('state', 'in', ['pending', 'failed']).groupBy('state').compile());
    const of = (state: string) => rows.find((r) => r.state === state);
    return { pending: Number(of('pending')?.n ?? 0), overdue: Number(of('pending')?.late ?? 0), failed: Number(of('failed')?.n ?? 0) };
  }

  async purgeSettled(before: Micros): Promise<number> {
    const rows = await this.sql.all<{ seq: number }>(this.db.deleteFrom('delivery')
      .where('state', 'in', ['delivered', 'withheld']).where('settled_at', '<', before)
      .returning('seq').compile());
    return rows.length;
  }
}
