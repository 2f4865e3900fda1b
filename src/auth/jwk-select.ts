/**
 * Choosing a verification key: by `kid` only, and only a key whose type fits the algorithm
 * already pinned by the caller (no RSA key for an ES384 header, no symmetric key at all).
 */
import { errors, importJWK, type JWK } from 'jose';

/** The key type (and curve) each accepted algorithm needs. */
const KEY_FOR_ALG: Record<string, { kty: string; crv?: string }> = {
  RS256: { kty: 'RSA' }, RS384: { kty: 'RSA' }, RS512: { kty: 'RSA' },
  PS256: { kty: 'RSA' }, PS384: { kty: 'RSA' }, PS512: { kty: 'RSA' },
  ES256: { kty: 'EC', crv: 'P-256' }, ES384: { kty: 'EC', crv: 'P-384' }, ES512: { kty: 'EC', crv: 'P-521' },
};

export const ASYMMETRIC_ALGORITHMS = Object.keys(KEY_FOR_ALG);

/** The JWK named by the header's kid that can verify its alg; undefined when there is none. */
export function selectJwk(keys: readonly JWK[], header: { kid?: string; alg?: string }): JWK | undefined {
  const need = header.alg ? KEY_FOR_ALG[header.alg] : undefined;
  if (!need || typeof header.kid !== 'string') return undefined;
  return keys.find((k) => k.kid === header.kid
    && k.kty === need.kty && (need.crv === undefined || k.crv === need.crv)
    && (k.alg === undefined || k.alg === header.alg)
    && (k.use === undefined || k.use === 'sig')
    && (k.key_ops === undefined || k.key_ops.includes('verify')));
}

/** Only the public members: a stray private member in a registration never reaches importJWK. */
export function publicPart(jwk: JWK): JWK {
  const { kty, kid, alg, use, crv, x, y, n, e } = jwk;
  const out: JWK = kty === 'RSA' ? { kty, n, e } : { kty, crv, x, y };
  if (kid !== undefined) out.kid = kid;
  if (alg !== undefined) out.alg = alg;
  if (use !== undefined) out.use = use;
  return out;
}

/** Imports the public key for `alg`. */
export async function importVerifyKey(jwk: JWK, alg: string): Promise<CryptoKey> {
  const key = await importJWK(publicPart(jwk), alg);
  if (key instanceof Uint8Array) throw new errors.JWKInvalid('symmetric keys are not accepted');
  return key;
}

/** Picks and imports, or throws jose's ERR_JWKS_NO_MATCHING_KEY. */
export async function verifyKeyFrom(keys: readonly JWK[], header: { kid?: string; alg?: string }): Promise<CryptoKey> {
  const jwk = selectJwk(keys, header);
  if (!jwk) throw new errors.JWKSNoMatchingKey();
  return importVerifyKey(jwk, header.alg as string);
}
