/**
 * The dialect seam: the little each database does differently. SQL above this seam is written
 * once with `?` placeholders; the PostgreSQL driver rewrites them to $1, $2, ...
 */

/**
 * ` LIMIT n OFFSET m` as integer literals. Never as bound parameters: SQLite's planner reads a
 * bound LIMIT's value, so a statement with one is prepared again every time it runs (a search's:
 * about 60 µs against 4 µs with literals, measured on 2026-12-01). The text then varies with the
 * values: callers whose limits vary per request also pass planEachCall for PostgreSQL.
 */
export function limitSql(limit: number, offset = 0): string {
  if (!Number.isSafeInteger(limit) || !Number.isSafeInteger(offset) || limit < 0 || offset < 0) {
    throw new Error(`LIMIT ${limit} OFFSET ${offset}: not non-negative integers`);
  }
  return offset ? ` LIMIT ${limit} OFFSET ${offset}` : ` LIMIT ${limit}`;
}

export interface StatementOptions {
  /**
   * Its best plan depends on the values bound (a search), or its text on a list's length: PostgreSQL
   * plans it on every call rather than preparing it once per connection, as it does every other statement.
   */
  planEachCall?: boolean;
}

/** Rows for one table, each row's values in column order. */
export interface TableRows {
  table: string;
  columns: readonly string[];
  /** The columns' SQL types, in order (PostgreSQL sends each column as one array of this type). */
  types: readonly ('text' | 'integer')[];
  rows: unknown[][];
  /** ON CONFLICT DO NOTHING: a row whose key is already there is left as it is. */
  skipExisting?: boolean;
}

export interface SqlConn {
  all<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: StatementOptions): Promise<T[]>;
  run(sql: string, params?: unknown[], options?: StatementOptions): Promise<{ changes: number }>;
  /**
   * Inserts rows into one or more tables as one write. SQLite (in-process) runs multi-row INSERTs;
   * PostgreSQL runs one statement whatever the tables and row counts (a data-modifying WITH over
   * arrays): one round trip, and one prepared plan per call site.
   */
  insert(writes: readonly TableRows[]): Promise<void>;
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
