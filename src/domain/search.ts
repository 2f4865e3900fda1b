/**
 * Search parameters the ESO workflow needs beyond the base table: `due` (profiles/
 * SearchParameter-eso-due.json, rule 4: find overdue urgent Tasks) and Task `part-of` (R4's own,
 * to find a case's transfer offers). Registered once at start, before anything is written, so
 * every Task is indexed by them.
 */
import type { Bundle, Task } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import { findSearchParam, registerSearchParameter } from '../fhir/search-params.ts';

/** The same definition as profiles/SearchParameter-eso-due.json (a test keeps them equal). */
export const DUE_SEARCH_PARAMETER = { code: 'due', base: ['Task'], type: 'date', expression: 'Task.restriction.period.end', description: 'When the ESO work is due (Task.restriction.period.end).' };
export const PART_OF_SEARCH_PARAMETER = { code: 'part-of', base: ['Task'], type: 'reference', expression: 'Task.partOf', target: ['Task'], description: 'Composite task' };

export function registerEsoSearchParameters(): void {
  for (const sp of [DUE_SEARCH_PARAMETER, PART_OF_SEARCH_PARAMETER]) {
    if (!findSearchParam('Task', sp.code)) registerSearchParameter(sp);
  }
}

/** Statuses in which an ESO is still awaited (rule 4: what "overdue" looks at). */
export const OPEN_STATUSES = ['requested', 'received', 'accepted', 'in-progress'] as const;

/**
 * Overdue ESO Tasks the repository's caller may see: due before `now` and still open
 * (the same as GET /fhir/Task?due=lt{now}&status=requested,received,accepted,in-progress).
 */
export async function overdueTasks(repo: Repository, now: Date = new Date(), count = 100): Promise<Bundle> {
  const result = await repo.searchParams('Task', { due: [`lt${now.toISOString()}`], status: [OPEN_STATUSES.join(',')] }, count);
  const tasks = result.resources.map((r) => r.resource as Task);
  const base = repo.opts.baseUrl;
  const bundle: Bundle = {
    resourceType: 'Bundle', type: 'searchset', total: tasks.length,
    link: [{ relation: 'self', url: `${base}/Task?due=lt${encodeURIComponent(now.toISOString())}&status=${OPEN_STATUSES.join(',')}` }],
    entry: tasks.map((t) => ({ fullUrl: `${base}/Task/${t.id}`, resource: t, search: { mode: 'match' } })),
  };
  if (!tasks.length) delete bundle.entry;
  return bundle;
}
