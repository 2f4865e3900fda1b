/**
 * Search interaction: parse, query, `_include`/`_revinclude` (with `:iterate`), `_summary`/`_elements`,
 * and the searchset Bundle with paging links. https://hl7.org/fhir/R4/search.html
 */
import type { Bundle, BundleEntry, BundleLink, Resource } from 'fhir/r4.js';
import { valuesAt } from '../fhir/paths.ts';
import { parseSearch, type IncludeSpec, type QueryParams } from '../fhir/search-parse.ts';
import { referenceKey } from '../fhir/search-params.ts';
import { parseSubset, subsetResource } from '../fhir/subset.ts';
import { fhirBase, type FhirContext } from './types.ts';

const MAX_INCLUDES = 1000;
/** Rounds of `:iterate` after the first: Task → ServiceRequest → Patient → RelatedPerson needs three. */
const MAX_ITERATIONS = 4;

const keyOf = (r: Resource) => `${r.resourceType}/${r.id}`;

function link(base: string, type: string, used: [string, string][], offset?: number): string {
  const params = new URLSearchParams(used.filter(([k]) => k !== '_offset'));
  if (offset !== undefined && offset > 0) params.set('_offset', String(offset));
  const qs = params.toString();
  return `${base}/${type}${qs ? `?${qs}` : ''}`;
}

/** What `from` references through the `_include` specs, read as the caller (the case-access chain decides). */
async function includes(ctx: FhirContext, from: Resource[], spec: IncludeSpec[]): Promise<Resource[]> {
  // "Type/id" -> whether its read scope is still to check (a parameter without declared targets).
  const keys = new Map<string, boolean>();
  for (const [type, param] of spec) {
    const def = ctx.repo.opts.searchParams.find(type, param);
    if (!def) continue;
    for (const m of from) {
      if (m.resourceType !== type) continue;
      for (const path of def.paths) {
        for (const v of valuesAt(m, path)) {
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

/** What references `to` through the `_revinclude` specs: a search as the caller (the chain applies). */
async function revIncludes(ctx: FhirContext, to: Resource[], spec: IncludeSpec[]): Promise<Resource[]> {
  const out: Resource[] = [];
  for (const [type, param] of spec) {
    const targets = ctx.repo.opts.searchParams.find(type, param)?.targets;
    const refs = to.filter((r) => !targets || targets.includes(r.resourceType)).map(keyOf).slice(0, MAX_INCLUDES);
    if (!refs.length) continue;
    const result = await ctx.repo.search({ type: type as never, criteria: [{ kind: 'reference', param, values: refs }], count: MAX_INCLUDES, offset: 0, total: 'none' });
    out.push(...result.resources.map((r) => r.resource));
  }
  return out;
}

/**
 * The resources the include specs add to `matches`: first from the matches, then (`:iterate`)
 * from what each round added, until nothing new comes or the limits are reached.
 */
export async function included(ctx: FhirContext, matches: Resource[], inc: IncludeSpec[], rev: IncludeSpec[]): Promise<Resource[]> {
  const seen = new Set(matches.map(keyOf));
  const out: Resource[] = [];
  let batch = matches;
  for (let round = 0; batch.length && round <= MAX_ITERATIONS && out.length < MAX_INCLUDES; round++) {
    const i = inc.filter(([, , iterate]) => round === 0 || iterate);
    const r = rev.filter(([, , iterate]) => round === 0 || iterate);
    if (!i.length && !r.length) break;
    const found = [...(await includes(ctx, batch, i)), ...(await revIncludes(ctx, batch, r))];
    batch = [];
    for (const f of found) {
      if (seen.has(keyOf(f))) continue;
      seen.add(keyOf(f));
      batch.push(f);
      out.push(f);
    }
  }
  return out.slice(0, MAX_INCLUDES);
}

/** GET /fhir/{type}?... and POST /fhir/{type}/_search. */
export async function search(ctx: FhirContext, type: string, query: QueryParams, strict: boolean): Promise<Bundle> {
  const base = fhirBase(ctx.baseUrl);
  const parsed = parseSearch(type, query, { strict, baseUrl: base, searchParams: ctx.repo.opts.searchParams });
  const subset = parseSubset(query);
  // Scope of every type an _include may return or a _revinclude searches, before anything is read (403 whatever the data).
  for (const [src, param] of parsed.includes) for (const t of ctx.repo.opts.searchParams.find(src, param)?.targets ?? []) ctx.authorize?.('read', t);
  for (const [src] of parsed.revIncludes) ctx.authorize?.('search', src);
  const result = await ctx.repo.search(parsed.query);
  const matches = result.resources.map((r) => r.resource);
  const extra = await included(ctx, matches, parsed.includes, parsed.revIncludes);
  const { offset, count } = parsed.query;
  const links: BundleLink[] = [{ relation: 'self', url: link(base, type, parsed.used, offset) }];
  // No next page when none was asked for (_count=0, _summary=count): a client following it would loop.
  if (result.hasMore && count > 0) links.push({ relation: 'next', url: link(base, type, parsed.used, offset + count) });
  if (offset > 0 && count > 0) links.push({ relation: 'previous', url: link(base, type, parsed.used, Math.max(0, offset - count)) });
  const entry: BundleEntry[] = matches.map((r) => ({ fullUrl: `${base}/${type}/${r.id}`, resource: subsetResource(r, subset), search: { mode: 'match' } }));
  for (const r of extra) entry.push({ fullUrl: `${base}/${keyOf(r)}`, resource: subsetResource(r, subset), search: { mode: 'include' } });
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', link: links, entry };
  if (result.total !== undefined) bundle.total = result.total;
  if (!entry.length) delete bundle.entry;
  return bundle;
}
