/**
 * Runs a suite on both storage backends: embedded SQLite in a temp dir, and PostgreSQL in a
 * fresh database. Use: `describe.each(backends())('... on %s', (backend) => ...)`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openStorage } from '../../src/storage/open.ts';
import type { Storage } from '../../src/storage/types.ts';
import { createTestDatabase, postgresAvailable } from './pg.ts';

export type Backend = 'sqlite' | 'postgres';

const pgUp = await postgresAvailable();

export function backends(): Backend[] {
  return pgUp ? ['sqlite', 'postgres'] : ['sqlite'];
}

export interface BackendEnv {
  env: Record<string, string>;
  dataDir: string;
  cleanup: () => Promise<void>;
}

/** Environment for a server or storage on `backend`, with its own data dir (and database). */
export async function backendEnv(backend: Backend): Promise<BackendEnv> {
  const dataDir = mkdtempSync(join(tmpdir(), 'eso-test-'));
  const env: Record<string, string> = { ESO_DATA_DIR: dataDir };
  let drop = async () => {};
  if (backend === 'postgres') {
    const db = await createTestDatabase();
    env.DATABASE_URL = db.url;
    drop = db.drop;
  }
  return {
    env,
    dataDir,
    async cleanup() {
      await drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Storage on `backend` for one suite: opened (and migrated) before its tests, closed and its
 * database dropped after. Read `.storage` inside tests.
 */
export function suiteStorage(backend: Backend): { readonly storage: Storage } {
  let env: BackendEnv | undefined;
  let storage: Storage | undefined;
  beforeAll(async () => {
    env = await backendEnv(backend);
    storage = await openStorage({ databaseUrl: env.env.DATABASE_URL, dataDir: env.dataDir });
  });
  afterAll(async () => {
    await storage?.close();
    await env?.cleanup();
  });
  return { get storage() { return storage as Storage; } };
}
