import { invalidClient } from '../oauth-error.ts';
import { JWT_BEARER, param, type TokenCheck } from '../token-request.ts';

/** Rule: the client authenticates with a JWT bearer assertion (private_key_jwt), nothing else. */
export const checkAssertionPresent: TokenCheck = (ctx) => {
  const type = param(ctx, 'client_assertion_type');
  const assertion = param(ctx, 'client_assertion');
  if (!type || !assertion) throw invalidClient('no client authentication included');
  if (type !== JWT_BEARER) throw invalidClient('unsupported client authentication method');
  ctx.assertion = assertion;
};
