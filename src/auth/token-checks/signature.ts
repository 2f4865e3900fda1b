import { jwtVerify } from 'jose';
import { joseReason } from '../jose-reasons.ts';
import { invalidClient } from '../oauth-error.ts';
import { ASSERTION_ALGORITHMS, type TokenCheck } from '../token-request.ts';

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
    throw invalidClient(joseReason(e, 'assertion'));
  }
};
