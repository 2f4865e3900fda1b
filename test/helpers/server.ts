/**
 * The real server, in-process on an ephemeral port, on the chosen backend, secure by default:
 * authentication on, a default client registered with real keys (`test-epr`, acting for TST01,
 * system/*.cruds) and an administered directory file, both in the server's own data dir.
 *
 *   const server = await startTestServer(backend);
 *   await fetch(`${server.fhir}/Patient`, { headers: await server.authHeaders() });
 *
 * A caller that sets ESO_CLIENTS_FILE (or ESO_DIRECTORY_FILE) brings its own file and gets no
 * default one. A test that needs the system's view passes `{ ESO_AUTH_DISABLED: 'true' }` with a
 * comment saying why.
 */
import { loadConfig } from '../../src/config/load.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { clientsFileIn, registerClient, tokenSource, type ClientPrivateKey, type RegisterOptions } from './auth.ts';
import { backendEnv, type Backend } from './backends.ts';
import { directoryFileIn, writeDirectory, type DirectoryEntry } from './directory.ts';

/** A registered client of the test server, with its token cached. */
export interface TestClient {
  clientId: string;
  /** ODS code it acts for. */
  organization: string;
  /** A bearer token (of the client's registered scopes), fetched again before it expires. */
  token(): Promise<string>;
  /** `{ authorization: 'Bearer …' }`. */
  headers(): Promise<Record<string, string>>;
}

export interface TestServerOptions {
  /** The default client (default: `test-epr` for TST01 with system/*.cruds). */
  client?: Partial<Omit<RegisterOptions, 'mllp' | 'alg'>>;
  /** More clients in the same clients file (a provider, a stranger), by client id in `clients`. */
  clients?: RegisterOptions[];
  /** What the operator's directory file places (clients' own organisations exist anyway, top level). */
  directory?: DirectoryEntry[];
}

export interface TestServer extends RunningServer {
  fhir: string;
  dataDir: string;
  env: Record<string, string>;
  /** The default client; undefined when authentication is off or the caller brought its clients file. */
  client?: TestClient;
  /** The default client and those of `options.clients`, by client id. */
  clients: Record<string, TestClient>;
  /** The default client's bearer token (throws when there is none). */
  token(): Promise<string>;
  /** The default client's authorization header; `{}` when authentication is off (throws when on without a default client). */
  authHeaders(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export const DEFAULT_CLIENT = { clientId: 'test-epr', organization: 'TST01', scopes: ['system/*.cruds'] } as const;

export async function startTestServer(backend: Backend = 'sqlite', env: Record<string, string> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  if (env.ESO_CLIENTS_FILE !== undefined && (options.client || options.clients)) throw new Error('clients are registered in the caller\'s ESO_CLIENTS_FILE, not by options');
  if (env.ESO_DIRECTORY_FILE !== undefined && options.directory) throw new Error('the directory is the caller\'s ESO_DIRECTORY_FILE, not options.directory');
  const b = await backendEnv(backend);
  const allEnv: Record<string, string> = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', ESO_AUTH_DISABLED: 'false', ...b.env, ...env };
  const authOn = allEnv.ESO_AUTH_DISABLED !== 'true';
  const keys: { opts: RegisterOptions; key: ClientPrivateKey }[] = [];
  const defaultClient = { ...DEFAULT_CLIENT, ...options.client } as RegisterOptions;
  try {
    if (authOn && env.ESO_CLIENTS_FILE === undefined) {
      for (const opts of [defaultClient, ...(options.clients ?? [])]) keys.push({ opts, key: await registerClient(b.dataDir, opts) });
      allEnv.ESO_CLIENTS_FILE = clientsFileIn(b.dataDir);
    }
    if (authOn && env.ESO_DIRECTORY_FILE === undefined) allEnv.ESO_DIRECTORY_FILE = await writeDirectory(directoryFileIn(b.dataDir), options.directory ?? []);
  } catch (e) {
    await b.cleanup();
    throw e;
  }
  const running = await startServer(loadConfig(allEnv)).catch(async (e: unknown) => {
    await b.cleanup();
    throw e;
  });
  const clients: Record<string, TestClient> = {};
  for (const { opts, key } of keys) {
    const token = tokenSource(running.url, opts.clientId, key, (opts.scopes ?? ['system/*.cruds']).join(' '));
    clients[opts.clientId] = { clientId: opts.clientId, organization: opts.organization, token, headers: async () => ({ authorization: `Bearer ${await token()}` }) };
  }
  const client = clients[defaultClient.clientId];
  const noClient = () => new Error(authOn ? 'no default client: the test brought its own clients file' : 'authentication is off');
  return {
    ...running,
    fhir: `${running.url}/fhir`,
    dataDir: b.dataDir,
    env: allEnv,
    client,
    clients,
    token: () => (client ? client.token() : Promise.reject(noClient())),
    authHeaders: async () => {
      if (client) return client.headers();
      if (authOn) throw noClient();
      return {};
    },
    async stop() {
      await running.close();
      await b.cleanup();
    },
  };
}
