/**
 * An online copy of the SQLite database while the service writes to it: VACUUM INTO runs in one
 * read transaction, so the copy is the database as of one commit (WAL readers never block the
 * writer, nor it them), complete and compacted. SQLite documents it as an alternative to the
 * backup API that, unlike it, never restarts when another process writes during the copy.
 * https://sqlite.org/lang_vacuum.html#vacuuminto
 */
import Database from 'better-sqlite3';

/** Copies `source` (a live database) into `target` (must not exist); returns the copy's integrity check. */
export function copySqliteOnline(source: string, target: string): string {
  const db = new Database(source, { fileMustExist: true, timeout: 10_000 });
  try {
    db.prepare('VACUUM INTO ?').run(target);
  } finally {
    db.close();
  }
  return integrityOf(target);
}

/** PRAGMA integrity_check of a database file: 'ok' or the problems. */
export function integrityOf(file: string): string {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
  } finally {
    db.close();
  }
}
