/**
 * The access tokens this server issues: JWTs (RFC 9068, typ at+jwt) signed ES384 with the
 * current server key, audience = this server's FHIR base, at most 5 minutes.
 */
import { randomUUID } from 'node:crypto';
import { jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Principal } from './principal.ts';
import { SERVER_KEY_ALG } from './server-keys.ts';

export const ACCESS_TOKEN_TYP = 'at+jwt';
export const ODS_CLAIM = 'ods_code';

export interface TokenSettings {
  /** iss of our tokens, e.g. https://eso.example/auth. */
  issuer: string;
  /** aud of our tokens: the FHIR base URL. */
  audience: string;
  lifetimeSeconds: number;
}

/** Signs an access token for a client acting for its organisation. */
export async function issueAccessToken(signing: { kid: string; key: CryptoKey }, settings: TokenSettings, p: Principal, now = Math.floor(Date.now() / 1000)): Promise<string> {
  return new SignJWT({ client_id: p.clientId, [ODS_CLAIM]: p.organization, scope: p.scopes.join(' ') })
    .setProtectedHeader({ alg: SERVER_KEY_ALG, kid: signing.kid, typ: ACCESS_TOKEN_TYP })
    .setIssuer(settings.issuer)
    .setSubject(p.clientId)
    .setAudience(settings.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + settings.lifetimeSeconds)
    .setJti(randomUUID())
    .sign(signing.key);
}

/** Claims that must be strings of a sane length (a token is attacker input until verified). */
export function stringClaim(payload: JWTPayload, name: string, max = 256): string | undefined {
  const v = payload[name];
  return typeof v === 'string' && v.length > 0 && v.length <= max ? v : undefined;
}

/** Verifies one of our access tokens: algorithm, issuer, audience and typ pinned; key by kid. */
export async function verifyOwnAccessToken(token: string, keys: JWTVerifyGetKey, settings: Omit<TokenSettings, 'lifetimeSeconds'>): Promise<Principal | undefined> {
  const { payload } = await jwtVerify(token, keys, {
    algorithms: [SERVER_KEY_ALG], issuer: settings.issuer, audience: settings.audience, typ: ACCESS_TOKEN_TYP,
    requiredClaims: ['exp', 'iat', 'sub', 'client_id', ODS_CLAIM, 'scope'],
  });
  const clientId = stringClaim(payload, 'client_id');
  const organization = stringClaim(payload, ODS_CLAIM, 16);
  const scope = stringClaim(payload, 'scope', 8192);
  if (!clientId || !organization || scope === undefined || payload.sub !== clientId) return undefined;
  return { clientId, organization, scopes: scope.split(' ').filter(Boolean), exp: payload.exp, issuer: settings.issuer };
}
