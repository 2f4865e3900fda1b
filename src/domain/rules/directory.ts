/**
 * The directory (Organization, PractitionerRole) is shared by every organisation, and tenancy and
 * independence are worked out from it, so who may change an entry is a rule: an organisation
 * changes only its own entry, or one below it in the partOf chain as stored (a Trust keeps its
 * teams); anyone may add a new organisation or name a role at one; an ODS code never changes. The system (no actor)
 * may do anything.
 */
import type { Organization, PractitionerRole } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { odsCodeOf } from '../../fhir/uk-core.ts';
import { forbidden, unprocessable } from '../../shared/outcomes.ts';
import { actorOfRepo } from '../case.ts';
import { actsFor, orgOfRef } from '../orgs.ts';
import { Reader } from '../reader.ts';

/** Rule: an Organization is changed only by itself or an organisation above it; its ODS code is fixed. */
export async function checkOrganizationWrite(next: Organization, previous: Organization | undefined, repo: Repository): Promise<void> {
  const actor = actorOfRepo(repo);
  if (!actor || !previous) return;
  if (odsCodeOf(previous) !== odsCodeOf(next)) throw unprocessable('The ODS code of an organisation cannot change', 'Organization.identifier');
  if (!(await actsFor(Reader.ofRepo(repo), actor.organization, previous))) {
    throw forbidden(`Only ${odsCodeOf(previous) ?? 'the organisation'} itself, or the Trust above it, may change its directory entry`);
  }
}

/**
 * Rule: an existing PractitionerRole is changed only by the organisation it belongs to (or one
 * above it). Creating one is open: a referral names the provider's specialist.
 */
export async function checkPractitionerRoleWrite(next: PractitionerRole, previous: PractitionerRole | undefined, repo: Repository): Promise<void> {
  const actor = actorOfRepo(repo);
  if (!actor || !previous) return;
  const reader = Reader.ofRepo(repo);
  for (const role of [previous, next]) {
    const org = await orgOfRef(reader, role.organization);
    if (org && !(await actsFor(reader, actor.organization, org))) {
      throw forbidden(`A role at ${odsCodeOf(org) ?? 'another organisation'} is kept by that organisation`);
    }
  }
}
