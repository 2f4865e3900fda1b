/** PATCH bodies (rest/patch.ts): JSON Patch and FHIRPath Patch on simple paths, and their refusals. */
import type { Parameters, ParametersParameter, Task } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { applyFhirPathPatch, applyJsonPatch } from '../../../src/rest/patch.ts';
import { isOutcomeError } from '../../../src/shared/outcomes.ts';

const task = (): Task => ({
  resourceType: 'Task', id: 't1', status: 'requested', intent: 'order', description: 'first opinion',
  note: [{ text: 'a' }, { text: 'b' }, { text: 'c' }],
});

const statusOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (e) {
    if (isOutcomeError(e)) return e.status;
    throw e;
  }
  return undefined;
};

type Part = ParametersParameter;
const op = (parts: Part[]): Part => ({ name: 'operation', part: parts });
const fp = (...ops: Part[]): Parameters => ({ resourceType: 'Parameters', parameter: ops });
const type = (t: string): Part => ({ name: 'type', valueCode: t });
const path = (p: string): Part => ({ name: 'path', valueString: p });

describe('JSON Patch', () => {
  it('when operations apply, then a new resource is returned and the current one is untouched', () => {
    const current = task();
    const out = applyJsonPatch(current, [{ op: 'replace', path: '/status', value: 'accepted' }, { op: 'remove', path: '/note/0' }, { op: 'add', path: '/note/-', value: { text: 'd' } }]) as Task;
    expect(out.status).toBe('accepted');
    expect(out.note?.map((n) => n.text)).toEqual(['b', 'c', 'd']);
    expect(current).toEqual(task());
  });

  it('when a test operation fails, then the patch is refused with 422', () => {
    expect(statusOf(() => applyJsonPatch(task(), [{ op: 'test', path: '/status', value: 'accepted' }, { op: 'replace', path: '/status', value: 'x' }]))).toBe(422);
  });

  it('when the patch is malformed, then it is refused with 400', () => {
    expect(statusOf(() => applyJsonPatch(task(), { op: 'replace' }))).toBe(400);
    expect(statusOf(() => applyJsonPatch(task(), [{ op: 'frobnicate', path: '/status' }]))).toBe(400);
    expect(statusOf(() => applyJsonPatch(task(), [{ op: 'remove', path: '/nothing/here' }]))).toBe(400);
    expect(statusOf(() => applyJsonPatch(task(), Array.from({ length: 101 }, () => ({ op: 'test', path: '/id', value: 't1' }))))).toBe(400);
  });

  it('when a patch would touch __proto__, then it is a 400 and no prototype changes', () => {
    expect(statusOf(() => applyJsonPatch(task(), [{ op: 'add', path: '/__proto__/polluted', value: true }]))).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('FHIRPath Patch', () => {
  it('when adding to a repeating element, then the value is appended', () => {
    const out = applyFhirPathPatch(task(), fp(op([type('add'), path('Task'), { name: 'name', valueString: 'note' }, { name: 'value', valueAnnotation: { text: 'd' } }]))) as Task;
    expect(out.note?.map((n) => n.text)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('when adding a single element that is absent, then it is set; when it is present, then 422', () => {
    const add = (name: string, v: Part) => fp(op([type('add'), path('Task'), { name: 'name', valueString: name }, v]));
    const out = applyFhirPathPatch({ ...task(), description: undefined } as Task, add('description', { name: 'value', valueString: 'new' })) as Task;
    expect(out.description).toBe('new');
    expect(statusOf(() => applyFhirPathPatch(task(), add('description', { name: 'value', valueString: 'new' })))).toBe(422);
  });

  it('when inserting at an index, then the list grows there; beyond its end, then 422', () => {
    const insert = (index: number) => fp(op([type('insert'), path('Task.note'), { name: 'index', valueInteger: index }, { name: 'value', valueAnnotation: { text: 'x' } }]));
    expect((applyFhirPathPatch(task(), insert(1)) as Task).note?.map((n) => n.text)).toEqual(['a', 'x', 'b', 'c']);
    expect((applyFhirPathPatch(task(), insert(3)) as Task).note?.map((n) => n.text)).toEqual(['a', 'b', 'c', 'x']);
    expect(statusOf(() => applyFhirPathPatch(task(), insert(4)))).toBe(422);
    expect(statusOf(() => applyFhirPathPatch(task(), fp(op([type('insert'), path('Task.note'), { name: 'index', valueInteger: -1 }, { name: 'value', valueString: 'x' }]))))).toBe(400);
  });

  it('when deleting an element or a list item, then it is gone; when it is not there, then nothing changes', () => {
    const del = (p: string) => fp(op([type('delete'), path(p)]));
    expect((applyFhirPathPatch(task(), del('Task.description')) as Task).description).toBeUndefined();
    expect((applyFhirPathPatch(task(), del('Task.note[1]')) as Task).note?.map((n) => n.text)).toEqual(['a', 'c']);
    expect(applyFhirPathPatch(task(), del('Task.note[7]'))).toEqual(task());
    expect(applyFhirPathPatch(task(), del('Task.executionPeriod.start'))).toEqual(task());
    const single = applyFhirPathPatch({ ...task(), note: [{ text: 'only' }] } as Task, del('Task.note[0]')) as Task;
    expect('note' in single).toBe(false);
  });

  it('when replacing a value or a list item, then it is replaced; when it is not there, then 422', () => {
    const replace = (p: string, v: Part) => fp(op([type('replace'), path(p), v]));
    expect((applyFhirPathPatch(task(), replace('Task.status', { name: 'value', valueCode: 'accepted' })) as Task).status).toBe('accepted');
    expect((applyFhirPathPatch(task(), replace('Task.note[2].text', { name: 'value', valueString: 'C' })) as Task).note?.[2].text).toBe('C');
    expect((applyFhirPathPatch(task(), replace('Task.note[0]', { name: 'value', valueAnnotation: { text: 'A' } })) as Task).note?.map((n) => n.text)).toEqual(['A', 'b', 'c']);
    expect(statusOf(() => applyFhirPathPatch(task(), replace('Task.priority', { name: 'value', valueCode: 'urgent' })))).toBe(422);
  });

  it('when moving a list item, then it lands at the destination; out of range, then 422', () => {
    const move = (source: number, destination: number) => fp(op([type('move'), path('Task.note'), { name: 'source', valueInteger: source }, { name: 'destination', valueInteger: destination }]));
    expect((applyFhirPathPatch(task(), move(0, 2)) as Task).note?.map((n) => n.text)).toEqual(['b', 'c', 'a']);
    expect((applyFhirPathPatch(task(), move(2, 0)) as Task).note?.map((n) => n.text)).toEqual(['c', 'a', 'b']);
    expect(statusOf(() => applyFhirPathPatch(task(), move(0, 3)))).toBe(422);
  });

  it('when several operations are given, then they apply in order to a copy', () => {
    const current = task();
    const out = applyFhirPathPatch(current, fp(
      op([type('replace'), path('Task.status'), { name: 'value', valueCode: 'accepted' }]),
      op([type('delete'), path('Task.note[0]')]),
    )) as Task;
    expect(out.status).toBe('accepted');
    expect(out.note).toHaveLength(2);
    expect(current).toEqual(task());
  });

  it('when a path is not simple, names another type, or the operation is unknown, then 422', () => {
    expect(statusOf(() => applyFhirPathPatch(task(), fp(op([type('delete'), path("Task.note.where(text='a')")]))))).toBe(422);
    expect(statusOf(() => applyFhirPathPatch(task(), fp(op([type('delete'), path('Patient.name')]))))).toBe(422);
    expect(statusOf(() => applyFhirPathPatch(task(), fp(op([type('delete'), path('Task')]))))).toBe(422);
    expect(statusOf(() => applyFhirPathPatch(task(), fp(op([type('upsert'), path('Task.status'), { name: 'value', valueCode: 'x' }]))))).toBe(422);
    expect(statusOf(() => applyFhirPathPatch(task(), fp(op([type('insert'), path('Task.note[0]'), { name: 'index', valueInteger: 0 }, { name: 'value', valueString: 'x' }]))))).toBe(422);
    expect(statusOf(() => applyFhirPathPatch(task(), fp(op([type('replace'), path('Task.status'), { name: 'value', part: [{ name: 'x', valueString: 'y' }] }]))))).toBe(422);
  });

  it('when the body is not a well-formed Parameters of operations, then 400', () => {
    expect(statusOf(() => applyFhirPathPatch(task(), { resourceType: 'Task' }))).toBe(400);
    expect(statusOf(() => applyFhirPathPatch(task(), null))).toBe(400);
    expect(statusOf(() => applyFhirPathPatch(task(), fp()))).toBe(400);
    expect(statusOf(() => applyFhirPathPatch(task(), { resourceType: 'Parameters', parameter: [{ name: 'other' }] }))).toBe(400);
    expect(statusOf(() => applyFhirPathPatch(task(), fp(op([path('Task.status')]))))).toBe(400);
    expect(statusOf(() => applyFhirPathPatch(task(), fp(op([type('replace'), path('Task.status')]))))).toBe(400);
    expect(statusOf(() => applyFhirPathPatch(task(), fp(op([type('add'), path('Task'), { name: 'value', valueString: 'x' }]))))).toBe(400);
    expect(statusOf(() => applyFhirPathPatch(task(), fp(...Array.from({ length: 101 }, () => op([type('delete'), path('Task.description')])))))).toBe(400);
  });
});
