/**
 * The composition root: opens storage, loads profiles, builds the per-request contexts and
 * starts HTTP (and, when wired, MLLP). Used by main.ts and by the tests (port 0).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import { createApp } from './app.ts';
import { baseUrlOf } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { Repository } from './fhir/repository.ts';
import { enforce, type Validator } from './fhir/validate.ts';
import { buildCapabilityStatement } from './rest/capabilities.ts';
import { fhirBase, type FhirContext } from './rest/types.ts';
import { createLogger, type Logger } from './shared/logger.ts';
import { openStorage } from './storage/open.ts';
import type { Storage } from './storage/types.ts';
import { loadValidator } from './validation-wiring.ts';

export interface RunningServer {
  url: string;
  storage: Storage;
  log: Logger;
  close(): Promise<void>;
}

const VERSION = '0.1.0';

export async function startServer(config: Config, opts: { log?: Logger } = {}): Promise<RunningServer> {
  const log = opts.log ?? createLogger(config.logLevel);
  const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const { validator, profiles } = await loadValidator();
  const validate = enforce(validator as Validator);
  let baseUrl = '';
  let capabilities: ReturnType<typeof buildCapabilityStatement> | undefined;

  const fhirContext = (_req: Request, res: Response): FhirContext => {
    const principal = res.locals.principal as { organization?: string } | undefined;
    const repo = new Repository(storage, { baseUrl: fhirBase(baseUrl), validate, orgs: principal?.organization ? [principal.organization] : undefined });
    capabilities ??= buildCapabilityStatement({ baseUrl, version: VERSION, profiles });
    return { repo, baseUrl, capabilities: () => capabilities! };
  };

  const app = createApp({ log, storage, maxBodyBytes: config.maxBodyBytes, fhirContext });
  const server: Server = createServer(app);
  server.requestTimeout = 60_000;
  server.headersTimeout = 20_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = baseUrlOf(config, port);
  log.info({ url: baseUrl, database: storage.dialect }, 'eso-bridge listening');

  let closing: Promise<void> | undefined;
  return {
    url: `http://${config.host}:${port}`,
    storage,
    log,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await storage.close();
      })();
      return closing;
    },
  };
}
