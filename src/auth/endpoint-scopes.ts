/**
 * Scopes of the ways in that are not FHIR REST (/eso/*, /hl7/v2), stated in FHIR terms: what
 * each endpoint creates or reveals. One table read by the routes (the check), the
 * CapabilityStatement and the README (the documentation), so the three cannot disagree.
 * https://build.fhir.org/ig/HL7/smart-app-launch/scopes-and-launch-context.html
 */
import type { Interaction } from '../fhir/interactions.ts';
import { isOutcomeError, forbidden } from '../shared/outcomes.ts';
import { PERMISSION_OF } from './authorize.ts';

export interface EndpointScopes {
  /** The endpoint as documented, e.g. "POST /eso/requests". */
  endpoints: string[];
  /** Every pair must be allowed. */
  needs: ReadonlyArray<readonly [Interaction, string]>;
}

const CASE_INTAKE: EndpointScopes['needs'] = [['create', 'ServiceRequest'], ['create', 'Task']];

/** A new case writes a ServiceRequest and a Task; the timeline reads one case; the overdue list searches Tasks. */
export const ENDPOINT_SCOPES = {
  esoRequest: { endpoints: ['POST /eso/requests'], needs: CASE_INTAKE },
  hl7v2: { endpoints: ['POST /hl7/v2'], needs: CASE_INTAKE },
  timeline: { endpoints: ['GET /eso/cases/{id}/timeline'], needs: [['read', 'Task']] },
  overdue: { endpoints: ['GET /eso/overdue'], needs: [['search', 'Task']] },
} as const satisfies Record<string, EndpointScopes>;

/** "system/ServiceRequest.c and system/Task.c". */
export function scopesText(e: EndpointScopes): string {
  return e.needs.map(([interaction, type]) => `system/${type}.${PERMISSION_OF[interaction]}`).join(' and ');
}

/**
 * Runs `authorize` for every pair the endpoint needs, before anything is read or written. A
 * refusal names all the scopes the endpoint needs (not only the first missing one); 401 (no
 * principal with authentication on) passes through unchanged.
 */
export function requireEndpointScopes(authorize: (interaction: Interaction, type: string) => void, e: EndpointScopes): void {
  let refused = false;
  for (const [interaction, type] of e.needs) {
    try {
      authorize(interaction, type);
    } catch (err) {
      if (!isOutcomeError(err) || err.status !== 403) throw err;
      refused = true;
    }
  }
  if (refused) throw forbidden(`Insufficient scope: ${e.endpoints.join(', ')} needs ${scopesText(e)}`);
}

/** One sentence for the CapabilityStatement's rest.security.description. */
export function endpointScopesDescription(): string {
  const parts = Object.values(ENDPOINT_SCOPES).map((e) => `${e.endpoints.join(', ')} needs ${scopesText(e)}`);
  return `Outside /fhir: ${parts.join('; ')}.`;
}
