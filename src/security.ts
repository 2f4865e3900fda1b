/**
 * Security wiring as the app sees it: the SMART Backend Services authorization server
 * (/auth/token, /auth/jwks, discovery), bearer authentication, scope checks, and the audit
 * trail. Builds the pieces of src/auth/ and hands Express the few handlers app.ts mounts.
 */
import { join } from 'node:path';
import type { CapabilityStatementRestSecurity, Resource } from 'fhir/r4.js';
import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import { issueAccessToken, verifyOwnAccessToken } from './auth/access-token.ts';
import type { AuditRecord } from './audit/audit-event.ts';
import { AuditTrail } from './audit/audit-trail.ts';
import { authorizeFor } from './auth/authorize.ts';
import { ClientKeys } from './auth/client-keys.ts';
import { ClientRegistry } from './auth/client-registry.ts';
import { assertAuthMayBeDisabled } from './auth/dev-mode.ts';
import { DirectorySync } from './auth/directory-sync.ts';
import { ExternalIssuer } from './auth/external-issuer.ts';
import { GroupCommit } from './audit/group-commit.ts';
import { jtiRecorder } from './auth/jti-store.ts';
import type { MllpBinding } from './auth/mllp-binding.ts';
import type { Principal } from './auth/principal.ts';
import { RemoteJwks } from './auth/remote-jwks.ts';
import { ServerKeyStore } from './auth/server-key-store.ts';
import { authUrls, capabilitySecurity, smartConfiguration } from './auth/smart-configuration.ts';
import { serveTokenRequest } from './auth/token-service.ts';
import { TokenVerifier } from './auth/token-verifier.ts';
import type { Config } from './config/schema.ts';
import { Repository } from './fhir/repository.ts';
import type { SearchParameterRegistry } from './fhir/search-params.ts';
import type { Interaction } from './rest/types.ts';
import type { Logger } from './shared/logger.ts';
import type { Metrics } from './shared/metrics.ts';
import { isStorageFull } from './shared/outcomes.ts';
import type { Storage, StorageTx } from './storage/types.ts';
import { auditRefusals, bearerAuthentication } from './http/auth-middleware.ts';
import { mountAuthRoutes } from './http/auth-routes.ts';

export type { AuditRecord } from './audit/audit-event.ts';

export interface SecurityWiring {
  publicRoutes(app: Express): void;
  /** Sets the call's caller (http/request-context.ts) or answers 401. */
  authenticate: RequestHandler;
  /** Scope check for a principal: throws 403 OperationOutcomeError. */
  authorizeFor(principal: Principal | undefined): (interaction: Interaction, type: string) => void;
  capabilitySecurity(): CapabilityStatementRestSecurity | undefined;
  /** Writes the AuditEvent; rejects if it cannot (the request then fails). */
  audit(record: AuditRecord): Promise<void>;
  /** Writes the AuditEvent inside the caller's transaction (it commits with the change it records). */
  auditIn(tx: StorageTx, record: AuditRecord): Promise<void>;
  /** Audits refusals (401/403/404) then passes the error on. */
  auditErrors: ErrorRequestHandler;
  /** What the client entries of an organisation (ODS code) say about its MLLP connections; the clients file is re-read when it changed. */
  mllpBindings(ods: string): Promise<MllpBinding[]>;
  close(): Promise<void>;
}

export interface SecurityDeps {
  config: Config;
  storage: Storage;
  log: Logger;
  /** The public base URL, known once the server listens. */
  baseUrl: () => string;
  /** Validation of writes, for the Organizations of registered clients (none = not validated). */
  validate?: (resource: Resource) => void;
  /** The server's search parameters (fhir/conformance.ts): AuditEvents and directory Organizations are indexed by them. */
  searchParams: SearchParameterRegistry;
  /** Counts tokens issued and refused (by OAuth error code). */
  metrics?: Metrics;
}

/** Where the clients file, the directory file and the signing key file are, from config. */
export function securityFiles(config: Pick<Config, 'clientsFile' | 'signingKeyFile' | 'dataDir'> & Partial<Pick<Config, 'directoryFile'>>): { clientsFile: string; directoryFile: string; signingKeyFile: string } {
  return {
    clientsFile: config.clientsFile ?? join(config.dataDir, 'clients.json'),
    directoryFile: config.directoryFile ?? join(config.dataDir, 'directory.json'),
    signingKeyFile: config.signingKeyFile ?? join(config.dataDir, 'signing-keys.json'),
  };
}

/** Interactions that only read: their audit record may fall back to the log when storage is full. */
const READS = new Set<string>(['read', 'vread', 'search', 'history']);
const READ_OPERATIONS = new Set(['eso-timeline', 'eso-overdue', 'admin-outbox']);

