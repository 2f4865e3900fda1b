/**
 * The shape of one check of the case-access chain (chain.ts). In the spirit of HAPI FHIR's
 * consent service (can-see / will-see) and node-oidc-provider's action pipeline: each check is
 * one file with a one-line rule, and the chain's order is the order they are asked in.
 */
import type { Resource } from 'fhir/r4.js';
import type { Repository } from '../../fhir/repository.ts';
import type { SearchQuery, StorageTx, StoredResource } from '../../storage/types.ts';
import type { Actor } from '../ports.ts';
import type { Reader } from '../reader.ts';

/** What a check knows of the call: who acts, and the repository acting for them. */
export interface CheckContext {
  actor: Actor;
  /** The caller's repository (in the write's transaction for write checks). */
  repo: Repository;
  /** Resolves references as the caller sees them: what the caller cannot see is not there. */
  reader: Reader;
}

/** A read check: may the caller see this resource? */
export interface ReadCheck {
  name: string;
  /** The rule, in one line (shown in docs/ARCHITECTURE.md and SECURITY.md). */
  rule: string;
  /**
   * The check's storage form, when it has one: narrows a search before it runs. A check with
   * a `scope` is not asked `canSee` for the results of that search (the database already asked).
   */
  scope?(query: SearchQuery, actor: Actor): SearchQuery;
  /** True when the check may hide resources of this type (omitted: every type). */
  appliesTo?(type: string): boolean;
  canSee(resource: Resource, ctx: CheckContext): Promise<boolean>;
}

/** A write check: may the caller make this write? Throws an OperationOutcomeError when not. */
export interface WriteCheck {
  name: string;
  rule: string;
  /** The resource types the check is about. */
  types: ReadonlySet<string>;
  check(next: Resource, previous: StoredResource | undefined, ctx: CheckContext & { tx: StorageTx }): Promise<void>;
}
