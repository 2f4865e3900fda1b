/**
 * Scope checks per FHIR interaction and resource type (SMART v2 letters; v1 read/write map to
 * rs/cud). The rules run in order; the first that decides wins.
 * https://build.fhir.org/ig/HL7/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-fhir-resources
 */
import type { Interaction } from '../fhir/interactions.ts';
import { forbidden, unauthorized } from '../shared/outcomes.ts';
import { SERVER_WRITTEN } from '../domain/access/server-written.ts';
import type { Principal } from './principal.ts';
import { permits, type Permission } from './scopes.ts';

/** The permission each interaction needs. */
export const PERMISSION_OF: Partial<Record<Interaction, Permission>> = {
  read: 'r', vread: 'r', history: 'r', search: 's', create: 'c', update: 'u', delete: 'd',
};


export interface AuthorizeOptions {
  /** ESO_AUTH_DISABLED: a request without a principal acts as the system. */
  authDisabled: boolean;
}

/** Returns the check for one request; it throws 403 (or 401 without a principal) when the interaction is not allowed. */
export function authorizeFor(principal: Principal | undefined, opts: AuthorizeOptions): (interaction: Interaction, type: string) => void {
  return (interaction, type) => {
    // Rule: the CapabilityStatement is public.
    if (interaction === 'capabilities') return;
    // Rule: a transaction or batch may start; each entry is then checked as its own interaction.
    if (interaction === 'transaction' || interaction === 'batch') return;
    // Rule: without a principal, only the system (authentication disabled) may act; never by accident.
    if (!principal) {
      if (opts.authDisabled) return;
      throw unauthorized();
    }
    const perm = PERMISSION_OF[interaction];
    // Rule: an interaction this table does not know is refused.
    if (!perm) throw forbidden(`The ${interaction} interaction is not allowed`);
    // Rule: AuditEvents and Provenance are written by the server only, whatever the scopes say (before anything is validated).
    if (SERVER_WRITTEN.has(type) && perm !== 'r' && perm !== 's') throw forbidden(`${type} is written by the server only`);
    // Rule: a granted scope must carry the interaction's letter for this type (or *).
    if (!permits(principal.scopes, type, perm)) throw forbidden(`Insufficient scope: ${interaction} on ${type} needs system/${type}.${perm}`);
  };
}
