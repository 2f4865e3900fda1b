/**
 * Bearer token verification for the resource server. A verified token is cached until it
 * expires (keyed by its SHA-256, so the cache holds no usable token and a lookup reveals
 * nothing by timing); concurrent first uses of one token share one verification.
 * Failures are jose error codes mapped to a short reason, never jose's messages.
 */
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { joseReason } from './jose-reasons.ts';
import type { Principal } from './principal.ts';

export const MAX_TOKEN_LENGTH = 8192;

/** Why a token was refused (logged and audited; the client sees only invalid_token). */
export class InvalidToken extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidToken';
  }
}

/** The reason for a jose failure, by error code. */
export function reasonOf(e: unknown): string {
  if (e instanceof InvalidToken) return e.reason;
  return joseReason(e, 'token');
}

export interface VerifierDeps {
  /** Our own tokens. */
  own: (token: string) => Promise<Principal | undefined>;
  /** The external authorization server, when configured. */
  external?: { claims(payload: ReturnType<typeof decodeJwt>): boolean; verify(token: string): Promise<Principal | undefined> };
  maxCached?: number;
}

export class TokenVerifier {
  private readonly cache = new Map<string, Principal>();
  private readonly inflight = new Map<string, Promise<Principal>>();

  constructor(private readonly deps: VerifierDeps) {}

  /** The principal of a valid, unexpired token; throws InvalidToken otherwise. */
  async verify(token: string, now = Date.now() / 1000): Promise<Principal> {
    if (token.length > MAX_TOKEN_LENGTH) throw new InvalidToken('token too large');
    const key = createHash('sha256').update(token).digest('base64url');
    const hit = this.cache.get(key);
    if (hit) {
      if ((hit.exp ?? 0) > now) return hit;
      this.cache.delete(key);
      throw new InvalidToken('token expired');
    }
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.verifyUncached(token).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    const principal = await pending;
    this.remember(key, principal);
    return principal;
  }

  private async verifyUncached(token: string): Promise<Principal> {
    let payload: ReturnType<typeof decodeJwt>;
    try {
      payload = decodeJwt(token);
    } catch {
      throw new InvalidToken('malformed token');
    }
    // The unverified iss only picks the verifier; each verifier pins its own issuer again.
    const external = this.deps.external?.claims(payload) ? this.deps.external : undefined;
    let principal: Principal | undefined;
    try {
      principal = external ? await external.verify(token) : await this.deps.own(token);
    } catch (e) {
      throw new InvalidToken(reasonOf(e));
    }
    if (!principal || typeof principal.exp !== 'number') throw new InvalidToken('token lacks client, organisation or expiry');
    return principal;
  }

  private remember(key: string, principal: Principal): void {
    if (this.cache.has(key)) return;
    const max = this.deps.maxCached ?? 10_000;
    if (this.cache.size >= max) {
      // Drop expired entries first, then the oldest.
      const now = Date.now() / 1000;
      for (const [k, p] of this.cache) if ((p.exp ?? 0) <= now) this.cache.delete(k);
      while (this.cache.size >= max) this.cache.delete(this.cache.keys().next().value as string);
    }
    this.cache.set(key, principal);
  }
}
