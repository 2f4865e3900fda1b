/**
 * eso-request, eso-update, eso-consent-withdrawn and eso-cancel at the provider's Trust, made by the
 * domain's own operations (intake, amend, cancel) through a repository acting for the requesting
 * organisation in the message's transaction: the receiver's copy of the case is the requester's
 * record there, linked by the request identifier, and every rule applies as for any way in.
 */
import type { ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import { makeAmend } from '../domain/amend/amend.ts';
import { makeCancel } from '../domain/amend/cancel.ts';
import { findOwnCase } from '../domain/amend/find-case.ts';
import { makeSubmit } from '../domain/intake/submit.ts';
import type { Actor } from '../domain/ports.ts';
import { Reader } from '../domain/reader.ts';
import type { StorageTx } from '../storage/types.ts';
import { entriesOf } from './messages.ts';
import { requestInputOf } from './request-input.ts';
import { consentsOfRequest, copyConsent } from './consent-copy.ts';
import { parseEsoRequest } from '../domain/intake/parse-request.ts';
import type { EsoRequestInput } from '../domain/eso-request-input.ts';
import type { IncomingMessage } from './validate-message.ts';

type RepoFor = (actor: Actor | undefined) => Repository;

/** Withdraws the receiver's copy of the Consent: the provider's copies of the records are unreadable from the next read on. */
async function withdrawConsent(repo: Repository, sr: ServiceRequest): Promise<void> {
  const reader = Reader.ofRepo(repo);
  for (const c of await consentsOfRequest(reader, sr)) if (c.status === 'active') await repo.update({ ...c, status: 'inactive' });
}

/** Applies a requester's message as `party` (the requesting organisation, party.ts); returns the receiver's Task for the case. */
export async function applyRequesterMessage(m: IncomingMessage, party: Actor, repoFor: RepoFor, tx: StorageTx): Promise<Task> {
  const repo = repoFor(party);
  // Only a request or an update needs the whole case as intake reads it (400 when a part is missing).
  const input = () => parseEsoRequest(requestInputOf(m.bundle, m.serviceRequest));
  /** An update: amend (questions, urgency, due date, records), then a Consent given since. */
  const update = async (input: EsoRequestInput) => {
    const result = await makeAmend(repoFor)(input, party);
    await copyConsent(repo, tx, input, result.task, result.serviceRequest);
    return result.task;
  };
  const ident = m.serviceRequest.identifier![0];
  const ref = { requesterOds: party.organization, system: ident.system!, value: ident.value! };
  if (m.event === 'eso-request') {
    const request = input();
    const result = await makeSubmit(repoFor)(request, party);
    // The same request again (a resend after an outage): its current state is an update.
    return result.created ? result.task : update(request);
  }
  if (m.event === 'eso-update') return update(input());
  if (m.event === 'eso-cancel') {
    const reason = entriesOf<Task>(m.bundle, 'Task')[0]?.statusReason?.text;
    return (await makeCancel(repoFor)({ ...ref, ...(reason ? { reason } : {}) }, party)).task;
  }
  // eso-consent-withdrawn: always accepted, whatever the case's state.
  const { task, serviceRequest } = await findOwnCase(repo, tx, ref, party);
  await withdrawConsent(repo, serviceRequest);
  return task;
}
