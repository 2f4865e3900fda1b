/**
 * Editing the directory file (used by `npm run cli -- org ...`): every edit is checked by
 * parsing the whole result (codes, duplicates, partOf cycles) before it is written, atomically,
 * so a running server never reads a half-written or invalid directory from this tool.
 * Members the tool does not know are kept as they are.
 */
import { ODS_CODE_RE } from './client-file.ts';
import { parseDirectoryFile, type DirectoryEntry } from './directory-file.ts';
import { readJsonFile, writeJsonFileAtomic } from './json-file.ts';

type RawFile = { organizations: Record<string, unknown>[] } & Record<string, unknown>;

async function readRaw(file: string): Promise<RawFile> {
  const json = (await readJsonFile(file)) ?? { organizations: [] };
  parseDirectoryFile(json); // refuse to edit a file that does not parse
  return json as RawFile;
}

async function write(file: string, next: RawFile): Promise<DirectoryEntry[]> {
  const entries = parseDirectoryFile(next);
  await writeJsonFileAtomic(file, next, 0o644);
  return entries;
}

function checkCode(code: string, what: string): void {
  if (!ODS_CODE_RE.test(code)) throw new Error(`${what} must be an ODS code (3-10 of A-Z, 0-9): ${code}`);
}

/** Adds an organisation (optionally under another); an ODS code already listed is refused. */
export async function addOrganization(file: string, org: DirectoryEntry): Promise<DirectoryEntry> {
  checkCode(org.ods, '--ods');
  if (org.partOf) checkCode(org.partOf, '--part-of');
  const raw = await readRaw(file);
  if (raw.organizations.some((o) => o.ods === org.ods)) throw new Error(`${org.ods} is already in ${file}: use org move to place it elsewhere`);
  const entry = { ods: org.ods, name: org.name, ...(org.partOf ? { partOf: org.partOf } : {}) };
  const entries = await write(file, { ...raw, organizations: [...raw.organizations, entry] });
  return entries.find((e) => e.ods === org.ods)!;
}

/** Places a listed organisation under `partOf`, or at the top level when `partOf` is undefined. */
export async function moveOrganization(file: string, ods: string, partOf: string | undefined): Promise<DirectoryEntry> {
  checkCode(ods, '--ods');
  if (partOf) checkCode(partOf, '--part-of');
  const raw = await readRaw(file);
  const index = raw.organizations.findIndex((o) => o.ods === ods);
  if (index < 0) throw new Error(`${ods} is not in ${file}: add it with org add`);
  const { partOf: _old, ...rest } = raw.organizations[index];
  const organizations = raw.organizations.with(index, { ...rest, ...(partOf ? { partOf } : {}) });
  const entries = await write(file, { ...raw, organizations });
  return entries.find((e) => e.ods === ods)!;
}

export async function listOrganizations(file: string): Promise<DirectoryEntry[]> {
  return parseDirectoryFile(await readRaw(file));
}
