/**
 * Embedded SQLite (better-sqlite3) in WAL mode. One write connection, used by one group
 * transaction at a time (an async mutex), and one read connection that sees committed data only.
 *
 * Durability: a commit is acknowledged only after the WAL file holding it is fsynced, exactly as
 * with synchronous=FULL, but the fsync runs on libuv's thread pool (fs.fdatasync) instead of
 * inside COMMIT on the event loop: the connection runs with synchronous=NORMAL (COMMIT writes the
 * WAL frames, no fsync; checkpoints still sync the WAL before and the database after), and
 * WalSync below makes each group's frames durable before its callers are answered. While one
 * group's fsync is in flight the next group runs, so the disk and the CPU work at the same time.
 * See docs/RELIABILITY.md.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Driver, SqlConn, TableRows } from '../dialect.ts';

/** Bound values per multi-row INSERT (SQLite allows 32,766). */
const MAX_VALUES = 2000;

/** Prepared statements kept per connection, the least recently used dropped first. */
const MAX_STATEMENTS = 1000;

function conn(db: Database.Database): SqlConn {
  const cache = new Map<string, Database.Statement>();
  const prepare = (sql: string) => {
    let st = cache.get(sql);
    if (st) {
      // Map order is insertion order: a statement used again moves to the end.
      cache.delete(sql);
    } else {
      st = db.prepare(sql);
      if (cache.size >= MAX_STATEMENTS) cache.delete(cache.keys().next().value as string);
    }
    cache.set(sql, st);
    return st;
  };
  return {
    // SQLite plans a statement when it is prepared (planEachCall is PostgreSQL's); LIMIT is never bound, or it would be prepared again each run (dialect.ts limitSql).
    async all<T>(sql: string, params: unknown[] = []) {
      return prepare(sql).all(...params) as T[];
    },
    async run(sql: string, params: unknown[] = []) {
      const st = prepare(sql);
      if (!st.reader) return { changes: st.run(...params).changes };
      st.all(...params);
      return { changes: 0 };
    },
    // In-process: no round trips to save, so a multi-row INSERT per table (chunked by bound values).
    async insert(writes: readonly TableRows[]) {
      for (const w of writes) {
        if (!w.rows.length) continue;
        const one = `(${w.columns.map(() => '?').join(', ')})`;
        const per = Math.max(1, Math.floor(MAX_VALUES / w.columns.length));
        for (let i = 0; i < w.rows.length; i += per) {
          const chunk = w.rows.slice(i, i + per);
          prepare(`INSERT INTO ${w.table} (${w.columns.join(', ')}) VALUES ${chunk.map(() => one).join(', ')}${w.skipExisting ? ' ON CONFLICT DO NOTHING' : ''}`)
            .run(...chunk.flat());
        }
      }
    },
  };
}

function open(file: string): Database.Database {
  const db = new Database(file, { timeout: 10_000 });
  db.pragma('journal_mode = WAL');
  // The WAL is fsynced by WalSync before any commit is acknowledged (see the file comment).
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // Reads of a large database come from memory-mapped pages (no read() per page) and a larger page cache.
  db.pragma('mmap_size = 2147483648');
  db.pragma('cache_size = -65536');
  return db;
}

interface Pending {
  fn: (c: SqlConn, lock: (key: string) => Promise<void>) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const GROUP_MAX = 64;

/**
 * Makes committed WAL frames durable off the event loop. `after()` resolves once an fsync that
 * started after the call has finished, so it covers every commit made before the call; calls that
 * arrive while an fsync is running share the next one.
 */
class WalSync {
  private handle: Promise<FileHandle> | undefined;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly walFile: string) {}

  after(): Promise<void> {
    if (!this.running) {
      this.running = this.sync().finally(() => { this.running = undefined; });
      return this.running;
    }
    // An fsync is in flight but may have started before this commit: wait for the one after it.
    this.next ??= this.running.then(() => {
      this.next = undefined;
      return this.after();
    });
    return this.next;
  }

