/**
 * The crash harness's checks, straight from storage after the last (orderly) stop: every
 * acknowledged write present exactly once, no partial transaction visible (acknowledged or not),
 * every state change's outbound messages present exactly once and delivered, and the database's
 * own integrity check.
 */
import type { AuditEvent, Consent, DiagnosticReport, Patient, Provenance, Reference, Resource, ServiceRequest, Task } from 'fhir/r4.js';
import { transitionOf } from '../../src/domain/task-states.ts';
import type { OutboxMessage, ResourceType, Storage, StoredResource } from '../../src/storage/types.ts';
import { field } from '../integration/hl7/harness.ts';
import { ESO_SYSTEM, type Intake, type Ledger } from './crash-workload.ts';

const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const EVENT_KINDS = new Set(['accepted', 'rejected', 'completed', 'cancelled']);

export interface Verdict {
  problems: string[];
  facts: Record<string, number | string>;
}

async function all<T extends Resource>(storage: Storage, type: ResourceType): Promise<T[]> {
  const out = new Map<string, T>();
  for (let offset = 0; ; offset += 500) {
    const page = await storage.search({ type, criteria: [], count: 500, offset, total: 'none' });
    for (const r of page.resources) out.set(r.resource.id!, r.resource as T);
    if (!page.hasMore) break;
  }
  return [...out.values()];
}

const refId = (ref: Reference | undefined, type: string): string | undefined => {
  const m = ref?.reference?.match(/^([A-Za-z]+)\/([^/]+)/);
  return m && m[1] === type ? m[2] : undefined;
};

