/**
 * The Trust-to-Trust message vocabulary (docs/FEDERATION.md): the events of
 * profiles/CodeSystem-eso-message-event.json, who may send each, the per-case correlation id and
 * the sequence number carried on the MessageHeader. Pure: no I/O.
 * https://hl7.org/fhir/R4/messaging.html
 */
import { createHash } from 'node:crypto';
import type { Bundle, MessageHeader, Resource } from 'fhir/r4.js';
import { ESO_BASE, Systems } from '../fhir/eso-urls.ts';

export const MESSAGE_EVENT_SYSTEM = `${ESO_BASE}/CodeSystem/eso-message-event`;
/** MessageHeader extension: the sender's per-case message number (1, 2, ...): an older one never undoes a newer one. */
export const SEQUENCE_EXTENSION = `${ESO_BASE}/StructureDefinition/eso-message-sequence`;
/** MessageHeader extension: the case's correlation id (also the X-Correlation-ID header). */
export const CORRELATION_EXTENSION = `${ESO_BASE}/StructureDefinition/eso-correlation-id`;

export type MessageEvent = 'eso-request' | 'eso-update' | 'eso-consent-withdrawn' | 'eso-cancel' | 'eso-status' | 'eso-report';

/** Which side of the case sends each event: the requester asks, updates, withdraws and cancels; the provider answers. */
export const SENDER_SIDE: Readonly<Record<MessageEvent, 'requester' | 'provider'>> = {
  'eso-request': 'requester', 'eso-update': 'requester', 'eso-consent-withdrawn': 'requester', 'eso-cancel': 'requester',
  'eso-status': 'provider', 'eso-report': 'provider',
};

export const isMessageEvent = (code: string | undefined): code is MessageEvent => !!code && Object.hasOwn(SENDER_SIDE, code);

/**
 * The case's correlation id, the same on both sides without asking: derived from its business
 * identifiers (requesting organisation, request identifier), never from a server id.
 */
export function correlationIdOf(requesterOds: string, system: string, value: string): string {
  const h = createHash('sha256').update(`${requesterOds.toUpperCase()}|${system}|${value}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** What the outbox row of a message holds: no clinical content, only what names the message. */
export interface QueuedMessage {
  event: MessageEvent;
  /** X-Request-ID: one per message, the same on every retry. */
  requestId: string;
  correlationId: string;
  sequence: number;
  /** The local ESO Task the message is about. */
  taskId: string;
  /** ODS code of the local party (MessageHeader.sender) and of the peer's (destination). */
  senderOds: string;
  destinationOds: string;
}

export const odsRef = (ods: string) => ({ identifier: { system: Systems.odsCode, value: ods } });

/** The MessageHeader of a message bundle (its first entry), or undefined. */
export function headerOf(bundle: Bundle): MessageHeader | undefined {
  const first = bundle.entry?.[0]?.resource;
  return first?.resourceType === 'MessageHeader' ? (first as MessageHeader) : undefined;
}

/** The entries of `type` in a message bundle, in order. */
export function entriesOf<T extends Resource>(bundle: Bundle, type: T['resourceType']): T[] {
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is T => r?.resourceType === type);
}

/** A reference as written in the bundle ("Type/id"), resolved to the entry it names. */
export function resolveIn<T extends Resource>(bundle: Bundle, ref: { reference?: string } | undefined): T | undefined {
  const key = ref?.reference?.split('/').slice(-2).join('/');
  if (!key) return undefined;
  return (bundle.entry ?? []).map((e) => e.resource).find((r) => r && `${r.resourceType}/${r.id}` === key) as T | undefined;
}
