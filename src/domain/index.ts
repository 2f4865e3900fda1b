/**
 * The ESO domain as the rest of the service sees it: write hooks (rules that hold whichever
 * way a write arrives), tenancy grants, read guards (consent gate), the intake function, the
 * case timeline and the overdue list. Every operation takes the acting organisation (Actor) or
 * a repository already acting for it. See docs/WORKFLOW.md.
 */
import type { Bundle, Resource } from 'fhir/r4.js';
import type { Repository, WriteHook } from '../fhir/repository.ts';
import type { StorageTx } from '../storage/types.ts';
import { grantsFor } from './grants.ts';
import { domainHook } from './hooks.ts';
import { makeSubmit } from './intake/submit.ts';
import type { Actor, CaseEventSink, SubmitEsoRequest } from './ports.ts';
import { consentGate } from './rules/consent.ts';
import { overdueTasks, registerEsoSearchParameters } from './search.ts';
import { buildTimeline, type CaseTimeline } from './timeline/build.ts';

export type { CaseTimeline, TimelineEvent } from './timeline/build.ts';

export interface DomainWiring {
  hooks: WriteHook[];
  grants: (resource: Resource, tx: StorageTx) => Promise<string[]>;
  readGuards: ((resource: Resource, repo: Repository) => Promise<boolean>)[];
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
  /** Clock for the consent gate (tests). */
  now?: () => number;
}

/**
 * Builds the domain. Registers the ESO search parameters (`due`, Task `part-of`) first, so
 * every Task written afterwards is indexed by them.
 */
export function createDomain(deps: DomainDeps): DomainWiring {
  registerEsoSearchParameters();
  // The FHIR base URL is known only once the server listens: ask a repository when needed.
  const baseUrl = () => deps.repoFor(undefined).opts.baseUrl;
  return {
    hooks: [domainHook(deps.caseEvents)],
    grants: grantsFor(baseUrl),
    readGuards: [consentGate(deps.now)],
    submit: makeSubmit(deps.repoFor),
    timeline: (taskId, actor) => buildTimeline(deps.repoFor(actor), taskId),
    overdue: (actor, now) => overdueTasks(deps.repoFor(actor), now),
  };
}
