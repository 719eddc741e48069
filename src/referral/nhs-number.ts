/** NHS numbers (https://fhir.nhs.uk/Id/nhs-number): ten digits, the last a Modulus 11 check digit. */
export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';

/**
 * The Modulus 11 check of the NHS Data Dictionary ("NHS NUMBER"): weight the first nine digits 10 down
 * to 2, sum, take 11 minus the remainder mod 11; 11 means a check digit of 0 and 10 means the number
 * is invalid. Spaces, as NHS numbers are often written (3 3 4), are not accepted here: FHIR carries
 * the bare ten digits.
 */
export function isValidNhsNumber(value: string): boolean {
  if (!/^\d{10}$/.test(value)) return false;
  const digits = [...value].map(Number);
  const sum = digits.slice(0, 9).reduce((acc, d, i) => acc + d * (10 - i), 0);
  const check = 11 - (sum % 11);
  if (check === 10) return false;
  return (check === 11 ? 0 : check) === digits[9];
}
