/**
 * At start, one log line summarises the configuration (no secrets), and a warning says when HL7 v2
 * senders are registered without an EPR endpoint; their return messages then show in /admin/outbox
 * as failed, "no route", instead of never being made.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxView } from '../../../src/http/admin-routes.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import { backends } from '../../helpers/backends.ts';
import { changeTask, declaration, newCase, startEsoServer, startWork, step } from '../eso/harness.ts';
import { newCaseOverMllp, startHl7Server, until, type Hl7Server } from '../hl7/harness.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { startServer } from '../../../src/server.ts';
import { registerClient } from '../../helpers/auth.ts';
import { startTestServer } from '../../helpers/server.ts';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
  return { log: createLogger('info', sink), lines: () => chunks.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('the start summary', () => {
  it('when the server starts, then one line gives ports, database kind and counts, and no secret', async () => {
    // A test server's files (a registered client, a directory), started again with a log we can read.
    const t = await startTestServer('sqlite', { ESO_EPR_ENDPOINTS: 'TST01=127.0.0.1:2576' });
    await t.close();
    const { log, lines } = capture();
    const running = await startServer(loadConfig({ ...t.env, ESO_METRICS_PORT: '0', MLLP_ENABLED: 'true', MLLP_PORT: '0' }), { log });
    try {
      const summary = lines().find((l) => l.msg === 'eso-bridge configuration');
      expect(summary).toMatchObject({ database: 'sqlite', authentication: 'on', clients: 1, mllpSenders: 0, directoryEntries: 0, eprEndpoints: 1, ehrs: 0, peers: 0 });
      expect(summary!.mllpPort).toBe(running.mllpPort);
      expect(summary!.metricsPort).toBe(running.metricsPort);
      expect(lines().some((l) => l.level === 40 && String(l.msg).includes('no route'))).toBe(false);
      const text = JSON.stringify(lines());
      for (const secret of ['"d":', 'private', t.dataDir]) expect(text).not.toContain(secret);
    } finally {
      await running.close();
      await t.stop();
    }
  });
});

describe('the no-route warning', () => {
  it('when an HL7 v2 sender is registered and no EPR endpoint is configured, then the start warns that its return messages have no route', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eso-no-route-'));
    await registerClient(dir, { clientId: 'ra7-engine', organization: 'RA7', mllp: { addresses: ['127.0.0.1'] } });
    await registerClient(dir, { clientId: 'rgt-engine', organization: 'RGT', mllp: { addresses: ['127.0.0.1'] } });
    const { log, lines } = capture();
    const running = await startServer(loadConfig({ PORT: '0', MLLP_PORT: '0', ESO_DATA_DIR: dir, ESO_EPR_ENDPOINTS: 'RGT=127.0.0.1:2576', ESO_OUTBOX_ENABLED: 'false' }), { log });
    await running.close();
    rmSync(dir, { recursive: true, force: true });
    expect(lines().find((l) => l.msg === 'eso-bridge configuration')).toMatchObject({ clients: 2, mllpSenders: 2, eprEndpoints: 1 });
    expect(lines().find((l) => l.level === 40 && String(l.msg).includes('no route'))).toMatchObject({ organisations: 1, eprEndpoints: 1 });
  });
});

describe.each(backends())('HL7 v2 senders without an EPR endpoint on %s', (backend) => {
  let h: Hl7Server;
  beforeAll(async () => {
    h = await startHl7Server(backend, { ESO_OUTBOX_ENABLED: 'true', ESO_EPR_ENDPOINTS: '' });
  });
  afterAll(async () => { await h?.stop(); });

  it('when a case that came over MLLP is accepted, then its RRI^I12 shows in /admin/outbox as failed, no route', async () => {
    const { task } = await newCaseOverMllp(h, 'v251');
    const provider = h.as.SGH01;
    const move = async (change: (t: Task) => void) => expect((await changeTask(provider, task.id!, change)).status).toBe(200);
    await move((t) => { t.status = 'received'; t.businessStatus = step('received'); });
    await move((t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; });
    let mine: OutboxView[] = [];
    await until(async () => {
      mine = (await h.as.RA7.get<{ messages: OutboxView[] }>('/admin/outbox')).body.messages;
      return mine.some((m) => m.status === 'failed');
    }, 10_000, 'the unrouted message marked failed');
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ destination: 'mllp:RA7', kind: 'hl7v2:RRI^I12', status: 'failed', attempts: expect.any(Number) });
    expect(mine[0].lastError).toMatch(/^no route: /);
  });
});

describe('an organisation that does not send HL7 v2', () => {
  it('when its case is accepted and it has no EPR endpoint, then no return message is made for it (nothing to route, nothing piling up)', async () => {
    const s = await startEsoServer('sqlite');
    try {
      const { task } = await newCase(s);
      await startWork(s, task.id!);
      const res = await s.as.requester.get<{ messages: OutboxView[] }>('/admin/outbox');
      expect(res.status).toBe(200);
      expect(res.body.messages).toEqual([]);
    } finally {
      await s.stop();
    }
  });
});
