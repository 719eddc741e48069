/**
 * Who may do what: the access policy of DESIGN.md "Roles", one row per case, over the production
 * wiring (real tokens, policy, audit) and the two referral worlds of test/fixtures/referral-world.ts:
 *
 *   own   = the first world  (A81001 → SP001 → V001): the referrer, link worker and community asset of
 *           the table belong to it, and the commissioner (QWE) commissions A81001;
 *   other = the second world (B82002 → SP002 → V002);
 *   —     = not about a world: a directory resource (the Questionnaire), a report no one has stored (the
 *           MeasureReport id is unknown), or a create whose body references nothing of a world.
 *
 * Interactions: read `GET T/id`; search `GET T?_id=id` (an instance out of scope is left out: 200 with
 * 0 matches, never an error); create `POST T` with a body that references the own world; update
 * `PUT T/id` of the current version with one small change (If-Match given). The instance is the world's
 * resource of that type; for the community asset the Task is the hand-on Task its organisation owns.
 *
 * Expected: 200/201 allowed; 404 an instance outside the caller's organisation scope (a read never
 * tells it exists); 403 the role (or token) may not do that interaction on that type at all; 405
 * writes of the server-only AuditEvent and Provenance. Rows marked # are where the code disagrees with
 * DESIGN.md at the time of writing; the table keeps DESIGN.md's answer.
 *
 * Every refused write is checked against the store, read back by the auditor: nothing was written.
 */
import { randomUUID } from 'node:crypto';
import request, { type Response } from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ClientRole as Role } from '../../src/config/deployment.js';
import { expectOutcome } from '../fixtures/api.js';
import { nhsNumber } from '../fixtures/gateway.js';
import {
  arrangeReferralWorlds, worldCommunication, worldConsent, worldObservation, worldPatient, worldQuestionnaireResponse,
  worldRefs, worldServiceRequest, worldTask, type ReferralWorlds, type World,
} from '../fixtures/referral-world.js';
import { startSecureTestGateway, type AuthedClient, type ClientName, type SecureTestGateway } from '../fixtures/secure-gateway.js';

