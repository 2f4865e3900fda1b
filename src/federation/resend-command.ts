/**
 * `npm run cli -- case resend <taskId>` against the configuration in the environment (the same
 * database and peers file as the running service, whose dispatcher then sends what is queued).
 */
import type { Config } from '../config/schema.ts';
import { loadConformance } from '../fhir/conformance.ts';
import { Repository } from '../fhir/repository.ts';
import { createLogger } from '../shared/logger.ts';
import { openStorage } from '../storage/open.ts';
import type { MessageEvent } from './messages.ts';
import { PeerRegistry } from './peers.ts';
import { resendCase } from './resend.ts';

export async function resendCaseCommand(config: Config, taskId: string): Promise<MessageEvent[]> {
  const storage = await openStorage({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const { validate, searchParams } = loadConformance();
    // Reads the case and queues messages only: no resource is written, so no hooks are needed.
    const repo = new Repository(storage, { baseUrl: '', searchParams, validate });
    return await resendCase(taskId, repo, new PeerRegistry(config.peersFile, createLogger('silent')));
  } finally {
    await storage.close();
  }
}
