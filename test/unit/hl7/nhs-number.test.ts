import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidNhsNumber, nhsCheckDigit, normaliseNhsNumber } from '../../../src/fhir/uk-core.ts';

describe('NHS number (modulus 11)', () => {
  it.each(['9000000009', '9000000017', '9876543210', '9434765919'])('when %s is checked, then it is valid', (n) => {
    expect(isValidNhsNumber(n)).toBe(true);
  });

  it.each([
    ['a wrong check digit', '9000000008'],
    ['nine digits', '900000000'],
    ['letters', '90000000A9'],
    ['spaces (callers normalise first)', '900 000 0009'],
    ['a remainder-10 stem (never issued)', '0000000060'],
  ])('when it has %s, then it is invalid', (_name, n) => {
    expect(isValidNhsNumber(n)).toBe(false);
  });

  it('when typed with spaces or dashes, then normalising makes it checkable', () => {
    expect(isValidNhsNumber(normaliseNhsNumber('943 476-5919'))).toBe(true);
  });

  it('when any valid number has one digit changed, then it is no longer valid (modulus 11 catches every single-digit error)', () => {
    const valid = fc
      .stringMatching(/^\d{9}$/)
      .filter((s) => nhsCheckDigit(s) !== null)
      .map((s) => `${s}${nhsCheckDigit(s)}`);
    fc.assert(
      fc.property(valid, fc.nat(9), fc.integer({ min: 1, max: 9 }), (n, pos, delta) => {
        expect(isValidNhsNumber(n)).toBe(true);
        const changed = n.slice(0, pos) + String((Number(n[pos]) + delta) % 10) + n.slice(pos + 1);
        expect(isValidNhsNumber(changed)).toBe(false);
      }),
    );
  });
});