const TABLE = `
role             type                   interaction  world  expect
referrer         Patient                read         own    200
referrer         Patient                read         other  404
referrer         Patient                search       own    200 1 match
referrer         Patient                search       other  200 0 matches
referrer         Patient                create       —      201
referrer         Patient                update       own    200               # beyond DESIGN.md on purpose: correcting contact details
referrer         Patient                update       other  404               # beyond DESIGN.md on purpose; never another practice's
referrer         Consent                read         own    200
referrer         Consent                read         other  404
referrer         Consent                search       own    200 1 match
referrer         Consent                search       other  200 0 matches
referrer         Consent                create       own    201
referrer         Consent                update       own    200               # beyond DESIGN.md on purpose: recording a withdrawn consent
referrer         Consent                update       other  404               # beyond DESIGN.md on purpose; never another practice's
referrer         ServiceRequest         read         own    200
referrer         ServiceRequest         read         other  404
referrer         ServiceRequest         search       own    200 1 match
referrer         ServiceRequest         search       other  200 0 matches
referrer         ServiceRequest         create       own    201
referrer         ServiceRequest         update       own    200
referrer         ServiceRequest         update       other  404
referrer         Task                   read         own    200
referrer         Task                   read         other  404
referrer         Task                   search       own    200 1 match
referrer         Task                   search       other  200 0 matches
referrer         Task                   create       own    403
referrer         Task                   update       own    403
referrer         Task                   update       other  404
referrer         QuestionnaireResponse  read         own    200
referrer         QuestionnaireResponse  read         other  404
referrer         QuestionnaireResponse  search       own    200 1 match
referrer         QuestionnaireResponse  search       other  200 0 matches
referrer         QuestionnaireResponse  create       own    403
referrer         QuestionnaireResponse  update       own    403
referrer         QuestionnaireResponse  update       other  403
referrer         Communication          read         own    200
referrer         Communication          read         other  404
referrer         Communication          search       own    200 1 match
referrer         Communication          search       other  200 0 matches
referrer         Communication          create       own    403
referrer         Communication          update       own    403
referrer         Communication          update       other  403
referrer         Provenance             read         own    200
referrer         Provenance             read         other  404
referrer         Provenance             search       own    200 1 match
referrer         Provenance             search       other  200 0 matches
referrer         Provenance             create       —      405
referrer         Provenance             update       own    405
referrer         Provenance             update       other  405
referrer         AuditEvent             read         own    403
referrer         AuditEvent             read         other  403
referrer         AuditEvent             search       own    403
referrer         AuditEvent             search       other  403
referrer         AuditEvent             create       —      405
referrer         AuditEvent             update       own    405
referrer         AuditEvent             update       other  405
referrer         Organization           read         own    200
referrer         Organization           read         other  200
referrer         Organization           search       own    200 1 match
referrer         Organization           search       other  200 1 match
referrer         Organization           create       —      403
referrer         Organization           update       own    403
referrer         Organization           update       other  403
referrer         Questionnaire          read         —      200
referrer         Questionnaire          search       —      200 1 match
referrer         Questionnaire          create       —      403
referrer         Questionnaire          update       —      403
referrer         Observation            read         own    200
referrer         Observation            read         other  404
referrer         Observation            search       own    200 1 match
referrer         Observation            search       other  200 0 matches
referrer         Observation            create       own    403
referrer         Observation            update       own    403
referrer         Observation            update       other  403
referrer         MeasureReport          read         —      403
referrer         MeasureReport          search       —      403
referrer         MeasureReport          create       —      403
referrer         MeasureReport          update       —      403

link-worker      Patient                read         own    200
link-worker      Patient                read         other  404
link-worker      Patient                search       own    200 1 match
link-worker      Patient                search       other  200 0 matches
link-worker      Patient                create       —      403
link-worker      Patient                update       own    403
link-worker      Patient                update       other  403
link-worker      Consent                read         own    200
link-worker      Consent                read         other  404
link-worker      Consent                search       own    200 1 match
link-worker      Consent                search       other  200 0 matches
link-worker      Consent                create       own    403
link-worker      Consent                update       own    403
link-worker      Consent                update       other  403
link-worker      ServiceRequest         read         own    200
link-worker      ServiceRequest         read         other  404
link-worker      ServiceRequest         search       own    200 1 match
link-worker      ServiceRequest         search       other  200 0 matches
link-worker      ServiceRequest         create       own    403
link-worker      ServiceRequest         update       own    403
link-worker      ServiceRequest         update       other  403
link-worker      Task                   read         own    200
link-worker      Task                   read         other  404
link-worker      Task                   search       own    200 1 match
link-worker      Task                   search       other  200 0 matches
link-worker      Task                   create       own    201
link-worker      Task                   update       own    200
link-worker      Task                   update       other  404
link-worker      QuestionnaireResponse  read         own    200
link-worker      QuestionnaireResponse  read         other  404
link-worker      QuestionnaireResponse  search       own    200 1 match
link-worker      QuestionnaireResponse  search       other  200 0 matches
link-worker      QuestionnaireResponse  create       own    201
link-worker      QuestionnaireResponse  update       own    422               # allowed, but a scored (completed) response is final: outcomes/outcome-rules.ts
link-worker      QuestionnaireResponse  update       other  404
link-worker      Communication          read         own    200
link-worker      Communication          read         other  404
link-worker      Communication          search       own    200 1 match
link-worker      Communication          search       other  200 0 matches
link-worker      Communication          create       own    201
link-worker      Communication          update       own    403
link-worker      Communication          update       other  403
link-worker      Provenance             read         own    200
link-worker      Provenance             read         other  404
link-worker      Provenance             search       own    200 1 match
link-worker      Provenance             search       other  200 0 matches
link-worker      Provenance             create       —      405
link-worker      Provenance             update       own    405
link-worker      Provenance             update       other  405
link-worker      AuditEvent             read         own    403
link-worker      AuditEvent             read         other  403
link-worker      AuditEvent             search       own    403
link-worker      AuditEvent             search       other  403
link-worker      AuditEvent             create       —      405
link-worker      AuditEvent             update       own    405
link-worker      AuditEvent             update       other  405
link-worker      Organization           read         own    200
link-worker      Organization           read         other  200
link-worker      Organization           search       own    200 1 match
link-worker      Organization           search       other  200 1 match
link-worker      Organization           create       —      403
link-worker      Organization           update       own    403
link-worker      Organization           update       other  403
link-worker      Questionnaire          read         —      200
link-worker      Questionnaire          search       —      200 1 match
link-worker      Questionnaire          create       —      403
link-worker      Questionnaire          update       —      403
link-worker      Observation            read         own    200
link-worker      Observation            read         other  404
link-worker      Observation            search       own    200 1 match
link-worker      Observation            search       other  200 0 matches
link-worker      Observation            create       own    403
link-worker      Observation            update       own    403
link-worker      Observation            update       other  403
link-worker      MeasureReport          read         —      403
link-worker      MeasureReport          search       —      403
link-worker      MeasureReport          create       —      403
link-worker      MeasureReport          update       —      403

community-asset  Patient                read         own    200
community-asset  Patient                read         other  404
community-asset  Patient                search       own    200 1 match
community-asset  Patient                search       other  200 0 matches
community-asset  Patient                create       —      403
community-asset  Patient                update       own    403
community-asset  Patient                update       other  403
community-asset  Consent                read         own    403
community-asset  Consent                read         other  403
community-asset  Consent                search       own    403
community-asset  Consent                search       other  403
community-asset  Consent                create       own    403
community-asset  Consent                update       own    403
community-asset  Consent                update       other  403
community-asset  ServiceRequest         read         own    403
community-asset  ServiceRequest         read         other  403
community-asset  ServiceRequest         search       own    403
community-asset  ServiceRequest         search       other  403
community-asset  ServiceRequest         create       own    403
community-asset  ServiceRequest         update       own    403
community-asset  ServiceRequest         update       other  403
community-asset  Task                   read         own    200
community-asset  Task                   read         other  404
community-asset  Task                   search       own    200 1 match
community-asset  Task                   search       other  200 0 matches
community-asset  Task                   create       own    403
community-asset  Task                   update       own    200
community-asset  Task                   update       other  404
community-asset  QuestionnaireResponse  read         own    403
community-asset  QuestionnaireResponse  read         other  403
community-asset  QuestionnaireResponse  search       own    403
community-asset  QuestionnaireResponse  search       other  403
community-asset  QuestionnaireResponse  create       own    403
community-asset  QuestionnaireResponse  update       own    403
community-asset  QuestionnaireResponse  update       other  403
community-asset  Communication          read         own    403
community-asset  Communication          read         other  403
community-asset  Communication          search       own    403
community-asset  Communication          search       other  403
community-asset  Communication          create       own    403
community-asset  Communication          update       own    403
community-asset  Communication          update       other  403
community-asset  Provenance             read         own    403
community-asset  Provenance             read         other  403
community-asset  Provenance             search       own    403
community-asset  Provenance             search       other  403
community-asset  Provenance             create       —      405
community-asset  Provenance             update       own    405
community-asset  Provenance             update       other  405
community-asset  AuditEvent             read         own    403
community-asset  AuditEvent             read         other  403
community-asset  AuditEvent             search       own    403
community-asset  AuditEvent             search       other  403
community-asset  AuditEvent             create       —      405
community-asset  AuditEvent             update       own    405
community-asset  AuditEvent             update       other  405
community-asset  Organization           read         own    200
community-asset  Organization           read         other  200
community-asset  Organization           search       own    200 1 match
community-asset  Organization           search       other  200 1 match
community-asset  Organization           create       —      403
community-asset  Organization           update       own    403
community-asset  Organization           update       other  403
community-asset  Questionnaire          read         —      200
community-asset  Questionnaire          search       —      200 1 match
community-asset  Questionnaire          create       —      403
community-asset  Questionnaire          update       —      403
community-asset  Observation            read         own    403
community-asset  Observation            read         other  403
community-asset  Observation            search       own    403
community-asset  Observation            search       other  403
community-asset  Observation            create       own    403
community-asset  Observation            update       own    403
community-asset  Observation            update       other  403
community-asset  MeasureReport          read         —      403
community-asset  MeasureReport          search       —      403
community-asset  MeasureReport          create       —      403
community-asset  MeasureReport          update       —      403

auditor          Patient                read         own    200
auditor          Patient                read         other  200
auditor          Patient                search       own    200 1 match
auditor          Patient                search       other  200 1 match
auditor          Patient                create       —      403
auditor          Patient                update       own    403
auditor          Patient                update       other  403
auditor          Consent                read         own    200
auditor          Consent                read         other  200
auditor          Consent                search       own    200 1 match
auditor          Consent                search       other  200 1 match
auditor          Consent                create       own    403
auditor          Consent                update       own    403
auditor          Consent                update       other  403
auditor          ServiceRequest         read         own    200
auditor          ServiceRequest         read         other  200
auditor          ServiceRequest         search       own    200 1 match
auditor          ServiceRequest         search       other  200 1 match
auditor          ServiceRequest         create       own    403
auditor          ServiceRequest         update       own    403
auditor          ServiceRequest         update       other  403
auditor          Task                   read         own    200
auditor          Task                   read         other  200
auditor          Task                   search       own    200 1 match
auditor          Task                   search       other  200 1 match
auditor          Task                   create       own    403
auditor          Task                   update       own    403
auditor          Task                   update       other  403
auditor          QuestionnaireResponse  read         own    200
auditor          QuestionnaireResponse  read         other  200
auditor          QuestionnaireResponse  search       own    200 1 match
auditor          QuestionnaireResponse  search       other  200 1 match
auditor          QuestionnaireResponse  create       own    403
auditor          QuestionnaireResponse  update       own    403
auditor          QuestionnaireResponse  update       other  403
auditor          Communication          read         own    200
auditor          Communication          read         other  200
auditor          Communication          search       own    200 1 match
auditor          Communication          search       other  200 1 match
auditor          Communication          create       own    403
auditor          Communication          update       own    403
auditor          Communication          update       other  403
auditor          Provenance             read         own    200
auditor          Provenance             read         other  200
auditor          Provenance             search       own    200 1 match
auditor          Provenance             search       other  200 1 match
auditor          Provenance             create       —      405
auditor          Provenance             update       own    405
auditor          Provenance             update       other  405
auditor          AuditEvent             read         own    200
auditor          AuditEvent             read         other  200
auditor          AuditEvent             search       own    200 1 match
auditor          AuditEvent             search       other  200 1 match
auditor          AuditEvent             create       —      405
auditor          AuditEvent             update       own    405
auditor          AuditEvent             update       other  405
auditor          Organization           read         own    200
auditor          Organization           read         other  200
auditor          Organization           search       own    200 1 match
auditor          Organization           search       other  200 1 match
auditor          Organization           create       —      403
auditor          Organization           update       own    403
auditor          Organization           update       other  403
auditor          Questionnaire          read         —      200
auditor          Questionnaire          search       —      200 1 match
auditor          Questionnaire          create       —      403
auditor          Questionnaire          update       —      403
auditor          Observation            read         own    200
auditor          Observation            read         other  200
auditor          Observation            search       own    200 1 match
auditor          Observation            search       other  200 1 match
auditor          Observation            create       own    403
auditor          Observation            update       own    403
auditor          Observation            update       other  403
auditor          MeasureReport          read         —      404
auditor          MeasureReport          search       —      200 0 matches
auditor          MeasureReport          create       —      403
auditor          MeasureReport          update       —      403

commissioner     Patient                read         own    403
commissioner     Patient                read         other  403
commissioner     Patient                search       own    403
commissioner     Patient                search       other  403
commissioner     Patient                create       —      403
commissioner     Patient                update       own    403
commissioner     Patient                update       other  403
commissioner     Consent                read         own    403
commissioner     Consent                read         other  403
commissioner     Consent                search       own    403
commissioner     Consent                search       other  403
commissioner     Consent                create       own    403
commissioner     Consent                update       own    403
commissioner     Consent                update       other  403
commissioner     ServiceRequest         read         own    403
commissioner     ServiceRequest         read         other  403
commissioner     ServiceRequest         search       own    403
commissioner     ServiceRequest         search       other  403
commissioner     ServiceRequest         create       own    403
commissioner     ServiceRequest         update       own    403
commissioner     ServiceRequest         update       other  403
commissioner     Task                   read         own    403
commissioner     Task                   read         other  403
commissioner     Task                   search       own    403
commissioner     Task                   search       other  403
commissioner     Task                   create       own    403
commissioner     Task                   update       own    403
commissioner     Task                   update       other  403
commissioner     QuestionnaireResponse  read         own    403
commissioner     QuestionnaireResponse  read         other  403
commissioner     QuestionnaireResponse  search       own    403
commissioner     QuestionnaireResponse  search       other  403
commissioner     QuestionnaireResponse  create       own    403
commissioner     QuestionnaireResponse  update       own    403
commissioner     QuestionnaireResponse  update       other  403
commissioner     Communication          read         own    403
commissioner     Communication          read         other  403
commissioner     Communication          search       own    403
commissioner     Communication          search       other  403
commissioner     Communication          create       own    403
commissioner     Communication          update       own    403
commissioner     Communication          update       other  403
commissioner     Provenance             read         own    403
commissioner     Provenance             read         other  403
commissioner     Provenance             search       own    403
commissioner     Provenance             search       other  403
commissioner     Provenance             create       —      405
commissioner     Provenance             update       own    405
commissioner     Provenance             update       other  405
commissioner     AuditEvent             read         own    403
commissioner     AuditEvent             read         other  403
commissioner     AuditEvent             search       own    403
commissioner     AuditEvent             search       other  403
commissioner     AuditEvent             create       —      405
commissioner     AuditEvent             update       own    405
commissioner     AuditEvent             update       other  405
commissioner     Organization           read         own    200
commissioner     Organization           read         other  200
commissioner     Organization           search       own    200 1 match
commissioner     Organization           search       other  200 1 match
commissioner     Organization           create       —      403
commissioner     Organization           update       own    403
commissioner     Organization           update       other  403
commissioner     Questionnaire          read         —      200
commissioner     Questionnaire          search       —      200 1 match
commissioner     Questionnaire          create       —      403
commissioner     Questionnaire          update       —      403
commissioner     Observation            read         own    403
commissioner     Observation            read         other  403
commissioner     Observation            search       own    403
commissioner     Observation            search       other  403
commissioner     Observation            create       own    403
commissioner     Observation            update       own    403
commissioner     Observation            update       other  403
commissioner     MeasureReport          read         —      404
commissioner     MeasureReport          search       —      200 0 matches
commissioner     MeasureReport          create       —      403
commissioner     MeasureReport          update       —      403
`;

