/**
 * The family's page: GET /family?link=<capability> asks for the child's date of birth; POST /family checks it (a miss is
 * counted; after MAX_MISSES the link locks for LOCK_MINUTES) and shows the case as the treating Trust sees it,
 * in plain words. Each view and each miss leaves an AuditEvent. An unknown, expired or revoked link all get the same page.
 * The capability travels in the query and then in the form body, never in the path: request logs and metrics
 * keep paths only, so it is never written down (and Referrer-Policy: no-referrer keeps it from other sites).
 */
import type { Express, Request, Response } from 'express';
import type { Caller } from '../shared/call-context.ts';
import { caseDetail } from './case-view.ts';
import { LOCK_MINUTES, MAX_MISSES, type FamilyLink, type FamilyLinks } from './family-links.ts';
import { field, handle, requestIdOf, sendPage } from './http-common.ts';
import { familyCasePage, familyClosedPage, familyDobPage, familyLockedPage } from './pages/family.ts';
import type { AppDeps } from './routes.ts';

export function familyRoutes(app: Express, deps: AppDeps, links: FamilyLinks): void {
  const principal = (l: FamilyLink): Caller => ({ clientId: 'family-link', organization: l.organization, scopes: [] });
  const audit = (res: Response, l: FamilyLink | undefined, detail: string, status: number) => deps.audit({ interaction: 'operation', status, detail,
    ...(l ? { principal: principal(l), entities: [`Task/${l.taskId}`] } : {}), requestId: requestIdOf(res) });
  const capabilityOf = (req: Request) => String((req.method === 'POST' ? (req.body as Record<string, unknown> | undefined)?.link : req.query.link) ?? '');
  const open = async (req: Request, res: Response) => {
    const link = await links.open(capabilityOf(req));
    if (!link) {
      await audit(res, undefined, 'family-link-closed', 404);
      sendPage(res, 404, familyClosedPage());
    }
    return link;
  };

  app.get('/family', handle(deps.log, async (req, res) => {
    const link = await open(req, res);
    if (!link) return;
    if ((await links.misses(link)) >= MAX_MISSES) return sendPage(res, 429, familyLockedPage(LOCK_MINUTES));
    sendPage(res, 200, familyDobPage(capabilityOf(req)));
  }));

  app.post('/family', handle(deps.log, async (req, res) => {
    const link = await open(req, res);
    if (!link) return;
    if ((await links.misses(link)) >= MAX_MISSES) {
      await audit(res, link, 'family-link-locked', 429);
      return sendPage(res, 429, familyLockedPage(LOCK_MINUTES));
    }
    // The family sees the case as the treating Trust that made the link does.
    const repo = deps.repoFor({ organization: link.organization, agent: 'family-link' });
    const c = await caseDetail(repo, { organization: link.organization, agent: 'family-link' }, link.taskId);
    if (!c.birthDate || field(req, 'dob') !== c.birthDate) {
      const n = await links.miss(link);
      await audit(res, link, 'family-link-dob-miss', 403);
      if (n >= MAX_MISSES) return sendPage(res, 429, familyLockedPage(LOCK_MINUTES));
      return sendPage(res, 403, familyDobPage(capabilityOf(req), 'That date of birth does not match our records. Please check it and try again.'));
    }
    const timeline = await deps.domain.timeline(link.taskId, { organization: link.organization, agent: 'family-link' });
    await audit(res, link, 'family-link-view', 200);
    sendPage(res, 200, familyCasePage(c, timeline));
  }));
}
