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

const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';

/** The id of the stored Organization with this ODS code, found by a search as `headers`' client makes it. */
export async function organizationId(fhirBase: string, ods: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${fhirBase}/Organization?identifier=${encodeURIComponent(`${ODS_SYSTEM}|${ods}`)}`, { headers: { accept: 'application/fhir+json', ...headers } });
  const bundle = (await res.json()) as { entry?: { resource?: { id?: string } }[] };
  const id = bundle.entry?.[0]?.resource?.id;
  if (res.status !== 200 || !id) throw new Error(`organisation ${ods} is not in the directory (${res.status})`);
  return id;
}
