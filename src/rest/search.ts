/** Search interaction: parse, query, `_include`/`_revinclude`, and the searchset Bundle with paging links. */
import type { Bundle, BundleEntry, BundleLink, Resource } from 'fhir/r4.js';
import { referenceKey } from '../fhir/search-params.ts';
import { parseSearch, type QueryParams } from '../fhir/search-parse.ts';
import type { StoredResource } from '../storage/types.ts';
import { valuesAt } from '../fhir/paths.ts';
import { fhirBase, type FhirContext } from './types.ts';

const MAX_INCLUDES = 1000;

function link(base: string, type: string, used: [string, string][], offset?: number): string {
  const params = new URLSearchParams(used.filter(([k]) => k !== '_offset'));
  if (offset !== undefined && offset > 0) params.set('_offset', String(offset));
  const qs = params.toString();
  return `${base}/${type}${qs ? `?${qs}` : ''}`;
}

async function includes(ctx: FhirContext, matches: StoredResource[], spec: [string, string][]): Promise<Resource[]> {
  // "Type/id" -> whether its read scope is still to check (a parameter without declared targets).
  const keys = new Map<string, boolean>();
  for (const [type, param] of spec) {
    const def = ctx.repo.opts.searchParams.find(type, param);
    if (!def) continue;
    for (const m of matches) {
      for (const path of def.paths) {
        for (const v of valuesAt(m.resource, path)) {
          const ref = (v as { reference?: string }).reference;
          const key = ref ? referenceKey(ref, fhirBase(ctx.baseUrl)) : undefined;
          if (!key) continue;
          // Declared targets had their read scope checked before the search; other types are not included.
          if (!def.targets) keys.set(key, true);
          else if (def.targets.includes(key.split('/')[0])) keys.set(key, keys.get(key) ?? false);
        }
      }
    }
  }
  const out: Resource[] = [];
  for (const [key, check] of [...keys].slice(0, MAX_INCLUDES)) {
    const [type, id] = key.split('/');
    if (check) ctx.authorize?.('read', type);
    try {
      out.push((await ctx.repo.read(type, id)).resource);
    } catch {
      // Not visible to the caller or not there: silently absent, as tenancy requires.
    }
  }
  return out;
}

async function revIncludes(ctx: FhirContext, matches: StoredResource[], spec: [string, string][]): Promise<Resource[]> {
  const out: Resource[] = [];
  if (!matches.length) return out;
  for (const [type, param] of spec) {
    const refs = matches.map((m) => `${m.resource.resourceType}/${m.resource.id}`);
    const result = await ctx.repo.search({ type: type as never, criteria: [{ kind: 'reference', param, values: refs }], count: MAX_INCLUDES, offset: 0, total: 'none' });
    out.push(...result.resources.map((r) => r.resource));
  }
  return out;
}

/** GET /fhir/{type}?... and POST /fhir/{type}/_search. */
export async function search(ctx: FhirContext, type: string, query: QueryParams, strict: boolean): Promise<Bundle> {
  const base = fhirBase(ctx.baseUrl);
  const parsed = parseSearch(type, query, { strict, baseUrl: base, searchParams: ctx.repo.opts.searchParams });
  // Scope of every type an _include may return or a _revinclude searches, before anything is read (403 whatever the data).
  for (const [src, param] of parsed.includes) for (const t of ctx.repo.opts.searchParams.find(src, param)?.targets ?? []) ctx.authorize?.('read', t);
  for (const [src] of parsed.revIncludes) ctx.authorize?.('search', src);
  const result = await ctx.repo.search(parsed.query);
  const included = [...(await includes(ctx, result.resources, parsed.includes)), ...(await revIncludes(ctx, result.resources, parsed.revIncludes))];
  const { offset, count } = parsed.query;
  const links: BundleLink[] = [{ relation: 'self', url: link(base, type, parsed.used, offset) }];
  if (result.hasMore) links.push({ relation: 'next', url: link(base, type, parsed.used, offset + count) });
  if (offset > 0) links.push({ relation: 'previous', url: link(base, type, parsed.used, Math.max(0, offset - count)) });
  const seen = new Set(result.resources.map((r) => `${r.resource.resourceType}/${r.resource.id}`));
  const entry: BundleEntry[] = result.resources.map((r) => ({ fullUrl: `${base}/${type}/${r.resource.id}`, resource: r.resource, search: { mode: 'match' } }));
  for (const r of included) {
    const key = `${r.resourceType}/${r.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    entry.push({ fullUrl: `${base}/${key}`, resource: r, search: { mode: 'include' } });
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', link: links, entry };
  if (result.total !== undefined) bundle.total = result.total;
  if (!entry.length) delete bundle.entry;
  return bundle;
}
