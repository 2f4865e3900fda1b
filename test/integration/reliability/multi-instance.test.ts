/**
 * Two eso-bridge processes (child processes, as in production) on one PostgreSQL database, both
 * with the outbox dispatcher on and the same EPR endpoint for RZ1 (an EPR stand-in in this
 * process that answers slowly, so both dispatchers poll while a send is in progress):
 *
 * - Concurrent updates of one Task through both instances with If-Match on the same version:
 *   exactly one 200, every other a 412, and the history holds only the winner. Then a longer
 *   race of read-modify-write loops (If-Match, retry on 412) on both sides: one version per
 *   acknowledged update, each version building on the one before (no lost update).
 * - Cases moved through both instances (accepted, completed with a report) queue RRI^I12 and
 *   ORU^R01: every outbox row is sent, at its first attempt, and the EPR receives each MSH-10
 *   exactly once, not once per instance; a case's messages arrive in the order of its moves.
 */
import type { Annotation, Bundle, DiagnosticReport, ServiceRequest, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxView } from '../../../src/http/admin-routes.ts';
import { backends } from '../../helpers/backends.ts';
import { eprStandIn } from '../../helpers/epr-stand-in.ts';
import { declaration, report, requestInput, step, type Party, type Reply } from '../eso/harness.ts';
import { field, until } from '../hl7/harness.ts';
import { startService, type ServiceProcess } from '../../reliability/service-process.ts';
import { createWorld, type World } from '../../reliability/world.ts';

const REQUESTER = 'RZ1';
const PROVIDER = 'RZ2NP';

