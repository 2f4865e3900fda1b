/**
 * The child (Patient): a valid NHS number, and care that stays where it is. An ESO never moves
 * the child's care (docs/DESIGN.md "Care stays with the treating Trust"): only the organisation that
 * manages the child may hand care on (Patient.managingOrganization).
 */
import type { Organization, Patient } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import { forbidden } from '../../shared/outcomes.ts';
import { actorOfRepo } from '../case.ts';
import { actsFor, orgLabel } from '../organization-tree.ts';
import { Reader } from '../reader.ts';
import { checkNhsNumbers } from './identity.ts';

export async function checkPatientWrite(next: Patient, previous: Patient | undefined, repo: Repository): Promise<void> {
  checkNhsNumbers(next);
  const actor = actorOfRepo(repo);
  if (!previous || !actor || !previous.managingOrganization) return;
  const reader = Reader.ofRepo(repo);
  if (reader.key(previous.managingOrganization) === reader.key(next.managingOrganization)) return;
  const current = await reader.ref<Organization>(previous.managingOrganization);
  if (current && !(await actsFor(reader, actor.organization, current))) {
    throw forbidden(`The child's care stays with ${orgLabel(current)}: only it can hand care on (a transfer needs both teams' agreement and the family's consent)`);
  }
}
