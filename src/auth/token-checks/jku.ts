import { timingSafeEqual } from 'node:crypto';
import { invalidClient } from '../oauth-error.ts';
import type { TokenCheck } from '../token-request.ts';

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Rule: a jku header is accepted only when it is exactly the client's registered JWKS URL (keys never come from the token). */
export const checkJku: TokenCheck = (ctx) => {
  const jku = ctx.header!.jku;
  if (jku === undefined) return;
  if (typeof jku !== 'string' || !ctx.client!.jwksUri || !sameString(jku, ctx.client!.jwksUri)) throw invalidClient('jku is not the registered JWKS URL');
};
