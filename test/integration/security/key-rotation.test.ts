/** `npm run cli -- keys rotate` against a running server: new tokens carry the new kid, old tokens keep working until they expire. */
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateKeyFile } from '../../../src/auth/server-keys.ts';
import { fhirFetch } from '../../helpers/auth.ts';
import { A, startHarness, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h?.stop(); });

describe('server key rotation', () => {
  it('when the keys are rotated while the server runs, then new tokens use the new key and old tokens stay valid', async () => {
    const before = await h.token(A.clientId);
    const rotated = await rotateKeyFile(join(h.dataDir, 'signing-keys.json'), 300);
    await new Promise((r) => setTimeout(r, 1100)); // the key file is looked at no more than once a second
    const after = await h.token(A.clientId);
    expect(decodeProtectedHeader(after).kid).toBe(rotated.current);
    expect(decodeProtectedHeader(before).kid).not.toBe(rotated.current);
    expect((await fhirFetch(before, `${h.fhir}/Patient`)).status).toBe(200);
    expect((await fhirFetch(after, `${h.fhir}/Patient`)).status).toBe(200);
    const jwks = (await (await fetch(`${h.url}/auth/jwks`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([decodeProtectedHeader(before).kid, rotated.current]));
  });

  it('when the server restarts, then tokens it issued before still verify (the key is in the data dir)', async () => {
    const token = await h.token(A.clientId);
    await h.restart({ ESO_BASE_URL: h.url }); // same public URL, so issuer and audience are unchanged
    expect((await fhirFetch(token, `${h.fhir}/Patient`)).status).toBe(200);
  });
});
