/** Express adapter for the FHIR router at /fhir: HTTP in, FhirRequest to rest/, FHIR JSON out. */
import express, { type Request, type Response, type Router } from 'express';
import { handleFhir } from '../rest/router.ts';
import type { FhirContext, Interaction } from '../rest/types.ts';
import type { Bundle, Resource } from 'fhir/r4.js';
import { queryParams, type QueryParams } from '../fhir/search-parse.ts';
import { JSON_PATCH } from '../rest/patch.ts';
import { applyPrefer, requireJsonBody, responseType, sendResource } from './content.ts';

export function queryOf(req: Request): QueryParams {
  const qs = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
  return queryParams(new URLSearchParams(qs));
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);
/** A JSON Patch is a list of small operations: far below the limit of a whole resource. */
const PATCH_LIMIT = '256kb';

/** The FHIR interaction a request is, for audit (PATCH is an update; `$validate`, `$everything` are operations). */
export function interactionOf(method: string, path: string[]): Interaction | 'operation' {
  if (path.length === 0) return 'transaction';
  if (path[0] === 'metadata') return 'capabilities';
  if (path.some((s) => s.startsWith('$'))) return 'operation';
  if (path.length === 1) return method === 'POST' ? 'create' : method === 'PUT' ? 'update' : 'search';
  if (path[1] === '_search') return 'search';
  if (path.length === 2) return method === 'PUT' || method === 'PATCH' ? 'update' : 'read';
  return path.length === 3 ? 'history' : 'vread';
}

/** "Type/id" of what a response reveals or wrote (the resource, or a Bundle's entries). */
export function entitiesOf(resource: Resource | undefined): string[] {
  if (!resource) return [];
  if (resource.resourceType === 'Bundle') return ((resource as Bundle).entry ?? []).flatMap((e) => (e.resource?.id ? [`${e.resource.resourceType}/${e.resource.id}`] : []));
  return resource.id ? [`${resource.resourceType}/${resource.id}`] : [];
}

export function fhirRouter(contextFor: (req: Request, res: Response) => FhirContext): Router {
  const router = express.Router();
  // JSON Patch bodies (application/json-patch+json) are parsed here, for PATCH only; app.ts parses FHIR JSON.
  router.patch('/{*path}', express.json({ type: JSON_PATCH, limit: PATCH_LIMIT, strict: true }));
  router.all('/{*path}', async (req, res) => {
    responseType(req); // 406 early for XML
    const path = req.path.split('/').filter(Boolean).map(decodeURIComponent);
    const isSearchPost = req.method === 'POST' && path[path.length - 1] === '_search';
    if (WRITE_METHODS.has(req.method) && !isSearchPost) requireJsonBody(req, req.method === 'PATCH' ? [JSON_PATCH] : []);
    const query = queryOf(req);
    if (isSearchPost && req.body && typeof req.body === 'object') {
      for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) (query[k] ??= []).push(...(Array.isArray(v) ? v.map(String) : [String(v)]));
    }
    const prefer = String(req.headers.prefer ?? '');
    const header = (name: string) => (typeof req.headers[name] === 'string' ? req.headers[name] : undefined);
    const ctx = contextFor(req, res);
    const result = await handleFhir(ctx, {
      method: req.method,
      path,
      query,
      body: isSearchPost ? undefined : req.body,
      ifMatch: req.headers['if-match'],
      ifNoneExist: header('if-none-exist'),
      ifNoneMatch: header('if-none-match'),
      ifModifiedSince: header('if-modified-since'),
      contentType: (header('content-type') ?? '').split(';')[0].trim().toLowerCase() || undefined,
      strict: /handling=strict/.test(prefer),
    });
    await ctx.audit?.({ interaction: interactionOf(req.method, path), resourceType: path[0], id: path[1], status: result.status, entities: entitiesOf(result.resource) });
    const isWrite = WRITE_METHODS.has(req.method) && !isSearchPost && path.length > 0 && !path.some((s) => s.startsWith('$'));
    sendResource(req, res, result.status, isWrite ? applyPrefer(req, result.resource) : result.resource, result.headers);
  });
  return router;
}
