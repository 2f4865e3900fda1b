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

/** Translates driver error codes in one place: is this a unique-constraint violation? */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

/** Is this a transient error worth retrying the whole transaction for (busy, serialization, deadlock)? */
export function isTransient(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === 'SQLITE_BUSY' || code === '40001' || code === '40P01';
}
