/**
 * Valid starting points for mutation: resources and transaction/batch Bundles shaped like the
 * referrals the gateway takes, pointing at resources the fuzz file seeds under fixed ids.
 */
import fc from 'fast-check';
import { nhsNumber } from '../fixtures/gateway.js';
import { badId, badReference, badValue, type Json } from './values.js';

export const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
export const SEED = {
  patient: 'fuzz-patient-1',
  organization: 'fuzz-org-1',
  consent: 'fuzz-consent-1',
  serviceRequest: 'fuzz-sr-1',
  task: 'fuzz-task-1',
} as const;

const snomed = (code: string) => ({ coding: [{ system: 'http://snomed.info/sct', code }] });

export const KINDS = ['Patient', 'Organization', 'Consent', 'ServiceRequest', 'Task', 'Observation', 'QuestionnaireResponse', 'Communication'] as const;
export type Kind = (typeof KINDS)[number];

/** A valid resource of `kind`; `n` varies its business identifiers so creates do not always collide. */
export function validResource(kind: Kind, n: number): { [k: string]: Json } {
  const patient = { reference: `Patient/${SEED.patient}` };
  const sr = { reference: `ServiceRequest/${SEED.serviceRequest}` };
  const org = { reference: `Organization/${SEED.organization}` };
  switch (kind) {
    case 'Patient':
      return {
        resourceType: 'Patient', identifier: [{ system: NHS, value: nhsNumber(900_000 + n) }],
        name: [{ family: 'Fuzz', given: ['Ada'] }], gender: 'female', birthDate: '1970-01-01',
        telecom: [{ system: 'phone', value: '01632 960000' }], managingOrganization: org,
      };
    case 'Organization':
      return { resourceType: 'Organization', identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: `FZ${n}` }], name: 'Fuzz Surgery' };
    case 'Consent':
      return {
        resourceType: 'Consent', status: 'active', scope: snomed('59144-8'), category: [snomed('59284-0')], patient,
        dateTime: '2026-01-01T09:00:00Z', provision: { type: 'permit' },
      };
    case 'ServiceRequest':
      return {
        resourceType: 'ServiceRequest', status: 'active', intent: 'order',
        identifier: [{ system: 'https://fuzz.example/referral', value: `ref-${n}` }], code: snomed('871731000000106'),
        subject: patient, requester: org, performer: [org], reasonCode: [{ text: 'isolation' }],
        supportingInfo: [{ reference: `Consent/${SEED.consent}` }], authoredOn: '2026-01-02',
      };
    case 'Task':
      return {
        resourceType: 'Task', status: 'requested', intent: 'order',
        code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
        focus: sr, basedOn: [sr], for: patient, owner: org, requester: org, authoredOn: '2026-01-02T10:00:00Z',
        businessStatus: { text: 'new' },
      };
    case 'Observation':
      return { resourceType: 'Observation', status: 'final', code: snomed('885541000000103'), subject: patient, basedOn: [sr], valueInteger: n % 35 };
    case 'QuestionnaireResponse':
      return {
        resourceType: 'QuestionnaireResponse', status: 'completed', subject: patient, basedOn: [sr],
        questionnaire: 'https://signpost.health/fhir/Questionnaire/ucla3',
        item: [{ linkId: 'ucla3-1', answer: [{ valueInteger: 1 + (n % 3) }] }],
      };
    case 'Communication':
      return { resourceType: 'Communication', status: 'completed', basedOn: [sr], subject: patient, recipient: [org], payload: [{ contentString: 'done' }] };
  }
}

