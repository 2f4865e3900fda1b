/**
 * Codes the ESO domain reads and writes. Canonical URLs come from
 * fhir/eso-urls.ts; the codes below are the project's CodeSystem (profiles/CodeSystem-eso.json)
 * and the HL7 terminology the design names.
 */
import type { CodeableConcept, Coding } from 'fhir/r4.js';
import { Extensions, Systems } from '../fhir/eso-urls.ts';

export { Extensions, Systems };

export const ParticipationType = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
export const ProvenanceParticipantType = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';
export const DataOperation = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';
export const ConsentAction = 'http://terminology.hl7.org/CodeSystem/consentaction';

/** Consent category: LOINC 59284-0 "Patient Consent". */
export const CONSENT_CATEGORY: CodeableConcept = { coding: [{ system: Systems.loinc, code: '59284-0', display: 'Patient Consent' }] };

/**
 * v3 RoleCodes that mean "holds parental responsibility" on a RelatedPerson: RESPRSN
 * (responsible party: legal responsibility for another party) and GUARD (guardian).
 * No UK Core code for parental responsibility exists, so eso-bridge records it this way.
 */
export const PARENTAL_RESPONSIBILITY_CODES = ['RESPRSN', 'GUARD'];

export type EsoCode =
  | 'awaiting-consent' | 'request-sent' | 'received' | 'records-shared' | 'accepted' | 'visit-scheduled'
  | 'outpatient-scheduled' | 'records-review' | 'report-issued' | 'discussed-with-family' | 'declined'
  | 'withdrawn' | 'cancel-requested' | 'on-hold' | 'failed' | 'family' | 'young-person' | 'treating-team' | 'visit' | 'outpatient'
  | 'records-only' | 'external-second-opinion' | 'transfer-offer';

const DISPLAY: Record<EsoCode, string> = {
  'awaiting-consent': 'Awaiting consent', 'request-sent': 'Request sent', received: 'Received by provider',
  'records-shared': 'Records shared', accepted: 'Accepted by provider', 'visit-scheduled': 'Visit scheduled',
  'outpatient-scheduled': 'Outpatient appointment scheduled', 'records-review': 'Records under review',
  'report-issued': 'Report issued', 'discussed-with-family': 'Discussed with family', declined: 'Declined by provider',
  withdrawn: 'Withdrawn', 'cancel-requested': 'Cancellation requested', 'on-hold': 'On hold', failed: 'Failed', family: 'Family', 'young-person': 'Young person',
  'treating-team': 'Treating team', visit: 'Inpatient visit', outpatient: 'Outpatient appointment', 'records-only': 'Records only',
  'external-second-opinion': 'External second opinion', 'transfer-offer': 'Offer of transfer of care',
};

/** A Coding of the project's CodeSystem, with its display. */
export function esoCoding(code: EsoCode): Coding {
  return { system: Systems.esoCodes, code, display: DISPLAY[code] };
}

export function hasCoding(cc: CodeableConcept | undefined, system: string, code: string): boolean {
  return !!cc?.coding?.some((c) => c.system === system && c.code === code);
}

/** The code of the first coding of `system` in `cc`. */
export function codeOf(cc: CodeableConcept | undefined, system: string): string | undefined {
  return cc?.coding?.find((c) => c.system === system)?.code;
}

/** The ESO businessStatus code of a Task (undefined when absent). */
export const businessStatusOf = (task: { businessStatus?: CodeableConcept }): string | undefined => codeOf(task.businessStatus, Systems.esoCodes);

// Accessors live beside their subject: references.ts (keys of references), extensions.ts (questions, answers).
export { keyOf, splitKey } from './references.ts';
export { answersOf, extensionsOf, part, questionsOf, type Answer, type Question } from './extensions.ts';
