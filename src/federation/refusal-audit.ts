/**
 * What the AuditEvent of a refused Trust-to-Trust message says about it, beside the agents the audit
 * trail always names (the authenticated client and its organisation): that it was a message, its
 * event when the message names one of ours, and who sent it as far as authentication says. A sender
 * that was not authenticated is recorded as such: what its MessageHeader.sender claims is not.
 */
import type { Actor } from '../domain/ports.ts';
import { headerOf, isMessageEvent, MESSAGE_EVENT_SYSTEM } from './messages.ts';

/** The event code of a message body, only when it is one of our CodeSystem's (a fixed word, never free text). */
function eventOf(body: unknown): string {
  const bundle = body as { resourceType?: unknown; entry?: unknown } | undefined;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle' || !Array.isArray(bundle.entry)) return 'not a message';
  const coding = headerOf(body as Parameters<typeof headerOf>[0])?.eventCoding;
  return coding?.system === MESSAGE_EVENT_SYSTEM && isMessageEvent(coding.code) ? coding.code : 'unknown event';
}

/** The AuditEvent detail of a message answered `status` >= 400; `sender` is the authenticated caller, if any. */
export function messageRefusalDetail(status: number, body: unknown, sender: Actor | undefined): string {
  const from = sender ? `from ${sender.organization} (authenticated)` : 'sender not authenticated (its MessageHeader.sender is not recorded)';
  return `fhir-message-${status < 500 ? 'refused' : 'failed'} (${eventOf(body)}), ${from}`;
}
