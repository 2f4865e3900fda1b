/**
 * The clinician's screens: the child's cases or the provider's worklist (GET /app), starting a request,
 * one case and its actions. Every read and write goes through the repository acting for the EHR's
 * organisation with the clinician on it (`repoFor(actor)`), and intake through `domain.submit`.
 */
import type { Express, Request, Response } from 'express';
import type { Binary, DocumentReference, Task } from 'fhir/r4.js';
import { providerChoices } from '../domain/provider-choice.ts';
import { countryOf, orgByOds } from '../domain/organization-tree.ts';
import { Reader } from '../domain/reader.ts';
import { isOutcomeError, notFound } from '../shared/outcomes.ts';
import { escapeHtml } from '../domain/timeline/html.ts';
import type { StorageTx } from '../storage/types.ts';
import * as act from './case-actions.ts';
import { caseDetail, casesOfChild, worklist, type CaseDetail } from './case-view.ts';
import { readEhrRecords } from './ehr-fhir.ts';
import type { FamilyLinks } from './family-links.ts';
import { actorOf, callerOf, field, handle, multipartForm, outcomeText, requestIdOf, requireCsrf, requireSession, sendPage, sessionOf, uploadsOf } from './http-common.ts';
import { casePage } from './pages/case-page.ts';
import { page } from './pages/layout.ts';
import { childHome, worklistPage } from './pages/lists.ts';
import { requestForm } from './pages/request-form.ts';
import { requestInputOf } from './request-input.ts';
import type { AppDeps } from './routes.ts';
import type { AppSession, SessionStore } from './sessions.ts';

const ID_RE = /^[A-Za-z0-9\-.]{1,64}$/;

/** Why this session may not write for the child (or this case), in plain words; undefined = it may. */
export function writeBlock(s: AppSession, c?: Pick<CaseDetail, 'side' | 'nhsNumber'>): string | undefined {
  if (c && c.side !== 'requester') return undefined;
  if (!s.patient) return 'No child is open in your EHR, so nothing can be sent or changed for a child from here. Open the app from the child\'s record.';
  if (!s.patient.nhsNumber) return 'Your EHR has no valid NHS number for this child, so nothing can be sent or changed from here. Check the NHS number in the child\'s record in your EHR.';
  if (c && c.nhsNumber !== s.patient.nhsNumber) return 'This case is for a different child from the one open in your EHR (the NHS numbers do not match), so nothing can be changed here.';
  return undefined;
}

/** Which notice follows a cancel: done, or (a provider served by another Trust's instance) asked and awaiting its confirmation. */
export const cancelNoticeKey = (task: Pick<Task, 'status'>): string => (task.status === 'cancelled' ? 'cancelled' : 'cancel-requested');

/** The words of a notice shown on the case page after a write. */
export const noticeText = (key: string): string | undefined => (Object.hasOwn(NOTICES, key) ? NOTICES[key] : undefined);

const NOTICES: Record<string, string> = {
  created: 'The request was sent.', received: 'Marked as received.', accepted: 'You accepted the request.', declined: 'You declined the request.',
  progress: 'Progress recorded.', report: 'The report was issued.', cancelled: 'The request was cancelled.',
  'cancel-requested': 'Cancellation was asked of the provider\'s Trust. The request stays open until they confirm it; this page shows when they have.', consent: 'Consent was withdrawn: the provider no longer sees the records.',
  discussed: 'Recorded that the opinion was discussed with the family.', revoked: 'The family link was revoked.',
};

