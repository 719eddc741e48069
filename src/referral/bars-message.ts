import type { Caller } from '../fhir/interaction.js';
import { FhirError } from '../fhir/errors.js';
import { ODS_SYSTEM, ODS_SYSTEM_LOWER_CASE, ODS_SYSTEMS } from '../config/organizations.js';
import { NHS_NUMBER_SYSTEM } from './nhs-number.js';
import { SNOMED } from './reasons.js';
import { SOCIAL_PRESCRIBING_REFERRAL } from './referral-rules.js';

// NHS Booking and Referral Standard codings (https://fhir.nhs.uk/CodeSystem/message-events-bars, …-reason-bars).
export const BARS_EVENTS = 'https://fhir.nhs.uk/CodeSystem/message-events-bars';
export const BARS_REASONS = 'https://fhir.nhs.uk/CodeSystem/message-reason-bars';
export const REFERRAL_REQUEST = 'servicerequest-request';

export type BarsReason = 'new' | 'update' | 'delete';

/** A BaRS referral message, taken apart: what it asks, and the resources it carries keyed by fullUrl. */
export interface BarsReferral {
  header: fhir4.MessageHeader;
  /** The MessageHeader's fullUrl (its only identity in most BaRS messages). */
  headerUrl: string;
  reason: BarsReason;
  serviceRequest: { fullUrl: string; resource: fhir4.ServiceRequest };
  entries: Map<string, fhir4.Resource>;
}

const bad = (text: string, expression: string) => new FhirError(422, 'invalid', text, expression);

/** Reads a message Bundle as a BaRS servicerequest-request; refuses anything else precisely. */
export function readBarsMessage(bundle: fhir4.Bundle): BarsReferral {
  if (bundle.type !== 'message') throw bad('$process-message takes a Bundle of type message', 'Bundle.type');
  const entries = new Map<string, fhir4.Resource>();
  (bundle.entry ?? []).forEach((e, i) => {
    if (!e.resource) throw bad(`Bundle.entry[${i}] has no resource`, `Bundle.entry[${i}].resource`);
    entries.set(e.fullUrl ?? `#${i}`, e.resource);
  });
  const header = bundle.entry?.[0]?.resource;
  if (header?.resourceType !== 'MessageHeader') throw bad('The first entry of a message is its MessageHeader', 'Bundle.entry[0].resource');
  const event = (header as fhir4.MessageHeader).eventCoding;
  if (event?.system !== BARS_EVENTS || event.code !== REFERRAL_REQUEST) {
    throw new FhirError(422, 'not-supported', `Only ${BARS_EVENTS}|${REFERRAL_REQUEST} messages are processed here`, 'Bundle.entry[0].resource.eventCoding');
  }
  const reasonCode = (header as fhir4.MessageHeader).reason?.coding?.find((c) => c.system === BARS_REASONS)?.code ?? 'new';
  if (!['new', 'update', 'delete'].includes(reasonCode)) throw bad(`MessageHeader.reason ${reasonCode} is not new, update or delete`, 'Bundle.entry[0].resource.reason');
  const focus = (header as fhir4.MessageHeader).focus?.[0]?.reference ?? '';
  const sr = entries.get(focus) ?? [...entries.values()].find((r) => r.resourceType === 'ServiceRequest');
  if (sr?.resourceType !== 'ServiceRequest') throw bad('The message\'s focus must be the ServiceRequest it carries', 'Bundle.entry[0].resource.focus');
  const srUrl = [...entries].find(([, r]) => r === sr)?.[0] ?? focus;
  return { header: header as fhir4.MessageHeader, headerUrl: bundle.entry?.[0]?.fullUrl ?? '', reason: reasonCode as BarsReason, serviceRequest: { fullUrl: srUrl, resource: sr as fhir4.ServiceRequest }, entries };
}

