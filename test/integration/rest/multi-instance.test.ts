/**
 * Two service instances on one PostgreSQL behind one public address (ESO_BASE_URL, as behind a load
 * balancer), authentication on: a token one instance issued is honoured by the other, and
 * concurrent updates of one resource lose nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient } from 'fhir/r4.js';
import { signClientAssertion } from '../../../src/auth/client-assertion.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { startServer, type RunningServer } from '../../../src/server.ts';
import { postTokenRequest, registerClient } from '../../helpers/auth.ts';
import { backendEnv, backends, type BackendEnv } from '../../helpers/backends.ts';

/** The address both instances answer for: the audience of assertions and tokens. */
const PUBLIC = 'http://eso.test.invalid';
const CLIENT = { clientId: 'race-epr', organization: 'TST01' };

const onPostgres = backends().includes('postgres');

describe.runIf(onPostgres)('two instances on one PostgreSQL', () => {
  let b: BackendEnv;
  let a: RunningServer;
  let c: RunningServer;
  /** Headers with a token issued by instance a. */
  let headers: Record<string, string>;
  beforeAll(async () => {
    b = await backendEnv('postgres');
    // Both read the clients file and the server signing keys of the shared data dir.
    const key = await registerClient(b.dataDir, CLIENT);
    const env = { ...b.env, PORT: '0', LOG_LEVEL: 'silent', MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', ESO_AUTH_DISABLED: 'false', ESO_BASE_URL: PUBLIC };
    a = await startServer(loadConfig(env));
    c = await startServer(loadConfig(env));
    const issued = await postTokenRequest(a.url, await signClientAssertion(key, { clientId: CLIENT.clientId, tokenUrl: `${PUBLIC}/auth/token` }), 'system/*.cruds');
    expect(issued.status, JSON.stringify(issued.body)).toBe(200);
    headers = { authorization: `Bearer ${issued.body.access_token}`, 'content-type': 'application/fhir+json' };
  });
  afterAll(async () => {
    await a.close();
    await c.close();
    await b.cleanup();
  });

  it('when both update the same version at once, then exactly one wins and the others get 412', async () => {
    const created = (await (await fetch(`${a.url}/fhir/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Race' }] }) })).json()) as Patient;
    expect(created.managingOrganization?.reference).toMatch(/^Organization\//);
    const put = (server: RunningServer, given: string) => fetch(`${server.url}/fhir/Patient/${created.id}`, {
      method: 'PUT', headers: { ...headers, 'if-match': 'W/"1"' }, body: JSON.stringify({ ...created, name: [{ family: 'Race', given: [given] }] }),
    });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => put(i % 2 ? a : c, `g${i}`)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(9);
    const history = (await (await fetch(`${c.url}/fhir/Patient/${created.id}/_history`, { headers })).json()) as { total: number };
    expect(history.total).toBe(2);
  });

  it('when both keep updating without If-Match, then every update is kept as its own version', async () => {
    const created = (await (await fetch(`${a.url}/fhir/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Many' }] }) })).json()) as Patient;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${(i % 2 ? a : c).url}/fhir/Patient/${created.id}`, {
      method: 'PUT', headers, body: JSON.stringify({ ...created, name: [{ family: 'Many', given: [`g${i}`] }] }),
    })));
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok).toBe(20);
    const history = (await (await fetch(`${a.url}/fhir/Patient/${created.id}/_history`, { headers })).json()) as { total: number };
    expect(history.total).toBe(ok + 1);
  });
});
