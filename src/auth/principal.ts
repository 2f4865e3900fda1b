/** Who is calling, as a verified access token says: a Caller (shared/call-context.ts) and the token's facts. */
import type { Caller } from '../shared/call-context.ts';

export interface Principal extends Caller {
  /** Token expiry (epoch seconds), for caches. */
  exp?: number;
  /** Who issued the token: this server's issuer URL, or the external authorization server's. */
  issuer?: string;
}
