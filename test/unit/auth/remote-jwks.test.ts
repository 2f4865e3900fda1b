/** RemoteJwks against a stand-in JWKS server (nock): caching by Cache-Control, refetch on unknown kid, timeout, size. */
import { generateKeyPair, exportJWK, type JWK } from 'jose';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { maxAgeMs, RemoteJwks } from '../../../src/auth/remote-jwks.ts';

const HOST = 'https://gateway.example';
let k1: JWK;
let k2: JWK;

async function publicJwk(kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('ES384');
  return { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' };
}

beforeAll(async () => {
  nock.disableNetConnect();
  k1 = await publicJwk('k1');
  k2 = await publicJwk('k2');
});
afterEach(() => nock.cleanAll());

/**
 * Serves `sets` at HOST/jwks, one per fetch (the last again for any further fetch), and counts
 * the fetches: `hits()`.
 */
function serveJwks(sets: JWK[][], cacheControl: string): { hits: () => number } {
  let n = 0;
  nock(HOST).get('/jwks').times(100).reply(() => {
    const keys = sets[Math.min(n, sets.length - 1)];
    n++;
    return [200, { keys }, { 'Cache-Control': cacheControl }];
  });
  return { hits: () => n };
}
afterAll(() => nock.enableNetConnect());

describe('maxAgeMs', () => {
  it.each([
    ['public, max-age=60', 60_000], ['max-age=0', 0], ['no-store', 0], ['no-cache, max-age=100', 0], [null, undefined], ['private', undefined], ['max-age=99999999', 86_400_000],
  ])('when Cache-Control is %s, then the cache time is %s', (header, expected) => {
    expect(maxAgeMs(header)).toBe(expected);
  });
});

describe('RemoteJwks', () => {
  it('when the same kid is asked twice within max-age, then the JWKS is fetched once', async () => {
    const server = serveJwks([[k1]], 'max-age=300');
    const jwks = new RemoteJwks(`${HOST}/jwks`, { cooldownMs: 0 });
    await jwks.getKey({ kid: 'k1', alg: 'ES384' });
    await jwks.getKey({ kid: 'k1', alg: 'ES384' });
    expect(server.hits()).toBe(1);
  });

  it('when max-age has passed, then the JWKS is fetched again', async () => {
    const server = serveJwks([[k1]], 'max-age=0');
    const jwks = new RemoteJwks(`${HOST}/jwks`, { cooldownMs: 0 });
    await jwks.getKey({ kid: 'k1', alg: 'ES384' });
    await jwks.getKey({ kid: 'k1', alg: 'ES384' });
    expect(server.hits()).toBe(2);
  });

  it('when a token names a kid not in the cached set, then the set is refetched once and the new key is found', async () => {
    const server = serveJwks([[k1], [k1, k2]], 'max-age=3600');
    const jwks = new RemoteJwks(`${HOST}/jwks`, { cooldownMs: 0 });
    await jwks.getKey({ kid: 'k1', alg: 'ES384' });
    expect(server.hits()).toBe(1);
    await expect(jwks.getKey({ kid: 'k2', alg: 'ES384' })).resolves.toBeDefined();
    expect(server.hits(), 'one refetch for the unknown kid').toBe(2);
    // The refetched set is now cached: both kids are known without another fetch.
    await jwks.getKey({ kid: 'k2', alg: 'ES384' });
    await jwks.getKey({ kid: 'k1', alg: 'ES384' });
    expect(server.hits()).toBe(2);
  });

  it('when unknown kids arrive within the cooldown, then no refetch happens and the kid is refused', async () => {
    const server = serveJwks([[k1]], 'max-age=3600');
    const jwks = new RemoteJwks(`${HOST}/jwks`, { cooldownMs: 60_000 });
    await jwks.getKey({ kid: 'k1', alg: 'ES384' });
    await expect(jwks.getKey({ kid: 'nope', alg: 'ES384' })).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    await expect(jwks.getKey({ kid: 'nope2', alg: 'ES384' })).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(server.hits()).toBe(1);
  });

  it('when the key type does not fit the algorithm, then it is not used', async () => {
    nock(HOST).get('/jwks').reply(200, { keys: [k1] });
    const jwks = new RemoteJwks(`${HOST}/jwks`, { cooldownMs: 60_000 });
    await expect(jwks.getKey({ kid: 'k1', alg: 'RS384' })).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    await expect(jwks.getKey({ kid: 'k1', alg: 'HS256' })).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('when the JWKS server is slow, then the fetch times out', async () => {
    nock(HOST).get('/jwks').delay(2000).reply(200, { keys: [k1] });
    const jwks = new RemoteJwks(`${HOST}/jwks`, { timeoutMs: 100 });
    await expect(jwks.getKey({ kid: 'k1', alg: 'ES384' })).rejects.toMatchObject({ code: 'ERR_JWKS_TIMEOUT' });
  });

  it('when the JWKS is too large or not a key set, then it is refused', async () => {
    nock(HOST).get('/big').reply(200, { keys: [k1], pad: 'x'.repeat(100_000) });
    await expect(new RemoteJwks(`${HOST}/big`).getKey({ kid: 'k1', alg: 'ES384' })).rejects.toMatchObject({ code: 'ERR_JWKS_INVALID' });
    nock(HOST).get('/bad').reply(200, { nokeys: true });
    await expect(new RemoteJwks(`${HOST}/bad`).getKey({ kid: 'k1', alg: 'ES384' })).rejects.toMatchObject({ code: 'ERR_JWKS_INVALID' });
  });

  it('when the server answers a redirect or an error, then no key is used', async () => {
    nock(HOST).get('/moved').reply(302, '', { Location: 'https://attacker.example/jwks' });
    await expect(new RemoteJwks(`${HOST}/moved`).getKey({ kid: 'k1', alg: 'ES384' })).rejects.toBeDefined();
    nock(HOST).get('/down').reply(503);
    await expect(new RemoteJwks(`${HOST}/down`).getKey({ kid: 'k1', alg: 'ES384' })).rejects.toBeDefined();
  });
});
