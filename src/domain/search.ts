/**
 * Searches the ESO workflow makes. The parameters beyond the base table are defined in profiles/
 * only: `due` (SearchParameter-eso-due.json, rule 4: find overdue urgent Tasks) and Task `part-of`
 * (SearchParameter-task-part-of.json, R4's own, to find a case's transfer offers); every
 * repository holds them (fhir/conformance.ts builds the registry once at start).
 */
import type { Bundle, Task } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';

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
