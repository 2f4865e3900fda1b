/**
 * One error vocabulary (after medplum core/outcomes.ts): every failure is an OperationOutcomeError
 * made by a named factory; the HTTP status is derived in one place (statusOf).
 */
import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';

export type IssueCode = OperationOutcomeIssue['code'];

export class OperationOutcomeError extends Error {
  constructor(
    readonly outcome: OperationOutcome,
    readonly status: number,
    /** Extra response headers (e.g. WWW-Authenticate). */
    readonly headers: Record<string, string> = {},
  ) {
    super(outcome.issue[0]?.diagnostics ?? 'error');
    this.name = 'OperationOutcomeError';
  }
}

export function outcome(code: IssueCode, diagnostics: string, expression?: string | string[], severity: OperationOutcomeIssue['severity'] = 'error'): OperationOutcome {
  const issue: OperationOutcomeIssue = { severity, code, diagnostics };
  if (expression !== undefined) issue.expression = Array.isArray(expression) ? expression : [expression];
  return { resourceType: 'OperationOutcome', issue: [issue] };
}

function err(status: number, code: IssueCode, diagnostics: string, expression?: string | string[]): OperationOutcomeError {
  return new OperationOutcomeError(outcome(code, diagnostics, expression), status);
}

export const badRequest = (diagnostics: string, expression?: string | string[]) => err(400, 'invalid', diagnostics, expression);
export const unauthorized = (diagnostics = 'Authentication required') =>
  new OperationOutcomeError(outcome('login', diagnostics), 401, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
export const forbidden = (diagnostics = 'Insufficient scope', expression?: string | string[]) => err(403, 'forbidden', diagnostics, expression);
export const notFound = (diagnostics = 'Not found') => err(404, 'not-found', diagnostics);
/** 405 with the Allow header RFC 9110 §15.5.6 requires: the methods the target does answer. */
export const methodNotAllowed = (diagnostics: string, allow: string[] = []) =>
  new OperationOutcomeError(outcome('not-supported', diagnostics), 405, { Allow: allow.join(', ') });
export const notAcceptable = (diagnostics: string) => err(406, 'not-supported', diagnostics);
export const conflict = (diagnostics: string, expression?: string) => err(409, 'conflict', diagnostics, expression);
export const preconditionFailed = (diagnostics: string) => err(412, 'conflict', diagnostics);
export const tooLarge = (diagnostics = 'Request body too large') => err(413, 'too-costly', diagnostics);
export const unsupportedMediaType = (diagnostics: string) => err(415, 'not-supported', diagnostics);
/** A request the server will not run because it would cost too much (a search of too many values). */
export const tooCostly = (diagnostics: string, expression?: string | string[]) => err(400, 'too-costly', diagnostics, expression);
/** A 4xx that a library refused before our code ran (body-parser), with its own status. */
export const refusedByParser = (status: number, diagnostics = 'Bad request') => err(status >= 400 && status < 500 ? status : 400, 'invalid', diagnostics);
export const unprocessable = (diagnostics: string, expression?: string | string[]) => err(422, 'business-rule', diagnostics, expression);
/** The database has no space left (SQLite SQLITE_FULL, PostgreSQL 53100 disk_full, ENOSPC): nothing was stored; reads still work. */
export const storageFull = () =>
  new OperationOutcomeError(outcome('transient', 'The server has no storage space left: nothing was stored. Retry later; reads still work'), 503, { 'Retry-After': '60' });
/** True for the error storageFull() makes. */
export const isStorageFull = (e: unknown): boolean => isOutcomeError(e) && e.status === 503 && e.outcome.issue[0]?.code === 'transient';
export const serverError = (requestId: string) => err(500, 'exception', `Internal error; quote request id ${requestId}`);

/** Builds an error from several issues (validation): the status is that of the first. */
export function issuesError(status: number, issues: OperationOutcomeIssue[]): OperationOutcomeError {
  return new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues }, status);
}

export function isOutcomeError(e: unknown): e is OperationOutcomeError {
  return e instanceof OperationOutcomeError;
}

/**
 * The HTTP status of anything thrown (the one status function): an OperationOutcomeError's own,
 * a library's 4xx (body-parser), else 500.
 */
export function statusOf(e: unknown): number {
  if (isOutcomeError(e)) return e.status;
  const s = (e as { status?: unknown } | undefined)?.status;
  return typeof s === 'number' && s >= 400 && s < 500 ? s : 500;
}

export function allOk(diagnostics = 'All OK'): OperationOutcome {
  return outcome('informational', diagnostics, undefined, 'information');
}
