/**
 * POST /fhir/$process-message: Trust-to-Trust messages from a peer eso-bridge (docs/FEDERATION.md).
 * Express only: the receiver (federation/receiver.ts) decides everything.
 */
import type { Express, Response } from 'express';
import { requireEndpointScopes, type EndpointScopes } from '../auth/endpoint-scopes.ts';
import type { Actor } from '../domain/ports.ts';
import { messageRefusalDetail } from '../federation/refusal-audit.ts';
import type { Federation } from '../federation/service.ts';
import type { Interaction } from '../rest/types.ts';
import { statusOf } from '../shared/outcomes.ts';
import { requireJsonBody, sendJson } from './content.ts';

export interface FederationRouteDeps {
  federation: Federation;
  actorOf: (res: Response) => Actor | undefined;
  authorize: (res: Response) => (interaction: Interaction, type: string) => void;
}

/** A message makes or moves the receiver's copy of a case (as the CapabilityStatement's operation says). */
const PROCESS_MESSAGE: EndpointScopes = { endpoints: ['POST /fhir/$process-message'], needs: [['create', 'ServiceRequest'], ['update', 'Task']] };

const header = (v: string | string[] | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

export function federationRoutes(app: Express, deps: FederationRouteDeps): void {
  app.post('/fhir/\\$process-message', async (req, res) => {
    const sender = deps.actorOf(res);
    try {
      requireEndpointScopes(deps.authorize(res), PROCESS_MESSAGE);
      requireJsonBody(req);
      const answer = await deps.federation.receive(req.body, { requestId: header(req.headers['x-request-id']), correlationId: header(req.headers['x-correlation-id']) }, sender);
      if (answer.replay) res.setHeader('X-Replayed', 'true');
      sendJson(res, answer.status, answer.bundle, 'application/fhir+json');
    } catch (e) {
      // The refusal's AuditEvent (http/auth-middleware.ts auditRefusals) says what was refused and from whom.
      res.locals.auditDetail = messageRefusalDetail(statusOf(e), req.body, sender);
      throw e;
    }
  });
}
