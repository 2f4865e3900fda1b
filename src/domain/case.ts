/**
 * A case as the rules see it: the ESO Task, its ServiceRequest and Patient, and the two parties
 * (requesting organisation, provider organisation). Also who is acting, and on which side.
 */
import type { Organization, Patient, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import { odsCodeOf } from '../fhir/uk-core.ts';
import { hasCoding, Systems } from './codes.ts';
import { actsFor, orgOfRef } from './organization-tree.ts';
import type { Actor } from './ports.ts';
import type { Reader } from './reader.ts';
import type { Side } from './task-states.ts';

export interface Parties {
  requester?: Organization;
  owner?: Organization;
}

/** The acting organisation of a repository (undefined = the system: no tenancy, no side checks). */
export function actorOfRepo(repo: Repository): Actor | undefined {
  const org = repo.opts.orgs?.[0];
  return org ? { organization: org, agent: repo.opts.agent ?? 'unknown', ...(repo.opts.clinician ? { clinician: repo.opts.clinician } : {}) } : undefined;
}

/** True for the Task that records an offer to transfer care (never the ESO Task itself). */
export function isTransferOffer(task: Task): boolean {
  return hasCoding(task.code, Systems.esoCodes, 'transfer-offer');
}

/** The requesting and owning organisations of a Task. */
export async function partiesOfTask(reader: Reader, task: Task): Promise<Parties> {
  return { requester: await orgOfRef(reader, task.requester), owner: await orgOfRef(reader, task.owner) };
}

/** The requesting organisation of a ServiceRequest and its performer organisations. */
export async function partiesOfRequest(reader: Reader, sr: ServiceRequest): Promise<{ requester?: Organization; performers: Organization[] }> {
  const performers: Organization[] = [];
  for (const p of sr.performer ?? []) {
    const org = await orgOfRef(reader, p);
    if (org && !performers.some((x) => x.id === org.id)) performers.push(org);
  }
  return { requester: await orgOfRef(reader, sr.requester), performers };
}

/**
 * Which side of the case the actor is on: 'provider' if it acts for the owner, 'requester' if it
 * acts for the requester, 'none' otherwise; undefined for the system.
 */
export async function sideOf(reader: Reader, actor: Actor | undefined, parties: Parties): Promise<Side | 'none' | undefined> {
  if (!actor) return undefined;
  if (await actsFor(reader, actor.organization, parties.owner)) return 'provider';
  if (await actsFor(reader, actor.organization, parties.requester)) return 'requester';
  return 'none';
}

/** ODS codes of organisations, without gaps or repeats. */
export function odsOf(orgs: (Organization | undefined)[]): string[] {
  return [...new Set(orgs.map((o) => (o ? odsCodeOf(o) : undefined)).filter((c): c is string => !!c))];
}

export interface CaseView {
  task: Task;
  serviceRequest: ServiceRequest;
  patient: Patient;
  requester?: Organization;
  owner?: Organization;
}

/** The ESO case around a Task (read without tenancy: callers decide what to reveal). */
export async function caseOfTask(reader: Reader, task: Task): Promise<CaseView | undefined> {
  const serviceRequest = await reader.ref<ServiceRequest>(task.focus);
  const patient = await reader.ref<Patient>(task.for);
  if (!serviceRequest || !patient) return undefined;
  return { task, serviceRequest, patient, ...(await partiesOfTask(reader, task)) };
}
