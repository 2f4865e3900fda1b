/** The server key file: created once, rotated with the old key kept until its tokens have expired, then dropped. */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { issueAccessToken, verifyOwnAccessToken } from '../../../src/auth/access-token.ts';
import { readJsonFile } from '../../../src/auth/json-file.ts';
import { ServerKeyStore } from '../../../src/auth/server-key-store.ts';
import { currentKey, loadOrCreateKeyFile, parseServerKeyFile, publicJwks, rotateKeyFile, type ServerKeyFile } from '../../../src/auth/server-keys.ts';
import { createLogger } from '../../../src/shared/logger.ts';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'eso-keys-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const settings = { issuer: 'https://eso.example/auth', audience: 'https://eso.example/fhir', lifetimeSeconds: 300 };
const principal = { clientId: 'rq1-epr', organization: 'RQ1', scopes: ['system/Task.rs'] };

describe('server signing keys', () => {
  it('when the server starts on an empty data dir, then one private ES384 key is created, readable by the owner only', async () => {
    const path = join(dir, 'signing-keys.json');
    const file = await loadOrCreateKeyFile(path);
    expect(file.keys).toHaveLength(1);
    expect(file.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384', d: expect.any(String) });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await loadOrCreateKeyFile(path)).keys[0].kid).toBe(file.keys[0].kid);
  });

  it('when the JWKS is published, then it holds no private member', async () => {
    const jwks = publicJwks(await loadOrCreateKeyFile(join(dir, 'k.json')));
    expect(JSON.stringify(jwks)).not.toMatch(/"d"/);
    expect(jwks.keys[0]).toMatchObject({ use: 'sig', alg: 'ES384' });
  });

  it('when keys are rotated, then the new key signs, the old one is retired and kept; retired keys older than lifetime + 60 s are dropped', async () => {
    const path = join(dir, 'k.json');
    const first = (await loadOrCreateKeyFile(path)).keys[0].kid;
    const t0 = new Date('2030-01-01T00:00:00Z');
    const r1 = await rotateKeyFile(path, 300, t0);
    expect(r1.retired).toEqual([first]);
    let file = (await readJsonFile(path)) as ServerKeyFile;
    expect(currentKey(file).kid).toBe(r1.current);
    expect(file.keys.find((k) => k.kid === first)?.retiredAt).toBe(t0.toISOString());
    const r2 = await rotateKeyFile(path, 300, new Date(t0.getTime() + 359_000));
    expect(r2.dropped).toEqual([]);
    const r3 = await rotateKeyFile(path, 300, new Date(t0.getTime() + 361_000));
    expect(r3.dropped).toEqual([first]);
    file = (await readJsonFile(path)) as ServerKeyFile;
    expect(file.keys.map((k) => k.kid)).not.toContain(first);
  });

  it('when a running store sees the file rotated, then it signs with the new key and still verifies tokens of the old one', async () => {
    // The store looks at the file at most once a second (by Date.now): that second passes on a fake clock.
    vi.useFakeTimers({ toFake: ['Date'] });
    onTestFinished(() => { vi.useRealTimers(); });
    const path = join(dir, 'k.json');
    const store = await ServerKeyStore.open(path, 300, createLogger('silent'));
    const before = await store.signingKey();
    const oldToken = await issueAccessToken(before, settings, principal);
    await rotateKeyFile(path, 300);
    vi.setSystemTime(Date.now() + 1100);
    const after = await store.signingKey();
    expect(after.kid).not.toBe(before.kid);
    await expect(verifyOwnAccessToken(oldToken, store.verificationKey, settings)).resolves.toMatchObject({ clientId: 'rq1-epr', organization: 'RQ1' });
    const newToken = await issueAccessToken(after, settings, principal);
    await expect(verifyOwnAccessToken(newToken, store.verificationKey, settings)).resolves.toMatchObject({ scopes: ['system/Task.rs'] });
  });

  it('when the key file holds a public or non-P-384 key, then it is refused', () => {
    expect(() => parseServerKeyFile({ kty: 'EC', crv: 'P-384', kid: 'x', x: 'a', y: 'b' })).toThrow(/private EC P-384/);
    expect(() => parseServerKeyFile({ keys: [{ kty: 'RSA', kid: 'x', d: 'a' }] })).toThrow(/private EC P-384/);
  });
});
