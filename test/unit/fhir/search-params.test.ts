/** The search-parameter registry: built once from the base table plus profiles/, no module state. */
import type { Task } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { loadConformance } from '../../../src/fhir/conformance.ts';
import { parseSearch, queryParams } from '../../../src/fhir/search-parse.ts';
import { extractIndex, SearchParameterRegistry } from '../../../src/fhir/search-params.ts';

const task: Task = {
  resourceType: 'Task', status: 'requested', intent: 'order', partOf: [{ reference: 'Task/case-1' }],
  restriction: { period: { end: '2026-03-01T12:00:00Z' } },
};
const BASE = 'http://eso.test/fhir';

describe('search-parameter registry', () => {
  it('when built from profiles/, then Task has the ESO `due` and R4 `part-of` parameters, and a Task is indexed by them', () => {
    const { searchParams } = loadConformance();
    expect(searchParams.find('Task', 'due')).toMatchObject({ type: 'date', paths: ['restriction.period.end'] });
    expect(searchParams.find('Task', 'part-of')).toMatchObject({ type: 'reference', paths: ['partOf'], targets: ['Task'] });
    const rows = extractIndex(task, searchParams, BASE);
    expect(rows).toContainEqual(expect.objectContaining({ param: 'due', low: '2026-03-01T12:00:00.000Z' }));
    expect(rows).toContainEqual(expect.objectContaining({ param: 'part-of', value: 'Task/case-1' }));
  });

  it('when one registry is built with profiles, then another built from the base table alone does not change', () => {
    loadConformance();
    const base = SearchParameterRegistry.build();
    expect(base.find('Task', 'due')).toBeUndefined();
    expect(extractIndex(task, base, BASE).some((r) => r.param === 'due')).toBe(false);
    expect(() => parseSearch('Task', queryParams([['due', 'lt2026-04-01']]), { strict: true, baseUrl: BASE, searchParams: base })).toThrow(/Unknown search parameter 'due'/);
  });

  it('when a SearchParameter has an unsupported type, base or expression, then the registry is not built (the server does not start)', () => {
    expect(() => SearchParameterRegistry.build([{ code: 'x', base: ['Task'], type: 'quantity', expression: 'Task.x' }])).toThrow(/type quantity not supported/);
    expect(() => SearchParameterRegistry.build([{ code: 'x', base: ['Observation'], type: 'token', expression: 'Observation.code' }])).toThrow(/base Observation/);
    expect(() => SearchParameterRegistry.build([{ code: 'x', base: ['Task'], type: 'token', expression: 'Task.input.where(type.text = "a")' }])).toThrow(/not a simple path/);
  });
});
