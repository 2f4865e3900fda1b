/**
 * The endpoint allow-list (ESO_SUBSCRIPTION_ORIGINS) is asked again at every send, not only when a
 * Subscription is written: after the operator removes an origin (the service restarted on the same
 * database with the new setting), a Subscription made while it was allowed gets nothing more, is put in
 * `error` saying why, and the log says so without clinical data. Real HTTP, real tokens, a real
 * subscriber endpoint on loopback. Both backends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Subscription } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.ts';
import { startServer, type RunningServer } from '../../../src/server.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import { backendEnv, backends, type BackendEnv } from '../../helpers/backends.ts';
import { clientsFileIn, registerClient, type ClientPrivateKey } from '../../helpers/auth.ts';
import { directoryFileIn, writeDirectory } from '../../helpers/directory.ts';
import { esoDirectoryEntries, party, requestInput, type Party } from '../eso/harness.ts';
import { eventually, param, startReceiver, type Receiver } from './receiver.ts';

const TOPIC = 'https://fhir.eso-bridge.nhs.uk/SubscriptionTopic/task-status';

describe.each(backends())('a Subscription whose endpoint origin the operator removed (%s)', (backend) => {
  let db: BackendEnv;
  let dir: string;
  let hook: Receiver;
  const keys: Record<string, ClientPrivateKey> = {};
  const running: RunningServer[] = [];
  const lines: string[] = [];
  let baseEnv: Record<string, string>;

  beforeAll(async () => {
    db = await backendEnv(backend);
    dir = mkdtempSync(join(tmpdir(), 'eso-origins-'));
    for (const [clientId, organization] of [['rz1-client', 'RZ1'], ['rz2np-client', 'RZ2NP']]) keys[clientId] = await registerClient(dir, { clientId, organization });
    baseEnv = { ...db.env, PORT: '0', HOST: '127.0.0.1', MLLP_ENABLED: 'false', ESO_AUTH_DISABLED: 'false', ESO_CLIENTS_FILE: clientsFileIn(dir),
      ESO_DIRECTORY_FILE: await writeDirectory(directoryFileIn(dir), esoDirectoryEntries()),
      ESO_OUTBOX_ENABLED: 'true', ESO_OUTBOX_POLL_MS: '50', ESO_OUTBOX_BACKOFF_BASE_MS: '50', ESO_OUTBOX_BACKOFF_CAP_MS: '200' };
    hook = await startReceiver();
  });
  afterAll(async () => {
    for (const s of running) await s.close().catch(() => undefined);
    await hook?.close();
    await db?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The service with `origins` as ESO_SUBSCRIPTION_ORIGINS, on the suite's database; its log lines kept. */
  async function start(origins: string): Promise<{ requester: Party; provider: Party }> {
    const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    const server = await startServer(loadConfig({ ...baseEnv, ESO_SUBSCRIPTION_ORIGINS: origins }), { log: createLogger('info', stream) });
    running.push(server);
    return { requester: party(server, 'RZ1', 'rz1-client', keys['rz1-client']), provider: party(server, 'RZ2NP', 'rz2np-client', keys['rz2np-client']) };
  }
  const eventNotes = () => hook.received.filter((r) => param(r.status, 'type')?.valueCode === 'event-notification');
  const subscriptionOf = async (who: Party, id: string) => (await who.get<Subscription>(`/fhir/Subscription/${id}`)).body;

  it('when the origin is no longer allowed at send time, then nothing is sent, the Subscription is in error saying why, and the log holds no clinical data', async () => {
    // Allowed: the provider's engine subscribes, is made active by its handshake, and hears of a new case.
    const before = await start('RZ2NP=http://127.0.0.1:*');
    const made = await before.provider.post<Subscription>('/fhir/Subscription', { resourceType: 'Subscription', status: 'requested', reason: 'engine', criteria: TOPIC,
      channel: { type: 'rest-hook', endpoint: hook.url, payload: 'application/fhir+json' } });
    expect(made.status).toBe(201);
    const id = made.body.id!;
    await eventually(async () => (await subscriptionOf(before.provider, id)).status === 'active' || undefined, 'active');
    expect((await before.requester.post('/eso/requests', requestInput())).status).toBe(201);
    await eventually(() => eventNotes().length >= 1 || undefined, 'the first event notification');
    const heard = eventNotes().length;
    await running.pop()!.close();

    // The operator removes RZ2NP's origin and restarts; the Subscription is still active in the database.
    const after = await start('RZ1=http://127.0.0.1:*');
    const input = requestInput();
    expect((await after.requester.post('/eso/requests', input)).status).toBe(201);
    const errored = await eventually(async () => {
      const sub = await subscriptionOf(after.provider, id);
      return sub.status === 'error' ? sub : undefined;
    }, 'the Subscription in error');
    expect(errored.error).toBe(`Notifications stopped: channel.endpoint origin ${new URL(hook.url).origin} is not on this organisation's allow-list (ESO_SUBSCRIPTION_ORIGINS). Once it is allowed again, set status to requested`);
    await new Promise((r) => setTimeout(r, 300));
    expect(eventNotes().length).toBe(heard);
    // The event keeps its place in the outbox (delivered once the origin is allowed again and the Subscription re-activated).
    const held = (await running[0].storage.listOutbound({ status: 'pending' })).filter((m) => m.destination === `rest-hook:${id}`);
    expect(held).toHaveLength(1);
    // The subscriber cannot re-activate it to that origin meanwhile: the same rule, asked at write time.
    expect((await after.provider.put(`/fhir/Subscription/${id}`, { ...errored, status: 'requested' })).status).toBe(422);
    // But it can always switch it off: a Subscription that is off sends nothing.
    const off = await after.provider.put<Subscription>(`/fhir/Subscription/${id}`, { ...errored, status: 'off' });
    expect(off.status).toBe(200);
    expect(off.body.status).toBe('off');

    const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'rest-hook endpoint no longer allowed: Subscription set to error, nothing sent');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ subscription: id, organization: 'RZ2NP', origin: new URL(hook.url).origin });
    const log = lines.join('');
    for (const clinical of [input.child.nhsNumber, input.child.name?.family ?? 'Evans', input.requestId.value]) expect(log).not.toContain(clinical);
  }, 60_000);
});
