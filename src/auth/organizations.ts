/**
 * Each registered client acts for an organisation: its Organization (ODS code identifier) is
 * created if it does not exist yet, at start and when a new client appears in the clients file.
 */
import type { Organization } from 'fhir/r4.js';
import { Systems } from '../fhir/eso-urls.ts';
import type { Repository } from '../fhir/repository.ts';
import type { RegisteredClient } from './client-file.ts';

/** Conditional create: If-None-Exist on the ODS identifier, so instances starting together make one. */
export async function ensureOrganization(repo: Repository, ods: string, name?: string): Promise<boolean> {
  const org: Organization = { resourceType: 'Organization', identifier: [{ system: Systems.odsCode, value: ods }], name: name ?? ods, active: true };
  const { created } = await repo.create(org, { ifNoneExist: `identifier=${encodeURIComponent(`${Systems.odsCode}|${ods}`)}` });
  return created;
}

/** Provisions the organisations of `clients` not seen before (remembered in `done`). */
export async function ensureClientOrganizations(repo: Repository, clients: RegisteredClient[], done: Set<string>): Promise<string[]> {
  const created: string[] = [];
  for (const c of clients) {
    if (done.has(c.organization)) continue;
    if (await ensureOrganization(repo, c.organization, c.organizationName)) created.push(c.organization);
    done.add(c.organization);
  }
  return created;
}
