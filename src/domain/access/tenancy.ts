/** Check 1 (read): tenancy. docs/DESIGN.md "Security model: Tenancy". */
import { TENANT_SCOPED } from '../../fhir/repository.ts';
import type { ReadCheck } from './types.ts';

export const tenancy: ReadCheck = {
  name: 'tenancy',
  rule: 'An organisation sees a case\'s resources only as a party to the case (requester or provider), or as the writer: what was granted to it.',
  // The storage form: the search itself joins the grants (no scan, and counts are right).
  scope: (query, actor) => (TENANT_SCOPED.has(query.type)
    ? { ...query, criteria: [...query.criteria, { kind: 'org', orgs: [actor.organization] }] }
    : query),
  canSee: (resource, ctx) => ctx.repo.isGranted(resource.resourceType, resource.id as string),
};
