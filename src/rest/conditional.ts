/**
 * Conditional interactions: a conditional read (If-None-Match / If-Modified-Since → 304) and a
 * conditional update (PUT {type}?search). https://hl7.org/fhir/R4/http.html#cread and #cond-update
 */
import type { Resource } from 'fhir/r4.js';
import { badRequest, preconditionFailed } from '../shared/outcomes.ts';
import type { StoredResource } from '../storage/types.ts';
import { parseIfMatch, versionHeaders } from './headers.ts';
import type { FhirContext, FhirRequest, FhirResponse } from './types.ts';

/**
 * True when the client's copy is current (RFC 9110 §13.1.2, §13.1.3): If-None-Match names the
 * version (weak comparison, or `*`); without it, If-Modified-Since is not before the last update.
 * `Cache-Control: no-cache` does not change this: it is about caches, not the origin server.
 */
export function notModified(req: Pick<FhirRequest, 'ifNoneMatch' | 'ifModifiedSince'>, stored: StoredResource): boolean {
  if (req.ifNoneMatch !== undefined) {
    const tags = req.ifNoneMatch.split(',').map((t) => t.trim().replace(/^W\//, ''));
    return tags.includes('*') || tags.includes(`"${stored.versionId}"`);
  }
  if (req.ifModifiedSince !== undefined) {
    const since = Date.parse(req.ifModifiedSince);
    // HTTP dates have whole seconds: compare at that precision.
    return !Number.isNaN(since) && Math.floor(Date.parse(stored.lastUpdated) / 1000) * 1000 <= since;
  }
  return false;
}

/** A read's answer: 304 with the validators when the client's copy is current, else 200. */
export function readResponse(ctx: FhirContext, req: FhirRequest, stored: StoredResource): FhirResponse {
  const headers = versionHeaders(ctx, stored);
  if (notModified(req, stored)) return { status: 304, headers: { ETag: headers.ETag, 'Last-Modified': headers['Last-Modified'] } };
  return { status: 200, resource: stored.resource, headers };
}

/** PUT {type}?search: no match creates (server id), one updates it, several are 412. */
export async function conditionalUpdate(ctx: FhirContext, req: FhirRequest, type: string, body: Resource): Promise<FhirResponse> {
  const criteria = Object.keys(req.query).filter((k) => !k.startsWith('_') || k === '_id' || k === '_lastUpdated');
  if (!criteria.length) throw badRequest('A conditional update needs search criteria: PUT /{type}?identifier=...', 'url');
  ctx.authorize?.('search', type);
  const ifMatch = parseIfMatch(req.ifMatch);
  // Parsed (and refused if malformed) before the lock; one writer per condition at a time, as for If-None-Exist.
  ctx.repo.searchParamsQuery(type, req.query);
  return ctx.repo.inTx(async (repo, tx) => {
    await tx.lock(`conditional-update:${type}:${JSON.stringify(Object.entries(req.query).sort())}`);
    const found = await repo.searchParams(type, req.query, 2);
    if (found.resources.length > 1) throw preconditionFailed(`The conditional update matched ${found.resources.length} resources`);
    if (!found.resources.length) {
      ctx.authorize?.('create', type);
      const { stored } = await repo.create(body);
      return { status: 201, resource: stored.resource, headers: versionHeaders(ctx, stored) };
    }
    const id = found.resources[0].resource.id as string;
    if (body.id !== undefined && body.id !== id) throw badRequest(`The resource id ${body.id} is not that of the resource the condition matched`, `${type}.id`);
    ctx.authorize?.('update', type);
    const stored = await repo.update({ ...body, id }, { ifMatch });
    return { status: 200, resource: stored.resource, headers: versionHeaders(ctx, stored) };
  });
}
