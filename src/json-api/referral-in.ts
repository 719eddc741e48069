import { randomUUID } from 'node:crypto';
import { ODS_SYSTEM } from '../config/organizations.js';
import { NHS_NUMBER_SYSTEM } from '../referral/nhs-number.js';
import { SNOMED } from '../referral/reasons.js';
import { SOCIAL_PRESCRIBING_REFERRAL } from '../referral/referral-rules.js';
import type { ExpressionMapper } from './problem.js';
import type { ReferralIn } from './schemas.js';

/** The identifier system of referrals made through the JSON API: one namespace per practice. */
export const referralIdentifierSystem = (practice: string): string => `https://signpost.health/Id/referral/${practice}`;

/** A referral as the FHIR transaction the intake core takes, and where each FHIR element came from. */
export interface ReferralBundle {
  bundle: fhir4.Bundle;
  /** FHIRPath of a Bundle entry's element → JSON pointer of the field it was made from. */
  mapper: ExpressionMapper;
}

// Entries in the order of the transaction: their position is how an error names them.
const ENTRY = ['Patient', 'Consent', 'ServiceRequest'] as const;
const SECTION: Record<(typeof ENTRY)[number], string> = { Patient: '#/patient', Consent: '#/consent', ServiceRequest: '#' };

/**
 * Translates a JSON referral into the transaction Bundle of FHIR intake path 2 (DESIGN.md "Referral
 * intake"): the Patient as a conditional create on its NHS number, the Consent, and the ServiceRequest,
 * joined by urn:uuid references. The same intake rules then apply as to a GP system's Bundle.
 */
export function referralBundle(input: ReferralIn, practice: string): ReferralBundle {
  const origin = new Map<string, string>();
  const from = (expression: string, pointer: string) => origin.set(expression, pointer);
  const [patientUrn, consentUrn] = [`urn:uuid:${randomUUID()}`, `urn:uuid:${randomUUID()}`];
  const p = input.patient;

  const telecom: fhir4.ContactPoint[] = [];
  if (p.phone) from(`Patient.telecom[${telecom.push({ system: 'phone', value: p.phone }) - 1}]`, '#/patient/phone');
  if (p.email) from(`Patient.telecom[${telecom.push({ system: 'email', value: p.email }) - 1}]`, '#/patient/email');
  const patient: fhir4.Patient = {
    resourceType: 'Patient',
    identifier: [{ system: NHS_NUMBER_SYSTEM, value: p.nhsNumber }],
    name: [{ use: 'official', family: p.name.family, given: p.name.given }],
    birthDate: p.birthDate,
    ...(telecom.length ? { telecom } : {}),
  };
  from('Patient.identifier', '#/patient/nhsNumber');
  from('Patient.name[0].family', '#/patient/name/family');
  p.name.given.forEach((_, i) => from(`Patient.name[0].given[${i}]`, `#/patient/name/given/${i}`));
  from('Patient.name', '#/patient/name');
  from('Patient.birthDate', '#/patient/birthDate');

  const c = input.consent;
  const consent: fhir4.Consent = {
    resourceType: 'Consent',
    status: 'active',
    // http://terminology.hl7.org/CodeSystem/consentscope; LOINC 59284-0 "Patient Consent" (as UK Core examples use).
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: { reference: patientUrn },
    dateTime: c.date,
    performer: [c.givenBy === 'patient' ? { reference: patientUrn } : { display: 'The patient\'s representative' }],
    organization: [{ reference: `Organization/${practice}`, identifier: { system: ODS_SYSTEM, value: practice } }],
    ...(c.agreed ? { policyRule: { text: c.agreed } } : {}),
    provision: { type: 'permit' },
  };
  from('Consent.dateTime', '#/consent/date');
  from('Consent.performer', '#/consent/givenBy');
  from('Consent.policyRule', '#/consent/agreed');

  const serviceRequest: fhir4.ServiceRequest = {
    resourceType: 'ServiceRequest',
    identifier: [{ system: referralIdentifierSystem(practice), value: input.identifier }],
    status: 'active',
    intent: 'order',
    code: { coding: [{ system: SNOMED, code: SOCIAL_PRESCRIBING_REFERRAL, display: 'Referral to social prescribing service' }] },
    subject: { reference: patientUrn },
    requester: { reference: `Organization/${practice}`, identifier: { system: ODS_SYSTEM, value: practice } },
    ...(input.service ? { performer: [{ reference: `Organization/${input.service}`, identifier: { system: ODS_SYSTEM, value: input.service } }] } : {}),
    reasonCode: input.reasons.map((r) => ({ coding: [{ system: SNOMED, code: r.code }], ...(r.text ? { text: r.text } : {}) })),
    supportingInfo: [{ reference: consentUrn }],
    authoredOn: new Date().toISOString(),
    // The referrer is the note's author; FHIR needs a note to have text, so one is said for them if need be.
    ...(input.note || input.referrer ? {
      note: [{
        text: input.note ?? `Referred by ${input.referrer!.name}`,
        ...(input.referrer ? { authorString: input.referrer.name } : {}),
      }],
    } : {}),
  };
  from('ServiceRequest.identifier', '#/identifier');
  input.reasons.forEach((_, i) => {
    // The intake judges a reason by its code.
    from(`ServiceRequest.reasonCode[${i}]`, `#/reasons/${i}/code`);
    from(`ServiceRequest.reasonCode[${i}].text`, `#/reasons/${i}/text`);
  });
  from('ServiceRequest.reasonCode', '#/reasons');
  from('ServiceRequest.requester', '#/practice');
  from('ServiceRequest.performer', '#/service');
  from('ServiceRequest.supportingInfo', '#/consent');
  from('ServiceRequest.note', '#/note');

  const bundle: fhir4.Bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: patientUrn, resource: patient, request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${NHS_NUMBER_SYSTEM}|${p.nhsNumber}` } },
      { fullUrl: consentUrn, resource: consent, request: { method: 'POST', url: 'Consent' } },
      { resource: serviceRequest, request: { method: 'POST', url: 'ServiceRequest' } },
    ],
  };
  return { bundle, mapper: (expression) => pointerFor(expression, origin) };
}

/**
 * The field an intake error is about: the longest element path recorded for it (`Patient.name[0].given[1]`
 * before `Patient.name`), else the section of the body its resource came from.
 */
function pointerFor(expression: string, origin: Map<string, string>): { pointer: string } | undefined {
  const m = /^Bundle\.entry\[(\d+)\]\.resource(.*)$/.exec(expression);
  const type = m ? ENTRY[Number(m[1])] : ENTRY.find((t) => expression === t || expression.startsWith(`${t}.`));
  if (!type) return undefined;
  let path = m ? `${type}${m[2]}` : expression;
  for (;;) {
    const pointer = origin.get(path);
    if (pointer) return { pointer };
    const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
    if (cut <= type.length - 1) return { pointer: SECTION[type] };
    path = path.slice(0, cut);
  }
}
