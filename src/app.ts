/**
 * createApp(deps): middleware order and mounts, no logic. Everything that decides anything
 * lives below (rest/, auth/, domain/, hl7/); main.ts builds the deps.
 */
import express, { type Express, type Request, type Response } from 'express';
import type { Logger } from './shared/logger.ts';
import type { Storage } from './storage/types.ts';
import type { FhirContext } from './rest/types.ts';
import { refuseNulInJson } from './http/content.ts';
import { errorHandler } from './http/errors.ts';
import { fhirRouter } from './http/fhir-routes.ts';
import { requestContext } from './http/request-context.ts';
import { countRequests } from './http/metrics-routes.ts';
import type { Metrics } from './shared/metrics.ts';
import { notFound } from './shared/outcomes.ts';

export interface AppDeps {
  log: Logger;
  storage: Storage;
  maxBodyBytes: number;
  /** Per-request FHIR context: a repository limited to what the caller may see. */
  fhirContext: (req: Request, res: Response) => FhirContext;
  /** Routes that need no token (/auth/*, /fhir/.well-known/*), mounted first. */
  publicRoutes?: (app: Express) => void;
  /** Authentication: sets the call's caller or answers 401 (absent = no authentication). */
  authenticate?: express.RequestHandler;
  /** Routes that need a token besides /fhir (/eso/*, /hl7/v2, /admin/*). */
  protectedRoutes?: (app: Express) => void;
  /** Counts every answered request (route template, method, status, latency). */
  metrics?: Metrics;
  /** Sees every error before the error handler (audit of refusals). */
  errorAudit?: express.ErrorRequestHandler;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  if (deps.metrics) app.use(countRequests(deps.metrics));
  app.use(requestContext(deps.log));
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', async (_req, res) => {
    try {
      await deps.storage.ping();
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'database unreachable' });
    }
  });
  const limit = deps.maxBodyBytes;
  app.use(express.json({ type: ['application/json', 'application/fhir+json', 'application/json+fhir'], limit, strict: false, verify: refuseNulInJson }));
  app.use(express.urlencoded({ extended: false, limit, parameterLimit: 1000 }));
  // HL7 v2 as bytes: the receiver decodes them by the Content-Type charset or MSH-18 (hl7/charset.ts).
  app.use(express.raw({ type: ['x-application/hl7-v2+er7', 'application/hl7-v2'], limit }));
  deps.publicRoutes?.(app);
  // One FHIR router, mounted before authentication for /fhir/metadata only and after it for the rest.
  const fhir = fhirRouter(deps.fhirContext);
  app.get('/fhir/metadata', (req, res, next) => {
    req.url = `/metadata${req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''}`;
    fhir(req, res, next);
  });
  if (deps.authenticate) app.use(deps.authenticate);
  deps.protectedRoutes?.(app);
  app.use('/fhir', fhir);
  app.use((_req, _res, next) => next(notFound('No such endpoint')));
  if (deps.errorAudit) app.use(deps.errorAudit);
  app.use(errorHandler(deps.log));
  return app;
}
