/**
 * GET /admin/outbox over real HTTP with real tokens: an organisation sees only the messages
 * addressed to its own EPR, with a read/search scope on every type; the system (authentication
 * disabled) sees all; no answer ever carries a payload. Messages are queued straight into
 * storage (the dispatcher is off), so each status can be set up exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import type { OutboxView } from '../../../src/http/admin-routes.ts';
import type { Storage } from '../../../src/storage/types.ts';
import { hl7Fixture, startHl7Server, type Hl7Server } from './harness.ts';

// A real payload: NHS number, names and clinical text, none of which may leave.
const PAYLOAD = hl7Fixture('RRI_I12.completed');
const SECRETS = ['9000000009', 'Amira', 'ketogenic'];
const FIELDS = ['attempts', 'createdAt', 'destination', 'id', 'kind', 'lastError', 'nextAttemptAt', 'sentAt', 'status'];

/** Queues RA7: pending, sent, failed; RGT: pending. Returns the ids in that order. */
async function queue(storage: Storage): Promise<number[]> {
  const ids = await storage.transaction(async (tx) => [
    await tx.enqueueOutbound('mllp:RA7', 'hl7v2:RRI^I12', PAYLOAD),
    await tx.enqueueOutbound('mllp:RA7', 'hl7v2:RRI^I12', PAYLOAD),
    await tx.enqueueOutbound('mllp:RA7', 'hl7v2:ORU^R01', PAYLOAD),
    await tx.enqueueOutbound('mllp:RGT', 'hl7v2:RRI^I12', PAYLOAD),
  ]);
  await storage.markOutbound(ids[1], { status: 'sent' });
  await storage.markOutbound(ids[2], { status: 'failed', error: 'AE: Patient not known to this EPR' });
  return ids;
}

describe.each(backends())('GET /admin/outbox with authentication on %s', (backend) => {
  let h: Hl7Server;
  let ids: number[];
  beforeAll(async () => {
    h = await startHl7Server(backend, { MLLP_ENABLED: 'false' });
    ids = await queue(h.server.storage);
  });
  afterAll(async () => { await h?.stop(); });

  const get = async (token: string | undefined, query = '') => {
    const res = await fetch(`${h.server.url}/admin/outbox${query}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };

  it("when an organisation asks, then it sees only the messages for its own EPR, oldest first, without payloads", async () => {
    const res = await get(await h.as.RA7.token());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const { messages } = JSON.parse(res.text) as { messages: OutboxView[] };
    expect(messages.map((m) => [m.id, m.destination, m.kind, m.status])).toEqual([
      [ids[0], 'mllp:RA7', 'hl7v2:RRI^I12', 'pending'],
      [ids[1], 'mllp:RA7', 'hl7v2:RRI^I12', 'sent'],
      [ids[2], 'mllp:RA7', 'hl7v2:ORU^R01', 'failed'],
    ]);
    for (const m of messages) expect(Object.keys(m).sort()).toEqual(FIELDS);
    expect(messages[1].sentAt).not.toBeNull();
    expect(messages[2].lastError).toBe('AE: Patient not known to this EPR');
    for (const s of SECRETS) expect(res.text).not.toContain(s);

    const rgt = JSON.parse((await get(await h.as.RGT.token())).text) as { messages: OutboxView[] };
    expect(rgt.messages.map((m) => m.id)).toEqual([ids[3]]);
    const provider = JSON.parse((await get(await h.as.SGH01.token())).text) as { messages: OutboxView[] };
    expect(provider.messages).toEqual([]);
  });

  it('when an organisation reads the outbox, then the read leaves an AuditEvent naming it', async () => {
    const before = await h.server.storage.search({ type: 'AuditEvent', criteria: [], count: 1000, offset: 0, total: 'accurate' });
    expect((await get(await h.as.RGT.token())).status).toBe(200);
    const after = await h.server.storage.search({ type: 'AuditEvent', criteria: [], count: 1000, offset: 0, total: 'accurate' });
    const added = after.resources.map((r) => JSON.stringify(r.resource)).filter((t) => !before.resources.some((b) => JSON.stringify(b.resource) === t));
    expect(added.some((t) => t.includes('admin-outbox') && t.includes('"RGT"'))).toBe(true);
  });

  it('when status and limit are given, then only those messages come back, up to the limit', async () => {
    const token = await h.as.RA7.token();
    const failed = JSON.parse((await get(token, '?status=failed')).text) as { messages: OutboxView[] };
    expect(failed.messages.map((m) => m.id)).toEqual([ids[2]]);
    const pending = JSON.parse((await get(token, '?status=pending&limit=1')).text) as { messages: OutboxView[] };
    expect(pending.messages.map((m) => m.id)).toEqual([ids[0]]);
    const firstTwo = JSON.parse((await get(token, '?limit=2')).text) as { messages: OutboxView[] };
    expect(firstTwo.messages.map((m) => m.id)).toEqual([ids[0], ids[1]]);
  });

  it('when the query is malformed, then the answer is 400 naming the parameter', async () => {
    const token = await h.as.RA7.token();
    for (const q of ['?status=lost', '?status=sent&status=failed', '?limit=0', '?limit=1001', '?limit=ten', '?limit=-1']) {
      const res = await get(token, q);
      expect(res.status, q).toBe(400);
      expect(JSON.parse(res.text)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'invalid' }] });
    }
  });

  it('when the token lacks read and search on every type, then the answer is 403; system/*.rs and v1 system/*.read are enough', async () => {
    const narrow = await get(await h.as.RA7.token('system/Task.rs'));
    expect(narrow.status).toBe(403);
    expect(JSON.parse(narrow.text)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'forbidden', diagnostics: 'Insufficient scope: the outbox needs system/*.rs' }] });
    expect((await get(await h.as.RA7.token('system/*.r'))).status).toBe(403);
    expect((await get(await h.as.RA7.token('system/*.rs'))).status).toBe(200);
    expect((await get(await h.as.RA7.token('system/*.read'))).status).toBe(200);
  });

  it('when there is no token, then the answer is 401 and nothing is listed', async () => {
    const res = await get(undefined);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.text).not.toContain('mllp:');
  });
});

describe.each(backends())('GET /admin/outbox as the system (authentication disabled) on %s', (backend) => {
  let server: TestServer;
  let ids: number[];
  beforeAll(async () => {
    // The system's own view of the outbox is what this suite checks: it exists only with authentication off.
    server = await startTestServer(backend, { ESO_AUTH_DISABLED: 'true' });
    ids = await queue(server.storage);
  });
  afterAll(async () => { await server?.stop(); });

  it('when the system asks, then it sees every destination, still without payloads', async () => {
    const res = await fetch(`${server.url}/admin/outbox`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const { messages } = JSON.parse(text) as { messages: OutboxView[] };
    expect(messages.map((m) => [m.id, m.destination])).toEqual([[ids[0], 'mllp:RA7'], [ids[1], 'mllp:RA7'], [ids[2], 'mllp:RA7'], [ids[3], 'mllp:RGT']]);
    for (const s of SECRETS) expect(text).not.toContain(s);
    const pending = JSON.parse(await (await fetch(`${server.url}/admin/outbox?status=pending`)).text()) as { messages: OutboxView[] };
    expect(pending.messages.map((m) => m.id)).toEqual([ids[0], ids[3]]);
  });
});
