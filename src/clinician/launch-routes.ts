/**
 * Sign-in: GET /app/launch (EHR launch with `launch`, standalone without), GET /app/callback, POST /app/sign-out,
 * GET /app/jwks. Each refusal is a page that says what happened, and an AuditEvent naming the check.
 * https://hl7.org/fhir/smart-app-launch/app-launch.html
 */
import type { Express, Request, Response } from 'express';
import type { AppKeys } from './app-keys.ts';
import { readClinician, readEhrPatient } from './ehr-fhir.ts';
import type { EhrRegistry } from './ehr-registry.ts';
import { callerOf, handle, requestIdOf, requireCsrf, requireSession, sendPage } from './http-common.ts';
import { messagePage } from './pages/layout.ts';
import { cookie, cookiesOf, LAUNCH_COOKIE, SESSION_COOKIE, type SessionStore } from './sessions.ts';
import { authorizationRequest, discover, exchangeCode, LaunchRefused, verifyIdToken } from './smart-client.ts';
import type { AppDeps } from './routes.ts';

export interface LaunchParts {
  ehrs: EhrRegistry;
  keys: AppKeys;
  sessions: SessionStore;
  /** Secure cookies (all but plain http on loopback). */
  secure: () => boolean;
}

export function launchRoutes(app: Express, deps: AppDeps, p: LaunchParts): void {
  const redirectUri = () => `${deps.baseUrl()}/app/callback`;
  const refuse = async (res: Response, status: number, code: string, title: string, words: string) => {
    await deps.audit({ interaction: 'operation', status, detail: `app-launch-refused:${code}`, requestId: requestIdOf(res) });
    sendPage(res, status, messagePage(title, words, 'Open the app again from your EHR. If this keeps happening, tell the service desk.'));
  };
  const q = (req: Request, name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);

  app.get('/app/jwks', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(p.keys.jwks());
  });

  app.get('/app/launch', handle(deps.log, async (req, res) => {
    const iss = q(req, 'iss');
    if (!iss) return refuse(res, 400, 'no-iss', 'The app was not opened from an EHR', 'The link that opened this app did not say which EHR it came from.');
    const ehr = await p.ehrs.find(iss);
    if (!ehr) return refuse(res, 403, 'unknown-iss', 'This EHR is not registered', 'The EHR that opened this app is not registered with eso-bridge, so it cannot sign you in here.');
    try {
      const meta = await discover(ehr.iss);
      const { url, pending } = authorizationRequest(ehr, meta, redirectUri(), q(req, 'launch'));
      p.sessions.addPending(pending);
      res.setHeader('Set-Cookie', cookie(LAUNCH_COOKIE, pending.browserKey, { secure: p.secure(), maxAgeSeconds: 600 }));
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(302, url);
    } catch (e) {
      if (e instanceof LaunchRefused) return refuse(res, 502, e.code, 'The EHR could not be used to sign in', e.words);
      throw e;
    }
  }));

  app.get('/app/callback', handle(deps.log, async (req, res) => {
    const pending = p.sessions.takePending(q(req, 'state'), cookiesOf(req.headers.cookie)[LAUNCH_COOKIE]);
    if (!pending) return refuse(res, 400, 'bad-state', 'This sign-in could not be completed', 'The answer from the EHR does not belong to a sign-in started in this browser, or it came too late.');
    if (q(req, 'error') || !q(req, 'code')) return refuse(res, 400, 'ehr-error', 'The EHR did not sign you in', 'The EHR ended the sign-in without letting you in.');
    // RFC 9207: an authorization server that names itself must be the one this launch went to (mix-up defence).
    const from = q(req, 'iss');
    if (from !== undefined && from !== pending.meta.issuer) return refuse(res, 400, 'iss-mismatch', 'This sign-in could not be completed', 'The answer came from a different sign-in server than the one the app asked.');
    const ehr = await p.ehrs.find(pending.iss);
    if (!ehr) return refuse(res, 403, 'unknown-iss', 'This EHR is not registered', 'The EHR is no longer registered with eso-bridge.');
    try {
      const tokens = await exchangeCode(ehr, pending, q(req, 'code') as string, redirectUri(), p.keys);
      const { fhirUser, payload } = await verifyIdToken(tokens.id_token, pending.meta, ehr.clientId, pending.nonce);
      const clinician = await readClinician(fhirUser, ehr.iss, tokens.access_token, typeof payload.name === 'string' ? payload.name : undefined);
      const patient = typeof tokens.patient === 'string' ? await readEhrPatient(ehr.iss, tokens.patient, tokens.access_token) : undefined;
      const s = p.sessions.create({ ehr, accessToken: tokens.access_token, clinician, organizationName: await deps.organizationName(ehr.organization), ...(patient ? { patient } : {}) });
      await deps.audit({ interaction: 'operation', status: 200, detail: 'app-sign-in', principal: callerOf(s), requestId: requestIdOf(res) });
      res.setHeader('Set-Cookie', [cookie(SESSION_COOKIE, s.id, { secure: p.secure() }), cookie(LAUNCH_COOKIE, '', { secure: p.secure(), maxAgeSeconds: 0 })]);
      res.setHeader('Cache-Control', 'no-store');
      res.redirect(303, '/app');
    } catch (e) {
      if (e instanceof LaunchRefused) return refuse(res, 401, e.code, 'You could not be signed in', e.words);
      throw e;
    }
  }));

  app.post('/app/sign-out', requireSession(p.sessions, p.secure), requireCsrf, handle(deps.log, async (req, res) => {
    p.sessions.end(cookiesOf(req.headers.cookie)[SESSION_COOKIE]);
    res.setHeader('Set-Cookie', cookie(SESSION_COOKIE, '', { secure: p.secure(), maxAgeSeconds: 0 }));
    sendPage(res, 200, messagePage('You have signed out', 'You have signed out of eso-bridge. Open it again from your EHR when you need it.'));
  }));
}