export function caseRoutes(app: Express, deps: AppDeps, sessions: SessionStore, secure: () => boolean, links: FamilyLinks): void {
  const session = requireSession(sessions, secure);
  const audit = (res: Response, detail: string, entities: string[], status = 200) =>
    deps.audit({ interaction: 'operation', status, detail, entities, principal: callerOf(sessionOf(res)), requestId: requestIdOf(res) });
  const within = (res: Response, detail: string, status = 200) => (tx: StorageTx, entities: string[]) =>
    deps.auditIn(tx, { interaction: 'operation', status, detail, entities, principal: callerOf(sessionOf(res)), requestId: requestIdOf(res) });
  // Every case page and write; a refused one (another Trust's case, a record the consent gate hides) is audited too.
  const handleCase = (fn: (req: Request, res: Response) => Promise<void>) => handle(deps.log, fn, (req, res, status) =>
    audit(res, 'app-refused', [req.params.taskId ? `Task/${String(req.params.taskId)}` : undefined, req.params.docId ? `DocumentReference/${String(req.params.docId)}` : undefined]
      .filter((x): x is string => !!x), status));
  const frame = (s: AppSession, title: string) => ({ title, signedIn: { name: s.clinician.display ?? 'clinician', organization: s.organizationName, csrf: s.csrf } });

  app.get('/app', session, handleCase(async (_req, res) => {
    const s = sessionOf(res);
    const repo = deps.repoFor(actorOf(s));
    if (s.patient) {
      const cases = s.patient.nhsNumber ? await casesOfChild(repo, actorOf(s), s.patient.nhsNumber) : [];
      await audit(res, 'app-child-cases', cases.map((c) => `Task/${c.taskId}`));
      sendPage(res, 200, page(frame(s, 'External second opinions'), childHome(s.patient, cases, writeBlock(s))));
      return;
    }
    const cases = await worklist(repo, actorOf(s));
    await audit(res, 'app-worklist', cases.map((c) => `Task/${c.taskId}`));
    sendPage(res, 200, page(frame(s, 'Second opinion worklist'), worklistPage(cases)));
  }));

  const showForm = async (res: Response, s: AppSession, status: number, problem?: string) => {
    const repo = deps.repoFor(actorOf(s));
    const [choices, records] = await Promise.all([providerChoices(repo, s.ehr.organization), readEhrRecords(s.ehr.iss, s.patient!.id, s.accessToken)]);
    sendPage(res, status, page(frame(s, 'Ask for an external second opinion'), requestForm(s.csrf, s.patient!, { name: s.clinician.display ?? '', gmc: s.clinician.gmc }, choices, records, problem)));
  };

  app.get('/app/requests/new', session, handleCase(async (_req, res) => {
    const s = sessionOf(res);
    const block = writeBlock(s);
    if (block) return sendPage(res, 409, page(frame(s, 'A request cannot be started'), `<p class="message" role="alert">${block}</p><p><a href="/app">Back</a></p>`));
    await showForm(res, s, 200);
  }));

  app.post('/app/requests', session, ...multipartForm(deps.maxBodyBytes ?? 5 * 1024 * 1024), requireCsrf, handleCase(async (req, res) => {
    const s = sessionOf(res);
    const block = writeBlock(s);
    if (block) return sendPage(res, 409, page(frame(s, 'The request was not sent'), `<p class="message" role="alert">${block}</p>`));
    const records = await readEhrRecords(s.ehr.iss, s.patient!.id, s.accessToken);
    const input = requestInputOf((n) => field(req, n), s.patient!, s.ehr.organization, records, uploadsOf(res));
    try {
      const r = await deps.domain.submit(input, actorOf(s), { within: (tx, x) => within(res, 'app-request')(tx, [`Task/${x.task.id}`, `ServiceRequest/${x.serviceRequest.id}`]) });
      res.redirect(303, `/app/cases/${r.task.id}?notice=created`);
    } catch (e) {
      if (!isOutcomeError(e) || e.status >= 500) throw e;
      await showForm(res, s, e.status, outcomeText(e));
    }
  }));

  const loadCase = async (req: Request, res: Response) => {
    const s = sessionOf(res);
    const id = String(req.params.taskId);
    const repo = deps.repoFor(actorOf(s));
    // A malformed id is the same "not found" as another Trust's case.
    const c = await caseDetail(repo, actorOf(s), ID_RE.test(id) ? id : 'none');
    return { s, repo, c };
  };
  const render = async (res: Response, s: AppSession, c: CaseDetail, extra: { notice?: string; newLink?: string } = {}) => {
    const timeline = await deps.domain.timeline(c.taskId, actorOf(s));
    const reader = Reader.ofSystem(deps.repoFor(undefined));
    const own = await orgByOds(reader, s.ehr.organization);
    const overseas = !!own && (await countryOf(reader, own)) === 'elsewhere';
    const caseLinks = c.side === 'requester' ? await links.ofCase(c.taskId) : [];
    sendPage(res, 200, page(frame(s, `Second opinion for ${c.child}`), casePage({ c, timeline, csrf: s.csrf, writeBlock: writeBlock(s, c), links: caseLinks, overseas, ...extra })));
  };

  app.get('/app/cases/:taskId', session, handleCase(async (req, res) => {
    const { s, c } = await loadCase(req, res);
    await audit(res, 'app-case', [`Task/${c.taskId}`, ...c.records.map((r) => `DocumentReference/${r.id}`)]);
    const notice = typeof req.query.notice === 'string' ? noticeText(req.query.notice) : undefined;
    await render(res, s, c, notice ? { notice } : {});
  }));

  // One shared record, as a download (never shown inline: an uploaded file must not run as our page). The consent
  // gate decides through the repository: without an active consent naming the provider it is not found.
  app.get('/app/cases/:taskId/records/:docId', session, handleCase(async (req, res) => {
    const { s, repo, c } = await loadCase(req, res);
    const docId = String(req.params.docId);
    if (!c.records.some((r) => r.id === docId)) throw notFound('No such record in this case');
    const doc = (await repo.read<DocumentReference>('DocumentReference', docId)).resource;
    const url = doc.content?.[0]?.attachment?.url ?? '';
    const bin = url.startsWith('Binary/') ? (await repo.read<Binary>('Binary', url.slice('Binary/'.length))).resource : undefined;
    await audit(res, 'app-record', [`Task/${c.taskId}`, `DocumentReference/${docId}`, ...(bin ? [`Binary/${bin.id}`] : [])]);
    if (!bin?.data) {
      return sendPage(res, 200, page(frame(s, 'This record stays with the treating Trust'), `<p class="notice">This record is kept in the treating Trust's own system. Ask ${escapeHtml(c.requester)} for a copy.</p>`));
    }
    const title = (doc.content?.[0]?.attachment?.title ?? 'record').replace(/[^A-Za-z0-9 ._-]/g, '_').slice(0, 100);
    res.setHeader('Content-Disposition', `attachment; filename="${title}"`);
    res.setHeader('Content-Security-Policy', 'sandbox; default-src \'none\'');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).type(bin.contentType || 'application/octet-stream').send(Buffer.from(bin.data, 'base64'));
  }));

  /** A write on a case: the session's, with its CSRF token, for a child matching the EHR's (requester side). */
  const write = (path: string, notice: string, fn: (req: Request, res: Response, ctx: Awaited<ReturnType<typeof loadCase>>) => Promise<void>) =>
    app.post(`/app/cases/:taskId/${path}`, session, requireCsrf, handleCase(async (req, res) => {
      const ctx = await loadCase(req, res);
      const block = writeBlock(ctx.s, ctx.c);
      if (block) return sendPage(res, 409, page(frame(ctx.s, 'Nothing was changed'), `<p class="message" role="alert">${block}</p>`));
      await fn(req, res, ctx);
      if (!res.headersSent) res.redirect(303, `/app/cases/${ctx.c.taskId}?notice=${notice}`);
    }));

  write('cancel', 'cancelled', async (req, res, { s, c }) => {
    if (!c.requestRef || !c.requesterOds) throw new Error('case without a request identifier');
    const { task } = await deps.domain.cancel({ requesterOds: c.requesterOds, ...c.requestRef, ...(field(req, 'reason') ? { reason: field(req, 'reason') } : {}) }, actorOf(s),
      { within: (tx) => within(res, 'app-cancel')(tx, [`Task/${c.taskId}`]) });
    // Where another Trust's instance serves the provider, the cancel is a request until it confirms (docs/FEDERATION.md).
    res.redirect(303, `/app/cases/${c.taskId}?notice=${cancelNoticeKey(task)}`);
  });
  write('withdraw-consent', 'consent', async (_req, res, { repo, c }) => { await act.withdrawConsent(repo, c.serviceRequest, within(res, 'app-withdraw-consent')); });
  write('discussed', 'discussed', async (_req, res, { repo, c }) => { await act.markDiscussed(repo, c.taskId, within(res, 'app-discussed')); });
  write('receive', 'received', async (_req, res, { repo, c }) => { await act.receive(repo, c.taskId, within(res, 'app-receive')); });
  write('accept', 'accepted', async (req, res, { repo, c }) => {
    await act.accept(repo, c.taskId, { independent: field(req, 'independent') === '1', noConflict: field(req, 'noConflict') === '1',
      professionalBody: field(req, 'professionalBody') || undefined, legalEthical: field(req, 'legalEthical') || undefined }, within(res, 'app-accept'));
  });
  write('decline', 'declined', async (req, res, { repo, c }) => { await act.decline(repo, c.taskId, field(req, 'reason'), within(res, 'app-decline')); });
  write('progress', 'progress', async (req, res, { repo, c }) => {
    const step = field(req, 'step');
    if (!Object.hasOwn(act.PROGRESS, step)) return sendPage(res, 400, page(frame(sessionOf(res), 'Nothing was changed'), '<p class="message">Choose a step.</p>'));
    await act.progress(repo, c.taskId, step, within(res, 'app-progress'));
  });
  write('report', 'report', async (req, res, { repo, c }) => {
    const answers = c.questions.map((q) => ({ linkId: q.linkId, text: field(req, `answer-${q.linkId}`) }));
    await act.writeReport(repo, c.taskId, answers, field(req, 'summary'), within(res, 'app-report'));
  });
  write('family-links', 'created', async (_req, res, { s, c }) => {
    if (c.side !== 'requester') return sendPage(res, 403, page(frame(s, 'Not allowed'), '<p class="message">Only the treating team makes family links.</p>'));
    // The link and its AuditEvent commit together: no link exists that was not audited.
    const capability = await links.create(c.taskId, s.ehr.organization, (tx) => within(res, 'app-family-link-created', 201)(tx, [`Task/${c.taskId}`]));
    await render(res, s, c, { newLink: `${deps.baseUrl()}/family?link=${capability}` });
  });
  write('family-links/revoke', 'revoked', async (req, res, { s, c }) => {
    if (c.side !== 'requester' || !(await links.revoke(c.taskId, field(req, 'link'), (tx) => within(res, 'app-family-link-revoked')(tx, [`Task/${c.taskId}`])))) {
      return sendPage(res, 404, page(frame(s, 'Not found'), '<p class="message">There is no such family link for this case.</p>'));
    }
  });
}
