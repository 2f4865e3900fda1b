/** Check 3 (write): what only the server writes. docs/DESIGN.md "Security model: Write rights follow parties". */
import { forbidden } from '../../shared/outcomes.ts';
import type { WriteCheck } from './types.ts';

/** The types no client writes (the CapabilityStatement declares no write of them). */
export const SERVER_WRITTEN: ReadonlySet<string> = new Set(['Provenance', 'AuditEvent']);

export const serverWritten: WriteCheck = {
  name: 'server-written',
  rule: 'Provenance and AuditEvent are written by the server alone: no client creates or changes them.',
  types: SERVER_WRITTEN,
  check(next) {
    throw forbidden(`${next.resourceType} is written by the server only`);
  },
};
