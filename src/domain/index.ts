/**
 * The ESO domain as the rest of the service sees it: write hooks (rules that hold whichever
 * way a write arrives), tenancy grants, read guards (consent gate), the intake function, the
 * case timeline and the overdue list. Every operation takes the acting organisation (Actor) or
 * a repository already acting for it. See docs/WORKFLOW.md.
 */
import type { Bundle, Resource } from 'fhir/r4.js';
import type { AccessPolicy, Repository, WriteHook } from '../fhir/repository.ts';
import { caseAccessChain } from './access/chain.ts';
import { grantsFor } from './grants.ts';
import { domainHook } from './hooks.ts';
import { makeSubmit } from './intake/submit.ts';
import type { Actor, CaseEventSink, ResourceChangeSink, SubmitEsoRequest } from './ports.ts';
import { overdueTasks } from './search.ts';
import { buildTimeline, type CaseTimeline } from './timeline/build.ts';

export type { CaseTimeline, TimelineEvent } from './timeline/build.ts';

export interface DomainWiring {
  hooks: WriteHook[];
  grants: (resource: Resource, repo: Repository) => Promise<string[]>;
  /** The case-access chain (access/chain.ts) every repository acting for a caller asks. */
  access: AccessPolicy;
  /** The one intake function; `repoFor(actor)` gives it a repository acting for the caller. */
  submit: SubmitEsoRequest;
  /** The plain-language timeline of the case whose ESO Task is `taskId` (404 for other organisations). */
  timeline: (taskId: string, actor: Actor | undefined) => Promise<CaseTimeline>;
  /** Open ESO Tasks past their due date that the actor may see (rule 4). */
  overdue: (actor: Actor | undefined, now?: Date) => Promise<Bundle>;
}

export interface DomainDeps {
  /** A repository acting for `actor` (tenancy + hooks applied), or the system when undefined. */
  repoFor: (actor: Actor | undefined) => Repository;
  caseEvents?: CaseEventSink;
  /** Told of every Task, DiagnosticReport and Consent write in its transaction (subscription events). */
  changes?: ResourceChangeSink;
  /** Clock for the consent gate (tests). */
  now?: () => number;
}

/**
 * Builds the domain. The ESO search parameters it relies on (`due`, Task `part-of`) come from
 * profiles/, in the registry every repository holds (fhir/conformance.ts).
 */
export function createDomain(deps: DomainDeps): DomainWiring {
  return {
    hooks: [domainHook(deps.caseEvents, deps.changes)],
    grants: grantsFor,
    access: caseAccessChain(deps.now),
    submit: makeSubmit(deps.repoFor),
    timeline: (taskId, actor) => buildTimeline(deps.repoFor(actor), taskId),
    overdue: (actor, now) => overdueTasks(deps.repoFor(actor), now),
  };
}
