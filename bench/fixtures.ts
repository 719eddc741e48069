import { randomUUID } from 'node:crypto';
import { PRACTICE } from './clients.js';

/** Builders for the resources the bench seeds and sends: shaped like the referrals the gateway carries. */

export const NHS_NUMBER = 'https://fhir.nhs.uk/Id/nhs-number';

/**
 * The n-th of a series of valid NHS numbers (Modulus 11 check digit, NHS Data Dictionary) in the 9xx
 * test range. Each n has two candidates, 2n and 2n+1: a number whose check digit would be 10 is never
 * issued, and then its odd neighbour (check sum 2 higher, no carry) is valid, so the series never repeats.
 */
export function nhsNumber(n: number): string {
  const even = 900_000_000 + n * 2;
  return withCheckDigit(even) ?? withCheckDigit(even + 1)!;
}

function withCheckDigit(nineDigits: number): string | undefined {
  const digits = String(nineDigits);
  const sum = [...digits].reduce((s, d, i) => s + Number(d) * (10 - i), 0);
  const check = (11 - (sum % 11)) % 11;
  return check === 10 ? undefined : `${digits}${check}`;
}

/** Sequence numbers handed out to every resource that carries an NHS number, so none repeats in a run. */
export class NhsNumbers {
  constructor(private next = 0) {}
  take(): string {
    return nhsNumber(this.next++);
  }
}

const GIVEN = ['Amira', 'Ben', 'Chloe', 'Dev', 'Ellen', 'Farid', 'Grace', 'Harry', 'Isla', 'Jun'];
const FAMILY = ['Okafor', 'Smith', 'Patel', 'Jones', 'Nowak', 'Evans', 'Khan', 'Brown', 'Wilson', 'Taylor'];

export function patient(nhs: string, i: number): fhir4.Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: NHS_NUMBER, value: nhs }],
    name: [{ use: 'official', family: FAMILY[i % FAMILY.length]!, given: [GIVEN[(i >> 3) % GIVEN.length]!] }],
    gender: i % 2 ? 'female' : 'male',
    birthDate: `19${String(40 + (i % 60)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 10}`,
    telecom: [{ system: 'phone', value: `07700 9${String(i % 100_000).padStart(5, '0')}`, use: 'mobile' }],
    address: [{ line: [`${1 + (i % 200)} High Street`], city: 'Riverside', postalCode: 'RV1 2AB' }],
  };
}

/** Spread so that each owner has every status: 40% requested, then accepted, in-progress, completed. */
const STATUSES = ['requested', 'requested', 'accepted', 'in-progress', 'completed'] as const;

export function task(i: number, owner: string, patientRef: string): fhir4.Task {
  const referral = `ServiceRequest/${randomUUID()}`;
  return {
    resourceType: 'Task',
    status: STATUSES[Math.floor(i / 20) % STATUSES.length]!,
    intent: 'order',
    code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
    focus: { reference: referral },
    basedOn: [{ reference: referral }],
    for: { reference: patientRef },
    requester: { reference: `Organization/${PRACTICE}` },
    owner: { reference: `Organization/${owner}` },
    authoredOn: new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString(),
  };
}

/** The patient's consent to being referred, recorded by the practice (R4 Consent, privacy scope). */
export function consent(patientRef: string): fhir4.Consent {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: patientRef },
    dateTime: new Date().toISOString(),
    organization: [{ reference: `Organization/${PRACTICE}` }],
    provision: { type: 'permit' },
  };
}

/**
 * A transaction as a practice sends one: `pairs` new Patients, each with the Consent that refers to it
 * by urn:uuid (the referral itself is left out: its intake rules are not what this measures).
 */
export function patientsWithConsents(pairs: number, nhs: NhsNumbers): fhir4.Bundle {
  const entry: fhir4.BundleEntry[] = [];
  for (let i = 0; i < pairs; i++) {
    const fullUrl = `urn:uuid:${randomUUID()}`;
    entry.push({ fullUrl, resource: patient(nhs.take(), i), request: { method: 'POST', url: 'Patient' } });
    entry.push({ resource: consent(fullUrl), request: { method: 'POST', url: 'Consent' } });
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

/**
 * A whole referral as a GP system sends it (DESIGN.md "Referral intake", path 2): the Patient, conditional
 * on its NHS number, its Consent and the ServiceRequest, with urn:uuid references. The gateway also
 * writes the Task, one Provenance for the four and the audit record.
 */
export function referral(nhs: NhsNumbers, i: number, practice = PRACTICE): fhir4.Bundle {
  const number = nhs.take();
  const [p, c, s] = [`urn:uuid:${randomUUID()}`, `urn:uuid:${randomUUID()}`, `urn:uuid:${randomUUID()}`];
  const serviceRequest: fhir4.ServiceRequest = {
    resourceType: 'ServiceRequest',
    identifier: [{ system: 'https://bench.example/referral', value: randomUUID() }],
    status: 'active',
    intent: 'order',
    code: { coding: [{ system: 'http://snomed.info/sct', code: '871731000000106', display: 'Referral to social prescribing service' }] },
    reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '267076002', display: 'Feeling lonely' }] }],
    subject: { reference: p },
    requester: { reference: `Organization/${practice}` },
    supportingInfo: [{ reference: c }],
    authoredOn: new Date().toISOString(),
  };
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: p, resource: patient(number, i), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${NHS_NUMBER}|${number}` } },
      { fullUrl: c, resource: consent(p), request: { method: 'POST', url: 'Consent' } },
      { fullUrl: s, resource: serviceRequest, request: { method: 'POST', url: 'ServiceRequest' } },
    ],
  };
}

/**
 * The same referral as `referral`, as a referral tool without FHIR sends it to the plain-JSON API
 * (POST /api/v1/referrals): the gateway makes the same transaction of it.
 */
export function jsonReferral(nhs: NhsNumbers, i: number): unknown {
  return {
    identifier: randomUUID(),
    patient: { nhsNumber: nhs.take(), name: { given: ['Sam'], family: `Bench${i}` }, birthDate: '1960-01-01', phone: '07700 900000' },
    consent: { date: new Date().toISOString(), givenBy: 'patient' },
    reasons: [{ code: '267076002' }],
  };
}
