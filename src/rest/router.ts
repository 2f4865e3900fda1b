/**
 * The FHIR router (after medplum's fhir-router): (request, context) -> response, knowing
 * nothing of HTTP. https://hl7.org/fhir/R4/http.html
 */
import type { Bundle, Resource } from 'fhir/r4.js';
import { isSupportedType } from '../fhir/search-params.ts';
import { badRequest, methodNotAllowed, notFound } from '../shared/outcomes.ts';
import { processBundle } from './bundle.ts';
import { parseIfMatch, versionHeaders } from './headers.ts';
import { search } from './search.ts';
import { fhirBase, type FhirContext, type FhirRequest, type FhirResponse } from './types.ts';

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

function requireResource(body: unknown, type: string, id?: string): Resource {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a FHIR resource (a JSON object)');
  const r = body as Resource;
  if (r.resourceType !== type) throw badRequest(`resourceType must be ${type}`, 'resourceType');
  if (id !== undefined && r.id !== id) throw badRequest(`The resource id must be ${id} (the id in the URL)`, `${type}.id`);
  return r;
}

function checkType(ctx: FhirContext, type: string): void {
  if (!isSupportedType(type) && !ctx.conformance?.types.includes(type)) throw notFound(`Resource type '${type}' is not supported`);
}

function checkId(id: string): void {
  if (!ID_RE.test(id)) throw notFound(`'${id}' is not a valid id`);
}

async function conformanceRoute(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  const [type, id] = req.path;
  const src = ctx.conformance!;
  if (req.method !== 'GET') throw methodNotAllowed(`${type} is read-only here: it is defined by the files in profiles/`);
  if (id) {
    const r = src.read(type, id);
    if (!r) throw notFound(`${type}/${id} is not known`);
    return { status: 200, resource: r };
  }
  const all = src.list(type).filter((r) => !req.query.url || req.query.url.includes((r as { url?: string }).url ?? ''));
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: all.length, link: [{ relation: 'self', url: `${fhirBase(ctx.baseUrl)}/${type}` }],
    entry: all.map((r) => ({ fullUrl: `${fhirBase(ctx.baseUrl)}/${type}/${r.id}`, resource: r, search: { mode: 'match' } })) };
  if (!all.length) delete bundle.entry;
  return { status: 200, resource: bundle };
}

export async function handleFhir(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  const { method, path } = req;
  const [type, id, op, vid] = path;
  if (path.length === 0) {
    if (method !== 'POST') throw methodNotAllowed('Only POST of a transaction or batch Bundle is supported at the base');
    return processBundle(ctx, req.body, req.strict ?? false, handleFhir);
  }
  if (type === 'metadata' && path.length === 1) {
    if (method !== 'GET') throw methodNotAllowed('metadata is GET only');
    return { status: 200, resource: ctx.capabilities() };
  }
  checkType(ctx, type);
  if (ctx.conformance?.types.includes(type)) return conformanceRoute(ctx, req);
  if (method === 'DELETE') throw methodNotAllowed('Clinical records are never deleted here: set status to entered-in-error instead');
  if (method === 'PATCH') throw methodNotAllowed('PATCH is not supported: use PUT with If-Match');
  if (path.length === 1) {
    if (method === 'GET') {
      ctx.authorize?.('search', type);
      return { status: 200, resource: await search(ctx, type, req.query, req.strict ?? false) };
    }
    if (method === 'POST') {
      ctx.authorize?.('create', type);
      const { stored, created } = await ctx.repo.create(requireResource(req.body, type), { ifNoneExist: req.ifNoneExist });
      return { status: created ? 201 : 200, resource: stored.resource, headers: versionHeaders(ctx, stored) };
    }
    throw methodNotAllowed(`${method} is not allowed on /${type}`);
  }
  if (id === '_search' && path.length === 2) {
    if (method !== 'POST') throw methodNotAllowed('_search is POST only');
    ctx.authorize?.('search', type);
    return { status: 200, resource: await search(ctx, type, req.query, req.strict ?? false) };
  }
  checkId(id);
  if (path.length === 2) {
    if (method === 'GET') {
      ctx.authorize?.('read', type);
      const stored = await ctx.repo.read(type, id);
      return { status: 200, resource: stored.resource, headers: versionHeaders(ctx, stored) };
    }
    if (method === 'PUT') {
      ctx.authorize?.('update', type);
      const stored = await ctx.repo.update(requireResource(req.body, type, id), { ifMatch: parseIfMatch(req.ifMatch) });
      return { status: 200, resource: stored.resource, headers: versionHeaders(ctx, stored) };
    }
    throw methodNotAllowed(`${method} is not allowed on /${type}/${id}`);
  }
  if (op === '_history' && method === 'GET') {
    if (path.length === 3) {
      ctx.authorize?.('history', type);
      const versions = await ctx.repo.history(type, id);
      const base = fhirBase(ctx.baseUrl);
      const bundle: Bundle = { resourceType: 'Bundle', type: 'history', total: versions.length, link: [{ relation: 'self', url: `${base}/${type}/${id}/_history` }],
        entry: versions.map((v) => ({ fullUrl: `${base}/${type}/${id}`, resource: v.resource,
          request: { method: v.versionId === 1 ? 'POST' : 'PUT', url: v.versionId === 1 ? type : `${type}/${id}` },
          response: { status: v.versionId === 1 ? '201' : '200', etag: `W/"${v.versionId}"`, lastModified: v.lastUpdated } })) };
      return { status: 200, resource: bundle };
    }
    if (path.length === 4) {
      if (!/^\d{1,9}$/.test(vid)) throw notFound(`'${vid}' is not a version id`);
      ctx.authorize?.('vread', type);
      const stored = await ctx.repo.vread(type, id, Number(vid));
      return { status: 200, resource: stored.resource, headers: versionHeaders(ctx, stored) };
    }
  }
  throw notFound(`Unknown path /fhir/${path.join('/')}`);
}
