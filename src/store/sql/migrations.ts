import { sql, type CompiledQuery, type Kysely } from 'kysely';
import type { Database, SqlDialect, SqlRunner } from './database.js';
import { reindexParams } from './reindex.js';
import type { Indexer } from './sql-tx.js';

interface Migration {
  version: number;
  up: (db: Kysely<Database>, dialect: SqlDialect) => { compile(): CompiledQuery }[];
  /**
   * Search parameters (`Type.name`) the registry gained after resources of their type were stored,
   * indexed over every stored version (sql/reindex.ts). A parameter added to fhir/registry.ts takes a
   * migration that names it here, or what was stored before it is never found by it.
   */
  reindex?: readonly string[];
  /** The reports' read model is rebuilt from the stored versions (MigrationOptions.rebuildReports). */
  rebuildReports?: true;
}

/**
 * Schema versions, applied in order and recorded in schema_migration. A released migration is never
 * edited: a change of schema is a new entry at the end.
 */
const migrations: Migration[] = [
  {
    version: 1,
    up: (db, dialect) => {
      const big = dialect === 'sqlite' ? 'integer' : 'bigint';
      return [
        db.schema.createTable('resource')
          .addColumn('rid', dialect === 'sqlite' ? 'integer' : 'bigserial', (c) =>
            dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('last_updated', big, (c) => c.notNull())
          .addUniqueConstraint('resource_type_id', ['type', 'id']),
        db.schema.createIndex('resource_type_updated').on('resource').columns(['type', 'last_updated', 'rid']),
        db.schema.createIndex('resource_type_rid').on('resource').columns(['type', 'rid']),
        db.schema.createTable('resource_version')
          .addColumn('rid', big, (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('id', 'text', (c) => c.notNull())
          .addColumn('last_updated', big, (c) => c.notNull())
          .addColumn('valid_to', big, (c) => c.notNull())
          .addColumn('method', 'text', (c) => c.notNull())
          .addColumn('json', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('resource_version_pk', ['rid', 'version']),
        db.schema.createIndex('resource_version_type_rid').on('resource_version').columns(['type', 'rid']),
        db.schema.createIndex('resource_version_type_updated').on('resource_version').columns(['type', 'last_updated']),
        db.schema.createIndex('resource_version_updated').on('resource_version').column('last_updated'),
        db.schema.createTable('sp_token')
          .addColumn('rid', big, (c) => c.notNull())
          .addColumn('valid_from', big, (c) => c.notNull())
          .addColumn('valid_to', big, (c) => c.notNull())
          .addColumn('param', 'text', (c) => c.notNull())
          .addColumn('system', 'text')
          .addColumn('code', 'text', (c) => c.notNull()),
        db.schema.createIndex('sp_token_lookup').on('sp_token').columns(['param', 'code', 'rid', 'valid_to', 'valid_from']),
        db.schema.createIndex('sp_token_rid').on('sp_token').columns(['rid', 'valid_to']),
        db.schema.createTable('sp_reference')
          .addColumn('rid', big, (c) => c.notNull())
          .addColumn('valid_from', big, (c) => c.notNull())
          .addColumn('valid_to', big, (c) => c.notNull())
          .addColumn('param', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull()),
        db.schema.createIndex('sp_reference_lookup').on('sp_reference').columns(['param', 'target', 'rid', 'valid_to', 'valid_from']),
        db.schema.createIndex('sp_reference_rid').on('sp_reference').columns(['rid', 'valid_to']),
        db.schema.createTable('sp_date')
          .addColumn('rid', big, (c) => c.notNull())
          .addColumn('valid_from', big, (c) => c.notNull())
          .addColumn('valid_to', big, (c) => c.notNull())
          .addColumn('param', 'text', (c) => c.notNull())
          .addColumn('lo', big, (c) => c.notNull())
          .addColumn('hi', big, (c) => c.notNull()),
        db.schema.createIndex('sp_date_lookup').on('sp_date').columns(['param', 'lo', 'hi', 'valid_to', 'valid_from', 'rid']),
        db.schema.createIndex('sp_date_rid').on('sp_date').columns(['rid', 'param', 'valid_to']),
        db.schema.createTable('sp_string')
          .addColumn('rid', big, (c) => c.notNull())
          .addColumn('valid_from', big, (c) => c.notNull())
          .addColumn('valid_to', big, (c) => c.notNull())
          .addColumn('param', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addColumn('exact', 'text', (c) => c.notNull()),
        db.schema.createIndex('sp_string_lookup').on('sp_string').columns(['param', 'value', 'valid_to', 'valid_from', 'rid']),
        db.schema.createIndex('sp_string_rid').on('sp_string').columns(['rid', 'param', 'valid_to']),
        db.schema.createTable('unique_identifier')
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('system', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addColumn('rid', big, (c) => c.notNull())
          .addPrimaryKeyConstraint('unique_identifier_pk', ['type', 'system', 'value']),
        db.schema.createIndex('unique_identifier_rid').on('unique_identifier').column('rid'),
      ];
    },
  },
  {
    version: 2,
    up: (db, dialect) => {
      const big = dialect === 'sqlite' ? 'integer' : 'bigint';
      return [
        // Which organisations may see a resource; grants only ever grow.
        db.schema.createTable('access_grant')
          .addColumn('rid', big, (c) => c.notNull())
          .addColumn('org', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('access_grant_pk', ['org', 'rid']),
        db.schema.createIndex('access_grant_rid').on('access_grant').column('rid'),
        // Keys that may be used once (assertion jti, idempotency keys), with what the first use produced.
        db.schema.createTable('claim')
          .addColumn('scope', 'text', (c) => c.notNull())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('value', 'text', (c) => c.notNull())
          .addColumn('expires_at', big, (c) => c.notNull())
          .addPrimaryKeyConstraint('claim_pk', ['scope', 'key']),
        db.schema.createIndex('claim_expiry').on('claim').column('expires_at'),
        // The audit ledger: AuditEvents in chain order, each with its hash, and the references they concern.
        db.schema.createTable('audit_event')
          .addColumn('seq', big, (c) => c.primaryKey())
          .addColumn('recorded', big, (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('subtype', 'text', (c) => c.notNull())
          .addColumn('org', 'text')
          .addColumn('json', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull()),
        db.schema.createIndex('audit_event_org').on('audit_event').columns(['org', 'seq']),
        (() => {
          const t = db.schema.createTable('audit_entity')
            .addColumn('ref', 'text', (c) => c.notNull())
            .addColumn('seq', big, (c) => c.notNull())
            .addPrimaryKeyConstraint('audit_entity_pk', ['ref', 'seq']);
          return dialect === 'sqlite' ? t.modifyEnd(sql`without rowid`) : t;
        })(),
      ];
    },
  },
  {
    version: 3,
    // Every read is audited, and a B-tree keyed by reference takes each event's references at random
    // places: one page written per audited read. In SQLite the references move to an FTS5 index, which
    // gathers a commit's entries into a new segment and merges segments later: a few pages per commit,
    // written in order. Each event is one row (rowid = seq) whose tokens are its references, hex-encoded
    // (FTS tokenizers fold case, and FHIR ids are case-sensitive). PostgreSQL keeps audit_entity.
    up: (db, dialect) => dialect !== 'sqlite' ? [] : [
      sql`create virtual table audit_ref using fts5(refs, content='', detail=none, tokenize='ascii')`,
      sql`insert into audit_ref (rowid, refs) select seq, group_concat(hex(ref), ' ') from audit_entity group by seq`,
      sql`drop table audit_entity`,
    ].map((q) => ({ compile: () => q.compile(db) })),
  },
  {
    version: 4,
    // Polling: "what changed for this owner since T, oldest first" (Task?owner=…&_lastUpdated=ge<T>
    // &_sort=_lastUpdated). A reference row is written with each version, so its valid_from is that
    // version's lastUpdated: in this order the index yields an owner's resources by last change, from
    // T on, and a page stops after its first matches however many the owner has.
    up: (db) => [db.schema.createIndex('sp_reference_recent').on('sp_reference').columns(['param', 'target', 'valid_from', 'rid', 'valid_to'])],
  },
  {
    version: 5,
    // Every read is audited, and FTS5 writes a new segment (several pages, and merge work) at each commit
    // that inserts into it. An event's reference tokens wait in this plain table (an append to one B-tree)
    // and move to audit_ref in bulk: every few hundred events, and before any search of the ledger.
    up: (db, dialect) => dialect !== 'sqlite' ? [] : [
      db.schema.createTable('audit_ref_pending')
        .addColumn('seq', 'integer', (c) => c.primaryKey())
        .addColumn('refs', 'text', (c) => c.notNull()),
    ],
  },
  {
    version: 6,
    // A commit of audited reads wrote a page of audit_ref_pending besides the ledger's own: measured,
    // ~5 µs of the ~60 an audited transaction cost (batches of 7, fsynced). An event's references now travel in its ledger row (`refs`,
    // space-separated), and `audit_ref_indexed` records the last event whose references are in the FTS
    // index: the bulk move reads the rows after it. What was waiting is indexed here.
    up: (db, dialect) => dialect !== 'sqlite' ? [] : [
      db.schema.alterTable('audit_event').addColumn('refs', 'text'),
      sql`insert into audit_ref (rowid, refs) select seq, refs from audit_ref_pending`,
      db.schema.dropTable('audit_ref_pending'),
      db.schema.createTable('audit_ref_indexed').addColumn('through', 'integer', (c) => c.notNull()),
      sql`insert into audit_ref_indexed (through) select coalesce(max(seq), 0) from audit_event`,
    ].map((q) => ({ compile: () => q.compile(db) })),
  },
  {
    version: 7,
    // PostgreSQL, several instances: one row that every batch locks first, holding the store's clock (the
    // latest instant stamped) and the audit ledger's head. Batches of all instances then commit one at a
    // time in the order of their stamps (postgres-store.ts). SQLite has one writer and needs none.
    up: (db, dialect) => dialect !== 'postgres' ? [] : [
      db.schema.createTable('store_head')
        .addColumn('one', 'integer', (c) => c.primaryKey().check(sql`one = 1`))
        .addColumn('clock', 'bigint', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('hash', 'text')
        .addColumn('recorded', 'bigint'),
      sql`insert into store_head (one, clock, seq, hash, recorded)
        select 1,
          greatest((select coalesce(max(last_updated), 0) from resource_version), (select coalesce(max(recorded), 0) from audit_event)),
          coalesce(a.seq, 0), a.hash, a.recorded
        from (select 1) as x left join (select seq, hash, recorded from audit_event order by seq desc limit 1) as a on true`,
    ].map((q) => ({ compile: () => q.compile(db) })),
  },
  {
    version: 8,
    // The outbox (store/deliveries.ts). Leasing reads pending events by due time; the order within a
    // receiver's stream is checked by (receiver, stream, seq); withdrawn consent finds a patient's events.
    up: (db, dialect) => {
      const big = dialect === 'sqlite' ? 'integer' : 'bigint';
      return [
        db.schema.createTable('delivery')
          .addColumn('seq', dialect === 'sqlite' ? 'integer' : 'bigserial', (c) =>
            dialect === 'sqlite' ? c.primaryKey().autoIncrement() : c.primaryKey())
          .addColumn('receiver', 'text', (c) => c.notNull())
          .addColumn('stream', 'text', (c) => c.notNull())
          .addColumn('resource', 'text', (c) => c.notNull())
          .addColumn('patient', 'text')
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('created', big, (c) => c.notNull())
          .addColumn('due', big, (c) => c.notNull())
          .addColumn('lease_holder', 'text')
          .addColumn('lease_until', big, (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('settled_at', big),
        db.schema.createIndex('delivery_due').on('delivery').columns(['state', 'due', 'seq']),
        db.schema.createIndex('delivery_stream').on('delivery').columns(['receiver', 'stream', 'state', 'seq']),
        db.schema.createIndex('delivery_patient').on('delivery').columns(['patient', 'state']),
        db.schema.createIndex('delivery_listing').on('delivery').columns(['state', 'seq']),
      ];
    },
  },
  {
    version: 9,
    // The reports' read model (store/report-facts.ts): a report selects the referrals of some practices
    // received in a period, by (practice, received); their scores by referral. And the organisation each
    // outbox event is owed to, so that lapsed consent withholds exactly the groups that lose the patient.
    up: (db, dialect) => {
      const big = dialect === 'sqlite' ? 'integer' : 'bigint';
      const real = dialect === 'sqlite' ? 'real' : 'double precision';
      return [
        db.schema.createTable('referral_fact')
          .addColumn('referral', 'text', (c) => c.primaryKey())
          .addColumn('practice', 'text', (c) => c.notNull())
          .addColumn('service', 'text', (c) => c.notNull())
          .addColumn('received', big, (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('age_band', 'text', (c) => c.notNull())
          .addColumn('gender', 'text', (c) => c.notNull())
          .addColumn('ethnicity', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('accepted_at', big)
          .addColumn('completed_at', big)
          .addColumn('decline_reason', 'text'),
        db.schema.createIndex('referral_fact_practice').on('referral_fact').columns(['practice', 'received']),
        db.schema.createTable('score_fact')
          .addColumn('referral', 'text', (c) => c.notNull())
          .addColumn('code', 'text', (c) => c.notNull())
          .addColumn('first', real, (c) => c.notNull())
          .addColumn('latest', real, (c) => c.notNull())
          .addColumn('count', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('score_fact_pk', ['referral', 'code']),
        db.schema.alterTable('delivery').addColumn('org', 'text'),
      ];
    },
  },
  {
    version: 10,
    // Stores written before two changes of the code, each of which left what was already stored behind:
    // Consents stored before the Consent `period` parameter existed have no rows for it (so the consent
    // expiry job and `period` searches miss them), and referrals stored before migration 9 have no rows
    // in the reports' read model (so reports leave them out). Both are derived from the stored versions.
    up: () => [],
    reindex: ['Consent.period'],
    rebuildReports: true,
  },
];

/*
 * Index design. Token and reference lookups are (param, value, rid, validity): a driving filter reads its
 * rids already in rid order (the default page order, so a page can stop early), and a filter probed for
 * one candidate row seeks (param, value, rid) exactly, whatever the planner's statistics. The rid-first
 * indexes serve closing a version's rows and probes of dates and strings.
 */
export const latestSchemaVersion = migrations.at(-1)?.version ?? 0;

/** A database migrated by a later Signpost: this code must not write to it. */
export class SchemaTooNewError extends Error {
  constructor(readonly found: number) {
    super(`the database schema (version ${found}) is newer than this Signpost (version ${latestSchemaVersion})`);
  }
}

export interface MigrationOptions {
  /** Migrate only this far (tests of a migration). */
  target?: number;
  /** How the store indexes a version: what a migration's `reindex` indexes with. */
  indexer?: Indexer;
  /** Rebuilds the reports' read model on the migrating connection, inside the migration's transaction. */
  rebuildReports?: () => Promise<void>;
}

/**
 * PostgreSQL: a migration that reworks stored data first locks store_head, as every batch does, so that
 * instances of the previous version still serving (a rolling upgrade) write nothing until it commits and
 * what it derives cannot change under it. Instances starting together already wait for each other on
 * the migration's advisory lock (postgres-store.ts); SQLite has one writer, the one migrating.
 */
async function holdWriters(db: Kysely<Database>, dialect: SqlDialect, runner: SqlRunner): Promise<void> {
  if (dialect === 'postgres') await runner.all(db.selectFrom('store_head').select('one').forUpdate().compile());
}

/**
 * Only the server's projection can rebuild the reports' read model, and the opener passes it
 * (store/open-store.ts does). Without it, a store that holds no referral migrates all the same (its
 * model is empty either way); one that holds referrals is refused rather than recorded as migrated with
 * its reports still missing them.
 */
async function rebuildReadModel(db: Kysely<Database>, runner: SqlRunner, version: number, rebuild: (() => Promise<void>) | undefined): Promise<void> {
  if (rebuild) return rebuild();
  const referrals = await runner.all(db.selectFrom('resource').select('rid').where('type', '=', 'ServiceRequest').limit(1).compile());
  if (referrals.length > 0) {
    throw new Error(`migration ${version} rebuilds the reports' read model from the stored referrals, which this opener cannot: start the gateway on this store first`);
  }
}

/**
 * Brings the schema up to date (or up to `target`) inside the caller's transaction, with the work on
 * stored data a migration calls for: migrations, their data work and their records in schema_migration
 * commit together or not at all.
 */
export async function migrate(db: Kysely<Database>, dialect: SqlDialect, runner: SqlRunner, options: MigrationOptions = {}): Promise<void> {
  const target = options.target ?? latestSchemaVersion;
  await runner.run(
    db.schema.createTable('schema_migration').ifNotExists()
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('applied_at', 'text', (c) => c.notNull())
      .compile(),
  );
  const rows = await runner.all<{ version: number | null }>(
    db.selectFrom('schema_migration').select(sql<number | null>`max(version)`.as('version')).compile(),
  );
  const current = Number(rows[0]?.version ?? 0);
  if (current > latestSchemaVersion) throw new SchemaTooNewError(current);
  for (const m of migrations) {
    if (m.version <= current || m.version > target) continue;
    for (const step of m.up(db, dialect)) await runner.run(step.compile());
    if (m.reindex || m.rebuildReports) await holdWriters(db, dialect, runner);
    if (m.reindex) {
      if (!options.indexer) throw new Error(`migration ${m.version} indexes stored versions again: the store must pass its indexer`);
      await reindexParams(db, runner, options.indexer, m.reindex);
    }
    if (m.rebuildReports) await rebuildReadModel(db, runner, m.version, options.rebuildReports);
    await runner.run(db.insertInto('schema_migration').values({ version: m.version, applied_at: new Date().toISOString() }).compile());
  }
}
