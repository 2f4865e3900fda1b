import { invalidRequest } from '../oauth-error.ts';
import { MAX_ASSERTION_BYTES, type TokenCheck } from '../token-request.ts';

/** Rule: an assertion is at most 8 KB (nothing larger is parsed or verified). */
export const checkAssertionSize: TokenCheck = (ctx) => {
  if (Buffer.byteLength(ctx.assertion!, 'utf8') > MAX_ASSERTION_BYTES) throw invalidRequest(`client_assertion is larger than ${MAX_ASSERTION_BYTES} bytes`);
};
