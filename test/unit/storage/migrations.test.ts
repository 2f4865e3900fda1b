/** Migrations (storage/migrations.ts) against a recording driver: each runs once, under a lock, in its dialect. */
import { describe, expect, it } from 'vitest';
import type { Driver, SqlConn } from '../../../src/storage/dialect.ts';
import { migrate } from '../../../src/storage/migrations.ts';

function recordingDriver(dialect: 'sqlite' | 'postgres') {
  const statements: string[] = [];
  const locks: string[] = [];
  const applied = new Set<number>();
  const conn: SqlConn = {
    async all<T>(sql: string, params: unknown[] = []) {
      if (sql.startsWith('SELECT version FROM schema_migrations')) return (applied.has(params[0] as number) ? [{ version: params[0] }] : []) as T[];
      return [] as T[];
    },
    async run(sql: string, params: unknown[] = []) {
      statements.push(sql);
      if (sql.startsWith('INSERT INTO schema_migrations')) applied.add(params[0] as number);
      return { changes: 1 };
    },
    async insert() { throw new Error('migrations insert nothing through insert()'); },
  };
  const driver: Driver = {
    dialect,
    read: conn,
    transaction: (fn) => fn(conn, async (key) => { locks.push(key); }),
    exec: async (sql) => { statements.push(sql); },
    integrityCheck: async () => 'ok',
    close: async () => undefined,
  };
  return { driver, statements, locks };
}

describe('migrate', () => {
  it('when the database is new, then every migration runs once, each under the migrations lock, and is recorded', async () => {
    const { driver, statements, locks } = recordingDriver('sqlite');
    const versions = await migrate(driver);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(versions.slice(0, 3)).toEqual([1, 2, 3]);
    expect(locks).toEqual(versions.map(() => 'schema-migrations'));
    expect(statements.filter((s) => s.startsWith('INSERT INTO schema_migrations'))).toHaveLength(versions.length);
    expect(statements.some((s) => s.includes('{{'))).toBe(false);
  });

  it('when migrations have already run, then running them again applies nothing', async () => {
    const { driver, statements } = recordingDriver('sqlite');
    await migrate(driver);
    const before = statements.length;
    expect(await migrate(driver)).toEqual([]);
    expect(statements.slice(before).filter((s) => !s.startsWith('CREATE TABLE IF NOT EXISTS schema_migrations'))).toEqual([]);
  });

  it('when the dialect differs, then only the serial column differs', async () => {
    const sqlite = recordingDriver('sqlite');
    const pg = recordingDriver('postgres');
    await migrate(sqlite.driver);
    await migrate(pg.driver);
    const outbox = (s: string[]) => s.find((x) => x.startsWith('CREATE TABLE outbox'))!;
    expect(outbox(sqlite.statements)).toContain('id INTEGER PRIMARY KEY AUTOINCREMENT');
    expect(outbox(pg.statements)).toContain('id BIGSERIAL PRIMARY KEY');
    const strip = (s: string[]) => s.filter((x) => !x.startsWith('INSERT INTO schema_migrations')).map((x) => x.replace(/INTEGER PRIMARY KEY AUTOINCREMENT|BIGSERIAL PRIMARY KEY/, 'SERIAL'));
    expect(strip(sqlite.statements)).toEqual(strip(pg.statements));
  });
});