type Interaction = 'read' | 'search' | 'create' | 'update';
type WorldName = 'own' | 'other' | '—';

interface Case {
  role: Role;
  type: string;
  interaction: Interaction;
  world: WorldName;
  status: number;
  /** For a search answered 200: how many matches. */
  matches?: number;
  name: string;
}

/** Reads the table above: whitespace-separated columns, `# …` a comment, blank lines ignored. */
function parseTable(text: string): Case[] {
  const [, ...lines] = text.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean);
  return lines.map((line) => {
    const [role, type, interaction, world, status, matches] = line.split(/\s+/) as [Role, string, Interaction, WorldName, string, string?];
    const c: Case = { role, type, interaction, world, status: Number(status), name: '' };
    if (matches !== undefined) c.matches = Number(matches);
    const where = world === '—' ? '' : ` (${world})`;
    const outcome = c.matches === undefined ? status : `${status}, ${matches} match${c.matches === 1 ? '' : 'es'}`;
    c.name = `${role} ${interaction} ${type}${where} → ${outcome}`;
    return c;
  });
}

const CASES = parseTable(TABLE);

const CLIENT: Record<Role, ClientName> = {
  referrer: 'referrer', 'link-worker': 'linkWorker', 'community-asset': 'communityAsset', auditor: 'auditor', commissioner: 'commissioner',
};
const UNKNOWN_REPORT = 'no-such-report';
const TOUCHED = 'https://signpost.test/StructureDefinition/touched';

