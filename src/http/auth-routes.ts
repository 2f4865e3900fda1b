/**
 * Express adapter for the authorization server's public routes: discovery, the JWKS and the
 * token endpoint. Answers are JSON whatever the Accept header says; token answers are never cached.
 */
import { sendJson } from './content.ts';
import type { Express, Request, Response } from 'express';
import { invalidRequest, oauthErrorBody } from '../auth/oauth-error.ts';
import type { TokenAnswer } from '../auth/token-service.ts';
import { notFound } from '../shared/outcomes.ts';
import { callOf, setCaller } from './request-context.ts';

export interface AuthRouteDeps {
  smartConfiguration: () => Record<string, unknown>;
  jwks: () => unknown;
  token: (params: Record<string, unknown>, meta: { requestId: string; network?: string }) => Promise<TokenAnswer>;
}

function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}

export function mountAuthRoutes(app: Express, deps: AuthRouteDeps): void {
  app.get('/fhir/.well-known/smart-configuration', (_req, res) => sendJson(res, 200, deps.smartConfiguration()));
  app.get('/auth/jwks', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=60');
    sendJson(res, 200, deps.jwks());
  });
  app.post('/auth/token', async (req: Request, res: Response) => {
    noStore(res);
    if (!req.is('application/x-www-form-urlencoded') || !req.body || typeof req.body !== 'object') {
      sendJson(res, 400, oauthErrorBody(invalidRequest('The body must be application/x-www-form-urlencoded')));
      return;
    }
    const answer = await deps.token(req.body as Record<string, unknown>, { requestId: callOf(res).requestId, network: req.ip });
    if (answer.principal) setCaller(res, answer.principal); // for the access log (ids only)
    sendJson(res, answer.status, answer.body);
  });
  app.all('/auth/token', (_req, res) => {
    noStore(res);
    res.setHeader('Allow', 'POST');
    sendJson(res, 405, oauthErrorBody(invalidRequest('Use POST')));
  });
  app.use('/auth', (_req, _res, next) => next(notFound('No such endpoint')));
}
