/** Checking the plain-JSON ESO request: 400 with JSON paths, 422 for meaning. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jsonPath, parseEsoRequest } from '../../../src/domain/intake/parse-request.ts';
import { isOutcomeError, type OperationOutcomeError } from '../../../src/shared/outcomes.ts';

const full = () => JSON.parse(readFileSync(new URL('../../fixtures/eso-requests/full.json', import.meta.url), 'utf8'));

function refusal(body: unknown): OperationOutcomeError {
  try {
    parseEsoRequest(body);
  } catch (e) {
    if (isOutcomeError(e)) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('ESO request input', () => {
  it('when paths are built, then arrays read as [i] and the root as $', () => {
    expect(jsonPath(['questions', 0, 'text'])).toBe('questions[0].text');
    expect(jsonPath([])).toBe('$');
  });

  it('when several fields are wrong, then 400 lists each with its JSON path', () => {
    const body = full();
    body.child.nhsNumber = '12';
    body.questions = [];
    body.surprise = true;
    const e = refusal(body);
    expect(e.status).toBe(400);
    expect(e.outcome.issue.map((i) => i.expression![0])).toEqual(expect.arrayContaining(['child.nhsNumber', 'questions', '$']));
  });

  it('when the NHS number fails the check digit, then 422 at child.nhsNumber', () => {
    const body = full();
    body.child.nhsNumber = '9434765910';
    const e = refusal(body);
    expect([e.status, e.outcome.issue[0].expression]).toEqual([422, ['child.nhsNumber']]);
  });

  it('when consent names a parent who is not there, or has no parental responsibility, then 422', () => {
    const body = full();
    body.consent.givenBy = { parent: 5 };
    expect(refusal(body).status).toBe(422);
    body.consent.givenBy = { parent: 1 };
    body.parents[1].parentalResponsibility = false;
    expect(refusal(body).outcome.issue[0].expression).toEqual(['consent.givenBy.parent']);
  });

  it('when consent ends before it starts, then 422 at consent.until', () => {
    const body = full();
    body.consent.until = '2020-01-01T00:00:00Z';
    expect(refusal(body).outcome.issue[0].expression).toEqual(['consent.until']);
  });

  it('when the provider is the requester itself, then 422 at provider.organization', () => {
    const body = full();
    body.provider.organization = body.requester.organization;
    expect(refusal(body).outcome.issue[0].expression).toEqual(['provider.organization']);
  });

  it('when the full example is parsed, then defaults are filled and nothing is refused', () => {
    const body = full();
    delete body.urgency;
    expect(parseEsoRequest(body).urgency).toBe('routine');
  });
});
