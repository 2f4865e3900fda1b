/** Temporary seam until the profile-driven validator lands. */
import type { Issue } from './fhir/validate.ts';
import type { ConformanceSource } from './rest/types.ts';
import { isSupportedType } from './fhir/search-params.ts';

export async function loadValidator(): Promise<{ validator: (r: unknown) => Issue[]; profiles: Record<string, string[]>; conformance?: ConformanceSource }> {
  return {
    validator: (r) => (r && typeof r === 'object' && isSupportedType(String((r as { resourceType?: string }).resourceType)) ? [] : [{ severity: 'error', code: 'not-supported', diagnostics: 'Unknown resourceType', expression: 'resourceType' }]),
    profiles: {},
  };
}
