/**
 * The token endpoint's pipeline without HTTP: every refusal asserts the OAuth error and the
 * check that refused (reason), with a frozen `now` and assertions crafted claim by claim.
 */
import { base64url, exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateClientKey } from '../../../src/auth/client-admin.ts';
import type { RegisteredClient } from '../../../src/auth/client-file.ts';
import { verifyKeyFrom } from '../../../src/auth/jwk-select.ts';
import { isOAuthError } from '../../../src/auth/oauth-error.ts';
import { handleTokenRequest, type TokenEndpointDeps } from '../../../src/auth/token-endpoint.ts';
import { JWT_BEARER } from '../../../src/auth/token-request.ts';

const NOW = 1_800_000_000;
const TOKEN_URL = 'https://eso.example/auth/token';
let privateJwk: JWK;
let client: RegisteredClient;
let seen: Set<string>;

function deps(): TokenEndpointDeps {
  return {
    findClient: async (id) => (id === client.clientId ? client : undefined),
    clientKey: async (c, header) => verifyKeyFrom(c.jwks!.keys, header),
    tokenUrl: () => TOKEN_URL,
    recordJti: async (id, jti) => (seen.has(`${id}|${jti}`) ? false : (seen.add(`${id}|${jti}`), true)),
    lifetimeSeconds: 300,
    sign: async () => 'signed-token',
  };
}

async function assertion(claims: JWTPayload = {}, header: Record<string, unknown> = {}, key: JWK = privateJwk): Promise<string> {
  const { importJWK } = await import('jose');
  const payload = { iss: 'rq1-epr', sub: 'rq1-epr', aud: TOKEN_URL, exp: NOW + 120, iat: NOW, jti: `jti-${Math.random()}`, ...claims };
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES384', kid: key.kid, ...header }).sign(await importJWK(key, 'ES384'));
}

function params(a: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: a, scope: 'system/Task.rs', ...extra };
}

async function refusal(p: Record<string, unknown>): Promise<[string, number, string]> {
  try {
    await handleTokenRequest({ params: p, now: NOW }, deps());
  } catch (e) {
    if (isOAuthError(e)) return [e.error, e.status, e.reason];
    throw e;
  }
  return ['none', 200, 'issued'];
}

beforeAll(async () => {
  const k = await generateClientKey('ES384');
  privateJwk = k.privateJwk;
  client = { clientId: 'rq1-epr', organization: 'RQ1', scopes: ['system/*.cruds'], jwks: { keys: [k.publicJwk] } };
});

