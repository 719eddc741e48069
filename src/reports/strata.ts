/**
 * What the commissioners' reports stratify referrals by (issue 10), from the patient as at the referral:
 * age band, administrative gender and ethnic category. Pure.
 */

/** The age bands of the issue, and `unknown` for a patient without a birth date. */
export const AGE_BANDS = ['0-17', '18-34', '35-49', '50-64', '65-79', '80+', 'unknown'] as const;
export type AgeBand = (typeof AGE_BANDS)[number];

/** R4 AdministrativeGender (http://hl7.org/fhir/R4/valueset-administrative-gender.html); absent counts as unknown. */
export const GENDERS = ['female', 'male', 'other', 'unknown'] as const;

/**
 * NHS Data Dictionary ETHNIC CATEGORY (2001 census classification), the codes of UK Core's
 * Extension-UKCore-EthnicCategory (CodeSystem https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland):
 * https://www.datadictionary.nhs.uk/data_elements/ethnic_category.html. Z is "not stated", what a patient
 * without the extension is counted as.
 */
export const ETHNIC_CATEGORIES: Readonly<Record<string, string>> = {
  A: 'White - British', B: 'White - Irish', C: 'White - Any other White background',
  D: 'Mixed - White and Black Caribbean', E: 'Mixed - White and Black African', F: 'Mixed - White and Asian', G: 'Mixed - Any other mixed background',
  H: 'Asian or Asian British - Indian', J: 'Asian or Asian British - Pakistani', K: 'Asian or Asian British - Bangladeshi', L: 'Asian or Asian British - Any other Asian background',
  M: 'Black or Black British - Caribbean', N: 'Black or Black British - African', P: 'Black or Black British - Any other Black background',
  R: 'Other Ethnic Groups - Chinese', S: 'Other Ethnic Groups - Any other ethnic group', Z: 'Not stated',
};
export const ETHNIC_CATEGORY_EXTENSION = 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory';
const NOT_STATED = 'Z';

/** Whole years from a birth date (YYYY, YYYY-MM or YYYY-MM-DD; a partial one taken at its start) to a day. */
function ageOn(birthDate: string, day: string): number | undefined {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(birthDate);
  if (!m) return undefined;
  const [y, mo = '01', d = '01'] = [m[1]!, m[2], m[3]];
  const [ty, tmo, td] = day.split('-') as [string, string, string];
  const years = Number(ty) - Number(y);
  return `${tmo}-${td}` < `${mo}-${d}` ? years - 1 : years;
}

/** The age band of a patient on the day (YYYY-MM-DD) of the referral. */
export function ageBand(birthDate: string | undefined, day: string): AgeBand {
  const age = birthDate ? ageOn(birthDate, day) : undefined;
  if (age === undefined || age < 0) return 'unknown';
  if (age < 18) return '0-17';
  if (age < 35) return '18-34';
  if (age < 50) return '35-49';
  if (age < 65) return '50-64';
  if (age < 80) return '65-79';
  return '80+';
}

export function genderOf(patient: fhir4.Patient): string {
  return patient.gender ?? 'unknown';
}

/** The patient's ethnic category code from UK Core's extension, or Z (not stated). */
export function ethnicityOf(patient: fhir4.Patient): string {
  const ext = patient.extension?.find((e) => e.url === ETHNIC_CATEGORY_EXTENSION);
  const code = ext?.valueCodeableConcept?.coding?.map((c) => c.code).find((c): c is string => c !== undefined && c in ETHNIC_CATEGORIES);
  return code ?? NOT_STATED;
}
