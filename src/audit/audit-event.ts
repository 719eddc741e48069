import { referenceTarget, valuesAt } from '../fhir/index-values.js';
import { ODS_SYSTEM } from '../config/organizations.js';
import type { Caller, FhirResult, InteractionInfo } from '../fhir/interaction.js';
import { CLIENT_ID_SYSTEM } from './provenance.js';

export interface AuditOutcome {
  /** 0 success, 4 minor failure (refused: a 4xx), 8 serious failure (a 5xx) — AuditEvent.outcome codes. */
  outcome: '0' | '4' | '8';
  result?: FhirResult;
  description?: string;
}

// http://hl7.org/fhir/R4/valueset-audit-event-action.html
const ACTION: Record<string, 'C' | 'R' | 'U' | 'D' | 'E'> = {
  create: 'C', read: 'R', vread: 'R', 'history-instance': 'R', 'history-type': 'R', 'search-type': 'E',
  update: 'U', patch: 'U', delete: 'D', transaction: 'E', batch: 'E', capabilities: 'R',
};

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

/** An AuditEvent before the ledger gives it its place: its id, recorded time and previous hash. */
export type UnrecordedAuditEvent = Omit<fhir4.AuditEvent, 'id' | 'recorded'>;

/**
 * An AuditEvent after the IHE Basic Audit Log Patterns (BALP) RESTful shape: type rest, subtype the
 * interaction, the client and its organisation as agents with the requesting address, and as entities
 * each resource returned or changed, the patients they concern and the query.
 */
export function auditEventFor(caller: Caller | undefined, info: InteractionInfo, outcome: AuditOutcome, baseUrl: string): UnrecordedAuditEvent {
  const resources = resultResources(outcome.result).filter((r) => r.id && r.resourceType !== 'OperationOutcome');
  const patients = new Set<string>();
  for (const r of resources) {
    if (r.resourceType === 'Patient') patients.add(`Patient/${r.id}`);
    for (const path of PATIENT_PATHS) {
      for (const v of valuesAt(r, path)) {
        const ref = (v as { reference?: unknown }).reference;
        const t = typeof ref === 'string' ? referenceTarget(ref, baseUrl) : undefined;
        if (t?.startsWith('Patient/')) patients.add(t);
      }
    }
  }
  const entity: fhir4.AuditEventEntity[] = [
    ...resources.map((r) => ({
      what: { reference: versioned(r) },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '4', display: 'Domain Resource' },
    })),
    ...[...patients].map((p) => ({
      what: { reference: p },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' },
    })),
    ...(info.query ? [{
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '24', display: 'Query' },
      ...(info.type ? { description: info.type } : {}),
      query: Buffer.from(info.query).toString('base64'),
    }] : []),
  ];
  const agent: fhir4.AuditEventAgent[] = caller ? [
    {
      type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110153', display: 'Source Role ID' }] },
      who: { identifier: { system: CLIENT_ID_SYSTEM, value: caller.clientId }, display: `${caller.clientId} (${caller.role})` },
      requestor: true,
      ...(info.address ? { network: { address: info.address, type: '2' as const } } : {}),
    },
    {
      who: { reference: `Organization/${caller.organization}`, identifier: { system: ODS_SYSTEM, value: caller.organization } },
      requestor: false,
    },
  ] : [{
    who: { display: 'unauthenticated client' },
    requestor: true,
    ...(info.address ? { network: { address: info.address, type: '2' as const } } : {}),
  }];
  return {
    resourceType: 'AuditEvent',
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: info.subtype }],
    action: ACTION[info.subtype] ?? 'E',
    outcome: outcome.outcome,
    ...(outcome.description ? { outcomeDesc: outcome.description } : {}),
    agent,
    source: {
      observer: { display: 'Signpost' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    ...(entity.length ? { entity } : {}),
    ...(info.requestId ? { extension: [{ url: 'https://signpost.health/fhir/StructureDefinition/request-id', valueString: info.requestId }] } : {}),
  };
}
