/**
 * UK Core identifiers: NHS number (modulus 11), ODS organisation codes and GMC numbers, and the
 * country test used for providers outside the UK. Pure: no I/O, no HL7 or Express.
 * @see https://simplifier.net/hl7fhirukcorer4/ukcore-patient (identifier slices)
 */
import type { Address, Identifier, Organization, Patient, Practitioner } from 'fhir/r4.js';
import { Systems } from './eso-urls.ts';

/** Weights 10..2 applied to the first nine digits. */
const WEIGHTS = [10, 9, 8, 7, 6, 5, 4, 3, 2];

/**
 * The check digit the first nine digits call for, or null when none exists (remainder 10:
 * such numbers are never issued).
 * @see https://www.datadictionary.nhs.uk/attributes/nhs_number.html
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
 * Callers remove spaces first ({@link normaliseNhsNumber}).
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

/** ODS codes: 3 to 10 letters and digits (Trusts have 3 or 5, sites and teams more). */
export function isPlausibleOdsCode(value: string): boolean {
  return /^[A-Z0-9]{3,10}$/i.test(value);
}

export const nhsNumberIdentifier = (nhsNumber: string): Identifier => ({ system: Systems.nhsNumber, value: nhsNumber });
export const odsIdentifier = (ods: string): Identifier => ({ system: Systems.odsCode, value: ods });
export const gmcIdentifier = (gmc: string): Identifier => ({ system: Systems.gmcNumber, value: gmc });

function identifierValue(identifiers: Identifier[] | undefined, system: string): string | undefined {
  return identifiers?.find((i) => i.system === system && typeof i.value === 'string')?.value;
}

/** The ODS code of an Organization, if it has one. */
export const odsCodeOf = (org: Pick<Organization, 'identifier'>): string | undefined => identifierValue(org.identifier, Systems.odsCode);
/** The NHS number of a Patient, if it has one. */
export const nhsNumberOf = (patient: Pick<Patient, 'identifier'>): string | undefined => identifierValue(patient.identifier, Systems.nhsNumber);
/** The GMC number of a Practitioner, if it has one. */
export const gmcNumberOf = (p: Pick<Practitioner, 'identifier'>): string | undefined => identifierValue(p.identifier, Systems.gmcNumber);

const UK_NAMES = new Set(['gb', 'gbr', 'uk', 'united kingdom', 'great britain', 'england', 'scotland', 'wales', 'northern ireland']);

/** True for the ways UK addresses name their country (ISO 3166 GB/GBR, "UK", the nations). */
export function isUkCountry(country: string): boolean {
  return UK_NAMES.has(country.trim().toLowerCase());
}

/**
 * The country an organisation states in its addresses: 'uk', 'elsewhere', or undefined when
 * no address gives a country (then nothing is assumed).
 */
export function countryKind(addresses: Address[] | undefined): 'uk' | 'elsewhere' | undefined {
  const countries = (addresses ?? []).map((a) => a.country).filter((c): c is string => typeof c === 'string' && c.trim() !== '');
  if (!countries.length) return undefined;
  return countries.every(isUkCountry) ? 'uk' : 'elsewhere';
}
