/**
 * The request's CallContext (shared/call-context.ts), made here once: the request id and the peer;
 * the bearer authentication adds the caller. Also the access log: ids, status and durations only
 * (no bodies, no query strings).
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { CallContext, Caller } from '../shared/call-context.ts';
import type { Logger } from '../shared/logger.ts';

/** The request's call context (set by requestContext, first of all middleware). */
export function callOf(res: Response): CallContext {
  return res.locals.call as CallContext;
}

/** Records who is calling, once the bearer token is verified (http/auth-middleware.ts only). */
export function setCaller(res: Response, caller: Caller): void {
  callOf(res).caller = caller;
}

export function requestContext(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[A-Za-z0-9\-_.]{1,64}$/.test(incoming) ? incoming : randomUUID();
    const call: CallContext = { requestId, network: req.ip };
    res.locals.call = call;
    res.setHeader('X-Request-Id', requestId);
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      log.info({ requestId, method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms: Math.round(ms * 10) / 10,
        client: call.caller?.clientId, org: call.caller?.organization }, 'request');
    });
    next();
  };
}
