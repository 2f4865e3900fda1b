/**
 * The FHIR router (after medplum's fhir-router): (request, context) -> response, knowing
 * nothing of HTTP. https://hl7.org/fhir/R4/http.html
 */
import type { Bundle, OperationOutcome, Parameters, Resource } from 'fhir/r4.js';
import { isSupportedType } from '../fhir/search-params.ts';
import { parseSubset, subsetResource } from '../fhir/subset.ts';
import { allOk, badRequest, isOutcomeError, methodNotAllowed, notFound, unsupportedMediaType } from '../shared/outcomes.ts';
import { processBundle } from './bundle.ts';
import { conditionalUpdate, readResponse } from './conditional.ts';
import { taskEverything } from './everything.ts';
import { parseIfMatch, versionHeaders } from './headers.ts';
import { applyFhirPathPatch, applyJsonPatch, JSON_PATCH } from './patch.ts';
import { search } from './search.ts';
import { fhirBase, type FhirContext, type FhirRequest, type FhirResponse } from './types.ts';

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;
const READ = ['GET', 'HEAD'];

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

/** The methods a path answers (the Allow header of a 405). */
export function allowedMethods(ctx: FhirContext, path: string[]): string[] {
  const [type, id, op] = path;
  if (path.length === 0) return ['POST'];
  if (type === 'metadata' || ctx.conformance?.types.includes(type)) return READ;
  if (path.length === 1) return [...READ, 'POST', 'PUT'];
  if (id === '_search' || id === '$validate' || op === '$validate') return ['POST'];
  if (path.length === 2) return [...READ, 'PUT', 'PATCH'];
  return READ; // _history, $everything
}

