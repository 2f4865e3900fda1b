/** UK Core identifiers (src/fhir/uk-core.ts), pure. */
import { describe, expect, it } from 'vitest';
import { countryKind, isUkCountry, isValidNhsNumber, nhsCheckDigit, normaliseNhsNumber, odsCodeOf, odsIdentifier } from '../../../src/fhir/uk-core.ts';

describe('NHS number (modulus 11)', () => {
  it('when the check digit matches, then the number is valid', () => {
    for (const n of ['9434765919', '9000000009', '4010232137', '9876543210']) expect(isValidNhsNumber(n)).toBe(true);
  });

  it('when a digit is wrong, two digits are swapped, or the length is wrong, then it is invalid', () => {
    for (const n of ['9434765918', '4934765919', '943476591', '94347659190', '943476591a', '']) expect(isValidNhsNumber(n)).toBe(false);
  });

  it('when the remainder gives check 10, then no valid number exists for those nine digits', () => {
    // Weighted sum 6 x 2 = 12; 12 % 11 = 1, so the check would be 11 - 1 = 10: never issued.
    const nine = '000000006';
    expect(nhsCheckDigit(nine)).toBe(null);
    for (let d = 0; d <= 9; d++) expect(isValidNhsNumber(`${nine}${d}`)).toBe(false);
  });

  it('when check would be 11, then the check digit is 0', () => {
    expect(nhsCheckDigit('000000000')).toBe(0);
    expect(isValidNhsNumber('0000000000')).toBe(true);
  });

  it('when people type spaces or dashes, then normalising removes them', () => {
    expect(normaliseNhsNumber('943 476-5919')).toBe('9434765919');
  });
});

describe('ODS codes and countries', () => {
  it('when an organisation carries an ODS identifier, then its code is read back', () => {
    expect(odsCodeOf({ identifier: [odsIdentifier('RZ1')] })).toBe('RZ1');
    expect(odsCodeOf({ identifier: [{ system: 'urn:other', value: 'X' }] })).toBeUndefined();
  });

  it('when a country names the UK in any usual way, then it is the UK', () => {
    for (const c of ['GB', 'gbr', 'UK', 'United Kingdom', ' Scotland ']) expect(isUkCountry(c)).toBe(true);
    for (const c of ['FR', 'Ireland', 'US']) expect(isUkCountry(c)).toBe(false);
  });

  it('when no address states a country, then nothing is assumed', () => {
    expect(countryKind(undefined)).toBeUndefined();
    expect(countryKind([{ city: 'Paris' }])).toBeUndefined();
    expect(countryKind([{ country: 'FR' }])).toBe('elsewhere');
    expect(countryKind([{ country: 'GB' }])).toBe('uk');
  });
});
