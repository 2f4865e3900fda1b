/**
 * Security wiring (SMART Backend Services, scopes, tenancy, audit) as the app sees it.
 * STUB: replaced by the security implementation (issue 4).
 */
import type { CapabilityStatementRestSecurity } from 'fhir/r4.js';
import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import type { Principal } from '../auth/principal.ts';
import type { Config } from '../config/schema.ts';
import type { Interaction } from '../rest/types.ts';
import type { Logger } from '../shared/logger.ts';
import type { Storage } from '../storage/types.ts';

/** One audited access, written as an AuditEvent before the response leaves. */
export interface AuditRecord {
  interaction: Interaction | 'token' | 'operation';
  resourceType?: string;
  id?: string;
  status: number;
  principal?: Principal;
  requestId: string;
  /** Resources returned or written, as "Type/id". */
  entities?: string[];
}

export interface SecurityWiring {
  publicRoutes(app: Express): void;
  /** Sets res.locals.principal or answers 401. */
  authenticate: RequestHandler;
  /** Scope check for a principal: throws 403 OperationOutcomeError. */
  authorizeFor(principal: Principal | undefined): (interaction: Interaction, type: string) => void;
  capabilitySecurity(): CapabilityStatementRestSecurity | undefined;
  /** Writes the AuditEvent; rejects if it cannot (the request then fails). */
  audit(record: AuditRecord): Promise<void>;
  /** Audits refusals (401/403/404) then passes the error on. */
  auditErrors: ErrorRequestHandler;
  /** ODS codes of registered clients (who may send HL7 v2 over MLLP by default). */
  clientOrganizations(): string[];
  close(): Promise<void>;
}

export interface SecurityDeps {
  config: Config;
  storage: Storage;
  log: Logger;
  /** The public base URL, known once the server listens. */
  baseUrl: () => string;
}

/** Development default: no tokens; every request acts as the system (no tenancy). */
export async function createSecurity(_deps: SecurityDeps): Promise<SecurityWiring> {
  return {
    publicRoutes: () => undefined,
    authenticate: (_req, _res, next) => next(),
    authorizeFor: () => () => undefined,
    capabilitySecurity: () => undefined,
    audit: async () => undefined,
    auditErrors: (err, _req, _res, next) => next(err),
    clientOrganizations: () => [],
    close: async () => undefined,
  };
}
