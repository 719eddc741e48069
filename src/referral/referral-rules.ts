import type { Issue } from '../fhir/errors.js';
import { SNOMED } from './reasons.js';

// SNOMED CT 871731000000106 |Referral to social prescribing service| (UK Clinical Edition; profiles/SOURCES.md).
export const SOCIAL_PRESCRIBING_REFERRAL = '871731000000106';

const codes = (cc: fhir4.CodeableConcept | undefined, system: string) =>
  (cc?.coding ?? []).filter((c) => c.system === system).map((c) => c.code);

/**
 * The rules a referral must meet by its own content, before anything is looked up: a business
 * identifier, the social-prescribing code, intent order (BaRS plan), and reasons from our ValueSet.
 * Every problem is reported, each with the FHIRPath of the element at fault.
 */
export function referralShapeIssues(sr: fhir4.ServiceRequest, reasons: ReadonlySet<string>): Issue[] {
  const issues: Issue[] = [];
  if (!sr.identifier?.some((i) => i.system && i.value)) {
    issues.push({ code: 'required', diagnostics: 'A referral needs a business identifier (system and value) so that re-sending it is recognised', expression: ['ServiceRequest.identifier'] });
  }
  if (!codes(sr.code, SNOMED).includes(SOCIAL_PRESCRIBING_REFERRAL)) {
    issues.push({ code: 'code-invalid', diagnostics: `ServiceRequest.code must be SNOMED CT ${SOCIAL_PRESCRIBING_REFERRAL} (referral to social prescribing service)`, expression: ['ServiceRequest.code'] });
  }
  if (sr.intent !== 'order' && sr.intent !== 'plan') {
    issues.push({ code: 'value', diagnostics: `A referral's intent is order (or plan, as BaRS sends it), not ${sr.intent}`, expression: ['ServiceRequest.intent'] });
  }
  if (!sr.reasonCode?.length) {
    issues.push({ code: 'required', diagnostics: 'A referral names at least one reason (reasonCode) from the social-prescribing reasons ValueSet', expression: ['ServiceRequest.reasonCode'] });
  }
  (sr.reasonCode ?? []).forEach((reason, i) => {
    if (!codes(reason, SNOMED).some((c) => c !== undefined && reasons.has(c))) {
      issues.push({ code: 'code-invalid', diagnostics: `ServiceRequest.reasonCode[${i}] is not in https://signpost.health/fhir/ValueSet/sp-referral-reasons`, expression: [`ServiceRequest.reasonCode[${i}]`] });
    }
  });
  return issues;
}
