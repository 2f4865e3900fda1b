/**
 * The dialect seam: the little each database does differently. SQL above this seam is written
 * once with `?` placeholders; the PostgreSQL driver rewrites them to $1, $2, ...
 */
export interface SqlConn {
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string, params?: unknown[]): Promise<{ changes: number }>;
}

export interface Driver {
  readonly dialect: 'sqlite' | 'postgres';
  /** Committed-data reads outside any transaction. */
  readonly read: SqlConn;
  /** One transaction; `lock(key)` serialises on a key until commit (no-op where writes are serial). */
  transaction<T>(fn: (conn: SqlConn, lock: (key: string) => Promise<void>) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  exec(sql: string): Promise<void>;
  /** Integrity check: 'ok' or the problems found. */
  integrityCheck(): Promise<string>;
  close(): Promise<void>;
}