describe.runIf(backends().includes('postgres'))('two service processes on one PostgreSQL', () => {
  let world: World;
  const instances: ServiceProcess[] = [];
  /** The parties against each instance: [instance A, instance B]. */
  let at: [Record<string, Party>, Record<string, Party>];
  // Answers AA after 100 ms: with a 20 ms poll, both dispatchers look for work during every send.
  const epr = eprStandIn('slow');

  beforeAll(async () => {
    world = await createWorld('postgres');
    const port = await epr.listen();
    const env = {
      ...world.env,
      ESO_OUTBOX_ENABLED: 'true', ESO_EPR_ENDPOINTS: `${REQUESTER}=127.0.0.1:${port}`,
      ESO_OUTBOX_POLL_MS: '20', ESO_OUTBOX_CONNECT_TIMEOUT_MS: '2000', ESO_OUTBOX_ANSWER_TIMEOUT_MS: '8000',
      ESO_OUTBOX_LEASE_MS: '20000', ESO_OUTBOX_BACKOFF_BASE_MS: '200', ESO_OUTBOX_BACKOFF_CAP_MS: '1000',
    };
    // The first creates the signing keys, runs the migrations and the clients' organisations; the
    // second starts while the directory is completed through the first.
    instances.push(await startService(env));
    const [second] = await Promise.all([startService(env), world.setUpDirectory(instances[0].url)]);
    instances.push(second);
    at = [world.parties(instances[0].url), world.parties(instances[1].url)];
  }, 60_000);
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await epr.close();
    await world?.cleanup();
  });

  /** POST /eso/requests as the requester through instance `i`. */
  async function newCase(i: 0 | 1): Promise<{ task: Task; serviceRequest: ServiceRequest }> {
    const res = await at[i][REQUESTER].post('/eso/requests', requestInput());
    if (res.status !== 201) throw new Error(`new case: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Reads the Task, changes it and PUTs it back with If-Match, as `who`; throws unless 200. */
  async function move(who: Party, taskId: string, change: (t: Task) => void): Promise<void> {
    const current = await who.get<Task>(`/fhir/Task/${taskId}`);
    const next = structuredClone(current.body);
    change(next);
    const r = await who.put(`/fhir/Task/${taskId}`, next, { 'if-match': current.headers.get('etag') ?? '' });
    if (r.status !== 200) throw new Error(`move: ${r.status} ${JSON.stringify(r.body)}`);
  }

  const history = async (who: Party, taskId: string): Promise<Task[]> => {
    const res = await who.get<Bundle>(`/fhir/Task/${taskId}/_history`);
    expect(res.status).toBe(200);
    return (res.body.entry ?? []).map((e) => e.resource as Task).sort((x, y) => Number(x.meta!.versionId) - Number(y.meta!.versionId));
  };
  const notes = (t: Task) => (t.note ?? []).map((n: Annotation) => n.text);

  it('when both instances update the same version of a Task at once, then exactly one gets 200, all others 412, and the history holds only the winner', async () => {
    const { task } = await newCase(0);
    const v = task.meta!.versionId!;
    const before = await history(at[1][PROVIDER], task.id!);
    // The requester writes through instance A, the provider through instance B, all on version v.
    const puts = Array.from({ length: 12 }, (_, n) => {
      const [i, ods] = n % 2 ? [0, REQUESTER] as const : [1, PROVIDER] as const;
      const body: Task = { ...task, note: [...(task.note ?? []), { text: `race-${n}` }] };
      return at[i][ods].put(`/fhir/Task/${task.id}`, body, { 'if-match': `W/"${v}"` });
    });
    const replies = await Promise.all(puts);
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(11);
    const winner = replies.findIndex((r) => r.status === 200);

    const after = await history(at[0][REQUESTER], task.id!);
    expect(after).toHaveLength(before.length + 1);
    expect(after.at(-1)!.meta!.versionId).toBe(String(Number(v) + 1));
    expect(notes(after.at(-1)!)).toEqual([...notes(task), `race-${winner}`]);
  });

  it('when both sides keep read-modify-writing one Task with If-Match and retry on 412, then the history has exactly one version per acknowledged update, each building on the last', async () => {
    const { task } = await newCase(1);
    const start = (await history(at[0][REQUESTER], task.id!)).length;
    const acked: string[] = [];
    const unexpected: Reply[] = [];
    let conflicts = 0;
    /** A writer: `updates` notes, each read, appended to and written back with If-Match until it is acknowledged. */
    const writer = async (who: Party, name: string, updates: number) => {
      for (let n = 0; n < updates; n++) {
        const text = `${name}-${n}`;
        for (;;) {
          const current = await who.get<Task>(`/fhir/Task/${task.id}`);
          const next: Task = { ...current.body, note: [...(current.body.note ?? []), { text }] };
          const r = await who.put(`/fhir/Task/${task.id}`, next, { 'if-match': current.headers.get('etag') ?? '' });
          if (r.status === 200) { acked.push(text); break; }
          if (r.status === 412) { conflicts++; continue; }
          unexpected.push(r);
          return;
        }
      }
    };
    // Two writers per side, the requester on instance A and the provider on instance B.
    await Promise.all([
      writer(at[0][REQUESTER], 'rz1-a', 4), writer(at[0][REQUESTER], 'rz1-b', 4),
      writer(at[1][PROVIDER], 'rz2np-a', 4), writer(at[1][PROVIDER], 'rz2np-b', 4),
    ]);
    expect(unexpected.map((r) => [r.status, r.body])).toEqual([]);
    expect(acked).toHaveLength(16);
    // Not a requirement, but without conflicts this would not have been a race.
    expect(conflicts).toBeGreaterThan(0);

    const versions = await history(at[1][PROVIDER], task.id!);
    expect(versions).toHaveLength(start + acked.length);
    expect(versions.map((t) => Number(t.meta!.versionId))).toEqual(versions.map((_, k) => k + 1));
    // Each acknowledged update is one version that keeps everything before it and adds its own note.
    for (let k = start; k < versions.length; k++) {
      const [prev, cur] = [notes(versions[k - 1]), notes(versions[k])];
      expect(cur.slice(0, prev.length)).toEqual(prev);
      expect(cur).toHaveLength(prev.length + 1);
    }
    const added = notes(versions.at(-1)!).slice(notes(versions[start - 1]).length);
    expect([...added].sort()).toEqual([...acked].sort());
  }, 60_000);

  it('when cases are accepted and completed through both instances, then every outbox message is sent at its first attempt and the EPR receives each MSH-10 exactly once, in the order of each case\'s moves', async () => {
    const provider = (i: number) => at[i % 2][PROVIDER];
    // Six cases, created and moved through alternating instances, all at once.
    const cases = await Promise.all(Array.from({ length: 6 }, (_, n) => newCase((n % 2) as 0 | 1)));
    await Promise.all(cases.map(async ({ task }, n) => {
      await move(provider(n), task.id!, (t) => { t.status = 'received'; t.businessStatus = step('received'); });
      await move(provider(n + 1), task.id!, (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; });
    }));
    // Two of them completed with a report: RRI^I12 and ORU^R01 each.
    const reports = await Promise.all(cases.slice(0, 2).map(async ({ task, serviceRequest }, n) => {
      await move(provider(n), task.id!, (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); });
      const dr = await provider(n + 1).post<DiagnosticReport>('/fhir/DiagnosticReport', report(serviceRequest));
      expect(dr.status).toBe(201);
      await move(provider(n), task.id!, (t) => {
        t.status = 'completed';
        t.businessStatus = step('report-issued');
        t.output = [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${dr.body.id}` } }];
      });
      return dr.body.id!;
    }));
    const expected = 6 + 2 * 2;

    let rows: OutboxView[] = [];
    await until(async () => {
      const res = await at[0][REQUESTER].get<{ messages: OutboxView[] }>('/admin/outbox?limit=1000');
      rows = res.body.messages;
      return rows.length >= expected && rows.every((m) => m.status === 'sent');
    }, 30_000, 'every outbound message sent');
    // Longer than a poll and a send: a second delivery by the other instance would show now.
    await new Promise((r) => setTimeout(r, 600));

    expect(rows).toHaveLength(expected);
    expect(rows.map((m) => [m.status, m.attempts, m.lastError])).toEqual(rows.map(() => ['sent', 1, null]));
    const fromB = await at[1][REQUESTER].get<{ messages: OutboxView[] }>('/admin/outbox?limit=1000');
    expect(fromB.body.messages.map((m) => [m.id, m.status])).toEqual(rows.map((m) => [m.id, 'sent']));

    const ids = epr.received.map((m) => field(m, 'MSH', 10));
    expect(ids).toHaveLength(expected);
    expect(new Set(ids).size).toBe(expected);
    expect(epr.received.filter((m) => field(m, 'MSH', 9) === 'ORU^R01^ORU_R01')).toHaveLength(2);
    // A case's messages arrive in the order of its moves: accepted (RRI), completed (RRI with the report), ORU.
    const what = (m: string, taskId: string, reportId: string) => {
      const type = field(m, 'MSH', 9);
      if (type === 'RRI^I12^RRI_I12' && field(m, 'RF1', 11) === taskId) return field(m, 'OBR', 3) === reportId ? 'completed' : 'accepted';
      if (type === 'ORU^R01^ORU_R01' && field(m, 'OBR', 3) === reportId) return 'report';
      return undefined;
    };
    for (const [k, { task }] of cases.slice(0, 2).entries()) {
      expect(epr.received.map((m) => what(m, task.id!, reports[k])).filter(Boolean)).toEqual(['accepted', 'completed', 'report']);
    }
  }, 60_000);
});
