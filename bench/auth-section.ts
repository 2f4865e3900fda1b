/**
 * Auth figures, same run: the token endpoint's rate (each request a freshly signed ES384
 * assertion), and a FHIR read with a bearer token vs the same read without one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addClient } from '../src/auth/client-admin.ts';
import { requestAccessToken } from '../src/auth/client-assertion.ts';
import { benchToken } from './auth.ts';
import { fmt, load, startChild, stopChild } from './harness.ts';

const here = (f: string) => new URL(f, import.meta.url).pathname;

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
    const rate = await benchToken({ url: base, clientId: 'bench-epr', privateKey: privateJwk!, seconds, concurrency: 16 });
    const withToken = await load({ url: `${base}/fhir/Patient/${created.id}`, headers: auth, duration: seconds });
    const without = await load({ url: `${base}/fhir/Patient/${created.id}`, duration: seconds });
    console.log(`token endpoint ${String(rate.tokensPerSecond).padStart(6)} tokens/s  p50 ${rate.p50Ms} ms  p99 ${rate.p99Ms} ms  (${rate.errors} errors; 16 clients, each request a new signed assertion)`);
    console.log(`read, token   ${fmt(withToken)}`);
    console.log(`read, none    ${fmt(without)}`);
    console.log(`cost of auth on a read: ${((1 - withToken.rps / without.rps) * 100).toFixed(0)}% fewer reads/s (the token is verified once and cached; each read also writes its AuditEvent)`);
  } finally {
    await stopChild(eso.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}
