import fs from 'node:fs';
import path from 'node:path';

export const REFERRAL_REASONS_URL = 'https://signpost.health/fhir/ValueSet/sp-referral-reasons';
export const SNOMED = 'http://snomed.info/sct';

/** The SNOMED CT codes of the referral-reasons ValueSet in profiles/, the one source of truth. */
export function loadReferralReasons(profilesDir: string): ReadonlySet<string> {
  const file = path.join(profilesDir, 'ValueSet-sp-referral-reasons.json');
  const vs = JSON.parse(fs.readFileSync(file, 'utf8')) as fhir4.ValueSet;
  if (vs.url !== REFERRAL_REASONS_URL) throw new Error(`${file} is not ${REFERRAL_REASONS_URL}`);
  return new Set((vs.compose?.include ?? []).filter((i) => i.system === SNOMED).flatMap((i) => (i.concept ?? []).map((c) => c.code)));
}
