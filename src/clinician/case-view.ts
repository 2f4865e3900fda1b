/**
 * What the app shows of cases, read through a repository acting for the clinician's organisation (the
 * case-access chain decides what it sees: another Trust's case is simply not found, and records only
 * under consent). Reads only; every write is in case-actions.ts.
 */
import type { Consent, DiagnosticReport, DocumentReference, Patient, Practitioner, PractitionerRole, ServiceRequest, Task } from 'fhir/r4.js';
import { isTransferOffer, partiesOfTask, sideOf } from '../domain/case.ts';
import { answersOf, businessStatusOf, extensionsOf, Extensions, questionsOf, type Question } from '../domain/codes.ts';
import { orgLabel } from '../domain/organization-tree.ts';
import type { Actor } from '../domain/ports.ts';
import { Reader } from '../domain/reader.ts';
import { OPEN_STATUSES } from '../domain/search.ts';
import type { Repository } from '../fhir/repository.ts';
import { nhsNumberOf } from '../fhir/uk-core.ts';
import { Systems } from '../fhir/eso-urls.ts';

export interface CaseSummary {
  taskId: string;
  child: string;
  status: Task['status'];
  step?: string;
  priority: string;
  due?: string;
  overdue: boolean;
  requester: string;
  provider: string;
  requesterOds?: string;
  side: 'requester' | 'provider' | 'none' | undefined;
  nhsNumber?: string;
}

export interface CaseDetail extends CaseSummary {
  task: Task;
  serviceRequest: ServiceRequest;
  questions: Question[];
  answers: Map<string, string>;
  report?: DiagnosticReport;
  familyStatement?: string;
  reason?: string;
  clinicalSummary?: string;
  consent?: Consent;
  records: { title: string; id: string }[];
  requestRef?: { system: string; value: string };
  sharedWithFamily?: string;
  advocate?: string;
  birthDate?: string;
}

const OPEN = new Set<string>(OPEN_STATUSES);
const nameOf = (p: Patient | undefined) => [p?.name?.[0]?.given?.[0], p?.name?.[0]?.family].filter(Boolean).join(' ') || 'the child';

async function summarise(reader: Reader, task: Task, actor: Actor | undefined, now: number): Promise<CaseSummary> {
  const parties = await partiesOfTask(reader, task);
  const patient = await reader.ref<Patient>(task.for);
  const due = task.restriction?.period?.end;
  return {
    taskId: task.id as string, child: nameOf(patient), status: task.status, step: task.businessStatus?.coding?.[0]?.display ?? businessStatusOf(task),
    priority: task.priority ?? 'routine', due, overdue: !!due && Date.parse(due) < now && OPEN.has(task.status),
    requester: orgLabel(parties.requester), provider: orgLabel(parties.owner),
    requesterOds: parties.requester?.identifier?.find((i) => i.system === Systems.odsCode)?.value,
    side: await sideOf(reader, actor, parties), nhsNumber: patient ? nhsNumberOf(patient) : undefined,
  };
}

/** Urgent before routine, overdue first within each, then the soonest due. */
const URGENCY: Record<string, number> = { stat: 0, asap: 1, urgent: 2, routine: 3 };
export function byUrgency(a: CaseSummary, b: CaseSummary): number {
  return Number(b.overdue) - Number(a.overdue) || (URGENCY[a.priority] ?? 3) - (URGENCY[b.priority] ?? 3) || (a.due ?? '9').localeCompare(b.due ?? '9');
}

/** The ESO cases of the child with this NHS number that the clinician's organisation may see. */
export async function casesOfChild(repo: Repository, actor: Actor, nhsNumber: string, now = Date.now()): Promise<CaseSummary[]> {
  const reader = Reader.ofRepo(repo);
  const out: CaseSummary[] = [];
  for (const p of await reader.search<Patient>('Patient', { identifier: `${Systems.nhsNumber}|${nhsNumber}` })) {
    for (const t of await reader.search<Task>('Task', { patient: `Patient/${p.id}`, code: 'fulfill' })) {
      if (isTransferOffer(t)) continue;
      out.push(await summarise(reader, t, actor, now));
    }
  }
  return out.sort((a, b) => b.taskId.localeCompare(a.taskId)).sort(byUrgency);
}

/** The provider's worklist: open cases its organisation owns, urgent and overdue first. */
export async function worklist(repo: Repository, actor: Actor, now = Date.now()): Promise<CaseSummary[]> {
  const reader = Reader.ofRepo(repo);
  const out: CaseSummary[] = [];
  for (const t of await reader.search<Task>('Task', { status: [...OPEN_STATUSES, 'on-hold'].join(',') })) {
    if (isTransferOffer(t)) continue;
    const s = await summarise(reader, t, actor, now);
    if (s.side === 'provider') out.push(s);
  }
  return out.sort(byUrgency);
}

/** One case as the clinician's organisation may see it (404 from the repository for anyone else's). */
export async function caseDetail(repo: Repository, actor: Actor, taskId: string, now = Date.now()): Promise<CaseDetail> {
  const task = (await repo.read<Task>('Task', taskId)).resource;
  const reader = Reader.ofRepo(repo);
  const sr = (await reader.ref<ServiceRequest>(task.focus)) as ServiceRequest;
  const summary = await summarise(reader, task, actor, now);
  const reportRef = task.output?.find((o) => o.valueReference)?.valueReference;
  const report = await reader.ref<DiagnosticReport>(reportRef);
  const consents = await reader.search<Consent>('Consent', { data: `ServiceRequest/${sr.id}` });
  const records: CaseDetail['records'] = [];
  for (const ref of sr.supportingInfo ?? []) {
    const doc = await reader.ref<DocumentReference>(ref);
    if (doc?.resourceType === 'DocumentReference') records.push({ title: ref.display ?? doc.description ?? 'Record', id: doc.id as string });
  }
  const advocateRef = task.input?.find((i) => i.type?.text === 'family-advocate')?.valueReference;
  const role = await reader.ref<PractitionerRole>(advocateRef);
  const advocate = await reader.ref<Practitioner>(role?.practitioner ?? advocateRef);
  const patient = await reader.ref<Patient>(task.for);
  const id = sr.identifier?.[0];
  return {
    ...summary, task, serviceRequest: sr, questions: questionsOf(sr),
    answers: new Map(report ? answersOf(report).map((a) => [a.question, a.text]) : []),
    ...(report ? { report } : {}),
    familyStatement: extensionsOf(sr, Extensions.familyStatement)[0]?.valueString,
    reason: sr.reasonCode?.[0]?.text, clinicalSummary: sr.note?.[0]?.text,
    consent: consents.find((c) => c.status === 'active') ?? consents[0], records,
    ...(id?.system && id.value ? { requestRef: { system: id.system, value: id.value } } : {}),
    sharedWithFamily: report ? extensionsOf(report, Extensions.sharedWithFamily)[0]?.valueDateTime : undefined,
    advocate: advocate?.name?.[0] ? [...(advocate.name[0].prefix ?? []), ...(advocate.name[0].given ?? []), advocate.name[0].family].filter(Boolean).join(' ') : undefined,
    birthDate: patient?.birthDate,
  };
}
