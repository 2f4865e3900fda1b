/**
 * The one error handler. Known errors answer their OperationOutcome; anything else is a
 * generic 500 carrying the request id, which is also in the log. No stack trace leaves.
 */
import type { NextFunction, Request, Response } from 'express';
import { badRequest, isOutcomeError, refusedByParser, serverError, statusOf, tooLarge, unsupportedMediaType, type OperationOutcomeError } from '../shared/outcomes.ts';
import type { Logger } from '../shared/logger.ts';
import { NUL_IN_BODY } from './content.ts';
import { callOf } from './request-context.ts';

/** Errors thrown by body-parser, mapped to OperationOutcomes. */
function fromBodyParser(e: { type?: string; status?: number; message?: string }): OperationOutcomeError | undefined {
  if (e.type === 'entity.too.large') return tooLarge();
  if (e.type === 'entity.verify.failed' && e.message === NUL_IN_BODY) return badRequest('The body holds a NUL character (U+0000)');
  if (e.type === 'entity.parse.failed') return badRequest('The body is not valid JSON');
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return unsupportedMediaType('Unsupported content encoding');
  if (e.type === 'request.aborted') return badRequest('Request aborted');
  if (statusOf(e) < 500) return refusedByParser(statusOf(e));
  return undefined;
}

export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const requestId = callOf(res)?.requestId ?? '-';
    let e = isOutcomeError(err) ? err : fromBodyParser((err ?? {}) as { type?: string; status?: number });
    if (!e) {
      log.error({ requestId, err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) }, 'unexpected error');
      e = serverError(requestId);
    }
    res.locals.outcomeStatus = e.status;
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
    res.status(e.status).type('application/fhir+json; charset=utf-8').send(JSON.stringify(e.outcome));
  };
}
