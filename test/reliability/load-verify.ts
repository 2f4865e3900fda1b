/**
 * What the load (test/reliability/load.ts) was told was stored, and the check, over HTTP against
 * the running service, that it is stored exactly once: every acknowledged ESO request and AA'd
 * referral has one ServiceRequest (by identifier) and one Task based on it; nothing else left a
 * ServiceRequest without its Task (or two); every acknowledged Task update is a version in the
 * Task's history, with the status it set, and the versions are exactly the creation plus the
 * acknowledged updates (no lost update, no phantom); each child is stored once.
 */
import type { Bundle, Patient, Resource, ServiceRequest, Task } from 'fhir/r4.js';
import { NoAnswer, type Answer, type OrgClient } from './load-client.ts';

export interface CaseEntry {
  via: 'eso' | 'mllp';
  system: string;
  value: string;
  /** ODS code of the requester (the party that can see the case). */
  requester: string;
  /** At least one success answer (201/200, AA). */
  acked: boolean;
  /** From the ESO answers. */
  taskId?: string;
  serviceRequestId?: string;
}

export interface TaskUpdate {
  /** The If-Match version. */
  from: number;
  /** The version the answer reported. */
  to: number;
  status: string;
}

export interface TaskEntry {
  id: string;
  /** Acknowledged (200) updates. */
  updates: TaskUpdate[];
  /** PUTs that got no answer (timeout, network): stored or not. */
  unanswered: number;
}

export interface Ledger {
  cases: Map<string, CaseEntry>;
  tasks: Map<string, TaskEntry>;
  /** NHS numbers of acknowledged cases, with the requester that can see the child. */
  children: Map<string, string>;
  /** Found during the load already (a replay answering another Task, two 201s for one requestId). */
  problems: Problem[];
}

export type ProblemKind = 'lost' | 'duplicated' | 'partial' | 'phantom' | 'lost update' | 'verify error';
export interface Problem { kind: ProblemKind; detail: string }

export const caseKey = (system: string, value: string) => `${system}|${value}`;

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

/** Runs `fn` over `items`, `n` at a time. */
async function each<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

const resources = <T extends Resource>(b: Bundle | undefined): T[] => (b?.entry ?? []).map((e) => e.resource as T).filter(Boolean);

export interface VerifyResult {
  problems: Problem[];
  /** Lines for the report. */
  summary: string[];
}