  private async sync(): Promise<void> {
    // The WAL exists once WAL mode is on and stays while the connections are open.
    this.handle ??= openFile(this.walFile, 'r+');
    await (await this.handle).datasync();
  }

  async close(): Promise<void> {
    await this.running;
    await this.next;
    if (this.handle) await (await this.handle).close();
    this.handle = undefined;
  }
}

/**
 * Group commit: transactions that arrive while one is running share its COMMIT (one fsync).
 * Each runs inside its own SAVEPOINT, so a failing one rolls back alone; every caller is
 * answered only after the shared COMMIT has returned, so nothing is acknowledged uncommitted.
 */
export function openSqlite(file: string): Driver {
  mkdirSync(dirname(file), { recursive: true });
  const writer = open(file);
  const reader = open(file);
  const writeConn = conn(writer);
  // Transaction control as prepared statements: exec() would parse them again on every call.
  const control = Object.fromEntries(['BEGIN IMMEDIATE', 'COMMIT', 'ROLLBACK', 'SAVEPOINT tx', 'RELEASE tx', 'ROLLBACK TO tx'].map((sql) => [sql, writer.prepare(sql)]));
  const ctl = (sql: string) => { control[sql].run(); };
  const queue: Pending[] = [];
  let running: Promise<void> | undefined;
  const noLock = async () => {};
  const wal = new WalSync(`${file}-wal`);
  // Callers of committed groups whose fsync is still running (close() waits for them).
  const syncing = new Set<Promise<void>>();

  async function drain(): Promise<void> {
    while (queue.length) {
      const group = queue.splice(0, GROUP_MAX);
      const done: { p: Pending; value: unknown }[] = [];
      try {
        ctl('BEGIN IMMEDIATE');
      } catch (e) {
        for (const p of group) p.reject(e);
        continue;
      }
      for (const p of group) {
        ctl('SAVEPOINT tx');
        try {
          const value = await p.fn(writeConn, noLock);
          ctl('RELEASE tx');
          done.push({ p, value });
        } catch (e) {
          ctl('ROLLBACK TO tx');
          ctl('RELEASE tx');
          p.reject(e);
        }
        // Late arrivals join this group while it is still open, up to GROUP_MAX.
        if (group.length < GROUP_MAX && queue.length) group.push(...queue.splice(0, GROUP_MAX - group.length));
      }
      try {
        ctl('COMMIT');
      } catch (e) {
        if (writer.inTransaction) ctl('ROLLBACK');
        for (const d of done) d.p.reject(e);
        continue;
      }
      // Answered once durable; meanwhile the next group runs.
      const acked = wal.after().then(
        () => { for (const d of done) d.p.resolve(d.value); },
        (e: unknown) => { for (const d of done) d.p.reject(e); },
      );
      syncing.add(acked);
      void acked.finally(() => syncing.delete(acked));
    }
  }

  function kick(): void {
    if (running) return;
    // Start on the next check phase, so requests whose I/O arrived in this poll phase join the
    // group; a transaction queued after drain() saw an empty queue is picked up in finally.
    running = new Promise<void>((resolve) => setImmediate(resolve)).then(drain).finally(() => {
      running = undefined;
      if (queue.length) kick();
    });
  }

  return {
    dialect: 'sqlite',
    read: conn(reader),
    transaction<T>(fn: (c: SqlConn, lock: (key: string) => Promise<void>) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
        kick();
      });
    },
    async exec(sql: string) {
      writer.exec(sql);
    },
    async integrityCheck() {
      const rows = reader.pragma('integrity_check') as { integrity_check: string }[];
      return rows.map((r) => r.integrity_check).join('; ');
    },
    async close() {
      while (running) await running;
      await Promise.all(syncing);
      await wal.close();
      reader.close();
      writer.close();
    },
  };
}
