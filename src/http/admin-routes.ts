/**
 * GET /admin/outbox: the outbox (HL7 v2, and Trust-to-Trust messages sent for the caller's Trust) as an operator or an EPR team needs it (where each
 * message goes, its status, attempts and last error), never its payload: payloads hold NHS
 * numbers and clinical text. Express only; the rules are the few lines of `outboxFilter`.
 */
import type { Express, Request, Response } from 'express';
import type { Principal } from '../auth/principal.ts';
import { permits } from '../auth/scopes.ts';
import { badRequest, forbidden, unauthorized } from '../shared/outcomes.ts';
import { mllpDestination, type OutboxMessage, type Storage } from '../storage/types.ts';
import { callOf } from './request-context.ts';

export interface AdminRouteDeps {
  outbox: Pick<Storage, 'listOutbound'>;
  /** ESO_AUTH_DISABLED: a request without a principal acts as the system. */
  authDisabled: boolean;
  /** Records the access (AuditEvent) before the answer leaves, like every other read. */
  audit?: (res: Response, record: { status: number; detail: string }) => Promise<void>;
  /** More destinations an organisation's messages go to besides its EPR (Trust-to-Trust: `fed:<peer>@<ODS>`). */
  alsoDestinations?: (ods: string) => Promise<string[]>;
}

const STATUSES: readonly OutboxMessage['status'][] = ['pending', 'sent', 'failed'];
const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 100;

/** The fields that may leave: an allow-list, so a column added later never leaks by default. */
export interface OutboxView {
  id: number;
  destination: string;
  kind: string;
  status: OutboxMessage['status'];
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}

export function outboxView(m: OutboxMessage): OutboxView {
  return {
    id: m.id, destination: m.destination, kind: m.kind, status: m.status, attempts: m.attempts,
    nextAttemptAt: m.nextAttemptAt, lastError: m.lastError, createdAt: m.createdAt, sentAt: m.sentAt,
  };
}

/**
 * Who sees which messages. Rule: the system (authentication disabled, no token) sees every
 * destination; an organisation needs read and search on every type (`system/*.rs`, v1
 * `system/*.read`), as the messages are about its cases, and sees only messages addressed to
 * its own EPR (`mllp:<ODS>`), and the Trust-to-Trust messages sent for it (`alsoDestinations`). Returns
 * the destination to filter on (undefined: all).
 */
export function outboxFilter(principal: Principal | undefined, authDisabled: boolean): { destination?: string } {
  if (!principal) {
    if (authDisabled) return {};
    throw unauthorized();
  }
  if (!permits(principal.scopes, '*', 'r') || !permits(principal.scopes, '*', 's')) {
    throw forbidden('Insufficient scope: the outbox needs system/*.rs');
  }
  return { destination: mllpDestination(principal.organization) };
}

function parseQuery(req: Request): { status?: OutboxMessage['status']; limit: number } {
  const status = req.query.status;
  if (status !== undefined && !STATUSES.includes(status as OutboxMessage['status'])) {
    throw badRequest(`status must be one of ${STATUSES.join(', ')}`, 'status');
  }
  const rawLimit = req.query.limit;
  let limit = DEFAULT_LIMIT;
  if (rawLimit !== undefined) {
    if (typeof rawLimit !== 'string' || !/^\d{1,4}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > MAX_LIMIT) {
      throw badRequest(`limit must be a whole number from 1 to ${MAX_LIMIT}`, 'limit');
    }
    limit = Number(rawLimit);
  }
  return { status: status as OutboxMessage['status'] | undefined, limit };
}

/** Mounts GET /admin/outbox?status=pending|sent|failed&limit= (oldest first). */
export function adminRoutes(app: Express, deps: AdminRouteDeps): void {
  app.get('/admin/outbox', async (req, res: Response) => {
    const { destination } = outboxFilter(callOf(res).caller, deps.authDisabled);
    const { status, limit } = parseQuery(req);
    const destinations = destination ? [destination, ...(await deps.alsoDestinations?.(callOf(res).caller!.organization) ?? [])] : [undefined];
    const lists = await Promise.all(destinations.map((d) => deps.outbox.listOutbound({ status, destination: d, limit })));
    const messages = lists.flat().sort((x, y) => x.id - y.id).slice(0, limit);
    await deps.audit?.(res, { status: 200, detail: 'admin-outbox' });
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).type('application/json; charset=utf-8').send(JSON.stringify({ messages: messages.map(outboxView) }));
  });
}
