/**
 * The client side of SMART Backend Services: signing an assertion and asking for a token.
 * Used by the test helpers, the bench, and (later) federation with another eso-bridge.
 */
import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type JWK } from 'jose';
import { JWT_BEARER } from './token-request.ts';

/** A client's private key: a private JWK carrying kid and alg (as `client add` writes it), or an imported key. */
export type ClientPrivateKey = JWK | { key: CryptoKey; kid: string; alg: string };

export interface SignedKey {
  key: CryptoKey;
  kid: string;
  alg: string;
}

/** Imports a private JWK (kid and alg required) once; passes an imported key through. */
export async function toSigningKey(k: ClientPrivateKey): Promise<SignedKey> {
  if ('key' in k && typeof k.kid === 'string' && typeof k.alg === 'string' && !('kty' in k)) return k as SignedKey;
  const jwk = k as JWK;
  if (typeof jwk.kid !== 'string' || typeof jwk.alg !== 'string') throw new Error('The private JWK needs kid and alg');
  return { key: (await importJWK(jwk, jwk.alg)) as CryptoKey, kid: jwk.kid, alg: jwk.alg };
}

export interface AssertionOptions {
  clientId: string;
  /** The token endpoint URL: the assertion's audience. */
  tokenUrl: string;
  /** Lifetime in seconds (≤ 300). */
  lifetimeSeconds?: number;
  jti?: string;
}

/** A fresh private_key_jwt assertion: iss = sub = client, aud = token URL, unique jti, exp ≤ 5 min. */
export async function signClientAssertion(key: ClientPrivateKey, opts: AssertionOptions): Promise<string> {
  const k = await toSigningKey(key);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'JWT' })
    .setIssuer(opts.clientId)
    .setSubject(opts.clientId)
    .setAudience(opts.tokenUrl)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.lifetimeSeconds ?? 240))
    .setJti(opts.jti ?? randomUUID())
    .sign(k.key);
}

/** The form body of a client_credentials token request. */
export function tokenRequestBody(assertion: string, scope: string): URLSearchParams {
  return new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: assertion, scope });
}

export interface TokenResult {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

/** Asks `tokenUrl` for a token; throws with the OAuth error code on refusal. */
export async function requestAccessToken(tokenUrl: string, clientId: string, key: ClientPrivateKey, scope: string): Promise<TokenResult> {
  const assertion = await signClientAssertion(key, { clientId, tokenUrl });
  const res = await fetch(tokenUrl, { method: 'POST', body: tokenRequestBody(assertion, scope).toString(), headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' } });
  const body = (await res.json()) as TokenResult & { error?: string };
  if (res.status !== 200) throw new Error(`Token request refused: HTTP ${res.status} ${body.error ?? ''}`.trim());
  return body;
}
