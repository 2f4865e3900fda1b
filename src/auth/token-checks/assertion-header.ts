import { decodeProtectedHeader } from 'jose';
import { invalidClient } from '../oauth-error.ts';
import { ASSERTION_ALGORITHMS, type TokenCheck } from '../token-request.ts';

/**
 * Rule: the assertion is a compact JWS signed RS384 or ES384 (never none, never HS*), names a
 * registered key by kid, and carries no key of its own (jwk, x5c, x5u are refused).
 */
export const checkAssertionHeader: TokenCheck = (ctx) => {
  let header;
  try {
    if (ctx.assertion!.split('.').length !== 3) throw new Error('not compact');
    header = decodeProtectedHeader(ctx.assertion!);
  } catch {
    throw invalidClient('assertion is not a compact JWS');
  }
  if (typeof header.alg !== 'string' || !ASSERTION_ALGORITHMS.includes(header.alg)) throw invalidClient('assertion algorithm not allowed');
  if (typeof header.kid !== 'string' || !header.kid || header.kid.length > 256) throw invalidClient('assertion has no kid');
  if ('jwk' in header || 'x5c' in header || 'x5u' in header) throw invalidClient('assertion embeds a key');
  ctx.header = header;
};
