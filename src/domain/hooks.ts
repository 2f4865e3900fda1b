/**
 * The ESO rules as one WriteHook, so they hold whichever way a write arrives (REST, transaction
 * Bundle, POST /eso/requests, HL7 v2): checks before the row is written, and after it (same
 * transaction) the Provenance, the case grants and the case events.
 */
import type { Consent, DiagnosticReport, Organization, Patient, PractitionerRole, Resource, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository, WriteHook } from '../fhir/repository.ts';
import { odsCodeOf } from '../fhir/uk-core.ts';
import type { StorageTx, StoredResource } from '../storage/types.ts';
import { actorOfRepo, isTransferOffer, odsOf, partiesOfTask, sideOf } from './case.ts';
import { caseOrgsOf, grantCase } from './grants.ts';
import { orgByOds } from './organization-tree.ts';
import type { CaseEvent, CaseEventSink, RemoteProvider, ResourceChangeSink } from './ports.ts';
import { taskProvenance } from './provenance.ts';
import { Reader } from './reader.ts';
import { checkConsentWrite } from './rules/consent.ts';
import { checkOrganizationWrite, checkPractitionerRoleWrite } from './rules/organization-entry.ts';
import { checkUniqueIdentifiers } from './rules/identity.ts';
import { checkPatientWrite } from './rules/patient.ts';
import { checkReportWrite } from './rules/report.ts';
import { checkServiceRequestWrite } from './rules/service-request.ts';
import { checkEsoTaskWrite } from './rules/task.ts';
import { checkTransferOfferWrite } from './rules/transfer.ts';

/** Status changes the ways out (HL7 v2 return messages, federation) are told about. */
const CASE_EVENT_KINDS = new Set<string>(['accepted', 'rejected', 'completed', 'cancelled']);

const checksBeforeWrite = (remoteProvider?: RemoteProvider) => async function beforeWrite(next: Resource, previous: StoredResource | undefined, repo: Repository, tx: StorageTx): Promise<void> {
  await checkUniqueIdentifiers(next, tx, Reader.ofRepo(repo));
  const prev = previous?.resource;
  switch (next.resourceType) {
    case 'Organization': return checkOrganizationWrite(next as Organization, prev as Organization | undefined, repo);
    case 'PractitionerRole': return checkPractitionerRoleWrite(next as PractitionerRole, prev as PractitionerRole | undefined, repo);
    case 'Patient': return checkPatientWrite(next as Patient, prev as Patient | undefined, repo);
    case 'ServiceRequest': return checkServiceRequestWrite(next as ServiceRequest, prev as ServiceRequest | undefined, repo);
    case 'Task': return isTransferOffer(next as Task)
      ? checkTransferOfferWrite(next as Task, prev as Task | undefined, repo)
      : checkEsoTaskWrite(next as Task, prev as Task | undefined, repo, remoteProvider);
    case 'Consent': return checkConsentWrite(next as Consent, prev as Consent | undefined, repo);
    case 'DiagnosticReport': return checkReportWrite(next as DiagnosticReport, prev as DiagnosticReport | undefined, repo);
    default: return undefined;
  }
}

async function caseEvent(reader: Reader, task: Task, kind: CaseEvent['kind']): Promise<CaseEvent | undefined> {
  const serviceRequest = await reader.ref<ServiceRequest>(task.focus);
  const patient = await reader.ref<Patient>(task.for);
  const { requester, owner } = await partiesOfTask(reader, task);
  const requesterOds = requester && odsCodeOf(requester);
  const providerOds = owner && odsCodeOf(owner);
  if (!serviceRequest || !patient || !requesterOds || !providerOds) return undefined;
  const event: CaseEvent = { kind, task, serviceRequest, patient, requesterOds, providerOds };
  if (kind === 'completed') {
    for (const o of task.output ?? []) {
      const dr = await reader.ref<DiagnosticReport>(o.valueReference);
      if (dr?.resourceType === 'DiagnosticReport') {
        event.report = dr;
        break;
      }
    }
  }
  return event;
}

/** The ESO request's status once its Task ends (FHIR request-status): done, or ended early. */
const REQUEST_STATUS_OF_ENDED_TASK: Partial<Record<Task['status'], ServiceRequest['status']>> = {
  completed: 'completed', rejected: 'revoked', cancelled: 'revoked', failed: 'revoked',
};

/** The request follows its ESO Task to the end, written by the system (either side may end the Task). */
async function followTask(task: Task, previous: Task | undefined, repo: Repository, reader: Reader): Promise<void> {
  const status = REQUEST_STATUS_OF_ENDED_TASK[task.status];
  if (!status || previous?.status === task.status || isTransferOffer(task)) return;
  const sr = await reader.ref<ServiceRequest>(task.focus);
  if (sr?.resourceType === 'ServiceRequest' && sr.status !== status) await repo.asSystem().update({ ...sr, status });
}

/** After a Task write: its Provenance, the case grants (on create), the case event and the request's status. */
async function afterTaskWrite(stored: StoredResource<Task>, previous: Task | undefined, repo: Repository, tx: StorageTx, sink?: CaseEventSink): Promise<void> {
  const reader = Reader.ofRepo(repo);
  const task = stored.resource;
  const actor = actorOfRepo(repo);
  const parties = await partiesOfTask(reader, task);
  const side = await sideOf(reader, actor, parties);
  const onBehalfOf = side === 'provider' ? parties.owner : side === 'requester' ? parties.requester : undefined;
  const actorOrg = actor ? await orgByOds(reader, actor.organization) : undefined;
  // Provenance is written by the server alone (access/server-written.ts): as the system, naming the actor.
  await repo.asSystem().create(taskProvenance({ stored, previous, actor, actorOrg, onBehalfOf }));
  if (!previous) {
    const sr = await reader.ref<ServiceRequest>(task.focus);
    if (sr) await grantCase(tx, reader, sr, [...new Set([...odsOf([parties.requester, parties.owner]), ...(await caseOrgsOf(reader, sr))])]);
  }
  await followTask(task, previous, repo, reader);
  // Last: queuing an outbound message holds its destination until commit.
  if (sink && !isTransferOffer(task) && previous?.status !== task.status && CASE_EVENT_KINDS.has(task.status)) {
    const event = await caseEvent(reader, task, task.status as CaseEvent['kind']);
    if (event) await sink.onCaseEvent(tx, event);
  }
}

/** Types whose writes the subscription sink hears of (Task status, reports, consent). */
const CHANGE_TYPES = new Set(['Task', 'DiagnosticReport', 'Consent']);

/**
 * The domain's WriteHook; `caseEvents` is told of accepted/rejected/completed/cancelled in the same
 * transaction, `changes` (subscriptions) of every Task, DiagnosticReport and Consent write, last.
 */
export function domainHook(caseEvents?: CaseEventSink, changes?: ResourceChangeSink, remoteProvider?: RemoteProvider): WriteHook {
  return {
    beforeWrite: checksBeforeWrite(remoteProvider),
    async afterWrite(stored, previous, repo, tx) {
      if (stored.resource.resourceType === 'Task') {
        await afterTaskWrite(stored as StoredResource<Task>, previous?.resource as Task | undefined, repo, tx, caseEvents);
      } else if (stored.resource.resourceType === 'ServiceRequest') {
        const reader = Reader.ofRepo(repo);
        const sr = stored.resource as ServiceRequest;
        await grantCase(tx, reader, sr, await caseOrgsOf(reader, sr));
      }
      if (changes && CHANGE_TYPES.has(stored.resource.resourceType)) await changes.onResourceChange(tx, { resource: stored.resource, previous: previous?.resource });
    },
  };
}
