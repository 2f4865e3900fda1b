/**
 * The directory file (ESO_DIRECTORY_FILE), written by the operator and other tools:
 * {"organizations": [{"ods": "RZ2NP", "name": "Paediatric Neurology", "partOf": "RZ2"}]}.
 * Where an organisation sits decides independence, so a file that does not parse, names a code
 * twice or has a partOf cycle is refused whole: a half-read directory could place a team wrongly.
 */
import * as z from 'zod';
import { ODS_CODE_RE } from './client-file.ts';

export interface DirectoryEntry {
  ods: string;
  name: string;
  /** ODS code of the organisation above it (Trust, Health Board); none = top level. */
  partOf?: string;
}

const ods = z.string().regex(ODS_CODE_RE, 'must be an ODS code (3-10 of A-Z, 0-9)');

const entry = z.looseObject({
  ods,
  name: z.string().trim().min(1).max(200),
  partOf: ods.optional(),
}).refine((e) => e.partOf !== e.ods, { message: 'an organisation cannot be part of itself', path: ['partOf'] });

export const directoryFileSchema = z.looseObject({ organizations: z.array(entry) });

/** The first partOf cycle among the entries, as codes (`A -> B -> A`), if any. */
export function findCycle(entries: DirectoryEntry[]): string[] | undefined {
  const parentOf = new Map(entries.map((e) => [e.ods, e.partOf]));
  for (const start of parentOf.keys()) {
    const path = [start];
    for (let p = parentOf.get(start); p !== undefined; p = parentOf.get(p)) {
      path.push(p);
      if (p === start) return path;
      if (path.length > parentOf.size + 1) break; // a cycle not through `start`: found from its own start
    }
  }
  return undefined;
}

/** Parses the file's JSON; throws an Error naming every problem. */
export function parseDirectoryFile(json: unknown): DirectoryEntry[] {
  const parsed = directoryFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`Invalid directory file: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`);
  }
  const entries = parsed.data.organizations.map((o) => ({ ods: o.ods, name: o.name, ...(o.partOf ? { partOf: o.partOf } : {}) }));
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.ods)) throw new Error(`Invalid directory file: ${e.ods} is listed more than once`);
    seen.add(e.ods);
  }
  const cycle = findCycle(entries);
  if (cycle) throw new Error(`Invalid directory file: partOf cycle ${cycle.join(' -> ')}`);
  return entries;
}

/**
 * The entries ordered parents first (an entry whose parent is not in the list keeps its place
 * among the roots; the caller decides what an unknown parent means).
 */
export function parentsFirst(entries: DirectoryEntry[]): DirectoryEntry[] {
  const byOds = new Map(entries.map((e) => [e.ods, e]));
  const out: DirectoryEntry[] = [];
  const placed = new Set<string>();
  const place = (e: DirectoryEntry, depth: number) => {
    if (placed.has(e.ods) || depth > entries.length) return;
    const parent = e.partOf ? byOds.get(e.partOf) : undefined;
    if (parent) place(parent, depth + 1);
    placed.add(e.ods);
    out.push(e);
  };
  for (const e of entries) place(e, 0);
  return out;
}
