import { referenceTarget } from '../fhir/index-values.js';
import { ODS_SYSTEM } from '../config/organizations.js';
import type { Caller, FhirResult, InteractionInfo } from '../fhir/interaction.js';
import { CLIENT_ID_SYSTEM } from './provenance.js';

export interface AuditOutcome {
  /** 0 success, 4 minor failure (refused: a 4xx), 8 serious failure (a 5xx) — AuditEvent.outcome codes. */
  outcome: '0' | '4' | '8';
  result?: FhirResult;
  description?: string;
}

/**
 * What the audit ledger stores of one interaction: the facts of its AuditEvent, and nothing a reader
 * could not rebuild the event from. The ledger hashes this record exactly as stored; readers get the
 * FHIR AuditEvent `renderAuditEvent` makes of it. Every read is audited, so the record is kept small:
 * a search's event lists fifty resources, and the codings each entity would repeat are added when it
 * is read, not stored fifty times.
 */
export interface AuditRecord {
  /** Place in the chain, and the AuditEvent's id. */
  seq: number;
  /** When the ledger took it (the store's clock, µs precision), as an instant. */
  recorded: string;
  /** The hash of the record before it in the chain. */
  previousHash: string;
  /** The restful-interaction code or operation name. */
  interaction: string;
  outcome: AuditOutcome['outcome'];
  outcomeDesc?: string;
  /** The authenticated client; absent when the request had no valid token. */
  client?: { id: string; role: string; organization: string };
  address?: string;
  requestId?: string;
  /** The resource type a query was about. */
  type?: string;
  /** The search or history query, as sent. */
  query?: string;
  /** Each resource returned or changed, as Type/id/_history/version. */
  resources?: string[];
  /** The patients those resources concern, as Patient/id. */
  patients?: string[];
}

/** A record before the ledger gives it its place: its seq, recorded time and previous hash. */
export type UnplacedAuditRecord = Omit<AuditRecord, 'seq' | 'recorded' | 'previousHash'>;

const PATIENT_PATHS = ['subject', 'for', 'patient'];

/** The resources a result is about: the resource itself, or the entries of a Bundle it returns. */
function resultResources(result: FhirResult | undefined): fhir4.Resource[] {
  const r = result?.resource;
  if (!r) return [];
  if (r.resourceType !== 'Bundle') return [r];
  return ((r as fhir4.Bundle).entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []));
}

function versioned(r: fhir4.Resource): string {
  return `${r.resourceType}/${r.id}${r.meta?.versionId ? `/_history/${r.meta.versionId}` : ''}`;
}

/** The audit record of an interaction: who asked, from where, what for, and what it returned or changed. */
export function auditRecordFor(caller: Caller | undefined, info: InteractionInfo, outcome: AuditOutcome, baseUrl: string): UnplacedAuditRecord {
  const resources = resultResources(outcome.result).filter((r) => r.id && r.resourceType !== 'OperationOutcome');
  const patients = new Set<string>();
  for (const r of resources) {
    if (r.resourceType === 'Patient') patients.add(`Patient/${r.id}`);
    for (const key of PATIENT_PATHS) {
      const v = (r as unknown as Record<string, unknown>)[key];
      if (v === undefined) continue;
      for (const ref of Array.isArray(v) ? v : [v]) {
        const reference = (ref as { reference?: unknown } | null)?.reference;
        const t = typeof reference === 'string' ? referenceTarget(reference, baseUrl) : undefined;
        if (t?.startsWith('Patient/')) patients.add(t);
      }
    }
  }
  // Assigned one by one, in the order the record is stored: every request makes one.
  const record: UnplacedAuditRecord = { interaction: info.subtype, outcome: outcome.outcome };
  if (outcome.description) record.outcomeDesc = outcome.description;
  if (caller) record.client = { id: caller.clientId, role: caller.role, organization: caller.organization };
  if (info.address) record.address = info.address;
  if (info.requestId) record.requestId = info.requestId;
  if (info.type) record.type = info.type;
  if (info.query) record.query = info.query;
  if (resources.length) record.resources = resources.map(versioned);
  if (patients.size) record.patients = [...patients];
  return record;
}

