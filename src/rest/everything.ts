/**
 * GET /fhir/Task/{id}/$everything: a case in one call, for an integration engine. The Task, its
 * ServiceRequest, Patient and RelatedPersons, Consents, shared records, reports, sub-Tasks (transfer
 * offers) and Provenance: each found by a search or read as the caller (the case-access chain
 * decides what is there), types outside the token's scopes left out, then paged.
 * After Patient/$everything: https://hl7.org/fhir/R4/patient-operation-everything.html
 */
import type { Bundle, BundleLink, Resource, Task } from 'fhir/r4.js';
import { referenceKey } from '../fhir/search-params.ts';
import { badRequest } from '../shared/outcomes.ts';
import type { SearchQuery } from '../storage/types.ts';
import { fhirBase, type FhirContext, type FhirRequest } from './types.ts';

const PER_SEARCH = 500;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

/** A whole number from the query, within bounds. */
function intParam(req: FhirRequest, name: string, dflt: number, max: number): number {
  const raw = req.query[name]?.[0];
  if (raw === undefined) return dflt;
  if (!/^\d{1,7}$/.test(raw) || Number(raw) > max) throw badRequest(`${name} must be a whole number up to ${max}`, name);
  return Number(raw);
}

/** The case of Task `id`, as the caller may see it. */
export async function taskEverything(ctx: FhirContext, req: FhirRequest, id: string): Promise<Bundle> {
  const count = intParam(req, '_count', DEFAULT_PAGE, MAX_PAGE);
  const offset = intParam(req, '_offset', 0, 1_000_000);
  const base = fhirBase(ctx.baseUrl);
  ctx.authorize?.('read', 'Task');
  const task = (await ctx.repo.read<Task>('Task', id)).resource;
  const may = (type: string): boolean => {
    try {
      ctx.authorize?.('search', type);
      return true;
    } catch {
      return false; // the token does not cover this type: left out, as a search would be refused
    }
  };
  const found = new Map<string, Resource>([[`Task/${id}`, task]]);
  const add = (r: Resource) => { if (!found.has(`${r.resourceType}/${r.id}`)) found.set(`${r.resourceType}/${r.id}`, r); };
  const search = async (type: string, param: string, values: string[]) => {
    if (!values.length || !may(type)) return;
    const q: SearchQuery = { type: type as SearchQuery['type'], criteria: [{ kind: 'reference', param, values }], count: PER_SEARCH, offset: 0, total: 'none' };
    for (const r of (await ctx.repo.search(q)).resources) add(r.resource);
  };
  const keys = (refs: ({ reference?: string } | undefined)[], type: string) =>
    refs.map((r) => (r?.reference ? referenceKey(r.reference, base) : undefined)).filter((k): k is string => !!k && k.startsWith(`${type}/`));

  const read = async (key: string) => {
    const [type, rid] = key.split('/');
    try {
      ctx.authorize?.('read', type);
      add((await ctx.repo.read(type, rid)).resource);
    } catch {
      // Out of scope, not visible to the caller, or not there: left out, as tenancy requires.
    }
  };

  const requests = [...new Set([...keys(task.focus ? [task.focus] : [], 'ServiceRequest'), ...keys(task.basedOn ?? [], 'ServiceRequest')])];
  for (const k of requests) await read(k);
  const patients = keys(task.for ? [task.for] : [], 'Patient');
  for (const k of patients) await read(k);
  await search('RelatedPerson', 'patient', patients);
  await search('Consent', 'patient', patients);
  await search('DocumentReference', 'related', requests);
  await search('DocumentReference', 'patient', patients);
  await search('DiagnosticReport', 'based-on', requests);
  await search('Task', 'part-of', [`Task/${id}`]);
  const targets = [...found.keys()].filter((k) => /^(Task|ServiceRequest|Consent|DiagnosticReport|DocumentReference)\//.test(k));
  await search('Provenance', 'target', targets);
  return page(base, id, [...found.values()], count, offset);
}

/** One page of the case, with self/next/previous links (the Task itself is the match). */
function page(base: string, id: string, all: Resource[], count: number, offset: number): Bundle {
  const self = (o: number) => `${base}/Task/${id}/$everything?_count=${count}${o ? `&_offset=${o}` : ''}`;
  const links: BundleLink[] = [{ relation: 'self', url: self(offset) }];
  if (count > 0 && offset + count < all.length) links.push({ relation: 'next', url: self(offset + count) });
  if (count > 0 && offset > 0) links.push({ relation: 'previous', url: self(Math.max(0, offset - count)) });
  const slice = all.slice(offset, offset + count);
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: all.length, link: links,
    entry: slice.map((r, i) => ({ fullUrl: `${base}/${r.resourceType}/${r.id}`, resource: r, search: { mode: offset + i === 0 ? 'match' : 'include' } })) };
  if (!slice.length) delete bundle.entry;
  return bundle;
}
