/**
 * The way out, end to end: a case that came in over MLLP is accepted and completed by the
 * provider through FHIR (real tokens), and the requesting organisation's EPR, a stand-in built on
 * Medplum's Hl7Connection, receives RRI^I12 and ORU^R01 in order. An EPR that refuses (AE) and
 * one that is down at first, with what GET /admin/outbox shows for each.
 */
import type { DiagnosticReport, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { changeTask, declaration, report, step, type Party } from '../eso/harness.ts';
import type { OutboxView } from '../../../src/http/admin-routes.ts';
import {
  closedPort, eprStandIn, field, newCaseOverMllp, SAMPLES, segmentsOf, startHl7Server,
  until, type Hl7Party, type Hl7Server,
} from './harness.ts';

describe.each(backends())('HL7 v2 return messages to EPRs on %s', (backend) => {
  let h: Hl7Server;
  // RA7's EPR answers AA, RGT's answers AE, RTH's is down until a test starts it.
  const accepting = eprStandIn('AA');
  const refusing = eprStandIn('AE');
  const late = eprStandIn('AA');
  let latePort = 0;

  beforeAll(async () => {
    const [aa, ae] = [await accepting.listen(), await refusing.listen()];
    latePort = await closedPort();
    h = await startHl7Server(backend, {
      ESO_OUTBOX_ENABLED: 'true',
      ESO_EPR_ENDPOINTS: `RA7=127.0.0.1:${aa},RGT=127.0.0.1:${ae},RTH=127.0.0.1:${latePort}`,
    });
  });
  afterAll(async () => {
    await h?.stop();
    await Promise.all([accepting.close(), refusing.close(), late.close()]);
  });

  async function move(who: Party, taskId: string, change: (t: Task) => void): Promise<void> {
    const r = await changeTask(who, taskId, change);
    if (r.status !== 200) throw new Error(`move: ${r.status} ${JSON.stringify(r.body)}`);
  }

  const accept = async (who: Party, taskId: string) => {
    await move(who, taskId, (t) => { t.status = 'received'; t.businessStatus = step('received'); });
    await move(who, taskId, (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; });
  };

  /** GET /admin/outbox as `who` (its own destination only). */
  async function outbox(who: Hl7Party, query = ''): Promise<OutboxView[]> {
    const res = await who.get<{ messages: OutboxView[] }>(`/admin/outbox${query}`);
    expect(res.status).toBe(200);
    return res.body.messages;
  }

  it('when the provider accepts and then completes with a report, then the requester EPR receives RRI^I12 (accepted), RRI^I12 and ORU^R01 (report) in that order, and the outbox shows them sent', async () => {
    const provider = h.as.SGH01;
    const { task, sr, requestId } = await newCaseOverMllp(h, 'v251');
    const nhs = SAMPLES.v251.nhsNumber;
    await accept(provider, task.id!);
    await until(() => accepting.received.length >= 1, 10_000, 'the RRI^I12 for accepted');
    await move(provider, task.id!, (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); });
    const dr = await provider.post<DiagnosticReport>('/fhir/DiagnosticReport', report(sr));
    expect(dr.status).toBe(201);
    await move(provider, task.id!, (t) => {
      t.status = 'completed';
      t.businessStatus = step('report-issued');
      t.output = [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${dr.body.id}` } }];
    });
    await until(() => accepting.received.length >= 3, 10_000, 'the completed RRI^I12 and ORU^R01');
    await new Promise((r) => setTimeout(r, 300)); // nothing more should come

    const got = accepting.received;
    expect(got.map((m) => field(m, 'MSH', 9))).toEqual(['RRI^I12^RRI_I12', 'RRI^I12^RRI_I12', 'ORU^R01^ORU_R01']);
    for (const m of got) {
      expect(field(m, 'MSH', 3)).toBe('ESO_BRIDGE');
      expect(field(m, 'MSH', 4)).toBe('ESO');
      expect(field(m, 'MSH', 5)).toBe(''); // no application configured for RA7 (short form)
      expect(field(m, 'MSH', 6)).toBe('RA7');
      // The sender's own identifiers come back: the NHS number first, then its MRN as it sent it.
      expect(field(m, 'PID', 3)).toBe(`${nhs}^^^NHS^NH~RA7123456^^^RA7^MR`);
    }
    expect(new Set(got.map((m) => field(m, 'MSH', 10))).size).toBe(3);
    const [accepted, completed, oru] = got;
    // RRI: RF1-1 status, RF1-6 the requester's referral id, RF1-11 the case at eso-bridge.
    expect(field(accepted, 'RF1', 1)).toBe('A^Accepted^HL70283');
    expect(field(accepted, 'RF1', 6)).toBe(requestId);
    expect(field(accepted, 'RF1', 11)).toBe(task.id);
    expect(field(accepted, 'PRD', 4, 1)).toBe('^^^RA7');
    expect(field(accepted, 'PRD', 4, 2)).toBe('^^^SGH01');
    expect(segmentsOf(accepted).some((l) => l.startsWith('OBR|'))).toBe(false);
    expect(field(completed, 'RF1', 6)).toBe(requestId);
    expect(field(completed, 'RF1', 11)).toBe(task.id);
    // The report: OBR-2 the referral id (placer), OBR-3 the report (filler), an OBX per answer.
    for (const m of [completed, oru]) {
      expect(field(m, 'OBR', 2)).toBe(requestId);
      expect(field(m, 'OBR', 3)).toBe(dr.body.id);
      expect(segmentsOf(m).filter((l) => l.startsWith('OBX|') && l.includes('|ESOANSWER^'))).toHaveLength(3);
    }

    const mine = await outbox(h.as.RA7);
    expect(mine.map((m) => [m.kind, m.status, m.attempts])).toEqual([
      ['hl7v2:RRI^I12', 'sent', 1], ['hl7v2:RRI^I12', 'sent', 1], ['hl7v2:ORU^R01', 'sent', 1],
    ]);
    for (const m of mine) {
      expect(Object.keys(m).sort()).toEqual(['attempts', 'createdAt', 'destination', 'id', 'kind', 'lastError', 'nextAttemptAt', 'sentAt', 'status']);
      expect(m).toMatchObject({ destination: 'mllp:RA7', lastError: null });
      expect(Date.parse(m.sentAt!)).toBeGreaterThanOrEqual(Date.parse(m.createdAt));
    }
    expect(JSON.stringify(mine)).not.toContain(nhs);
    expect(await outbox(h.as.RA7, '?status=pending')).toEqual([]);
  });

  it("when the requester's EPR answers AE, then the message is failed, not resent, and its error is visible in the outbox", async () => {
    const { task } = await newCaseOverMllp(h, 'v24');
    await accept(h.as.RJ101, task.id!);
    let failed: OutboxView[] = [];
    await until(async () => (failed = await outbox(h.as.RGT, '?status=failed')).length >= 1, 10_000, 'the failed message');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ destination: 'mllp:RGT', kind: 'hl7v2:RRI^I12', status: 'failed', attempts: 1, lastError: 'AE: Patient not known to this EPR', sentAt: null });
    await new Promise((r) => setTimeout(r, 500));
    expect(refusing.received).toHaveLength(1);
    expect(field(refusing.received[0], 'MSH', 6)).toBe('RGT');
    expect(await outbox(h.as.RGT, '?status=pending')).toEqual([]);
  });

  it("when the requester's EPR is down at first, then the message stays pending with its attempts and error, and is delivered once the EPR is up", async () => {
    const { task, requestId } = await newCaseOverMllp(h, 'v23');
    await accept(h.as.RYJ01, task.id!);
    let pending: OutboxView[] = [];
    await until(async () => (pending = await outbox(h.as.RTH, '?status=pending')).some((m) => m.attempts >= 1 && m.lastError !== null), 10_000, 'a failed attempt');
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ destination: 'mllp:RTH', kind: 'hl7v2:RRI^I12', status: 'pending', sentAt: null });
    expect(pending[0].lastError).toMatch(/ECONNREFUSED/);
    // The next attempt waits (exponential backoff from 1 s), so it is in the future.
    expect(Date.parse(pending[0].nextAttemptAt)).toBeGreaterThan(Date.parse(pending[0].createdAt));

    await late.listen(latePort);
    let sent: OutboxView[] = [];
    await until(async () => (sent = await outbox(h.as.RTH, '?status=sent')).length >= 1, 15_000, 'the delivery after the EPR came up');
    expect(sent[0].attempts).toBeGreaterThanOrEqual(2);
    expect(late.received).toHaveLength(1);
    expect(field(late.received[0], 'MSH', 12)).toBe('2.5.1');
    expect(field(late.received[0], 'RF1', 6)).toBe(requestId);
    expect(field(late.received[0], 'RF1', 1)).toBe('A^Accepted^HL70283');
  }, 25_000);
});

describe('HL7 v2 return messages without polling', () => {
  const epr = eprStandIn('AA');
  let h: Hl7Server;
  beforeAll(async () => {
    // The dispatcher polls once at start and then only every 10 minutes: a delivery now is the commit's wake-up.
    h = await startHl7Server('sqlite', { ESO_OUTBOX_ENABLED: 'true', ESO_OUTBOX_POLL_MS: '600000', ESO_EPR_ENDPOINTS: `RA7=127.0.0.1:${await epr.listen()}` });
  });
  afterAll(async () => {
    await h?.stop();
    await epr.close();
  });

  it('when a change queues a message, then the dispatcher sends it at once rather than at its next poll', async () => {
    const { task } = await newCaseOverMllp(h, 'v251');
    await new Promise((r) => setTimeout(r, 300)); // the dispatcher is asleep in its long poll by now
    for (const change of [
      (t: Task) => { t.status = 'received'; t.businessStatus = step('received'); },
      (t: Task) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; },
    ]) expect((await changeTask(h.as.SGH01, task.id!, change)).status).toBe(200);
    await until(() => epr.received.length >= 1, 20_000, 'the RRI^I12 without a poll');
    expect(field(epr.received[0], 'MSH', 9)).toMatch(/^RRI\^I12/);
  });
});
