/**
 * What the app reads from the EHR's own FHIR API with the launch's access token (server-side only):
 * the Patient in context (its NHS number is how the child is matched), the signed-in clinician's
 * Practitioner (name, GMC number), and the Patient's DocumentReferences (records that can be shared).
 */
import type { DocumentReference, Patient, Practitioner } from 'fhir/r4.js';
import { gmcNumberOf, isValidNhsNumber, nhsNumberOf } from '../fhir/uk-core.ts';
import type { Clinician } from '../shared/call-context.ts';
import type { EhrPatient } from './sessions.ts';

const TIMEOUT_MS = 5000;

async function ehrRead<T>(url: string, token: string): Promise<T | undefined> {
  try {
    const res = await fetch(url, { headers: { accept: 'application/fhir+json', authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(TIMEOUT_MS) });
    return res.ok ? ((await res.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

/** The EHR Patient in context; its NHS number only when present and check-digit valid. */
export async function readEhrPatient(iss: string, id: string, token: string): Promise<EhrPatient> {
  const p = await ehrRead<Patient>(`${iss}/Patient/${encodeURIComponent(id)}`, token);
  const nhs = p ? nhsNumberOf(p)?.replace(/\s/g, '') : undefined;
  const name = p?.name?.[0];
  return { id, ...(nhs && isValidNhsNumber(nhs) ? { nhsNumber: nhs } : {}), given: name?.given?.[0], family: name?.family, birthDate: p?.birthDate, gender: p?.gender };
}

/** The clinician: their fhirUser, with the name and GMC number of the EHR's Practitioner where it can be read. */
export async function readClinician(fhirUser: string, iss: string, token: string, nameClaim?: string): Promise<Clinician> {
  const url = /^https?:\/\//.test(fhirUser) ? fhirUser : `${iss}/${fhirUser}`;
  const p = url.startsWith(`${iss}/Practitioner/`) ? await ehrRead<Practitioner>(url, token) : undefined;
  const n = p?.name?.[0];
  const display = n ? [...(n.prefix ?? []), ...(n.given ?? []), n.family].filter(Boolean).join(' ') : nameClaim;
  const gmc = p ? gmcNumberOf(p) : undefined;
  return { fhirUser: url, ...(display ? { display } : {}), ...(gmc ? { gmc } : {}) };
}

export interface EhrRecord {
  title: string;
  contentType: string;
  url: string;
}

/** The Patient's documents the EHR offers, each with where it lives (shared by reference). */
export async function readEhrRecords(iss: string, patientId: string, token: string): Promise<EhrRecord[]> {
  const bundle = await ehrRead<{ entry?: { resource?: DocumentReference }[] }>(`${iss}/DocumentReference?patient=${encodeURIComponent(patientId)}`, token);
  const out: EhrRecord[] = [];
  for (const e of bundle?.entry ?? []) {
    const doc = e.resource;
    const att = doc?.content?.[0]?.attachment;
    const url = att?.url && /^https?:\/\//.test(att.url) ? att.url : doc?.id ? `${iss}/DocumentReference/${doc.id}` : undefined;
    if (!url) continue;
    out.push({ title: att?.title ?? doc?.description ?? 'Document', contentType: att?.contentType ?? 'application/octet-stream', url });
  }
  return out;
}