/** Published BaRS spells the ODS system with a lower-case "id"; we store the canonical spelling. */
function canonicalOds(identifier: fhir4.Identifier | undefined): fhir4.Identifier | undefined {
  return identifier?.system === ODS_SYSTEM_LOWER_CASE ? { ...identifier, system: ODS_SYSTEM } : identifier;
}

/** The ODS code of an Organization carried in the message, in the canonical spelling. */
function odsOf(org: fhir4.Resource | undefined): fhir4.Identifier | undefined {
  if (org?.resourceType !== 'Organization') return undefined;
  return canonicalOds((org as fhir4.Organization).identifier?.find((i) => ODS_SYSTEMS.includes(i.system ?? '') && i.value));
}

/** A logical reference by ODS code to the Organization a message entry is, or is provided by (a HealthcareService). */
function organisationReference(ref: fhir4.Reference | undefined, entries: Map<string, fhir4.Resource>): fhir4.Reference | undefined {
  let target = ref?.reference ? entries.get(ref.reference) : undefined;
  if (target?.resourceType === 'HealthcareService') {
    const provider = (target as fhir4.HealthcareService).providedBy?.reference;
    target = provider ? entries.get(provider) : undefined;
  }
  const ods = odsOf(target);
  if (!ods) return undefined;
  const name = (target as fhir4.Organization).name;
  return { type: 'Organization', identifier: ods, ...(name ? { display: name } : {}) };
}

function displayOf(r: fhir4.Resource | undefined): string | undefined {
  const named = r as { name?: string | fhir4.HumanName[] } | undefined;
  if (typeof named?.name === 'string') return named.name;
  const human = Array.isArray(named?.name) ? named.name[0] : undefined;
  return human ? (human.text ?? [...(human.prefix ?? []), ...(human.given ?? []), human.family].filter(Boolean).join(' ')) || undefined : undefined;
}

/**
 * References between the resources the transaction carries stay as they are (urn:uuid, resolved by
 * the transaction). One to a message entry it does not carry becomes a logical reference by ODS code
 * when that entry is (or is provided by) an Organization, and otherwise keeps only the entry's name:
 * the referral keeps what the sender said without pointing at something this server never stored.
 */
function localise<T>(value: T, entries: Map<string, fhir4.Resource>, carried: ReadonlySet<string>): T {
  if (Array.isArray(value)) return value.map((v) => localise(v, entries, carried)) as T;
  if (!value || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const ref = obj.reference;
  if (typeof ref === 'string' && entries.has(ref) && !carried.has(ref)) {
    const { reference: _dropped, ...rest } = obj;
    const org = organisationReference({ reference: ref }, entries);
    const display = (rest.display as string | undefined) ?? displayOf(entries.get(ref));
    return { ...rest, ...(org ?? { type: entries.get(ref)?.resourceType }), ...(display ? { display } : {}) } as T;
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, localise(v, entries, carried)])) as T;
}

type TransactionEntry = fhir4.BundleEntry & { fullUrl: string; resource: fhir4.Resource; request: fhir4.BundleEntryRequest };

/** A transaction entry creating a message resource (without the sender's id and meta), conditional when a query is given. */
function createEntry(fullUrl: string, resource: fhir4.Resource, ifNoneExist?: string): TransactionEntry {
  const { id: _id, meta: _meta, ...rest } = resource;
  return { fullUrl, resource: rest as fhir4.Resource, request: { method: 'POST', url: resource.resourceType, ...(ifNoneExist ? { ifNoneExist } : {}) } };
}

/** The conditional-create query of a resource's first full identifier, if it has one. */
function byFirstIdentifier(resource: fhir4.Resource): string | undefined {
  const id = (resource as { identifier?: fhir4.Identifier[] }).identifier?.find((i) => i.system && i.value);
  return id ? `identifier=${id.system}|${id.value}` : undefined;
}

/** The calling practice, as a logical reference by ODS code. */
function practiceOf(caller: Caller): fhir4.Reference {
  return { type: 'Organization', identifier: { system: ODS_SYSTEM, value: caller.organization } };
}

