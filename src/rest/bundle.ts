/**
 * transaction and batch Bundles at the base. A transaction is all-or-nothing: every entry runs
 * in one database transaction, `urn:uuid:` references are rewritten to the ids assigned, and
 * any failure rolls everything back. https://hl7.org/fhir/R4/http.html#transaction
 */
import { newResourceId } from '../shared/resource-id.ts';
import type { Bundle, BundleEntry, Resource } from 'fhir/r4.js';
import { isSupportedType } from '../fhir/search-params.ts';
import { queryParams } from '../fhir/search-parse.ts';
import { badRequest, isOutcomeError, outcome } from '../shared/outcomes.ts';
import { versionHeaders } from './headers.ts';
import type { FhirContext, FhirRequest, FhirResponse } from './types.ts';

type Dispatch = (ctx: FhirContext, req: FhirRequest) => Promise<FhirResponse>;

const MAX_ENTRIES = 1000;

interface Parsed { method: string; path: string[]; query: Record<string, string[]>; ifMatch?: string; ifNoneExist?: string }

function parseEntry(e: BundleEntry, i: number): Parsed {
  const where = `Bundle.entry[${i}].request`;
  if (!e || typeof e !== 'object' || !e.request || typeof e.request.url !== 'string' || typeof e.request.method !== 'string') {
    throw badRequest(`Entry ${i} needs request.method and request.url`, where);
  }
  const [pathPart, qs] = e.request.url.replace(/^\/+/, '').split('?', 2);
  const query = queryParams(new URLSearchParams(qs ?? ''));
  return { method: e.request.method, path: pathPart.split('/').filter(Boolean), query, ifMatch: e.request.ifMatch, ifNoneExist: e.request.ifNoneExist };
}

type Container = Record<string, unknown> | unknown[];
const isContainer = (v: unknown): v is Container => v !== null && typeof v === 'object';
const emptyLike = (v: Container): Container => (Array.isArray(v) ? Array.from<unknown>({ length: v.length }) : {});

/**
 * A copy of `value` with every `reference: "urn:uuid:..."` replaced using `map`. Iterative (an
 * explicit stack), not recursive: an entry nested thousands of levels deep must reach
 * validation, which refuses it with 400, instead of overflowing the call stack here.
 */
function rewrite(value: unknown, map: Map<string, string>): unknown {
  if (!isContainer(value)) return value;
  const root = emptyLike(value);
  const stack: [Container, Container][] = [[value, root]];
  while (stack.length) {
    const [src, dst] = stack.pop()!;
    for (const [k, v] of Object.entries(src)) {
      let copy: unknown = v;
      if (k === 'reference' && !Array.isArray(src) && typeof v === 'string' && map.has(v)) copy = map.get(v);
      else if (isContainer(v)) stack.push([v, (copy = emptyLike(v)) as Container]);
      // defineProperty: a "__proto__" key from JSON stays a plain key (an assignment would set the prototype).
      Object.defineProperty(dst, k, { value: copy, enumerable: true, writable: true, configurable: true });
    }
  }
  return root;
}

function prefixExpressions(e: unknown, i: number): unknown {
  if (!isOutcomeError(e)) return e;
  for (const issue of e.outcome.issue) {
    issue.expression = issue.expression?.map((x) => `Bundle.entry[${i}].resource${x.includes('.') ? x.slice(x.indexOf('.')) : ''}`);
    issue.diagnostics = `Entry ${i}: ${issue.diagnostics}`;
  }
  return e;
}

function entryResponse(res: FhirResponse): BundleEntry {
  const h = res.headers ?? {};
  const entry: BundleEntry = { response: { status: String(res.status), location: h.Location, etag: h.ETag,
    lastModified: h['Last-Modified'] ? new Date(h['Last-Modified']).toISOString() : undefined } };
  if (res.resource) entry.resource = res.resource;
  for (const k of ['location', 'etag', 'lastModified'] as const) if (entry.response![k] === undefined) delete entry.response![k];
  return entry;
}

