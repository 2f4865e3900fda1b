/**
 * GET /metrics and the request counter. Metrics cover every organisation (outbox depth per
 * destination, request counts), so they are the system's view: on the main listener only with
 * authentication disabled, and otherwise on a listener of their own (ESO_METRICS_PORT, loopback
 * by default) that a Prometheus server scrapes from inside the network boundary.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { forbidden, unauthorized } from '../shared/outcomes.ts';
import type { Metrics } from '../shared/metrics.ts';
import type { PromMetrics } from './prom-metrics.ts';
import { callOf } from './request-context.ts';

/** The FHIR path as a template: types and ids never become labels (a hostile path is not a series). */
function fhirTemplate(segments: string[]): string {
  if (segments.length === 0) return '/fhir';
  const [first, second, third] = segments;
  if (first === 'metadata' || first === '.well-known' || first.startsWith('$')) return `/fhir/${first.startsWith('$') ? ':operation' : first === '.well-known' ? '.well-known/:document' : first}`;
  if (segments.length === 1) return '/fhir/:type';
  if (second === '_search' || second.startsWith('$')) return `/fhir/:type/${second === '_search' ? '_search' : ':operation'}`;
  if (segments.length === 2) return '/fhir/:type/:id';
  if (third === '_history') return segments.length === 3 ? '/fhir/:type/:id/_history' : '/fhir/:type/:id/_history/:vid';
  return '/fhir/:type/:id/:operation';
}

/** The route template of a request: Express's own where a route matched, FHIR's shape under /fhir, else 'unmatched'. */
export function routeTemplate(req: Request): string {
  const path = req.originalUrl.split('?')[0];
  if (path === '/fhir' || path.startsWith('/fhir/')) return fhirTemplate(path.split('/').slice(2).filter(Boolean));
  const route = (req as { route?: { path?: unknown } }).route?.path;
  if (typeof route === 'string' && !route.includes('*')) return `${req.baseUrl}${route}`;
  return 'unmatched';
}

/** Counts every answered request (mounted first, so refusals and 404s count too). */
export function countRequests(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    res.on('finish', () => metrics.httpRequest(routeTemplate(req), req.method, res.statusCode, Number(process.hrtime.bigint() - start) / 1e9));
    next();
  };
}

async function answer(prom: PromMetrics, res: Response): Promise<void> {
  const { contentType, text } = await prom.scrape();
  res.setHeader('Cache-Control', 'no-store');
  res.status(200).type(contentType).send(text);
}

/** GET /metrics on the main listener (after authentication): the system only. */
export function metricsRoutes(app: Express, deps: { prom: PromMetrics; authDisabled: boolean; separatePort: boolean }): void {
  app.get('/metrics', async (_req, res) => {
    if (callOf(res).caller) throw forbidden(`Metrics cover every organisation: ${deps.separatePort ? 'scrape the metrics listener (ESO_METRICS_PORT)' : 'set ESO_METRICS_PORT and scrape that listener'}`);
    if (!deps.authDisabled) throw unauthorized();
    await answer(deps.prom, res);
  });
}

/** The metrics listener: GET /metrics and nothing else, no token (the network is the boundary). */
export async function startMetricsListener(prom: PromMetrics, host: string, port: number): Promise<{ port: number; close(): Promise<void> }> {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => { await answer(prom, res); });
  app.use((_req, res) => { res.status(404).type('text/plain').send('only /metrics here\n'); });
  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}
