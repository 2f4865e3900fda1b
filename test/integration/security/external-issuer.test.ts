/**
 * Tokens from an external authorization server (a national gateway), with nock standing in
 * for the gateway's JWKS: accepted when issuer, audience, algorithm and key check out; the
 * ODS claim decides the organisation (and so the tenancy); anything else is 401.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import nock from 'nock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch } from '../../helpers/auth.ts';
import { A, startHarness, type Harness } from './harness.ts';

const GATEWAY = 'https://gateway.example.nhs.uk';
let h: Harness;
let gw1: { privateKey: CryptoKey; jwk: JWK };
let gw2: { privateKey: CryptoKey; jwk: JWK };
let patientOfRq1: string;

async function gatewayKey(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair('RS512');
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS512', use: 'sig' } };
}

async function gatewayToken(claims: JWTPayload = {}, key = gw1, alg = 'RS512'): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: GATEWAY, aud: h.fhir, sub: 'gw-app-1', client_id: 'gw-app-1', ods: 'RQ1', scope: 'system/Patient.rs system/Task.read', iat: now, exp: now + 120, ...claims })
    .setProtectedHeader({ alg, kid: key.jwk.kid as string }).sign(key.privateKey);
}

beforeAll(async () => {
  // nock 15's fetch interceptor cannot pass a request body through to loopback ("unusable"):
  // the POSTs of the setup run before it is active; the tests themselves only GET.
  nock.restore();
  [gw1, gw2] = await Promise.all([gatewayKey('gw-1'), gatewayKey('gw-2')]);
  h = await startHarness('sqlite', { ESO_EXTERNAL_ISSUER: GATEWAY, ESO_EXTERNAL_JWKS_URL: `${GATEWAY}/jwks`, ESO_EXTERNAL_ODS_CLAIM: 'ods', ESO_JWKS_COOLDOWN_MS: '0' });
  const own = await h.token(A.clientId);
  const res = await fhirFetch(own, `${h.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', gender: 'female' } });
  patientOfRq1 = ((await res.json()) as { id: string }).id;
  nock.activate();
  nock.disableNetConnect();
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  nock(GATEWAY).persist().get('/jwks').reply(200, () => ({ keys: [gw1.jwk] }), { 'Cache-Control': 'max-age=3600' });
});
afterAll(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  nock.restore();
  await h?.stop();
});

describe('external authorization server', () => {
  it('when the gateway\'s token names RQ1, then it reads RQ1\'s records', async () => {
    const res = await fhirFetch(await gatewayToken(), `${h.fhir}/Patient/${patientOfRq1}`);
    expect(res.status).toBe(200);
  });

  it('when the gateway\'s token names another organisation, then RQ1\'s records are 404', async () => {
    expect((await fhirFetch(await gatewayToken({ ods: 'RJ7' }), `${h.fhir}/Patient/${patientOfRq1}`)).status).toBe(404);
  });

  it('when the scopes of the gateway\'s token do not cover the type, then 403', async () => {
    expect((await fhirFetch(await gatewayToken(), `${h.fhir}/Consent`)).status).toBe(403);
    expect((await fhirFetch(await gatewayToken({ scope: 'user/*.read patient/*.read' }), `${h.fhir}/Patient`)).status).toBe(403);
  });

  it.each([
    ['another audience', { aud: 'https://someone-else.example/fhir' }],
    ['no ODS claim', { ods: undefined }],
    ['an ODS claim that is not an ODS code', { ods: 'rq1; drop' }],
    ['an expired exp', { exp: Math.floor(Date.now() / 1000) - 10 }],
  ])('when the gateway\'s token has %s, then 401', async (_name, claims) => {
    const res = await fhirFetch(await gatewayToken(claims), `${h.fhir}/Patient`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  });

  it('when a token claims the gateway as issuer but is signed with another key or HS256, then 401', async () => {
    const stranger = await gatewayKey('gw-1');
    expect((await fhirFetch(await gatewayToken({}, stranger), `${h.fhir}/Patient`)).status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const hs = await new SignJWT({ iss: GATEWAY, aud: h.fhir, client_id: 'x', ods: 'RQ1', scope: 'system/*.rs', exp: now + 60 })
      .setProtectedHeader({ alg: 'HS256', kid: 'gw-1' }).sign(new TextEncoder().encode(JSON.stringify(gw1.jwk)));
    expect((await fhirFetch(hs, `${h.fhir}/Patient`)).status).toBe(401);
  });

  it('when the gateway rotates to a new key, then the unknown kid makes the server refetch the JWKS', async () => {
    nock.cleanAll();
    nock(GATEWAY).persist().get('/jwks').reply(200, () => ({ keys: [gw1.jwk, gw2.jwk] }), { 'Cache-Control': 'max-age=3600' });
    expect((await fhirFetch(await gatewayToken({}, gw2), `${h.fhir}/Patient/${patientOfRq1}`)).status).toBe(200);
  });
});