/** Checks storage against the ledger. `received` is every message the EPR stand-in got (with duplicates). */
export async function verify(storage: Storage, ledger: Ledger, received: string[]): Promise<Verdict> {
  const problems: string[] = [];
  const facts: Verdict['facts'] = {};
  const problem = (p: string) => { if (problems.length < 200) problems.push(p); };

  facts.integrity = await storage.integrityCheck();
  if (facts.integrity !== 'ok') problem(`integrity check: ${facts.integrity}`);

  const systems = new Set([ESO_SYSTEM, ...ledger.intakes.map((i) => i.system)]);
  const srs = (await all<ServiceRequest>(storage, 'ServiceRequest'))
    .filter((sr) => sr.identifier?.some((id) => systems.has(id.system ?? '')));
  const tasks = await all<Task>(storage, 'Task');
  const patients = await all<Patient>(storage, 'Patient');
  const provenances = await all<Provenance>(storage, 'Provenance');
  const consents = await all<Consent>(storage, 'Consent');
  const reports = new Map((await all<DiagnosticReport>(storage, 'DiagnosticReport')).map((r) => [r.id!, r]));
  const srById = new Map(srs.map((s) => [s.id!, s]));
  const patientIds = new Set(patients.map((p) => p.id!));

  // Each case (acknowledged or not) once, whole: one ServiceRequest per request identifier, one Task per ServiceRequest.
  const srByKey = new Map<string, ServiceRequest[]>();
  for (const sr of srs) {
    const id = sr.identifier!.find((i) => systems.has(i.system ?? ''))!;
    const key = `${id.system}|${id.value}`;
    srByKey.set(key, [...(srByKey.get(key) ?? []), sr]);
  }
  for (const [key, list] of srByKey) if (list.length > 1) problem(`request ${key}: ${list.length} ServiceRequests (duplicated)`);
  const tasksBySr = new Map<string, Task[]>();
  for (const t of tasks) {
    const srId = refId(t.focus, 'ServiceRequest');
    if (!srId) continue;
    tasksBySr.set(srId, [...(tasksBySr.get(srId) ?? []), t]);
    if (!srById.has(srId)) problem(`Task/${t.id}: its ServiceRequest/${srId} is missing (partial case)`);
  }
  const resolve = async (ref: Reference | undefined): Promise<boolean> => {
    const m = ref?.reference?.match(/^([A-Za-z]+)\/([^/]+)$/);
    return !!m && !!(await storage.readResource(m[1] as ResourceType, m[2]));
  };
  for (const sr of srs) {
    const list = tasksBySr.get(sr.id!) ?? [];
    if (list.length !== 1) problem(`ServiceRequest/${sr.id}: ${list.length} Tasks (expected exactly 1)`);
    if (!patientIds.has(refId(sr.subject, 'Patient') ?? '')) problem(`ServiceRequest/${sr.id}: its Patient is missing`);
    for (const ref of [...(sr.reasonReference ?? []), ...(sr.supportingInfo ?? []), sr.requester, ...(sr.performer ?? [])]) {
      if (ref?.reference && !(await resolve(ref))) problem(`ServiceRequest/${sr.id}: ${ref.reference} is missing (partial case)`);
    }
    for (const t of list) if (!patientIds.has(refId(t.for, 'Patient') ?? '')) problem(`Task/${t.id}: its Patient is missing`);
  }
  // The ESO request's Consent is written last in the intake transaction: there for every ESO case, and never without its case.
  const consentsBySr = new Map<string, number>();
  for (const c of consents) {
    for (const d of c.provision?.data ?? []) {
      const srId = d.meaning === 'related' ? refId(d.reference, 'ServiceRequest') : undefined;
      if (!srId) continue;
      consentsBySr.set(srId, (consentsBySr.get(srId) ?? 0) + 1);
      if (!(await storage.readResource('ServiceRequest', srId))) problem(`Consent/${c.id}: its ServiceRequest/${srId} is missing (partial case)`);
    }
  }
  for (const sr of srs) {
    if (sr.identifier!.some((i) => i.system === ESO_SYSTEM) && consentsBySr.get(sr.id!) !== 1) {
      problem(`ServiceRequest/${sr.id}: ${consentsBySr.get(sr.id!) ?? 0} Consents (expected 1)`);
    }
  }
  // One Patient per NHS number (intake reuses the child; a partial or doubled intake would not).
  const byNhs = new Map<string, number>();
  for (const p of patients) for (const id of p.identifier ?? []) if (id.system === NHS_SYSTEM) byNhs.set(id.value!, (byNhs.get(id.value!) ?? 0) + 1);
  for (const [nhs, n] of byNhs) if (n > 1) problem(`NHS number ${nhs}: ${n} Patients`);

  // Every acknowledged intake is there (exactly once, above), as answered.
  let ackedIntakes = 0;
  for (const i of ledger.intakes.filter((x) => x.acked)) {
    ackedIntakes++;
    const found = srByKey.get(`${i.system}|${i.requestId}`) ?? [];
    if (found.length === 0) { problem(`acknowledged ${describe(i)}: no ServiceRequest (lost)`); continue; }
    if (i.srId && found[0].id !== i.srId) problem(`acknowledged ${describe(i)}: ServiceRequest/${found[0].id}, but the answer named ${i.srId}`);
    const t = tasksBySr.get(found[0].id!) ?? [];
    if (i.taskId && !t.some((x) => x.id === i.taskId)) problem(`acknowledged ${describe(i)}: Task/${i.taskId} (answered) is missing`);
  }
  facts['cases stored'] = srs.length;
  facts['acknowledged intakes'] = ackedIntakes;
  facts['unacknowledged intakes stored anyway'] = ledger.intakes.filter((i) => !i.acked && srByKey.has(`${i.system}|${i.requestId}`)).length;
  facts['unacknowledged intakes absent'] = ledger.intakes.filter((i) => !i.acked && !srByKey.has(`${i.system}|${i.requestId}`)).length;

  // Task histories: contiguous versions, each one allowed move from the one before, each with exactly one Provenance.
  const provCount = new Map<string, number>();
  for (const p of provenances) for (const t of p.target ?? []) if (t.reference) provCount.set(t.reference, (provCount.get(t.reference) ?? 0) + 1);
  const histories = new Map<string, StoredResource<Task>[]>();
  const caseTasks = tasks.filter((t) => srById.has(refId(t.focus, 'ServiceRequest') ?? ''));
  let versions = 0;
  for (const t of caseTasks) {
    const h = ((await storage.history('Task', t.id!)) as StoredResource<Task>[]).sort((a, b) => a.versionId - b.versionId);
    histories.set(t.id!, h);
    versions += h.length;
    h.forEach((v, i) => {
      if (v.versionId !== i + 1) problem(`Task/${t.id}: versions are not 1..${h.length} (${h.map((x) => x.versionId).join(',')})`);
      const n = provCount.get(`Task/${t.id}/_history/${v.versionId}`) ?? 0;
      if (n !== 1) problem(`Task/${t.id} version ${v.versionId}: ${n} Provenances (expected 1)`);
      if (i > 0) {
        const from = h[i - 1].resource.status, to = v.resource.status;
        if (!transitionOf(from, to)) problem(`Task/${t.id} version ${v.versionId}: ${from} -> ${to} is not a move (duplicated or partial write)`);
      }
    });
    if (h.length && h[h.length - 1].versionId !== Number(t.meta?.versionId)) problem(`Task/${t.id}: current version ${t.meta?.versionId} is not the last in its history (${h[h.length - 1].versionId})`);
  }
  facts['task versions'] = versions;
  for (const m of ledger.moves) {
    const h = histories.get(m.taskId);
    if (!h) { problem(`acknowledged move ${m.from} -> ${m.to} of Task/${m.taskId}: the Task is missing`); continue; }
    const v = h.find((x) => x.versionId === m.version);
    if (!v || v.resource.status !== m.to) problem(`acknowledged move ${m.from} -> ${m.to} of Task/${m.taskId} (version ${m.version}, round ${m.round}): not in its history (lost)`);
    else if (h[m.version - 2]?.resource.status !== m.from) problem(`acknowledged move ${m.from} -> ${m.to} of Task/${m.taskId}: version ${m.version - 1} is ${h[m.version - 2]?.resource.status}`);
    const n = h.filter((x) => x.resource.status === m.to).length;
    if (n !== 1) problem(`acknowledged move ${m.from} -> ${m.to} of Task/${m.taskId}: status ${m.to} in ${n} versions (expected exactly 1)`);
  }
  facts['acknowledged moves'] = ledger.moves.length;
  for (const id of ledger.reports) if (!reports.has(id)) problem(`acknowledged DiagnosticReport/${id} is missing (lost)`);

  // The intake's AuditEvent: in the REF^I12 intake's own transaction; before the answer of POST /eso/requests.
  const srIdOfTask = new Map(caseTasks.map((t) => [t.id!, refId(t.focus, 'ServiceRequest')!]));
  const mllpSystems = new Set(ledger.intakes.filter((i) => i.via === 'mllp').map((i) => i.system));
  const ackedEso = new Set(ledger.intakes.filter((i) => i.via === 'eso' && i.acked).map((i) => `${i.system}|${i.requestId}`));
  for (const t of caseTasks) {
    const sr = srById.get(srIdOfTask.get(t.id!)!)!;
    const id = sr.identifier!.find((i) => systems.has(i.system ?? ''))!;
    const detail = mllpSystems.has(id.system!) ? 'hl7v2-ref-i12' : ackedEso.has(`${id.system}|${id.value}`) ? 'eso-request' : undefined;
    if (!detail) continue;
    const events = await storage.search({ type: 'AuditEvent', criteria: [{ kind: 'reference', param: 'entity', values: [`Task/${t.id}`] }], count: 1000, offset: 0, total: 'none' });
    if (!events.resources.some((e) => (e.resource as AuditEvent).outcomeDesc?.includes(detail))) problem(`Task/${t.id}: no AuditEvent of its intake (${detail})`);
  }

  // The outbox: one RRI^I12 per state change the requester is told of, one ORU^R01 per completion with a report, nothing else.
  const rows: OutboxMessage[] = await storage.listOutbound({ limit: 1_000_000 });
  const rriByTask = new Map<string, OutboxMessage[]>();
  const oruByReport = new Map<string, OutboxMessage[]>();
  for (const r of rows) {
    const type = field(r.payload, 'MSH', 9) ?? '';
    if (type.startsWith('RRI^I12')) {
      const taskId = field(r.payload, 'RF1', 11) ?? '';
      rriByTask.set(taskId, [...(rriByTask.get(taskId) ?? []), r]);
    } else if (type.startsWith('ORU^R01')) {
      const drId = (field(r.payload, 'OBR', 3) ?? '').split('^')[0];
      oruByReport.set(drId, [...(oruByReport.get(drId) ?? []), r]);
    } else {
      problem(`outbox row ${r.id}: unexpected message ${type}`);
    }
  }
  let expectedRows = 0;
  for (const t of caseTasks) {
    const h = histories.get(t.id!)!;
    const events = h.filter((v, i) => i > 0 && h[i - 1].resource.status !== v.resource.status && EVENT_KINDS.has(v.resource.status));
    const rri = rriByTask.get(t.id!) ?? [];
    rriByTask.delete(t.id!);
    expectedRows += events.length;
    if (rri.length !== events.length) problem(`Task/${t.id}: ${rri.length} RRI^I12 in the outbox for ${events.length} state change(s) (${events.map((e) => e.resource.status).join(',')})`);
    const sr = srById.get(srIdOfTask.get(t.id!)!)!;
    const requester = ledger.intakes.find((i) => sr.identifier!.some((x) => x.system === i.system && x.value === i.requestId))?.requester;
    for (const r of rri) if (requester && r.destination !== `mllp:${requester}`) problem(`outbox row ${r.id}: destination ${r.destination}, expected mllp:${requester}`);
    for (const e of events.filter((v) => v.resource.status === 'completed')) {
      const drId = (e.resource.output ?? []).map((o) => refId(o.valueReference, 'DiagnosticReport')).find(Boolean);
      if (!drId || !reports.has(drId)) { problem(`Task/${t.id}: completed without its DiagnosticReport`); continue; }
      const oru = oruByReport.get(drId) ?? [];
      oruByReport.delete(drId);
      expectedRows++;
      if (oru.length !== 1) problem(`Task/${t.id}: ${oru.length} ORU^R01 in the outbox for its report (expected 1)`);
    }
  }
  for (const [taskId, list] of rriByTask) problem(`${list.length} RRI^I12 in the outbox for Task/${taskId}, which made no such change (partial transaction)`);
  for (const [drId, list] of oruByReport) problem(`${list.length} ORU^R01 in the outbox for DiagnosticReport/${drId}, which completed no Task (partial transaction)`);
  facts['outbox rows'] = rows.length;
  facts['outbox rows expected'] = expectedRows;

  // Delivery: every row sent, each MSH-10 received at least once, first receipts in outbox order per destination.
  const got = new Map<string, number>();
  const firstOrder: string[] = [];
  for (const m of received) {
    const id = field(m, 'MSH', 10) ?? '';
    if (!got.has(id)) firstOrder.push(id);
    got.set(id, (got.get(id) ?? 0) + 1);
  }
  const rowByControl = new Map(rows.map((r) => [field(r.payload, 'MSH', 10) ?? '', r]));
  const notSent = rows.filter((r) => r.status !== 'sent');
  for (const r of notSent.slice(0, 10)) problem(`outbox row ${r.id} (${r.kind} to ${r.destination}) is ${r.status} after the final run (attempts ${r.attempts}, ${r.lastError ?? 'no error'})`);
  if (notSent.length > 10) problem(`... and ${notSent.length - 10} more outbox rows not sent`);
  const undelivered = rows.filter((r) => !got.has(field(r.payload, 'MSH', 10) ?? ''));
  for (const r of undelivered.slice(0, 10)) problem(`outbox row ${r.id} (${r.kind} to ${r.destination}, ${r.status}): never reached the EPR`);
  if (undelivered.length > 10) problem(`... and ${undelivered.length - 10} more outbox rows never reached the EPR`);
  for (const id of got.keys()) if (!rowByControl.has(id)) problem(`the EPR received MSH-10 ${id}, which is in no outbox row`);
  const lastId = new Map<string, number>();
  for (const id of firstOrder) {
    const r = rowByControl.get(id);
    if (!r) continue;
    if ((lastId.get(r.destination) ?? 0) > r.id) problem(`${r.destination}: outbox row ${r.id} first reached the EPR after row ${lastId.get(r.destination)} (out of order)`);
    lastId.set(r.destination, Math.max(lastId.get(r.destination) ?? 0, r.id));
  }
  facts['messages received'] = received.length;
  facts['messages delivered (distinct)'] = [...got.keys()].filter((k) => rowByControl.has(k)).length;
  facts['messages received more than once'] = [...got.values()].filter((n) => n > 1).length;
  facts['duplicate receipts'] = [...got.values()].reduce((s, n) => s + n - 1, 0);
  return { problems, facts };
}

function describe(i: Intake): string {
  return `${i.via === 'eso' ? 'ESO request' : `REF^I12 (MSH-10 ${i.controlId})`} ${i.system}|${i.requestId}`;
}
