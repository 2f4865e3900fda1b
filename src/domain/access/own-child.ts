/**
 * Whose record of the child a write may touch: each Trust keeps its own record of the child
 * (docs/DESIGN.md "Each Trust owns its record of the child"). Shared by the family and records checks.
 */
import type { Organization, Patient, Reference } from 'fhir/r4.js';
import { forbidden, unprocessable } from '../../shared/outcomes.ts';
import { actsFor, orgLabel } from '../organization-tree.ts';
import type { CheckContext } from './types.ts';

/** True when the actor acts for the organisation that manages the child's record. */
export async function managesChild(ctx: CheckContext, patient: Patient): Promise<boolean> {
  const managing = await ctx.reader.ref<Organization>(patient.managingOrganization);
  return !!managing && actsFor(ctx.reader, ctx.actor.organization, managing);
}

/**
 * The Patient a reference names, when it is one the actor manages. A Patient the actor cannot
 * see is answered exactly as one that does not exist (422); one it sees but does not manage
 * (the provider's view of a case) is 403.
 */
export async function ownChild(ctx: CheckContext, ref: Reference | undefined, expression: string, what: string): Promise<Patient> {
  const key = ctx.reader.key(ref);
  const patient = await ctx.reader.ref<Patient>(ref);
  if (!key || !patient || patient.resourceType !== 'Patient') throw unprocessable(`${key ?? 'The reference'} is not known: ${expression} must be a Patient of your organisation`, expression);
  if (!(await managesChild(ctx, patient))) {
    const managing = await ctx.reader.ref<Organization>(patient.managingOrganization);
    throw forbidden(`${what} is kept by the organisation that manages the child's record (${orgLabel(managing)}): another Trust keeps its own record of the child`);
  }
  return patient;
}
