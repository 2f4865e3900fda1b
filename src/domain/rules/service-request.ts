/**
 * The ESO request (ServiceRequest): independent provider (rule 1), distinct question linkIds
 * (answers point at them, rule 5), written and changed by the requesting side only, and never
 * re-pointed to another patient, requester or provider.
 */
import type { ServiceRequest } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { forbidden, unprocessable } from '../../shared/outcomes.ts';
import { actorOfRepo, partiesOfRequest } from '../case.ts';
import { questionsOf } from '../codes.ts';
import { actsFor } from '../organization-tree.ts';
import { Reader } from '../reader.ts';
import { assertIndependent } from './independence.ts';

/** Problems with the questions of a request (pure). */
export function questionProblems(sr: ServiceRequest): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const q of questionsOf(sr)) {
    if (!q.linkId) problems.push('every question needs a linkId');
    else if (seen.has(q.linkId)) problems.push(`linkId '${q.linkId}' is used by more than one question`);
    seen.add(q.linkId);
  }
  return problems;
}

/** The references that make a request what it is; changing them is a different request. */
function anchors(reader: Reader, sr: ServiceRequest): Record<string, string> {
  return {
    subject: reader.key(sr.subject) ?? '',
    requester: reader.key(sr.requester) ?? '',
    performer: (sr.performer ?? []).map((p) => reader.key(p) ?? '').sort().join(),
  };
}

export async function checkServiceRequestWrite(next: ServiceRequest, previous: ServiceRequest | undefined, repo: Repository): Promise<void> {
  const reader = Reader.ofRepo(repo);
  const problems = questionProblems(next);
  if (problems.length) throw unprocessable(`The questions of the request: ${problems.join('; ')}`, 'ServiceRequest.extension');
  if (previous) {
    const [a, b] = [anchors(reader, previous), anchors(reader, next)];
    for (const k of Object.keys(a)) {
      if (a[k] !== b[k]) throw unprocessable(`The ${k} of an ESO request cannot change: handing a case to someone else needs a new request`, `ServiceRequest.${k}`);
    }
  }
  // The requester may be a Practitioner (no organisation): then the ESO Task, whose requester is
  // always an Organization, carries the independence check and the case's sides.
  const { requester, performers } = await partiesOfRequest(reader, next);
  if (!requester) return;
  for (const p of performers) await assertIndependent(reader, requester, p, 'ServiceRequest.performer');
  const actor = actorOfRepo(repo);
  if (actor && !(await actsFor(reader, actor.organization, requester))) {
    throw forbidden('Only the requesting organisation may write or change an ESO request');
  }
}
