/**
 * SMART Backend Services for tests: register a client in a clients file (a real key pair) and
 * get a real access token through POST /auth/token. Tests run with authentication on by default:
 * `startTestServer` registers a default client and hands out its (cached) token, so most suites
 * need nothing from here but `server.authHeaders()`:
 *
 *   const server = await startTestServer('sqlite', {}, { client: { organization: 'RQ1' } });
 *   await fetch(`${server.fhir}/Task`, { headers: await server.authHeaders() });
 *
 * Suites with clients of their own register them here and pass ESO_CLIENTS_FILE:
 *
 *   const a = await registerClient(dir, { clientId: 'rq1-epr', organization: 'RQ1' });
 *   const server = await startTestServer('sqlite', { ESO_CLIENTS_FILE: clientsFileIn(dir) });
 *   const token = await getToken(server.url, 'rq1-epr', a, 'system/Task.rs');
 *
 * `dir` is the directory of the clients file (clients.json): the server's ESO_DATA_DIR (read by
 * default), or any directory with ESO_CLIENTS_FILE pointing at `clientsFileIn(dir)`. A client
 * registered while the server runs is picked up on its first token request.
 */
import { join } from 'node:path';
import type { JWK } from 'jose';
import { addClient, type ClientAlg } from '../../src/auth/client-admin.ts';
import { signClientAssertion, tokenRequestBody, type ClientPrivateKey } from '../../src/auth/client-assertion.ts';

export type { ClientPrivateKey } from '../../src/auth/client-assertion.ts';

export interface RegisterOptions {
  clientId: string;
  /** ODS code the client acts for. */
  organization: string;
  /** Allowed scopes (default system/*.cruds). */
  scopes?: string[];
  alg?: ClientAlg;
  /** Which MLLP connections may send HL7 v2 for the organisation (source addresses, client certificate SHA-256). */
  mllp?: { addresses?: string[]; certificateSha256?: string };
}

/** The clients file inside `dir`. */
export function clientsFileIn(dir: string): string {
  return join(dir, 'clients.json');
}

/** Adds the client to `dir`/clients.json (created if needed); returns its private JWK (with kid and alg). */
export async function registerClient(dir: string, opts: RegisterOptions): Promise<JWK> {
  const { privateJwk } = await addClient(clientsFileIn(dir), { clientId: opts.clientId, organization: opts.organization, scopes: opts.scopes, alg: opts.alg, mllp: opts.mllp, replace: true });
  return privateJwk!;
}

export interface TokenResponse {
  status: number;
  body: { access_token?: string; token_type?: string; expires_in?: number; scope?: string; error?: string; error_description?: string };
  headers: Headers;
}

/** POSTs a token request with a ready-made assertion (for tests that craft bad ones). */
export async function postTokenRequest(baseUrl: string, assertion: string, scope = 'system/*.rs', extra: Record<string, string> = {}): Promise<TokenResponse> {
  const body = tokenRequestBody(assertion, scope);
  for (const [k, v] of Object.entries(extra)) body.set(k, v);
  // A string body (not URLSearchParams): nock's fetch interceptor cannot pass the latter through to loopback.
  const res = await fetch(`${baseUrl}/auth/token`, { method: 'POST', body: body.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  return { status: res.status, body: (await res.json()) as TokenResponse['body'], headers: res.headers };
}

/** The real client_credentials flow; returns the access token or throws with the OAuth error. */
export async function getToken(baseUrl: string, clientId: string, privateKey: ClientPrivateKey, scope = 'system/*.cruds'): Promise<string> {
  const assertion = await signClientAssertion(privateKey, { clientId, tokenUrl: `${baseUrl}/auth/token` });
  const res = await postTokenRequest(baseUrl, assertion, scope);
  if (res.status !== 200 || !res.body.access_token) throw new Error(`token refused: ${res.status} ${res.body.error ?? ''}`);
  return res.body.access_token;
}

/** fetch with a bearer token and FHIR JSON. */
export function fhirFetch(token: string | undefined, url: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/fhir+json', ...(init.headers as Record<string, string> | undefined) };
  if (token) headers.authorization = `Bearer ${token}`;
  if (init.json !== undefined) headers['content-type'] = 'application/fhir+json';
  return fetch(url, { ...init, headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.body });
}

/**
 * A client's token, cached and fetched again before it runs out (tokens live at most
 * ESO_TOKEN_LIFETIME_SECONDS, ≤ 300 s): refreshed once less than a third of its life is left.
 */
export function tokenSource(baseUrl: string, clientId: string, privateKey: ClientPrivateKey, scope = 'system/*.cruds'): () => Promise<string> {
  let cached: { token: string; refreshAt: number } | undefined;
  return async () => {
    if (cached && Date.now() < cached.refreshAt) return cached.token;
    const assertion = await signClientAssertion(privateKey, { clientId, tokenUrl: `${baseUrl}/auth/token` });
    const res = await postTokenRequest(baseUrl, assertion, scope);
    if (res.status !== 200 || !res.body.access_token) throw new Error(`token refused: ${res.status} ${res.body.error ?? ''}`);
    const lifetimeMs = (res.body.expires_in ?? 60) * 1000;
    cached = { token: res.body.access_token, refreshAt: Date.now() + (lifetimeMs * 2) / 3 };
    return cached.token;
  };
}
