/**
 * GET /eso/cases/{taskId}/timeline: the case's events in order, built from what is already
 * stored (Task history, ServiceRequest history (amendments), Consent history, Provenance, the report's shared-with-family date, transfer
 * offers). Nothing is stored twice. The Task is read as the caller (tenancy: 404 for others);
 * the rest of the case is read once the caller is known to be one of its parties.
 */
import type { Consent, DiagnosticReport, Patient, Practitioner, PractitionerRole, Provenance, RelatedPerson, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import type { StoredResource } from '../../storage/types.ts';
import { businessStatusOf, extensionsOf, Extensions, Systems, codeOf } from '../codes.ts';
import { orgLabel, orgOfRef } from '../organization-tree.ts';
import { Reader } from '../reader.ts';
import { describe, possessive, relationWord, type Fact, type Names } from './wording.ts';

export interface TimelineEvent {
  at: string;
  text: string;
  /** The organisation that made the change, when Provenance says. */
  by?: string;
}

export interface CaseTimeline {
  task: string;
  child: string;
  provider: string;
  requester: string;
  events: TimelineEvent[];
}

/** Oldest first (storage history is newest first). */
const ascending = <T>(versions: StoredResource<T & { resourceType: string }>[]) => [...versions].sort((a, b) => a.versionId - b.versionId);

async function namesOf(reader: Reader, task: Task, sr: ServiceRequest | undefined, patient: Patient | undefined): Promise<Names> {
  const n = patient?.name?.[0];
  const child = n?.given?.[0] ?? n?.family ?? 'the child';
  let specialist: string | undefined;
  for (const p of sr?.performer ?? []) {
    const role = reader.key(p)?.startsWith('PractitionerRole/') ? await reader.ref<PractitionerRole>(p) : undefined;
    const pr = role ? await reader.ref<Practitioner>(role.practitioner) : undefined;
    const name = pr?.name?.[0];
    if (name) specialist = [name.prefix?.[0], name.family].filter(Boolean).join(' ');
  }
  return {
    child,
    provider: orgLabel(await orgOfRef(reader, task.owner)),
    requester: orgLabel(await orgOfRef(reader, task.requester)),
    specialist,
  };
}

/** Who gave a consent, in words ("Alice's mother", "Alice herself"). */
async function givenByOf(reader: Reader, consent: Consent, child: string): Promise<string> {
  const who = consent.performer?.[0];
  if (reader.key(who)?.startsWith('Patient/')) return `${child} (the young person)`;
  const rp = await reader.ref<RelatedPerson>(who);
  const code = rp?.relationship?.map((r) => codeOf(r, Systems.v2RelationshipTable0063)).find(Boolean);
  return `${possessive(child)} ${relationWord(code)}`;
}

function taskFacts(versions: StoredResource<Task>[]): Fact[] {
  let prev: Task | undefined;
  return ascending(versions).map((v) => {
    const t = v.resource;
    const fact: Fact = { kind: 'task', at: v.lastUpdated, status: t.status, step: businessStatusOf(t), previousStatus: prev?.status,
      previousStep: prev ? businessStatusOf(prev) : undefined, reason: t.statusReason?.text };
    prev = t;
    return fact;
  });
}

/** What the requester changed between two versions of its request (its status follows the Task: not listed). */
function requestChanges(prev: ServiceRequest, next: ServiceRequest): string[] {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const ext = (sr: ServiceRequest, url: string) => extensionsOf(sr, url);
  const out: string[] = [];
  if (!same(ext(prev, Extensions.question), ext(next, Extensions.question))) out.push('questions');
  if (!same(ext(prev, Extensions.familyStatement), ext(next, Extensions.familyStatement))) out.push('family statement');
  if (!same(prev.reasonCode, next.reasonCode)) out.push('reason');
  if (prev.priority !== next.priority) out.push('urgency');
  if (!same(prev.supportingInfo, next.supportingInfo)) out.push('records');
  return out;
}

/** Who made each Task version, from its Provenance ("Task/id/_history/n" -> organisation name). */
async function authorsOf(reader: Reader, taskId: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of await reader.search<Provenance>('Provenance', { target: `Task/${taskId}` })) {
    const agent = p.agent.find((a) => a.type?.coding?.some((c) => c.code === 'author'));
    // The system acting alone (auth disabled) is nobody a family would recognise: leave it out.
    const name = agent?.onBehalfOf?.display ?? (agent?.who?.reference || agent?.who?.identifier ? agent.who.display : undefined);
    for (const t of p.target) if (t.reference && name) out.set(t.reference, name);
  }
  return out;
}

