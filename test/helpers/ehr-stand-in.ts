/**
 * An EHR, as the clinician app meets it: a real SMART authorization server (oidc-provider: PKCE S256 required,
 * private_key_jwt or client_secret_basic, id_token with fhirUser, `patient` in the token response) and the
 * EHR's own FHIR Patient, Practitioner and DocumentReference endpoints, which want one of its access tokens.
 * The clinician is already signed in to the EHR: the login step answers itself with `ehr.user`.
 *
 *   const ehr = await startEhr({ name: 'treating', clientId: 'eso-app', redirectUri, jwksUri });
 *   ehr.user = 'dr-hughes'; ehr.patients.set('launch-1', 'child-1');
 *   // browser → `${eso}/app/launch?iss=${ehr.iss}&launch=launch-1`
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import Provider from 'oidc-provider';

export interface EhrPractitioner { id: string; given: string; family: string; gmc?: string }
export interface EhrChild { id: string; nhsNumber?: string; given: string; family: string; birthDate: string; gender?: string }

export interface EhrOptions {
  clientId: string;
  redirectUri: string;
  /** eso-bridge's JWKS (private_key_jwt); absent with clientSecret. */
  jwksUri?: string;
  clientSecret?: string;
  /** A public client (PKCE only, no client authentication). */
  publicClient?: boolean;
  practitioners?: EhrPractitioner[];
  children?: EhrChild[];
  /** The documents the EHR holds, by patient id. */
  documents?: Record<string, { title: string; contentType: string }[]>;
}

export interface EhrStandIn {
  /** The EHR's FHIR base: the `iss` of its launches. */
  iss: string;
  /** Who is signed in to the EHR (an EhrPractitioner id). */
  user: string;
  /** EHR launch tokens → patient id in context. */
  launches: Map<string, string>;
  /** The patient a standalone launch picks (launch/patient). */
  standalonePatient?: string;
  /** Misbehaviour for refusal tests: a forged or expired id_token, or no S256 in discovery. */
  tamper?: 'forge-id-token' | 'expired-id-token' | 'no-s256';
  close(): Promise<void>;
}

const SMART_SCOPES = ['openid', 'fhirUser', 'launch', 'launch/patient', 'user/Patient.rs', 'user/Practitioner.r', 'user/DocumentReference.rs',
  'patient/Patient.r', 'patient/DocumentReference.rs'];