async function conformanceRoute(ctx: FhirContext, req: FhirRequest, method: string): Promise<FhirResponse> {
  const [type, id] = req.path;
  const src = ctx.conformance!;
  if (method !== 'GET') throw methodNotAllowed(`${type} is read-only here: it is defined by the files in profiles/`, READ);
  if (req.path.length > 2) throw notFound(`${type} has no history here: read ${type}/${id}`);
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

/** PATCH {type}/{id}: read as the caller, patch, then the same update as a PUT (rules, If-Match, audit). */
async function patch(ctx: FhirContext, req: FhirRequest, type: string, id: string): Promise<FhirResponse> {
  ctx.authorize?.('update', type);
  const ifMatch = parseIfMatch(req.ifMatch);
  const apply = req.contentType === JSON_PATCH ? applyJsonPatch
    : (req.body as Resource | undefined)?.resourceType === 'Parameters' ? applyFhirPathPatch : undefined;
  if (!apply) throw unsupportedMediaType(`PATCH takes ${JSON_PATCH} or a FHIRPath Patch Parameters resource (application/fhir+json)`);
  const stored = await ctx.repo.inTx(async (repo, tx) => {
    // The version patched is the version written: another writer queues behind this lock.
    await tx.lock(`resource:${type}/${id}`);
    const current = await repo.read(type, id);
    const next = apply(current.resource, req.body);
    if (next?.resourceType !== type || next.id !== id) throw badRequest('A patch may not change the resourceType or id', `${type}.id`);
    return repo.update(next, { ifMatch: ifMatch ?? current.versionId });
  });
  return { status: 200, resource: stored.resource, headers: versionHeaders(ctx, stored) };
}

/** POST {type}/$validate and {type}/{id}/$validate: the write's validation, answered as an OperationOutcome; nothing stored. */
function validateOp(ctx: FhirContext, req: FhirRequest, type: string, id?: string): FhirResponse {
  ctx.authorize?.(id ? 'update' : 'create', type);
  const body = req.body as Resource | undefined;
  const resource = body?.resourceType === 'Parameters' ? (body as Parameters).parameter?.find((p) => p.name === 'resource')?.resource : body;
  requireResource(resource, type, id);
  try {
    ctx.repo.opts.validate(resource as Resource);
  } catch (e) {
    if (!isOutcomeError(e)) throw e;
    return { status: 200, resource: e.outcome };
  }
  return { status: 200, resource: allOk(`${type} is valid`) as OperationOutcome };
}

export async function handleFhir(ctx: FhirContext, req: FhirRequest): Promise<FhirResponse> {
  const { path } = req;
  // HEAD is a GET without the body (RFC 9110 §9.3.2): the HTTP layer leaves the body out.
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const [type, id, op, vid] = path;
  const refuse = (why: string) => methodNotAllowed(why, allowedMethods(ctx, path));
  if (path.length === 0) {
    if (method !== 'POST') throw refuse('Only POST of a transaction or batch Bundle is supported at the base');
    return processBundle(ctx, req.body, req.strict ?? false, handleFhir);
  }
  if (type === 'metadata' && path.length === 1) {
    if (method !== 'GET') throw refuse('metadata is GET only');
    return { status: 200, resource: ctx.capabilities() };
  }
  checkType(ctx, type);
  if (ctx.conformance?.types.includes(type)) return conformanceRoute(ctx, req, method);
  if (method === 'DELETE') throw refuse('Clinical records are never deleted here: set status to entered-in-error instead');
  const subset = parseSubset(req.query);
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
    if (method === 'PUT') return conditionalUpdate(ctx, req, type, requireResource(req.body, type));
    throw refuse(`${method} is not allowed on /${type}`);
  }
  if (id === '_search' && path.length === 2) {
    if (method !== 'POST') throw refuse('_search is POST only');
    ctx.authorize?.('search', type);
    return { status: 200, resource: await search(ctx, type, req.query, req.strict ?? false) };
  }
  if (id === '$validate' && path.length === 2) {
    if (method !== 'POST') throw refuse('$validate is POST only');
    return validateOp(ctx, req, type);
  }
  checkId(id);
  if (path.length === 2) {
    if (method === 'GET') {
      ctx.authorize?.('read', type);
      const res = readResponse(ctx, req, await ctx.repo.read(type, id));
      return res.resource ? { ...res, resource: subsetResource(res.resource, subset) } : res;
    }
    if (method === 'PUT') {
      ctx.authorize?.('update', type);
      const stored = await ctx.repo.update(requireResource(req.body, type, id), {
        ifMatch: parseIfMatch(req.ifMatch),
        // Ids are the server's (updateCreate false); the same answer whether the id is unused or not the caller's to see.
        ifAbsent: () => methodNotAllowed(`${type}/${id} does not exist: this server assigns ids (POST /${type}) and does not create on PUT`, READ),
      });
      return { status: 200, resource: stored.resource, headers: versionHeaders(ctx, stored) };
    }
    if (method === 'PATCH') return patch(ctx, req, type, id);
    throw refuse(`${method} is not allowed on /${type}/${id}`);
  }
  const instanceOp = op?.startsWith('$') && path.length === 3 ? ctx.operations?.[`${type}/${op}`] : undefined;
  if (instanceOp) {
    if (method !== 'GET' && method !== 'POST') throw refuse(`${op} is GET or POST`);
    ctx.authorize?.('read', type);
    return { status: 200, resource: await instanceOp(id, req.query, ctx.repo) };
  }
  if (op === '$validate' && path.length === 3) {
    if (method !== 'POST') throw refuse('$validate is POST only');
    return validateOp(ctx, req, type, id);
  }
  if (op === '$everything' && path.length === 3 && type === 'Task') {
    if (method !== 'GET') throw refuse('$everything is GET only');
    return { status: 200, resource: await taskEverything(ctx, req, id) };
  }
  if (op === '_history' && path.length <= 4) {
    if (method !== 'GET') throw refuse('History is read-only');
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
    if (!/^\d{1,9}$/.test(vid)) throw notFound(`'${vid}' is not a version id`);
    ctx.authorize?.('vread', type);
    const res = readResponse(ctx, req, await ctx.repo.vread(type, id, Number(vid)));
    return res.resource ? { ...res, resource: subsetResource(res.resource, subset) } : res;
  }
  throw notFound(`Unknown path /fhir/${path.join('/')}`);
}
