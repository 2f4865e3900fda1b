import { errors, jwtVerify } from 'jose';
import { invalidClient } from '../oauth-error.ts';
import { ASSERTION_ALGORITHMS, type TokenCheck } from '../token-request.ts';

/** The reason of a jose failure, by its error code. */
function reason(e: unknown): string {
  if (!(e instanceof errors.JOSEError)) return 'assertion could not be verified';
  switch (e.code) {
    case 'ERR_JWKS_NO_MATCHING_KEY': return 'no registered key with this kid';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED': return 'assertion signature invalid';
    case 'ERR_JWT_EXPIRED': return 'assertion expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': return `assertion claim check failed: ${(e as errors.JWTClaimValidationFailed).claim}`;
    case 'ERR_JWKS_TIMEOUT': return 'client JWKS URL timed out';
    case 'ERR_JWKS_INVALID': return 'client JWKS invalid';
    default: return `assertion refused (${e.code})`;
  }
}

/**
 * Rule: the signature verifies with the client's registered key chosen by kid, algorithm
 * pinned to RS384/ES384, iss = sub = the client, aud = this token endpoint, exp in the future, jti present.
 */
export const checkSignature: TokenCheck = async (ctx, deps) => {
  const client = ctx.client!;
  try {
    const key = await deps.clientKey(client, ctx.header!);
    const { payload } = await jwtVerify(ctx.assertion!, key, {
      algorithms: ASSERTION_ALGORITHMS, issuer: client.clientId, subject: client.clientId, audience: deps.tokenUrl(),
      requiredClaims: ['exp', 'jti'], currentDate: new Date(ctx.now * 1000),
    });
    ctx.claims = payload;
  } catch (e) {
    throw invalidClient(reason(e));
  }
};
