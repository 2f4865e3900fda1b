/**
 * The composition root: opens storage, loads profiles, wires security, the ESO domain and
 * HL7 v2, builds the per-request contexts and starts HTTP. Used by main.ts and by tests (port 0).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import { createApp } from './app.ts';
import { createClinicianApp } from './clinician/routes.ts';
import { baseUrlOf } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { makeAmend } from './domain/amend/amend.ts';
import { domainOperations, domainRules } from './domain/index.ts';
import { actorOfCall, type Actor, type AmendEsoRequest, type CancelEsoRequest, type IntakeResult, type SubmitEsoRequest } from './domain/ports.ts';
import { loadConformance } from './fhir/conformance.ts';
import { Repository } from './fhir/repository.ts';
import { adminRoutes } from './http/admin-routes.ts';
import { esoRoutes } from './http/eso-routes.ts';
import { callOf } from './http/request-context.ts';
import { hl7Routes } from './http/hl7-routes.ts';
import { federationRoutes } from './http/federation-routes.ts';
import { createFederation } from './federation/service.ts';
import { createHl7Service } from './hl7/service.ts';
import { senderRefusalRecord } from './hl7/sender-refusal-audit.ts';
import { landingRoutes } from './http/landing-page.ts';
import { metricsRoutes, startMetricsListener } from './http/metrics-routes.ts';
import { createPromMetrics, OUTBOX_SCAN_CAP, type PromMetrics } from './http/prom-metrics.ts';
import { createSecurity } from './security.ts';
import { logStartSummary } from './start-summary.ts';
import { applySocketLimits } from './http/socket-limits.ts';
import { buildCapabilityStatement } from './rest/capabilities.ts';
import { fhirBase, type FhirContext } from './rest/types.ts';
import { createLogger, type Logger } from './shared/logger.ts';
import { createSubscriptions, subscriptionWrites as createSubscriptionWrites } from './subscriptions/service.ts';
import { openStorage } from './storage/open.ts';
import type { Storage, StorageTx } from './storage/types.ts';

export interface RunningServer {
  url: string;
  /** The MLLP listener's port, when it runs. */
  mllpPort?: number;
  /** The metrics listener's port (ESO_METRICS_PORT), when it runs. */
  metricsPort?: number;
  storage: Storage;
  log: Logger;
  close(): Promise<void>;
}

const VERSION = '0.1.0';

