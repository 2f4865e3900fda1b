/**
 * The ESO Task state machine (docs/DESIGN.md "Task states"), as data: which status may follow which,
 * and which side of the case may make the move. Also which businessStatus steps fit each
 * status, and which side sets each step. Pure: no I/O.
 */
import type { Task } from 'fhir/r4.js';

export type TaskStatus = Task['status'];
/** provider = the owner organisation; requester = the requesting organisation (and the family through it). */
export type Side = 'provider' | 'requester';

export interface Transition { from: TaskStatus; to: TaskStatus; by: Side }

const t = (from: TaskStatus, to: TaskStatus, by: Side): Transition => ({ from, to, by });

/** Every allowed move. Anything not listed is refused (409). */
export const TRANSITIONS: readonly Transition[] = [
  t('requested', 'received', 'provider'),
  t('received', 'accepted', 'provider'),
  t('accepted', 'in-progress', 'provider'),
  t('in-progress', 'completed', 'provider'),
  t('in-progress', 'on-hold', 'provider'),
  t('on-hold', 'in-progress', 'provider'),
  t('in-progress', 'failed', 'provider'),
  // The provider declines, with a reason, any time before the work starts.
  t('requested', 'rejected', 'provider'),
  t('received', 'rejected', 'provider'),
  t('accepted', 'rejected', 'provider'),
  // The requester (or the family, through it) withdraws before the work starts.
  t('requested', 'cancelled', 'requester'),
  t('received', 'cancelled', 'requester'),
  t('accepted', 'cancelled', 'requester'),
];

export const TERMINAL: ReadonlySet<TaskStatus> = new Set(['completed', 'rejected', 'cancelled', 'failed']);

/** The transition from `from` to `to`, or undefined when the table has none. */
export function transitionOf(from: TaskStatus, to: TaskStatus): Transition | undefined {
  return TRANSITIONS.find((x) => x.from === from && x.to === to);
}

/** The statuses a Task in `from` may move to (for error messages). */
export function nextStatuses(from: TaskStatus): TaskStatus[] {
  return TRANSITIONS.filter((x) => x.from === from).map((x) => x.to);
}

export type TransitionCheck =
  | { ok: true; transition: Transition }
  | { ok: false; reason: 'invalid'; allowed: TaskStatus[] }
  | { ok: false; reason: 'wrong-side'; by: Side };

/**
 * Checks a status change. `side` undefined = the system itself (auth disabled, internal jobs):
 * every valid transition is allowed without the side check.
 */
export function checkTransition(from: TaskStatus, to: TaskStatus, side: Side | undefined): TransitionCheck {
  const transition = transitionOf(from, to);
  if (!transition) return { ok: false, reason: 'invalid', allowed: nextStatuses(from) };
  if (side !== undefined && side !== transition.by) return { ok: false, reason: 'wrong-side', by: transition.by };
  return { ok: true, transition };
}

/** The ESO steps (businessStatus) that fit each status. */
export const BUSINESS_STATUS_FOR: Readonly<Partial<Record<TaskStatus, readonly string[]>>> = {
  requested: ['awaiting-consent', 'request-sent', 'records-shared', 'cancel-requested'],
  received: ['received', 'records-shared', 'cancel-requested'],
  accepted: ['accepted', 'records-shared', 'visit-scheduled', 'outpatient-scheduled', 'cancel-requested'],
  'in-progress': ['records-review', 'visit-scheduled', 'outpatient-scheduled', 'records-shared', 'accepted'],
  'on-hold': ['on-hold'],
  completed: ['report-issued', 'discussed-with-family'],
  rejected: ['declined'],
  cancelled: ['withdrawn'],
  failed: ['failed'],
};

/** Statuses whose businessStatus must be present (a completed case says what came of it). */
export const BUSINESS_STATUS_REQUIRED: ReadonlySet<TaskStatus> = new Set(['completed']);

/**
 * Which side sets each step: the provider reports its own progress; the treating team records
 * consent, sharing, withdrawal and the discussion of the report with the family.
 */
export const BUSINESS_STATUS_SETTER: Readonly<Record<string, Side>> = {
  'awaiting-consent': 'requester', 'request-sent': 'requester', 'records-shared': 'requester',
  'discussed-with-family': 'requester', withdrawn: 'requester', 'cancel-requested': 'requester',
  received: 'provider', accepted: 'provider', 'visit-scheduled': 'provider', 'outpatient-scheduled': 'provider',
  'records-review': 'provider', 'report-issued': 'provider', declined: 'provider', 'on-hold': 'provider', failed: 'provider',
};

/** A problem with status/businessStatus consistency, or undefined when they fit. */
export function businessStatusProblem(status: TaskStatus, businessStatus: string | undefined): string | undefined {
  const fits = BUSINESS_STATUS_FOR[status];
  if (businessStatus === undefined) {
    return BUSINESS_STATUS_REQUIRED.has(status) ? `a ${status} Task needs businessStatus ${fits?.join(' or ')}` : undefined;
  }
  if (fits && !fits.includes(businessStatus)) return `businessStatus '${businessStatus}' does not fit status '${status}' (expected ${fits.join(', ')})`;
  return undefined;
}
