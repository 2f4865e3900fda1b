/**
 * Trust-to-Trust federation as the composition root sees it (docs/FEDERATION.md): the write hook that
 * queues messages for peers in the change's transaction, the outbox sender for `fed:<ODS>` destinations, and the $process-message receiver. Peers come from ESO_PEERS_FILE.
 */
import type { Repository, WriteHook } from '../fhir/repository.ts';
import type { Actor, RemoteProvider } from '../domain/ports.ts';
import type { Logger } from '../shared/logger.ts';
import type { OutboxMessage } from '../storage/types.ts';
import { fedDestination, FederationHook, routeOf } from './outbound.ts';
import { PeerClient } from './peer-client.ts';
import { PeerRegistry } from './peers.ts';
import { processMessage, type ProcessAnswer, type ReceiverDeps } from './receiver.ts';
import { federationSender, type FederationSenderDeps, type MarkResult } from './sender.ts';

export interface FederationDeps {
  /** ESO_PEERS_FILE; undefined = no peers (every case stays local). */
  peersFile: string | undefined;
  repoFor: (actor: Actor | undefined) => Repository;
  /** Our FHIR base (…/fhir). */
  base: () => string;
  log: Logger;
  /** Writes an AuditEvent in the caller's transaction: a message received, a cancel confirmed. */
  auditIn: ReceiverDeps['auditIn'];
  /** Records what a message discloses to the peer's Trust, before it leaves (sender.ts). */
  auditSend?: FederationSenderDeps['audit'];
  /** Time allowed for a peer's answer (ms); below the outbox lease. */
  timeoutMs?: number;
}

export interface Federation {
  /** After the domain's hook: queues messages for peers in the write's transaction. */
  hook: WriteHook;
  /** The outbox sender of `fed:<ODS>` destinations. */
  send: (msg: OutboxMessage, signal: AbortSignal) => Promise<MarkResult>;
  /** The outbox destinations of messages sent for our Trust `ods` (GET /admin/outbox shows them to it). */
  destinationsOf: (ods: string) => Promise<string[]>;
  receive: (body: unknown, headers: { requestId?: string; correlationId?: string }, actor: Actor | undefined) => Promise<ProcessAnswer>;
  /** Whether a peer serves the case's provider (the domain's RemoteProvider port: a cancel there is a request it confirms). */
  remoteProvider: RemoteProvider;
}

export function createFederation(deps: FederationDeps): Federation {
  const peers = new PeerRegistry(deps.peersFile, deps.log);
  const hook = new FederationHook({ peers, systemRepo: () => deps.repoFor(undefined) });
  const client = new PeerClient({ timeoutMs: deps.timeoutMs });
  return {
    hook,
    send: federationSender({ peers, client, log: deps.log, repoFor: deps.repoFor, base: deps.base, audit: deps.auditSend, auditIn: deps.auditIn }),
    destinationsOf: async (ods) => (await peers.list()).map((p) => fedDestination(p.organizations[0], ods)),
    remoteProvider: async (task, reader) => (await peers.list()).length > 0 && (await routeOf(reader, peers, task))?.side === 'requester',
    receive: (body, headers, actor) => processMessage(body, headers, actor, { repoFor: deps.repoFor, base: deps.base, auditIn: deps.auditIn }),
  };
}
