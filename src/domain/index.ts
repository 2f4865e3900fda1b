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
import { makeCancel } from './amend/cancel.ts';
import type { Actor, CancelEsoRequest, CaseEventSink, RemoteProvider, ResourceChangeSink, SubmitEsoRequest } from './ports.ts';
import { overdueTasks } from './search.ts';
import { buildTimeline, type CaseTimeline } from './timeline/build.ts';

export type { CaseTimeline, TimelineEvent } from './timeline/build.ts';

/** The rules every repository acting for a caller applies, whichever way a write arrives. Needs no repository. */
export interface DomainRules {
  hooks: WriteHook[];
  grants: (resource: Resource, repo: Repository, fresh?: boolean) => Promise<string[]>;
  /** The case-access chain (access/chain.ts) every repository acting for a caller asks. */
  access: AccessPolicy;
}

export interface DomainRulesDeps {
  caseEvents?: CaseEventSink;
  /** Told of every Task, DiagnosticReport and Consent write in its transaction (subscription events). */
  changes?: ResourceChangeSink;
  /** Clock for the consent gate (tests). */
  now?: () => number;
  /** Whether another instance serves a case's provider (Trust to Trust): then a cancel is a request it confirms. */
  remoteProvider?: RemoteProvider;
}

/** Builds the rules the repositories are made with (so they come first: no repository is needed to make them). */
export function domainRules(deps: DomainRulesDeps = {}): DomainRules {
  return {
    hooks: [domainHook(deps.caseEvents, deps.changes, deps.remoteProvider)],
    grants: grantsFor,
    access: caseAccessChain(deps.now),
  };
}

/** What the ways in ask of the domain, each through a repository acting for the caller. */
export interface DomainOperations {
  /** The one intake function; `repoFor(actor)` gives it a repository acting for the caller. */
  submit: SubmitEsoRequest;
  /** The plain-language timeline of the case whose ESO Task is `taskId` (404 for other organisations). */
  timeline: (taskId: string, actor: Actor | undefined) => Promise<CaseTimeline>;
  /** Open ESO Tasks past their due date that the actor may see (rule 4). */
  overdue: (actor: Actor | undefined, now?: Date) => Promise<Bundle>;
  /** The requester withdraws its request (REF^I14, the app): a request the provider confirms where another instance serves it. */
  cancel: CancelEsoRequest;
}

/**
 * Builds the operations over `repoFor` (a repository acting for `actor`, made with domainRules;
 * the system when undefined). The ESO search parameters they rely on (`due`, Task `part-of`)
 * come from profiles/, in the registry every repository holds (fhir/conformance.ts).
 */
export function domainOperations(repoFor: (actor: Actor | undefined) => Repository, remoteProvider?: RemoteProvider): DomainOperations {
  return {
    cancel: makeCancel(repoFor, remoteProvider),
    submit: makeSubmit(repoFor),
    timeline: (taskId, actor) => buildTimeline(repoFor(actor), taskId),
    overdue: (actor, now) => overdueTasks(repoFor(actor), now),
  };
}
