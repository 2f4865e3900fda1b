/** Version headers and If-Match (rest/headers.ts). */
import type { Task } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { parseIfMatch, versionHeaders } from '../../../src/rest/headers.ts';
import type { FhirContext } from '../../../src/rest/types.ts';
import { isOutcomeError } from '../../../src/shared/outcomes.ts';

describe('versionHeaders', () => {
  it('when a version is stored, then ETag, Last-Modified and Location name that version', () => {
    const ctx = { baseUrl: 'https://eso.example' } as FhirContext;
    const h = versionHeaders(ctx, { resource: { resourceType: 'Task', id: 't1', status: 'requested', intent: 'order' } as Task, versionId: 3, lastUpdated: '2026-03-04T05:06:07.890Z' });
    expect(h).toEqual({
      ETag: 'W/"3"',
      'Last-Modified': 'Wed, 04 Mar 2026 05:06:07 GMT',
      Location: 'https://eso.example/fhir/Task/t1/_history/3',
    });
  });
});

describe('parseIfMatch', () => {
  it('when absent, then there is no expected version', () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
  });

  it('when a weak or strong ETag, then its version number', () => {
    expect(parseIfMatch('W/"3"')).toBe(3);
    expect(parseIfMatch('"12"')).toBe(12);
    expect(parseIfMatch('  W/"7"  ')).toBe(7);
  });

  it('when not an ETag of a version number, then 400 naming If-Match', () => {
    for (const v of ['3', 'W/3', 'W/"abc"', 'W/"-1"', '', '*', 'W/"1", W/"2"']) {
      let caught: unknown;
      try { parseIfMatch(v); } catch (e) { caught = e; }
      expect(isOutcomeError(caught) && caught.status, v).toBe(400);
      expect(isOutcomeError(caught) && caught.outcome.issue[0].expression).toEqual(['If-Match']);
    }
  });
});
