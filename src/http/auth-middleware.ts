/**
 * The resource server's Express middleware: bearer authentication (401 with
 * WWW-Authenticate: Bearer error="invalid_token") and the audit of every refusal.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { AuditRecord } from '../audit/audit-event.ts';
import type { Principal } from '../auth/principal.ts';
import { InvalidToken, reasonOf } from '../auth/token-verifier.ts';
import type { Logger } from '../shared/logger.ts';
import { statusOf, unauthorized } from '../shared/outcomes.ts';
import { interactionOf } from './fhir-routes.ts';
import { callOf, setCaller } from './request-context.ts';

const BEARER_RE = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export interface AuthenticateOptions {
  verify: (token: string) => Promise<Principal>;
  /** ESO_AUTH_DISABLED: no token = the system; a token that is sent is still checked. */
  authDisabled: boolean;
  log: Logger;
}

/** Rule: every protected request carries a valid bearer token; its principal becomes the call's caller. */
export function bearerAuthentication(opts: AuthenticateOptions): RequestHandler {
  return (req, res, next) => {
    const header = req.headers.authorization;
    if (!header) {
      if (opts.authDisabled) return next();
      res.locals.authFailure = 'no token';
      return next(unauthorized());
    }
    const m = BEARER_RE.exec(header);
    if (!m) {
      res.locals.authFailure = 'malformed Authorization header';
      return next(unauthorized('The Authorization header must be: Bearer <token>'));
    }
    opts.verify(m[1]).then((principal) => {
      setCaller(res, principal);
      next();
    }, (e: unknown) => {
      const reason = e instanceof InvalidToken ? e.reason : reasonOf(e);
      res.locals.authFailure = reason;
      opts.log.info({ requestId: callOf(res).requestId, reason }, 'bearer token refused');
      next(unauthorized(reason === 'token expired' ? 'The access token has expired' : 'The access token is not valid here'));
    });
  };
}

/**
 * Rule: every refused request (401, 403, 404, any 4xx) leaves an AuditEvent before it is
 * answered; if that cannot be written, the answer is a 500. Server errors are audited too, best effort.
 */
export function auditRefusals(audit: (r: AuditRecord) => Promise<void>, log: Logger, opts: { authDisabled: boolean }): ErrorRequestHandler {
  return (err, req, res, next) => {
    const status = statusOf(err);
    const path = req.originalUrl.split('?')[0];
    const fhir = path === '/fhir' || path.startsWith('/fhir/');
    const segments = fhir ? path.slice(5).split('/').filter(Boolean).map((s) => { try { return decodeURIComponent(s); } catch { return s; } }) : [];
    const record: AuditRecord = {
      interaction: fhir ? interactionOf(req.method, segments) : 'operation',
      resourceType: segments[0], id: segments.length >= 2 ? segments[1] : undefined,
      status, principal: callOf(res).caller, requestId: callOf(res).requestId,
      // Refused with no caller (a body that does not parse is refused before the token is looked at): not the system.
      unauthenticated: !callOf(res).caller && !opts.authDisabled,
      // Why authentication failed, or what the route said it refused (a fixed, non-sensitive note).
      network: req.ip, detail: (status === 401 ? res.locals.authFailure : res.locals.auditDetail) as string | undefined,
    };
    audit(record).then(() => next(err), (auditErr: unknown) => {
      log.error({ requestId: callOf(res).requestId, err: (auditErr as Error).message }, 'audit record not written');
      next(status >= 500 ? err : auditErr);
    });
  };
}