/** The checks; `clients` by ODS code (RZ1 and each MLLP sender, RZ2NP for the Tasks). */
export async function verify(ledger: Ledger, clients: Record<string, OrgClient>, taskReader: OrgClient): Promise<VerifyResult> {
  const problems: Problem[] = [...ledger.problems];
  const problem = (kind: ProblemKind, detail: string) => problems.push({ kind, detail });
  let calls = 0;
  /** A GET that must answer 200; otherwise a 'verify error' and undefined. */
  const get = async <T = any>(who: OrgClient, path: string): Promise<T | undefined> => {
    calls++;
    let a: Answer;
    try {
      a = await who.get(path);
    } catch (e) {
      problem('verify error', `${who.ods} GET ${path}: ${e instanceof NoAnswer ? e.label : (e as Error).message}`);
      return undefined;
    }
    if (a.status !== 200) {
      problem('verify error', `${who.ods} GET ${path}: HTTP ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
      return undefined;
    }
    return a.body as T;
  };
  /** Every page of a search. */
  const all = async <T extends Resource>(who: OrgClient, path: string): Promise<T[] | undefined> => {
    const out: T[] = [];
    let url: string | undefined = path;
    while (url) {
      const b: Bundle | undefined = await get<Bundle>(who, url);
      if (!b) return undefined;
      out.push(...resources<T>(b));
      url = b.link?.find((l) => l.relation === 'next')?.url;
    }
    return out;
  };

  const cases = [...ledger.cases.values()];
  const acked = cases.filter((c) => c.acked);

  // 1. Each case by its identifier: one ServiceRequest (none is fine only if never acknowledged), one Task on it.
  await each(cases, 8, async (c) => {
    const who = clients[c.requester];
    const key = caseKey(c.system, c.value);
    const srs = await all<ServiceRequest>(who, `/fhir/ServiceRequest?identifier=${encodeURIComponent(key)}&_count=10`);
    if (!srs) return;
    const what = `${c.via} ${c.acked ? 'acknowledged' : 'unanswered'} request ${key}`;
    if (srs.length === 0 && c.acked) problem('lost', `${what}: no ServiceRequest`);
    if (srs.length > 1) problem('duplicated', `${what}: ${srs.length} ServiceRequests (${srs.map((s) => s.id).join(', ')})`);
    if (c.serviceRequestId && srs.length && !srs.some((s) => s.id === c.serviceRequestId)) problem('lost', `${what}: answered ServiceRequest/${c.serviceRequestId}, stored ${srs.map((s) => s.id).join(', ')}`);
    for (const sr of srs) {
      const tasks = await all<Task>(who, `/fhir/Task?focus=${encodeURIComponent(`ServiceRequest/${sr.id}`)}&_count=10`);
      if (!tasks) continue;
      if (tasks.length === 0) problem('partial', `${what}: ServiceRequest/${sr.id} has no Task`);
      if (tasks.length > 1) problem('duplicated', `${what}: ServiceRequest/${sr.id} has ${tasks.length} Tasks`);
      if (c.taskId && tasks.length && !tasks.some((t) => t.id === c.taskId)) problem('lost', `${what}: answered Task/${c.taskId}, stored ${tasks.map((t) => t.id).join(', ')}`);
    }
  });

  // 2. Everything each requester can see: no ServiceRequest nobody asked for, none without its Task.
  let storedCases = 0;
  for (const ods of new Set(cases.map((c) => c.requester))) {
    const who = clients[ods];
    const [srs, tasks] = [await all<ServiceRequest>(who, '/fhir/ServiceRequest?_count=1000'), await all<Task>(who, '/fhir/Task?_count=1000')];
    if (!srs || !tasks) continue;
    storedCases += srs.length;
    const byKey = new Map<string, string[]>();
    for (const sr of srs) {
      for (const id of sr.identifier ?? []) {
        const k = caseKey(id.system ?? '', id.value ?? '');
        byKey.set(k, [...(byKey.get(k) ?? []), sr.id!]);
      }
      if (!(sr.identifier ?? []).some((id) => ledger.cases.has(caseKey(id.system ?? '', id.value ?? '')))) {
        problem('phantom', `${ods}: ServiceRequest/${sr.id} (${JSON.stringify(sr.identifier)}) was never sent by the load`);
      }
    }
    for (const [k, ids] of byKey) if (ids.length > 1) problem('duplicated', `${ods}: identifier ${k} on ${ids.length} ServiceRequests`);
    const tasksOn = new Map<string, number>();
    for (const t of tasks) {
      const focus = t.focus?.reference ?? '';
      tasksOn.set(focus, (tasksOn.get(focus) ?? 0) + 1);
      if (!srs.some((sr) => `ServiceRequest/${sr.id}` === focus)) problem('partial', `${ods}: Task/${t.id} is based on ${focus || 'nothing'}, which is not stored`);
    }
    for (const sr of srs) {
      const n = tasksOn.get(`ServiceRequest/${sr.id}`) ?? 0;
      if (n !== 1) problem(n ? 'duplicated' : 'partial', `${ods}: ServiceRequest/${sr.id} has ${n} Tasks`);
    }
  }

  // 3. Each child once (intake finds them by NHS number, also under concurrency).
  await each([...ledger.children.entries()], 4, async ([nhs, ods]) => {
    const found = await all<Patient>(clients[ods], `/fhir/Patient?identifier=${encodeURIComponent(`${NHS}|${nhs}`)}&_count=10`);
    if (found && found.length > 1) problem('duplicated', `NHS number ${nhs}: ${found.length} Patients`);
    if (found && found.length === 0) problem('lost', `NHS number ${nhs}: no Patient`);
  });

  // 4. Task histories: each acknowledged update is its version, with its status; nothing else.
  let versions = 0;
  const taskEntries = [...ledger.tasks.values()];
  await each(taskEntries, 8, async (t) => {
    const history = await get<Bundle>(taskReader, `/fhir/Task/${t.id}/_history?_count=1000`);
    if (!history) return;
    const byVersion = new Map<number, Task>();
    for (const v of resources<Task>(history)) {
      const n = Number(v.meta?.versionId);
      if (byVersion.has(n)) problem('duplicated', `Task/${t.id}: version ${n} twice in its history`);
      byVersion.set(n, v);
    }
    const n = byVersion.size;
    versions += n;
    for (let i = 1; i <= n; i++) if (!byVersion.has(i)) problem('lost update', `Task/${t.id}: history ${[...byVersion.keys()].sort((a, b) => a - b).join(',')} misses version ${i}`);
    const seen = new Set<number>();
    for (const u of t.updates) {
      if (seen.has(u.to)) problem('lost update', `Task/${t.id}: two acknowledged updates both answered version ${u.to}`);
      seen.add(u.to);
      if (u.to !== u.from + 1) problem('lost update', `Task/${t.id}: If-Match W/"${u.from}" was answered with version ${u.to}`);
      const stored = byVersion.get(u.to);
      if (!stored) problem('lost update', `Task/${t.id}: acknowledged version ${u.to} (${u.status}) is not in its history`);
      else if (stored.status !== u.status) problem('lost update', `Task/${t.id}: version ${u.to} is '${stored.status}', the acknowledged update set '${u.status}'`);
    }
    const least = 1 + t.updates.length;
    const most = least + t.unanswered;
    if (n < least) problem('lost update', `Task/${t.id}: ${n} versions for 1 + ${t.updates.length} acknowledged updates`);
    if (n > most) problem('phantom', `Task/${t.id}: ${n} versions for 1 + ${t.updates.length} acknowledged updates${t.unanswered ? ` and ${t.unanswered} unanswered` : ''}`);
    // Each Task version has its Provenance, written in the same transaction.
    const provenance = await all<Resource>(taskReader, `/fhir/Provenance?target=${encodeURIComponent(`Task/${t.id}`)}&_count=100`);
    if (provenance && provenance.length !== n) problem(provenance.length < n ? 'partial' : 'phantom', `Task/${t.id}: ${n} versions, ${provenance.length} Provenance`);
    const current = await get<Task>(taskReader, `/fhir/Task/${t.id}`);
    if (current && Number(current.meta?.versionId) !== n) problem('lost update', `Task/${t.id}: current version ${current.meta?.versionId}, history has ${n}`);
  });

  const ackedUpdates = taskEntries.reduce((a, t) => a + t.updates.length, 0);
  return {
    problems,
    summary: [
      `cases: ${acked.length} acknowledged (ESO ${acked.filter((c) => c.via === 'eso').length}, MLLP ${acked.filter((c) => c.via === 'mllp').length}), ${cases.length - acked.length} sent without an answer; ${storedCases} ServiceRequests stored`,
      `Task updates: ${ackedUpdates} acknowledged on ${taskEntries.length} Tasks, ${taskEntries.reduce((a, t) => a + t.unanswered, 0)} unanswered; ${versions} versions stored`,
      `children: ${ledger.children.size} NHS numbers; ${calls} verification requests`,
    ],
  };
}
