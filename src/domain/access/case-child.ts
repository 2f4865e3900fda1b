/** Check 6 (write): a case is about the requester's own record of the child. */
import type { Consent, ServiceRequest } from 'fhir/r4.js';
import { ownChild } from './own-child.ts';
import type { WriteCheck } from './types.ts';

export const caseChild: WriteCheck = {
  name: 'case-child',
  rule: 'An ESO request (ServiceRequest.subject) and a consent to share (Consent.patient) name a Patient the writer manages: a Trust asks about, and shares, its own record of the child.',
  types: new Set(['ServiceRequest', 'Consent']),
  async check(next, previous, ctx) {
    const refOf = (r: ServiceRequest | Consent) => (r.resourceType === 'ServiceRequest' ? r.subject : r.patient);
    const expression = next.resourceType === 'ServiceRequest' ? 'ServiceRequest.subject' : 'Consent.patient';
    // A withdrawal is never refused here: the holder may always end its consent (rules/consent.ts).
    if (next.resourceType === 'Consent' && previous && (next as Consent).status !== 'active') return;
    await ownChild(ctx, refOf(next as ServiceRequest | Consent), expression, next.resourceType === 'ServiceRequest' ? 'An ESO request about the child' : 'Consent to share the child\'s records');
  },
};
