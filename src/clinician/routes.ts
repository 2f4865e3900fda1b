/**
 * The clinician app (SMART App Launch 2.2), served by eso-bridge itself: one function that mounts it.
 * Pages are rendered on the server (no script at all), with one stylesheet of our own; see docs/CLINICIAN-APP.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Express } from 'express';
import type { AuditRecord } from '../audit/audit-event.ts';
import type { DomainOperations } from '../domain/index.ts';
import { orgByOds } from '../domain/organization-tree.ts';
import type { Actor } from '../domain/ports.ts';
import { Reader } from '../domain/reader.ts';
import type { Repository } from '../fhir/repository.ts';
import type { Logger } from '../shared/logger.ts';
import { projectPath } from '../shared/project-root.ts';
import type { Storage, StorageTx } from '../storage/types.ts';
import { openAppKeys } from './app-keys.ts';
import { caseRoutes } from './case-routes.ts';
import { EhrRegistry } from './ehr-registry.ts';
import { familyRoutes } from './family-routes.ts';
import { FamilyLinks } from './family-links.ts';
import { launchRoutes } from './launch-routes.ts';
import { SessionStore } from './sessions.ts';

export interface ClinicianDeps {
  baseUrl: () => string;
  log: Logger;
  storage: Storage;
  domain: Pick<DomainOperations, 'submit' | 'timeline' | 'cancel'>;
  /** A repository acting for an organisation (the case-access chain), with the clinician on the actor. */
  repoFor: (actor: Actor | undefined) => Repository;
  audit: (record: AuditRecord) => Promise<void>;
  auditIn: (tx: StorageTx, record: AuditRecord) => Promise<void>;
  /** ESO_APP_EHRS_FILE: which EHRs may launch the app (default ESO_DATA_DIR/app-ehrs.json; absent = no EHR may). */
  ehrsFile?: string;
  /** Where the app's own client keys are kept. */
  dataDir: string;
  idleSeconds: number;
  /** Largest form the app accepts, uploads included (ESO_MAX_BODY_BYTES; default 5 MB). */
  maxBodyBytes?: number;
  /** The directory's name for an organisation (its ODS code when it has none). */
  organizationName?: (ods: string) => Promise<string>;
  familyLinkDays: number;
}

const CSS = readFileSync(projectPath('public', 'app.css'), 'utf8');

/** True when the app is served over plain http on loopback (a developer's machine, tests): cookies then lack Secure. */
export function isLoopbackHttp(baseUrl: string): boolean {
  const u = new URL(baseUrl);
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

/** The deps as the routes get them, with every default filled in. */
export type AppDeps = ClinicianDeps & Required<Pick<ClinicianDeps, 'organizationName'>>;

/** The directory's name of an organisation, read as the system (the directory is not a secret). */
function directoryName(repoFor: ClinicianDeps['repoFor']): (ods: string) => Promise<string> {
  return async (ods) => {
    const org = await orgByOds(Reader.ofSystem(repoFor(undefined)), ods);
    return org?.name ?? ods;
  };
}

export interface ClinicianApp {
  /** Mounts /app/* and /family/* (before bearer authentication: the app has its own sessions). */
  mount(app: Express): void;
}

export async function createClinicianApp(deps: ClinicianDeps): Promise<ClinicianApp> {
  const keys = await openAppKeys(join(deps.dataDir, 'app-client-keys.json'));
  const ehrs = new EhrRegistry(deps.ehrsFile ?? join(deps.dataDir, 'app-ehrs.json'), deps.log);
  const sessions = new SessionStore(deps.idleSeconds * 1000);
  const links = new FamilyLinks(deps.storage, deps.familyLinkDays);
  const full: AppDeps = { ...deps, organizationName: deps.organizationName ?? directoryName(deps.repoFor) };
  return {
    mount(app) {
      // Known once the server listens: Secure cookies everywhere but plain http on loopback.
      let secure: boolean | undefined;
      const isSecure = () => (secure ??= !isLoopbackHttp(deps.baseUrl()));
      app.get('/app/static/app.css', (_req, res) => {
        res.setHeader('Cache-Control', 'public, max-age=3600');
        res.type('text/css').send(CSS);
      });
      launchRoutes(app, full, { ehrs, keys, sessions, secure: isSecure });
      caseRoutes(app, full, sessions, isSecure, links);
      familyRoutes(app, full, links);
    },
  };
}
