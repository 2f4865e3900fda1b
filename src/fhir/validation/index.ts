/**
 * FHIR R4 validation for eso-bridge: base R4 structure (from profiles/r4-base/elements.json),
 * then the ESO profile for the types that exist here only for ESO.
 * Issues are plain data; the caller maps `source: 'base'` to HTTP 400 and `'profile'` to 422.
 */
import { isObject, own, type ValidationIssue } from './issues.ts';
import type { ConformanceRegistry } from './registry.ts';
import { validateBase } from './validate-base.ts';
import { validateProfile } from './validate-profile.ts';

export type { IssueCode, ValidationIssue } from './issues.ts';
export type { BaseTable, ElementDef } from './base-table.ts';
export { defaultBaseTable, loadBaseTable } from './base-table.ts';
export { MAX_ARRAY, MAX_DEPTH, validateBase } from './validate-base.ts';
export { type Terminology, validateProfile } from './validate-profile.ts';
export { type ConformanceRegistry, type ConformanceResource, DEFAULT_PROFILES_DIR, loadProfiles } from './registry.ts';

/** Resources inside a Bundle that get their ESO profile checked too (a transaction carries the whole case). */
function profileTargets(resource: unknown): { resource: Record<string, unknown>; expr: string }[] {
  if (!isObject(resource)) return [];
  const targets = [{ resource, expr: String(own(resource, 'resourceType')) }];
  const entries = resource.resourceType === 'Bundle' ? own(resource, 'entry') : undefined;
  if (Array.isArray(entries)) {
    entries.forEach((entry: unknown, i) => {
      const inner = isObject(entry) ? own(entry, 'resource') : undefined;
      if (isObject(inner)) targets.push({ resource: inner, expr: `Bundle.entry[${i}].resource` });
    });
  }
  return targets;
}

/**
 * Validates a resource: base R4 first; only if that has no errors, the ESO profile of each
 * ServiceRequest, Task, Consent and DiagnosticReport (the resource itself, or Bundle entries),
 * whether or not it claims the profile in meta.profile.
 */
export function validateResource(resource: unknown, registry: ConformanceRegistry): ValidationIssue[] {
  const base = validateBase(resource, registry.base);
  if (base.some((i) => i.severity === 'error')) return base;
  const issues = [...base];
  for (const target of profileTargets(resource)) {
    const profile = registry.profileFor(String(target.resource.resourceType));
    if (profile) issues.push(...validateProfile(target.resource, profile, registry, target.expr));
  }
  return issues;
}
