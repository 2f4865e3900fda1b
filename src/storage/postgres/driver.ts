/**
 * PostgreSQL (pg). READ COMMITTED transactions; version checks are conditional UPDATEs, and
 * `lock(key)` is a transaction-scoped advisory lock, so several instances stay correct.
 */
import pg from 'pg';
import type { Driver, SqlConn } from '../dialect.ts';

/** `?` placeholders to `$n` (our SQL never has `?` inside string literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function conn(q: pg.Pool | pg.PoolClient): SqlConn {
  return {
    async all<T>(sql: string, params: unknown[] = []) {
      return (await q.query(numbered(sql), params)).rows as T[];
    },
    async run(sql: string, params: unknown[] = []) {
      return { changes: (await q.query(numbered(sql), params)).rowCount ?? 0 };
    },
  };
}

export function openPostgres(url: string): Driver {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => undefined); // an idle client dropped by the server: the pool replaces it
  return {
    dialect: 'postgres',
    read: conn(pool),
    async transaction<T>(fn: (c: SqlConn, lock: (key: string) => Promise<void>) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(conn(client), async (key) => {
          await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [key]);
        });
        await client.query('COMMIT');
        return result;
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        client.release();
      }
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async integrityCheck() {
      // No page checksums to walk here: the logical checks (sql-storage.ts) do the work.
      await pool.query('SELECT 1');
      return 'ok';
    },
    async close() {
      await pool.end();
    },
  };
}
