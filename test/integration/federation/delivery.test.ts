/**
 * Issue 16: messages between two instances are applied once and never move a case backwards:
 * repeats of one X-Request-ID (in sequence and at once) get the stored answer and write nothing;
 * a relay that delivers `completed` before `accepted` leaves A's Task completed, having passed
 * through every move (so A's EPR still hears of the acceptance), and the late messages change nothing.
 */
import type { Bundle, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { requestInput } from '../eso/harness.ts';
import { completeWithReport, eventually, providerMoves, startPair, taskByRequestId, whenStatus, type Pair } from './pair.ts';
import { startRelay } from './relay.ts';

const count = async (who: Pair['provider'], path: string) => ((await who.get<Bundle>(path)).body.entry ?? []).length;

describe.each(backends())('Trust to Trust: delivery (two %s databases)', (backend) => {
  let p: Pair;
  let toB: Awaited<ReturnType<typeof startRelay>>;
  let toA: Awaited<ReturnType<typeof startRelay>>;
  beforeAll(async () => {
    p = await startPair(backend);
    toB = await startRelay(p.b.server.url);
    toA = await startRelay(p.a.server.url);
    await p.link({
      a: [{ organizations: ['RZ2'], base: toB.fhir, client_id: 'eso-a', key_file: 'key-at-b.json' }],
      b: [{ organizations: ['RZ1'], base: toA.fhir, client_id: 'eso-b', key_file: 'key-at-a.json' }],
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([toB?.close(), toA?.close()]);
    await p?.stop();
  });

  it('when the same message arrives again, in sequence and five at once, then B answers each with the stored answer and keeps one case', async () => {
    // The peer is "down" for this request: A keeps it and retries; meanwhile the test delivers it itself.
    const input = requestInput();
    toB.setRule((m) => (m.event === 'eso-request' && JSON.stringify(m.bundle).includes(input.requestId.value) ? 'down' : 'pass'));
    expect((await p.requester.post('/eso/requests', input)).status).toBe(201);
    const msg = await eventually('the request at the relay', async () => toB.seen.find((m) => JSON.stringify(m.bundle).includes(input.requestId.value)));
    const answers = await Promise.all(Array.from({ length: 5 }, () => toB.deliver(msg)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    const bodies = answers.map((a) => JSON.parse(a.text) as Bundle);
    expect(new Set(bodies.map((b) => JSON.stringify(b.entry?.[0]?.resource))).size).toBe(1);
    expect((await toB.deliver(msg)).text).toBe(answers[0].text);
    toB.setRule(() => 'pass');
    // A's own retry, once the peer is back, gets the same stored answer: A records it as sent.
    await eventually('A\'s request sent', async () => ((await p.a.server.storage.listOutbound({ status: 'sent' })).some((o) => o.kind === 'fhir-message:eso-request' && o.payload.includes(msg.headers['x-request-id'])) ? true : undefined));
    const bTask = (await taskByRequestId(p.provider, input.requestId.value))!;
    expect(await count(p.provider, `/fhir/Task?identifier=${encodeURIComponent(input.requestId.value)}`)).toBe(1);
    expect(await count(p.provider, `/fhir/ServiceRequest?identifier=${encodeURIComponent(input.requestId.value)}`)).toBe(1);
    expect(await count(p.provider, `/fhir/Provenance?target=Task/${bTask.id}`)).toBe(1);
  }, 60_000);

  it('when a relay delivers completed before accepted, then A\'s Task ends completed through every move and the late messages change nothing', async () => {
    const input = requestInput();
    expect((await p.requester.post('/eso/requests', input)).status).toBe(201);
    const aTask = (await taskByRequestId(p.requester, input.requestId.value))!;
    const bTask = await eventually('the case at B', () => taskByRequestId(p.provider, input.requestId.value));
    const mine = (m: { bundle: Bundle }) => JSON.stringify(m.bundle).includes(input.requestId.value);
    // The relay acknowledges the status messages itself and keeps them.
    toA.setRule((m) => (mine(m) && m.event === 'eso-status' ? 'hold' : 'pass'));
    await providerMoves(p.provider, bTask.id!);
    await completeWithReport(p.provider, bTask);
    const done = await whenStatus(p.requester, aTask.id!, 'completed');
    const held = toA.held.filter(mine);
    expect(held.map((m) => m.sequence)).toEqual([1, 2, 3]);
    // A's Task passed through every move: one version (and one Provenance) each.
    const history = await p.requester.get<Bundle>(`/fhir/Task/${aTask.id}/_history`);
    expect((history.body.entry ?? []).map((e: { resource?: unknown }) => (e.resource as Task).status).reverse())
      .toEqual(['requested', 'received', 'accepted', 'in-progress', 'completed']);
    // The late ones: acknowledged, not applied.
    for (const m of held) {
      const late = await toA.deliver(m);
      expect(late.status).toBe(200);
      expect(late.text).toContain('older than message 4');
    }
    const after = (await p.requester.get<Task>(`/fhir/Task/${aTask.id}`)).body;
    expect(after.status).toBe('completed');
    expect(after.meta?.versionId).toBe(done.meta?.versionId);
  }, 60_000);
});
