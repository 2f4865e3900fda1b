/**
 * The case-access chain: every rule about who may see and write what, in the order it is asked.
 * Every way in reaches storage through a Repository acting for the caller (REST, transaction and
 * batch entries, POST /eso/requests, HL7 v2 over HTTP and MLLP; later the clinician app,
 * Trust-to-Trust messages and subscription notifications), and that Repository asks this chain.
 * The system (no actor: the server's own writes, or ESO_AUTH_DISABLED) is not asked.
 *
 *   read   1 tenancy          granted to the caller's organisation (the search joins it)
 *          2 consent-gate     shared records only under an active Consent
 *   write  3 server-written   Provenance, AuditEvent: never a client
 *          4 family-owner     Patient, RelatedPerson: the managing organisation only
 *          5 records-holder   DocumentReference, Binary, Condition: the Trust holding the child's record
 *          6 case-child       ServiceRequest, Consent: about the writer's own record of the child
 *          then the ESO rules (domain/hooks.ts → rules/), which read as the caller does, so a
 *          reference to something the caller cannot see is a reference to nothing
 *
 * Scopes are checked before the chain (auth/authorize.ts), audit after it (src/audit/, wired by src/security.ts).
 * A new rule is a new file here, added to one of the two lists.
 */
import type { Resource } from 'fhir/r4.js';
import type { AccessPolicy, Repository } from '../../fhir/repository.ts';
import type { SearchQuery, StorageTx, StoredResource } from '../../storage/types.ts';
import { actorOfRepo } from '../case.ts';
import type { Actor } from '../ports.ts';
import { Reader } from '../reader.ts';
import { caseChild } from './case-child.ts';
import { consentGate } from './consent-gate.ts';
import { familyOwner } from './family-owner.ts';
import { recordsHolder } from './records-holder.ts';
import { serverWritten } from './server-written.ts';
import { tenancy } from './tenancy.ts';
import type { CheckContext, ReadCheck, WriteCheck } from './types.ts';

export interface CaseAccessChain extends AccessPolicy {
  readonly reads: readonly ReadCheck[];
  readonly writes: readonly WriteCheck[];
}

/** Builds the chain; `now` is the consent gate's clock (tests). */
export function caseAccessChain(now?: () => number): CaseAccessChain {
  const reads: ReadCheck[] = [tenancy, consentGate(now)];
  const writes: WriteCheck[] = [serverWritten, familyOwner, recordsHolder, caseChild];
  const context = (repo: Repository): CheckContext | undefined => {
    const actor: Actor | undefined = actorOfRepo(repo);
    return actor ? { actor, repo, reader: Reader.ofRepo(repo) } : undefined;
  };
  return {
    reads,
    writes,
    scope(query: SearchQuery, repo: Repository): SearchQuery {
      const actor = actorOfRepo(repo);
      if (!actor) return query;
      return reads.reduce((q, c) => (c.scope ? c.scope(q, actor) : q), query);
    },
    async canSee(resource: Resource, repo: Repository, afterSearch = false): Promise<boolean> {
      const ctx = context(repo);
      if (!ctx) return true;
      for (const c of reads) {
        if (afterSearch && c.scope) continue;
        if (c.appliesTo && !c.appliesTo(resource.resourceType)) continue;
        if (!(await c.canSee(resource, ctx))) return false;
      }
      return true;
    },
    filtersAfterSearch: (type: string) => reads.some((c) => !c.scope && (!c.appliesTo || c.appliesTo(type))),
    async checkWrite(next: Resource, previous: StoredResource | undefined, repo: Repository, tx: StorageTx): Promise<void> {
      const ctx = context(repo);
      if (!ctx) return;
      for (const c of writes) if (c.types.has(next.resourceType)) await c.check(next, previous, { ...ctx, tx });
    },
  };
}
