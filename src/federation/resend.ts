/**
 * `npm run cli -- case resend <taskId>`: after an outage (or once a refusal is put right), queue the
 * current state of a case for its peer again, as new messages with the case's next numbers: the
 * requester's side sends its request (the receiver makes the case, or applies it as an update), then
 * a withdrawal or cancellation if that is where the case stands; the provider's side sends its status
 * (its report when completed). Older copies still queued are answered "older, not applied".
 */
import type { Consent, Task } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import { Reader } from '../domain/reader.ts';
import { businessStatusOf } from '../domain/codes.ts';
import { notFound, unprocessable } from '../shared/outcomes.ts';
import type { MessageEvent } from './messages.ts';
import { enqueueMessage, routeOf } from './outbound.ts';
import type { PeerRegistry } from './peers.ts';

async function requesterEvents(reader: Reader, task: Task): Promise<MessageEvent[]> {
  const events: MessageEvent[] = ['eso-request'];
  const consents = await reader.search<Consent>('Consent', { patient: reader.key(task.for) ?? '' });
  const ours = consents.filter((c) => (c.provision?.data ?? []).some((d) => reader.key(d.reference) === reader.key(task.focus)));
  if (ours.length && !ours.some((c) => c.status === 'active')) events.push('eso-consent-withdrawn');
  if (task.status === 'cancelled' || businessStatusOf(task) === 'cancel-requested') events.push('eso-cancel');
  return events;
}

/** Queues the case's current state for its peer; returns the events queued. 404 for an unknown Task, 422 for a case no peer serves. */
export async function resendCase(taskId: string, systemRepo: Repository, peers: PeerRegistry): Promise<MessageEvent[]> {
  return systemRepo.inTx(async (repo, tx) => {
    const reader = Reader.ofSystem(repo);
    const task = await reader.byKey<Task>(`Task/${taskId}`);
    if (!task?.id) throw notFound(`Task/${taskId} is not known`);
    const route = await routeOf(reader, peers, task);
    if (!route) throw unprocessable(`Task/${taskId} is not carried to a peer (ESO_PEERS_FILE names no peer for the other side of this case)`);
    const events: MessageEvent[] = route.side === 'requester' ? await requesterEvents(reader, task) : [task.status === 'completed' ? 'eso-report' : 'eso-status'];
    for (const e of events) await enqueueMessage(tx, route, task.id, e);
    return events;
  });
}
