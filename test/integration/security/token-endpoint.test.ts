/**
 * POST /auth/token over real HTTP, trying to break in: every refusal asserts the exact OAuth
 * error and status, and that the error body says nothing more than {error, error_description}.
 */
import { generateKeyPair, exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addClient, generateClientKey } from '../../../src/auth/client-admin.ts';
import { clientsFileIn, getToken, postTokenRequest } from '../../helpers/auth.ts';
import { backends } from '../../helpers/backends.ts';
import { craftAssertion, hmacWithPublicKey, publicOf, unsignedAssertion, type Craft } from './assertions.ts';
import { A, B, NARROW, startHarness, type Harness } from './harness.ts';

describe.each(backends())('token endpoint on %s', (backend) => {
  let h: Harness;
  const tokenUrl = () => `${h.url}/auth/token`;
  const craft = (c: Craft = {}, clientId = A.clientId) => craftAssertion(clientId, h.keys[clientId], tokenUrl(), c);

  beforeAll(async () => { h = await startHarness(backend); });
  afterAll(async () => { await h?.stop(); });

  async function expectRefused(assertion: string, error: string, status: number, scope = 'system/*.rs') {
    const res = await postTokenRequest(h.url, assertion, scope);
    expect({ status: res.status, error: res.body.error }).toEqual({ status, error });
    expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
    expect(res.headers.get('cache-control')).toBe('no-store');
    if (error === 'invalid_client') expect(res.body.error_description).toBe('Client authentication failed');
  }

  it('when a registered client sends a good assertion, then it gets a bearer token of at most 300 s, never cached', async () => {
    const res = await postTokenRequest(h.url, await craft(), 'system/Task.rs system/ServiceRequest.rs');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'bearer', scope: 'system/Task.rs system/ServiceRequest.rs', access_token: expect.any(String) });
    expect(res.body.expires_in).toBeLessThanOrEqual(300);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('when the assertion is unsigned (alg none), then invalid_client', async () => {
    await expectRefused(unsignedAssertion(A.clientId, h.keys[A.clientId].kid!, tokenUrl()), 'invalid_client', 401);
  });

  it('when the assertion is HS256 with the public key as secret, then invalid_client', async () => {
    await expectRefused(await hmacWithPublicKey(A.clientId, publicOf(h.keys[A.clientId]), tokenUrl()), 'invalid_client', 401);
  });

  it('when the assertion is signed RS256, then invalid_client', async () => {
    const rsa = { ...(await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey)) };
    await expectRefused(await craft({ key: rsa, alg: 'RS256' }), 'invalid_client', 401);
  });

  it('when the assertion has expired, then invalid_client', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(await craft({ claims: { iat: now - 600, exp: now - 300 } }), 'invalid_client', 401);
  });

  it('when exp is more than 5 minutes ahead, then invalid_client', async () => {
    await expectRefused(await craft({ claims: { exp: Math.floor(Date.now() / 1000) + 600 } }), 'invalid_client', 401);
  });

  it('when aud is not the token endpoint, then invalid_client', async () => {
    await expectRefused(await craft({ claims: { aud: `${h.url}/auth` } }), 'invalid_client', 401);
    await expectRefused(await craft({ claims: { aud: 'https://other-trust.example/auth/token' } }), 'invalid_client', 401);
  });

  it('when iss and sub differ, then invalid_client', async () => {
    await expectRefused(await craft({ claims: { sub: B.clientId } }), 'invalid_client', 401);
  });

  it('when the client is unknown, then invalid_client', async () => {
    await expectRefused(await craft({ claims: { iss: 'stranger', sub: 'stranger' } }), 'invalid_client', 401);
  });

  it('when the kid is not a registered key, then invalid_client', async () => {
    await expectRefused(await craft({ header: { kid: 'not-registered' } }), 'invalid_client', 401);
  });

  it('when a client signs with another client\'s kid, then invalid_client', async () => {
    await expectRefused(await craft({ header: { kid: h.keys[B.clientId].kid } }), 'invalid_client', 401);
  });

  it('when the jti is replayed, then invalid_client', async () => {
    const a = await craft();
    expect((await postTokenRequest(h.url, a)).status).toBe(200);
    await expectRefused(a, 'invalid_client', 401);
  });

  it('when jku points elsewhere, then invalid_client', async () => {
    await expectRefused(await craft({ header: { jku: 'https://attacker.example/jwks.json' } }), 'invalid_client', 401);
  });

  it('when the payload is tampered after signing, then invalid_client', async () => {
    const [head, , sig] = (await craft()).split('.');
    const now = Math.floor(Date.now() / 1000);
    const forged = Buffer.from(JSON.stringify({ iss: B.clientId, sub: B.clientId, aud: tokenUrl(), exp: now + 60, jti: 'forged' })).toString('base64url');
    await expectRefused(`${head}.${forged}.${sig}`, 'invalid_client', 401);
  });

  it('when the assertion is signed by another key under the registered kid, then invalid_client', async () => {
    const other = (await generateClientKey('ES384')).privateJwk;
    await expectRefused(await craft({ key: other }), 'invalid_client', 401);
  });

  it('when the assertion is 100 KB, then invalid_request', async () => {
    await expectRefused(await craft({ claims: { pad: 'x'.repeat(100 * 1024) } }), 'invalid_request', 400);
  });

  it('when no requested scope is allowed, then invalid_scope; when some are, then the grant is the intersection', async () => {
    await expectRefused(await craft({}, NARROW.clientId), 'invalid_scope', 400, 'system/Patient.rs');
    const res = await postTokenRequest(h.url, await craft({}, NARROW.clientId), 'system/Task.cruds system/ServiceRequest.read system/Patient.rs');
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('system/Task.rs system/ServiceRequest.read');
  });

  it('when the grant type or the body is wrong, then unsupported_grant_type or invalid_request', async () => {
    const body = new URLSearchParams({ grant_type: 'authorization_code', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await craft(), scope: 'system/*.rs' });
    let res = await fetch(tokenUrl(), { method: 'POST', body });
    expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([400, 'unsupported_grant_type']);
    res = await fetch(tokenUrl(), { method: 'POST', body: JSON.stringify({ grant_type: 'client_credentials' }), headers: { 'content-type': 'application/json' } });
    expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([400, 'invalid_request']);
    res = await fetch(`${tokenUrl()}?grant_type=client_credentials`);
    expect(res.status).toBe(405);
  });

  it('when an RS384 client is added while the server runs, then it gets a token and its Organization exists', async () => {
    const { privateJwk } = await addClient(clientsFileIn(h.clientsDir), { clientId: 'rh8-engine', organization: 'RH8', alg: 'RS384', scopes: ['system/Organization.rs'] });
    await new Promise((r) => setTimeout(r, 1100)); // the file is looked at no more than once a second
    const token = await getToken(h.url, 'rh8-engine', privateJwk!, 'system/Organization.rs');
    const res = await fetch(`${h.fhir}/Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|RH8`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await res.json()) as { entry?: unknown[] }).entry).toHaveLength(1);
  });
});

describe('token endpoint across a restart', () => {
  let h: Harness;
  // A fixed public base URL: the audience stays the same when the port changes.
  const BASE = 'https://eso-bridge.test';
  beforeAll(async () => { h = await startHarness('sqlite', { ESO_BASE_URL: BASE }); });
  afterAll(async () => { await h?.stop(); });

  it('when a used assertion is replayed after a restart on the same data dir, then invalid_client', async () => {
    const a = await craftAssertion(A.clientId, h.keys[A.clientId], `${BASE}/auth/token`);
    expect((await postTokenRequest(h.url, a)).status).toBe(200);
    await h.restart();
    const res = await postTokenRequest(h.url, a);
    expect([res.status, res.body.error]).toEqual([401, 'invalid_client']);
    const fresh = await craftAssertion(A.clientId, h.keys[A.clientId], `${BASE}/auth/token`);
    expect((await postTokenRequest(h.url, fresh)).status).toBe(200);
  });
});
