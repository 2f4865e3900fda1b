/**
 * Issue 16: what a receiver refuses, with a 4xx OperationOutcome and nothing written, and how the
 * sender shows it (the message failed in its outbox, with the peer's words, never the content):
 * a wrong key, a token for another audience, a sender that is not a party, a message about a case
 * the sender does not have there, a malformed Bundle. Each refusal's AuditEvent at the receiver names the
 * refused event and the sender as authentication knows it, never what an unauthenticated header claimed.
 */
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { AuditEvent, Bundle, MessageHeader, ServiceRequest } from 'fhir/r4.js';
import { CORRELATION_EXTENSION, correlationIdOf } from '../../../src/federation/messages.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { registerClient } from '../../helpers/auth.ts';
import { requestInput } from '../eso/harness.ts';
import { eventually, startPair, taskByRequestId, type Pair } from './pair.ts';
import { startRelay } from './relay.ts';

describe.each(backends())('Trust to Trust: refusals (two %s databases)', (backend) => {
  let p: Pair;
  let toB: Awaited<ReturnType<typeof startRelay>>;
  beforeAll(async () => {
    p = await startPair(backend);
    toB = await startRelay(p.b.server.url);
    await p.link({ a: [{ organizations: ['RZ2'], base: toB.fhir, client_id: 'eso-a', key_file: 'key-at-b.json' }] });
  }, 60_000);
  afterAll(async () => {
    await toB?.close();
    await p?.stop();
  });

  /** A real message A sent (for a fresh case), as the relay saw it. */
  async function aMessage(): Promise<{ bundle: Bundle; headers: Record<string, string>; requestId: string }> {
    const input = requestInput();
    expect((await p.requester.post('/eso/requests', input)).status).toBe(201);
    const m = await eventually('the message', async () => toB.seen.find((x) => JSON.stringify(x.bundle).includes(input.requestId.value)));
    await eventually('the case at B', () => taskByRequestId(p.provider, input.requestId.value));
    return { bundle: structuredClone(m.bundle), headers: m.headers, requestId: input.requestId.value };
  }

  const post = async (token: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${p.b.server.fhir}/$process-message`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json', 'x-request-id': crypto.randomUUID(), ...headers },
    });
    return { status: res.status, body: (await res.json()) as { resourceType: string; issue?: { diagnostics?: string }[] } };
  };
  const header = (b: Bundle) => b.entry![0].resource as MessageHeader;
  /** The message about another request identifier (its correlation id follows, as a sender would make it). */
  const renamed = (b: Bundle, from: string, to: string) => {
    const out = JSON.parse(JSON.stringify(b).replaceAll(from, to)) as Bundle;
    const sr = out.entry!.find((e) => e.resource?.resourceType === 'ServiceRequest')!.resource as ServiceRequest;
    header(out).extension!.find((e) => e.url === CORRELATION_EXTENSION)!.valueString = correlationIdOf('RZ1', sr.identifier![0].system!, to);
    return out;
  };

  it('when A signs with a key B does not know, then the token is refused, nothing reaches B and the message is failed at A', async () => {
    const stray = await registerClient(join(p.a.dir, 'elsewhere'), { clientId: 'eso-a', organization: 'RZ1' });
    await writeFile(join(p.a.dir, 'stray-key.json'), JSON.stringify(stray));
    await p.link({ a: [{ organizations: ['RZ2'], base: toB.fhir, client_id: 'eso-a', key_file: 'stray-key.json' }] });
    try {
      const input = requestInput();
      expect((await p.requester.post('/eso/requests', input)).status).toBe(201);
      const failed = await eventually('failed at A', async () => (await p.a.server.storage.listOutbound({ status: 'failed' })).find((m) => m.kind === 'fhir-message:eso-request'));
      expect(failed.lastError).toMatch(/Token request refused: HTTP 40[01] invalid_client/);
      expect(failed.lastError).not.toContain(input.child.nhsNumber);
      expect(await taskByRequestId(p.provider, input.requestId.value)).toBeUndefined();
    } finally {
      await p.link({ a: [{ organizations: ['RZ2'], base: toB.fhir, client_id: 'eso-a', key_file: 'key-at-b.json' }] });
    }
  }, 60_000);

  it('when a token issued by A (another audience) is presented at B, then B answers 401 and writes nothing', async () => {
    const m = await aMessage();
    const other = renamed(m.bundle, m.requestId, `${m.requestId}-aud`);
    const res = await post(await p.requester.token(), other);
    expect(res.status).toBe(401);
    expect(await taskByRequestId(p.provider, `${m.requestId}-aud`)).toBeUndefined();
  }, 60_000);

  it('when the sender is not a party (a stranger, or a header naming another Trust), then B answers 403 and writes nothing', async () => {
    const m = await aMessage();
    // RZ9's own client, speaking as itself about RZ1's request.
    const asStranger = renamed(m.bundle, m.requestId, `${m.requestId}-x`);
    header(asStranger).sender = { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RZ9' } };
    const r1 = await post(await p.stranger.token(), asStranger);
    expect(r1.status).toBe(403);
    expect(r1.body.issue?.[0].diagnostics).toContain('not the requester');
    // RZ9's client with a header that says RZ1.
    const r2 = await post(await p.stranger.token(), renamed(m.bundle, m.requestId, `${m.requestId}-y`));
    expect(r2.status).toBe(403);
    expect(r2.body.issue?.[0].diagnostics).toContain('must be the organisation the client acts for');
    // The provider's own status move, sent by the requester's Trust.
    const status = structuredClone(m.bundle);
    header(status).eventCoding!.code = 'eso-status';
    const r3 = await post(await p.aAtB.token(), status);
    expect(r3.status).toBe(403);
    expect(r3.body.issue?.[0].diagnostics).toBe('RZ1 is not the provider of this case: only the provider sends eso-status');
    // A message that borrows the case's correlation id for another request.
    const borrowed = renamed(m.bundle, m.requestId, `${m.requestId}-z`);
    header(borrowed).extension!.find((e) => e.url === CORRELATION_EXTENSION)!.valueString = header(m.bundle).extension!.find((e) => e.url === CORRELATION_EXTENSION)!.valueString;
    expect((await post(await p.aAtB.token(), borrowed)).status).toBe(400);
    for (const id of [`${m.requestId}-x`, `${m.requestId}-y`]) expect(await taskByRequestId(p.provider, id)).toBeUndefined();
    expect((await taskByRequestId(p.provider, m.requestId))?.status).toBe('requested');
  }, 60_000);

  it('when a message is about a case the sender does not have there, then B answers 404 as for any unknown case', async () => {
    const m = await aMessage();
    const unknown = renamed(m.bundle, m.requestId, `${m.requestId}-unknown`);
    header(unknown).eventCoding!.code = 'eso-cancel';
    const res = await post(await p.aAtB.token(), unknown);
    expect(res.status).toBe(404);
    expect(res.body.issue?.[0].diagnostics).toBe(`no referral ${m.requestId}-unknown from RZ1`);
  }, 60_000);

  it('when the Bundle is malformed, the headers are missing or it is addressed elsewhere, then B answers 400 or 422 naming what is wrong and writes nothing', async () => {
    const m = await aMessage();
    const token = await p.aAtB.token();
    expect((await post(token, { resourceType: 'Bundle', type: 'collection', entry: [] })).body.issue?.[0].diagnostics).toContain('Bundle of type message');
    const noHeaderFirst = structuredClone(m.bundle);
    noHeaderFirst.entry!.reverse();
    expect((await post(token, noHeaderFirst)).status).toBe(400);
    const badEvent = renamed(m.bundle, m.requestId, `${m.requestId}-e`);
    header(badEvent).eventCoding!.code = 'eso-teleport';
    const r = await post(token, badEvent);
    expect(r.status).toBe(400);
    expect(r.body.resourceType).toBe('OperationOutcome');
    expect((await post(token, m.bundle, { 'x-request-id': '' })).status).toBe(400);
    // Addressed to another Trust than the case's provider.
    const elsewhere = renamed(m.bundle, m.requestId, `${m.requestId}-d`);
    header(elsewhere).destination![0].receiver = { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RZ9' } };
    const d = await post(token, elsewhere);
    expect(d.status).toBe(422);
    expect(d.body.issue?.[0].diagnostics).toContain('is not the provider of this case');
    expect(await taskByRequestId(p.provider, `${m.requestId}-d`)).toBeUndefined();
    expect(await taskByRequestId(p.provider, `${m.requestId}-e`)).toBeUndefined();
  }, 60_000);

  it('when B refuses a message, then B\'s AuditEvent names the refused event and the sending organisation as authenticated, never what the header claimed', async () => {
    const m = await aMessage();
    const audited = (requestId: string) => eventually(`the AuditEvent of ${requestId}`, async () =>
      (await p.b.server.storage.search({ type: 'AuditEvent', criteria: [{ kind: 'token', param: 'outcome', values: [{ code: '4' }] }], count: 1000, offset: 0, total: 'none' }))
        .resources.map((r) => r.resource as AuditEvent).find((e) => e.entity?.some((x) => x.what?.identifier?.value === requestId)));
    const orgsOf = (e: AuditEvent) => e.agent.map((a) => a.who?.identifier).filter((i) => i?.system === 'https://fhir.nhs.uk/Id/ods-organization-code').map((i) => i!.value);
    const refused = async (token: string, body: Bundle, status: number) => {
      const requestId = crypto.randomUUID();
      expect((await post(token, body, { 'x-request-id': requestId })).status).toBe(status);
      return audited(requestId);
    };
    // RZ9's client with a header that says RZ1: the event names RZ9, who authenticated, and nothing of RZ1.
    const claimed = await refused(await p.stranger.token(), renamed(m.bundle, m.requestId, `${m.requestId}-c`), 403);
    expect(claimed.outcomeDesc).toBe('HTTP 403: fhir-message-refused (eso-request), from RZ9 (authenticated)');
    expect(orgsOf(claimed)).toEqual(['RZ9']);
    expect(JSON.stringify(claimed)).not.toContain('RZ1');
    // The requester's own Trust, refused by the rules (a case it does not have there).
    const unknown = renamed(m.bundle, m.requestId, `${m.requestId}-u`);
    header(unknown).eventCoding!.code = 'eso-cancel';
    const party = await refused(await p.aAtB.token(), unknown, 404);
    expect(party.outcomeDesc).toBe('HTTP 404: fhir-message-refused (eso-cancel), from RZ1 (authenticated)');
    expect(orgsOf(party)).toEqual(['RZ1']);
    // No valid token: the event says the sender was not authenticated and records no organisation at all.
    const stranger = await refused('not-a-token', m.bundle, 401);
    expect(stranger.agent.map((a) => a.who?.display)).toEqual(['unauthenticated']);
    expect(orgsOf(stranger)).toEqual([]);
    expect(JSON.stringify(stranger)).not.toContain('RZ1');
  }, 60_000);

  it('when B refuses a message (403), then A shows it failed with B\'s words in GET /admin/outbox, and nothing of the content', async () => {
    // A's entry at B names a client acting for RZ9: B refuses every message as not from a party.
    await writeFile(join(p.a.dir, 'stray-rz9.json'), JSON.stringify(p.b.keys['rz9-epr']));
    await p.link({ a: [{ organizations: ['RZ2'], base: toB.fhir, client_id: 'rz9-epr', key_file: 'stray-rz9.json' }] });
    try {
      const input = requestInput();
      expect((await p.requester.post('/eso/requests', input)).status).toBe(201);
      // What RZ1's own staff see: GET /admin/outbox with RZ1's client.
      type View = { id: number; destination: string; kind: string; status: string; attempts: number; lastError: string | null };
      const failed = await eventually('failed at A', async () => ((await p.requester.get<{ messages: View[] }>('/admin/outbox?status=failed')).body.messages ?? [])
        .find((o) => o.kind === 'fhir-message:eso-request' && o.lastError?.includes('HTTP 403')));
      expect(failed).toMatchObject({ destination: 'fed:RZ2@RZ1', status: 'failed' });
      expect(failed.lastError).toContain('must be the organisation the client acts for');
      expect(Object.keys(failed)).not.toContain('payload');
      expect(JSON.stringify(failed)).not.toContain(input.child.nhsNumber);
      expect(await taskByRequestId(p.provider, input.requestId.value)).toBeUndefined();
    } finally {
      await p.link({ a: [{ organizations: ['RZ2'], base: toB.fhir, client_id: 'eso-a', key_file: 'key-at-b.json' }] });
    }
  }, 60_000);
});
