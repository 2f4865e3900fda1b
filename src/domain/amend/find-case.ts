/**
 * The requester's own case, found by the request identifier it sent (REF^I13/I14 name it by RF1-6).
 * The key is the requesting organisation's own (intake/submit.ts `requestKey`), and every read goes
 * through the repository acting for the sender, so the case-access chain decides what exists: a
 * referral id another Trust uses is exactly an unknown id (same answer, no oracle).
 */
import type { ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { issuesError } from '../../shared/outcomes.ts';
import type { StorageTx } from '../../storage/types.ts';
import { requesterOrg } from '../intake/find-or-create.ts';
import { REQUEST_KEY_SCOPE, requestKey } from '../intake/submit.ts';
import { actsFor } from '../organization-tree.ts';
import type { Actor, RequestRef } from '../ports.ts';
import { Reader } from '../reader.ts';
import { identityLockKey } from '../rules/identity.ts';

export interface OwnCase { task: Task; serviceRequest: ServiceRequest; reader: Reader }

/** The answer for a case the caller has not sent (or may not see): the same words either way, pointing at the id (RF1-6). */
export const noReferral = (ref: RequestRef) =>
  issuesError(404, [{ severity: 'error', code: 'not-found', diagnostics: `no referral ${ref.value} from ${ref.requesterOds}`, expression: ['requestId.value'] }]);

/**
 * Locks the request identifier (as intake does, so an amendment and a replayed REF^I12 do not
 * interleave) and returns the requester's case, or throws 404. `repo` acts for `actor`.
 */
export async function findOwnCase(repo: Repository, tx: StorageTx, ref: RequestRef, actor: Actor | undefined): Promise<OwnCase> {
  const reader = Reader.ofRepo(repo);
  await tx.lock(`${identityLockKey('ServiceRequest', { system: ref.system, value: ref.value })}@${ref.requesterOds}`);
  // The sender speaks only for its own organisation (or one of its sites); anything else is unknown.
  const org = await requesterOrg({ repo, tx, reader }, ref.requesterOds).catch(() => undefined);
  if (!org || (actor && !(await actsFor(reader, actor.organization, org)))) throw noReferral(ref);
  const taskId = await tx.getKey(REQUEST_KEY_SCOPE, requestKey(ref.requesterOds, ref.system, ref.value));
  let task = taskId ? await reader.byKey<Task>(`Task/${taskId}`) : undefined;
  let sr = task ? await reader.ref<ServiceRequest>(task.focus) : undefined;
  if (!task) {
    // A case written over FHIR (no key): the requester's own ServiceRequest with that identifier.
    for (const found of await reader.search<ServiceRequest>('ServiceRequest', { identifier: `${ref.system}|${ref.value}` })) {
      const own = (await reader.search<Task>('Task', { focus: `ServiceRequest/${found.id}` })).find((t) => reader.key(t.requester) === `Organization/${org.id}`);
      if (own) {
        [sr, task] = [found, own];
        break;
      }
    }
  }
  if (!task || !sr) throw noReferral(ref);
  return { task, serviceRequest: sr, reader };
}
