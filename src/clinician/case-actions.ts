/**
 * What a clinician does to a case, as FHIR writes through the repository acting for their organisation:
 * the same writes a FHIR client would make, so the same WriteHook rules decide (who may move the Task,
 * the independence declaration, answers to every question, consent only by the records holder).
 * Nothing here decides whether a move is allowed; a refusal comes back as the rule's OperationOutcomeError.
 */
import type { Consent, DiagnosticReport, Extension, ServiceRequest, Task } from 'fhir/r4.js';
import { newResourceId } from '../shared/resource-id.ts';
import { esoCoding, Extensions, type EsoCode } from '../domain/codes.ts';
import type { Repository } from '../fhir/repository.ts';
import { Profiles, REPORT_LOINC, Systems } from '../fhir/eso-urls.ts';
import type { StorageTx } from '../storage/types.ts';

type Within = (tx: StorageTx, entities: string[]) => Promise<void>;

async function updateTask(repo: Repository, taskId: string, change: (t: Task) => Task, within: Within): Promise<Task> {
  return repo.inTx(async (r, tx) => {
    const task = (await r.read<Task>('Task', taskId)).resource;
    const stored = (await r.update(change(structuredClone(task)))).resource as Task;
    await within(tx, [`Task/${taskId}`]);
    return stored;
  });
}

const step = (code: EsoCode) => ({ coding: [esoCoding(code)] });

/** Provider: the request has arrived (requested → received). */
export const receive = (repo: Repository, taskId: string, within: Within) =>
  updateTask(repo, taskId, (t) => ({ ...t, status: 'received', businessStatus: step('received') }), within);

/** Provider: accepts, with its independence declaration (and, outside the UK, where law or ethics differ). */
export function accept(repo: Repository, taskId: string, d: { independent: boolean; noConflict: boolean; professionalBody?: string; legalEthical?: string; by?: string }, within: Within) {
  return updateTask(repo, taskId, (t) => {
    const parts: Extension[] = [{ url: 'independent', valueBoolean: d.independent }, { url: 'noConflictOfInterest', valueBoolean: d.noConflict }];
    if (d.professionalBody) parts.push({ url: 'professionalBody', valueString: d.professionalBody });
    parts.push({ url: 'date', valueDateTime: new Date().toISOString() });
    const extension = (t.extension ?? []).filter((e) => e.url !== Extensions.independenceDeclaration && e.url !== Extensions.legalEthicalDifferences);
    extension.push({ url: Extensions.independenceDeclaration, extension: parts });
    if (d.legalEthical) extension.push({ url: Extensions.legalEthicalDifferences, valueString: d.legalEthical });
    return { ...t, status: 'accepted', businessStatus: step('accepted'), extension };
  }, within);
}

/** Provider: declines, saying why. */
export const decline = (repo: Repository, taskId: string, reason: string, within: Within) =>
  updateTask(repo, taskId, (t) => ({ ...t, status: 'rejected', businessStatus: step('declined'), ...(reason ? { statusReason: { text: reason } } : {}) }), within);

/** Provider: records progress (work started, on hold, resumed). */
export const PROGRESS: Record<string, { status: Task['status']; code: EsoCode }> = {
  'records-review': { status: 'in-progress', code: 'records-review' },
  'visit-scheduled': { status: 'in-progress', code: 'visit-scheduled' },
  'outpatient-scheduled': { status: 'in-progress', code: 'outpatient-scheduled' },
  'on-hold': { status: 'on-hold', code: 'on-hold' },
};
export const progress = (repo: Repository, taskId: string, key: string, within: Within) =>
  updateTask(repo, taskId, (t) => ({ ...t, status: PROGRESS[key].status, businessStatus: step(PROGRESS[key].code) }), within);

/** Provider: issues the report (one answer per question, a plain-language summary) and completes the Task, in one transaction. */
export async function writeReport(repo: Repository, taskId: string, answers: { linkId: string; text: string }[], summary: string, within: Within): Promise<DiagnosticReport> {
  return repo.inTx(async (r, tx) => {
    const task = (await r.read<Task>('Task', taskId)).resource;
    const id = newResourceId();
    const text = [summary, ...answers.map((a) => `${a.linkId}: ${a.text}`)].join('\n\n');
    const report: DiagnosticReport = {
      resourceType: 'DiagnosticReport', id, meta: { profile: [Profiles.diagnosticReport] },
      extension: answers.map((a) => ({ url: Extensions.answer, extension: [{ url: 'question', valueString: a.linkId }, { url: 'text', valueString: a.text }] })),
      basedOn: [task.focus as { reference: string }], status: 'final',
      code: { coding: [{ system: Systems.loinc, code: REPORT_LOINC, display: 'Confirmatory consultation note' }] },
      subject: task.for as { reference: string }, issued: new Date().toISOString(),
      ...(task.owner ? { performer: [task.owner] } : {}),
      conclusion: summary,
      presentedForm: [{ contentType: 'text/plain', language: 'en-GB', title: 'External second opinion report', data: Buffer.from(text).toString('base64') }],
    };
    await r.create(report, { assignedId: id });
    await r.update({ ...task, status: 'completed', businessStatus: step('report-issued'),
      output: [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${id}` } }] });
    await within(tx, [`Task/${taskId}`, `DiagnosticReport/${id}`]);
    return report;
  });
}

/** Treating team: the opinion was discussed with the family (the report records when; the Task records the step). */
export async function markDiscussed(repo: Repository, taskId: string, within: Within): Promise<void> {
  await repo.inTx(async (r, tx) => {
    const task = (await r.read<Task>('Task', taskId)).resource;
    const ref = task.output?.find((o) => o.valueReference)?.valueReference?.reference;
    const entities = [`Task/${taskId}`];
    if (ref?.startsWith('DiagnosticReport/')) {
      const dr = (await r.read<DiagnosticReport>('DiagnosticReport', ref.slice('DiagnosticReport/'.length))).resource;
      const extension = [...(dr.extension ?? []).filter((e) => e.url !== Extensions.sharedWithFamily), { url: Extensions.sharedWithFamily, valueDateTime: new Date().toISOString() }];
      await r.update({ ...dr, extension });
      entities.push(ref);
    }
    await r.update({ ...task, businessStatus: step('discussed-with-family') });
    await within(tx, entities);
  });
}

/** Treating team: consent to share is withdrawn; it takes effect on the provider's next request. */
export async function withdrawConsent(repo: Repository, sr: ServiceRequest, within: Within): Promise<number> {
  return repo.inTx(async (r, tx) => {
    const found = await r.searchParams('Consent', { data: [`ServiceRequest/${sr.id}`], status: ['active'] }, 50);
    for (const c of found.resources) await r.update({ ...(c.resource as Consent), status: 'inactive' });
    await within(tx, found.resources.map((c) => `Consent/${c.resource.id}`));
    return found.resources.length;
  });
}
