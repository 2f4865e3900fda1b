/** The ESO extensions as plain data: questions of a request, answers of a report (profiles/ defines them). */
import type { Extension } from 'fhir/r4.js';
import { Extensions } from '../fhir/eso-urls.ts';

/** Extensions of `url` directly on `holder`. */
export function extensionsOf(holder: { extension?: Extension[] } | undefined, url: string): Extension[] {
  return (holder?.extension ?? []).filter((e) => e.url === url);
}

/** A sub-extension (complex extension part) by its url. */
export function part(ext: Extension, url: string): Extension | undefined {
  return ext.extension?.find((e) => e.url === url);
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
