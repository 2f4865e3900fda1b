/**
 * The stored Organizations follow the administered directory: the directory file places
 * organisations (name, partOf), and each registered client's organisation exists, top level
 * unless the file places it. Written as the system, at start and whenever either file changes.
 * docs/DESIGN.md "Security model and trust boundaries": the directory is administered.
 */
import type { Organization } from 'fhir/r4.js';
import { Systems } from '../fhir/eso-urls.ts';
import type { Repository } from '../fhir/repository.ts';
import { odsCodeOf } from '../fhir/uk-core.ts';
import type { RegisteredClient } from './client-file.ts';
import { parentsFirst, type DirectoryEntry } from './directory-file.ts';

export interface DirectoryApplied {
  created: string[];
  /** Renamed or moved. */
  updated: string[];
  /** Entries not applied, with why (their parent is neither in the directory nor a client's organisation). */
  refused: { ods: string; reason: string }[];
}

interface Wanted {
  ods: string;
  name: string;
  partOf?: string;
  /** True when the directory file names it (its name and place are the operator's). */
  administered: boolean;
}

const odsQuery = (ods: string) => `${Systems.odsCode}|${ods}`;

async function findByOds(repo: Repository, ods: string): Promise<Organization | undefined> {
  const found = await repo.searchParams('Organization', { identifier: [odsQuery(ods)] }, 2);
  return found.resources.map((r) => r.resource as Organization).find((o) => odsCodeOf(o) === ods);
}

/** What the directory and the clients ask for: clients' own organisations first (they may be parents), then the file, parents first. */
function wanted(entries: DirectoryEntry[], clients: Pick<RegisteredClient, 'organization' | 'organizationName'>[]): Wanted[] {
  const inFile = new Set(entries.map((e) => e.ods));
  const clientOnly = new Map<string, Wanted>();
  for (const c of clients) {
    if (inFile.has(c.organization) || clientOnly.has(c.organization)) continue;
    clientOnly.set(c.organization, { ods: c.organization, name: c.organizationName ?? c.organization, administered: false });
  }
  return [...clientOnly.values(), ...parentsFirst(entries).map((e) => ({ ...e, administered: true }))];
}

/**
 * Brings the stored Organizations in line with the directory file and the registered clients.
 * A missing one is created; an administered one is renamed or moved when the file says otherwise;
 * one known only from a client is top level (what a client may have set is undone). An entry whose
 * parent is unknown is refused, not placed at the top: a team shown as independent of its Trust
 * is the failure this directory exists to prevent.
 */
export async function applyDirectory(repo: Repository, entries: DirectoryEntry[], clients: Pick<RegisteredClient, 'organization' | 'organizationName'>[]): Promise<DirectoryApplied> {
  const out: DirectoryApplied = { created: [], updated: [], refused: [] };
  const ids = new Map<string, string>();
  for (const w of wanted(entries, clients)) {
    const parentId = w.partOf ? ids.get(w.partOf) : undefined;
    if (w.partOf && !parentId) {
      const refusedParent = out.refused.some((r) => r.ods === w.partOf);
      out.refused.push({ ods: w.ods, reason: `its partOf ${w.partOf} is ${refusedParent ? 'itself refused' : 'neither in the directory nor a registered client\'s organisation'}` });
      continue;
    }
    const partOf = parentId ? { reference: `Organization/${parentId}` } : undefined;
    let org = await findByOds(repo, w.ods);
    if (!org) {
      const fresh: Organization = { resourceType: 'Organization', identifier: [{ system: Systems.odsCode, value: w.ods }], active: true, name: w.name, ...(partOf ? { partOf } : {}) };
      // Conditional: instances starting together make one.
      const { stored, created } = await repo.create(fresh, { ifNoneExist: `identifier=${encodeURIComponent(odsQuery(w.ods))}` });
      org = stored.resource;
      if (created) out.created.push(w.ods);
    }
    ids.set(w.ods, org.id!);
    const name = w.administered ? w.name : org.name;
    if (org.name === name && org.partOf?.reference === partOf?.reference) continue;
    const { partOf: _old, ...rest } = org;
    await repo.update<Organization>({ ...rest, ...(name !== undefined ? { name } : {}), ...(partOf ? { partOf } : {}) });
    out.updated.push(w.ods);
  }
  return out;
}
