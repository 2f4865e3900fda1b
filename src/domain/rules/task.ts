/**
 * The ESO Task on write (docs/DESIGN.md "Task states"): consistent with its request, independent
 * provider (rule 1), transitions from the table made by the right side, the gates on accepted
 * (rule 2) and completed (rule 5), businessStatus consistent with status, and the due date of
 * urgent requests (rule 4).
 */
import type { Organization, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { conflict, forbidden, unprocessable } from '../../shared/outcomes.ts';
import { actorOfRepo, partiesOfRequest, partiesOfTask, sideOf } from '../case.ts';
import { businessStatusOf } from '../codes.ts';
import type { RemoteProvider } from '../ports.ts';
import { orgLabel } from '../organization-tree.ts';
import { Reader } from '../reader.ts';
import { fieldProblem } from '../task-fields.ts';
import { BUSINESS_STATUS_SETTER, businessStatusProblem, checkTransition, type Side } from '../task-states.ts';
import { assertIndependent, assertMayAccept } from './independence.ts';
import { reportForCompletion } from './report.ts';

/** Default time to the opinion for urgent requests (rule 4): days after authoredOn. */
export const DEFAULT_DUE_DAYS: Readonly<Record<string, number>> = { urgent: 14, asap: 7, stat: 2 };

/** The due date an urgent Task gets when none is given (ISO instant), or undefined for routine. */
export function defaultDue(priority: string | undefined, authoredOn: string | undefined, now = Date.now()): string | undefined {
  const days = priority ? DEFAULT_DUE_DAYS[priority] : undefined;
  if (days === undefined) return undefined;
  const from = authoredOn && !Number.isNaN(Date.parse(authoredOn)) ? Date.parse(authoredOn) : now;
  return new Date(from + days * 86_400_000).toISOString();
}

export interface TaskContext {
  reader: Reader;
  sr: ServiceRequest;
  requester: Organization;
  owner: Organization;
  side: Side | 'none' | undefined;
}

/** Resolves and checks what a Task stands on: its request, patient and the two organisations. */
export async function taskContext(task: Task, repo: Repository): Promise<TaskContext> {
  const reader = Reader.ofRepo(repo);
  const sr = await reader.ref<ServiceRequest>(task.focus);
  if (sr?.resourceType !== 'ServiceRequest') throw unprocessable('Task.focus must reference the ESO ServiceRequest (write the ServiceRequest first)', 'Task.focus');
  if (reader.key(task.for) !== reader.key(sr.subject)) throw unprocessable('Task.for must be the patient of the ServiceRequest', 'Task.for');
  const { requester, owner } = await partiesOfTask(reader, task);
  if (!requester) throw unprocessable('Task.requester must reference the requesting Organization (or a PractitionerRole with its organization)', 'Task.requester');
  if (!owner) throw unprocessable('Task.owner must reference the provider Organization (or a PractitionerRole with its organization)', 'Task.owner');
  const side = await sideOf(reader, actorOfRepo(repo), { requester, owner });
  return { reader, sr, requester, owner, side };
}

/** The ESO Task agrees with its ServiceRequest about who asks and who answers. */
async function assertMatchesRequest(ctx: TaskContext): Promise<void> {
  const { requester, performers } = await partiesOfRequest(ctx.reader, ctx.sr);
  if (requester && requester.id !== ctx.requester.id) {
    throw unprocessable(`Task.requester (${orgLabel(ctx.requester)}) must be the organisation that made the request (${orgLabel(requester)})`, 'Task.requester');
  }
  if (!performers.some((p) => p.id === ctx.owner.id)) {
    throw unprocessable(`Task.owner (${orgLabel(ctx.owner)}) must be the provider the request is addressed to (ServiceRequest.performer)`, 'Task.owner');
  }
}

function assertBusinessStatus(task: Task, previous: Task | undefined, side: TaskContext['side']): void {
  const code = businessStatusOf(task);
  const problem = businessStatusProblem(task.status, code);
  if (problem) throw unprocessable(`The ESO step does not fit the Task status: ${problem}`, 'Task.businessStatus');
  if (!code || code === (previous ? businessStatusOf(previous) : undefined) || side === undefined) return;
  const setter = BUSINESS_STATUS_SETTER[code];
  if (setter && side !== setter) {
    throw forbidden(`Only the ${setter === 'provider' ? 'provider' : 'requesting organisation'} records the step '${code}'`);
  }
}

/** beforeWrite of an ESO Task (not a transfer offer). Sets lastModified and the default due date. */
/**
 * `remoteProvider` (Trust to Trust): where another instance serves the provider, a requester's cancel is
 * a request (businessStatus cancel-requested) that the provider confirms; the move to cancelled itself is
 * then the server's, made when the provider's instance has cancelled (docs/FEDERATION.md).
 */
export async function checkEsoTaskWrite(next: Task, previous: Task | undefined, repo: Repository, remoteProvider?: RemoteProvider): Promise<void> {
  const ctx = await taskContext(next, repo);
  await assertIndependent(ctx.reader, ctx.requester, ctx.owner, 'Task.owner');
  if (!previous) {
    if (next.status !== 'requested') throw unprocessable(`A new ESO Task starts as 'requested', not '${next.status}'`, 'Task.status');
    await assertMatchesRequest(ctx);
    if (ctx.side === 'none' || ctx.side === 'provider') throw forbidden('Only the requesting organisation may create the ESO Task');
    if (!next.restriction?.period?.end) {
      const due = defaultDue(next.priority, next.authoredOn);
      if (due) next.restriction = { ...next.restriction, period: { ...next.restriction?.period, end: due } };
    }
  } else {
    const side = ctx.side === 'none' ? undefined : ctx.side;
    if (ctx.side === 'none') throw forbidden('Only the requesting organisation and the provider may change an ESO Task');
    const problem = fieldProblem(previous, next, side);
    if (problem?.kind === 'immutable') throw unprocessable(problem.message, `Task.${problem.field}`);
    if (problem) throw forbidden(problem.message);
    if (previous.status !== next.status) await checkTransitionGates(ctx, previous, next);
    else if (side === 'requester' && JSON.stringify(previous.statusReason ?? null) !== JSON.stringify(next.statusReason ?? null) && businessStatusOf(next) !== 'cancel-requested') {
      throw forbidden('The requesting organisation gives a statusReason only when it cancels');
    }
    if (side === 'requester' && next.status === 'cancelled' && previous.status !== 'cancelled' && (await remoteProvider?.(next, ctx.reader))) {
      throw conflict(`The provider of Task/${next.id} works at another Trust's eso-bridge: cancelling is a request it confirms. Set businessStatus 'cancel-requested' (the reason in statusReason); the Task is cancelled when the provider confirms`, 'Task.status');
    }
  }
  // Parties other than requester and provider were refused above.
  assertBusinessStatus(next, previous, ctx.side as Side | undefined);
  next.lastModified = new Date().toISOString();
}

async function checkTransitionGates(ctx: TaskContext, previous: Task, next: Task): Promise<void> {
  const side = ctx.side === 'none' ? undefined : ctx.side;
  const check = checkTransition(previous.status, next.status, side);
  if (!check.ok && check.reason === 'invalid') {
    const allowed = check.allowed.length ? `it may move to ${check.allowed.join(', ')}` : `'${previous.status}' is final`;
    throw conflict(`Task/${next.id} is '${previous.status}' and cannot move to '${next.status}': ${allowed}`, 'Task.status');
  }
  if (!check.ok) {
    throw forbidden(`Only the ${check.by === 'provider' ? 'provider (Task.owner)' : 'requesting organisation (Task.requester)'} may move an ESO Task from '${previous.status}' to '${next.status}'`);
  }
  if (next.status === 'accepted') await assertMayAccept(ctx.reader, next, ctx.owner);
  if (next.status === 'rejected' && !next.statusReason?.text?.trim() && !next.statusReason?.coding?.length) {
    throw unprocessable('A provider that declines says why (Task.statusReason)', 'Task.statusReason');
  }
  if (next.status === 'completed') await reportForCompletion(ctx.reader, next, ctx.sr);
}
