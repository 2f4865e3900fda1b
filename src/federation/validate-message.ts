/**
 * The shape of an incoming message, checked before anything is read or written (400 with the
 * path): a Bundle of type `message`, its MessageHeader first, an event of our CodeSystem, sender
 * and destination ODS codes, the focus ServiceRequest inside the Bundle, the per-case sequence
 * number and correlation id, and the X-Request-ID / X-Correlation-ID headers (BaRS) agreeing with it.
 */
import type { Bundle, ServiceRequest } from 'fhir/r4.js';
import { Systems } from '../fhir/eso-urls.ts';
import { badRequest } from '../shared/outcomes.ts';
import { partiesOfMessage } from './party.ts';
import { CORRELATION_EXTENSION, correlationIdOf, headerOf, isMessageEvent, MESSAGE_EVENT_SYSTEM, resolveIn, SEQUENCE_EXTENSION, type MessageEvent } from './messages.ts';

export interface IncomingMessage {
  bundle: Bundle;
  event: MessageEvent;
  senderOds: string;
  destinationOds: string;
  /** The focus: the sender's ServiceRequest (its identifier is the case's business identifier). */
  serviceRequest: ServiceRequest;
  sequence: number;
  correlationId: string;
  /** MessageHeader.id, echoed in the response. */
  headerId: string;
  /** MessageHeader.source.endpoint: where the answer's destination points. */
  sourceEndpoint: string;
}

const ID_RE = /^[A-Za-z0-9\-._:]{1,128}$/;
const odsOf = (r: { identifier?: { system?: string; value?: string } } | undefined) =>
  r?.identifier?.system === Systems.odsCode && /^[A-Z0-9]{3,10}$/.test(r.identifier.value ?? '') ? r.identifier.value : undefined;

export function validateMessage(body: unknown, headers: { requestId?: string; correlationId?: string }): IncomingMessage {
  if (!headers.requestId || !ID_RE.test(headers.requestId)) throw badRequest('X-Request-ID is required: one id per message (letters, digits, - . _ :)', 'X-Request-ID');
  const bundle = body as Bundle;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle' || bundle.type !== 'message') throw badRequest('$process-message takes a Bundle of type message', 'Bundle.type');
  if (!Array.isArray(bundle.entry) || bundle.entry.some((e) => !e || typeof e !== 'object' || !e.resource || typeof e.resource !== 'object')) throw badRequest('Every entry of the message carries a resource', 'Bundle.entry');
  const header = headerOf(bundle);
  if (!header || typeof header.id !== 'string') throw badRequest('The first entry of a message is its MessageHeader, with an id', 'Bundle.entry[0]');
  const code = header.eventCoding?.system === MESSAGE_EVENT_SYSTEM ? header.eventCoding.code : undefined;
  if (!isMessageEvent(code)) throw badRequest(`MessageHeader.eventCoding must be a code of ${MESSAGE_EVENT_SYSTEM}`, 'MessageHeader.eventCoding');
  const senderOds = odsOf(header.sender);
  if (!senderOds) throw badRequest('MessageHeader.sender names the sending organisation by its ODS code', 'MessageHeader.sender');
  const destinationOds = odsOf(header.destination?.[0]?.receiver);
  if (!destinationOds) throw badRequest('MessageHeader.destination[0].receiver names the receiving organisation by its ODS code', 'MessageHeader.destination');
  const sr = resolveIn<ServiceRequest>(bundle, header.focus?.[0]);
  const ident = sr?.resourceType === 'ServiceRequest' ? sr.identifier?.[0] : undefined;
  if (!sr || !ident?.system || !ident.value) throw badRequest('MessageHeader.focus is the ServiceRequest in the Bundle, with its request identifier', 'MessageHeader.focus');
  const sequence = header.extension?.find((e) => e.url === SEQUENCE_EXTENSION)?.valuePositiveInt;
  if (!Number.isInteger(sequence) || (sequence as number) < 1) throw badRequest('MessageHeader carries its per-case sequence number (eso-message-sequence, 1 or more)', 'MessageHeader.extension');
  const correlationId = header.extension?.find((e) => e.url === CORRELATION_EXTENSION)?.valueString;
  if (!correlationId || (headers.correlationId && headers.correlationId !== correlationId)) throw badRequest('X-Correlation-ID and the MessageHeader\'s eso-correlation-id name the same case', 'X-Correlation-ID');
  // The correlation id is the case's, derived from its business identifiers: a message cannot borrow another case's.
  const { requesterOds } = partiesOfMessage({ bundle });
  if (correlationIdOf(requesterOds, ident.system, ident.value) !== correlationId) throw badRequest('The eso-correlation-id is not the one of the case the message is about (requesting organisation and request identifier)', 'MessageHeader.extension');
  return { bundle, event: code, senderOds, destinationOds, serviceRequest: sr, sequence: sequence as number, correlationId, headerId: header.id,
    sourceEndpoint: typeof header.source?.endpoint === 'string' ? header.source.endpoint : 'unknown' };
}