describe('token endpoint pipeline', () => {
  beforeAll(() => { seen = new Set(); });

  it('when the assertion is good, then a bearer token for the granted scopes is issued', async () => {
    const out = await handleTokenRequest({ params: params(await assertion()), now: NOW }, deps());
    expect(out.response).toEqual({ access_token: 'signed-token', token_type: 'bearer', expires_in: 300, scope: 'system/Task.rs' });
    expect(out.principal).toMatchObject({ clientId: 'rq1-epr', organization: 'RQ1', scopes: ['system/Task.rs'] });
  });

  it('when a parameter is repeated, then invalid_request', async () => {
    expect(await refusal({ ...params(await assertion()), scope: ['system/Task.rs', 'system/*.cruds'] })).toEqual(['invalid_request', 400, expect.any(String)]);
  });

  it('when the grant type is not client_credentials, then unsupported_grant_type', async () => {
    expect((await refusal(params(await assertion(), { grant_type: 'password' })))[0]).toBe('unsupported_grant_type');
    expect((await refusal(params(await assertion(), { grant_type: undefined })))[0]).toBe('invalid_request');
  });

  it('when there is no assertion or another assertion type, then invalid_client', async () => {
    expect(await refusal(params(''))).toEqual(['invalid_client', 401, 'no client authentication included']);
    expect(await refusal(params(await assertion(), { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' })))
      .toEqual(['invalid_client', 401, 'unsupported client authentication method']);
  });

  it('when the assertion is larger than 8 KB, then invalid_request', async () => {
    expect(await refusal(params(await assertion({ pad: 'x'.repeat(9000) })))).toEqual(['invalid_request', 400, expect.stringContaining('larger')]);
  });

  it('when alg is none, then invalid_client by the algorithm rule', async () => {
    const payload = base64url.encode(JSON.stringify({ iss: 'rq1-epr', sub: 'rq1-epr', aud: TOKEN_URL, exp: NOW + 60, jti: 'n1' }));
    const none = `${base64url.encode(JSON.stringify({ alg: 'none', kid: privateJwk.kid }))}.${payload}.`;
    expect(await refusal(params(none))).toEqual(['invalid_client', 401, 'assertion algorithm not allowed']);
  });

  it('when alg is RS256 or ES256, then invalid_client by the algorithm rule', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const rs256 = await new SignJWT({ iss: 'rq1-epr', sub: 'rq1-epr', aud: TOKEN_URL, exp: NOW + 60, jti: 'r1' }).setProtectedHeader({ alg: 'RS256', kid: privateJwk.kid }).sign(privateKey);
    expect(await refusal(params(rs256))).toEqual(['invalid_client', 401, 'assertion algorithm not allowed']);
  });

  it('when the header carries no kid or embeds a key, then invalid_client', async () => {
    const { importJWK } = await import('jose');
    const noKid = await new SignJWT({ iss: 'rq1-epr', sub: 'rq1-epr', aud: TOKEN_URL, exp: NOW + 60, jti: 'k1' }).setProtectedHeader({ alg: 'ES384' }).sign(await importJWK(privateJwk, 'ES384'));
    expect(await refusal(params(noKid))).toEqual(['invalid_client', 401, 'assertion has no kid']);
    const { kid: _k, d: _d, ...pub } = privateJwk;
    expect(await refusal(params(await assertion({}, { jwk: pub })))).toEqual(['invalid_client', 401, 'assertion embeds a key']);
  });

  it('when iss and sub differ, or the client is unknown, then invalid_client', async () => {
    expect(await refusal(params(await assertion({ sub: 'other' })))).toEqual(['invalid_client', 401, 'assertion iss and sub differ']);
    expect(await refusal(params(await assertion({ iss: 'nobody', sub: 'nobody' })))).toEqual(['invalid_client', 401, 'unknown client']);
    expect(await refusal(params(await assertion(), { client_id: 'someone-else' }))).toEqual(['invalid_client', 401, 'client_id parameter differs from assertion iss']);
  });

  it('when jku points anywhere but a registered JWKS URL, then invalid_client', async () => {
    expect(await refusal(params(await assertion({}, { jku: 'https://attacker.example/jwks' })))).toEqual(['invalid_client', 401, 'jku is not the registered JWKS URL']);
  });

  it('when the kid is unknown, the key is another one, or the payload is tampered, then invalid_client', async () => {
    expect(await refusal(params(await assertion({}, { kid: 'unknown' })))).toEqual(['invalid_client', 401, 'no registered key with this kid']);
    const other = (await generateClientKey('ES384')).privateJwk;
    expect(await refusal(params(await assertion({}, {}, { ...other, kid: privateJwk.kid })))).toEqual(['invalid_client', 401, 'assertion signature invalid']);
    const [h, , s] = (await assertion()).split('.');
    const forged = base64url.encode(JSON.stringify({ iss: 'rq1-epr', sub: 'rq1-epr', aud: TOKEN_URL, exp: NOW + 60, jti: 'tampered', scope: 'x' }));
    expect(await refusal(params(`${h}.${forged}.${s}`))).toEqual(['invalid_client', 401, 'assertion signature invalid']);
  });

  it('when aud is not the token URL, exp is past or missing, or jti is missing, then invalid_client', async () => {
    expect(await refusal(params(await assertion({ aud: 'https://eso.example/auth' })))).toEqual(['invalid_client', 401, 'assertion claim check failed: aud']);
    expect(await refusal(params(await assertion({ exp: NOW - 1 })))).toEqual(['invalid_client', 401, 'assertion expired']);
    expect(await refusal(params(await assertion({ exp: undefined })))).toEqual(['invalid_client', 401, 'assertion claim check failed: exp']);
    expect(await refusal(params(await assertion({ jti: undefined })))).toEqual(['invalid_client', 401, 'assertion claim check failed: jti']);
  });

  it('when exp is more than 5 minutes ahead, then invalid_client', async () => {
    expect(await refusal(params(await assertion({ exp: NOW + 301 })))).toEqual(['invalid_client', 401, 'assertion exp more than 5 minutes ahead']);
    expect((await refusal(params(await assertion({ exp: NOW + 300 }))))[0]).toBe('none');
  });

  it('when a jti is used twice, then the second is invalid_client', async () => {
    const a = await assertion({ jti: 'once' });
    expect((await refusal(params(a)))[0]).toBe('none');
    expect(await refusal(params(a))).toEqual(['invalid_client', 401, 'assertion jti replayed']);
  });

  it('when no requested scope may be granted, then invalid_scope', async () => {
    const narrow = client;
    client = { ...client, scopes: ['system/Task.rs'] };
    try {
      expect((await refusal(params(await assertion(), { scope: 'system/Patient.rs' })))[0]).toBe('invalid_scope');
      expect((await refusal(params(await assertion(), { scope: undefined })))[0]).toBe('invalid_scope');
      const out = await handleTokenRequest({ params: params(await assertion(), { scope: 'system/Task.cruds system/Patient.rs' }), now: NOW }, deps());
      expect(out.response.scope).toBe('system/Task.rs');
    } finally {
      client = narrow;
    }
  });

  it('when a private JWK is exported for registration, then it has kid and alg', async () => {
    expect(privateJwk).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384', kid: expect.any(String) });
    expect(await exportJWK((await generateKeyPair('ES384')).publicKey)).not.toHaveProperty('d');
  });
});
