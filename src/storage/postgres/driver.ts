/**
 * PostgreSQL (pg). READ COMMITTED transactions; version checks are conditional UPDATEs, and
 * `lock(key)` is a transaction-scoped advisory lock, so several instances stay correct.
 */
import pg from 'pg';
import type { Driver, SqlConn, StatementOptions, TableRows } from '../dialect.ts';

/** `?` placeholders to `$n` (our SQL never has `?` inside string literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/**
 * Statements are prepared once per connection (pg sends a named statement's text only the first
 * time, and the server parses it once), except those planned per call. Every SQL text above the
 * seam is fixed per call site but for the length of a few IN lists, so the names stay few; past
 * the cap, new texts run unnamed.
 */
const MAX_NAMED = 2000;
const named = new Map<string, pg.QueryConfig>();

function statement(sql: string, options?: StatementOptions): pg.QueryConfig {
  let config = named.get(sql);
  if (config) return config;
  config = { text: numbered(sql) };
  if (options?.planEachCall || named.size >= MAX_NAMED) return config;
  config.name = `eso${named.size}`;
  named.set(sql, config);
  return config;
}

/**
 * One statement for rows of several tables: each column goes as one array, unnested into its
 * table; all but the last insert are data-modifying WITH items. Two writes of the same rows (a
 * resource and its first history row) share their arrays. The text depends only on the tables and
 * columns, so one prepared plan serves every row count.
 */
function insertStatement(writes: readonly TableRows[]): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const sent = new Map<unknown[][], number>();
  const parts = writes.map((w) => {
    let first = sent.get(w.rows);
    if (first === undefined) {
      first = params.length + 1;
      sent.set(w.rows, first);
      w.columns.forEach((_, i) => params.push(w.rows.map((row) => row[i])));
    }
    const arrays = w.types.map((t, i) => `$${first + i}::${t}[]`).join(', ');
    return `INSERT INTO ${w.table} (${w.columns.join(', ')}) SELECT * FROM unnest(${arrays})${w.skipExisting ? ' ON CONFLICT DO NOTHING' : ''}`;
  });
  const last = parts.pop() as string;
  return { sql: parts.length ? `WITH ${parts.map((p, i) => `w${i} AS (${p})`).join(', ')} ${last}` : last, params };
}

function conn(q: pg.Pool | pg.PoolClient): SqlConn {
  return {
    async all<T>(sql: string, params: unknown[] = [], options?: StatementOptions) {
      return (await q.query({ ...statement(sql, options), values: params })).rows as T[];
    },
    async run(sql: string, params: unknown[] = [], options?: StatementOptions) {
      return { changes: (await q.query({ ...statement(sql, options), values: params })).rowCount ?? 0 };
    },
    async insert(writes: readonly TableRows[]) {
      const some = writes.filter((w) => w.rows.length);
      if (!some.length) return;
      const { sql, params } = insertStatement(some);
      await q.query({ ...statement(sql), values: params });
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
