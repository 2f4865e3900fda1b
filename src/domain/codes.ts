/**
 * Codes and small accessors the ESO domain reads and writes. Canonical URLs come from
 * fhir/eso-urls.ts; the codes below are the project's CodeSystem (profiles/CodeSystem-eso.json)
 * and the HL7 terminology the design names.
 */
import type { CodeableConcept, Coding, Extension, Reference } from 'fhir/r4.js';
import { Extensions, Systems } from '../fhir/eso-urls.ts';
import { referenceKey } from '../fhir/search-params.ts';

export { Extensions, Systems };

export const ParticipationType = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
export const ProvenanceParticipantType = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';
export const DataOperation = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';
export const ConsentAction = 'http://terminology.hl7.org/CodeSystem/consentaction';
/** Identifier system for client ids in Provenance (who, as software, made a change). */
export const ClientIdSystem = Systems.clientId;

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
  | 'withdrawn' | 'on-hold' | 'failed' | 'family' | 'young-person' | 'treating-team' | 'visit' | 'outpatient'
  | 'records-only' | 'external-second-opinion' | 'transfer-offer';

const DISPLAY: Record<EsoCode, string> = {
  'awaiting-consent': 'Awaiting consent', 'request-sent': 'Request sent', received: 'Received by provider',
  'records-shared': 'Records shared', accepted: 'Accepted by provider', 'visit-scheduled': 'Visit scheduled',
  'outpatient-scheduled': 'Outpatient appointment scheduled', 'records-review': 'Records under review',
  'report-issued': 'Report issued', 'discussed-with-family': 'Discussed with family', declined: 'Declined by provider',
  withdrawn: 'Withdrawn', 'on-hold': 'On hold', failed: 'Failed', family: 'Family', 'young-person': 'Young person',
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

/** Extensions of `url` directly on `holder`. */
export function extensionsOf(holder: { extension?: Extension[] } | undefined, url: string): Extension[] {
  return (holder?.extension ?? []).filter((e) => e.url === url);
}

/** A sub-extension (complex extension part) by its url. */
export function part(ext: Extension, url: string): Extension | undefined {
  return ext.extension?.find((e) => e.url === url);
}

/** "Type/id" of a Reference (relative, absolute on this server, or versioned), or undefined. */
export function keyOf(ref: Reference | undefined, baseUrl?: string): string | undefined {
  return ref?.reference ? referenceKey(ref.reference, baseUrl) : undefined;
}

/** [type, id] of a reference key. */
export function splitKey(key: string): [string, string] {
  const [type, id] = key.split('/');
  return [type, id];
}

/** One ESO question of a ServiceRequest, as plain data. */
export interface Question { linkId: string; text: string; askedBy?: string }

/** The eso-question extensions of a ServiceRequest. */
export function questionsOf(sr: { extension?: Extension[] }): Question[] {
  return extensionsOf(sr, Extensions.question).map((q) => ({
    linkId: part(q, 'linkId')?.valueString ?? '',
    text: part(q, 'text')?.valueString ?? '',
    askedBy: part(q, 'askedBy')?.valueCoding?.code,
  }));
}

/** One eso-answer of a DiagnosticReport, as plain data. */
export interface Answer { question: string; text: string }

export function answersOf(dr: { extension?: Extension[] }): Answer[] {
  return extensionsOf(dr, Extensions.answer).map((a) => ({
    question: part(a, 'question')?.valueString ?? '',
    text: part(a, 'text')?.valueString ?? '',
  }));
}
