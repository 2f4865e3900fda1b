/** The real server, in-process on an ephemeral port, on the chosen backend. */
import { loadConfig } from '../../src/config/load.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { backendEnv, type Backend } from './backends.ts';

export interface TestServer extends RunningServer {
  fhir: string;
  dataDir: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startTestServer(backend: Backend = 'sqlite', env: Record<string, string> = {}): Promise<TestServer> {
  const b = await backendEnv(backend);
  const allEnv = { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', ESO_AUTH_DISABLED: 'true', ...b.env, ...env };
  const running = await startServer(loadConfig(allEnv));
  return {
    ...running,
    fhir: `${running.url}/fhir`,
    dataDir: b.dataDir,
    env: allEnv,
    async stop() {
      await running.close();
      await b.cleanup();
    },
  };
}
