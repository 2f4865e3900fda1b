/**
 * Validation of every write: base R4 structure (400) then the ESO profile (422), with a
 * FHIRPath expression on each issue. The checks are driven by the data in profiles/.
 */
import type { OperationOutcomeIssue, Resource } from 'fhir/r4.js';
import { issuesError } from '../shared/outcomes.ts';
import type { ValidationIssue } from './validation/index.ts';

export type Validator = (resource: unknown) => ValidationIssue[];

/** Throws 400 for base-R4 errors, 422 for profile errors; warnings pass. */
export function enforce(validator: Validator): (resource: Resource) => void {
  return (resource) => {
    const errors = validator(resource).filter((i) => i.severity === 'error');
    if (!errors.length) return;
    const status = errors.some((i) => i.source !== 'profile') ? 400 : 422;
    const issues: OperationOutcomeIssue[] = errors.slice(0, 50).map((i) => ({
      severity: 'error', code: i.code, diagnostics: i.diagnostics, expression: [i.expression],
    }));
    throw issuesError(status, issues);
  };
}
