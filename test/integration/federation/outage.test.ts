/**
 * Issue 16: B (a real service process) is killed (SIGKILL) and stays down while A goes on taking
 * requests; when B is back (on the same data, at a new address the operator puts in A's peers file),
 * A's backlog drains in order and every change lands at B exactly once.
 */
import { writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Consent, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { startService, type ServiceProcess } from '../../reliability/service-process.ts';
import { party, requestInput, type Party } from '../eso/harness.ts';
import { eventually, prepareInstance, taskByRequestId } from './pair.ts';

describe('Trust to Trust: B down for a while', () => {
  let aDir: Awaited<ReturnType<typeof prepareInstance>>;
  let bDir: Awaited<ReturnType<typeof prepareInstance>>;
  let a: TestServer;
  let b: ServiceProcess | undefined;
  let requester: Party;
  const providerAt = (url: string) => party({ url }, 'RZ2NP', 'rz2np-epr', bDir.keys['rz2np-epr']);
  const link = async (bUrl: string) => {
    await writeFile(aDir.peersFile, JSON.stringify({ peers: [{ organizations: ['RZ2'], base: `${bUrl}/fhir`, client_id: 'eso-a', key_file: 'key-at-b.json' }] }));
    await writeFile(bDir.peersFile, JSON.stringify({ peers: [{ organizations: ['RZ1'], base: a.fhir, client_id: 'eso-b', key_file: 'key-at-a.json' }] }));
  };
  const startB = () => startService({ ...bDir.env, ESO_DATA_DIR: bDir.dir, MLLP_ENABLED: 'false' });

  beforeAll(async () => {
    aDir = await prepareInstance([{ clientId: 'rz1-epr', organization: 'RZ1' }, { clientId: 'eso-b', organization: 'RZ2' }]);
    bDir = await prepareInstance([{ clientId: 'rz2np-epr', organization: 'RZ2NP' }, { clientId: 'eso-a', organization: 'RZ1' }]);
    await writeFile(join(aDir.dir, 'key-at-b.json'), JSON.stringify(bDir.keys['eso-a']));
    await writeFile(join(bDir.dir, 'key-at-a.json'), JSON.stringify(aDir.keys['eso-b']));
    a = await startTestServer('sqlite', { ...aDir.env, ESO_DATA_DIR: aDir.dir });
    requester = party(a, 'RZ1', 'rz1-epr', aDir.keys['rz1-epr']);
    b = await startB();
    await link(b.url);
  }, 90_000);
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    rmSync(bDir.dir, { recursive: true, force: true });
    rmSync(aDir.dir, { recursive: true, force: true });
  });

  it('when B is killed and comes back later, then A kept serving and its backlog reaches B in order, each change once', async () => {
    const first = requestInput();
    expect((await requester.post('/eso/requests', first)).status).toBe(201);
    await eventually('the first case at B', () => taskByRequestId(providerAt(b!.url), first.requestId.value));

    await b!.kill();
    // A keeps serving: new requests, and the first case's consent withdrawn, all while B is down.
    const later = [requestInput(), requestInput(), requestInput()];
    for (const input of later) expect((await requester.post('/eso/requests', input)).status).toBe(201);
    const aFirst = (await taskByRequestId(requester, first.requestId.value))!;
    const consents = await requester.get<Bundle>(`/fhir/Consent?patient=${aFirst.for!.reference}`);
    const consent = (consents.body.entry ?? []).map((e: { resource?: unknown }) => e.resource as Consent).find((c: Consent) => c.status === 'active')!;
    expect((await requester.put(`/fhir/Consent/${consent.id}`, { ...consent, status: 'inactive' }, { 'content-type': 'application/fhir+json' })).status).toBe(200);
    await eventually('retries at A', async () => ((await a.storage.listOutbound({ status: 'pending' })).some((m) => m.attempts >= 2) ? true : undefined));

    b = await startB();
    await link(b.url);
    await eventually('A\'s backlog drained', async () => ((await a.storage.listOutbound({ status: 'pending' })).length === 0 ? true : undefined), 60_000);
    const rows = (await a.storage.listOutbound({})).filter((m) => m.destination === 'fed:RZ2@RZ1');
    expect(rows.map((m) => m.status)).toEqual(rows.map(() => 'sent'));
    // In order: each row was sent after the one before it.
    const sentAt = rows.map((m) => m.sentAt!);
    expect([...sentAt].sort()).toEqual(sentAt);

    const provider = providerAt(b.url);
    for (const input of [first, ...later]) {
      const found = await provider.get<Bundle>(`/fhir/Task?identifier=${encodeURIComponent(input.requestId.value)}`);
      expect((found.body.entry ?? []).length).toBe(1);
    }
    const bFirst = (await taskByRequestId(provider, first.requestId.value)) as Task;
    expect(((await provider.get<Bundle>(`/fhir/DocumentReference?related=${bFirst.focus!.reference}`)).body.entry ?? []).length).toBe(0);
  }, 180_000);
});
