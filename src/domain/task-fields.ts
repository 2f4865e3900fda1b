/**
 * Who owns which part of an ESO Task (docs/DESIGN.md "Task states": the provider moves the work on;
 * the requester may cancel and may update inputs). Pure: compares two versions of a Task.
 */
import type { Task } from 'fhir/r4.js';
import type { Side } from './task-states.ts';

/** Fields that make the Task what it is: changing them would hand the case to someone else. */
export const IMMUTABLE = ['requester', 'owner', 'focus', 'for', 'intent', 'code', 'identifier', 'authoredOn', 'basedOn', 'partOf', 'groupIdentifier'] as const;
/** What the requesting side provides. */
export const REQUESTER_FIELDS = ['input', 'restriction', 'priority', 'description', 'reasonCode', 'reasonReference', 'relevantHistory'] as const;
/** What the provider reports. status/statusReason/businessStatus are checked with the transition table. */
export const PROVIDER_FIELDS = ['output', 'executionPeriod', 'extension', 'performerType', 'location', 'encounter'] as const;
/** Either side, or set by the server. */
export const SHARED_FIELDS = ['note', 'text', 'lastModified', 'meta', 'id', 'resourceType', 'status', 'statusReason', 'businessStatus'] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Top-level fields whose value differs between two versions. */
export function changedFields(prev: Task, next: Task): string[] {
  const keys = new Set([...Object.keys(prev), ...Object.keys(next)]);
  return [...keys].filter((k) => !same((prev as unknown as Record<string, unknown>)[k], (next as unknown as Record<string, unknown>)[k]));
}

export interface FieldProblem { kind: 'immutable' | 'other-side'; field: string; message: string }

/**
 * The first field `side` may not change (undefined = all fine). The system (side undefined)
 * may change anything but the immutable fields.
 */
export function fieldProblem(prev: Task, next: Task, side: Side | undefined): FieldProblem | undefined {
  for (const field of changedFields(prev, next)) {
    if ((IMMUTABLE as readonly string[]).includes(field)) {
      const message = field === 'owner' || field === 'requester'
        ? `The ${field} of an ESO Task cannot change: handing a case to another organisation needs a new request`
        : `Task.${field} cannot change once the Task exists`;
      return { kind: 'immutable', field, message };
    }
    if (side === undefined || (SHARED_FIELDS as readonly string[]).includes(field)) continue;
    const owned = side === 'provider' ? PROVIDER_FIELDS : REQUESTER_FIELDS;
    if (!(owned as readonly string[]).includes(field)) {
      const who = side === 'provider' ? 'the provider' : 'the requesting organisation';
      return { kind: 'other-side', field, message: `Task.${field} is not for ${who} to change` };
    }
  }
  return undefined;
}
