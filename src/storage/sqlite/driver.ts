/**
 * Embedded SQLite (better-sqlite3): WAL, synchronous=FULL. One write connection, used by one
 * transaction at a time (an async mutex), and one read connection that sees committed data only.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Driver, SqlConn } from '../dialect.ts';

function conn(db: Database.Database): SqlConn {
  const cache = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let st = cache.get(sql);
    if (!st) {
      st = db.prepare(sql);
      if (cache.size > 500) cache.clear();
      cache.set(sql, st);
    }
    return st;
  };
  return {
    async all<T>(sql: string, params: unknown[] = []) {
      return prepare(sql).all(...params) as T[];
    },
    async run(sql: string, params: unknown[] = []) {
      const st = prepare(sql);
      if (!st.reader) return { changes: st.run(...params).changes };
      st.all(...params);
      return { changes: 0 };
    },
  };
}

function open(file: string): Database.Database {
  const db = new Database(file, { timeout: 10_000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  return db;
}

export function openSqlite(file: string): Driver {
  mkdirSync(dirname(file), { recursive: true });
  const writer = open(file);
  const reader = open(file);
  const writeConn = conn(writer);
  let queue: Promise<unknown> = Promise.resolve();

  return {
    dialect: 'sqlite',
    read: conn(reader),
    transaction<T>(fn: (c: SqlConn, lock: (key: string) => Promise<void>) => Promise<T>): Promise<T> {
      const run = async () => {
        writer.exec('BEGIN IMMEDIATE');
        try {
          const result = await fn(writeConn, async () => {});
          writer.exec('COMMIT');
          return result;
        } catch (e) {
          if (writer.inTransaction) writer.exec('ROLLBACK');
          throw e;
        }
      };
      const next = queue.then(run, run);
      queue = next.catch(() => undefined);
      return next;
    },
    async exec(sql: string) {
      writer.exec(sql);
    },
    async integrityCheck() {
      const rows = writer.pragma('integrity_check') as { integrity_check: string }[];
      return rows.map((r) => r.integrity_check).join('; ');
    },
    async close() {
      await queue;
      reader.close();
      writer.close();
    },
  };
}
