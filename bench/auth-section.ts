/**
 * Auth figures, same run: the token endpoint's rate (each request a freshly signed ES384
 * assertion) beside its ceiling, raw jose ES384 verification of such assertions in one thread
 * (jwtVerify with the client's public key, iss/sub/aud checked, each assertion different), and a
 * FHIR read with a bearer token vs the same read without one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, importJWK, jwtVerify, type JWK } from 'jose';
import { issueAccessToken } from '../src/auth/access-token.ts';
import { addClient } from '../src/auth/client-admin.ts';
import { requestAccessToken, signClientAssertion, toSigningKey, type ClientPrivateKey } from '../src/auth/client-assertion.ts';
import { benchToken } from './auth.ts';
import { cpuMsOf, fmt, load, startChild, stopChild } from './harness.ts';
import { record } from './report.ts';

const here = (f: string) => new URL(f, import.meta.url).pathname;

/**
 * Verifications per second of distinct ES384 client assertions with jose alone (signed beforehand),
 * one thread; with `sign`, each verification is followed by signing an ES384 access token as the
 * token endpoint does (src/auth/access-token.ts): a token's crypto alone, one after the other.
 * WebCrypto runs it on libuv's threads, so a server may go past this on several cores, but only
 * with cores to spare beside its own work and the load generator's (docs/PERFORMANCE.md).
 */
async function rawVerifyRate(privateJwk: ClientPrivateKey, seconds: number, sign = false): Promise<number> {
  const { d: _d, ...publicJwk } = privateJwk as JWK;
  const publicKey = await importJWK(publicJwk, (privateJwk as JWK).alg);
  const signing = await toSigningKey(privateJwk);
  const tokenUrl = 'http://127.0.0.1/auth/token';
  const assertions = await Promise.all(Array.from({ length: 1000 }, () => signClientAssertion(signing, { clientId: 'bench-epr', tokenUrl })));
  const server = { kid: 'bench', key: (await generateKeyPair('ES384')).privateKey };
  const settings = { issuer: 'http://127.0.0.1/auth', audience: 'http://127.0.0.1/fhir', lifetimeSeconds: 300 };
  const principal = { clientId: 'bench-epr', organization: 'RB1', scopes: ['system/*.cruds'] };
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    await jwtVerify(assertions[n % assertions.length], publicKey, { issuer: 'bench-epr', subject: 'bench-epr', audience: tokenUrl, algorithms: ['ES384'] });
    if (sign) await issueAccessToken(server, settings, principal);
    n++;
  }
  return n / ((performance.now() - start) / 1000);
}

export async function benchAuthSection(seconds: number): Promise<void> {
  console.log('\n== auth: SMART Backend Services token endpoint, and a read with vs without a token (SQLite)');
  const dataDir = mkdtempSync(join(tmpdir(), 'eso-bench-auth-'));
  const { privateJwk } = await addClient(join(dataDir, 'clients.json'), { clientId: 'bench-epr', organization: 'RB1', scopes: ['system/*.cruds'] });
  // Dev mode answers token-less requests as the system and still verifies a token that is sent.
  const eso = await startChild(here('./eso-server.ts'), { ESO_DATA_DIR: dataDir, ESO_AUTH_DISABLED: 'true', HOST: '127.0.0.1' });
  const base = `http://127.0.0.1:${eso.port}`;
  try {
    const token = await requestAccessToken(`${base}/auth/token`, 'bench-epr', privateJwk!, 'system/*.cruds');
    const auth = { authorization: `Bearer ${token.access_token}` };
    const created = (await (await fetch(`${base}/fhir/Patient`, { method: 'POST', headers: { ...auth, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Bench' }] }) })).json()) as { id: string };
    const cpuBefore = cpuMsOf(eso.child.pid);
    const rate = await benchToken({ url: base, clientId: 'bench-epr', privateKey: privateJwk!, seconds, concurrency: 16, presign: Math.max(2_000, seconds * 800) });
    const cpuAfter = cpuMsOf(eso.child.pid);
    const issued = rate.tokensPerSecond * seconds;
    const cpuPerToken = cpuBefore !== undefined && cpuAfter !== undefined && issued ? ((cpuAfter - cpuBefore) * 1000) / issued : undefined;
    const withToken = await load({ url: `${base}/fhir/Patient/${created.id}`, headers: auth, duration: seconds });
    const without = await load({ url: `${base}/fhir/Patient/${created.id}`, duration: seconds });
    const raw = await rawVerifyRate(privateJwk!, seconds);
    const crypto = await rawVerifyRate(privateJwk!, seconds, true);
    console.log(`raw jose ES384 verify ${raw.toFixed(0)} verifications/s (one thread, distinct assertions)`);
    console.log(`raw jose ES384 verify + sign ${crypto.toFixed(0)} tokens/s = ${(crypto / raw).toFixed(2)} of verify: a token's crypto alone, one after the other on one thread`);
    const cpuNote = cpuPerToken === undefined ? '' : `server CPU ${cpuPerToken.toFixed(0)} µs/token; verify + sign alone ${(1e6 / crypto).toFixed(0)} µs`;
    console.log(`token endpoint ${String(rate.tokensPerSecond).padStart(6)} tokens/s  p50 ${rate.p50Ms} ms  p99 ${rate.p99Ms} ms  (${rate.errors} errors; 16 clients, each request a new assertion, signed before the clock started${cpuNote ? `; ${cpuNote}` : ''})`);
    record({ name: 'token endpoint (new ES384 assertion each time)', backend: 'sqlite', value: rate.tokensPerSecond, unit: 'tokens/s',
      ceiling: { value: raw, unit: 'verify/s', what: 'raw jose ES384 verify, 1 thread' }, aim: { kind: 'ratio', value: 0.8 },
      note: [`verify + sign alone: ${(crypto / raw).toFixed(2)} of verify`, cpuNote, rate.errors ? `${rate.errors} errors` : ''].filter(Boolean).join('; ') });
    console.log(`read, token   ${fmt(withToken)}`);
    console.log(`read, none    ${fmt(without)}`);
    console.log(`cost of auth on a read: ${((1 - withToken.rps / without.rps) * 100).toFixed(0)}% fewer reads/s (the token is verified once and cached; each read also writes its AuditEvent)`);
  } finally {
    await stopChild(eso.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