let gw: SecureTestGateway;
let worlds: ReferralWorlds;
let auditor: AuthedClient;
const as = {} as Record<Role, AuthedClient>;

beforeAll(async () => {
  gw = await startSecureTestGateway();
  worlds = await arrangeReferralWorlds(gw);
  for (const role of Object.keys(CLIENT) as Role[]) as[role] = await gw.as(CLIENT[role]);
  auditor = as.auditor;
});
afterAll(async () => { await gw.close(); });

/** The instance a case is about. */
function instanceId(c: Pick<Case, 'role' | 'type' | 'world'>): string {
  const w = c.world === 'other' ? worlds.second : worlds.first;
  switch (c.type) {
    case 'Patient': return w.patient;
    case 'Consent': return w.consent;
    case 'ServiceRequest': return w.serviceRequest;
    case 'Task': return c.role === 'community-asset' ? w.childTask : w.task;
    case 'QuestionnaireResponse': return w.questionnaireResponse;
    case 'Communication': return w.communication;
    case 'Observation': return w.observation;
    case 'Provenance': return w.provenance;
    case 'AuditEvent': return w.auditEvent;
    case 'Organization': return w.practice;
    case 'Questionnaire': return worlds.questionnaire;
    case 'MeasureReport': return UNKNOWN_REPORT;
    default: throw new Error(`no instance of ${c.type} in the worlds`);
  }
}

let nhsSeed = 6_200_000;

