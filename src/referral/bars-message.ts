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

/** A reference to an Organization carried in the message becomes a logical reference by ODS code. */
function organisationReference(ref: fhir4.Reference | undefined, entries: Map<string, fhir4.Resource>): fhir4.Reference | undefined {
  const target = ref?.reference ? entries.get(ref.reference) : undefined;
  if (target?.resourceType !== 'Organization') return ref;
  const ods = canonicalOds((target as fhir4.Organization).identifier?.find((i) => ODS_SYSTEMS.includes(i.system ?? '')));
  return ods ? { type: 'Organization', identifier: ods, ...((target as fhir4.Organization).name ? { display: (target as fhir4.Organization).name } : {}) } : undefined;
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
  const requester = organisationReference(sr.requester, entries);
  sr.requester = requester?.identifier ? requester : { type: 'Organization', identifier: { system: ODS_SYSTEM, value: caller.organization } };
  const performer = organisationReference(sr.performer?.[0], entries);
  if (performer?.identifier) sr.performer = [performer];
  else delete sr.performer;
  if (!sr.supportingInfo?.some((s) => consents.some(([url]) => url === s.reference))) {
    sr.supportingInfo = [...(sr.supportingInfo ?? []), ...consents.map(([url]) => ({ reference: url }))];
  }
  const identifier = sr.identifier?.find((i) => i.system && i.value);
  const strip = <T extends fhir4.Resource>(r: T): T => {
    const { id: _id, meta: _meta, ...rest } = r;
    return rest as T;
  };
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: patientUrl, resource: strip(patient), request: { method: 'POST', url: 'Patient', ...(nhs ? { ifNoneExist: `identifier=${NHS_NUMBER_SYSTEM}|${nhs}` } : {}) } },
      ...consents.map(([url, c]) => ({ fullUrl: url, resource: strip(c), request: { method: 'POST' as const, url: 'Consent' } })),
      {
        fullUrl: msg.serviceRequest.fullUrl, resource: strip(sr),
        request: { method: 'POST', url: 'ServiceRequest', ...(identifier ? { ifNoneExist: `identifier=${identifier.system}|${identifier.value}` } : {}) },
      },
    ],
  };
}
