/**
 * What a jose failure means, by its stable error code (never its message: panva/jose's codes are
 * its API), for the log line and the AuditEvent. One table for both things we verify: a client's
 * assertion at the token endpoint, and a bearer access token at the resource server.
 * https://github.com/panva/jose/blob/main/docs/util/errors/README.md
 */
import { errors } from 'jose';

type Subject = 'assertion' | 'token';

const REASONS: Record<string, Record<Subject, string>> = {
  ERR_JWT_EXPIRED: { assertion: 'assertion expired', token: 'token expired' },
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: { assertion: 'assertion signature invalid', token: 'signature invalid' },
  ERR_JWKS_NO_MATCHING_KEY: { assertion: 'no registered key with this kid', token: 'unknown signing key' },
  ERR_JWKS_TIMEOUT: { assertion: 'client JWKS URL timed out', token: 'issuer keys unavailable (timeout)' },
  ERR_JWKS_INVALID: { assertion: 'client JWKS invalid', token: 'issuer keys invalid' },
  ERR_JOSE_ALG_NOT_ALLOWED: { assertion: 'algorithm not allowed', token: 'algorithm not allowed' },
  ERR_JWT_INVALID: { assertion: 'malformed assertion', token: 'malformed token' },
  ERR_JWS_INVALID: { assertion: 'malformed assertion', token: 'malformed token' },
};

/** The reason `subject` was refused, from jose's error code; a claim failure names the claim. */
export function joseReason(e: unknown, subject: Subject): string {
  if (!(e instanceof errors.JOSEError)) return `${subject} could not be verified`;
  if (e.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    const claim = (e as errors.JWTClaimValidationFailed).claim;
    return subject === 'assertion' ? `assertion claim check failed: ${claim}` : `claim check failed: ${claim}`;
  }
  return REASONS[e.code]?.[subject] ?? `${subject} refused (${e.code})`;
}
