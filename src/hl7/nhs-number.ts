/**
 * NHS number check (modulus 11). Pure, with no HL7 or FHIR dependency, so the domain and the
 * FHIR layer can reuse it.
 * @see https://www.datadictionary.nhs.uk/attributes/nhs_number.html
 */

/** Weights 10..2 applied to the first nine digits. */
const WEIGHTS = [10, 9, 8, 7, 6, 5, 4, 3, 2];

/**
 * The check digit the first nine digits call for, or null when none exists (remainder 1:
 * such numbers are never issued).
 */
export function nhsCheckDigit(firstNine: string): number | null {
  if (!/^\d{9}$/.test(firstNine)) return null;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(firstNine[i]) * WEIGHTS[i];
  const check = 11 - (sum % 11);
  if (check === 11) return 0;
  if (check === 10) return null;
  return check;
}

/**
 * True when `value` is exactly ten digits and its last digit is the modulus-11 check digit.
 * Spaces are not accepted here: callers normalise input (see {@link normaliseNhsNumber}).
 * @see https://www.datadictionary.nhs.uk/attributes/nhs_number.html
 */
export function isValidNhsNumber(value: string): boolean {
  if (!/^\d{10}$/.test(value)) return false;
  const check = nhsCheckDigit(value.slice(0, 9));
  return check !== null && check === Number(value[9]);
}

/** Removes the spaces and dashes people type ("943 476 5919"); does not validate. */
export function normaliseNhsNumber(value: string): string {
  return value.replace(/[\s-]/g, '');
}
