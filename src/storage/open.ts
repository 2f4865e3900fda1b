/** Opens the configured database (SQLite by default, PostgreSQL with DATABASE_URL) and migrates it. */
import { join } from 'node:path';
import { guardedDriver, type CommitObserver } from './guarded-driver.ts';
import { migrate } from './migrations.ts';
import { createSqlStorage } from './sql-storage.ts';
import { openSqlite } from './sqlite/driver.ts';
import type { Storage } from './types.ts';

/** The SQLite database file in a data directory (backup and restore name it too). */
export const sqliteFileIn = (dataDir: string): string => join(dataDir, 'eso-bridge.sqlite');

export async function openStorage(opts: { databaseUrl?: string; dataDir: string; onCommit?: CommitObserver }): Promise<Storage> {
  // pg is loaded only when PostgreSQL is configured (start-up loads no driver it does not use).
  const driver = guardedDriver(opts.databaseUrl ? (await import('./postgres/driver.ts')).openPostgres(opts.databaseUrl) : openSqlite(sqliteFileIn(opts.dataDir)), opts.onCommit);
  try {
    await migrate(driver);
  } catch (e) {
    await driver.close().catch(() => undefined);
    throw e;
  }
  return createSqlStorage(driver);
}
