/** The Task state machine table (DESIGN.md "Task states"), pure. */
import { describe, expect, it } from 'vitest';
import { businessStatusProblem, checkTransition, nextStatuses, TERMINAL, TRANSITIONS, type TaskStatus } from '../../../src/domain/task-states.ts';

const ALL: TaskStatus[] = ['draft', 'requested', 'received', 'accepted', 'rejected', 'ready', 'cancelled', 'in-progress', 'on-hold', 'failed', 'completed', 'entered-in-error'];

describe('ESO Task state machine', () => {
  it('when the table is read, then it is exactly the moves of DESIGN.md, each with its side', () => {
    const rows = TRANSITIONS.map((t) => `${t.from} -> ${t.to} by ${t.by}`);
    expect(rows).toEqual([
      'requested -> received by provider', 'received -> accepted by provider', 'accepted -> in-progress by provider',
      'in-progress -> completed by provider', 'in-progress -> on-hold by provider', 'on-hold -> in-progress by provider',
      'in-progress -> failed by provider', 'requested -> rejected by provider', 'received -> rejected by provider',
      'accepted -> rejected by provider', 'requested -> cancelled by requester', 'received -> cancelled by requester',
      'accepted -> cancelled by requester',
    ]);
  });

  it('when a Task is completed, rejected, cancelled or failed, then no move leaves it', () => {
    for (const s of TERMINAL) expect(nextStatuses(s)).toEqual([]);
  });

  it('when any pair of statuses is tried, then only table rows pass and the rest are invalid with the allowed list', () => {
    for (const from of ALL) {
      for (const to of ALL) {
        if (from === to) continue;
        const r = checkTransition(from, to, undefined);
        const listed = TRANSITIONS.some((t) => t.from === from && t.to === to);
        expect(r.ok).toBe(listed);
        if (!r.ok && r.reason === 'invalid') expect(r.allowed).toEqual(nextStatuses(from));
      }
    }
  });

  it('when the wrong side makes a move, then it is refused naming the side that may', () => {
    expect(checkTransition('requested', 'received', 'requester')).toEqual({ ok: false, reason: 'wrong-side', by: 'provider' });
    expect(checkTransition('accepted', 'cancelled', 'provider')).toEqual({ ok: false, reason: 'wrong-side', by: 'requester' });
    expect(checkTransition('accepted', 'cancelled', 'requester').ok).toBe(true);
  });

  it('when the system moves (no side), then every valid move is allowed', () => {
    for (const t of TRANSITIONS) expect(checkTransition(t.from, t.to, undefined).ok).toBe(true);
  });

  it('when businessStatus does not fit status, then a problem is named; completed needs one', () => {
    expect(businessStatusProblem('completed', undefined)).toContain('report-issued or discussed-with-family');
    expect(businessStatusProblem('completed', 'records-review')).toContain("does not fit status 'completed'");
    expect(businessStatusProblem('completed', 'discussed-with-family')).toBeUndefined();
    expect(businessStatusProblem('rejected', 'declined')).toBeUndefined();
    expect(businessStatusProblem('in-progress', undefined)).toBeUndefined();
  });
});
