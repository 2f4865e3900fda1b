/**
 * Issue 16: SIGKILL at the worst moments of one delivery, both instances real service processes.
 * - A killed after B committed and answered 2xx, before A recorded it: A, started again, sends the
 *   message again (same X-Request-ID) and B answers with its stored answer.
 * - B killed after its commit, before its answer left; B killed while the message is in flight.
 * In every case the change lands exactly once on both sides.
 */
import { writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type ServiceProcess } from '../../reliability/service-process.ts';
import { party, requestInput, type Party } from '../eso/harness.ts';
import { eventually, prepareInstance } from './pair.ts';
import { startRelay } from './relay.ts';

/** Short leases, so a message claimed by a killed process is taken over soon (timeouts stay below the lease). */
const LEASE = { ESO_OUTBOX_LEASE_MS: '3000', ESO_OUTBOX_CONNECT_TIMEOUT_MS: '500', ESO_OUTBOX_ANSWER_TIMEOUT_MS: '2000', MLLP_ENABLED: 'false' };

describe('Trust to Trust: SIGKILL during a delivery', () => {
  let aDir: Awaited<ReturnType<typeof prepareInstance>>;
  let bDir: Awaited<ReturnType<typeof prepareInstance>>;
  let a: ServiceProcess;
  let b: ServiceProcess;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  const startA = () => startService({ ...aDir.env, ...LEASE, ESO_DATA_DIR: aDir.dir });
  const startB = () => startService({ ...bDir.env, ...LEASE, ESO_DATA_DIR: bDir.dir });
  const requester = (): Party => party(a, 'RZ1', 'rz1-epr', aDir.keys['rz1-epr']);
  const provider = (): Party => party(b, 'RZ2NP', 'rz2np-epr', bDir.keys['rz2np-epr']);
  /** A sends through the relay; B answers A directly. */
  const link = async () => {
    relay.setTarget(b.url);
    await writeFile(aDir.peersFile, JSON.stringify({ peers: [{ organizations: ['RZ2'], base: relay.fhir, client_id: 'eso-a', key_file: 'key-at-b.json' }] }));
    await writeFile(bDir.peersFile, JSON.stringify({ peers: [{ organizations: ['RZ1'], base: `${a.url}/fhir`, client_id: 'eso-b', key_file: 'key-at-a.json' }] }));
  };
  const casesAtB = async (requestId: string) => ((await provider().get<Bundle>(`/fhir/Task?identifier=${encodeURIComponent(requestId)}`)).body.entry ?? []).length;
  const casesAtA = async (requestId: string) => ((await requester().get<Bundle>(`/fhir/Task?identifier=${encodeURIComponent(requestId)}`)).body.entry ?? []).length;
  type View = { status: string; attempts: number; kind: string };
  const requestRows = async () => ((await requester().get<{ messages: View[] }>('/admin/outbox')).body.messages ?? []).filter((m) => m.kind === 'fhir-message:eso-request');
  const mine = (requestId: string) => (m: { bundle: Bundle }) => JSON.stringify(m.bundle).includes(requestId);
  /** Kills `victim` once, when the relay has B's 2xx to this case's request in hand; that answer never reaches A. */
  const killAfterAnswer = (requestId: string, victim: () => ServiceProcess) => {
    const state = { killed: false };
    relay.setAround({ after: async (m, status) => {
      if (state.killed || !mine(requestId)(m) || status !== 200) return 'answer';
      state.killed = true;
      await victim().kill();
      return 'drop';
    } });
    return state;
  };

  beforeAll(async () => {
    aDir = await prepareInstance([{ clientId: 'rz1-epr', organization: 'RZ1' }, { clientId: 'eso-b', organization: 'RZ2' }]);
    bDir = await prepareInstance([{ clientId: 'rz2np-epr', organization: 'RZ2NP' }, { clientId: 'eso-a', organization: 'RZ1' }]);
    await writeFile(join(aDir.dir, 'key-at-b.json'), JSON.stringify(bDir.keys['eso-a']));
    await writeFile(join(bDir.dir, 'key-at-a.json'), JSON.stringify(aDir.keys['eso-b']));
    [a, b] = await Promise.all([startA(), startB()]);
    relay = await startRelay(b.url);
    await link();
  }, 120_000);
  afterAll(async () => {
    await relay?.close();
    await Promise.allSettled([a?.stop(), b?.stop()]);
    for (const d of [aDir, bDir]) if (d) rmSync(d.dir, { recursive: true, force: true });
  });

  it('when A is killed after B answered 2xx and before A recorded it, then A sends it again and B answers from its record: one case at B', async () => {
    const input = requestInput();
    const kill = killAfterAnswer(input.requestId.value, () => a);
    await requester().post('/eso/requests', input).catch(() => undefined);
    await eventually('A killed', async () => (kill.killed ? true : undefined));
    relay.setAround({});
    a = await startA();
    await link();
    await eventually('sent at A', async () => ((await requestRows()).some((m) => m.status === 'sent') ? true : undefined), 60_000);
    const deliveries = relay.seen.filter(mine(input.requestId.value));
    expect(deliveries.length).toBeGreaterThanOrEqual(2);
    expect(new Set(deliveries.map((m) => m.headers['x-request-id'])).size).toBe(1);
    expect(await casesAtB(input.requestId.value)).toBe(1);
    expect(await casesAtA(input.requestId.value)).toBe(1);
  }, 120_000);

  it('when B is killed after its commit and before its answer leaves, then A retries and B answers from its record: one case at B', async () => {
    const input = requestInput();
    const kill = killAfterAnswer(input.requestId.value, () => b);
    expect((await requester().post('/eso/requests', input)).status).toBe(201);
    await eventually('B killed', async () => (kill.killed ? true : undefined));
    relay.setAround({});
    b = await startB();
    await link();
    await eventually('B\'s case', async () => ((await casesAtB(input.requestId.value)) === 1 ? true : undefined), 60_000);
    await eventually('sent at A', async () => ((await requestRows()).filter((m) => m.status === 'sent').length >= 2 ? true : undefined), 60_000);
    expect(await casesAtB(input.requestId.value)).toBe(1);
  }, 120_000);

  it('when B is killed while the message is in flight, then after B is back the case is there exactly once', async () => {
    const input = requestInput();
    let killed = false;
    relay.setAround({ during: async (m) => {
      if (killed || !mine(input.requestId.value)(m)) return;
      killed = true;
      await b.kill();
    } });
    expect((await requester().post('/eso/requests', input)).status).toBe(201);
    await eventually('B killed', async () => (killed ? true : undefined));
    relay.setAround({});
    b = await startB();
    await link();
    await eventually('B\'s case', async () => ((await casesAtB(input.requestId.value)) === 1 ? true : undefined), 60_000);
    await eventually('A\'s backlog drained', async () => ((await requestRows()).every((m) => m.status === 'sent') ? true : undefined), 60_000);
    expect(await casesAtB(input.requestId.value)).toBe(1);
  }, 120_000);
});
