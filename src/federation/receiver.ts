/**
 * POST [base]/$process-message: one message from a peer eso-bridge, applied in one transaction
 * acting for the sender's organisation (its registered client), so the case-access chain and the
 * ESO rules decide as for any other way in. In that transaction, in this order:
 *   1 the X-Request-ID's stored answer, if any: a repeat (also a concurrent one) gets it and writes nothing;
 *   2 the case's high-water mark: a message older than one applied is acknowledged and ignored;
 *   3 the change (apply-requester.ts / apply-provider.ts), the new mark, the AuditEvent and the answer.
 * The 2xx leaves only after that commit; a refusal (4xx) rolls everything back.
 * https://hl7.org/fhir/R4/messageheader-operation-process-message.html
 */
import type { Bundle, MessageHeader, Task } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import type { Actor } from '../domain/ports.ts';
import { forbidden } from '../shared/outcomes.ts';
import type { StorageTx } from '../storage/types.ts';
import { applyProviderMove } from './apply-provider.ts';
import { applyRequesterMessage } from './apply-requester.ts';
import { MESSAGE_EVENT_SYSTEM, odsRef, SENDER_SIDE } from './messages.ts';
import { partyOf } from './party.ts';
import { validateMessage, type IncomingMessage } from './validate-message.ts';
import { Reader } from '../domain/reader.ts';

/** Key scopes: the stored answer per sender and X-Request-ID; the last sequence applied per case and sender. */
export const MESSAGE_KEY_SCOPE = 'fed-message';
export const SEQUENCE_KEY_SCOPE = 'fed-sequence';
/** How long a stored answer is kept (30 days). */
const ANSWER_KEPT_MS = 30 * 86_400_000;

export interface ReceiverDeps {
  repoFor: (actor: Actor | undefined) => Repository;
  /** Our FHIR base (MessageHeader.source of the answer). */
  base: () => string;
  /** The message's AuditEvent, written in its transaction. */
  /** `requestId` is the message's X-Request-ID: the sender's audit and outbox row name the same message. */
  auditIn: (tx: StorageTx, actor: Actor, record: { status: number; detail: string; entities: string[]; requestId: string }) => Promise<void>;
}

export interface ProcessAnswer {
  status: number;
  bundle: Bundle;
  /** True when this is the stored answer to an earlier delivery of the same message. */
  replay: boolean;
}

function answer(m: IncomingMessage, deps: ReceiverDeps, task: Task | undefined, note: string): Bundle {
  const header: MessageHeader = {
    resourceType: 'MessageHeader', id: crypto.randomUUID(),
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${note}</div>` },
    eventCoding: { system: MESSAGE_EVENT_SYSTEM, code: m.event },
    destination: [{ endpoint: m.sourceEndpoint, receiver: odsRef(m.senderOds) }],
    sender: odsRef(m.destinationOds),
    source: { name: 'eso-bridge', endpoint: deps.base() },
    response: { identifier: m.headerId, code: 'ok' },
    ...(task ? { focus: [{ reference: `Task/${task.id}` }] } : {}),
  };
  return { resourceType: 'Bundle', type: 'message', timestamp: new Date().toISOString(), entry: [{ fullUrl: `urn:uuid:${header.id}`, resource: header }] };
}

/** Processes one message for the authenticated `actor`; throws OperationOutcomeError (4xx) for a refusal. */
export async function processMessage(body: unknown, headers: { requestId?: string; correlationId?: string }, actor: Actor | undefined, deps: ReceiverDeps): Promise<ProcessAnswer> {
  const m = validateMessage(body, headers);
  if (!actor) throw forbidden('A message is accepted from a peer acting for its organisation (a registered client), not from the system');
  if (m.senderOds !== actor.organization) throw forbidden(`MessageHeader.sender (${m.senderOds}) must be the organisation the client acts for (${actor.organization})`);
  const key = `${actor.organization}|${headers.requestId}`;
  return deps.repoFor(actor).inTx(async (_repo, tx) => {
    await tx.lock(`${MESSAGE_KEY_SCOPE}:${key}`);
    const stored = await tx.getKey(MESSAGE_KEY_SCOPE, key);
    if (stored) return { ...(JSON.parse(stored) as Omit<ProcessAnswer, 'replay'>), replay: true };
    const repoForTx = (a: Actor | undefined) => deps.repoFor(a).withTx(tx);
    // Who the message speaks for is settled before anything else is looked at (403).
    const party = await partyOf(m, actor, Reader.ofRepo(repoForTx(actor)));
    await tx.lock(`${SEQUENCE_KEY_SCOPE}:${m.correlationId}`);
    const markKey = `${m.correlationId}|${actor.organization}`;
    const applied = Number((await tx.getKey(SEQUENCE_KEY_SCOPE, markKey)) ?? 0);
    let task: Task | undefined;
    let note: string;
    if (m.sequence <= applied) {
      note = `Message ${m.sequence} is older than message ${applied}, already applied: acknowledged, not applied`;
    } else {
      task = SENDER_SIDE[m.event] === 'requester'
        ? await applyRequesterMessage(m, party, repoForTx, tx)
        : await applyProviderMove(m, party, repoForTx(party));
      await tx.setKey(SEQUENCE_KEY_SCOPE, markKey, String(m.sequence));
      note = `Message ${m.sequence} applied`;
    }
    const result = { status: 200, bundle: answer(m, deps, task, note) };
    await deps.auditIn(tx, actor, { status: 200, detail: `fhir-message-${m.event}`, entities: task ? [`Task/${task.id}`] : [], requestId: headers.requestId as string });
    // Kept a while for repeats; after that a repeat meets the high-water mark instead (acknowledged, not applied).
    await tx.putKey(MESSAGE_KEY_SCOPE, key, JSON.stringify(result), new Date(Date.now() + ANSWER_KEPT_MS).toISOString());
    return { ...result, replay: false };
  });
}
