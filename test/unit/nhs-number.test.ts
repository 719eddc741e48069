import { describe, expect, it } from 'vitest';
import { isValidNhsNumber } from '../../src/referral/nhs-number.js';
import { nhsNumber } from '../fixtures/gateway.js';

describe('isValidNhsNumber (Modulus 11)', () => {
  it.each([
    ['9434765919', true], // NHS Digital's published test number
    ['9000000009', true],
    ['4010232137', true],
    ['9434765910', false], // wrong check digit
    ['3478526985', false], // the number in published BaRS examples: fails the check
    ['943476591', false], // nine digits
    ['94347659190', false], // eleven digits
    ['943 476 5919', false], // spaces are not carried in FHIR
    ['94347659a9', false],
    ['', false],
  ])('%s → %s', (value, valid) => {
    expect(isValidNhsNumber(value)).toBe(valid);
  });

  it('refuses numbers whose check digit would be 10', () => {
    // 000000006: weights 10..2 give 6×2 = 12, 11 − (12 mod 11) = 10 → no valid check digit exists.
    for (let d = 0; d <= 9; d++) expect(isValidNhsNumber(`000000006${d}`)).toBe(false);
  });

  it('accepts every number the test fixture generates', () => {
    for (let seed = 0; seed < 200; seed++) expect(isValidNhsNumber(nhsNumber(seed * 7919))).toBe(true);
  });
});
