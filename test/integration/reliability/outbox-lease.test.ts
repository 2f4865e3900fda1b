/**
 * Handing a message over between instances, on real storage (on PostgreSQL each dispatcher has its
 * own connection pool, as two instances would):
 * - when one instance's lease runs out while its send is still going (the process stalled, or the
 *   other host's clock is ahead) and the other instance takes the message over and delivers it, the
 *   late outcome of the first must not overwrite the delivery (else the message goes back to
 *   pending and is sent once more);
 * - when an instance stops (SIGTERM) while its EPR is silent, it does not wait out the answer
 *   timeout: it gives up the send and hands the message back, due at once, for another instance.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboxDispatcher } from '../../../src/hl7/outbox-dispatcher.ts';
import { MllpClientError } from '../../../src/hl7/mllp-client.ts';
import { openStorage } from '../../../src/storage/open.ts';
import type { Storage } from '../../../src/storage/types.ts';
import { backendEnv, backends, type BackendEnv } from '../../helpers/backends.ts';
import { until } from '../hl7/harness.ts';
import { scriptedEpr } from '../../helpers/epr-stand-in.ts';

const LEASE_MS = 2000;
const ENDPOINTS = { RA7: { host: '127.0.0.1', port: 9 } };
const ACK_AA = 'MSH|^~\\&|EPR|RA7|ESO_BRIDGE|ESO|20260101120000||ACK^I12^ACK|A1|P|2.5.1\rMSA|AA|M1\r';
const PAYLOAD = 'MSH|^~\\&|ESO_BRIDGE|ESO||RA7|20260101120000||RRI^I12^RRI_I12|M1|P|2.5.1\r';

describe.each(backends())('the outbox lease on %s', (backend) => {
  let env: BackendEnv;
  let first: Storage;
  let second: Storage;
  beforeAll(async () => {
    env = await backendEnv(backend);
    const open = () => openStorage({ databaseUrl: env.env.DATABASE_URL, dataDir: env.dataDir });
    first = await open();
    second = backend === 'postgres' ? await open() : first;
  });
  afterAll(async () => {
    if (second !== first) await second?.close();
    await first?.close();
    await env.cleanup();
  });

  it('when an instance whose lease ran out reports its send late, then the delivery another instance made in the meantime stands and nothing is sent again', async () => {
    const id = await first.transaction((tx) => tx.enqueueOutbound('mllp:RA7', 'hl7v2:RRI^I12', PAYLOAD));
    const sends: string[] = [];

    // Instance A claims the message; its send hangs until the test lets it fail.
    let failA!: () => void;
    const a = new OutboxDispatcher({
      storage: first, endpoints: ENDPOINTS, pollMs: 10, leaseMs: LEASE_MS, connectTimeoutMs: 500, answerTimeoutMs: 1000,
      send: () => {
        sends.push('A');
        return new Promise<string>((_, reject) => { failA = () => reject(new MllpClientError('answer-timeout')); });
      },
    });
    a.start();
    await until(() => sends.length === 1, 10_000, 'instance A sending');

    // Instance B sees A's lease as run out (its clock is past it) and delivers the message.
    const b = new OutboxDispatcher({
      storage: second, endpoints: ENDPOINTS, pollMs: 10, leaseMs: LEASE_MS, connectTimeoutMs: 500, answerTimeoutMs: 1000,
      now: () => new Date(Date.now() + LEASE_MS + 1000),
      send: async () => { sends.push('B'); return ACK_AA; },
    });
    b.start();
    const row = async () => (await first.listOutbound({ limit: 1000 })).find((m) => m.id === id)!;
    await until(async () => (await row()).status === 'sent', 10_000, 'instance B delivering');

    // A's send now fails, late: its outcome must not undo B's delivery.
    failA();
    await a.stop();
    await new Promise((r) => setTimeout(r, 200));
    await b.stop();

    expect(await row()).toMatchObject({ status: 'sent', attempts: 2, lastError: null });
    expect(sends).toEqual(['A', 'B']);
  });

  it('when an instance stops while its EPR is silent, then it stops without waiting out the answer timeout and the message is due again at once, for another instance', async () => {
    const epr = scriptedEpr(() => 'silent');
    const port = await epr.listen();
    try {
      const id = await first.transaction((tx) => tx.enqueueOutbound('mllp:RB1', 'hl7v2:RRI^I12', PAYLOAD));
      // An answer timeout far longer than this test may take.
      const a = new OutboxDispatcher({ storage: first, endpoints: { RB1: { host: '127.0.0.1', port } }, pollMs: 10, leaseMs: 600_000, connectTimeoutMs: 5000, answerTimeoutMs: 300_000 });
      a.start();
      await until(() => epr.received.length === 1, 10_000, 'the message at the silent EPR');
      await a.stop();

      const row = (await first.listOutbound({ limit: 1000 })).find((m) => m.id === id)!;
      expect(row).toMatchObject({ status: 'pending', attempts: 1, sentAt: null });
      expect(row.lastError).toMatch(/stopped/);
      // Not leased, and due now: another instance claims it at once.
      expect((await second.claimOutbound(new Date().toISOString(), LEASE_MS))?.id).toBe(id);
      await second.markOutbound(id, { status: 'sent' });
    } finally {
      await epr.close();
    }
  }, 20_000);
});
