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
import type { Consent, DocumentReference, Reference, Resource, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository, WriteHook } from '../fhir/repository.ts';
import { odsCodeOf } from '../fhir/uk-core.ts';
import { isTransferOffer, partiesOfTask } from '../domain/case.ts';
import { businessStatusOf } from '../domain/codes.ts';
import { chainOds } from '../domain/organization-tree.ts';
import { Reader } from '../domain/reader.ts';
import type { StorageTx, StoredResource } from '../storage/types.ts';
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
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** A write as the hook sees it: the new version and the one before (undefined on create). */
export interface Change { resource: Resource; previous?: Resource }

function requesterEvent(change: Change): MessageEvent | undefined {
  const r = change.resource;
  if (r.resourceType === 'Task') {
    const prev = change.previous as Task | undefined;
    const task = r as Task;
    if (!prev) return 'eso-request';
    // A cancel is a request the provider confirms (businessStatus cancel-requested); the confirmation's own
    // move to cancelled, written here once the provider has cancelled, is not sent back.
    if (businessStatusOf(task) === 'cancel-requested' && businessStatusOf(prev) !== 'cancel-requested') return 'eso-cancel';
    if (task.status !== prev.status) return undefined;
    return REQUESTER_FIELDS.some((f) => !same(task[f], prev[f])) ? 'eso-update' : undefined;
  }
  if (r.resourceType === 'Consent') {
    const consent = r as Consent;
    const prev = change.previous as Consent | undefined;
    if (WITHDRAWN.has(consent.status)) return prev && !WITHDRAWN.has(prev.status) ? 'eso-consent-withdrawn' : undefined;
    return consent.status === 'active' ? 'eso-update' : undefined;
  }
  // A record attached later travels when it is attached; the request's own changes (questions, reason, ...)
  // travel too, but not the status it takes when its Task ends (the Task's own message says that).
  if (r.resourceType === 'DocumentReference') return change.previous ? undefined : 'eso-update';
  if (r.resourceType === 'ServiceRequest' && change.previous) {
    const { status: _s, meta: _m, ...next } = r as ServiceRequest;
    const { status: _ps, meta: _pm, ...prev } = change.previous as ServiceRequest;
    return same(next, prev) ? undefined : 'eso-update';
  }
  return undefined;
}

function providerEvent(change: Change): MessageEvent | undefined {
  if (change.resource.resourceType !== 'Task' || !change.previous) return undefined;
  const task = change.resource as Task;
  const prev = change.previous as Task;
  if (task.status === 'cancelled') return undefined;
  const moved = task.status !== prev.status || !same(task.businessStatus, prev.businessStatus);
  if (!moved) return undefined;
  return task.status === 'completed' ? 'eso-report' : 'eso-status';
}

/** The ESO Task of a request. */
async function taskOfRequest(reader: Reader, ref: Reference | undefined): Promise<Task | undefined> {
  const sr = await reader.ref<ServiceRequest>(ref);
  if (sr?.resourceType !== 'ServiceRequest') return undefined;
  return (await reader.search<Task>('Task', { focus: `ServiceRequest/${sr.id}` })).find((t) => !isTransferOffer(t));
}

/** The ESO Task a written resource belongs to: itself, or through the request it is about. */
async function taskOf(reader: Reader, r: Resource): Promise<Task | undefined> {
  if (r.resourceType === 'Task') return isTransferOffer(r as Task) ? undefined : (r as Task);
  const refs: (Reference | undefined)[] = r.resourceType === 'ServiceRequest' ? [{ reference: `ServiceRequest/${r.id}` }]
    : r.resourceType === 'Consent' ? ((r as Consent).provision?.data ?? []).map((d) => d.reference)
      : r.resourceType === 'DocumentReference' ? ((r as DocumentReference).context?.related ?? []) : [];
  for (const ref of refs) {
    const task = await taskOfRequest(reader, ref);
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
  /** The system's repository (the hook reads the whole case to decide; what travels is decided at sending). */
  systemRepo: () => Repository;
}

const WATCHED = new Set(['Task', 'Consent', 'ServiceRequest', 'DocumentReference']);

/** A WriteHook (after the domain's): a change of our side of a case queues a message for the peer, in the write's transaction. */
export class FederationHook implements WriteHook {
  /** Tasks with a request or update queued in a transaction still open: one carries the whole state, so one is enough. */
  private readonly queued = new WeakMap<StorageTx, Set<string>>();

  constructor(private readonly deps: OutboundDeps) {}

  async afterWrite(stored: StoredResource, previous: StoredResource | undefined, _repo: Repository, tx: StorageTx): Promise<void> {
    // Without peers (most deployments) a write costs nothing more here.
    if (!WATCHED.has(stored.resource.resourceType)) return;
    const change: Change = { resource: stored.resource, previous: previous?.resource };
    // Most writes are no event for either side: decided from the change alone, before any read.
    if (!requesterEvent(change) && !providerEvent(change)) return;
    if (!(await this.deps.peers.list()).length) return;
    const reader = Reader.ofSystem(this.deps.systemRepo().withTx(tx));
    const task = await taskOf(reader, change.resource);
    if (!task?.id) return;
    const route = await routeOf(reader, this.deps.peers, task);
    if (!route) return;
    const event = route.side === 'requester' ? requesterEvent(change) : providerEvent(change);
    if (!event) return;
    const seen = this.queued.get(tx) ?? new Set<string>();
    if (event === 'eso-update' && seen.has(task.id)) return;
    if (event === 'eso-request' || event === 'eso-update') this.queued.set(tx, seen.add(task.id));
    await enqueueMessage(tx, route, task.id, event);
  }
}
