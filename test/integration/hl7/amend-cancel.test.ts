/**
 * REF^I13 (amend) and REF^I14 (cancel) end to end, over POST /hl7/v2 (real tokens) and MLLP:
 * the requester's own case is found by its referral id (RF1-6), changed under the same rules as
 * the FHIR API, answered AA only after the commit, and audited like REF^I12. Another Trust's
 * referral id is answered exactly as an unknown one.
 */
import type { AuditEvent, ServiceRequest, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { changeTask, declaration, step, type Party } from '../eso/harness.ts';
import type { CaseTimeline } from '../../../src/domain/index.ts';
import {
  eprStandIn, field, freshSample, msa, newCaseOverMllp, segmentsOf, sendWithMedplum, setField, startHl7Server, storedCounts, uniqueId, until, type Hl7Server,
} from './harness.ts';

const ER7 = 'x-application/hl7-v2+er7';
const NEW_QUESTION = 'Family question: would a clinical trial in Europe be open to Noah?';

/** The v2.5.1 sample turned into another event for `requestId`, sent as `sender` (MSH-4). */
function message(event: 'I13' | 'I14', requestId: string, sender = 'RA7'): { text: string; controlId: string } {
  const controlId = uniqueId(`${sender}E`);
  let text = freshSample('v251', { controlId }).text;
  text = setField(setField(text, 'MSH', 9, `REF^${event}^REF_I12`), 'MSH', 4, sender);
  text = setField(text, 'RF1', 6, `${requestId}^^${sender}`);
  if (event === 'I13') text = text.replace(/NTE\|1\|P\|[^\r]*/, `NTE|1|P|${NEW_QUESTION}`);
  else text = segmentsOf(text).filter((s) => !s.startsWith('NTE')).concat('NTE|1|P|The family chose to stay with the local team').join('\r');
  return { text, controlId };
}

describe.each(backends())('HL7 v2 REF^I13 and REF^I14 on %s', (backend) => {
  let h: Hl7Server;
  const epr = eprStandIn('AA');

  beforeAll(async () => {
    const port = await epr.listen();
    h = await startHl7Server(backend, { ESO_OUTBOX_ENABLED: 'true', ESO_EPR_ENDPOINTS: `RA7=127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await h?.stop();
    await epr.close();
  });

  const post = async (who: Party, text: string) => {
    const res = await who.post<string>('/hl7/v2', text, { 'content-type': ER7, accept: ER7 });
    expect(res.status).toBe(200);
    return res.body;
  };
  const taskOf = async (id: string) => (await h.as.RA7.get<Task>(`/fhir/Task/${id}`)).body;
  const srOf = async (id: string) => (await h.as.RA7.get<ServiceRequest>(`/fhir/ServiceRequest/${id}`)).body;
  const questions = (sr: ServiceRequest) => (sr.extension ?? []).filter((e) => e.url.endsWith('eso-question')).map((q) => q.extension?.find((x) => x.url === 'text')?.valueString);
  const auditsOf = async (detail: string, taskId: string) => (await h.server.storage.search({ type: 'AuditEvent', criteria: [], count: 1000, offset: 0, total: 'none' })).resources
    .map((r) => r.resource as AuditEvent)
    .filter((a) => JSON.stringify(a).includes(detail) && JSON.stringify(a).includes(`Task/${taskId}`));

  async function move(taskId: string, change: (t: Task) => void): Promise<void> {
    const r = await changeTask(h.as.SGH01, taskId, change);
    if (r.status !== 200) throw new Error(`move: ${r.status} ${JSON.stringify(r.body)}`);
  }
  const accept = async (taskId: string) => {
    await move(taskId, (t) => { t.status = 'received'; t.businessStatus = step('received'); });
    await move(taskId, (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; });
  };

  it('when the requester sends REF^I13 with a changed question over POST /hl7/v2, then AA, the request holds the new question, the timeline says the questions changed, and it is audited', async () => {
    const { task, sr, requestId } = await newCaseOverMllp(h, 'v251');
    expect(questions(sr)[0]).not.toBe(NEW_QUESTION.replace('Family question: ', ''));
    const { text, controlId } = message('I13', requestId);
    expect(msa(await post(h.as.RA7, text))).toMatchObject({ code: 'AA', controlId });
    const after = await srOf(sr.id!);
    // The "Family question:" prefix says who asked (askedBy); the text is the question itself.
    expect(questions(after)[0]).toBe(NEW_QUESTION.replace('Family question: ', ''));
    expect(questions(after).slice(1)).toEqual(questions(sr).slice(1));
    const timeline = (await h.as.RA7.get<CaseTimeline>(`/eso/cases/${task.id}/timeline`)).body;
    expect(timeline.events.map((e) => e.text)).toContainEqual(expect.stringMatching(/updated the request: the questions$/));
    expect(await auditsOf('hl7v2-ref-i13', task.id!)).toHaveLength(1);
  });

  it('when REF^I13 over MLLP brings the due date forward and makes the request urgent, then the Task and request carry them and the timeline names both changes', async () => {
    const { task, sr, requestId } = await newCaseOverMllp(h, 'v251');
    let { text } = message('I13', requestId);
    text = setField(setField(text, 'RF1', 8, '20261130'), 'RF1', 2, 'S^STAT^HL70280');
    expect(msa(await sendWithMedplum(h.mllpPort, text)).code).toBe('AA');
    const t = await taskOf(task.id!);
    expect(t.restriction?.period?.end).toBe('2026-11-30T23:59:59Z');
    expect(t.priority).toBe('stat');
    expect((await srOf(sr.id!)).priority).toBe('stat');
    const timeline = (await h.as.RA7.get<CaseTimeline>(`/eso/cases/${task.id}/timeline`)).body;
    expect(timeline.events.map((e) => e.text)).toContainEqual(expect.stringMatching(/updated the request: the questions and the urgency$/));
  });

  it('when the case was cancelled, then REF^I13 over MLLP is AE saying it is closed, and nothing changes', async () => {
    const { sr, requestId } = await newCaseOverMllp(h, 'v251');
    expect(msa(await post(h.as.RA7, message('I14', requestId).text)).code).toBe('AA');
    const ack = await sendWithMedplum(h.mllpPort, message('I13', requestId).text);
    expect(msa(ack).code).toBe('AE');
    expect(field(ack, 'ERR', 8)).toBe(`Referral ${requestId} cannot be amended: it is closed (status cancelled)`);
    expect(questions(await srOf(sr.id!))).toEqual(questions(sr));
  });

  it('when the requester sends REF^I14 over MLLP before work starts, then AA, the Task is cancelled, the request revoked, its EPR gets an RRI^I12, and it is audited', async () => {
    const { task, sr, requestId } = await newCaseOverMllp(h, 'v251');
    const { text, controlId } = message('I14', requestId);
    expect(msa(await sendWithMedplum(h.mllpPort, text))).toMatchObject({ code: 'AA', controlId });
    const t = await taskOf(task.id!);
    expect(t.status).toBe('cancelled');
    expect(t.businessStatus?.coding?.[0]?.code).toBe('withdrawn');
    expect(t.statusReason?.text).toBe('The family chose to stay with the local team');
    expect((await srOf(sr.id!)).status).toBe('revoked');
    await until(() => epr.received.some((m) => field(m, 'RF1', 6)?.startsWith(requestId) ?? false), 10_000, 'the RRI^I12 for the cancel');
    const rri = epr.received.find((m) => field(m, 'RF1', 6)?.startsWith(requestId))!;
    expect(field(rri, 'MSH', 9)).toBe('RRI^I12^RRI_I12');
    expect(await auditsOf('hl7v2-ref-i14', task.id!)).toHaveLength(1);
  });

  it('when the provider has started work, then REF^I14 over MLLP is AE saying so, and nothing changes', async () => {
    const { task, sr, requestId } = await newCaseOverMllp(h, 'v251');
    await accept(task.id!);
    await move(task.id!, (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); });
    const before = await storedCounts(h.server.storage);
    const { text, controlId } = message('I14', requestId);
    const ack = await sendWithMedplum(h.mllpPort, text);
    expect(msa(ack)).toMatchObject({ code: 'AE', controlId });
    expect(field(ack, 'ERR', 8)).toMatch(new RegExp(`^Referral ${requestId} cannot be cancelled: the provider has started work on it`));
    expect((await taskOf(task.id!)).status).toBe('in-progress');
    expect((await srOf(sr.id!)).status).toBe('active');
    expect(await storedCounts(h.server.storage)).toEqual(before);
  });

  it('when the provider has accepted but not started, then REF^I14 still cancels (the requester may withdraw before the work starts)', async () => {
    const { task, requestId } = await newCaseOverMllp(h, 'v251');
    await accept(task.id!);
    expect(msa(await post(h.as.RA7, message('I14', requestId).text)).code).toBe('AA');
    expect((await taskOf(task.id!)).status).toBe('cancelled');
  });

  it("when another Trust sends REF^I13 or REF^I14 with this Trust's referral id, then the AE is the same as for an id nobody has, and the case is untouched", async () => {
    const { task, sr, requestId } = await newCaseOverMllp(h, 'v251');
    const unknown = uniqueId('NOBODY');
    for (const event of ['I13', 'I14'] as const) {
      const theirs = await post(h.as.RGT, message(event, requestId, 'RGT').text);
      const none = await post(h.as.RGT, message(event, unknown, 'RGT').text);
      expect(msa(theirs).code).toBe('AE');
      expect(field(theirs, 'ERR', 8)).toBe(`no referral ${requestId} from RGT`);
      expect(field(none, 'ERR', 8)).toBe(`no referral ${unknown} from RGT`);
      expect(field(theirs, 'ERR', 2)).toBe('RF1^1^6^1^1'); // the referral id the sender gave
      expect(field(theirs, 'ERR', 3)).toMatch(/^204\^/); // unknown key identifier
      // Every ERR field but the id itself is the same.
      expect(segmentsOf(theirs).find((s) => s.startsWith('ERR'))!.replace(requestId, 'X')).toBe(segmentsOf(none).find((s) => s.startsWith('ERR'))!.replace(unknown, 'X'));
    }
    expect(questions(await srOf(sr.id!))).toEqual(questions(sr));
    expect((await taskOf(task.id!)).status).toBe('requested');
  });

  it('when the same REF^I14 (same MSH-10) arrives twice, then the second answer is the stored ACK and nothing more happens', async () => {
    const { task, requestId } = await newCaseOverMllp(h, 'v251');
    const { text } = message('I14', requestId);
    const first = await post(h.as.RA7, text);
    const second = await post(h.as.RA7, text);
    expect(msa(first).code).toBe('AA');
    expect(second).toBe(first);
    expect(await auditsOf('hl7v2-ref-i14', task.id!)).toHaveLength(1);
  });
});
