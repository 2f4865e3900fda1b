/** Bearer verification: a token is verified once and cached until it expires; failures carry a jose-code reason. */
import { describe, expect, it } from 'vitest';
import { errors } from 'jose';
import type { Principal } from '../../../src/auth/principal.ts';
import { InvalidToken, TokenVerifier } from '../../../src/auth/token-verifier.ts';

const jwtLike = (n: number) => `eyJhbGciOiJFUzM4NCJ9.${Buffer.from(JSON.stringify({ iss: 'x', n })).toString('base64url')}.sig`;

describe('TokenVerifier', () => {
  it('when one token is used many times, then it is verified once', async () => {
    let calls = 0;
    const v = new TokenVerifier({ own: async () => { calls++; return { clientId: 'c', organization: 'RQ1', scopes: [], exp: Date.now() / 1000 + 60 } as Principal; } });
    await Promise.all([v.verify(jwtLike(1)), v.verify(jwtLike(1))]);
    await v.verify(jwtLike(1));
    expect(calls).toBe(1);
  });

  it('when a cached token reaches its exp, then it is refused as expired', async () => {
    const exp = Date.now() / 1000 + 60;
    const v = new TokenVerifier({ own: async () => ({ clientId: 'c', organization: 'RQ1', scopes: [], exp }) });
    await v.verify(jwtLike(2));
    await expect(v.verify(jwtLike(2), exp + 1)).rejects.toMatchObject({ reason: 'token expired' });
  });

  it('when jose refuses, then the reason comes from its error code', async () => {
    const v = new TokenVerifier({ own: async () => { throw new errors.JWSSignatureVerificationFailed(); } });
    await expect(v.verify(jwtLike(3))).rejects.toMatchObject({ reason: 'signature invalid' });
    await expect(v.verify('not a jwt')).rejects.toBeInstanceOf(InvalidToken);
    await expect(v.verify('x'.repeat(9000))).rejects.toMatchObject({ reason: 'token too large' });
  });

  it('when the cache is full, then it stays bounded: the oldest tokens are dropped and verified again when used', async () => {
    const verified: number[] = [];
    const own = async (token: string) => {
      verified.push(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).n);
      return { clientId: 'c', organization: 'RQ1', scopes: [], exp: Date.now() / 1000 + 60 } as Principal;
    };
    const v = new TokenVerifier({ own, maxCached: 10 });
    for (let i = 0; i < 50; i++) await v.verify(jwtLike(100 + i));
    expect(verified).toHaveLength(50);
    // The last ten are still cached: no verification.
    for (let i = 149; i >= 140; i--) await v.verify(jwtLike(i));
    expect(verified).toHaveLength(50);
    // Anything older was dropped: it is verified again.
    await v.verify(jwtLike(139));
    await v.verify(jwtLike(100));
    expect(verified.slice(50)).toEqual([139, 100]);
  });
});
