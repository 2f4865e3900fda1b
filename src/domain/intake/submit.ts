/**
 * The one intake function (POST /eso/requests, HL7 v2 REF^I12): in one transaction, finds or
 * creates the child, family, clinicians and organisations, and writes the ServiceRequest, records,
 * Consent and Task of a new ESO case. Idempotent on requestId: the same request again (also
 * concurrently) returns the same case with created = false. Every write goes through the
 * Repository, so the WriteHook rules apply here exactly as on the FHIR API.
 */
import { newResourceId } from '../../shared/resource-id.ts';
import type { Condition, Organization, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { unprocessable } from '../../shared/outcomes.ts';
import { actsFor } from '../organization-tree.ts';
import type { Actor, IntakeResult, SubmitOptions } from '../ports.ts';
import { Reader } from '../reader.ts';
import { assertIndependent } from '../rules/independence.ts';
import { identityLockKey } from '../rules/identity.ts';
import { Systems } from '../codes.ts';
import type { EsoRequestInput } from '../eso-request-input.ts';
import { buildConditions, buildConsent, buildRecords, buildServiceRequest, buildTask, type CaseIds, type CaseParties } from './build.ts';
import { parentsFor, patientFor, providerOrg, refTo, requesterOrg, roleFor, type Directory } from './find-or-create.ts';
import { parseEsoRequest } from './parse-request.ts';

/** idempotency keys: scope -> "<requesting ODS code>|system|value" -> Task id. */
export const REQUEST_KEY_SCOPE = 'eso-request';

/**
 * The key of a request identifier. It is the requesting organisation's own: what another
 * organisation has sent never changes the answer (no oracle, no clash across Trusts).
 */
export function requestKey(requesterOds: string, system: string, value: string): string {
  return `${requesterOds}|${system}|${value}`;
}

/** The case this requester's requestId already made, if any (under the lock, so replays see it). */
async function existingCase(d: Directory, requester: Organization, key: string, system: string, value: string): Promise<IntakeResult | undefined> {
  const taskId = await d.tx.getKey(REQUEST_KEY_SCOPE, key);
  let task = taskId ? await d.reader.byKey<Task>(`Task/${taskId}`) : undefined;
  let sr = task ? await d.reader.ref<ServiceRequest>(task.focus) : undefined;
  if (!task) {
    // A case written over FHIR (no key): the requester's own ServiceRequest with that identifier.
    for (const found of await d.reader.search<ServiceRequest>('ServiceRequest', { identifier: `${system}|${value}` })) {
      const tasks = await d.reader.search<Task>('Task', { focus: `ServiceRequest/${found.id}` });
      const own = tasks.find((t) => d.reader.key(t.requester) === `Organization/${requester.id}`);
      if (own) [sr, task] = [found, own];
      if (own) break;
    }
  }
  if (!sr || !task) return undefined;
  return { created: false, task, serviceRequest: sr };
}

/** The caller may ask on behalf of the requester organisation (itself, or one of its sites/teams). */
async function checkActor(d: Directory, actor: Actor | undefined, ods: string): Promise<Organization> {
  const org = await requesterOrg(d, ods);
  if (actor && !(await actsFor(d.reader, actor.organization, org))) {
    throw unprocessable(`The requesting organisation ${ods} must be the caller's own organisation (${actor?.organization}) or one of its sites or teams`, 'requester.organization');
  }
  return org;
}

function newIds(input: EsoRequestInput): CaseIds {
  return {
    serviceRequest: newResourceId(),
    task: newResourceId(),
    consent: newResourceId(),
    records: input.records.map((r) => ({ doc: newResourceId(), ...(r.data ? { binary: newResourceId() } : {}) })),
    conditions: (input.reason.codes ?? []).map(() => newResourceId()),
  };
}

/** Writes a new case in the transaction `d` belongs to. */
async function createCase(d: Directory, input: EsoRequestInput, requester: Organization): Promise<IntakeResult> {
  const provider = await providerOrg(d, input.provider.organization);
  await assertIndependent(d.reader, requester, provider, 'provider.organization');
  const now = new Date().toISOString();
  const authoredOn = input.authoredOn ?? now;
  const patient = await patientFor(d, input, refTo(requester));
  const parties: CaseParties = {
    patient: refTo(patient),
    requesterOrg: refTo(requester, requester.name),
    providerOrg: refTo(provider, provider.name),
    consultant: await roleFor(d, input.requester.consultant, requester, 'Named consultant'),
    parents: await parentsFor(d, input, patient),
  };
  if (input.familyAdvocate) parties.advocate = await roleFor(d, input.familyAdvocate, requester, 'Family advocate');
  if (input.provider.specialist) parties.specialist = await roleFor(d, input.provider.specialist, provider, 'Provider specialist');
  const ids = newIds(input);
  // Order matters for the grants: each resource is written after what it points at.
  for (const c of buildConditions(input, ids, parties.patient, now)) await d.repo.create<Condition>(c, { assignedId: c.id });
  const sr = (await d.repo.create(buildServiceRequest(input, ids, parties, authoredOn), { assignedId: ids.serviceRequest })).stored.resource;
  for (const { doc, binary } of buildRecords(input, ids, parties, now)) {
    await d.repo.create(doc, { assignedId: doc.id });
    if (binary) await d.repo.create(binary, { assignedId: binary.id });
  }
  const task = (await d.repo.create(buildTask(input, ids, parties, authoredOn), { assignedId: ids.task })).stored.resource;
  // After the Task, so the timeline reads "request sent", then "records shared with consent".
  const consent = buildConsent(input, ids, parties);
  if (consent) await d.repo.create(consent, { assignedId: consent.id });
  return { created: true, task, serviceRequest: sr };
}

/**
 * SubmitEsoRequest: parses and checks the input (400/422), then finds or creates the case in one
 * transaction. `actor` undefined = the system (auth disabled): no check on the requester.
 */
export function makeSubmit(repoFor: (actor: Actor | undefined) => Repository) {
  return async (raw: unknown, actor: Actor | undefined, opts: SubmitOptions = {}): Promise<IntakeResult> => {
    const input = parseEsoRequest(raw);
    const system = input.requestId.system ?? Systems.esoRequestId;
    return repoFor(actor).inTx(async (repo, tx) => {
      const d: Directory = { repo, tx, reader: Reader.ofRepo(repo) };
      // Who asks comes first: everything after is looked up in the requester's own records.
      const requester = await checkActor(d, actor, input.requester.organization);
      const key = requestKey(input.requester.organization, system, input.requestId.value);
      await tx.lock(`${identityLockKey('ServiceRequest', { system, value: input.requestId.value })}@${input.requester.organization}`);
      const existing = await existingCase(d, requester, key, system, input.requestId.value);
      if (existing) {
        await opts.within?.(tx, existing);
        return existing;
      }
      const result = await createCase(d, input, requester);
      await tx.putKey(REQUEST_KEY_SCOPE, key, result.task.id as string);
      await opts.within?.(tx, result);
      return result;
    });
  };
}
