/**
 * Who a message speaks for: the case party its event belongs to (the requester for request,
 * update, consent withdrawal and cancel; the provider for status and report), which the sender's
 * organisation must be or act for (a Trust's client acts for its sites and teams). Anything else
 * is 403 and nothing is read further; a message addressed to someone else is 422. The one place these
 * rules are decided.
 */
import type { Organization, Task } from 'fhir/r4.js';
import { odsCodeOf } from '../fhir/uk-core.ts';
import { actsFor, orgByOds } from '../domain/organization-tree.ts';
import type { Actor } from '../domain/ports.ts';
import type { Reader } from '../domain/reader.ts';
import { badRequest, forbidden, unprocessable } from '../shared/outcomes.ts';
import { entriesOf, resolveIn, SENDER_SIDE } from './messages.ts';
import type { IncomingMessage } from './validate-message.ts';

/** The ODS codes of the case's two parties, as the message's Task names them (400 without them). */
export function partiesOfMessage(m: Pick<IncomingMessage, 'bundle'>): { requesterOds: string; providerOds: string; task: Task } {
  const task = entriesOf<Task>(m.bundle, 'Task')[0];
  const ods = (ref: Task['owner']) => odsCodeOf(resolveIn<Organization>(m.bundle, ref) ?? {});
  const requesterOds = task && ods(task.requester);
  const providerOds = task && ods(task.owner);
  if (!task || !requesterOds || !providerOds) throw badRequest('A message carries the Task with its requester and owner Organizations (with ODS codes)', 'Bundle.entry');
  return { requesterOds, providerOds, task };
}

/**
 * The party the message acts as (the sender's client acting for it), or 403. The message must also be
 * addressed to the other party here (MessageHeader.destination is it or one of its parents), or 422.
 */
export async function partyOf(m: IncomingMessage, actor: Actor, reader: Reader): Promise<Actor> {
  const side = SENDER_SIDE[m.event];
  const { requesterOds, providerOds } = partiesOfMessage(m);
  const ods = side === 'requester' ? requesterOds : providerOds;
  if (!(await actsFor(reader, actor.organization, await orgByOds(reader, ods)))) {
    throw forbidden(`${actor.organization} is not the ${side} of this case: only the ${side} sends ${m.event}`);
  }
  const other = side === 'requester' ? providerOds : requesterOds;
  if (!(await actsFor(reader, m.destinationOds, await orgByOds(reader, other)))) {
    throw unprocessable(`MessageHeader.destination (${m.destinationOds}) is not the ${side === 'requester' ? 'provider' : 'requester'} of this case (${other}) as this instance knows it`, 'MessageHeader.destination');
  }
  return { organization: ods, agent: actor.agent };
}