export async function processBundle(ctx: FhirContext, body: unknown, strict: boolean, handleFhir: Dispatch): Promise<FhirResponse> {
  const bundle = body as Bundle;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle') throw badRequest('POST at the base takes a Bundle', 'Bundle');
  if (bundle.type !== 'transaction' && bundle.type !== 'batch') throw badRequest('Bundle.type must be transaction or batch', 'Bundle.type');
  const entries = bundle.entry ?? [];
  if (!Array.isArray(entries) || entries.length > MAX_ENTRIES) throw badRequest(`A Bundle may hold at most ${MAX_ENTRIES} entries`, 'Bundle.entry');
  ctx.authorize?.(bundle.type, 'Bundle');
  if (bundle.type === 'batch') {
    const out: BundleEntry[] = [];
    for (const [i, e] of entries.entries()) {
      try {
        const p = parseEntry(e, i);
        if (p.path.length === 0) throw badRequest('A batch entry cannot be a nested Bundle', `Bundle.entry[${i}].request.url`);
        out.push(entryResponse(await handleFhir(ctx, { ...p, body: e.resource, strict })));
      } catch (err) {
        const status = isOutcomeError(err) ? err.status : 500;
        const oo = isOutcomeError(err) ? err.outcome : outcome('exception', 'Internal error');
        out.push({ response: { status: String(status), outcome: oo } });
      }
    }
    return { status: 200, resource: { resourceType: 'Bundle', type: 'batch-response', entry: out } as Bundle };
  }

  const parsed = entries.map(parseEntry);
  // Each urn:uuid fullUrl gets its new id before anything is written, so references resolve.
  const ids = new Map<number, string>();
  const map = new Map<string, string>();
  parsed.forEach((p, i) => {
    const e = entries[i];
    if (p.method === 'POST') {
      const type = p.path[0];
      if (!isSupportedType(type) || p.path.length !== 1) throw badRequest(`Entry ${i}: POST must name a resource type`, `Bundle.entry[${i}].request.url`);
      const id = newResourceId();
      ids.set(i, id);
      if (e.fullUrl?.startsWith('urn:uuid:')) map.set(e.fullUrl, `${type}/${id}`);
    }
  });
  // Processing order per the spec: POST, then PUT, then GET (DELETE is refused in handleFhir).
  const rank = (m: string) => ({ DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3 } as Record<string, number>)[m] ?? 4;
  const order = parsed.map((_, i) => i).sort((a, b) => rank(parsed[a].method) - rank(parsed[b].method));
  const responses = await ctx.repo.inTx(async (repo) => {
    const txCtx: FhirContext = { ...ctx, repo };
    const results = new Map<number, FhirResponse>();
    for (const i of order) {
      const p = parsed[i];
      try {
        const resource = entries[i].resource ? (rewrite(entries[i].resource, map) as Resource) : undefined;
        if (p.method === 'POST') {
          ctx.authorize?.('create', p.path[0]);
          if (!resource || resource.resourceType !== p.path[0]) throw badRequest(`Entry ${i}: resource must be a ${p.path[0]}`, `Bundle.entry[${i}].resource`);
          const { stored, created } = await repo.create(resource, { ifNoneExist: p.ifNoneExist, assignedId: ids.get(i) });
          // Conditional create that matched: later entries point at the existing resource.
          if (!created && entries[i].fullUrl) map.set(entries[i].fullUrl!, `${p.path[0]}/${stored.resource.id}`);
          results.set(i, { status: created ? 201 : 200, resource: stored.resource, headers: versionHeaders(txCtx, stored) });
        } else {
          if (p.path.length === 0) throw badRequest('A transaction entry cannot be a nested Bundle', `Bundle.entry[${i}].request.url`);
          results.set(i, await handleFhir(txCtx, { ...p, body: resource, strict }));
        }
      } catch (err) {
        throw prefixExpressions(err, i);
      }
    }
    return results;
  });
  return { status: 200, resource: { resourceType: 'Bundle', type: 'transaction-response', entry: entries.map((_, i) => entryResponse(responses.get(i)!)) } as Bundle };
}
