/**
 * A Consent given after the request reaches the provider's copy of the case: the receiver makes its own
 * Consent as intake makes one (domain/intake/build.ts), for its own record of the child and family,
 * unless an active one already covers the request. A withdrawn Consent is never made active again:
 * consent given anew is a new Consent.
 */
import { newResourceId } from '../shared/resource-id.ts';
import type { Consent, Patient, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import type { EsoRequestInput } from '../domain/eso-request-input.ts';
import { buildConsent } from '../domain/intake/build.ts';
import { parentsFor } from '../domain/intake/find-or-create.ts';
import { Reader } from '../domain/reader.ts';
import type { StorageTx } from '../storage/types.ts';

/** Consents of the case's child that are about this request. */
export async function consentsOfRequest(reader: Reader, sr: ServiceRequest): Promise<Consent[]> {
  const all = await reader.search<Consent>('Consent', { patient: reader.key(sr.subject) ?? '' });
  return all.filter((c) => (c.provision?.data ?? []).some((d) => reader.key(d.reference) === `ServiceRequest/${sr.id}`));
}

export async function copyConsent(repo: Repository, tx: StorageTx, input: EsoRequestInput, task: Task, sr: ServiceRequest): Promise<void> {
  if (!input.consent) return;
  const reader = Reader.ofRepo(repo);
  if ((await consentsOfRequest(reader, sr)).some((c) => c.status === 'active')) return;
  const patient = await reader.ref<Patient>(sr.subject);
  if (!patient) return;
  const parents = await parentsFor({ repo, tx, reader }, input, patient);
  const ids = { serviceRequest: sr.id as string, task: task.id as string, consent: newResourceId(), records: [], conditions: [] };
  const consent = buildConsent(input, ids, { patient: sr.subject!, requesterOrg: task.requester!, providerOrg: task.owner!, consultant: sr.requester!, parents });
  if (consent) await repo.create(consent, { assignedId: consent.id });
}