/** A valid new resource of `type` about the own world, carrying `mark` where a search can find it. */
function createBody(type: string, mark: string): fhir4.Resource {
  const w: World = worlds.first;
  const refs = { patient: w.patient, consent: w.consent, serviceRequest: w.serviceRequest, practice: w.practice, service: w.service };
  switch (type) {
    case 'Patient': return worldPatient(nhsNumber((nhsSeed += 13)), 'Created', w.practice);
    // A statement of its own: the same Consent again would be answered with the recorded one (200).
    case 'Consent': return { ...worldConsent(w.patient, w.practice), dateTime: `2025-02-${String(1 + (nhsSeed++ % 27)).padStart(2, '0')}T09:00:00Z` } as fhir4.Consent;
    case 'ServiceRequest': return worldServiceRequest(refs);
    // A link worker creates only hand-on Tasks: the referral's own Task is the gateway's.
    case 'Task': return worldTask({ serviceRequest: w.serviceRequest, patient: w.patient, requester: w.service, owner: w.asset, partOf: w.task });
    case 'QuestionnaireResponse': return worldQuestionnaireResponse(refs);
    case 'Communication': return worldCommunication(refs);
    case 'Observation': return worldObservation({ ...refs, questionnaireResponse: w.questionnaireResponse });
    case 'Provenance': return {
      resourceType: 'Provenance', target: [{ reference: `Patient/${w.patient}` }], recorded: '2025-02-01T00:00:00Z',
      agent: [{ who: { display: mark } }],
    } as fhir4.Provenance;
    case 'AuditEvent': return {
      resourceType: 'AuditEvent', type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      recorded: '2025-02-01T00:00:00Z', outcome: '0', agent: [{ requestor: true, who: { display: mark } }],
      source: { observer: { display: mark } }, entity: [{ what: { reference: `Patient/${mark}` } }],
    } as fhir4.AuditEvent;
    case 'Organization': return { resourceType: 'Organization', identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'ZZ999' }], name: mark } as fhir4.Organization;
    case 'Questionnaire': return { resourceType: 'Questionnaire', status: 'active', url: `https://signpost.test/Questionnaire/${mark}` } as fhir4.Questionnaire;
    case 'MeasureReport': return reportBody(undefined, mark);
    default: throw new Error(`no create body for ${type}`);
  }
}

function reportBody(id: string | undefined, mark: string): fhir4.MeasureReport {
  return {
    resourceType: 'MeasureReport', ...(id ? { id } : {}), status: 'complete', type: 'summary',
    measure: 'https://signpost.health/fhir/Measure/social-prescribing', period: { start: '2025-01-01', end: '2025-03-31' },
    extension: [{ url: TOUCHED, valueString: mark }],
  };
}

/** The current version with one small change an owner may make: a note where the type has one, else an extension. */
function touched(current: fhir4.Resource & Record<string, unknown>, mark: string): fhir4.Resource {
  const { meta: _meta, ...rest } = current;
  if (['Task', 'ServiceRequest', 'Communication', 'Observation'].includes(current.resourceType)) {
    return { ...rest, note: [...((rest.note as fhir4.Annotation[] | undefined) ?? []), { text: mark }] } as fhir4.Resource;
  }
  return { ...rest, extension: [...((rest.extension as fhir4.Extension[] | undefined) ?? []), { url: TOUCHED, valueString: mark }] } as fhir4.Resource;
}

const REFUSAL_CODE: Record<number, string> = { 403: 'forbidden', 404: 'not-found', 405: 'not-supported', 422: 'business-rule' };

function expectRefusal(res: Response, status: number): void {
  expectOutcome(res, { status, code: REFUSAL_CODE[status] ?? '?' });
}

