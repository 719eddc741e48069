import { activityOf, provenanceFor } from '../audit/provenance.js';
import { FhirError } from '../fhir/errors.js';
import type { Caller } from '../fhir/interaction.js';
import {
  type AuditEntry, type AuditHead, type HistoryPage, type HistoryQuery, type SearchPage, type SearchQuery, type Stored, type StoreTx,
  UniqueIdentifierConflict, type WriteOptions,
} from '../store/store.js';
import { grantScope, requireAccess } from './access-policy.js';
import { applyGrants, linkedReferences } from './grants.js';
import { minimisePatient } from './minimise.js';
import type { WriteRulesByType } from './write-rules.js';

/** A version an interaction wrote, and the organisations that see it once the interaction is done. */
export interface WrittenVersion {
  stored: Stored;
  audience: string[];
}

/** What the operator's tools and the gateway's own jobs do with the store, never a client. */
const notForClients = (what: string) => new FhirError(403, 'forbidden', `${what} is for the operator's tools and the gateway's own jobs, not for clients`, 'Bundle');
const operatorOnly = () => notForClients('Moving a store\'s whole content');

/**
 * The store as one caller may use it. Every read, search, history listing and write of an interaction
 * passes through here, so _include, _revinclude, paging and history can never show what a read would
 * refuse: the same organisation filter is part of every query. Every write also records its grants and
 * a Provenance in the same transaction, the one write path for clients.
 */
export class CallerTx implements StoreTx {
  /** Versions written so far in this interaction: they await their Provenance. */
  private readonly written: Stored[] = [];

  constructor(
    private readonly tx: StoreTx,
    private readonly caller: Caller,
    private readonly baseUrl: string,
    private readonly rules: WriteRulesByType = {},
  ) {}

  /** The current version if the caller may see it; undefined otherwise (a 404, never a 403). */
  private async visible(type: string, id: string): Promise<Stored | undefined> {
    return this.tx.read(type, id, grantScope(this.caller, type));
  }

  /** Whether the caller sees only a minimised view of `type` (community groups, Patients). */
  private minimised(type: string): boolean {
    return this.caller.role === 'community-asset' && type === 'Patient';
  }

  /** What the caller receives of a stored version: community groups get the minimised Patient. */
  private present(s: Stored): Stored {
    if (!this.minimised(s.type)) return s;
    return { ...s, resource: minimisePatient(s.resource as fhir4.Patient) as Stored['resource'] };
  }

  async read(type: string, id: string, granted?: string): Promise<Stored | undefined> {
    requireAccess(this.caller, type, 'read');
    if (granted !== undefined && granted !== this.caller.organization) return undefined;
    const s = await this.visible(type, id);
    return s && this.present(s);
  }

  restore(): Promise<void> {
    return Promise.reject(operatorOnly());
  }

  versions(): Promise<never> {
    return Promise.reject(operatorOnly());
  }

  grantRows(): Promise<never> {
    return Promise.reject(operatorOnly());
  }

  claimRows(): Promise<never> {
    return Promise.reject(operatorOnly());
  }

  /** As the store's, but only a holder the caller may read: another's is as none. */
  async identified(type: string, system: string, value: string): Promise<string | undefined> {
    requireAccess(this.caller, type, 'read');
    const id = await this.tx.identified(type, system, value);
    return id !== undefined && (await this.visible(type, id)) ? id : undefined;
  }

  async vread(type: string, id: string, version: number): Promise<Stored | undefined> {
    requireAccess(this.caller, type, 'read');
    if (!(await this.visible(type, id))) return undefined;
    const s = await this.tx.vread(type, id, version);
    return s && this.present(s);
  }

  async search(query: SearchQuery): Promise<SearchPage> {
    requireAccess(this.caller, query.type, 'search');
    // Searching a minimised view by what it hides (an NHS number, say) would reveal what it hides.
    if (this.minimised(query.type) && query.filters.some((f) => f.kind !== 'id' && f.kind !== 'lastUpdated')) {
      throw new FhirError(403, 'forbidden', `A ${this.caller.role} client may search ${query.type} only by _id and _lastUpdated`, query.type);
    }
    const org = grantScope(this.caller, query.type);
    const page = await this.tx.search(org === undefined ? query : { ...query, filters: [...query.filters, { kind: 'granted', org }] });
    return { ...page, matches: page.matches.map((s) => this.present(s)) };
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    const type = query.type ?? '*';
    if (query.id !== undefined) {
      requireAccess(this.caller, type, 'read');
      if (!(await this.visible(type, query.id))) return { versions: [] };
    } else requireAccess(this.caller, type, 'search');
    const org = grantScope(this.caller, type);
    const page = await this.tx.history(org === undefined || query.id !== undefined ? query : { ...query, granted: org });
    return { ...page, versions: page.versions.map((s) => this.present(s)) };
  }