export async function createSecurity(deps: SecurityDeps): Promise<SecurityWiring> {
  const { config, storage, log } = deps;
  if (config.authDisabled) {
    assertAuthMayBeDisabled(config.host);
    log.warn('!!! ESO_AUTH_DISABLED=true: requests without a token act as the SYSTEM, with no tenancy and no scope checks. Development only. !!!');
  }
  if (!config.externalIssuer !== !config.externalJwksUrl) throw new Error('Set both ESO_EXTERNAL_ISSUER and ESO_EXTERNAL_JWKS_URL, or neither');
  const files = securityFiles(config);
  const fhirBase = () => `${deps.baseUrl()}/fhir`;
  const urls = () => authUrls(deps.baseUrl());

  const systemRepo = () => new Repository(storage, { baseUrl: fhirBase(), searchParams: deps.searchParams, validate: deps.validate ?? (() => undefined) });
  // The directory file and the clients' own organisations decide the stored Organizations.
  const directory = await DirectorySync.open(files.directoryFile, systemRepo, log);
  const clients = await ClientRegistry.open(files.clientsFile, log, { onLoad: (list) => directory.clientsLoaded(list) });
  await directory.start();
  const keys = await ServerKeyStore.open(files.signingKeyFile, config.tokenLifetimeSeconds, log);
  const commit = new GroupCommit(storage);
  const trail = new AuditTrail({ storage, commit, baseUrl: deps.baseUrl, fhirBase, searchParams: deps.searchParams, log });
  const remoteOptions = { timeoutMs: config.jwksTimeoutMs, cooldownMs: config.jwksCooldownMs };
  const clientKeys = new ClientKeys(clients, remoteOptions);
  const external = config.externalIssuer && config.externalJwksUrl
    ? new ExternalIssuer({ issuer: config.externalIssuer, audience: () => config.externalAudience ?? fhirBase(), odsClaim: config.externalOdsClaim, algorithms: config.externalAlgorithms },
      new RemoteJwks(config.externalJwksUrl, remoteOptions))
    : undefined;
  const verifier = new TokenVerifier({
    own: (token) => verifyOwnAccessToken(token, keys.verificationKey, { issuer: urls().issuer, audience: fhirBase() }),
    external,
  });

  // Opening the CapabilityStatement is not an access to anything: it is not audited.
  const audit = async (record: AuditRecord) => {
    if (record.interaction === 'capabilities') return;
    try {
      await trail.write(record);
    } catch (e) {
      // A full disk must not stop reads (a clinician still needs the record): the read's audit
      // record goes to the log (ids only; shipped off the machine) instead of the store. Writes fail anyway.
      if (!isStorageFull(e) || !READS.has(record.interaction) && !READ_OPERATIONS.has(record.detail ?? '')) throw e;
      log.warn({ audit: { interaction: record.interaction, status: record.status, requestId: record.requestId, client: record.principal?.clientId,
        org: record.principal?.organization, entities: record.entities, detail: record.detail } }, 'storage full: audit event logged, not stored');
    }
  };
  const settings = () => ({ issuer: urls().issuer, audience: fhirBase(), lifetimeSeconds: config.tokenLifetimeSeconds });
  const token = (params: Record<string, unknown>, meta: { requestId: string; network?: string }) => countTokens(deps.metrics, serveTokenRequest(params, meta, {
    audit, log,
    endpoint: {
      findClient: (id) => clients.find(id),
      clientKey: (client, header) => clientKeys.keyFor(client, header),
      tokenUrl: () => urls().token,
      recordJti: jtiRecorder(commit),
      lifetimeSeconds: config.tokenLifetimeSeconds,
      sign: async (principal, now) => issueAccessToken(await keys.signingKey(), settings(), principal, now),
    },
  }));

  return {
    publicRoutes: (app) => mountAuthRoutes(app, { smartConfiguration: () => smartConfiguration(deps.baseUrl()), jwks: () => keys.publicJwks(), token }),
    authenticate: bearerAuthentication({ verify: (t) => verifier.verify(t), authDisabled: config.authDisabled, log }),
    authorizeFor: (principal) => authorizeFor(principal, { authDisabled: config.authDisabled }),
    capabilitySecurity: () => capabilitySecurity(deps.baseUrl()),
    audit,
    auditIn: async (tx, record) => { await trail.writeIn(tx, record); },
    auditErrors: auditRefusals(audit, log, { authDisabled: config.authDisabled }),
    mllpBindings: (ods) => clients.mllpBindings(ods),
    close: async () => {
      directory.close();
      await commit.close();
      await trail.close();
    },
  };
}

/** Issued, or refused by its OAuth error code (never the client id or the reason text). */
async function countTokens<T extends { status: number; body: unknown }>(metrics: Metrics | undefined, answer: Promise<T>): Promise<T> {
  const a = await answer;
  if (a.status === 200) metrics?.tokenIssued();
  else metrics?.tokenRefused(String((a.body as { error?: unknown }).error ?? 'other'));
  return a;
}
