/**
 * Database errors translated in one place (STYLE: "database error codes are translated in one
 * place"), for both backends, as the driver is wrapped at open (storage/open.ts).
 */
import { storageFull } from '../shared/outcomes.ts';

/** SQLite's full-disk result codes, PostgreSQL's disk_full class (53100), and the file system's own. */
const FULL = new Set(['SQLITE_FULL', '53100', 'ENOSPC']);

/** A full disk becomes the 503 OperationOutcome; anything else is returned unchanged. */
export function translateDbError(e: unknown): unknown {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && FULL.has(code) ? storageFull() : e;
}
