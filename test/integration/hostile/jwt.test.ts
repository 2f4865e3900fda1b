/**
 * Malformed JWTs at the real service (authentication on, a registered client with a real key):
 * bearer tokens at every protected endpoint (random strings, alg none, HS256 key confusion,
 * truncated, bit-flipped, huge, non-base64, garbage JSON segments, and tokens signed with the
 * server's own key but expired or otherwise wrong) are 401 with WWW-Authenticate and an
 * OperationOutcome; client assertions at POST /auth/token (the same garbage, plus claims
 * broken one by one under the client's real key, and garbage form parameters) are a 400/401
 * OAuth error. Never a 5xx or a hang; nothing stored (AuditEvents apart: refusals are audited).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, exportJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { signClientAssertion } from '../../../src/auth/client-assertion.ts';
import { currentKey, importSigningKey, parseServerKeyFile } from '../../../src/auth/server-keys.ts';
import { JWT_BEARER } from '../../../src/auth/token-request.ts';
import { clientsFileIn, getToken, registerClient } from '../../helpers/auth.ts';
import { backends, type Backend } from '../../helpers/backends.ts';
import { startTestServer } from '../../helpers/server.ts';
import { craftAssertion, hmacWithPublicKey, publicOf, unsignedAssertion } from '../security/assertions.ts';
import { PROPERTY_TIMEOUT_MS, expectAlive, expectOperationOutcome, nastyJson, nastyString, PROTOTYPE_KEYS, send, StoredData, type Answer } from './hostile.ts';

vi.setConfig({ testTimeout: PROPERTY_TIMEOUT_MS });

const CLIENT = { clientId: 'rq1-epr', organization: 'RQ1' };
const OAUTH_ERRORS = ['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope'];
const B64URL = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'];
/** Longest Authorization header sent by the properties. */
const MAX_HEADER = 12_000;
const enc = (v: unknown) => base64url.encode(typeof v === 'string' ? v : JSON.stringify(v) ?? 'null');

/** Printable ASCII: what fetch lets through in a header value. */
const headerSafe = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });
const b64Segment = (maxLength: number) => fc.string({ unit: fc.constantFrom(...B64URL), maxLength });

/** Changes one character of `s` (to a different base64url character). */
const flip = (s: string, at: number, to: number): string => {
  const i = at % s.length;
  const c = B64URL[to % B64URL.length] === s[i] ? B64URL[(to + 1) % B64URL.length] : B64URL[to % B64URL.length];
  return s.slice(0, i) + c + s.slice(i + 1);
};

/** A server with authentication on and one registered client. */
async function startAuthServer(backend: Backend) {
  const clientsDir = mkdtempSync(join(tmpdir(), 'eso-hostile-jwt-'));
  const key = await registerClient(clientsDir, CLIENT);
  const server = await startTestServer(backend, { ESO_AUTH_DISABLED: 'false', ESO_CLIENTS_FILE: clientsFileIn(clientsDir) });
  return { server, key, async stop() { await server.stop(); rmSync(clientsDir, { recursive: true, force: true }); } };
}

/** The token endpoint's answer to a form body (a string, so any bytes and repeats can be sent). */
async function postToken(url: string, body: string, contentType = 'application/x-www-form-urlencoded'): Promise<Answer> {
  return send(`${url}/auth/token`, { method: 'POST', body, headers: { 'content-type': contentType, accept: 'application/json' } });
}

/** An OAuth error: 400/401, exactly error and error_description, a known code, never cached, no internals. */
function expectOAuthError(a: Answer): void {
  expect([400, 401], a.text.slice(0, 300)).toContain(a.status);
  expect(a.headers.get('content-type')).toMatch(/application\/json/);
  expect(Object.keys(a.json ?? {}).sort()).toEqual(['error', 'error_description']);
  expect(OAUTH_ERRORS).toContain(a.json.error);
  expect(typeof a.json.error_description).toBe('string');
  expect(a.headers.get('cache-control')).toBe('no-store');
  expect(a.text).not.toMatch(/\bat [^\n]*:\d+:\d+|node:internal|Error:/);
}

