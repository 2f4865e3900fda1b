/**
 * The opinion (docs/DESIGN.md "The process" 7): a DiagnosticReport (LOINC 47040-1) that answers every
 * question of the request, each eso-answer naming its question's linkId. The provider writes it;
 * the treating team may only record that it was shared with the family (eso-shared-with-family).
 */
import type { DiagnosticReport, ServiceRequest, Task } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { forbidden, unprocessable } from '../../shared/outcomes.ts';
import { actorOfRepo, partiesOfRequest, sideOf } from '../case.ts';
import { answersOf, Extensions, questionsOf, type Answer, type Question } from '../codes.ts';
import { Reader } from '../reader.ts';

/** Report statuses that are the opinion itself (a draft may still be incomplete). */
export const ISSUED = new Set<DiagnosticReport['status']>(['final', 'amended', 'corrected', 'appended']);

/**
 * Problems matching answers to questions (pure): answers to unknown questions, repeated
 * answers, and, when `complete` is required, questions left unanswered.
 */
export function answerProblems(questions: Question[], answers: Answer[], complete: boolean): string[] {
  const known = new Set(questions.map((q) => q.linkId));
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const a of answers) {
    if (!known.has(a.question)) problems.push(`an answer refers to question '${a.question}', which the request does not ask`);
    else if (seen.has(a.question)) problems.push(`question '${a.question}' is answered more than once`);
    else if (!a.text.trim()) problems.push(`the answer to question '${a.question}' is empty`);
    seen.add(a.question);
  }
  if (complete) {
    for (const q of questions) if (!seen.has(q.linkId)) problems.push(`question '${q.linkId}' ("${q.text}") has no answer`);
  }
  return problems;
}

/** The ServiceRequest a report is based on (its first ESO one). */
async function requestOf(reader: Reader, dr: DiagnosticReport): Promise<ServiceRequest | undefined> {
  for (const ref of dr.basedOn ?? []) {
    const sr = await reader.ref<ServiceRequest>(ref);
    if (sr?.resourceType === 'ServiceRequest') return sr;
  }
  return undefined;
}

/** The report with the parts the treating team may change removed, for comparison. */
function withoutFamilySharing(dr: DiagnosticReport): string {
  const { meta: _m, extension, ...rest } = dr;
  return JSON.stringify({ ...rest, extension: (extension ?? []).filter((e) => e.url !== Extensions.sharedWithFamily) });
}

/** Rule 5 on write: answers match questions; the provider writes; the requester marks sharing only. */
export async function checkReportWrite(next: DiagnosticReport, previous: DiagnosticReport | undefined, repo: Repository): Promise<void> {
  const reader = Reader.ofRepo(repo);
  const sr = await requestOf(reader, next);
  if (!sr) throw unprocessable('The report must be based on the ESO ServiceRequest it answers (basedOn)', 'DiagnosticReport.basedOn');
  if (reader.key(next.subject) !== reader.key(sr.subject)) throw unprocessable('The report is about a different patient than its request', 'DiagnosticReport.subject');
  const problems = answerProblems(questionsOf(sr), answersOf(next), ISSUED.has(next.status));
  if (problems.length) throw unprocessable(`The report must answer every question of the request: ${problems.join('; ')}`, 'DiagnosticReport.extension');
  const parties = await partiesOfRequest(reader, sr);
  const side = await sideOf(reader, actorOfRepo(repo), { requester: parties.requester, owner: parties.performers[0] });
  if (side === undefined || side === 'provider') return;
  if (side === 'requester' && previous && withoutFamilySharing(previous) === withoutFamilySharing(next)) return;
  throw forbidden(side === 'requester'
    ? 'The treating team may only record that the report was shared with the family; the report itself is the provider\'s'
    : 'Only the provider organisation may write the report');
}

/**
 * Rule 5 on completion: the Task's output links an issued report, based on the Task's
 * ServiceRequest, that answers every question. Returns the report.
 */
export async function reportForCompletion(reader: Reader, task: Task, sr: ServiceRequest): Promise<DiagnosticReport> {
  for (const out of task.output ?? []) {
    const dr = await reader.ref<DiagnosticReport>(out.valueReference);
    if (dr?.resourceType !== 'DiagnosticReport') continue;
    if (!(dr.basedOn ?? []).some((b) => reader.key(b) === `ServiceRequest/${sr.id}`)) {
      throw unprocessable('The report in Task.output must be based on the Task\'s ServiceRequest', 'Task.output');
    }
    if (!ISSUED.has(dr.status)) throw unprocessable(`The report is '${dr.status}': issue it (final) before completing the Task`, 'Task.output');
    const problems = answerProblems(questionsOf(sr), answersOf(dr), true);
    if (problems.length) throw unprocessable(`The report must answer every question: ${problems.join('; ')}`, 'Task.output');
    return dr;
  }
  throw unprocessable('Completing the ESO Task needs the report: add it to Task.output as a valueReference to the DiagnosticReport', 'Task.output');
}
