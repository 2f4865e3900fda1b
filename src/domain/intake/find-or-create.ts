/**
 * Find-or-create for intake: the child by NHS number, organisations by ODS code, clinicians by
 * GMC number, their roles, and the child's parents. The child is looked up under a lock on its
 * identifier (rules/identity.ts keys), so concurrent requests for one child never create two
 * Patients; a clinician or role is locked only when it is not found (findOrCreate).
 */
import type { Organization, Patient, Practitioner, PractitionerRole, Reference, RelatedPerson } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { gmcNumberOf } from '../../fhir/uk-core.ts';
import { unprocessable } from '../../shared/outcomes.ts';
import type { StorageTx } from '../../storage/types.ts';
import { Systems } from '../codes.ts';
import type { EsoRequestInput } from '../eso-request-input.ts';
import { orgByOds } from '../organization-tree.ts';
import { identityLockKey } from '../rules/identity.ts';
import type { Reader } from '../reader.ts';
import { buildPatient, buildPractitioner, buildRelatedPerson, buildRole, humanName, nameText, relationshipCodes } from './build.ts';

type Clinician = EsoRequestInput['requester']['consultant'];

export const refTo = (r: { resourceType: string; id?: string }, display?: string): Reference =>
  (display ? { reference: `${r.resourceType}/${r.id}`, display } : { reference: `${r.resourceType}/${r.id}` });

export interface Directory { repo: Repository; tx: StorageTx; reader: Reader }

/** The provider must already be in the directory: intake never invents a provider. */
export async function providerOrg(d: Directory, ods: string): Promise<Organization> {
  const org = await orgByOds(d.reader, ods);
  if (!org) throw unprocessable(`unknown provider organisation: no Organization with ODS code ${ods} is registered`, 'provider.organization');
  return org;
}

/**
 * The requesting organisation, which must already be in the directory: the directory is
 * administered, so intake never creates an organisation (docs/DESIGN.md "Security model").
 */
export async function requesterOrg(d: Directory, ods: string): Promise<Organization> {
  const org = await orgByOds(d.reader, ods);
  if (!org) throw unprocessable(`unknown requesting organisation: no Organization with ODS code ${ods} is in the directory (the operator adds it: directory file or npm run cli -- org add)`, 'requester.organization');
  return org;
}

/**
 * The requester's own record of the child, by NHS number among the Patients it manages; an
 * existing record is reused as it is (never duplicated, never overwritten). Another Trust's
 * record of the same child is never found, touched or hinted at: that Trust keeps its own.
 */
export async function patientFor(d: Directory, input: EsoRequestInput, managingOrg: Reference): Promise<Patient> {
  await d.tx.lock(`${identityLockKey('Patient', { value: input.child.nhsNumber })}@${d.reader.key(managingOrg)}`);
  const found = await d.reader.search<Patient>('Patient', { identifier: `${Systems.nhsNumber}|${input.child.nhsNumber}`, organization: d.reader.key(managingOrg) ?? '' });
  if (found[0]) return found[0];
  return (await d.repo.create(buildPatient(input, managingOrg))).stored.resource;
}

/**
 * Looks first without a lock: what is found was committed, so it is used as it is, and intakes
 * that share a clinician do not wait for each other to commit. Only what is missing is looked for
 * again under the identifier's lock (held to commit), then created.
 */
async function findOrCreate<T>(d: Directory, lockKey: string, find: () => Promise<T | undefined>, create: () => Promise<T>): Promise<T> {
  const seen = await find();
  if (seen) return seen;
  await d.tx.lock(lockKey);
  return (await find()) ?? create();
}

/** A clinician: by GMC number when given (reused), else a new Practitioner. */
export async function practitionerFor(d: Directory, c: Clinician): Promise<Practitioner> {
  const create = async () => (await d.repo.create(buildPractitioner(c))).stored.resource;
  if (!c.gmc) return create();
  const gmc = c.gmc;
  const find = async () => (await d.reader.search<Practitioner>('Practitioner', { identifier: `${Systems.gmcNumber}|${gmc}` })).find((p) => gmcNumberOf(p) === gmc);
  return findOrCreate(d, identityLockKey('Practitioner', { value: gmc }), find, create);
}

/** The clinician's role (plain-text `role`) at an organisation, reused when it exists. */
export async function roleFor(d: Directory, c: Clinician, org: Organization, role: string): Promise<Reference> {
  const practitioner = await practitionerFor(d, c);
  const find = async () => (await d.reader.search<PractitionerRole>('PractitionerRole', { practitioner: `Practitioner/${practitioner.id}`, organization: `Organization/${org.id}` }))
    .find((r) => r.code?.some((cc) => cc.text === role));
  const create = async () => (await d.repo.create(buildRole(refTo(practitioner), refTo(org), role))).stored.resource;
  const stored = await findOrCreate(d, `PractitionerRole:${practitioner.id}@${org.id}:${role}`, find, create);
  return refTo(stored, `${nameText(c.name)}, ${role.toLowerCase()}`);
}

const sameName = (a: RelatedPerson, parent: EsoRequestInput['parents'][number]) =>
  JSON.stringify(a.name?.[0] ?? null) === JSON.stringify(humanName(parent.name));

/**
 * The child's parents and carers: an existing RelatedPerson with the same name and relationship
 * is reused, and updated when parental responsibility is now stated differently.
 */
export async function parentsFor(d: Directory, input: EsoRequestInput, patient: Patient): Promise<Reference[]> {
  const existing = await d.reader.search<RelatedPerson>('RelatedPerson', { patient: `Patient/${patient.id}` });
  const out: Reference[] = [];
  for (const parent of input.parents) {
    const relationship = relationshipCodes(parent.relationship, parent.parentalResponsibility, parent.relationshipText);
    const match = existing.find((rp) => sameName(rp, parent) && rp.relationship?.[0]?.coding?.[0]?.code === parent.relationship);
    let rp: RelatedPerson;
    if (!match) rp = (await d.repo.create(buildRelatedPerson(parent, refTo(patient)))).stored.resource;
    else if (JSON.stringify(match.relationship) !== JSON.stringify(relationship)) rp = (await d.repo.asSystem().update({ ...match, relationship })).resource;
    else rp = match;
    out.push(refTo(rp, `${nameText(parent.name)} (${relationship[0].coding?.[0]?.display ?? parent.relationship})`));
  }
  return out;
}