/** A value made on first use and kept. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

export async function startServer(config: Config, opts: { log?: Logger } = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config.logLevel);
  // Metrics first: storage reports its commits to them, and they read the outbox from storage.
  let opened: Storage | undefined;
  const prom = createPromMetrics({ pendingOutbound: async () => (opened ? opened.listOutbound({ status: 'pending', limit: OUTBOX_SCAN_CAP }) : []) });
  const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, onCommit: prom.metrics.dbCommit });
  opened = storage;
  try {
    return await wire(config, log, storage, prom);
  } catch (e) {
    await storage.close().catch(() => undefined); // a refused start leaves nothing open
    throw e;
  }
}

const PURGE_EVERY_MS = 10 * 60_000;

async function wire(config: Config, log: Logger, storage: Storage, prom: PromMetrics): Promise<RunningServer> {
  const metrics = prom.metrics;
  const { validate, profiles, source: conformance, searchParams } = loadConformance();
  // The one value known late: the URL, once HTTP listens (port 0 in tests). Everything else is made in order below.
  let baseUrl = '';
  const base = () => fhirBase(baseUrl);
  const security = await createSecurity({ config, storage, log, baseUrl: () => baseUrl, validate, searchParams, metrics });

  // 1. What a write must tell (HL7 return messages, subscription events) and the rules every write and read meets.
  const hl7 = createHl7Service(config, storage, log, { metrics, sendsHl7: async (ods) => (await security.mllpBindings(ods)).length > 0 });
  const subscriptionWrites = createSubscriptionWrites({ searchParams, base, allowedOrigins: config.subscriptionOrigins });
  // Trust-to-Trust messages (docs/FEDERATION.md): queued for peers in the change's transaction, received at $process-message.
  const federation = createFederation({ peersFile: config.peersFile, repoFor: (a) => repoFor(a), base, log, timeoutMs: config.outboxAnswerTimeoutMs,
    auditIn: (tx, actor, r) => security.auditIn(tx, { interaction: 'operation', status: r.status, detail: r.detail, entities: r.entities, requestId: r.requestId,
      principal: { clientId: actor.agent, organization: actor.organization, scopes: [] } }),
    // A message discloses what it carries to the peer's Trust: audited like a read, before it leaves (as subscription notifications).
    auditSend: (d) => security.audit({ interaction: 'operation', status: 200, requestId: d.requestId, detail: `fhir-message-sent-${d.event}`, entities: d.entities,
      principal: { clientId: 'federation', organization: d.organization, scopes: [] } }) });
  const rules = domainRules({ caseEvents: hl7.sink, changes: subscriptionWrites.sink, remoteProvider: federation.remoteProvider });

  // 2. A repository acting for an organisation: tenancy, domain rules and the consent gate applied. Every way in uses it.
  const repoFor = (actor: Actor | undefined): Repository => new Repository(storage, {
    baseUrl: base(), searchParams, validate, orgs: actor ? [actor.organization] : undefined, agent: actor?.agent, clinician: actor?.clinician,
    hooks: [...rules.hooks, subscriptionWrites.hook, federation.hook], grants: rules.grants, access: rules.access,
  });

  // 3. What works through those repositories: the domain's operations, subscriptions (Backport IG, rest-hook) and HL7 v2 intake.
  const domain = domainOperations(repoFor, federation.remoteProvider);
  const subscriptions = createSubscriptions({ storage, repoFor, base, log,
    maxFailures: config.subscriptionMaxFailures, allowedOrigins: config.subscriptionOrigins, leaseMs: config.outboxLeaseMs, backoff: { baseMs: config.outboxBackoffBaseMs, capMs: config.outboxBackoffCapMs },
    // A notification discloses what it names or carries to the subscriber's organisation: audited like a read, before it leaves.
    audit: (d) => security.audit({ interaction: 'operation', status: 200, requestId: randomUUID(), detail: `subscription-${d.type}`, entities: d.entities,
      principal: { clientId: `subscription/${d.subscription}`, organization: d.organization, scopes: [] } }) });
  // HL7 v2 intake writes as the sending organisation: audited like the JSON API.
  // The AuditEvent is written in the intake's own transaction, so an ACK never disagrees with storage.
  const auditWithin = (actor: Actor | undefined, detail: string) => (tx: StorageTx, result: IntakeResult) => security.auditIn(tx, {
    interaction: 'operation', status: result.created ? 201 : 200, requestId: randomUUID(), detail,
    principal: actor ? { clientId: actor.agent, organization: actor.organization, scopes: [] } : undefined,
    entities: [`Task/${result.task.id}`, `ServiceRequest/${result.serviceRequest.id}`] });
  // One transaction per referral: the case, its AuditEvent and the receiver's stored ACK (opts.within) commit together.
  const auditedSubmit: SubmitEsoRequest = (input, actor, opts) => domain.submit(input, actor, {
    within: async (tx, result) => {
      await auditWithin(actor, 'hl7v2-ref-i12')(tx, result);
      await opts?.within?.(tx, result);
    },
  });
  // REF^I13 (amend) and REF^I14 (cancel): the requester's own case, through a repository acting for the sender, audited the same way.
  const [amendCase, cancelCase] = [makeAmend(repoFor), domain.cancel];
  const auditedCases: { amend: AmendEsoRequest; cancel: CancelEsoRequest } = {
    amend: (input, actor) => amendCase(input, actor, { within: auditWithin(actor, 'hl7v2-ref-i13') }),
    cancel: (ref, actor) => cancelCase(ref, actor, { within: auditWithin(actor, 'hl7v2-ref-i14') }),
  };
  // MLLP senders are who their client entries' `mllp` bindings say; each refusal leaves an AuditEvent.
  const receiver = hl7.receiver(auditedSubmit, {
    bindingsOf: (ods) => security.mllpBindings(ods),
    onRefused: (refusal) => security.audit(senderRefusalRecord(refusal, randomUUID())),
  }, auditedCases);

  // The one call context of the request (http/request-context.ts), as the domain's Actor.
  const actorOf = (res: Response): Actor | undefined => actorOfCall(callOf(res));
  // Built on first use: it names the base URL, known once HTTP listens.
  const capabilities = once(() => buildCapabilityStatement({ baseUrl, version: VERSION, profiles, searchParams, security: security.capabilitySecurity(),
    readOnlyTypes: conformance?.types, subscriptionTopics: subscriptions.topics, subscriptionDocumentation: subscriptions.documentation }));
  const fhirContext = (_req: Request, res: Response): FhirContext => {
    const call = callOf(res);
    return {
      repo: repoFor(actorOf(res)),
      baseUrl,
      capabilities,
      conformance,
      authorize: security.authorizeFor(call.caller),
      audit: (r) => security.audit({ ...r, principal: call.caller, requestId: call.requestId }),
      operations: subscriptions.operations,
    };
  };

  // The clinician app (SMART App Launch): its own sessions, mounted before bearer authentication.
  const clinicianApp = await createClinicianApp({ baseUrl: () => baseUrl, log, storage, domain, repoFor, audit: security.audit, auditIn: security.auditIn,
    ehrsFile: config.appEhrsFile, dataDir: config.dataDir, idleSeconds: config.appIdleSeconds, familyLinkDays: config.familyLinkDays, maxBodyBytes: config.maxBodyBytes });
  const app = createApp({
    log, storage, maxBodyBytes: config.maxBodyBytes, fhirContext,
    metrics,
    publicRoutes: (a) => {
      security.publicRoutes(a);
      landingRoutes(a, { version: VERSION, baseUrl: () => baseUrl });
      clinicianApp.mount(a);
    },
    authenticate: security.authenticate,
    protectedRoutes: (a) => {
      // /eso/* and /hl7/v2 check scopes like /fhir does (src/auth/endpoint-scopes.ts).
      const authorize = (res: Response) => security.authorizeFor(callOf(res).caller);
      esoRoutes(a, { domain, actorOf, repoFor, baseUrl: () => baseUrl, authorize,
        audit: (res, r) => security.audit({ interaction: 'operation', status: r.status, entities: r.entities, detail: r.operation,
          principal: callOf(res).caller, requestId: callOf(res).requestId }),
        auditIn: (res, tx, r) => security.auditIn(tx, { interaction: 'operation', status: r.status, entities: r.entities, detail: r.operation,
          principal: callOf(res).caller, requestId: callOf(res).requestId, network: callOf(res).network }) });
      hl7Routes(a, { receiver, authorize, audit: (r) => security.audit(r) });
      federationRoutes(a, { federation, actorOf, authorize });
      adminRoutes(a, { outbox: storage, authDisabled: config.authDisabled, alsoDestinations: federation.destinationsOf,
        audit: (res, r) => security.audit({ interaction: 'operation', status: r.status, detail: r.detail, principal: callOf(res).caller, requestId: callOf(res).requestId, network: callOf(res).network }) });
      metricsRoutes(a, { prom, authDisabled: config.authDisabled, separatePort: config.metricsPort !== undefined });
    },
    errorAudit: security.auditErrors,
  });
  const server: Server = createServer(app);
  applySocketLimits(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = baseUrlOf(config, port);
  // Draining: requests in flight finish; each keep-alive connection is closed as soon as it is idle
  // (keep-alive lasts 65 s, socket-limits.ts: the drain must not wait for that).
  const closeHttp = () => new Promise<void>((resolve) => {
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    server.close(() => {
      clearInterval(idle);
      resolve();
    });
    server.closeIdleConnections();
  });
  let started: Awaited<ReturnType<typeof hl7.start>>;
  let metricsListener: Awaited<ReturnType<typeof startMetricsListener>> | undefined;
  try {
    started = await hl7.start(receiver, { 'rest-hook': subscriptions.send, 'rest-hook-ctl': subscriptions.send, fed: federation.send });
    if (config.metricsPort !== undefined) metricsListener = await startMetricsListener(prom, config.metricsHost, config.metricsPort);
  } catch (e) {
    // A refused start (MLLP_PORT or ESO_METRICS_PORT in use) leaves nothing listening.
    await hl7.stop().catch(() => undefined);
    await closeHttp();
    await security.close().catch(() => undefined);
    throw e;
  }
  const purge = setInterval(() => {
    storage.purgeExpiredKeys(new Date().toISOString()).catch((e: unknown) => log.warn({ err: String(e) }, 'key purge failed'));
  }, PURGE_EVERY_MS).unref();
  if (config.outboxEnabled) subscriptions.startHeartbeats();
  log.info({ url: baseUrl, database: storage.dialect, mllpPort: started.mllpPort }, 'eso-bridge listening');
  await logStartSummary(config, { url: baseUrl, mllpPort: started.mllpPort, metricsPort: metricsListener?.port, database: storage.dialect }, log);

  let closing: Promise<void> | undefined;
  return {
    url: `http://${config.host}:${port}`,
    mllpPort: started.mllpPort,
    metricsPort: metricsListener?.port,
    storage,
    log,
    close() {
      closing ??= (async () => {
        clearInterval(purge);
        subscriptions.stop();
        await closeHttp();
        await metricsListener?.close();
        await hl7.stop();
        await security.close();
        await storage.close();
      })();
      return closing;
    },
  };
}
