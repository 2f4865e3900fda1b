/**
 * REF^I14: the requester withdraws its request. The same move as the requester's cancel over FHIR
 * (Task → cancelled, businessStatus withdrawn, the reason in statusReason), made through the
 * repository acting for the sender, so the Task rules (task-states.ts) decide: refused (409) once
 * the provider has started the work. The ServiceRequest follows the Task (revoked) and the return
 * message goes out, both in the WriteHook (domain/hooks.ts).
 */
import type { Task } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { conflict } from '../../shared/outcomes.ts';
import { businessStatusOf, esoCoding } from '../codes.ts';
import { Reader } from '../reader.ts';
import type { Actor, CancelEsoRequest, IntakeResult, RemoteProvider, RequestRef, SubmitOptions } from '../ports.ts';
import { checkTransition } from '../task-states.ts';
import { findOwnCase } from './find-case.ts';

/** Why a cancel cannot be made, in words a sender's staff can act on. */
function refusalText(ref: RequestRef, task: Task): string {
  if (task.status === 'in-progress' || task.status === 'on-hold') {
    return `Referral ${ref.value} cannot be cancelled: the provider has started work on it (status ${task.status}). Contact the provider to stop it`;
  }
  return `Referral ${ref.value} cannot be cancelled: it is already closed (status ${task.status})`;
}

/**
 * `remoteProvider`: where another instance serves the provider (Trust to Trust), the cancel is a request:
 * the Task keeps its status with businessStatus cancel-requested until the provider's instance confirms.
 */
export function makeCancel(repoFor: (actor: Actor | undefined) => Repository, remoteProvider?: RemoteProvider): CancelEsoRequest {
  return async (ref, actor, opts: SubmitOptions = {}): Promise<IntakeResult> => repoFor(actor).inTx(async (repo, tx) => {
    const { task, serviceRequest } = await findOwnCase(repo, tx, ref, actor);
    let result: IntakeResult = { created: false, task, serviceRequest };
    // Cancelling a cancelled case again changes nothing (a resent I14 with a new MSH-10).
    if (task.status !== 'cancelled') {
      // Checked here only for a clearer message: the Task rules refuse the same move on write.
      if (!checkTransition(task.status, 'cancelled', undefined).ok) throw conflict(refusalText(ref, task), 'Task.status');
      const remote = (await remoteProvider?.(task, Reader.ofRepo(repo))) ?? false;
      // A request already asked of the provider is not asked again (a resent I14).
      if (remote && businessStatusOf(task) === 'cancel-requested') {
        await opts.within?.(tx, result);
        return result;
      }
      const next: Task = remote
        ? { ...task, businessStatus: { coding: [esoCoding('cancel-requested')] } }
        : { ...task, status: 'cancelled', businessStatus: { coding: [esoCoding('withdrawn')] } };
      if (ref.reason) next.statusReason = { text: ref.reason };
      const stored = (await repo.update(next)).resource;
      const sr = (await repo.read<typeof serviceRequest>('ServiceRequest', serviceRequest.id as string)).resource;
      result = { created: false, task: stored, serviceRequest: sr };
    }
    await opts.within?.(tx, result);
    return result;
  });
}
