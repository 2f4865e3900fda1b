/**
 * Express helpers of the app: its security headers (strict CSP, no caching, no referrer), HTML answers,
 * the session and CSRF checks, and one place that turns an error into a plain page (never a stack trace).
 */
import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Actor } from '../domain/ports.ts';
import type { Caller } from '../shared/call-context.ts';
import { isOutcomeError } from '../shared/outcomes.ts';
import type { Logger } from '../shared/logger.ts';
import { messagePage } from './pages/layout.ts';
import { cookie, cookiesOf, sameSecret, SESSION_COOKIE, type AppSession, type SessionStore } from './sessions.ts';

export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

export function secureHeaders(res: Response): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
}

export function sendPage(res: Response, status: number, html: string): void {
  secureHeaders(res);
  res.status(status).type('text/html; charset=utf-8').send(html);
}

/** The caller of a signed-in clinician: the EHR's organisation, the app as the client, the person named. */
export function callerOf(s: AppSession): Caller {
  return { clientId: `clinician-app:${s.ehr.clientId}`, organization: s.ehr.organization, scopes: [], clinician: s.clinician };
}

export const actorOf = (s: AppSession): Actor => ({ organization: s.ehr.organization, agent: `clinician-app:${s.ehr.clientId}`, clinician: s.clinician });

export const sessionOf = (res: Response): AppSession => res.locals.appSession as AppSession;

/** A page of the app needs a live session; otherwise a page that says how to start again. */
export function requireSession(sessions: SessionStore, secure: () => boolean): RequestHandler {
  return (req, res, next) => {
    const s = sessions.touch(cookiesOf(req.headers.cookie)[SESSION_COOKIE]);
    if (!s) {
      res.setHeader('Set-Cookie', cookie(SESSION_COOKIE, '', { secure: secure(), maxAgeSeconds: 0 }));
      sendPage(res, 401, messagePage('Please sign in again', 'Your session has ended: it was left unused for too long, or you signed out.', 'Open the app again from your EHR.'));
      return;
    }
    res.locals.appSession = s;
    next();
  };
}

/** Every write carries the session's CSRF token (a hidden field of each form). */
export function requireCsrf(req: Request, res: Response, next: NextFunction): void {
  const token = (req.body as Record<string, unknown> | undefined)?.csrf;
  if (!sameSecret(typeof token === 'string' ? token : undefined, sessionOf(res).csrf)) {
    sendPage(res, 403, messagePage('This action was not carried out', 'The form did not come from this app (its security token is missing or wrong).', 'Go back, reload the page and try again.'));
    return;
  }
  next();
}

/** The words of a rule's refusal (an OperationOutcome's diagnostics), for a plain page. */
export function outcomeText(e: unknown): string | undefined {
  if (!isOutcomeError(e)) return undefined;
  return (e.outcome.issue ?? []).map((i) => i.diagnostics).filter(Boolean).join('; ') || 'The request was refused.';
}

/**
 * Runs a handler; a refusal by a rule becomes a page with the rule's words, anything else a generic page with
 * the request id. `refused` records a refusal (the AuditEvent of a signed-in clinician's refused access) first.
 */
export function handle(log: Logger, fn: (req: Request, res: Response) => Promise<void>, refused?: (req: Request, res: Response, status: number) => Promise<void>): RequestHandler {
  return async (req, res) => {
    try {
      await fn(req, res);
    } catch (e) {
      const requestId = String(res.getHeader('X-Request-Id') ?? '');
      if (isOutcomeError(e)) {
        const status = e.status;
        if (refused && (status === 403 || status === 404)) await refused(req, res, status);
        const title = status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : 'This could not be done';
        const text = status === 404 ? 'There is no such case, or it is not one your organisation takes part in.' : outcomeText(e) ?? '';
        sendPage(res, status, messagePage(title, text, 'Go back to continue.'));
        return;
      }
      log.error({ requestId, err: (e as Error)?.name }, 'clinician app error');
      sendPage(res, 500, messagePage('Something went wrong', `The app could not do this. If it happens again, tell the service desk this reference: ${requestId}.`));
    }
  };
}

export const field = (req: Request, name: string): string => {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v.trim() : '';
};

/** The request's X-Request-Id (set by the request-context middleware), which its AuditEvent carries. */
export const requestIdOf = (res: Response): string => String(res.getHeader('X-Request-Id') ?? randomUUID());

/** A file sent with a form. */
export interface Upload {
  name: string;
  type: string;
  data: Buffer;
}

export const uploadsOf = (res: Response): Upload[] => (res.locals.uploads as Upload[] | undefined) ?? [];

/**
 * A multipart form (the request form, which may carry a record): its fields into req.body like any form,
 * its files into res.locals.uploads. Parsed by Node's own fetch Request (undici), no parser of our own.
 */
export function multipartForm(limit: number): RequestHandler[] {
  return [express.raw({ type: 'multipart/form-data', limit }), async (req, res, next) => {
    if (!Buffer.isBuffer(req.body)) return next();
    let form: FormData;
    try {
      form = await new Request('http://form.local/', { method: 'POST', headers: { 'content-type': String(req.headers['content-type']) }, body: new Uint8Array(req.body) }).formData();
    } catch {
      sendPage(res, 400, messagePage('The form could not be read', 'What the browser sent was not a complete form.', 'Go back and try again.'));
      return;
    }
    const fields: Record<string, string> = {};
    const uploads: Upload[] = [];
    for (const [name, value] of form) {
      if (typeof value === 'string') fields[name] = value;
      else if (value.size > 0) uploads.push({ name: value.name || 'Record', type: value.type || 'application/octet-stream', data: Buffer.from(await value.arrayBuffer()) });
    }
    req.body = fields;
    res.locals.uploads = uploads;
    next();
  }];
}