/**
 * The referring clinician a BaRS requester names. A PractitionerRole (with its Practitioner) is
 * recorded as a role at the calling practice, found again by its identifier (an SDS role profile id)
 * when it has one; a bare Practitioner is recorded and attributed to the calling practice.
 */
function clinicianEntries(ref: string, entries: Map<string, fhir4.Resource>, caller: Caller): TransactionEntry[] {
  const target = entries.get(ref);
  if (target?.resourceType === 'Practitioner') return [createEntry(ref, target, byFirstIdentifier(target))];
  if (target?.resourceType !== 'PractitionerRole') return [];
  const role = { ...(target as fhir4.PractitionerRole) };
  role.organization = organisationReference(role.organization, entries) ?? practiceOf(caller);
  const practitionerUrl = role.practitioner?.reference;
  const practitioner = practitionerUrl ? entries.get(practitionerUrl) : undefined;
  return [
    ...(practitioner?.resourceType === 'Practitioner' ? [createEntry(practitionerUrl!, practitioner, byFirstIdentifier(practitioner))] : []),
    createEntry(ref, role, byFirstIdentifier(role)),
  ];
}

/**
 * The transaction a `new` referral message amounts to: the Patient (found by NHS number or created),
 * its Consent, and the ServiceRequest completed as the intake expects — the social-prescribing code
 * the message path supplies, requester and performer by ODS code (a practitioner requester is
 * attributed to the calling practice, a performer that is not a configured organisation is left to
 * routing) and the message's Consent of the patient as supporting information.
 */
export function referralTransaction(msg: BarsReferral, caller: Caller): fhir4.Bundle {
  const { entries } = msg;
  const sr = { ...msg.serviceRequest.resource };
  const patientUrl = sr.subject?.reference ?? '';
  const patient = entries.get(patientUrl);
  if (patient?.resourceType !== 'Patient') throw bad('The ServiceRequest\'s subject must be the Patient the message carries', 'ServiceRequest.subject');
  const nhs = (patient as fhir4.Patient).identifier?.find((i) => i.system === NHS_NUMBER_SYSTEM)?.value;
  const consents = [...entries].filter(([, r]) => r.resourceType === 'Consent' && (r as fhir4.Consent).patient?.reference === patientUrl);
  if (!sr.code) sr.code = { coding: [{ system: SNOMED, code: SOCIAL_PRESCRIBING_REFERRAL, display: 'Referral to social prescribing service' }] };
  const clinician = sr.requester?.reference ? clinicianEntries(sr.requester.reference, entries, caller) : [];
  if (!clinician.length) {
    const requester = organisationReference(sr.requester, entries);
    sr.requester = requester ?? practiceOf(caller);
  }
  // The service asked for: the performer, else the message's destination (a HealthcareService counts as its provider).
  const performer = organisationReference(sr.performer?.[0], entries) ?? organisationReference(msg.header.destination?.[0]?.receiver, entries);
  if (performer) sr.performer = [performer];
  else delete sr.performer;
  if (!sr.supportingInfo?.some((s) => consents.some(([url]) => url === s.reference))) {
    sr.supportingInfo = [...(sr.supportingInfo ?? []), ...consents.map(([url]) => ({ reference: url }))];
  }
  const carriedEntries: TransactionEntry[] = [
    createEntry(patientUrl, patient, nhs ? `identifier=${NHS_NUMBER_SYSTEM}|${nhs}` : undefined),
    ...consents.map(([url, c]) => createEntry(url, c)),
    ...clinician,
    createEntry(msg.serviceRequest.fullUrl, sr, byFirstIdentifier(sr)),
  ];
  const carried = new Set(carriedEntries.map((e) => e.fullUrl));
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: carriedEntries.map((e) => ({ ...e, resource: localise(e.resource, entries, carried) })),
  };
}
