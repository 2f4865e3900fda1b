/** The pure parts of the ESO rules: answers vs questions, field ownership, transfer agreements, due dates. */
import type { ServiceRequest, Task } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { answerProblems } from '../../../src/domain/rules/report.ts';
import { questionProblems } from '../../../src/domain/rules/service-request.ts';
import { defaultDue } from '../../../src/domain/rules/task.ts';
import { missingAgreements } from '../../../src/domain/rules/transfer.ts';
import { fieldProblem } from '../../../src/domain/task-fields.ts';

const questions = [{ linkId: 'q1', text: 'Is the diagnosis right?' }, { linkId: 'q2', text: 'Is the plan reasonable?' }];
const task: Task = { resourceType: 'Task', status: 'requested', intent: 'order', owner: { reference: 'Organization/b' }, requester: { reference: 'Organization/a' } };

describe('report answers (rule 5)', () => {
  it('when every question has one answer, then there is no problem', () => {
    expect(answerProblems(questions, [{ question: 'q1', text: 'Yes' }, { question: 'q2', text: 'Yes' }], true)).toEqual([]);
  });

  it('when a question is unanswered, answered twice, or an answer names an unknown question, then each is a problem', () => {
    expect(answerProblems(questions, [{ question: 'q1', text: 'Yes' }], true)).toEqual(['question \'q2\' ("Is the plan reasonable?") has no answer']);
    expect(answerProblems(questions, [{ question: 'q1', text: 'a' }, { question: 'q1', text: 'b' }, { question: 'q2', text: 'c' }], true)).toEqual(["question 'q1' is answered more than once"]);
    expect(answerProblems(questions, [{ question: 'q1', text: 'a' }, { question: 'q2', text: 'b' }, { question: 'q7', text: 'c' }], true)[0]).toContain("'q7'");
  });

  it('when a draft report is partial, then only unknown questions are problems', () => {
    expect(answerProblems(questions, [{ question: 'q1', text: 'Yes' }], false)).toEqual([]);
  });

  it('when two questions share a linkId, then the request is refused', () => {
    const sr = { extension: [1, 2].map(() => ({ url: 'https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-question', extension: [{ url: 'linkId', valueString: 'q1' }] })) } as ServiceRequest;
    expect(questionProblems(sr)).toEqual(["linkId 'q1' is used by more than one question"]);
  });
});

describe('Task field ownership', () => {
  it('when owner or requester changes, then it is immutable whoever asks, even the system', () => {
    expect(fieldProblem(task, { ...task, owner: { reference: 'Organization/c' } }, undefined)?.kind).toBe('immutable');
    expect(fieldProblem(task, { ...task, requester: { reference: 'Organization/c' } }, 'requester')?.message).toContain('handing a case');
  });

  it('when the requester changes inputs and the provider outputs, then both are fine; crossed over, they are not', () => {
    expect(fieldProblem(task, { ...task, input: [{ type: { text: 'x' }, valueString: 'y' }] }, 'requester')).toBeUndefined();
    expect(fieldProblem(task, { ...task, output: [{ type: { text: 'x' }, valueString: 'y' }] }, 'provider')).toBeUndefined();
    expect(fieldProblem(task, { ...task, output: [{ type: { text: 'x' }, valueString: 'y' }] }, 'requester')?.kind).toBe('other-side');
    expect(fieldProblem(task, { ...task, restriction: { period: { end: '2030-01-01' } } }, 'provider')?.kind).toBe('other-side');
  });
});

describe('transfer of care (rule 6)', () => {
  it('when an offer lacks an agreement, then it is named', () => {
    const offer: Task = { ...task, input: [{ type: { text: 'provider-agreement' }, valueBoolean: true }, { type: { text: 'family-consent' }, valueBoolean: false }] };
    expect(missingAgreements(offer)).toEqual(['treating-team-agreement', 'family-consent']);
  });
});

describe('due dates (rule 4)', () => {
  it('when the request is routine, then there is no default due date', () => {
    expect(defaultDue('routine', '2026-01-01T00:00:00Z')).toBeUndefined();
    expect(defaultDue('stat', '2026-01-01T00:00:00Z')).toBe('2026-01-03T00:00:00.000Z');
  });
});
