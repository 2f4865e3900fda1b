/** Crafting client assertions claim by claim (real signatures), for the suites that try to break in. */
import { randomUUID } from 'node:crypto';
import { base64url, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

export interface Craft {
  claims?: JWTPayload;
  header?: Record<string, unknown>;
  /** Sign with this private JWK instead (its kid is not used: set header.kid). */
  key?: JWK;
  alg?: string;
}

/** A valid assertion for `clientId` at `tokenUrl`, changed as asked. */
export async function craftAssertion(clientId: string, privateJwk: JWK, tokenUrl: string, c: Craft = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { iss: clientId, sub: clientId, aud: tokenUrl, iat: now, exp: now + 120, jti: randomUUID(), ...c.claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  const alg = c.alg ?? (privateJwk.alg as string);
  const signer = c.key ?? privateJwk;
  return new SignJWT(payload).setProtectedHeader({ alg, kid: privateJwk.kid, ...c.header }).sign(await importJWK(signer, alg));
}

/** An unsigned assertion (alg none). */
export function unsignedAssertion(clientId: string, kid: string, tokenUrl: string): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
  return `${enc({ alg: 'none', kid })}.${enc({ iss: clientId, sub: clientId, aud: tokenUrl, exp: now + 60, jti: randomUUID() })}.`;
}

/** HS256 with the client's public key as the HMAC secret (the classic key-confusion attack). */
export async function hmacWithPublicKey(clientId: string, publicJwk: JWK, tokenUrl: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
  return new SignJWT({ iss: clientId, sub: clientId, aud: tokenUrl, exp: now + 60, jti: randomUUID() })
    .setProtectedHeader({ alg: 'HS256', kid: publicJwk.kid as string }).sign(secret);
}

/** The public half of a private JWK. */
export function publicOf(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}
