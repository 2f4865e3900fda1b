/** Two service instances on one PostgreSQL: concurrent updates of one resource lose nothing. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Patient } from 'fhir/r4.js';
import { loadConfig } from '../../../src/config/load.ts';
import { startServer, type RunningServer } from '../../../src/server.ts';
import { backendEnv, backends, type BackendEnv } from '../../helpers/backends.ts';

const onPostgres = backends().includes('postgres');

describe.runIf(onPostgres)('two instances on one PostgreSQL', () => {
  let b: BackendEnv;
  let a: RunningServer;
  let c: RunningServer;
  beforeAll(async () => {
    b = await backendEnv('postgres');
    const env = { ...b.env, PORT: '0', LOG_LEVEL: 'silent', MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', ESO_AUTH_DISABLED: 'true' };
    a = await startServer(loadConfig(env));
    c = await startServer(loadConfig(env));
  });
  afterAll(async () => {
    await a.close();
    await c.close();
    await b.cleanup();
  });

  it('when both update the same version at once, then exactly one wins and the others get 412', async () => {
    const created = (await (await fetch(`${a.url}/fhir/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Race' }] }) })).json()) as Patient;
    const put = (server: RunningServer, given: string) => fetch(`${server.url}/fhir/Patient/${created.id}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json', 'if-match': 'W/"1"' }, body: JSON.stringify({ ...created, name: [{ family: 'Race', given: [given] }] }),
    });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => put(i % 2 ? a : c, `g${i}`)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(9);
    const history = (await (await fetch(`${c.url}/fhir/Patient/${created.id}/_history`)).json()) as { total: number };
    expect(history.total).toBe(2);
  });

  it('when both keep updating without If-Match, then every update is kept as its own version', async () => {
    const created = (await (await fetch(`${a.url}/fhir/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Many' }] }) })).json()) as Patient;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => fetch(`${(i % 2 ? a : c).url}/fhir/Patient/${created.id}`, {
      method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ ...created, name: [{ family: 'Many', given: [`g${i}`] }] }),
    })));
    const ok = results.filter((r) => r.status === 200).length;
    expect(ok).toBe(20);
    const history = (await (await fetch(`${a.url}/fhir/Patient/${created.id}/_history`)).json()) as { total: number };
    expect(history.total).toBe(ok + 1);
  });
});
