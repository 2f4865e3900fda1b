/**
 * The directory (Organization, PractitionerRole) is shared by every organisation, and tenancy and
 * independence are worked out from it. Organizations are administered (docs/DESIGN.md "Security model
 * and trust boundaries"): the operator's directory file and client registration add and place
 * them, written by the system; an organisation may only keep its own entry's name and contact
 * details. Anyone may name a role at an organisation. The system (no actor) may do anything.
 */
import type { Organization, PractitionerRole } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { odsCodeOf } from '../../fhir/uk-core.ts';
import { forbidden, unprocessable } from '../../shared/outcomes.ts';
import { actorOfRepo } from '../case.ts';
import { actsFor, orgOfRef } from '../organization-tree.ts';
import { Reader } from '../reader.ts';

/** What an organisation may change in its own entry; everything else is the operator's. */
const OWN_ELEMENTS = new Set(['name', 'telecom', 'contact', 'address']);
/** Bookkeeping the server sets, not content. */
const IGNORED = new Set(['id', 'meta']);

const canonical = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) =>
  (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));

/** The top-level elements that differ between two versions, other than the organisation's own. */
function operatorElementsChanged(next: Organization, previous: Organization): string[] {
  const [a, b]: Record<string, unknown>[] = [{ ...next }, { ...previous }];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => !OWN_ELEMENTS.has(k) && !IGNORED.has(k) && canonical(a[k]) !== canonical(b[k])).sort();
}

/**
 * Rule: a client never creates an Organization, and changes only its own entry's name, telecom,
 * contact and address (not even a Trust its team's: where a team sits decides independence).
 */
export async function checkOrganizationWrite(next: Organization, previous: Organization | undefined, repo: Repository): Promise<void> {
  const actor = actorOfRepo(repo);
  if (!actor) return;
  if (!previous) throw forbidden('organisations are added by the operator: directory file or npm run cli -- org add');
  const ods = odsCodeOf(previous);
  if (ods !== actor.organization) {
    throw forbidden(`Only ${ods ?? 'the organisation'} itself may change its directory entry (name and contact details); where it sits is set by the operator`);
  }
  const changed = operatorElementsChanged(next, previous);
  if (changed.includes('identifier')) throw unprocessable('The ODS code of an organisation cannot change', 'Organization.identifier');
  if (changed.length) {
    const element = `Organization.${changed[0]}`;
    throw forbidden(`${element} is set by the operator (directory file or npm run cli -- org move); an organisation may change only its name, telecom, contact and address`, element);
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