  async write(input: fhir4.Resource & { id: string }, options: WriteOptions): Promise<Stored> {
    const type = input.resourceType;
    const exists = options.expectVersion === 0 ? undefined : await this.tx.read(type, input.id);
    if (exists) {
      requireAccess(this.caller, type, 'update');
      if (!(await this.visible(type, input.id))) throw new FhirError(404, 'not-found', `${type}/${input.id} is not known`, `${type}.id`);
    } else requireAccess(this.caller, type, 'create');
    const rules = this.rules[type];
    const resource = rules?.before ? await rules.before(input, exists, this.caller, this, options) : input;
    if (!exists) {
      const repeated = await rules?.existing?.(resource, this.caller, this);
      if (repeated) return this.present(repeated);
    }
    // Links the current version already has were checked when they were made (and a community group
    // updating its Task need not see the parent Task it is part of).
    const existing = new Set(exists ? linkedReferences(exists.resource, this.baseUrl).map((l) => l.target) : []);
    for (const { target, path } of linkedReferences(resource, this.baseUrl)) {
      if (existing.has(target)) continue;
      const [refType = '', refId = ''] = target.split('/');
      if (!(await this.visible(refType, refId))) {
        throw new FhirError(422, 'not-found', `${path} refers to ${target}, which is not known to this client`, path);
      }
    }
    let stored: Stored;
    try {
      stored = await this.recordedWrite(resource, options);
    } catch (e) {
      const adopted = e instanceof UniqueIdentifierConflict && e.nothingWritten && options.conditional && rules?.adopt?.(e, this.caller)
        ? await this.adopt(e) : undefined;
      if (adopted) return adopted;
      throw e;
    }
    await rules?.after?.(stored, this.caller, this, (r, o = { method: 'POST', expectVersion: 0 }) => this.recordedWrite(r, o), exists);
    return this.present(stored);
  }

  /**
   * Gives the caller's organisation the resource that holds a unique identifier (a Patient by NHS
   * number, to a second practice referring the same patient): from now on it sees it like its own.
   */
  private async adopt(conflict: UniqueIdentifierConflict): Promise<Stored | undefined> {
    const holder = await this.tx.read(conflict.type, conflict.existingId);
    if (!holder) return undefined;
    await this.tx.grant(holder.type, holder.id, [this.caller.organization]);
    return this.present(holder);
  }

  /** Writes a version with its grants: what every write, the client's or the server's, records. */
  private async recordedWrite(resource: fhir4.Resource & { id: string }, options: WriteOptions): Promise<Stored> {
    const stored = await this.tx.write(resource, options);
    await applyGrants(this.tx, stored, this.caller.organization, this.baseUrl);
    this.written.push(stored);
    return stored;
  }

  /**
   * Gives every version this interaction wrote its Provenance, in the same transaction: one per
   * activity and audience, targeting each version it covers. A transaction Bundle that creates a
   * referral gets one Provenance for all it created rather than one per resource, and each
   * Provenance is granted exactly to the organisations that see its targets once the interaction is
   * done (a referral shares its Patient with the service), so none names a version to an organisation
   * that may not see it. Answers what the interaction wrote, each version with its audience.
   */
  async recordProvenance(): Promise<WrittenVersion[]> {
    const groups = new Map<string, { stored: Stored[]; orgs: string[] }>();
    const written: WrittenVersion[] = [];
    for (const stored of this.written.splice(0)) {
      const audience = await this.tx.grantsOf(stored.type, stored.id);
      written.push({ stored, audience });
      const key = `${activityOf(stored)} ${audience.join(' ')}`;
      const group = groups.get(key);
      if (group) group.stored.push(stored);
      else groups.set(key, { stored: [stored], orgs: audience });
    }
    for (const { stored, orgs } of groups.values()) {
      const provenance = await this.tx.write(provenanceFor(stored, this.caller), { method: 'POST', expectVersion: 0 });
      await this.tx.grant('Provenance', provenance.id, orgs);
    }
    return written;
  }

  grant(type: string, id: string, orgs: readonly string[]): Promise<void> {
    return this.tx.grant(type, id, orgs);
  }

  revoke(type: string, id: string, orgs: readonly string[]): Promise<void> {
    return this.tx.revoke(type, id, orgs);
  }

  grantsOf(type: string, id: string): Promise<string[]> {
    return this.tx.grantsOf(type, id);
  }

  claimOnce(scope: string, key: string, value: string, expiresAt: number): Promise<string | undefined> {
    return this.tx.claimOnce(scope, key, value, expiresAt);
  }

  remember(scope: string, key: string, value: string, expiresAt: number): Promise<void> {
    return this.tx.remember(scope, key, value, expiresAt);
  }

  recall(scope: string, key: string): Promise<string | undefined> {
    return this.tx.recall(scope, key);
  }

  forgetExpiredClaims(): Promise<never> {
    return Promise.reject(notForClients('Clearing expired claims'));
  }

  now(): number {
    return this.tx.now();
  }

  auditHead(): Promise<AuditHead | undefined> {
    return this.tx.auditHead();
  }

  appendAudit(entry: AuditEntry): Promise<void> {
    return this.tx.appendAudit(entry);
  }

  auditEntries(afterSeq: number, limit: number): ReturnType<StoreTx['auditEntries']> {
    return this.tx.auditEntries(afterSeq, limit);
  }

  /** The server's own: what an interaction's changes owe receivers (no client reaches the outbox directly). */
  get deliveries(): StoreTx['deliveries'] {
    return this.tx.deliveries;
  }

  /** The server's own: the reports' read model, kept by its projection (no client reaches it directly). */
  get reportFacts(): StoreTx['reportFacts'] {
    return this.tx.reportFacts;
  }
}
