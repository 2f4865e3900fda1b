/**
 * NHS number check (modulus 11) for the HL7 v2 mapping. The one implementation lives in
 * src/fhir/uk-core.ts; this module keeps the names HL7 code imports.
 * @see https://www.datadictionary.nhs.uk/attributes/nhs_number.html
 */
export { isValidNhsNumber, nhsCheckDigit, normaliseNhsNumber } from '../fhir/uk-core.ts';
