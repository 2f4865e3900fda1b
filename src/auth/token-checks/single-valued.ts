import { invalidRequest } from '../oauth-error.ts';
import type { TokenCheck } from '../token-request.ts';

/** Rule: each request parameter is a single string; none is sent twice (RFC 6749 §3.2). */
export const checkSingleValued: TokenCheck = (ctx) => {
  for (const [name, value] of Object.entries(ctx.params)) {
    if (value !== undefined && typeof value !== 'string') throw invalidRequest(`Parameter ${name.slice(0, 40)} must be sent once`);
  }
};
