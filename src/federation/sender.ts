/**
 * The federation delivery of the outbox (the dispatcher picks this sender for `fed:<ODS>`): build
 * the message as the case stands, POST it to the peer, record the outcome. 2xx = sent (the peer
 * committed it); 4xx = failed, permanent, with the peer's OperationOutcome text (the sender's
 * users see it in GET /admin/outbox; the same message would get the same answer); 5xx, a network
 * error or a timeout = pending, retried with the dispatcher's backoff, in order (the next message
 * to that peer waits).
 */
import type { Logger } from '../shared/logger.ts';
import { isOutcomeError } from '../shared/outcomes.ts';
import type { OutboxMessage, Storage } from '../storage/types.ts';
import { cancelConfirmed } from './cancel-confirmed.ts';
import { buildMessage, type BuilderDeps } from './message-builder.ts';
import type { QueuedMessage } from './messages.ts';
import { peerOfDestination } from './outbound.ts';
import { PeerRefused, type PeerClient } from './peer-client.ts';
import type { PeerRegistry } from './peers.ts';
import type { ReceiverDeps } from './receiver.ts';

export type MarkResult = Parameters<Storage['markOutbound']>[1];

/** What one message discloses to the peer's Trust (every resource it carries), for the audit trail. */
export interface MessageDisclosure {
  /** The receiving Trust (MessageHeader.destination). */
  organization: string;
  event: string;
  /** X-Request-ID: the receiver's audit and the outbox row name the same message. */
  requestId: string;
  entities: string[];
}

export interface FederationSenderDeps extends BuilderDeps {
  peers: PeerRegistry;
  client: PeerClient;
  log: Logger;
  /** Records the disclosure before the message leaves, like any other (a failure leaves it pending, retried). */
  audit?: (d: MessageDisclosure) => Promise<void>;
  /** Writes an AuditEvent in a transaction of ours: the cancel confirmation's, with the Task's move. */
  auditIn: ReceiverDeps['auditIn'];
}

export function federationSender(deps: FederationSenderDeps) {
  return async (msg: OutboxMessage, signal: AbortSignal): Promise<MarkResult> => {
    const q = JSON.parse(msg.payload) as QueuedMessage;
    const peer = await deps.peers.byDestination(peerOfDestination(msg.destination));
    if (!peer) return { status: 'failed', error: `no route: no peer serves ${q.destinationOds} (ESO_PEERS_FILE)` };
    let bundle;
    try {
      bundle = await buildMessage(q, deps, peer.base);
    } catch (e) {
      if (isOutcomeError(e) && e.status === 404) return { status: 'failed', error: `the case is gone here: ${e.message}` };
      throw e;
    }
    const entities = (bundle.entry ?? []).map((e) => e.resource).filter((r) => r && r.resourceType !== 'MessageHeader').map((r) => `${r!.resourceType}/${r!.id}`);
    await deps.audit?.({ organization: q.destinationOds, event: q.event, requestId: q.requestId, entities });
    let answer;
    try {
      answer = await deps.client.send(peer, bundle, { requestId: q.requestId, correlationId: q.correlationId }, signal);
    } catch (e) {
      if (e instanceof PeerRefused) return { status: 'failed', error: e.message.slice(0, 300) };
      throw e;
    }
    const log = { outboxId: msg.id, event: q.event, sequence: q.sequence, peer: q.destinationOds, status: answer.status };
    if (answer.status >= 200 && answer.status < 300) {
      // The provider's instance cancelled its copy: now the requester's Task is cancelled (before the row is marked sent,
      // so a crash in between resends the message, gets the stored answer and confirms again, changing nothing).
      if (q.event === 'eso-cancel') await cancelConfirmed(deps.repoFor, q, deps.auditIn);
      return { status: 'sent' };
    }
    if (answer.status >= 400 && answer.status < 500) {
      deps.log.warn(log, 'federation message refused by the peer');
      return { status: 'failed', error: `HTTP ${answer.status}${answer.detail ? `: ${answer.detail}` : ''}` };
    }
    return { status: 'pending', error: `HTTP ${answer.status}${answer.detail ? `: ${answer.detail}` : ''}` };
  };
}
