/**
 * Turns the plain-JSON ESO request into checked input: the zod schema (400, one issue per bad
 * field, `expression` = its JSON path) and the checks the schema cannot make (422): the NHS
 * number's check digit, who gave consent, consent dates.
 */
import type { OperationOutcomeIssue } from 'fhir/r4.js';
import type * as z from 'zod';
import { isValidNhsNumber } from '../../fhir/uk-core.ts';
import { issuesError, unprocessable } from '../../shared/outcomes.ts';
import { EsoRequestInput, type EsoRequestInputRaw } from '../eso-request-input.ts';

/** JSON path of a zod issue, e.g. `questions[0].text` (`$` for the whole body). */
export function jsonPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '$';
}

function toIssues(error: z.ZodError): OperationOutcomeIssue[] {
  return error.issues.slice(0, 50).map((i) => ({
    severity: 'error', code: 'invalid', diagnostics: `${jsonPath(i.path)}: ${i.message}`, expression: [jsonPath(i.path)],
  }));
}

/** Parses and checks an ESO request; throws 400 (shape) or 422 (meaning) OperationOutcomes. */
export function parseEsoRequest(raw: EsoRequestInputRaw | EsoRequestInput | unknown): EsoRequestInput {
  const parsed = EsoRequestInput.safeParse(raw);
  if (!parsed.success) throw issuesError(400, toIssues(parsed.error));
  const input = parsed.data;
  if (!isValidNhsNumber(input.child.nhsNumber)) {
    throw unprocessable(`${input.child.nhsNumber} is not a valid NHS number: its check digit is wrong`, 'child.nhsNumber');
  }
  const consent = input.consent;
  if (consent) {
    if ('parent' in consent.givenBy) {
      const parent = input.parents[consent.givenBy.parent];
      if (!parent) throw unprocessable(`consent.givenBy.parent is ${consent.givenBy.parent} but there are ${input.parents.length} parents`, 'consent.givenBy.parent');
      if (!parent.parentalResponsibility) {
        throw unprocessable('Consent to share records must come from a parent or carer with parental responsibility, or from the young person', 'consent.givenBy.parent');
      }
    }
    if (Date.parse(consent.until) <= Date.parse(consent.dateTime)) throw unprocessable('consent.until must be after consent.dateTime', 'consent.until');
  }
  if (input.provider.organization === input.requester.organization) {
    throw unprocessable('The second opinion must come from a separate Trust or Health Board, not the requesting organisation', 'provider.organization');
  }
  return input;
}
