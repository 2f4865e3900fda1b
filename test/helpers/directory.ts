/**
 * The administered directory for tests: the operator's file (ESO_DIRECTORY_FILE) that places
 * organisations. Write it before the server starts, or while it runs (it is re-read on change).
 */
import { join } from 'node:path';
import type { DirectoryEntry } from '../../src/auth/directory-file.ts';
import { writeJsonFileAtomic } from '../../src/auth/json-file.ts';

export type { DirectoryEntry } from '../../src/auth/directory-file.ts';

/** The directory file inside `dir`. */
export function directoryFileIn(dir: string): string {
  return join(dir, 'directory.json');
}

/** Writes the file atomically (a running server never sees half of it); returns its path. */
export async function writeDirectory(file: string, organizations: DirectoryEntry[]): Promise<string> {
  await writeJsonFileAtomic(file, { organizations }, 0o644);
  return file;
}
