/**
 * The real server for the security suites: real keys, real signatures, a clients file with
 * two organisations (RQ1 requests, RJ7 provides) and a narrow client, on either backend.
 * Restartable on the same data dir (and database) to prove state survives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { loadConfig } from '../../../src/config/load.ts';
import { startServer, type RunningServer } from '../../../src/server.ts';
import { clientsFileIn, getToken, registerClient } from '../../helpers/auth.ts';
import { backendEnv, type Backend } from '../../helpers/backends.ts';

export const A = { clientId: 'rq1-epr', organization: 'RQ1' };
export const B = { clientId: 'rj7-epr', organization: 'RJ7' };
/** RQ1's read-only integration engine: Task and ServiceRequest only. */
export const NARROW = { clientId: 'rq1-engine', organization: 'RQ1', scopes: ['system/Task.rs', 'system/ServiceRequest.read'] };

export interface Harness {
  server: RunningServer;
  url: string;
  fhir: string;
  dataDir: string;
  /** Directory of the clients file. */
  clientsDir: string;
  env: Record<string, string>;
  keys: Record<string, JWK>;
  token(clientId: string, scope?: string): Promise<string>;
  /** Stops and starts the server on the same data dir and database (optionally with more env). */
  restart(env?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(backend: Backend = 'sqlite', env: Record<string, string> = {}): Promise<Harness> {
  const b = await backendEnv(backend);
  const clientsDir = mkdtempSync(join(tmpdir(), 'eso-clients-'));
  const keys: Record<string, JWK> = {
    [A.clientId]: await registerClient(clientsDir, A),
    [B.clientId]: await registerClient(clientsDir, B),
    [NARROW.clientId]: await registerClient(clientsDir, NARROW),
  };
  const allEnv: Record<string, string> = {
    PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', ESO_AUTH_DISABLED: 'false',
    ESO_CLIENTS_FILE: clientsFileIn(clientsDir), ...b.env, ...env,
  };
  const h: Harness = {
    server: await startServer(loadConfig(allEnv)),
    url: '', fhir: '', dataDir: b.dataDir, clientsDir, env: allEnv, keys,
    token: (clientId, scope = 'system/*.cruds') => getToken(h.url, clientId, keys[clientId], scope),
    async restart(more = {}) {
      await h.server.close();
      Object.assign(allEnv, more);
      h.server = await startServer(loadConfig(allEnv));
      h.url = h.server.url;
      h.fhir = `${h.url}/fhir`;
    },
    async stop() {
      await h.server.close();
      await b.cleanup();
      rmSync(clientsDir, { recursive: true, force: true });
    },
  };
  h.url = h.server.url;
  h.fhir = `${h.url}/fhir`;
  return h;
}