/** "Type/id" of a record's "Type/id/_history/version". */
const unversioned = (reference: string): string => {
  const i = reference.indexOf('/_history/');
  return i < 0 ? reference : reference.slice(0, i);
};

/** The references a record concerns (resources without their version, and patients), for search by entity and patient. */
export function recordEntities(record: Pick<AuditRecord, 'resources' | 'patients'>): string[] {
  return [...new Set([...(record.resources ?? []).map(unversioned), ...(record.patients ?? [])])];
}

// http://hl7.org/fhir/R4/valueset-audit-event-action.html
const ACTION: Record<string, 'C' | 'R' | 'U' | 'D' | 'E'> = {
  create: 'C', read: 'R', vread: 'R', 'history-instance': 'R', 'history-type': 'R', 'search-type': 'E',
  update: 'U', patch: 'U', delete: 'D', transaction: 'E', batch: 'E', capabilities: 'R',
};

/** Extension on each AuditEvent carrying the hash of the event before it. */
export const PREVIOUS_HASH_URL = 'https://signpost.health/fhir/StructureDefinition/audit-previous-hash';
export const REQUEST_ID_URL = 'https://signpost.health/fhir/StructureDefinition/request-id';

const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';

/**
 * The FHIR AuditEvent of a ledger record, after the IHE Basic Audit Log Patterns (BALP) RESTful shape:
 * type rest, subtype the interaction, the client and its organisation as agents with the requesting
 * address, and as entities each resource returned or changed, the patients they concern and the query.
 */
export function renderAuditEvent(record: AuditRecord): fhir4.AuditEvent & { id: string; meta: { versionId: string; lastUpdated: string } } {
  const network = record.address ? { network: { address: record.address, type: '2' as const } } : {};
  const agent: fhir4.AuditEventAgent[] = record.client ? [
    {
      type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110153', display: 'Source Role ID' }] },
      who: { identifier: { system: CLIENT_ID_SYSTEM, value: record.client.id }, display: `${record.client.id} (${record.client.role})` },
      requestor: true,
      ...network,
    },
    {
      who: { reference: `Organization/${record.client.organization}`, identifier: { system: ODS_SYSTEM, value: record.client.organization } },
      requestor: false,
    },
  ] : [{ who: { display: 'unauthenticated client' }, requestor: true, ...network }];
  const entity: fhir4.AuditEventEntity[] = [
    ...(record.resources ?? []).map((reference) => ({
      what: { reference },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
    })),
    ...(record.patients ?? []).map((reference) => ({
      what: { reference },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    })),
    ...(record.query !== undefined ? [{
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      ...(record.type ? { description: record.type } : {}),
      query: Buffer.from(record.query).toString('base64'),
    }] : []),
  ];
  return {
    resourceType: 'AuditEvent',
    id: String(record.seq),
    meta: { versionId: '1', lastUpdated: record.recorded },
    extension: [
      ...(record.requestId ? [{ url: REQUEST_ID_URL, valueString: record.requestId }] : []),
      { url: PREVIOUS_HASH_URL, valueString: record.previousHash },
    ],
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: record.interaction }],
    action: ACTION[record.interaction] ?? 'E',
    recorded: record.recorded,
    outcome: record.outcome,
    ...(record.outcomeDesc ? { outcomeDesc: record.outcomeDesc } : {}),
    agent,
    source: {
      observer: { display: 'Signpost' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    ...(entity.length ? { entity } : {}),
  };
}

/** The AuditEvent a stored record reads as: what the store serves for the AuditEvent type. */
export function renderStoredAuditRecord(json: string): fhir4.AuditEvent {
  return renderAuditEvent(JSON.parse(json) as AuditRecord);
}
