/**
 * The provider's confirmation of a cancellation (Trust to Trust, docs/FEDERATION.md): the requester's
 * cancel of a case whose provider another instance serves is a request (businessStatus cancel-requested,
 * domain/amend/cancel.ts and the Task rule). When the provider's instance answers the eso-cancel message
 * with a 2xx it has cancelled its copy, and only then does the requester's Task move to cancelled. The
 * server writes that move (the requester may not), so the domain hook tells the requester's EPR (RRI^I12)
 * and writes the Provenance as for any cancel; its AuditEvent commits with it. A 4xx (the provider had
 * started) leaves the Task as it is: the provider's own status messages move it on.
 */
import type { Task } from 'fhir/r4.js';
import { businessStatusOf, esoCoding } from '../domain/codes.ts';
import type { Actor } from '../domain/ports.ts';
import type { Repository } from '../fhir/repository.ts';
import type { QueuedMessage } from './messages.ts';
import type { ReceiverDeps } from './receiver.ts';

/**
 * Moves the message's Task to cancelled if it is still waiting for this confirmation, and writes the
 * AuditEvent in the same transaction (both or neither); a repeat changes nothing and records nothing.
 */
export async function cancelConfirmed(repoFor: (actor: Actor | undefined) => Repository, q: Pick<QueuedMessage, 'taskId' | 'requestId' | 'senderOds' | 'destinationOds'>,
  auditIn: ReceiverDeps['auditIn']): Promise<void> {
  await repoFor(undefined).inTx(async (repo, tx) => {
    const task = (await repo.read<Task>('Task', q.taskId)).resource;
    if (task.status === 'cancelled' || businessStatusOf(task) !== 'cancel-requested') return;
    await repo.update({ ...task, status: 'cancelled', businessStatus: { coding: [esoCoding('withdrawn')] } });
    // Granted to our own Trust (the requester), naming the Trust that confirmed and the eso-cancel message's X-Request-ID.
    await auditIn(tx, { organization: q.senderOds, agent: 'federation' },
      { status: 200, detail: `fhir-message-eso-cancel-confirmed (by ${q.destinationOds})`, entities: [`Task/${q.taskId}`], requestId: q.requestId });
  });
}
