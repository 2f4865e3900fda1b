/**
 * The one log line at start that says how this instance is configured (ports, database kind, and
 * how many clients, MLLP senders, directory entries and EPR endpoints it has; no secrets, no URLs
 * with passwords), and the warning an operator needs before return messages pile up unsent.
 */
import { listClients } from './auth/client-admin.ts';
import { listOrganizations } from './auth/directory-admin.ts';
import type { Config } from './config/schema.ts';
import { parseEprEndpoints } from './hl7/hl7-config.ts';
import { securityFiles } from './security.ts';
import type { Logger } from './shared/logger.ts';

export interface StartFacts {
  url: string;
  mllpPort?: number;
  metricsPort?: number;
  database: 'sqlite' | 'postgres';
}

export async function logStartSummary(config: Config, facts: StartFacts, log: Logger): Promise<void> {
  const files = securityFiles(config);
  const clients = await listClients(files.clientsFile).catch(() => []);
  const directory = await listOrganizations(files.directoryFile).catch(() => []);
  const endpoints = Object.keys(parseEprEndpoints(config.eprEndpoints));
  const senders = [...new Set(clients.filter((c) => c.mllp).map((c) => c.organization.toUpperCase()))];
  log.info({
    url: facts.url, mllpPort: facts.mllpPort ?? null, metricsPort: facts.metricsPort ?? null, database: facts.database,
    authentication: config.authDisabled ? 'disabled' : 'on', clients: clients.length, mllpSenders: senders.length,
    directoryEntries: directory.length, eprEndpoints: endpoints.length, outboxDispatcher: config.outboxEnabled,
    // Not built yet: clinician EHR launches and Trust-to-Trust peers have no configuration to count.
    ehrs: 0, peers: 0,
  }, 'eso-bridge configuration');
  const unrouted = senders.filter((ods) => !endpoints.includes(ods));
  if (unrouted.length) {
    log.warn({ organisations: unrouted.length, eprEndpoints: endpoints.length },
      'HL7 v2 senders are registered without an EPR endpoint (ESO_EPR_ENDPOINTS): their return messages (RRI^I12, ORU^R01) are kept in /admin/outbox as failed, "no route"');
  }
}