/** How many resources of `type` are stored, as the auditor counts them (AuditEvents: those about the mark). */
async function storedCount(type: string, mark: string): Promise<number> {
  const query = type === 'AuditEvent' ? `AuditEvent?entity=Patient/${mark}&_summary=count` : `${type}?_summary=count`;
  const res = await auditor.get(`/fhir/${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.total as number;
}

function matchIds(bundle: fhir4.Bundle): string[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode !== 'include').map((e) => e.resource?.id ?? '');
}

async function runCase(c: Case): Promise<void> {
  const api = as[c.role];
  const what = (res: Response) => `${c.name}: got ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`;
  switch (c.interaction) {
    case 'read': {
      const id = instanceId(c);
      const res = await api.get(`/fhir/${c.type}/${id}`);
      expect(res.status, what(res)).toBe(c.status);
      if (c.status === 200) expect([res.body.resourceType, res.body.id]).toEqual([c.type, id]);
      else expectRefusal(res, c.status);
      return;
    }
    case 'search': {
      const id = instanceId(c);
      const res = await api.get(`/fhir/${c.type}?_id=${id}`);
      expect(res.status, what(res)).toBe(c.status);
      if (c.status !== 200) return expectRefusal(res, c.status);
      expect(res.body.resourceType).toBe('Bundle');
      expect(res.body.type).toBe('searchset');
      expect(matchIds(res.body), what(res)).toEqual(c.matches ? [id] : []);
      expect(res.body.entry ?? [], 'nothing else is returned').toHaveLength(c.matches ?? 0);
      return;
    }
    case 'create': {
      const mark = `mark-${randomUUID()}`;
      const before = await storedCount(c.type, mark);
      const res = await api.post(`/fhir/${c.type}`, createBody(c.type, mark));
      expect(res.status, what(res)).toBe(c.status);
      if (c.status === 201) {
        expect((await auditor.get(`/fhir/${c.type}/${res.body.id}`)).status, 'the new resource is stored').toBe(200);
      } else {
        expectRefusal(res, c.status);
        expect(await storedCount(c.type, mark), 'nothing was stored').toBe(before);
      }
      return;
    }
    case 'update': {
      const id = instanceId(c);
      const mark = `mark-${randomUUID()}`;
      const before = await auditor.get(`/fhir/${c.type}/${id}`);
      const exists = before.status === 200;
      const body = exists ? touched(before.body, mark) : reportBody(id, mark);
      const res = await api.put(`/fhir/${c.type}/${id}`, body, exists ? `W/"${before.body.meta.versionId}"` : undefined);
      expect(res.status, what(res)).toBe(c.status);
      const after = await auditor.get(`/fhir/${c.type}/${id}`);
      if (c.status === 200) {
        expect(after.body.meta.versionId).toBe(String(Number(before.body.meta.versionId) + 1));
        expect(JSON.stringify(after.body)).toContain(mark);
      } else {
        expectRefusal(res, c.status);
        expect(after.status, 'nothing was stored').toBe(before.status);
        if (exists) expect(after.body, 'nothing was stored').toEqual(before.body);
      }
      return;
    }
  }
}

describe('role × type × interaction × world (DESIGN.md "Roles")', () => {
  it('covers every role, type and interaction', () => {
    const combos = new Set(CASES.map((c) => `${c.role}|${c.type}|${c.interaction}`));
    expect(combos.size).toBe(5 * 12 * 4);
    expect(CASES.length).toBe(new Set(CASES.map((c) => c.name)).size);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => runCase(c));
});

/** The Tasks the first world's community asset owns, as the auditor finds them: its hand-on and any the table created. */
async function assetTasks(): Promise<string[]> {
  const res = await auditor.get(`/fhir/Task?owner=Organization/${worlds.first.asset}&_count=100`);
  const refs = (res.body as fhir4.Bundle).entry?.map((e) => `Task/${e.resource?.id}`) ?? [];
  expect(refs).toContain(`Task/${worlds.first.childTask}`);
  return refs;
}

const entriesOf = (bundle: fhir4.Bundle) => (bundle.entry ?? []).map((e) => ({
  ref: `${e.resource?.resourceType}/${e.resource?.id}`, mode: e.search?.mode, resource: e.resource as fhir4.Resource,
}));

describe('searches leave out what a read would refuse: _include, _revinclude, history, counts', () => {
  it('the link worker\'s Task?_include=Task:patient&_revinclude=Provenance:target shows only its own world', async () => {
    const { first, second } = worlds;
    const res = await as['link-worker'].get('/fhir/Task?_include=Task:patient&_revinclude=Provenance:target&_count=200');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const got = entriesOf(res.body);
    const refs = got.map((e) => e.ref);
    expect(refs).toEqual(expect.arrayContaining([`Task/${first.task}`, `Task/${first.childTask}`, `Patient/${first.patient}`]));
    expect(got.some((e) => e.resource.resourceType === 'Provenance'
      && (e.resource as fhir4.Provenance).target.some((t) => t.reference?.startsWith(`Task/${first.task}/`)))).toBe(true);
    expect(refs.filter((r) => worldRefs(second).includes(r)), 'nothing of the other world').toEqual([]);
    for (const e of got.filter((x) => x.resource.resourceType === 'Task')) {
      expect(['Organization/SP001', 'Organization/V001']).toContain((e.resource as fhir4.Task).owner?.reference);
    }
    for (const e of got.filter((x) => x.resource.resourceType === 'Patient')) expect(e.ref).toBe(`Patient/${first.patient}`);
  });

  it('the other practice\'s ServiceRequest?_revinclude=Task:focus never includes the first world\'s Tasks', async () => {
    const { first, second } = worlds;
    const res = await gw.as('otherReferrer').then((api) => api.get('/fhir/ServiceRequest?_revinclude=Task:focus&_count=200'));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const refs = entriesOf(res.body).map((e) => e.ref);
    expect(refs).toEqual(expect.arrayContaining([`ServiceRequest/${second.serviceRequest}`, `Task/${second.task}`]));
    expect(refs).not.toContain(`ServiceRequest/${first.serviceRequest}`);
    expect(refs).not.toContain(`Task/${first.task}`);
    expect(refs).not.toContain(`Task/${first.childTask}`);
  });

  it('the community asset\'s Task?_include=Task:focus returns its Tasks and no ServiceRequest (its role has no SR rights)', async () => {
    const { second } = worlds;
    const res = await as['community-asset'].get('/fhir/Task?_include=Task:focus');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const got = entriesOf(res.body);
    expect(got.filter((e) => e.mode === 'match').map((e) => e.ref)).toEqual(await assetTasks());
    expect(got.filter((e) => e.resource.resourceType === 'ServiceRequest')).toEqual([]);
    expect(got.map((e) => e.ref)).not.toContain(`Task/${second.childTask}`);
  });

  it('the community asset\'s Task?_revinclude=Provenance:target returns its Tasks and no Provenance (its role has none)', async () => {
    const res = await as['community-asset'].get('/fhir/Task?_revinclude=Provenance:target');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(entriesOf(res.body).map((e) => e.ref)).toEqual(await assetTasks());
  });

  it('the community asset sees only Tasks its organisation owns: not the parent Task it was handed on from', async () => {
    const res = await as['community-asset'].get(`/fhir/Task/${worlds.first.task}`);
    expectRefusal(res, 404);
    const found = await as['community-asset'].get(`/fhir/Task?part-of=Task/${worlds.first.task}&_include=Task:part-of`);
    expect(found.status).toBe(200);
    expect(entriesOf(found.body).map((e) => e.ref)).toEqual(await assetTasks());
  });

  it('history of another world\'s Task is 404, its versions too; type history lists only the own world', async () => {
    const { first, second } = worlds;
    const lw = as['link-worker'];
    expectRefusal(await lw.get(`/fhir/Task/${second.task}/_history`), 404);
    expectRefusal(await lw.get(`/fhir/Task/${second.task}/_history/1`), 404);
    const own = await lw.get(`/fhir/Task/${first.task}/_history`);
    expect(own.status).toBe(200);
    expect(entriesOf(own.body).length).toBeGreaterThan(0);
    const all = await lw.get('/fhir/Task/_history?_count=1000');
    expect(all.status).toBe(200);
    const ids = new Set(entriesOf(all.body).map((e) => e.resource.id));
    expect(ids.has(first.task) && ids.has(first.childTask)).toBe(true);
    expect(ids.has(second.task) || ids.has(second.childTask)).toBe(false);
    for (const e of entriesOf(all.body)) expect(['Organization/SP001', 'Organization/V001']).toContain((e.resource as fhir4.Task).owner?.reference);
  });

  it('the other practice\'s Patient/_history lists its own Patient, never the first world\'s', async () => {
    const res = await gw.as('otherReferrer').then((api) => api.get('/fhir/Patient/_history?_count=1000'));
    expect(res.status).toBe(200);
    const ids = entriesOf(res.body).map((e) => e.resource.id);
    expect(ids).toContain(worlds.second.patient);
    expect(ids).not.toContain(worlds.first.patient);
  });

  it('counts and totals leave out-of-scope resources out too', async () => {
    const other = await gw.as('otherReferrer');
    const count = await other.get(`/fhir/ServiceRequest?_id=${worlds.first.serviceRequest}&_summary=count`);
    expect(count.status).toBe(200);
    expect(count.body.total).toBe(0);
    const total = await other.get('/fhir/Task?_total=accurate&_count=1000');
    expect(total.status).toBe(200);
    expect(total.body.total).toBe(matchIds(total.body).length);
    expect(matchIds(total.body)).not.toContain(worlds.first.task);
  });

  it('POST _search and batch GET entries answer as the REST reads do', async () => {
    const other = await gw.as('otherReferrer');
    const searched = await request(gw.app).post('/fhir/Patient/_search').type('form').set('Accept', 'application/fhir+json')
      .set('Authorization', `Bearer ${other.token}`).send({ _id: worlds.first.patient });
    expect(searched.status, JSON.stringify(searched.body)).toBe(200);
    expect(matchIds(searched.body)).toEqual([]);
    const batch = await other.post('/fhir', {
      resourceType: 'Bundle', type: 'batch',
      entry: [{ request: { method: 'GET', url: `Patient/${worlds.first.patient}` } }, { request: { method: 'GET', url: `Patient/${worlds.second.patient}` } }],
    });
    expect(batch.status, JSON.stringify(batch.body)).toBe(200);
    expect(batch.body.entry.map((e: fhir4.BundleEntry) => e.response?.status)).toEqual(['404', '200 OK']);
  });

  it('a 404 for an out-of-scope instance reads exactly like one for an id that does not exist', async () => {
    const other = await gw.as('otherReferrer');
    const hidden = await other.get(`/fhir/Patient/${worlds.first.patient}`);
    const unknownId = randomUUID();
    const missing = await other.get(`/fhir/Patient/${unknownId}`);
    expect(hidden.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(JSON.stringify(hidden.body).replaceAll(worlds.first.patient, 'ID')).toBe(JSON.stringify(missing.body).replaceAll(unknownId, 'ID'));
  });
});

describe('a token narrowed by scope', () => {
  it('referrer with scope=system/Patient.rs is refused ServiceRequest reads and searches its role allows', async () => {
    const narrowed = await gw.as('referrer', 'system/Patient.rs');
    expectRefusal(await narrowed.get(`/fhir/ServiceRequest/${worlds.first.serviceRequest}`), 403);
    expectRefusal(await narrowed.get(`/fhir/ServiceRequest?_id=${worlds.first.serviceRequest}`), 403);
    const read = await narrowed.get(`/fhir/Patient/${worlds.first.patient}`);
    expect(read.status).toBe(200);
    // The role's own token still reads the referral.
    expect((await as.referrer.get(`/fhir/ServiceRequest/${worlds.first.serviceRequest}`)).status).toBe(200);
  });

  it('referrer with scope=system/Patient.rs gets its Patient without the ServiceRequests a _revinclude asks for', async () => {
    const narrowed = await gw.as('referrer', 'system/Patient.rs');
    const res = await narrowed.get(`/fhir/Patient?_id=${worlds.first.patient}&_revinclude=ServiceRequest:patient`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(entriesOf(res.body).map((e) => e.ref)).toEqual([`Patient/${worlds.first.patient}`]);
  });

  it('referrer with scope=system/Patient.rs may not create a Patient, and nothing is stored', async () => {
    const narrowed = await gw.as('referrer', 'system/Patient.rs');
    const before = await storedCount('Patient', '');
    expectRefusal(await narrowed.post('/fhir/Patient', worldPatient(nhsNumber(6_900_001), 'Narrow', 'A81001')), 403);
    expect(await storedCount('Patient', '')).toBe(before);
  });
});

/**
 * A write names other resources; the policy shares and inherits access along those references. A
 * caller must not reach into another world by naming its ids: whatever the server answers (a refusal,
 * or a 201 with the reference left dangling), the caller sees no more afterwards, and the other world
 * receives nothing it did not make. Each runs on fresh worlds of its own, since a failure changes grants.
 */
describe('naming another world\'s resources in a write grants nothing', () => {
  let gw2: SecureTestGateway;
  let w2: ReferralWorlds;
  let auditor2: AuthedClient;
  beforeEach(async () => {
    gw2 = await startSecureTestGateway();
    w2 = await arrangeReferralWorlds(gw2, 5_300_000);
    auditor2 = await gw2.as('auditor');
  });
  afterEach(async () => { await gw2.close(); });

  async function expectHidden(api: AuthedClient, type: string, id: string): Promise<void> {
    expectRefusal(await api.get(`/fhir/${type}/${id}`), 404);
    const found = await api.get(`/fhir/${type}?_id=${id}`);
    expect(found.status).toBe(200);
    expect(matchIds(found.body), `${type}/${id} is left out of searches`).toEqual([]);
  }

  async function count(type: string): Promise<number> {
    return (await auditor2.get(`/fhir/${type}?_summary=count`)).body.total as number;
  }

  /** POSTs `body` as `api`; the answer may be a refusal or a 201, but a refusal stores nothing. */
  async function attempt(api: AuthedClient, body: fhir4.Resource): Promise<Response> {
    const before = await count(body.resourceType);
    const res = await api.post(`/fhir/${body.resourceType}`, body);
    expect([201, 404, 422], `${res.status} ${JSON.stringify(res.body).slice(0, 300)}`).toContain(res.status);
    if (res.status !== 201) expect(await count(body.resourceType), 'a refused write stores nothing').toBe(before);
    return res;
  }

  it('a referrer\'s ServiceRequest for the other practice\'s Patient and Consent does not open them to it', async () => {
    const { first, second } = w2;
    const gp = await gw2.as('referrer');
    await attempt(gp, worldServiceRequest({ patient: second.patient, consent: second.consent, practice: first.practice, service: first.service }));
    await expectHidden(gp, 'Patient', second.patient);
    await expectHidden(gp, 'Consent', second.consent);
    await expectHidden(await gw2.as('linkWorker'), 'Patient', second.patient);
  });

  it('naming an out-of-scope Patient is answered exactly as naming one that does not exist', async () => {
    const { first, second } = w2;
    const gp = await gw2.as('referrer');
    const unknownId = randomUUID();
    const hidden = await attempt(gp, worldServiceRequest({ patient: second.patient, consent: first.consent, practice: first.practice, service: first.service }));
    const missing = await attempt(gp, worldServiceRequest({ patient: unknownId, consent: first.consent, practice: first.practice, service: first.service }));
    expect(hidden.status).toBe(missing.status);
    if (hidden.status !== 201) {
      expect(JSON.stringify(hidden.body).replaceAll(second.patient, 'ID')).toBe(JSON.stringify(missing.body).replaceAll(unknownId, 'ID'));
    }
  });

  it('a referrer re-pointing its own referral at the other practice\'s Patient gains nothing', async () => {
    const { first, second } = w2;
    const gp = await gw2.as('referrer');
    const current = (await auditor2.get(`/fhir/ServiceRequest/${first.serviceRequest}`)).body as fhir4.ServiceRequest & { meta: fhir4.Meta };
    const { meta, ...rest } = current;
    const res = await gp.put(`/fhir/ServiceRequest/${first.serviceRequest}`, { ...rest, subject: { reference: `Patient/${second.patient}` } }, `W/"${meta.versionId}"`);
    expect([200, 404, 422], `${res.status} ${JSON.stringify(res.body).slice(0, 300)}`).toContain(res.status);
    if (res.status !== 200) expect((await auditor2.get(`/fhir/ServiceRequest/${first.serviceRequest}`)).body).toEqual(current);
    await expectHidden(gp, 'Patient', second.patient);
  });

  it('a link worker\'s Task focused on the other service\'s referral does not open the referral or its Patient', async () => {
    const { first, second } = w2;
    const lw = await gw2.as('linkWorker');
    await attempt(lw, worldTask({ serviceRequest: second.serviceRequest, patient: second.patient, requester: second.practice, owner: first.service }));
    await expectHidden(lw, 'ServiceRequest', second.serviceRequest);
    await expectHidden(lw, 'Patient', second.patient);
    await expectHidden(lw, 'Consent', second.consent);
  });

  it('a link worker\'s QuestionnaireResponse on the other service\'s referral is not attached to that referral', async () => {
    const { second } = w2;
    const lw = await gw2.as('linkWorker');
    await attempt(lw, worldQuestionnaireResponse({ serviceRequest: second.serviceRequest, patient: second.patient }));
    await expectHidden(lw, 'ServiceRequest', second.serviceRequest);
    // The other practice sees only the outcomes recorded by its own service.
    const outcomes = await (await gw2.as('otherReferrer')).get(`/fhir/QuestionnaireResponse?based-on=ServiceRequest/${second.serviceRequest}`);
    expect(outcomes.status).toBe(200);
    expect(matchIds(outcomes.body)).toEqual([second.questionnaireResponse]);
  });

  it('a link worker\'s hand-on Task partOf the other service\'s Task does not open that Task, nor land in that world', async () => {
    const { first, second } = w2;
    const lw = await gw2.as('linkWorker');
    await attempt(lw, worldTask({ serviceRequest: first.serviceRequest, patient: first.patient, requester: first.service, owner: first.asset, partOf: second.task }));
    await expectHidden(lw, 'Task', second.task);
    const tasks = await (await gw2.as('otherLinkWorker')).get(`/fhir/Task?part-of=Task/${second.task}`);
    expect(matchIds(tasks.body)).toEqual([second.childTask]);
  });
});
