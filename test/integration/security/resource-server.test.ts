/**
 * The resource server over real HTTP: which endpoints are public, and every way a bad bearer
 * token is refused (401 + WWW-Authenticate: Bearer error="invalid_token"), and scopes (403).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJsonFile } from '../../../src/auth/json-file.ts';
import { currentKey, importSigningKey, parseServerKeyFile, publicJwks } from '../../../src/auth/server-keys.ts';
import { fhirFetch } from '../../helpers/auth.ts';
import { craftAssertion } from './assertions.ts';
import { A, NARROW, startHarness, type Harness } from './harness.ts';

let h: Harness;
let other: Harness;
beforeAll(async () => {
  [h, other] = await Promise.all([startHarness(), startHarness()]);
});
afterAll(async () => { await Promise.all([h?.stop(), other?.stop()]); });

/** An access token signed with this server's own key file, claims as asked (for expiry and claim tests). */
async function ownKeyToken(claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const key = currentKey(parseServerKeyFile(await readJsonFile(join(h.dataDir, 'signing-keys.json'))));
  const now = Math.floor(Date.now() / 1000);
  const payload: JWTPayload = { iss: `${h.url}/auth`, aud: `${h.url}/fhir`, sub: A.clientId, client_id: A.clientId, ods_code: 'RQ1', scope: 'system/*.cruds',
    iat: now, exp: now + 60, jti: randomUUID(), ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES384', kid: key.kid, typ: 'at+jwt', ...header }).sign(await importSigningKey(key));
}

async function expect401(token: string | undefined, headers: Record<string, string> = {}) {
  const res = await fhirFetch(token, `${h.fhir}/Task`, { headers });
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
}

describe('public endpoints', () => {
  it('when metadata, discovery, the JWKS and health are fetched without a token, then they answer', async () => {
    for (const path of ['/fhir/metadata', '/fhir/.well-known/smart-configuration', '/auth/jwks', '/healthz', '/readyz']) {
      expect((await fetch(`${h.url}${path}`)).status, path).toBe(200);
    }
  });

  it('when discovery is asked for XML, then it is still JSON with absolute URLs', async () => {
    const res = await fetch(`${h.url}/fhir/.well-known/smart-configuration`, { headers: { accept: 'application/fhir+xml' } });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({
      token_endpoint: `${h.url}/auth/token`, grant_types_supported: ['client_credentials'], token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'], scopes_supported: expect.arrayContaining(['system/*.cruds', 'system/Task.rs']),
      capabilities: expect.arrayContaining(['client-confidential-asymmetric', 'permission-v1', 'permission-v2']),
    });
  });

  it('when the CapabilityStatement is read, then rest.security says SMART-on-FHIR with the token URL', async () => {
    const cs = (await (await fetch(`${h.fhir}/metadata`)).json()) as { rest: { security: { service: { coding: unknown[] }[]; extension: { url: string; extension: { url: string; valueUri: string }[] }[] } }[] };
    const sec = cs.rest[0].security;
    expect(sec.service[0].coding).toContainEqual(expect.objectContaining({ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }));
    const oauth = sec.extension.find((e) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    expect(oauth?.extension).toContainEqual({ url: 'token', valueUri: `${h.url}/auth/token` });
  });

  it('when the JWKS is published, then it holds public keys only', async () => {
    const jwks = (await (await fetch(`${h.url}/auth/jwks`)).json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys.length).toBeGreaterThan(0);
    for (const k of jwks.keys) expect(k).not.toHaveProperty('d');
  });
});

describe('bearer tokens refused with 401', () => {
  it('when there is no token, then 401', async () => { await expect401(undefined); });

  it('when the Authorization header is not a bearer token, then 401', async () => {
    await expect401(undefined, { authorization: 'Basic cnExOnNlY3JldA==' });
    await expect401(undefined, { authorization: 'Bearer' });
    await expect401(undefined, { authorization: 'Bearer a b' });
  });

  it('when the token is garbage, then 401', async () => { await expect401('abc.def.ghi'); await expect401('not-a-jwt'); });

  it('when the token has expired, then 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expect401(await ownKeyToken({ iat: now - 400, exp: now - 100 }));
  });

  it('when a token is used after it expires, then the cache does not keep it alive', async () => {
    const token = await ownKeyToken({ exp: Math.floor(Date.now() / 1000) + 2 });
    expect((await fhirFetch(token, `${h.fhir}/Task`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 3000));
    await expect401(token);
  });

  it('when the token comes from another eso-bridge server, then 401', async () => {
    await expect401(await other.token(A.clientId));
  });

  it('when a token signed with our real key carries no kid, then 401: keys are chosen by kid only', async () => {
    await expect401(await ownKeyToken({}, { kid: undefined }));
  });

  it('when a token carries our kid but another key signed it, then 401', async () => {
    const { privateKey } = await generateKeyPair('ES384');
    const kid = (await (await fetch(`${h.url}/auth/jwks`)).json() as { keys: { kid: string }[] }).keys[0].kid;
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ iss: `${h.url}/auth`, aud: `${h.url}/fhir`, sub: A.clientId, client_id: A.clientId, ods_code: 'RJ7', scope: 'system/*.cruds', iat: now, exp: now + 60, jti: 'x' })
      .setProtectedHeader({ alg: 'ES384', kid, typ: 'at+jwt' }).sign(privateKey);
    await expect401(forged);
  });

  it('when a token is HS256 with our public key as the secret, or unsigned, then 401', async () => {
    const jwks = publicJwks(parseServerKeyFile(await readJsonFile(join(h.dataDir, 'signing-keys.json'))));
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: `${h.url}/auth`, aud: `${h.url}/fhir`, sub: A.clientId, client_id: A.clientId, ods_code: 'RQ1', scope: 'system/*.cruds', iat: now, exp: now + 60 };
    await expect401(await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: jwks.keys[0].kid, typ: 'at+jwt' }).sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0]))));
    const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    await expect401(`${enc({ alg: 'none', typ: 'at+jwt' })}.${enc(claims)}.`);
  });

  it('when the token is for another audience or issuer, or is not an access token, then 401', async () => {
    await expect401(await ownKeyToken({ aud: 'https://another-trust.example/fhir' }));
    await expect401(await ownKeyToken({ iss: 'https://another-trust.example/auth' }));
    await expect401(await ownKeyToken({}, { typ: 'JWT' }));
    await expect401(await craftAssertion(A.clientId, h.keys[A.clientId], `${h.url}/auth/token`)); // a client assertion is no access token
  });

  it('when a token\'s payload is changed to widen its scope or organisation, then 401', async () => {
    const token = await h.token(NARROW.clientId, 'system/Task.rs');
    const [head, body, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'system/*.cruds', ods_code: 'RJ7' })).toString('base64url');
    await expect401(`${head}.${widened}.${sig}`);
  });
});

describe('scopes refused with 403', () => {
  let narrow: string;
  beforeAll(async () => { narrow = await h.token(NARROW.clientId, 'system/Task.rs system/ServiceRequest.read'); });

  async function status(url: string, init: Parameters<typeof fhirFetch>[2] = {}) {
    const res = await fhirFetch(narrow, url, init);
    const body = (await res.json()) as { resourceType?: string };
    if (res.status === 403) expect(body.resourceType).toBe('OperationOutcome');
    return res.status;
  }

  it('when the scope covers the type and interaction, then it is allowed', async () => {
    expect(await status(`${h.fhir}/Task`)).toBe(200);
    expect(await status(`${h.fhir}/ServiceRequest`)).toBe(200);
  });

  it('when the type or the interaction is not in scope, then 403', async () => {
    expect(await status(`${h.fhir}/Patient`)).toBe(403);
    expect(await status(`${h.fhir}/Task`, { method: 'POST', json: { resourceType: 'Task', status: 'requested', intent: 'order' } })).toBe(403);
    expect(await status(`${h.fhir}/AuditEvent`)).toBe(403);
  });

  it('when _include or _revinclude reaches a type not in scope, then 403', async () => {
    expect(await status(`${h.fhir}/Task?_include=Task:patient`)).toBe(403);
    expect(await status(`${h.fhir}/ServiceRequest?_revinclude=Provenance:target`)).toBe(403);
  });

  it('when a transaction holds an entry not in scope, then 403', async () => {
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'GET', url: 'Patient?_count=1' } }] };
    expect(await status(h.fhir, { method: 'POST', json: bundle })).toBe(403);
  });

  it('when a client with every scope tries to write an AuditEvent, then 403', async () => {
    const all = await h.token(A.clientId);
    const res = await fhirFetch(all, `${h.fhir}/AuditEvent`, { method: 'POST', json: { resourceType: 'AuditEvent', type: { code: 'rest' }, recorded: new Date().toISOString(), agent: [{ requestor: true }], source: { observer: { display: 'x' } } } });
    expect(res.status).toBe(403);
  });
});

describe('a public key is never enough', () => {
  it('when the server\'s public JWK is turned into a signing key, then it cannot sign', async () => {
    const jwks = (await (await fetch(`${h.url}/auth/jwks`)).json()) as { keys: Record<string, string>[] };
    await expect(import('jose').then((j) => j.importJWK(jwks.keys[0], 'ES384')).then((k) => new SignJWT({}).setProtectedHeader({ alg: 'ES384' }).sign(k as CryptoKey))).rejects.toBeDefined();
    expect(await exportJWK((await generateKeyPair('ES384')).publicKey)).not.toHaveProperty('d');
  });
});
