/**
 * The Task state machine over real HTTP (DESIGN.md "Task states"): each move only by its side,
 * invalid moves 409 naming both statuses, If-Match 412, the fields each side owns.
 */
import type { Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeTask, newCase, startEsoServer, startWork, step, type EsoServer } from './harness.ts';

describe('ESO Task workflow', () => {
  let s: EsoServer;
  beforeAll(async () => { s = await startEsoServer('sqlite'); });
  afterAll(async () => { await s?.stop(); });

  it('when a move skips the table, then 409 names the current and the attempted status', async () => {
    const { task } = await newCase(s);
    const res = await changeTask(s.as.provider, task.id!, (t) => { t.status = 'completed'; t.businessStatus = step('report-issued'); });
    expect(res.status).toBe(409);
    expect(res.body.issue[0].diagnostics).toBe(`Task/${task.id} is 'requested' and cannot move to 'completed': it may move to received, rejected, cancelled`);
    expect(res.body.issue[0].expression).toEqual(['Task.status']);
  });

  it('when the requester tries to accept, or the provider to cancel, then 403', async () => {
    const { task } = await newCase(s);
    const byRequester = await changeTask(s.as.requester, task.id!, (t) => { t.status = 'received'; t.businessStatus = step('received'); });
    expect(byRequester.status).toBe(403);
    const byProvider = await changeTask(s.as.provider, task.id!, (t) => { t.status = 'cancelled'; t.businessStatus = step('withdrawn'); });
    expect(byProvider.status).toBe(403);
  });

  it('when the requester cancels after the work started, then 409: cancelling is only before in-progress', async () => {
    const { task, serviceRequest } = await newCase(s);
    await startWork(s, task.id!);
    const res = await changeTask(s.as.requester, task.id!, (t) => { t.status = 'cancelled'; t.businessStatus = step('withdrawn'); });
    expect(res.status).toBe(409);
    expect((await s.as.requester.get(`/fhir/ServiceRequest/${serviceRequest.id}`)).body.status).toBe('active'); // a refused move changes nothing
  });

  it('when the provider declines without a reason, then 422; with one, the case is rejected and its request revoked', async () => {
    const { task, serviceRequest } = await newCase(s);
    const bare = await changeTask(s.as.provider, task.id!, (t) => { t.status = 'rejected'; t.businessStatus = step('declined'); });
    expect(bare.status).toBe(422);
    const reasoned = await changeTask(s.as.provider, task.id!, (t) => {
      t.status = 'rejected'; t.businessStatus = step('declined'); t.statusReason = { text: 'Outside our specialty; we suggest a metabolic team' };
    });
    expect(reasoned.status).toBe(200);
    // The declined request is ended, written by the system; still the requester's own to read.
    const request = await s.as.requester.get(`/fhir/ServiceRequest/${serviceRequest.id}`);
    expect(request.body.status).toBe('revoked');
    expect(request.body.meta.versionId).toBe('2');
    const texts = (await s.as.requester.get(`/eso/cases/${task.id}/timeline`)).body.events.map((e: { text: string }) => e.text);
    expect(texts.at(-1)).toBe("Paediatric Neurology, Northern Children's Trust declined to give a second opinion. Reason: Outside our specialty; we suggest a metabolic team");
  });

  it('when work pauses, then it can resume, and a paused case cannot jump to completed', async () => {
    const { task } = await newCase(s);
    await startWork(s, task.id!);
    expect((await changeTask(s.as.provider, task.id!, (t) => { t.status = 'on-hold'; t.businessStatus = step('on-hold'); t.statusReason = { text: 'Waiting for scans' }; })).status).toBe(200);
    const jump = await changeTask(s.as.provider, task.id!, (t) => { t.status = 'completed'; t.businessStatus = step('report-issued'); });
    expect(jump.status).toBe(409);
    expect((await changeTask(s.as.provider, task.id!, (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); })).status).toBe(200);
  });

  it('when two updates race on the same version, then the second gets 412', async () => {
    const { task } = await newCase(s);
    const current = await s.as.provider.get<Task>(`/fhir/Task/${task.id}`);
    const etag = current.headers.get('etag')!;
    const first = await s.as.provider.put(`/fhir/Task/${task.id}`, { ...current.body, status: 'received', businessStatus: step('received') }, { 'if-match': etag });
    expect(first.status).toBe(200);
    const second = await s.as.requester.put(`/fhir/Task/${task.id}`, { ...current.body, status: 'cancelled', businessStatus: step('withdrawn') }, { 'if-match': etag });
    expect(second.status).toBe(412);
  });

  it('when each side changes what it owns, then 200; what the other side owns, then 403', async () => {
    const { task } = await newCase(s);
    const input = await changeTask(s.as.requester, task.id!, (t) => { t.input = [...(t.input ?? []), { type: { text: 'question-for-visit' }, valueString: 'Please meet Alice on the ward' }]; });
    expect(input.status).toBe(200);
    const due = await changeTask(s.as.provider, task.id!, (t) => { t.restriction = { period: { end: '2031-01-01T00:00:00Z' } }; });
    expect(due.status).toBe(403);
    const step1 = await changeTask(s.as.requester, task.id!, (t) => { t.businessStatus = step('records-review'); });
    expect(step1.status).toBe(422);
    const outputByRequester = await changeTask(s.as.requester, task.id!, (t) => { t.output = [{ type: { text: 'x' }, valueString: 'y' }]; });
    expect(outputByRequester.status).toBe(403);
  });

  it('when an organisation outside the case writes an ESO Task for it, then 422 exactly as for a request that does not exist', async () => {
    const { task } = await newCase(s);
    const { id: _id, meta: _meta, ...copy } = task;
    const res = await s.as.sameTrust.post('/fhir/Task', { ...copy, identifier: [{ system: 'urn:test', value: 'copy' }] });
    const nothing = await s.as.sameTrust.post('/fhir/Task', { ...copy, focus: { reference: 'ServiceRequest/00000000-0000-0000-0000-000000000000' }, identifier: [{ system: 'urn:test', value: 'copy' }] });
    // The case is invisible to it: no 403 that would tell it the request exists.
    expect(res.status).toBe(422);
    expect([res.status, res.body.issue[0].diagnostics]).toEqual([nothing.status, nothing.body.issue[0].diagnostics]);
  });
});
