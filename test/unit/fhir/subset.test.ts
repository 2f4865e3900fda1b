/** `_summary` and `_elements` (fhir/subset.ts): what a client gets back, and the SUBSETTED tag. */
import type { Patient, Task } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { isWhole, parseSubset, subsetResource, SUBSETTED } from '../../../src/fhir/subset.ts';
import { isOutcomeError } from '../../../src/shared/outcomes.ts';

const task: Task = {
  resourceType: 'Task', id: 't1', meta: { versionId: '2', tag: [{ system: 'http://example.org/t', code: 'keep' }] },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">t</div>' },
  status: 'requested', intent: 'order', description: 'second opinion', priority: 'urgent',
  note: [{ text: 'a note' }], owner: { reference: 'Organization/b' },
};

const statusOf = (fn: () => unknown): number | undefined => {
  try { fn(); } catch (e) { return isOutcomeError(e) ? e.status : -1; }
  return undefined;
};

describe('parseSubset', () => {
  it('when _summary and _elements are given, then the mode and the element names are read', () => {
    expect(parseSubset({ _summary: ['data'] })).toEqual({ summary: 'data' });
    expect(parseSubset({ _elements: ['status, owner', 'note'] })).toEqual({ elements: ['status', 'owner', 'note'] });
    expect(parseSubset({})).toEqual({});
  });

  it('when _summary is not an R4 mode, or given twice, or _elements names a path, then 400', () => {
    expect(statusOf(() => parseSubset({ _summary: ['yes'] }))).toBe(400);
    expect(statusOf(() => parseSubset({ _summary: ['true', 'data'] }))).toBe(400);
    expect(statusOf(() => parseSubset({ _elements: ['note.text'] }))).toBe(400);
    expect(statusOf(() => parseSubset({ _elements: ['a'.repeat(65)] }))).toBe(400);
  });
});

describe('subsetResource', () => {
  it('when nothing is cut (_summary false or count, or no subset), then the same resource comes back untagged', () => {
    for (const s of [{}, { summary: 'false' as const }, { summary: 'count' as const }]) {
      expect(isWhole(s)).toBe(true);
      expect(subsetResource(task, s)).toBe(task);
    }
  });

  it('when _elements is given, then only those elements, the mandatory ones and id/meta are kept, tagged SUBSETTED', () => {
    const out = subsetResource(task, { elements: ['note'] });
    expect(Object.keys(out).sort()).toEqual(['id', 'intent', 'meta', 'note', 'resourceType', 'status']);
    expect(out.meta?.tag).toEqual([{ system: 'http://example.org/t', code: 'keep' }, SUBSETTED]);
    expect(out.meta?.versionId).toBe('2');
    expect(task.meta?.tag).toHaveLength(1); // the original is not changed
    expect(task.description).toBe('second opinion');
  });

  it('when _summary=data, then only the narrative is removed', () => {
    const out = subsetResource(task, { summary: 'data' });
    expect('text' in out).toBe(false);
    expect(out.note).toEqual(task.note);
  });

  it('when _summary=true, then the summary elements are kept and the others dropped', () => {
    const out = subsetResource(task, { summary: 'true' });
    expect(out).toMatchObject({ status: 'requested', intent: 'order', description: 'second opinion', owner: { reference: 'Organization/b' } });
    expect('note' in out).toBe(false);
    expect('text' in out).toBe(false);
    expect('priority' in out).toBe(false);
  });

  it('when _summary=text, then the narrative and the mandatory elements are kept', () => {
    const out = subsetResource(task, { summary: 'text' });
    expect(Object.keys(out).sort()).toEqual(['id', 'intent', 'meta', 'resourceType', 'status', 'text']);
  });

  it('when a choice element is asked for by its name, then its typed key is kept', () => {
    const patient: Patient = { resourceType: 'Patient', id: 'p', deceasedBoolean: false, gender: 'female' };
    const out = subsetResource(patient, { elements: ['deceased'] });
    expect(out.deceasedBoolean).toBe(false);
    expect('gender' in out).toBe(false);
  });

  it('when the resource is already tagged SUBSETTED, then the tag is not repeated', () => {
    const once = subsetResource(task, { elements: ['note'] });
    const twice = subsetResource(once, { elements: ['note'] });
    expect(twice.meta?.tag?.filter((t) => t.code === 'SUBSETTED')).toHaveLength(1);
  });
});