/**
 * The consents of this case: those whose provision.data names its ServiceRequest, and the
 * child's consents without any request in their data that name this case's provider.
 */
async function caseConsents(reader: Reader, task: Task): Promise<Consent[]> {
  const owner = await orgOfRef(reader, task.owner);
  const patientKey = reader.key(task.for);
  const srKey = reader.key(task.focus);
  if (!owner || !patientKey) return [];
  const out: Consent[] = [];
  for (const c of await reader.search<Consent>('Consent', { patient: patientKey })) {
    const requests = (c.provision?.data ?? []).map((d) => reader.key(d.reference)).filter((k) => k?.startsWith('ServiceRequest/'));
    if (requests.length) {
      if (requests.includes(srKey)) out.push(c);
      continue;
    }
    const actors = await Promise.all((c.provision?.actor ?? []).map((a) => orgOfRef(reader, a.reference)));
    if (actors.some((a) => a?.id === owner.id)) out.push(c);
  }
  return out;
}

/** Builds the timeline of the case whose ESO Task is `taskId`, as `repo`'s caller may see it. */
export async function buildTimeline(repo: Repository, taskId: string): Promise<CaseTimeline> {
  const task = (await repo.read<Task>('Task', taskId)).resource;
  // The caller may see the Task (read above): the server describes the whole case to its party.
  const reader = Reader.ofSystem(repo);
  const system = repo.asSystem();
  const sr = await reader.ref<ServiceRequest>(task.focus);
  const patient = await reader.ref<Patient>(task.for);
  const names = await namesOf(reader, task, sr, patient);
  const taskVersions = (await system.history('Task', taskId)) as StoredResource<Task>[];
  const authors = await authorsOf(reader, taskId);
  const facts: { fact: Fact; by?: string }[] = taskFacts(taskVersions).map((fact, i) => ({
    fact, by: authors.get(`Task/${taskId}/_history/${ascending(taskVersions)[i].versionId}`),
  }));
  for (const consent of await caseConsents(reader, task)) {
    const givenBy = await givenByOf(reader, consent, names.child);
    let prev: string | undefined;
    for (const v of ascending((await system.history('Consent', consent.id as string)) as StoredResource<Consent>[])) {
      facts.push({ fact: { kind: 'consent', at: v.lastUpdated, status: v.resource.status, previousStatus: prev, givenBy, records: (v.resource.provision?.data ?? []).filter((d) => d.reference?.reference?.startsWith('DocumentReference/')).length } });
      prev = v.resource.status;
    }
  }
  if (sr?.id) {
    let prev: ServiceRequest | undefined;
    for (const v of ascending((await system.history('ServiceRequest', sr.id)) as StoredResource<ServiceRequest>[])) {
      if (prev) facts.push({ fact: { kind: 'request', at: v.lastUpdated, changed: requestChanges(prev, v.resource) } });
      prev = v.resource;
    }
  }
  for (const out of task.output ?? []) {
    const dr = await reader.ref<DiagnosticReport>(out.valueReference);
    const shared = dr ? extensionsOf(dr, Extensions.sharedWithFamily)[0]?.valueDateTime : undefined;
    if (shared) facts.push({ fact: { kind: 'report-shared', at: shared } });
  }
  for (const offer of await reader.search<Task>('Task', { 'part-of': `Task/${taskId}` })) {
    let prev: string | undefined;
    for (const v of ascending((await system.history('Task', offer.id as string)) as StoredResource<Task>[])) {
      facts.push({ fact: { kind: 'transfer', at: v.lastUpdated, status: v.resource.status, previousStatus: prev } });
      prev = v.resource.status;
    }
  }
  const events: TimelineEvent[] = [];
  for (const { fact, by } of facts) {
    const text = describe(fact, names);
    if (text) events.push(by ? { at: fact.at, text, by } : { at: fact.at, text });
  }
  events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return { task: taskId, child: names.child, provider: names.provider, requester: names.requester, events };
}

