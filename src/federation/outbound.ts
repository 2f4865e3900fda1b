/**
 * Which changes travel to a peer, decided in the change's own transaction: a message row in the
 * outbox on `fed:<peer ODS>` (ordered per destination, retried by the dispatcher) with a per-case
 * sequence number, committed with the change or not at all. The row names the message only
 * (event, ids, sequence); the Bundle is built when it is sent, as the peer's organisation may see
 * the case then (message-builder.ts).
 *
 * Each instance sends only its own side's moves: the side of the case that no peer serves is the
 * local one. So a change the receiver applied for the other side is never echoed back.
 */
import { randomUUID } from 'node:crypto';
import type { Consent, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import { odsCodeOf } from '../fhir/uk-core.ts';
import { isTransferOffer, partiesOfTask } from '../domain/case.ts';
import { chainOds } from '../domain/orgs.ts';
import type { ResourceChange, ResourceChangeSink } from '../domain/ports.ts';
import { Reader } from '../domain/reader.ts';
import type { StorageTx } from '../storage/types.ts';
import { correlationIdOf, type MessageEvent, type QueuedMessage } from './messages.ts';
import type { PeerRegistry } from './peers.ts';

/**
 * Outbox destination of a peer for one of our Trusts: `fed:<peer ODS>@<our Trust's ODS>` (one order per
 * pair, so each Trust sees its own messages in GET /admin/outbox and a case's messages keep their order).
 */
export const fedDestination = (peerOds: string, senderOds: string): string => `fed:${peerOds.toUpperCase()}@${senderOds.toUpperCase()}`;

/** The peer's ODS code in a `fed:` destination. */
export const peerOfDestination = (destination: string): string => destination.slice(destination.indexOf(':') + 1).split('@')[0];
export const fedKind = (event: MessageEvent): string => `fhir-message:${event}`;

/** Task fields the requester owns (docs/WORKFLOW.md "Who owns which field"): a change to them is an update. */
const REQUESTER_FIELDS = ['input', 'restriction', 'priority', 'description', 'reasonCode'] as const;
const WITHDRAWN = new Set<Consent['status']>(['inactive', 'rejected', 'entered-in-error']);

function requesterEvent(change: ResourceChange): MessageEvent | undefined {
  const r = change.resource;
  if (r.resourceType === 'Task') {
    const prev = change.previous as Task | undefined;
    const task = r as Task;
    if (!prev) return 'eso-request';
    if (task.status === 'cancelled' && prev.status !== 'cancelled') return 'eso-cancel';
    if (task.status !== prev.status) return undefined;
    return REQUESTER_FIELDS.some((f) => JSON.stringify(task[f] ?? null) !== JSON.stringify(prev[f] ?? null)) ? 'eso-update' : undefined;
  }
  const consent = r as Consent;
  const prev = change.previous as Consent | undefined;
  if (WITHDRAWN.has(consent.status)) return prev && !WITHDRAWN.has(prev.status) ? 'eso-consent-withdrawn' : undefined;
  return consent.status === 'active' ? 'eso-update' : undefined;
}

function providerEvent(change: ResourceChange): MessageEvent | undefined {
  if (change.resource.resourceType !== 'Task' || !change.previous) return undefined;
  const task = change.resource as Task;
  const prev = change.previous as Task;
  if (task.status === 'cancelled') return undefined;
  const moved = task.status !== prev.status || JSON.stringify(task.businessStatus ?? null) !== JSON.stringify(prev.businessStatus ?? null);
  if (!moved) return undefined;
  return task.status === 'completed' ? 'eso-report' : 'eso-status';
}

/** The ESO Task of a Consent: through the request it is about (provision.data 'related'). */
async function taskOfConsent(reader: Reader, consent: Consent): Promise<Task | undefined> {
  for (const d of consent.provision?.data ?? []) {
    const sr = await reader.ref<ServiceRequest>(d.reference);
    if (sr?.resourceType !== 'ServiceRequest') continue;
    const tasks = await reader.search<Task>('Task', { focus: `ServiceRequest/${sr.id}` });
    const task = tasks.find((t) => !isTransferOffer(t));
    if (task) return task;
  }
  return undefined;
}

/** Where a case's messages from this instance go, or undefined when it has none to send. */
export interface Route {
  /** Our side of the case: the one no peer serves. */
  side: 'requester' | 'provider';
  peer: { ods: string };
  /** Our Trust (the top of our party's chain): the client we are at the peer acts for it. */
  senderOds: string;
  correlationId: string;
}

/** The route of a case: exactly one side here (both here is a local case, both elsewhere is not ours to send). */
export async function routeOf(reader: Reader, peers: PeerRegistry, task: Task): Promise<Route | undefined> {
  const { requester, owner } = await partiesOfTask(reader, task);
  if (!requester || !owner) return undefined;
  const toProvider = await peers.peerOf(await chainOds(reader, owner));
  const toRequester = await peers.peerOf(await chainOds(reader, requester));
  if (!toProvider === !toRequester) return undefined;
  // The request identifier: the Task's, or (a case written over FHIR without one) its ServiceRequest's.
  const ident = task.identifier?.[0] ?? (await reader.ref<ServiceRequest>(task.focus))?.identifier?.[0];
  const requesterOds = odsCodeOf(requester);
  const senderOds = (await chainOds(reader, toProvider ? requester : owner)).at(-1);
  if (!ident?.system || !ident.value || !requesterOds || !senderOds) return undefined;
  return { side: toProvider ? 'requester' : 'provider', peer: (toProvider ?? toRequester)!, senderOds, correlationId: correlationIdOf(requesterOds, ident.system, ident.value) };
}

/** Queues one message in `tx`: its number is the case's next, its row goes behind the peer's others. */
export async function enqueueMessage(tx: StorageTx, route: Route, taskId: string, event: MessageEvent): Promise<number> {
  const message: QueuedMessage = {
    event, requestId: randomUUID(), correlationId: route.correlationId, sequence: await tx.nextSequence(`fed-out:${route.correlationId}`),
    taskId, senderOds: route.senderOds, destinationOds: route.peer.ods,
  };
  return tx.enqueueOutbound(fedDestination(route.peer.ods, route.senderOds), fedKind(event), JSON.stringify(message));
}

export interface OutboundDeps {
  peers: PeerRegistry;
  /** The system's repository (the sink reads the whole case to decide; what travels is decided at sending). */
  systemRepo: () => Repository;
}

export class FederationSink implements ResourceChangeSink {
  /** Tasks whose eso-request was queued in a transaction still open: its Consent and records travel with it. */
  private readonly requested = new WeakMap<StorageTx, Set<string>>();

  constructor(private readonly deps: OutboundDeps) {}

  async onResourceChange(tx: StorageTx, change: ResourceChange): Promise<void> {
    const type = change.resource.resourceType;
    if (type !== 'Task' && type !== 'Consent') return;
    if (type === 'Task' && isTransferOffer(change.resource as Task)) return;
    const reader = Reader.ofSystem(this.deps.systemRepo().withTx(tx));
    const task = type === 'Task' ? (change.resource as Task) : await taskOfConsent(reader, change.resource as Consent);
    if (!task?.id) return;
    const route = await routeOf(reader, this.deps.peers, task);
    if (!route) return;
    const event = route.side === 'requester' ? requesterEvent(change) : providerEvent(change);
    if (!event) return;
    const seen = this.requested.get(tx) ?? new Set<string>();
    if (event === 'eso-update' && seen.has(task.id)) return;
    if (event === 'eso-request') this.requested.set(tx, seen.add(task.id));
    await enqueueMessage(tx, route, task.id, event);
  }
}
