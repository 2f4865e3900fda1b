import { invalidClient } from '../oauth-error.ts';
import type { TokenCheck } from '../token-request.ts';

/** Rule: a jti is used once per client while its assertion is valid; the record is in the database, so it survives restarts. */
export const checkReplay: TokenCheck = async (ctx, deps) => {
  const jti = ctx.claims!.jti;
  if (typeof jti !== 'string' || !jti || jti.length > 256) throw invalidClient('assertion jti unusable');
  const expiresAt = new Date((ctx.claims!.exp as number) * 1000);
  if (!(await deps.recordJti(ctx.client!.clientId, jti, expiresAt))) throw invalidClient('assertion jti replayed');
};