describe('hostile JWTs on sqlite', () => {
  let s: Awaited<ReturnType<typeof startAuthServer>>;
  let realToken: string;
  let realAssertion: string;
  /** Access tokens signed with the server's own key, each wrong in one way. */
  const forgedTokens: string[] = [];
  /** Client assertions signed with the client's registered key, each wrong in one way. */
  const craftedAssertions: string[] = [];
  const stored = new StoredData(() => s.server.storage);

  beforeAll(async () => {
    s = await startAuthServer('sqlite');
    const url = s.server.url;
    const tokenUrl = `${url}/auth/token`;
    realToken = await getToken(url, CLIENT.clientId, s.key, 'system/*.cruds');
    // Never sent as is: only cut or changed.
    realAssertion = await signClientAssertion(s.key, { clientId: CLIENT.clientId, tokenUrl });

    const claims = decodeJwt(realToken);
    const header = decodeProtectedHeader(realToken);
    const serverKey = currentKey(parseServerKeyFile(JSON.parse(readFileSync(join(s.server.dataDir, 'signing-keys.json'), 'utf8'))));
    const signing = await importSigningKey(serverKey);
    const now = Math.floor(Date.now() / 1000);
    const forge = (change: JWTPayload, h: Record<string, unknown> = {}) =>
      new SignJWT({ ...claims, jti: randomUUID(), ...change }).setProtectedHeader({ ...header, ...h } as never).sign(signing);
    forgedTokens.push(
      await forge({ exp: now - 1, iat: now - 301 }), // expired
      await forge({ exp: now - 86_400 }),
      await forge({ nbf: now + 3600 }),
      await forge({ aud: 'http://evil/fhir' }),
      await forge({ iss: 'http://evil/auth' }),
      await forge({}, { typ: 'JWT' }),
      await forge({}, { kid: 'not-a-key' }),
      await forge({ ods_code: undefined }),
      await forge({ ods_code: 'X'.repeat(64) }),
      await forge({ client_id: 'someone-else' }),
      await forge({ scope: 42 }),
      await forge({ exp: 'tomorrow' as never }),
      await forge({ sub: undefined }),
    );
    const other = await generateKeyPair('ES384', { extractable: true });
    const otherJwk: JWK = { ...(await exportJWK(other.privateKey)), alg: 'ES384', kid: s.key.kid };
    const craft = (c: Parameters<typeof craftAssertion>[3]) => craftAssertion(CLIENT.clientId, s.key, tokenUrl, c);
    craftedAssertions.push(
      await craft({ claims: { exp: now - 10 } }),
      await craft({ claims: { exp: now + 3600 } }),
      await craft({ claims: { nbf: now + 3600 } }),
      await craft({ claims: { jti: undefined } }),
      await craft({ claims: { jti: 42 as never } }),
      await craft({ claims: { jti: 'j'.repeat(300) } }),
      await craft({ claims: { aud: 'http://evil/auth/token' } }),
      await craft({ claims: { sub: 'someone-else' } }),
      await craft({ claims: { iss: 'unknown-client', sub: 'unknown-client' } }),
      await craft({ claims: { iss: '__proto__', sub: '__proto__' } }),
      await craft({ claims: { iss: 'constructor', sub: 'constructor' } }),
      await craft({ header: { jku: 'http://evil/jwks' } }),
      await craft({ header: { jwk: publicOf(otherJwk) } }),
      await craft({ header: { x5u: 'http://evil/cert' } }),
      await craft({ header: { kid: undefined } }),
      await craft({ header: { kid: 'k'.repeat(300) } }),
      await craft({ key: otherJwk }), // right kid, wrong key
      `${enc({ ...decodeProtectedHeader(realAssertion), crit: ['exp'], exp: 1 })}.${realAssertion.split('.').slice(1).join('.')}`,
      unsignedAssertion(CLIENT.clientId, s.key.kid as string, tokenUrl),
      await hmacWithPublicKey(CLIENT.clientId, publicOf(s.key), tokenUrl),
    );
  }, 60_000);
  afterAll(async () => s?.stop());
  beforeEach(async () => stored.reset());
  afterEach(async () => {
    await expectAlive(s.server.url);
    // The real client still gets a token and uses it.
    const token = await getToken(s.server.url, CLIENT.clientId, s.key, 'system/Task.rs');
    expect((await send(`${s.server.fhir}/Task?_count=1`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  const bearerToken = (): fc.Arbitrary<string> => fc.oneof(
    { weight: 2, arbitrary: fc.array(b64Segment(60), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')) },
    { weight: 2, arbitrary: fc.nat().map((n) => realToken.slice(0, n % realToken.length)) },
    { weight: 2, arbitrary: fc.tuple(fc.nat(), fc.nat()).map(([at, to]) => flip(realToken, at, to)) },
    { weight: 1, arbitrary: fc.constantFrom(...[0, 1, 2].map((drop) => realToken.split('.').filter((_, i) => i !== drop).join('.')), realToken.split('.').reverse().join('.'), `${realToken}.${realToken.split('.')[2]}`, `${realToken}=`, `${realToken}==`) },
    { weight: 2, arbitrary: fc.tuple(nastyJson, nastyJson).map(([h, p]) => `${enc(h)}.${enc(p)}.${realToken.split('.')[2]}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('none', 'None', 'NONE', 'HS256', 'ES384', 'RS256', ''), nastyJson).map(([alg, extra]) => `${enc({ ...decodeProtectedHeader(realToken), alg, ...(extra && typeof extra === 'object' ? extra : {}) })}.${realToken.split('.')[1]}.`) },
    { weight: 2, arbitrary: fc.constantFrom(...forgedTokens) },
    { weight: 1, arbitrary: fc.integer({ min: 8193, max: 12_000 }).map((n) => 'A'.repeat(n)) },
    { weight: 1, arbitrary: headerSafe(80) },
  );

  const authorization = (): fc.Arbitrary<string> => fc.oneof(
    { weight: 6, arbitrary: bearerToken().map((t) => `Bearer ${t}`) },
    { weight: 1, arbitrary: bearerToken().map((t) => `bearer  ${t}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Basic', 'Token', 'JWT', 'Bearer', 'Bearer Bearer', 'DPoP', '', 'Bearer,'), bearerToken()).map(([scheme, t]) => `${scheme}${scheme ? ' ' : ''}${t}`) },
    { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Bearer  ', `Bearer ${realToken} ${realToken}`, `Bearer ${realToken},Bearer ${realToken}`, `Basic ${base64url.encode('rq1-epr:secret')}`) },
    { weight: 1, arbitrary: headerSafe(100) },
  ).map((h) => h.slice(0, MAX_HEADER)); // above Node's 16 KB header limit the parser answers 431 itself (tested on its own)

  const ENDPOINTS: [string, string, string | undefined, string | undefined][] = [
    ['GET', '/fhir/Patient', undefined, undefined],
    ['GET', '/fhir/Task/abc', undefined, undefined],
    ['POST', '/fhir/Patient', JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Intruder' }] }), 'application/fhir+json'],
    ['PUT', '/fhir/Patient/abc', JSON.stringify({ resourceType: 'Patient', id: 'abc' }), 'application/fhir+json'],
    ['POST', '/fhir', JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient' } }] }), 'application/fhir+json'],
    ['POST', '/eso/requests', JSON.stringify({ requestId: { value: 'x' } }), 'application/json'],
    ['GET', '/eso/overdue', undefined, undefined],
    ['POST', '/hl7/v2', 'MSH|^~\\&|EPR|RQ1|ESO_BRIDGE|ESO|20260301||REF^I12|C1|P|2.5.1\r', 'x-application/hl7-v2+er7'],
    ['GET', '/admin/outbox', undefined, undefined],
  ];

  it('when a protected endpoint gets a malformed, forged, expired or foreign bearer token, then the answer is 401 with WWW-Authenticate and an OperationOutcome, and nothing is stored', async () => {
    await fc.assert(
      fc.asyncProperty(authorization(), fc.constantFrom(...ENDPOINTS), async (auth, [method, path, body, type]) => {
        const a = await send(`${s.server.url}${path}`, { method, body, headers: { authorization: auth, accept: 'application/fhir+json', ...(type ? { 'content-type': type } : {}) } });
        expect(a.status, `${auth.slice(0, 80)} → ${a.text.slice(0, 200)}`).toBe(401);
        expect(a.headers.get('www-authenticate') ?? '').toMatch(/^Bearer\b.*invalid_token/);
        expectOperationOutcome(a);
        await stored.check(true);
      }),
      { numRuns: 100 },
    );
  });

  it('when each forged token (server key, one thing wrong) is used, then it is 401 for FHIR, the ESO API and HL7 v2', async () => {
    for (const t of forgedTokens) {
      for (const [method, path, body, type] of ENDPOINTS.filter(([, p]) => ['/fhir/Patient', '/eso/requests', '/hl7/v2'].includes(p))) {
        const a = await send(`${s.server.url}${path}`, { method, body, headers: { authorization: `Bearer ${t}`, ...(type ? { 'content-type': type } : {}) } });
        expect(a.status, `${path} with ${JSON.stringify(decodeJwt(t)).slice(0, 120)}`).toBe(401);
        expectOperationOutcome(a);
      }
    }
    await stored.check(true);
  });

  it('when the bearer token is larger than the HTTP parser takes, then the service refuses it with a 4xx and keeps answering', async () => {
    const a = await send(`${s.server.fhir}/Patient`, { headers: { authorization: `Bearer ${'A'.repeat(20_000)}` } });
    // Node's HTTP parser refuses it (16 KB of headers) before Express runs; still an OperationOutcome.
    expect(a.status).toBe(431);
    expectOperationOutcome(a);
    await stored.check(true);
  });

  const assertion = (): fc.Arbitrary<string> => fc.oneof(
    { weight: 2, arbitrary: fc.array(b64Segment(80), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.')) },
    { weight: 2, arbitrary: fc.nat().map((n) => realAssertion.slice(0, n % realAssertion.length)) },
    { weight: 2, arbitrary: fc.tuple(fc.nat(), fc.nat()).map(([at, to]) => flip(realAssertion, at, to)) },
    { weight: 2, arbitrary: fc.tuple(nastyJson, nastyJson).map(([h, p]) => `${enc(h)}.${enc(p)}.${realAssertion.split('.')[2]}`) },
    { weight: 2, arbitrary: fc.tuple(nastyJson, fc.constantFrom('RS384', 'ES384', 'none', 'HS256')).map(([p, alg]) => `${enc({ alg, kid: s.key.kid })}.${enc(p)}.${realAssertion.split('.')[2]}`) },
    { weight: 3, arbitrary: fc.constantFrom(...craftedAssertions) },
    { weight: 1, arbitrary: fc.integer({ min: 8193, max: 40_000 }).map((n) => `${realAssertion}${'A'.repeat(n)}`.slice(0, n)) },
    { weight: 1, arbitrary: nastyString },
  );

  it('when POST /auth/token gets a malformed, forged or replayed client assertion, then the answer is a 400/401 OAuth error and nothing is stored', async () => {
    await fc.assert(
      fc.asyncProperty(assertion(), fc.constantFrom('system/*.rs', 'system/Task.rs system/Patient.cruds', ''), async (jwt, scope) => {
        const body = new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: jwt, scope });
        const a = await postToken(s.server.url, body.toString());
        expectOAuthError(a);
        await stored.check(true);
      }),
      { numRuns: 80 },
    );
  });

  it('when the token request\'s form is garbage (parameters missing, repeated, unknown, prototype names, wrong types), then the answer is a 400/401 OAuth error', async () => {
    const name = fc.oneof(fc.constantFrom('grant_type', 'client_assertion_type', 'client_assertion', 'scope', 'client_id', 'client_secret', 'code', 'refresh_token', ...PROTOTYPE_KEYS), nastyString);
    const value = fc.oneof(fc.constantFrom('client_credentials', JWT_BEARER, 'system/*.rs', 'authorization_code', 'password', ''), fc.constantFrom(...craftedAssertions), nastyString);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 8 }), fc.boolean(), async (pairs, withBase) => {
        const body = new URLSearchParams(withBase ? [['grant_type', 'client_credentials'], ['client_assertion_type', JWT_BEARER], ['client_assertion', craftedAssertions[0]], ['scope', 'system/*.rs']] : []);
        for (const [k, v] of pairs) body.append(k, v);
        expectOAuthError(await postToken(s.server.url, body.toString()));
        await stored.check(true);
      }),
      { numRuns: 50 },
    );
  });

  it('when the token request is not a form (JSON, text, multipart, empty, huge), then the answer is a 400 OAuth error or a 413 refusal', async () => {
    const cases: [string, string, number[]][] = [
      [JSON.stringify({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: realAssertion }), 'application/json', [400]],
      ['grant_type=client_credentials', 'text/plain', [400]],
      ['--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nclient_credentials\r\n--x--', 'multipart/form-data; boundary=x', [400]],
      ['', 'application/x-www-form-urlencoded', [400]],
      ['%zz=%zz&a=%', 'application/x-www-form-urlencoded', [400]],
      ['grant_type=client_credentials', 'application/x-www-form-urlencoded; charset=utf-16', [400, 415]],
      [`client_assertion=${'A'.repeat(6 * 1024 * 1024)}`, 'application/x-www-form-urlencoded', [413]],
      [Array.from({ length: 2000 }, (_, i) => `p${i}=1`).join('&'), 'application/x-www-form-urlencoded', [400, 413]],
    ];
    for (const [body, type, statuses] of cases) {
      const a = await postToken(s.server.url, body, type);
      expect(statuses, `${type}: ${a.status} ${a.text.slice(0, 200)}`).toContain(a.status);
      expect(a.status).toBeLessThan(500);
      if (a.json && 'error' in a.json) expectOAuthError(a);
      else expectOperationOutcome(a);
    }
    await stored.check(true);
  });
});

// PostgreSQL text cannot hold U+0000: a jti carrying one, under a registered client's real key,
// failed the jti write and with it the whole group commit it shared with other requests (500s).
const pg = backends().includes('postgres');
describe.skipIf(!pg)('hostile JWTs on postgres', () => {
  let s: Awaited<ReturnType<typeof startAuthServer>>;
  beforeAll(async () => { s = await startAuthServer('postgres'); }, 60_000);
  afterAll(async () => s?.stop());

  it('when a genuinely signed assertion carries control characters in its jti, then the answer is 401 invalid_client, and a concurrent good request still gets its token', async () => {
    const tokenUrl = `${s.server.url}/auth/token`;
    for (const jti of ['a\u0000b', '\u0000', 'x\u0007y']) {
      const bad = await craftAssertion(CLIENT.clientId, s.key, tokenUrl, { claims: { jti } });
      const good = await signClientAssertion(s.key, { clientId: CLIENT.clientId, tokenUrl });
      const form = (a: string) => new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: a, scope: 'system/*.rs' }).toString();
      const [refused, issued] = await Promise.all([postToken(s.server.url, form(bad)), postToken(s.server.url, form(good))]);
      expectOAuthError(refused);
      expect(refused.json.error).toBe('invalid_client');
      expect(issued.status, issued.text).toBe(200);
    }
  });
});
