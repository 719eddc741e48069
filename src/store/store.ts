import type { DeliveryQueue } from './deliveries.js';
import type { ReportFacts } from './report-facts.js';
import type { MicroRange, Micros } from '../fhir/instant.js';

/** A resource version as stored: the JSON carries meta.versionId and meta.lastUpdated. */
export interface Stored {
  resource: fhir4.Resource & { id: string; meta: fhir4.Meta & { versionId: string; lastUpdated: string } };
  type: string;
  id: string;
  version: number;
  lastUpdated: Micros;
  /** How the version came about, for history entries. */
  method: 'POST' | 'PUT' | 'PATCH';
}

export type DatePrefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

/** One search condition; the values of one condition are alternatives (OR), conditions combine with AND. */
export type Filter =
  | { kind: 'id'; ids: string[] }
  | { kind: 'lastUpdated'; prefix: DatePrefix; range: MicroRange }
  | { kind: 'token'; param: string; values: { system?: string | null; code?: string }[]; not?: boolean }
  | { kind: 'reference'; param: string; targets: string[] }
  | { kind: 'date'; param: string; prefix: DatePrefix; range: MicroRange }
  | { kind: 'string'; param: string; values: string[]; exact: boolean }
  | { kind: 'missing'; param: string; index: 'token' | 'reference' | 'date' | 'string'; missing: boolean }
  /** Only resources an organisation has been granted (the access policy's search filter). */
  | { kind: 'granted'; org: string };

export type SortOrder = 'default' | '_lastUpdated' | '-_lastUpdated';

/** Where the previous page ended: the sort key and the row id that breaks ties. */
export interface Cursor {
  key: number;
  rid: number;
}

export interface SearchQuery {
  type: string;
  filters: Filter[];
  sort: SortOrder;
  count: number;
  after?: Cursor;
  /**
   * Search the data as it was committed at this instant; absent, as of now. Every page of one search
   * reads the same instant, so writes meanwhile neither skip nor repeat a result.
   */
  asOf?: Micros;
  total?: boolean;
}

export interface SearchPage {
  matches: Stored[];
  /** The instant the page was read at: pass it back as `asOf` for the next page. */
  asOf: Micros;
  /** Present when more results follow. */
  next?: Cursor;
  total?: number;
}

export interface HistoryQuery {
  type?: string;
  id?: string;
  since?: Micros;
  count: number;
  /** Versions strictly older (in lastUpdated) than this continue the listing. */
  before?: Micros;
  /** Only resources this organisation has been granted. */
  granted?: string;
}

/**
 * One AuditEvent in the append-only audit ledger. Its position in the chain is also its id; the store
 * keeps its JSON exactly as hashed, and the columns and references it is searched by.
 */
export interface AuditEntry {
  seq: number;
  json: string;
  hash: string;
  recorded: Micros;
  outcome: string;
  subtype: string;
  /** ODS code of the acting organisation (absent for unauthenticated requests). */
  org?: string;
  /** Type/id of every resource and patient the event concerns. */
  entities: string[];
}

export type AuditHead = Pick<AuditEntry, 'seq' | 'hash' | 'recorded'>;

export interface HistoryPage {
  versions: Stored[];
  next?: Micros;
}

/**
 * Raised when a write would give a second resource a business identifier that must be unique.
 * `nothingWritten`: raised before the write changed anything, so the transaction may carry on.
 */
export class UniqueIdentifierConflict extends Error {
  constructor(readonly type: string, readonly system: string, readonly value: string, readonly existingId: string, readonly nothingWritten = false) {
    super(`${type} with identifier ${system}|${value} already exists (${type}/${existingId})`);
  }
}

/** Raised when a write's expected version is not the current one. */
export class VersionConflict extends Error {
  constructor(readonly type: string, readonly id: string, readonly current: number | undefined) {
    super(`${type}/${id} is at version ${current ?? 'none'}`);
  }
}

/** Where a listing of every version got to: versions are listed by lastUpdated, then row and version. */
export interface VersionCursor {
  at: Micros;
  rid: number;
  version: number;
}

export interface GrantRow {
  type: string;
  id: string;
  org: string;
}

export interface ClaimRow {
  scope: string;
  key: string;
  value: string;
  expiresAt: Micros;
}