export async function startEhr(opts: EhrOptions): Promise<EhrStandIn> {
  const app = express();
  const server: Server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fhir = `${base}/fhir`;
  const issuer = `${base}/oidc`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signing: JWK = { ...(await exportJWK(privateKey)), kid: 'ehr-1', alg: 'RS256', use: 'sig' };
  const practitioners = new Map((opts.practitioners ?? []).map((p) => [p.id, p]));
  const children = new Map((opts.children ?? []).map((c) => [c.id, c]));
  let lastLaunch: string | undefined;

  const state: EhrStandIn = {
    iss: fhir, user: opts.practitioners?.[0]?.id ?? 'nobody', launches: new Map(),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  // oidc-provider refuses to fetch a jwks_uri on a loopback address (SSRF guard): the stand-in reads eso-bridge's
  // GET /app/jwks itself, once, and registers the keys it finds, as an EHR administrator would paste them.
  const jwks = opts.jwksUri && !opts.clientSecret && !opts.publicClient ? await (await fetch(opts.jwksUri)).json() : undefined;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: opts.clientId, redirect_uris: [opts.redirectUri], grant_types: ['authorization_code'], response_types: ['code'],
      ...(opts.publicClient ? { token_endpoint_auth_method: 'none' }
        : opts.clientSecret ? { client_secret: opts.clientSecret, token_endpoint_auth_method: 'client_secret_basic' }
          : { token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES384', jwks }),
    }],
    jwks: { keys: [signing] },
    cookies: { keys: ['ehr-stand-in-cookie-key'] },
    pkce: { required: () => true },
    // SMART asymmetric client authentication: RS384 and ES384.
    enabledJWA: { clientAuthSigningAlgValues: ['RS384', 'ES384', 'RS256', 'ES256'] },
    scopes: SMART_SCOPES,
    claims: { openid: ['sub'], fhirUser: ['fhirUser', 'name'] },
    conformIdTokenClaims: false,
    extraParams: ['launch', 'aud'],
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => {
        const p = practitioners.get(id);
        return { sub: id, fhirUser: `${fhir}/Practitioner/${id}`, ...(p ? { name: `${p.given} ${p.family}` } : {}) };
      },
    }),
    // The EHR's users have agreed to the app once for all: every requested scope is granted.
    loadExistingGrant: async (ctx: { oidc: { session: { accountId: string }; client: { clientId: string }; requestParamScopes: Set<string>; provider: { Grant: new (x: object) => { addOIDCScope(s: string): void; addOIDCClaims(c: string[]): void; save(): Promise<string> } } } }) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      grant.addOIDCClaims(['fhirUser', 'name']);
      await grant.save();
      return grant;
    },
  });
  provider.proxy = false;
  for (const ev of ['server_error', 'authorization.error', 'grant.error', 'interaction.error']) provider.on(ev, (...a: unknown[]) => { if (process.env.EHR_DEBUG) console.error(ev, a.at(-1)); });

  // SMART: the patient in context in the token response; the id_token tampered with on request.
  provider.use(async (ctx: { path: string; query: Record<string, string>; body?: Record<string, unknown> }, next: () => Promise<void>) => {
    if (ctx.path === '/auth' && ctx.query.response_type) lastLaunch = ctx.query.launch;
    await next();
    if (ctx.path !== '/token' || !ctx.body || typeof ctx.body.access_token !== 'string') return;
    const patient = lastLaunch !== undefined ? state.launches.get(lastLaunch) : state.standalonePatient;
    if (patient) ctx.body.patient = patient;
    if (state.tamper === 'forge-id-token' || state.tamper === 'expired-id-token') {
      const claims = decodeJwt(String(ctx.body.id_token));
      const key = state.tamper === 'forge-id-token' ? (await generateKeyPair('RS256')).privateKey : await importJWK(signing, 'RS256');
      const exp = state.tamper === 'expired-id-token' ? Math.floor(Date.now() / 1000) - 600 : claims.exp;
      ctx.body.id_token = await new SignJWT({ ...claims, exp, iat: (exp as number) - 3600 }).setProtectedHeader({ alg: 'RS256', kid: 'ehr-1' }).sign(key);
    }
  });

  app.get('/interaction/:uid', async (req, res, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const result = details.prompt.name === 'login' ? { login: { accountId: state.user } } : { consent: {} };
      await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
    } catch (e) {
      next(e);
    }
  });
  app.get('/fhir/.well-known/smart-configuration', (_req, res) => {
    res.json({
      issuer, jwks_uri: `${issuer}/jwks`, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`,
      token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'], scopes_supported: SMART_SCOPES,
      response_types_supported: ['code'], capabilities: ['launch-ehr', 'launch-standalone', 'client-confidential-asymmetric', 'context-ehr-patient', 'sso-openid-connect'],
      ...(state.tamper === 'no-s256' ? { code_challenge_methods_supported: ['plain'] } : { code_challenge_methods_supported: ['S256'] }),
    });
  });
  // The EHR's FHIR API: only with one of its own access tokens.
  const authorised: express.RequestHandler = async (req, res, next) => {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !(await provider.AccessToken.find(token))) {
      res.status(401).json({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login' }] });
      return;
    }
    next();
  };
  app.get('/fhir/Patient/:id', authorised, (req, res) => {
    const c = children.get(req.params.id as string);
    if (!c) return void res.status(404).json({ resourceType: 'OperationOutcome' });
    res.json({ resourceType: 'Patient', id: c.id, identifier: c.nhsNumber ? [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: c.nhsNumber }] : [],
      name: [{ family: c.family, given: [c.given] }], birthDate: c.birthDate, gender: c.gender ?? 'unknown' });
  });
  app.get('/fhir/Practitioner/:id', authorised, (req, res) => {
    const p = practitioners.get(req.params.id as string);
    if (!p) return void res.status(404).json({ resourceType: 'OperationOutcome' });
    res.json({ resourceType: 'Practitioner', id: p.id, name: [{ family: p.family, given: [p.given], prefix: ['Dr'] }],
      identifier: p.gmc ? [{ system: 'https://fhir.hl7.org.uk/Id/gmc-number', value: p.gmc }] : [] });
  });
  app.get('/fhir/DocumentReference', authorised, (req, res) => {
    const pid = String(req.query.patient ?? '');
    const docs = opts.documents?.[pid] ?? [];
    res.json({ resourceType: 'Bundle', type: 'searchset', entry: docs.map((d, i) => ({ resource: { resourceType: 'DocumentReference', id: `${pid}-doc-${i}`, status: 'current',
      content: [{ attachment: { contentType: d.contentType, title: d.title, url: `${fhir}/Binary/${pid}-doc-${i}` } }] } })) });
  });
  app.use('/oidc', provider.callback());
  return state;
}
