/** Check 2 (read): the consent gate. docs/DESIGN.md "The process" 5 and "Security model: Consent gate". */
import type { Binary, DocumentReference } from 'fhir/r4.js';
import { Reader } from '../reader.ts';
import { consentAllows, holdsRecord } from '../rules/consent.ts';
import type { ReadCheck } from './types.ts';

const RECORD_TYPES = new Set(['DocumentReference', 'Binary']);

/** `now` is injectable for tests. */
export function consentGate(now: () => number = Date.now): ReadCheck {
  return {
    name: 'consent-gate',
    rule: 'Shared records (DocumentReference, and a Binary whose securityContext is one) are seen by the organisations that hold them, and by others only under an active Consent naming them, inside its period.',
    appliesTo: (type) => RECORD_TYPES.has(type),
    async canSee(resource, ctx) {
      if (!RECORD_TYPES.has(resource.resourceType)) return true;
      // The gate itself needs the whole picture (the Consents and requests behind a record).
      const reader = Reader.ofSystem(ctx.repo);
      const doc = resource.resourceType === 'DocumentReference'
        ? (resource as DocumentReference)
        : await reader.ref<DocumentReference>((resource as Binary).securityContext);
      // A Binary outside any record is limited by tenancy alone.
      if (!doc || doc.resourceType !== 'DocumentReference') return true;
      if (await holdsRecord(reader, ctx.actor.organization, doc)) return true;
      return consentAllows(reader, doc, ctx.actor.organization, now());
    },
  };
}
