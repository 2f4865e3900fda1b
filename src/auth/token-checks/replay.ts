import { invalidClient } from '../oauth-error.ts';
import type { TokenCheck } from '../token-request.ts';

/**
 * Rule: a jti is used once per client while its assertion is valid; the record is in the database, so it survives restarts.
 * A jti is printable text of at most 256 characters (U+0000 could not even be stored in PostgreSQL text).
 */
export const checkReplay: TokenCheck = async (ctx, deps) => {
  const jti = ctx.claims!.jti;
  // eslint-disable-next-line no-control-regex
  if (typeof jti !== 'string' || !jti || jti.length > 256 || /[\u0000-\u001f\u007f]/.test(jti)) throw invalidClient('assertion jti unusable');
  const expiresAt = new Date((ctx.claims!.exp as number) * 1000);
  if (!(await deps.recordJti(ctx.client!.clientId, jti, expiresAt))) throw invalidClient('assertion jti replayed');
};
