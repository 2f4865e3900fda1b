/**
 * The validator's one output shape: plain data the HTTP layer turns into an OperationOutcome
 * (base issues -> 400, profile issues -> 422). Codes are FHIR IssueType codes
 * (https://hl7.org/fhir/R4/valueset-issue-type.html).
 */
export type IssueCode =
  | 'structure'
  | 'required'
  | 'value'
  | 'invariant'
  | 'code-invalid'
  | 'not-supported'
  | 'business-rule';

export interface ValidationIssue {
  severity: 'error' | 'warning';
  code: IssueCode;
  diagnostics: string;
  /** FHIRPath to the offending element, rooted at the resourceType, e.g. `Task.input[1].type`. */
  expression: string;
  /** `base`: not valid FHIR R4 (HTTP 400). `profile`: valid R4 but breaks an ESO profile (HTTP 422). */
  source: 'base' | 'profile';
}

/** Hostile input could otherwise yield millions of issues; past this many we stop collecting. */
export const MAX_ISSUES = 500;

/** Collects issues for one validation run, capping their number. */
export class IssueList {
  readonly issues: ValidationIssue[] = [];
  private capped = false;

  constructor(private readonly source: ValidationIssue['source']) {}

  get full(): boolean {
    return this.capped;
  }

  error(code: IssueCode, expression: string, diagnostics: string): void {
    this.add('error', code, expression, diagnostics);
  }

  warning(code: IssueCode, expression: string, diagnostics: string): void {
    this.add('warning', code, expression, diagnostics);
  }

  private add(severity: ValidationIssue['severity'], code: IssueCode, expression: string, diagnostics: string): void {
    if (this.capped) return;
    if (this.issues.length >= MAX_ISSUES) {
      this.capped = true;
      this.issues.push({
        severity: 'error',
        code: 'structure',
        expression,
        diagnostics: `Too many issues: stopped after ${MAX_ISSUES}`,
        source: this.source,
      });
      return;
    }
    this.issues.push({ severity, code, diagnostics, expression, source: this.source });
  }
}

/** True for a JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Keys that could reach Object.prototype if followed: never treated as FHIR elements. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Own property read that never walks the prototype chain (`obj.constructor` would). */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
}

/** Quotes a key for a diagnostics message without letting control characters through. */
export function quote(key: string): string {
  return JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}...` : key);
}
