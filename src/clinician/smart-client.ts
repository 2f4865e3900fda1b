/**
 * eso-bridge as a SMART App Launch 2.2 client of an EHR: discovery, the authorization request (PKCE S256,
 * state, nonce, aud = iss), the code exchange as a confidential client, and the id_token check.
 * https://hl7.org/fhir/smart-app-launch/app-launch.html
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { AppKeys } from './app-keys.ts';
import type { EhrEntry } from './ehr-registry.ts';

export interface SmartMetadata {
  authorization_endpoint: string;
  token_endpoint: string;
  issuer: string;
  jwks_uri: string;
}

/** Why a launch was refused: a fixed code for the log and audit, and words for the page. */
export class LaunchRefused extends Error {
  constructor(readonly code: string, readonly words: string) {
    super(code);
  }
}

const TIMEOUT_MS = 5000;
const random = (bytes = 32) => randomBytes(bytes).toString('base64url');

async function getJson(url: string, what: string): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch {
    throw new LaunchRefused('ehr-unreachable', `The EHR's ${what} could not be reached.`);
  }
  if (!res.ok) throw new LaunchRefused('ehr-discovery', `The EHR's ${what} answered ${res.status}.`);
  return (await res.json()) as Record<string, unknown>;
}

/**
 * `<iss>/.well-known/smart-configuration`: the endpoints, and PKCE S256 (an EHR that does not offer it is
 * not launched against, SMART 2.2 "apps SHALL NOT" otherwise). The OpenID issuer and keys come from it or,
 * when it leaves them out, from the issuer's openid-configuration.
 */
export async function discover(iss: string): Promise<SmartMetadata> {
  const smart = await getJson(`${iss}/.well-known/smart-configuration`, 'SMART configuration');
  const methods = smart.code_challenge_methods_supported;
  if (!Array.isArray(methods) || !methods.includes('S256')) {
    throw new LaunchRefused('no-pkce-s256', 'The EHR does not offer PKCE with S256, which this app requires for every sign-in.');
  }
  let { issuer, jwks_uri } = smart as { issuer?: string; jwks_uri?: string };
  if (!issuer || !jwks_uri) {
    const oidc = await getJson(`${String(issuer ?? iss)}/.well-known/openid-configuration`, 'OpenID configuration');
    issuer = String(oidc.issuer);
    jwks_uri = String(oidc.jwks_uri);
  }
  const { authorization_endpoint: a, token_endpoint: t } = smart as Record<string, string>;
  if (!a || !t) throw new LaunchRefused('ehr-discovery', 'The EHR\'s SMART configuration has no authorization or token endpoint.');
  return { authorization_endpoint: a, token_endpoint: t, issuer, jwks_uri };
}

/** What the app keeps (server-side) between the redirect to the EHR and the return. */
export interface PendingLaunch {
  iss: string;
  state: string;
  nonce: string;
  codeVerifier: string;
  /** Binds the return to the browser that started it (a cookie of its own). */
  browserKey: string;
  meta: SmartMetadata;
  createdAt: number;
}

/** The scopes asked for: identity, launch context, and the reads the app makes of the EHR. */
export function scopesFor(standalone: boolean): string {
  const reads = 'user/Patient.rs user/Practitioner.r user/DocumentReference.rs patient/Patient.r patient/DocumentReference.rs';
  return `${standalone ? 'launch/patient' : 'launch'} openid fhirUser ${reads}`;
}

/** The authorization request URL and what to keep until the EHR sends the browser back. */
export function authorizationRequest(ehr: EhrEntry, meta: SmartMetadata, redirectUri: string, launch: string | undefined): { url: string; pending: PendingLaunch } {
  const pending: PendingLaunch = { iss: ehr.iss, state: random(), nonce: random(), codeVerifier: random(48), browserKey: random(), meta, createdAt: Date.now() };
  const url = new URL(meta.authorization_endpoint);
  const params: Record<string, string> = {
    response_type: 'code', client_id: ehr.clientId, redirect_uri: redirectUri, scope: scopesFor(launch === undefined),
    state: pending.state, nonce: pending.nonce, aud: ehr.iss,
    code_challenge: createHash('sha256').update(pending.codeVerifier).digest('base64url'), code_challenge_method: 'S256',
  };
  if (launch !== undefined) params.launch = launch;
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return { url: url.toString(), pending };
}

export interface TokenResponse {
  access_token: string;
  id_token: string;
  patient?: string;
  expires_in?: number;
}

/** Exchanges the code at the EHR's token endpoint as the registered kind of client. */
export async function exchangeCode(ehr: EhrEntry, pending: PendingLaunch, code: string, redirectUri: string, keys: AppKeys): Promise<TokenResponse> {
  const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: pending.codeVerifier });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (ehr.auth === 'private_key_jwt') {
    body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    body.set('client_assertion', await keys.assertion(ehr.clientId, pending.meta.token_endpoint));
  } else if (ehr.auth === 'client_secret_basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(ehr.clientId)}:${encodeURIComponent(ehr.clientSecret ?? '')}`).toString('base64')}`;
  } else {
    body.set('client_id', ehr.clientId);
  }
  let res: Response;
  try {
    res = await fetch(pending.meta.token_endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch {
    throw new LaunchRefused('token-unreachable', 'The EHR\'s token endpoint could not be reached.');
  }
  const json = (await res.json().catch(() => ({}))) as Partial<TokenResponse> & { error?: string };
  if (!res.ok || !json.access_token) throw new LaunchRefused(`token-${String(json.error ?? res.status).slice(0, 40)}`, 'The EHR refused to complete the sign-in.');
  if (!json.id_token) throw new LaunchRefused('no-id-token', 'The EHR did not say who signed in (no id_token).');
  return json as TokenResponse;
}

const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

/**
 * The id_token: signed by a key of the EHR's JWKS, issued by its issuer, for this client, not expired,
 * and carrying the nonce of this launch. Returns its fhirUser.
 */
export async function verifyIdToken(idToken: string, meta: SmartMetadata, clientId: string, nonce: string): Promise<{ fhirUser: string; payload: JWTPayload }> {
  let jwks = jwksCache.get(meta.jwks_uri);
  if (!jwks) jwksCache.set(meta.jwks_uri, (jwks = createRemoteJWKSet(new URL(meta.jwks_uri), { timeoutDuration: TIMEOUT_MS })));
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, jwks, { issuer: meta.issuer, audience: clientId, algorithms: ['RS256', 'RS384', 'ES256', 'ES384', 'PS256'] }));
  } catch (e) {
    throw new LaunchRefused(`id-token-${(e as { code?: string }).code ?? 'invalid'}`, 'The EHR\'s statement of who signed in could not be verified.');
  }
  if (payload.nonce !== nonce) throw new LaunchRefused('id-token-nonce', 'The EHR\'s statement of who signed in belongs to another sign-in.');
  const fhirUser = payload.fhirUser;
  if (typeof fhirUser !== 'string' || !fhirUser) throw new LaunchRefused('no-fhir-user', 'The EHR did not say which clinician signed in (no fhirUser).');
  return { fhirUser, payload };
}