/** A referral as a transaction (urn:uuid references between entries) or as a batch. */
export function referralBundle(type: 'transaction' | 'batch', n: number): { [k: string]: Json } {
  const uuid = (i: number) => `urn:uuid:${String(n % 1e8).padStart(8, '0')}-0000-4000-8000-00000000000${i}`;
  const patient = validResource('Patient', n);
  const consent = { ...validResource('Consent', n), patient: { reference: uuid(1) } };
  const sr = { ...validResource('ServiceRequest', n), subject: { reference: uuid(1) }, supportingInfo: [{ reference: uuid(2) }] };
  const task = { ...validResource('Task', n), focus: { reference: uuid(3) }, basedOn: [{ reference: uuid(3) }], for: { reference: uuid(1) } };
  const nhs = (patient.identifier as { value: string }[])[0]?.value ?? '';
  return {
    resourceType: 'Bundle', type,
    entry: [
      { fullUrl: uuid(1), resource: patient, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${NHS}|${nhs}` } },
      { fullUrl: uuid(2), resource: consent, request: { method: 'POST', url: 'Consent' } },
      { fullUrl: uuid(3), resource: sr, request: { method: 'POST', url: 'ServiceRequest' } },
      { fullUrl: uuid(4), resource: task, request: { method: 'POST', url: 'Task' } },
      { request: { method: 'GET', url: `Patient/${SEED.patient}` } },
      { resource: { ...validResource('Organization', 0), id: SEED.organization }, request: { method: 'PUT', url: `Organization/${SEED.organization}` } },
    ],
  };
}

/** A Bundle of unrelated entries (references only to seeded resources), so one broken entry is the only fault. */
export function standaloneBundle(type: 'transaction' | 'batch', entries: readonly { kind: Kind; n: number; how: 'POST' | 'PUT' | 'GET' }[]): { [k: string]: Json } {
  return {
    resourceType: 'Bundle', type,
    entry: entries.map(({ kind, n, how }, i): Json => {
      const id = `fuzz-b${n}-${i}`;
      if (how === 'GET') return { request: { method: 'GET', url: `${kind}?_count=1` } };
      if (how === 'PUT') return { fullUrl: `${BASE}/fhir/${kind}/${id}`, resource: { ...validResource(kind, n * 10 + i), id }, request: { method: 'PUT', url: `${kind}/${id}` } };
      return { fullUrl: `urn:uuid:${String(n % 1e8).padStart(8, '0')}-1111-4000-8000-00000000000${i}`, resource: validResource(kind, n * 10 + i), request: { method: 'POST', url: kind } };
    }),
  };
}
const BASE = 'http://signpost.test';

export const badMethod = fc.constantFrom<Json>('get', 'HEAD', 'OPTIONS', '', 'POST ', 'CONNECT', 'DELETE', 'PATCH', 5, null, {}, ['POST']);
export const badUrl: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>('', 5, null, {}, [], 'Foo', 'Patient/', 'Patient/x/_history', 'Patient/x/_history/abc', 'Patient?_count=x',
    'Patient?identifier=a,', '/Patient', 'http://other.example/fhir/Patient', 'Patient/bad id', 'Patient/a/b/c/d/e', 'Patient/_search',
    'metadata', '$process-message', `Patient/${'x'.repeat(100)}`, '?', 'Patient/é', 'AuditEvent', 'Patient/%E0', 'Patient/..',
    'Patient?_cursor=zzz', 'Patient?_include=*', 'Task?status:text=x', 'Patient/fuzz-patient-1/_history/1', 'Patient/fuzz-patient-1'),
  fc.string({ unit: 'binary', maxLength: 30 }),
);
export const badHeaderValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(5, null, {}, [], true, '', '?', 'identifier=', 'identifier=|', '_id=', 'W/"x"', 'W/"1"', '*', '_sort=_lastUpdated', 'foo=bar'),
  fc.string({ maxLength: 20 }),
);

export type EntryMutation =
  | { kind: 'entry'; at: number; value: Json }
  | { kind: 'method' | 'url' | 'fullUrl' | 'ifNoneExist' | 'ifMatch' | 'resource'; at: number; value: Json }
  | { kind: 'noRequest' | 'dangling' | 'duplicate'; at: number }
  | { kind: 'urlTail'; at: number; tail: string }
  | { kind: 'type'; value: Json }
  | { kind: 'entries'; value: Json };

const urlTail = fc.record({
  kind: fc.constant('urlTail' as const), at: fc.nat(),
  tail: fc.constantFrom('/x', '/bad id', '/_history/1', '/../x', '?_count=x', '/_search', '/é', `/${'x'.repeat(100)}`, '/', '//x', '/x/_history', '?'),
});

export const entryMutation: fc.Arbitrary<EntryMutation> = fc.oneof(
  { weight: 3, arbitrary: urlTail },
  fc.record({ kind: fc.constant('entry' as const), at: fc.nat(), value: fc.constantFrom<Json>(null, 5, 'x', [], {}, true) }),
  fc.record({ kind: fc.constant('method' as const), at: fc.nat(), value: badMethod }),
  fc.record({ kind: fc.constant('url' as const), at: fc.nat(), value: badUrl }),
  fc.record({ kind: fc.constant('fullUrl' as const), at: fc.nat(), value: fc.oneof(badReference, badId) }),
  fc.record({ kind: fc.constant('ifNoneExist' as const), at: fc.nat(), value: badHeaderValue }),
  fc.record({ kind: fc.constant('ifMatch' as const), at: fc.nat(), value: badHeaderValue }),
  fc.record({ kind: fc.constant('resource' as const), at: fc.nat(), value: badValue }),
  fc.record({ kind: fc.constantFrom('noRequest' as const, 'dangling' as const, 'duplicate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('type' as const), value: fc.constantFrom<Json>('transaction', 'batch', 'collection', 'message', 'searchset', 'TRANSACTION', '', null, 5) }),
  fc.record({ kind: fc.constant('entries' as const), value: fc.constantFrom<Json>(null, {}, 'x', 5, [], [[]]) }),
);

type Obj = { [k: string]: Json };
const isObj = (v: Json | undefined): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

export function mutateBundle(bundle: Obj, mutations: readonly EntryMutation[]): Obj {
  const out = JSON.parse(JSON.stringify(bundle)) as Obj;
  for (const m of mutations) {
    if (m.kind === 'type' || m.kind === 'entries') {
      out[m.kind === 'type' ? 'type' : 'entry'] = m.value;
      continue;
    }
    const entries = out.entry;
    if (!Array.isArray(entries) || entries.length === 0) continue;
    const i = m.at % entries.length;
    const entry = entries[i];
    if (m.kind === 'entry') { entries[i] = m.value; continue; }
    if (m.kind === 'duplicate') { entries.push(JSON.parse(JSON.stringify(entry ?? null)) as Json); continue; }
    if (!isObj(entry)) continue;
    const request = isObj(entry.request) ? entry.request : undefined;
    switch (m.kind) {
      case 'noRequest': delete entry.request; break;
      case 'method': if (request) request.method = m.value; break;
      case 'url': if (request) request.url = m.value; break;
      case 'urlTail': if (request && typeof request.url === 'string') request.url = `${request.url.split(/[/?]/)[0]}${m.tail}`; break;
      case 'ifNoneExist': if (request) request.ifNoneExist = m.value; break;
      case 'ifMatch': if (request) request.ifMatch = m.value; break;
      case 'fullUrl': entry.fullUrl = m.value; break;
      case 'resource': entry.resource = m.value; break;
      case 'dangling':
        if (isObj(entry.resource)) entry.resource.subject = { reference: 'urn:uuid:deadbeef-0000-4000-8000-000000000000' };
        break;
    }
  }
  return out;
}
