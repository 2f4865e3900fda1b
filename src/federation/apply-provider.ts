/**
 * eso-status and eso-report at the requesting Trust: its own Task follows the provider's moves,
 * written through a repository acting for the provider organisation, so the Task rules decide
 * as for the provider's own client (side, gates, declaration, report answering every question),
 * and the domain hook writes the Provenance and queues RRI^I12 / ORU^R01 for the requester's EPR.
 * The message carries the provider's whole state: the Task walks the table's provider moves to
 * it (a `completed` that overtook its `accepted` lands as received → accepted → in-progress →
 * completed); a state behind the Task's is no move at all (a case never moves backwards).
 */
import type { DiagnosticReport, Extension, Organization, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import { odsCodeOf } from '../fhir/uk-core.ts';
import { Extensions, esoCoding, type EsoCode } from '../domain/codes.ts';
import { actsFor, orgOfRef } from '../domain/organization-tree.ts';
import type { Actor } from '../domain/ports.ts';
import { Reader } from '../domain/reader.ts';
import { BUSINESS_STATUS_FOR, TRANSITIONS, type TaskStatus } from '../domain/task-states.ts';
import { badRequest, notFound } from '../shared/outcomes.ts';
import { resolveIn } from './messages.ts';
import { partiesOfMessage } from './party.ts';
import type { IncomingMessage } from './validate-message.ts';

/** The provider's moves from `from` to `to`, shortest first; [] when `to` is not ahead of `from`. */
export function providerPath(from: TaskStatus, to: TaskStatus): TaskStatus[] {
  const queue: TaskStatus[][] = [[from]];
  const seen = new Set<TaskStatus>([from]);
  while (queue.length) {
    const path = queue.shift()!;
    for (const t of TRANSITIONS) {
      if (t.by !== 'provider' || t.from !== path[path.length - 1] || seen.has(t.to)) continue;
      if (t.to === to) return [...path.slice(1), to];
      seen.add(t.to);
      queue.push([...path, t.to]);
    }
  }
  return [];
}

const PROVIDER_EXTENSIONS = new Set<string>([Extensions.independenceDeclaration, Extensions.legalEthicalDifferences]);

/** The provider's declarations, without references into the sender's store (who declared stays as text). */
function providerExtensions(task: Task): Extension[] {
  return (task.extension ?? []).filter((e) => PROVIDER_EXTENSIONS.has(e.url)).map((e) => ({
    ...e,
    ...(e.extension ? { extension: e.extension.map((p) => (p.valueReference ? { url: p.url, valueReference: { display: p.valueReference.display ?? 'provider clinician' } } : p)) } : {}),
  }));
}

/** The requester's own case the message is about, as the provider organisation sees it here (404 otherwise). */
async function localCase(reader: Reader, m: IncomingMessage, requesterOds: string, actorOds: string): Promise<{ task: Task; sr: ServiceRequest }> {
  const ident = m.serviceRequest.identifier![0];
  for (const sr of await reader.search<ServiceRequest>('ServiceRequest', { identifier: `${ident.system}|${ident.value}` })) {
    for (const task of await reader.search<Task>('Task', { focus: `ServiceRequest/${sr.id}` })) {
      const requester = await orgOfRef(reader, task.requester);
      if (requester && odsCodeOf(requester) === requesterOds && (await actsFor(reader, actorOds, await orgOfRef(reader, task.owner)))) return { task, sr };
    }
  }
  throw notFound(`no referral ${ident.value} from ${requesterOds}`);
}

/** The report, as the requester's own copy: based on its request, about its patient. */
function localReport(report: DiagnosticReport, sr: ServiceRequest, owner: Organization | undefined): DiagnosticReport {
  const { id: _id, meta: _meta, basedOn: _b, subject: _s, performer: _p, resultsInterpreter: _r, result: _res, imagingStudy: _i, media: _m, encounter: _e, ...rest } = report;
  return { ...rest, basedOn: [{ reference: `ServiceRequest/${sr.id}` }], subject: sr.subject, ...(owner ? { performer: [{ reference: `Organization/${owner.id}` }] } : {}) };
}

/** Applies the provider's state to the local Task as `party` (the provider organisation, party.ts); returns it (unchanged when the message is behind). */
export async function applyProviderMove(m: IncomingMessage, party: Actor, repo: Repository): Promise<Task> {
  const reader = Reader.ofRepo(repo);
  const { requesterOds, task: theirs } = partiesOfMessage(m);
  const found = await localCase(reader, m, requesterOds, party.organization);
  let task = found.task;
  const sr = found.sr;
  const owner = await orgOfRef(reader, task.owner);
  const path = task.status === theirs.status ? [] : providerPath(task.status, theirs.status);
  const extension = [...(task.extension ?? []).filter((e) => !PROVIDER_EXTENSIONS.has(e.url)), ...providerExtensions(theirs)];
  for (const [i, status] of path.entries()) {
    const last = i === path.length - 1;
    const next: Task = { ...task, status, extension, businessStatus: last && theirs.businessStatus ? theirs.businessStatus : { coding: [esoCoding((BUSINESS_STATUS_FOR[status] ?? [])[0] as EsoCode)] } };
    if (last && theirs.statusReason) next.statusReason = theirs.statusReason;
    if (last && theirs.executionPeriod) next.executionPeriod = theirs.executionPeriod;
    if (status === 'completed') {
      const report = (theirs.output ?? []).map((o) => resolveIn<DiagnosticReport>(m.bundle, o.valueReference)).find((r) => r?.resourceType === 'DiagnosticReport');
      if (!report) throw badRequest('An eso-report message carries the DiagnosticReport in the Task output');
      const stored = (await repo.create(localReport(report, sr, owner))).stored.resource;
      next.output = [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${stored.id}` } }];
    }
    task = (await repo.update(next)).resource;
  }
  // The same status with a new step (e.g. visit scheduled): the step follows.
  if (!path.length && task.status === theirs.status && JSON.stringify(task.businessStatus) !== JSON.stringify(theirs.businessStatus) && theirs.businessStatus) {
    task = (await repo.update({ ...task, businessStatus: theirs.businessStatus, extension })).resource;
  }
  return task;
}
