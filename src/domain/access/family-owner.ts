/** Check 4 (write): the child and family belong to the organisation that manages the child's record. */
import type { Patient, RelatedPerson } from 'fhir/r4.js';
import { forbidden, unprocessable } from '../../shared/outcomes.ts';
import { orgByOds, orgLabel } from '../organization-tree.ts';
import { managesChild, ownChild } from './own-child.ts';
import type { WriteCheck } from './types.ts';

export const familyOwner: WriteCheck = {
  name: 'family-owner',
  rule: 'Only the managing organisation writes its Patient and the RelatedPersons (parents, carers) of that Patient; a new Patient belongs to its writer.',
  types: new Set(['Patient', 'RelatedPerson']),
  async check(next, previous, ctx) {
    if (next.resourceType === 'RelatedPerson') {
      await ownChild(ctx, (next as RelatedPerson).patient, 'RelatedPerson.patient', 'The family');
      if (previous) await ownChild(ctx, (previous.resource as RelatedPerson).patient, 'RelatedPerson.patient', 'The family');
      return;
    }
    const patient = next as Patient;
    if (previous) {
      if (!(await managesChild(ctx, previous.resource as Patient))) {
        throw forbidden(`This record of the child is kept by ${orgLabel(await ctx.reader.ref((previous.resource as Patient).managingOrganization))}: only it may change it`);
      }
      return;
    }
    if (!patient.managingOrganization) {
      // A new record of the child is the writer's own: say so in the record.
      const own = await orgByOds(ctx.reader, ctx.actor.organization);
      if (!own) throw unprocessable(`Your organisation (${ctx.actor.organization}) is not in the directory`, 'Patient.managingOrganization');
      patient.managingOrganization = { reference: `Organization/${own.id}` };
      return;
    }
    if (!(await managesChild(ctx, patient))) {
      throw forbidden('A new record of the child must be managed by your own organisation (Patient.managingOrganization)');
    }
  },
};
