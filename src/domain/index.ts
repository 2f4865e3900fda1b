/**
 * The ESO domain as the rest of the service sees it: write hooks (rules that hold whichever
 * way a write arrives), tenancy grants, read guards (consent gate) and the intake function.
 * STUB: replaced by the domain implementation (issue 3).
 */
import type { Resource } from 'fhir/r4.js';
import type { Repository, WriteHook } from '../fhir/repository.ts';
import type { StorageTx } from '../storage/types.ts';
import type { Actor, CaseEventSink, SubmitEsoRequest } from './ports.ts';

export interface DomainWiring {
  hooks: WriteHook[];
  grants: (resource: Resource, tx: StorageTx) => Promise<string[]>;
  readGuards: ((resource: Resource, repo: Repository) => Promise<boolean>)[];
  /** The one intake function; `repoFor(actor)` gives it a repository acting for the caller. */
  submit: SubmitEsoRequest;
}

export interface DomainDeps {
  /** A repository acting for `actor` (tenancy + hooks applied), or the system when undefined. */
  repoFor: (actor: Actor | undefined) => Repository;
  caseEvents?: CaseEventSink;
}

export function createDomain(_deps: DomainDeps): DomainWiring {
  return {
    hooks: [],
    grants: async () => [],
    readGuards: [],
    submit: async () => {
      throw new Error('ESO intake not implemented yet');
    },
  };
}
