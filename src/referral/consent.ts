import { parseDateRange } from '../fhir/instant.js';
import type { StoreTx } from '../store/store.js';

/**
 * Whether a patient's Consent lets the referral that rests on it be shared (DESIGN.md "Referral
 * intake": an active Consent permits unless its provision.type is deny), at a moment: its
 * provision.period, where given, bounds when it does. `in-force`, or why not.
 */
export type ConsentState = 'in-force' | 'withdrawn' | 'refused' | 'expired' | 'not-yet';

export function consentState(c: fhir4.Consent, nowMicros: number): ConsentState {
  if (c.status !== 'active') return 'withdrawn';
  if (c.provision?.type === 'deny') return 'refused';
  const period = c.provision?.period;
  // A period's end given as a date covers that whole day (parseDateRange gives the range it denotes).
  const end = period?.end ? parseDateRange(period.end)?.hi : undefined;
  if (end !== undefined && end < nowMicros) return 'expired';
  const start = period?.start ? parseDateRange(period.start)?.lo : undefined;
  if (start !== undefined && start > nowMicros) return 'not-yet';
  return 'in-force';
}

/** The Consents a referral rests on: its supportingInfo references to Consent, as ids. */
export function consentIdsOf(sr: fhir4.ServiceRequest): string[] {
  return (sr.supportingInfo ?? []).flatMap((r) => (r.reference?.startsWith('Consent/') ? [r.reference.slice('Consent/'.length)] : []));
}

/** Whether a referral still has a Consent of its patient in force among those it rests on. */
export async function referralHasConsent(sr: fhir4.ServiceRequest, tx: StoreTx, nowMicros: number): Promise<boolean> {
  for (const id of consentIdsOf(sr)) {
    const c = (await tx.read('Consent', id))?.resource as fhir4.Consent | undefined;
    if (c && c.patient?.reference === sr.subject?.reference && consentState(c, nowMicros) === 'in-force') return true;
  }
  return false;
}
