/**
 * /eso/* routes: the plain-JSON ESO request API, the case timeline and the overdue list.
 * Express only: every decision is in domain/ (see docs/WORKFLOW.md for the API).
 */
import { requireJsonBody, sendJson } from './content.ts';
import type { StorageTx } from '../storage/types.ts';
import type { Express, Request, Response } from 'express';
import { ENDPOINT_SCOPES, requireEndpointScopes } from '../auth/endpoint-scopes.ts';
import type { DomainOperations } from '../domain/index.ts';
import type { Actor } from '../domain/ports.ts';
import { renderTimelineHtml } from '../domain/timeline/html.ts';
import type { Repository } from '../fhir/repository.ts';
import type { Interaction } from '../rest/types.ts';
import { notFound } from '../shared/outcomes.ts';

export interface EsoRouteDeps {
  domain: DomainOperations;
  /** The caller as a domain Actor (from the token), or undefined when auth is disabled. */
  actorOf: (res: Response) => Actor | undefined;
  repoFor: (actor: Actor | undefined) => Repository;
  baseUrl: () => string;
  /** The caller's scope check (throws 403/401); every route runs it before reading or writing anything. */
  authorize: (res: Response) => (interaction: Interaction, type: string) => void;
  /** Records the access (AuditEvent) before the response leaves; optional until security wires it. */
  audit?: (res: Response, record: EsoAuditRecord) => Promise<void>;
  /** Records an access inside a transaction of the domain's (intake), so it commits with the change. */
  auditIn?: (res: Response, tx: StorageTx, record: EsoAuditRecord) => Promise<void>;
}

/** What an /eso/* access touched, for the audit trail. */
export interface EsoAuditRecord {
  operation: 'eso-request' | 'eso-timeline' | 'eso-overdue';
  status: number;
  /** "Type/id" of the resources written or revealed. */
  entities: string[];
}

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

/** True when the client prefers an HTML page (a browser) over JSON. */
function wantsHtml(req: Request): boolean {
  const accept = String(req.headers.accept ?? '');
  return /text\/html/.test(accept) && !/application\/(fhir\+)?json/.test(accept);
}

/** Mounts /eso/*: POST /eso/requests, GET /eso/cases/:taskId/timeline, GET /eso/overdue. */
export function esoRoutes(app: Express, deps: EsoRouteDeps): void {
  // 201 + { created, task, serviceRequest } for a new case; 200 with the same body on a replay.
  app.post('/eso/requests', async (req, res) => {
    requireEndpointScopes(deps.authorize(res), ENDPOINT_SCOPES.esoRequest);
    requireJsonBody(req);
    // The AuditEvent is written in the intake's own transaction: one commit, and the answer never disagrees with the trail.
    const entities = (r: { task: { id?: string }; serviceRequest: { id?: string } }) => [`Task/${r.task.id}`, `ServiceRequest/${r.serviceRequest.id}`];
    const result = await deps.domain.submit(req.body, deps.actorOf(res), deps.auditIn
      ? { within: (tx, r) => deps.auditIn!(res, tx, { operation: 'eso-request', status: r.created ? 201 : 200, entities: entities(r) }) }
      : {});
    const status = result.created ? 201 : 200;
    if (!deps.auditIn) await deps.audit?.(res, { operation: 'eso-request', status, entities: entities(result) });
    res.setHeader('Location', `${deps.baseUrl()}/fhir/Task/${result.task.id}`);
    sendJson(res, status, { created: result.created, task: result.task, serviceRequest: result.serviceRequest });
  });

  app.get('/eso/cases/:taskId/timeline', async (req, res) => {
    requireEndpointScopes(deps.authorize(res), ENDPOINT_SCOPES.timeline);
    const taskId = String(req.params.taskId);
    if (!ID_RE.test(taskId)) throw notFound(`Task/${taskId} is not known`);
    const timeline = await deps.domain.timeline(taskId, deps.actorOf(res));
    await deps.audit?.(res, { operation: 'eso-timeline', status: 200, entities: [`Task/${taskId}`] });
    if (wantsHtml(req)) {
      res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
      res.status(200).type('text/html; charset=utf-8').send(renderTimelineHtml(timeline));
      return;
    }
    sendJson(res, 200, timeline);
  });

  app.get('/eso/overdue', async (_req, res) => {
    requireEndpointScopes(deps.authorize(res), ENDPOINT_SCOPES.overdue);
    const bundle = await deps.domain.overdue(deps.actorOf(res));
    await deps.audit?.(res, { operation: 'eso-overdue', status: 200, entities: (bundle.entry ?? []).map((e) => `Task/${e.resource?.id}`) });
    sendJson(res, 200, bundle, 'application/fhir+json');
  });
}
