/**
 * Storage backends for the bench: SQLite in a scratch data directory, or PostgreSQL in a scratch
 * database on the machine's server (127.0.0.1:5432, TEST_POSTGRES_URL as the test suites use),
 * created and dropped like test/helpers/pg.ts does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, postgresAvailable } from '../test/helpers/pg.ts';

export type Backend = 'sqlite' | 'postgres';

/** --backend sqlite|postgres|both; unset = both when PostgreSQL answers, else sqlite. */
export async function chooseBackends(option: string | undefined): Promise<{ backends: Backend[]; note: string }> {
  if (option === 'sqlite') return { backends: ['sqlite'], note: 'sqlite (--backend sqlite)' };
  const up = await postgresAvailable();
  if (option === 'postgres' || option === 'both') {
    if (!up) throw new Error(`--backend ${option}: PostgreSQL does not answer at 127.0.0.1:5432 (TEST_POSTGRES_URL)`);
    return { backends: option === 'both' ? ['sqlite', 'postgres'] : ['postgres'], note: `${option} (--backend ${option})` };
  }
  if (option !== undefined) throw new Error(`--backend must be sqlite, postgres or both (got '${option}')`);
  return up ? { backends: ['sqlite', 'postgres'], note: 'sqlite and postgres (PostgreSQL answers)' } : { backends: ['sqlite'], note: 'sqlite only: PostgreSQL does not answer at 127.0.0.1:5432' };
}

export interface Scratch {
  /** Environment for the service: ESO_DATA_DIR, and DATABASE_URL ('' = SQLite). */
  env: Record<string, string>;
  dataDir: string;
  cleanup: () => Promise<void>;
}

export async function scratch(backend: Backend, prefix = 'eso-bench-'): Promise<Scratch> {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  const env: Record<string, string> = { ESO_DATA_DIR: dataDir, DATABASE_URL: '' };
  let drop = async () => {};
  if (backend === 'postgres') {
    const db = await createTestDatabase();
    env.DATABASE_URL = db.url;
    drop = db.drop;
  }
  return { env, dataDir, async cleanup() { await drop(); rmSync(dataDir, { recursive: true, force: true }); } };
}
