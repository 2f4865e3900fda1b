/**
 * REF^I13: the requester amends its open case. What the requesting side owns and may change over
 * the FHIR API (docs/DESIGN.md "Task states": the requester may update inputs) is taken from the
 * amended request: the questions, family statement, reason, urgency and due date, and records
 * added. Everything is written through the repository acting for the sender, so the same
 * WriteHook rules as a FHIR update decide; a closed case is refused (409).
 * @see HL7 v2.5.1 section 11.5.3 (REF^I13), mappings/README.md "Amend and cancel"
 */
import type { Condition, Extension, ServiceRequest, Task } from 'fhir/r4.js';
import { randomUUID } from 'node:crypto';
import type { Repository } from '../../fhir/repository.ts';
import { conflict } from '../../shared/outcomes.ts';
import { Extensions, Systems } from '../codes.ts';
import type { EsoRequestInput } from '../eso-request-input.ts';
import { buildConditions, buildRecords, buildServiceRequest, dueOf, type CaseIds, type CaseParties } from '../intake/build.ts';
import { parseEsoRequest } from '../intake/parse-request.ts';
import type { Actor, AmendEsoRequest, AmendResult, SubmitOptions } from '../ports.ts';
import { TERMINAL } from '../task-states.ts';
import { findOwnCase } from './find-case.ts';

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const withUrl = (sr: ServiceRequest, url: string) => (sr.extension ?? []).filter((e) => e.url === url);

/** The ServiceRequest as the amended input says it, and what changed in words. */
function amendedRequest(input: EsoRequestInput, sr: ServiceRequest, task: Task): { next: ServiceRequest; changed: string[] } {
  // Built like a new request, only for the parts the requester may change (references are the stored ones).
  const parties = { patient: sr.subject, requesterOrg: task.requester, providerOrg: task.owner, consultant: sr.requester, parents: [] } as unknown as CaseParties;
  const ids: CaseIds = { serviceRequest: sr.id as string, task: task.id as string, consent: '', records: [], conditions: [] };
  const fresh = buildServiceRequest(input, ids, parties, sr.authoredOn ?? '');
  const owned = new Set<string>([Extensions.question, Extensions.familyStatement]);
  const extension: Extension[] = [
    ...(sr.extension ?? []).filter((e) => !owned.has(e.url)),
    ...(fresh.extension ?? []).filter((e) => owned.has(e.url)),
  ];
  const next: ServiceRequest = { ...sr, extension, priority: fresh.priority, reasonCode: fresh.reasonCode };
  const changed: string[] = [];
  if (!same(withUrl(sr, Extensions.question), withUrl(next, Extensions.question))) changed.push('questions');
  if (!same(withUrl(sr, Extensions.familyStatement), withUrl(next, Extensions.familyStatement))) changed.push('family statement');
  if (!same(sr.reasonCode, next.reasonCode)) changed.push('reason');
  if (sr.priority !== next.priority) changed.push('urgency');
  return { next, changed };
}

/** Records in the amended request that the case does not hold yet (by title): added, never removed. */
async function addRecords(repo: Repository, input: EsoRequestInput, sr: ServiceRequest, task: Task): Promise<ServiceRequest['supportingInfo']> {
  const held = new Set((sr.supportingInfo ?? []).map((r) => r.display));
  const added = input.records.filter((r) => !held.has(r.title));
  if (!added.length) return undefined;
  const only = { ...input, records: added };
  const ids: CaseIds = { serviceRequest: sr.id as string, task: task.id as string, consent: '', conditions: [], records: added.map((r) => ({ doc: randomUUID(), ...(r.data ? { binary: randomUUID() } : {}) })) };
  const parties = { patient: sr.subject, requesterOrg: task.requester } as CaseParties;
  for (const { doc, binary } of buildRecords(only, ids, parties, new Date().toISOString())) {
    await repo.create(doc, { assignedId: doc.id });
    if (binary) await repo.create(binary, { assignedId: binary.id });
  }
  return [...(sr.supportingInfo ?? []), ...ids.records.map((r, i) => ({ reference: `DocumentReference/${r.doc}`, display: added[i].title }))];
}

export function makeAmend(repoFor: (actor: Actor | undefined) => Repository): AmendEsoRequest {
  return async (raw, actor, opts: SubmitOptions = {}): Promise<AmendResult> => {
    const input = parseEsoRequest(raw);
    const ref = { requesterOds: input.requester.organization, system: input.requestId.system ?? Systems.esoRequestId, value: input.requestId.value };
    return repoFor(actor).inTx(async (repo, tx) => {
      const { task, serviceRequest: sr } = await findOwnCase(repo, tx, ref, actor);
      if (TERMINAL.has(task.status)) throw conflict(`Referral ${ref.value} cannot be amended: it is closed (status ${task.status})`, 'Task.status');
      const { next, changed } = amendedRequest(input, sr, task);
      if (changed.includes('reason') && !same(sr.reasonCode?.[0]?.coding, next.reasonCode?.[0]?.coding)) {
        // New reason codes: Conditions of their own, as intake writes them.
        const conditions = buildConditions(input, { serviceRequest: '', task: '', consent: '', records: [], conditions: (input.reason.codes ?? []).map(() => randomUUID()) }, sr.subject, new Date().toISOString());
        for (const c of conditions) await repo.create<Condition>(c, { assignedId: c.id });
        next.reasonReference = conditions.length ? conditions.map((c) => ({ reference: `Condition/${c.id}` })) : undefined;
        if (!next.reasonReference) delete next.reasonReference;
      }
      const supportingInfo = await addRecords(repo, input, sr, task);
      if (supportingInfo) {
        next.supportingInfo = supportingInfo;
        changed.push('records');
      }
      const storedSr = changed.length ? (await repo.update(next)).resource : sr;
      // The Task carries the urgency and the due date (restriction.period.end).
      const nextTask: Task = { ...task, priority: input.urgency };
      const due = dueOf(input, task.authoredOn ?? new Date().toISOString());
      if (due) nextTask.restriction = { ...task.restriction, period: { ...task.restriction?.period, end: due } };
      if (due && due !== task.restriction?.period?.end) changed.push('due date');
      const storedTask = same(task, nextTask) ? task : (await repo.update(nextTask)).resource;
      const result: AmendResult = { created: false, task: storedTask, serviceRequest: storedSr, changed };
      await opts.within?.(tx, result);
      return result;
    });
  };
}