export interface WriteOptions {
  /** The write applies only if the resource is at this version (If-Match); 0 means "must not exist". */
  expectVersion?: number;
  method: 'POST' | 'PUT' | 'PATCH';
  /**
   * A conditional create (If-None-Exist) that found nothing the caller can see. A layer with an access
   * policy may then answer with an existing resource that holds the same unique identifier, when its
   * rules let the caller have it (see WriteRules.adopt): the write returns a version with another id.
   */
  conditional?: boolean;
}

export interface StoreTx {
  /** The current version; with `granted`, only if that organisation has been granted the resource. */
  read(type: string, id: string, granted?: string): Promise<Stored | undefined>;
  vread(type: string, id: string, version: number): Promise<Stored | undefined>;
  /** Writes a new version (version 1 when the id is new), assigning versionId and lastUpdated. */
  write(resource: fhir4.Resource & { id: string }, options: WriteOptions): Promise<Stored>;
  /**
   * Operator tools only (ops/export-store.ts, ops/import-store.ts), never a request: a version exactly as another
   * store kept it (id, version, lastUpdated, method), following that resource's versions restored before.
   */
  restore(version: Stored): Promise<void>;
  /**
   * Operator tools only: every version of every resource (or of `types` only) in commit order, a page
   * after `after`.
   */
  versions(after: VersionCursor | undefined, limit: number, types?: readonly string[]): Promise<{ versions: Stored[]; next?: VersionCursor }>;
  /** Operator tools only: every grant, ordered by type, id and organisation, after `after`. */
  grantRows(after: GrantRow | undefined, limit: number): Promise<GrantRow[]>;
  /** Operator tools only: every unexpired claim, ordered by scope and key, after `after`. */
  claimRows(after: Pick<ClaimRow, 'scope' | 'key'> | undefined, limit: number): Promise<ClaimRow[]>;
  /**
   * The id of the resource of `type` holding a unique identifier (registry.ts uniqueIdentifierSystems),
   * if any: one probe of the uniqueness index, cheaper than a search by identifier.
   */
  identified(type: string, system: string, value: string): Promise<string | undefined>;
  search(query: SearchQuery): Promise<SearchPage>;
  history(query: HistoryQuery): Promise<HistoryPage>;

  /** Lets organisations see a resource from now on. */
  grant(type: string, id: string, orgs: readonly string[]): Promise<void>;
  /**
   * Takes a resource out of organisations' sight (a community group's view of a patient whose consent
   * was withdrawn): the one exception to grants only growing.
   */
  revoke(type: string, id: string, orgs: readonly string[]): Promise<void>;
  /** The organisations granted a resource. */
  grantsOf(type: string, id: string): Promise<string[]>;

  /**
   * Records `value` under (scope, key) unless an unexpired record exists, which is returned instead:
   * the primitive behind once-only keys (assertion jti, idempotency keys). Expired records are reused.
   */
  claimOnce(scope: string, key: string, value: string, expiresAt: Micros): Promise<string | undefined>;
  /** Records (or replaces) the value of a claimed key: what its first use produced, to answer repeats with. */
  remember(scope: string, key: string, value: string, expiresAt: Micros): Promise<void>;
  /** The unexpired value recorded under (scope, key), if any; records nothing. */
  recall(scope: string, key: string): Promise<string | undefined>;
  /** Removes the claims expired at `now` (the clean-up job); answers how many. */
  forgetExpiredClaims(now: Micros): Promise<number>;

  /**
   * A commit timestamp from the store's clock: later than every lastUpdated handed out before, so that
   * what is stamped with it falls inside every later search snapshot.
   */
  now(): Micros;

  /**
   * The audit ledger. AuditEvents are appended here (never through `write`) and are read, searched and
   * listed in history like any other type; a ledger entry costs a fraction of a versioned resource.
   */
  auditHead(): Promise<AuditHead | undefined>;
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Entries after `afterSeq`, oldest first, with the JSON and hash as stored. */
  auditEntries(afterSeq: number, limit: number): Promise<Pick<AuditEntry, 'seq' | 'json' | 'hash'>[]>;

  /** The outbox: events owed to receivers, written with the changes they announce. */
  readonly deliveries: DeliveryQueue;
  /** The reports' read model (issue 10): kept by the server's own projection, never by a client. */
  readonly reportFacts: ReportFacts;
}

/**
 * The persistence boundary. Everything happens inside `transaction`: the function sees a consistent
 * state, its writes become visible and durable together when the promise resolves, and a thrown
 * error discards them all. Functions must touch only the store (no outside I/O) while they run.
 */
export interface Store {
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
