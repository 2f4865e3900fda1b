/** Opens the configured database (SQLite by default, PostgreSQL with DATABASE_URL) and migrates it. */
import { join } from 'node:path';
import { migrate } from './migrations.ts';
import { openPostgres } from './postgres/driver.ts';
import { createSqlStorage } from './sql-storage.ts';
import { openSqlite } from './sqlite/driver.ts';
import type { Storage } from './types.ts';

export async function openStorage(opts: { databaseUrl?: string; dataDir: string }): Promise<Storage> {
  const driver = opts.databaseUrl ? openPostgres(opts.databaseUrl) : openSqlite(join(opts.dataDir, 'eso-bridge.sqlite'));
  try {
    await migrate(driver);
  } catch (e) {
    await driver.close().catch(() => undefined);
    throw e;
  }
  return createSqlStorage(driver);
}
