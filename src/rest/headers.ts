/** Version headers (ETag, Last-Modified, Location) and If-Match parsing. */
import { badRequest } from '../shared/outcomes.ts';
import type { StoredResource } from '../storage/types.ts';
import { fhirBase, type FhirContext } from './types.ts';

export function versionHeaders(ctx: FhirContext, stored: StoredResource): Record<string, string> {
  const { resourceType, id } = stored.resource;
  return {
    ETag: `W/"${stored.versionId}"`,
    'Last-Modified': new Date(stored.lastUpdated).toUTCString(),
    Location: `${fhirBase(ctx.baseUrl)}/${resourceType}/${id}/_history/${stored.versionId}`,
  };
}

/** If-Match: W/"3" -> 3. */
export function parseIfMatch(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(?:W\/)?"(\d+)"$/.exec(value.trim());
  if (!m) throw badRequest(`If-Match must be an ETag such as W/"3"`, 'If-Match');
  return Number(m[1]);
}

