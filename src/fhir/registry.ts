/**
 * The one table of what this server serves: resource types, their search parameters and which
 * business identifiers are unique. Routing, search parsing, indexing and the CapabilityStatement are
 * all derived from it, so they cannot disagree. A search parameter added here is indexed only as
 * resources are written: a migration that names it in `reindex` (store/sql/migrations.ts) indexes what
 * stores already hold.
 */
export type SearchParamType = 'token' | 'reference' | 'date' | 'string';

export interface SearchParamDef {
  name: string;
  type: SearchParamType;
  /** Dotted element path below the resource (choice types listed as separate paths). */
  paths: string[];
  /** For reference parameters: the resource types the reference may point to. */
  targets?: string[];
  description: string;
}

export interface ResourceTypeDef {
  type: string;
  /** Server-written types (AuditEvent): clients may read but never write them. */
  readOnly?: boolean;
  /**
   * Identifier systems whose values are unique among resources of this type ('*' = every system):
   * enforced by a unique index, which is what makes conditional create race-free.
   */
  uniqueIdentifierSystems?: string[];
  params: SearchParamDef[];
}

const NHS_NUMBER = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS_CODE = 'https://fhir.nhs.uk/Id/ods-organization-code';

const token = (name: string, paths: string[], description: string): SearchParamDef => ({ name, type: 'token', paths, description });
const ref = (name: string, paths: string[], targets: string[], description: string): SearchParamDef => ({
  name, type: 'reference', paths, targets, description,
});
const date = (name: string, paths: string[], description: string): SearchParamDef => ({ name, type: 'date', paths, description });
const str = (name: string, paths: string[], description: string): SearchParamDef => ({ name, type: 'string', paths, description });

const identifier = token('identifier', ['identifier'], 'A business identifier (system|value)');

export const resourceTypes: readonly ResourceTypeDef[] = [
  { type: 'Patient', uniqueIdentifierSystems: [NHS_NUMBER], params: [identifier] },
  {
    type: 'Organization',
    uniqueIdentifierSystems: [ODS_CODE],
    params: [identifier, str('name', ['name', 'alias'], 'Name or alias, case- and accent-insensitive prefix')],
  },
  { type: 'Practitioner', params: [identifier] },
  {
    type: 'PractitionerRole',
    params: [
      identifier,
      ref('organization', ['organization'], ['Organization'], 'The organisation the role is at'),
      ref('practitioner', ['practitioner'], ['Practitioner'], 'The practitioner in the role'),
    ],
  },
  {
    type: 'ServiceRequest',
    uniqueIdentifierSystems: ['*'],
    params: [
      identifier,
      token('status', ['status'], 'draft | active | on-hold | revoked | completed | entered-in-error | unknown'),
      ref('patient', ['subject'], ['Patient'], 'The patient referred'),
      ref('requester', ['requester'], ['Organization', 'Practitioner', 'PractitionerRole'], 'Who asked for the service'),
      ref('performer', ['performer'], ['Organization', 'Practitioner', 'PractitionerRole'], 'Who is asked to act'),
    ],
  },
  {
    type: 'Task',
    params: [
      identifier,
      token('status', ['status'], 'The workflow status'),
      token('business-status', ['businessStatus'], 'Status in the business process'),
      ref('owner', ['owner'], ['Organization', 'Practitioner', 'PractitionerRole'], 'Who is responsible'),
      ref('focus', ['focus'], ['ServiceRequest', 'Task'], 'What the task acts on'),
      ref('based-on', ['basedOn'], ['ServiceRequest', 'Task'], 'What the task fulfils'),
      ref('patient', ['for'], ['Patient'], 'Whom the task is for'),
      ref('part-of', ['partOf'], ['Task'], 'The parent task'),
      date('authored-on', ['authoredOn'], 'When the task was created'),
    ],
  },
  {
    type: 'Consent',
    params: [
      token('status', ['status'], 'draft | proposed | active | rejected | inactive | entered-in-error'),
      ref('patient', ['patient'], ['Patient'], 'Whose consent'),
      date('period', ['provision.period'], 'When the consent applies (R4 Consent-period); the consent-expiry job finds ended ones with eb'),
    ],
  },
  {
    type: 'Questionnaire',
    params: [token('url', ['url'], 'Canonical URL'), token('status', ['status'], 'Publication status')],
  },
  {
    type: 'QuestionnaireResponse',
    params: [
      ref('subject', ['subject'], ['Patient'], 'Who the answers are about'),
      token('questionnaire', ['questionnaire'], 'The Questionnaire canonical answered'),
      ref('based-on', ['basedOn'], ['ServiceRequest'], 'The request the answers belong to'),
      token('status', ['status'], 'Completion status'),
    ],
  },
  {
    type: 'Observation',
    params: [
      ref('based-on', ['basedOn'], ['ServiceRequest'], 'The request the observation fulfils'),
      ref('derived-from', ['derivedFrom'], ['QuestionnaireResponse', 'Observation'], 'Source of the value'),
      token('code', ['code'], 'What was observed'),
      ref('patient', ['subject'], ['Patient'], 'The patient observed'),
    ],
  },
  {
    type: 'Communication',
    params: [
      ref('based-on', ['basedOn'], ['ServiceRequest'], 'The request the message is about'),
      ref('patient', ['subject'], ['Patient'], 'The patient the message is about'),
      ref('recipient', ['recipient'], ['Organization', 'Practitioner', 'PractitionerRole'], 'Who receives it'),
    ],
  },
  {
    type: 'Subscription',
    params: [
      token('status', ['status'], 'requested, active, error or off'),
      token('type', ['channel.type'], 'The channel: rest-hook'),
    ],
  },
  { type: 'Provenance', readOnly: true, params: [ref('target', ['target'], [], 'The resource version recorded')] },
  {
    type: 'AuditEvent',
    readOnly: true,
    params: [
      date('date', ['recorded'], 'When the event was recorded'),
      ref('patient', ['entity.what'], ['Patient'], 'A patient the event concerns'),
      ref('agent', ['agent.who'], ['Organization', 'Practitioner', 'PractitionerRole', 'Device'], 'Who took part'),
      ref('entity', ['entity.what'], [], 'A resource the event concerns'),
      token('type', ['type'], 'Type of event'),
      token('subtype', ['subtype'], 'Subtype: the interaction'),
      token('outcome', ['outcome'], 'Whether the event succeeded'),
    ],
  },
  { type: 'Measure', params: [token('url', ['url'], 'Canonical URL'), identifier] },
  {
    type: 'MeasureReport',
    params: [token('measure', ['measure'], 'The Measure reported on'), date('period', ['period'], 'The period covered')],
  },
];

const byType = new Map(resourceTypes.map((d) => [d.type, d]));

export function resourceTypeDef(type: string): ResourceTypeDef | undefined {
  return byType.get(type);
}

export function searchParam(type: string, name: string): SearchParamDef | undefined {
  return byType.get(type)?.params.find((p) => p.name === name);
}

/** Parameters every type supports, handled by the search engine itself rather than by the index. */
export const commonSearchParams = ['_id', '_lastUpdated'] as const;
/** Result parameters that shape the response rather than filter it. */
export const resultParams = ['_count', '_sort', '_include', '_revinclude', '_total', '_summary', '_cursor', '_format'] as const;
