import { invalidClient } from '../oauth-error.ts';
import { MAX_ASSERTION_LIFETIME_SECONDS, type TokenCheck } from '../token-request.ts';

/** Rule: exp is no more than 5 minutes ahead, so a recorded jti can be forgotten once it expires. */
export const checkExpiryWindow: TokenCheck = (ctx) => {
  if ((ctx.claims!.exp as number) > ctx.now + MAX_ASSERTION_LIFETIME_SECONDS) throw invalidClient('assertion exp more than 5 minutes ahead');
};
