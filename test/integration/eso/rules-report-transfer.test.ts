/**
 * Rules 4-6 over real HTTP: due dates and the overdue search, the report answering every
 * question, and transfer of care never implied.
 */
import type { Bundle, Patient, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { changeTask, entries, newCase, report, startEsoServer, startWork, step, type EsoServer } from './harness.ts';

const ESO = 'https://fhir.eso-bridge.nhs.uk';
const DAY = 86_400_000;

describe.each(backends())('ESO rules 4-6 on %s', (backend) => {
  let s: EsoServer;
  beforeAll(async () => { s = await startEsoServer(backend); });
  afterAll(async () => { await s?.stop(); });

  describe('rule 4: urgent requests are time-boxed and overdue ones are found', () => {
    it('when an urgent case passes its due date, then the due search and /eso/overdue find it, and a routine case is not flagged', async () => {
      const past = new Date(Date.now() - 30 * DAY).toISOString();
      const { task: late } = await newCase(s, (r) => { r.urgency = 'asap'; r.authoredOn = past; });
      expect(late.restriction?.period?.end).toBe(new Date(Date.parse(past) + 7 * DAY).toISOString());
      const { task: routine } = await newCase(s, (r) => { r.urgency = 'routine'; r.authoredOn = past; });
      expect(routine.restriction).toBeUndefined();
      const { task: given } = await newCase(s, (r) => { r.urgency = 'stat'; r.dueDate = '2031-01-31'; });
      expect(given.restriction?.period?.end).toBe('2031-01-31T23:59:59Z');

      const now = encodeURIComponent(new Date().toISOString());
      const found = entries<Task>((await s.as.provider.get<Bundle>(`/fhir/Task?due=lt${now}&status=requested,received,accepted,in-progress&_count=100`)).body).map((t) => t.id);
      expect(found).toContain(late.id);
      expect(found).not.toContain(routine.id);
      expect(found).not.toContain(given.id);
      const overdue = entries<Task>((await s.as.requester.get<Bundle>('/eso/overdue')).body).map((t) => t.id);
      expect(overdue).toContain(late.id);
      expect(entries((await s.as.stranger.get<Bundle>('/eso/overdue')).body)).toHaveLength(0);
    });
  });

  describe('rule 5: the report answers every question', () => {
    it('when the report leaves a question unanswered or answers an unknown one, then 422', async () => {
      const { task, serviceRequest: sr } = await newCase(s);
      await startWork(s, task.id!);
      const partial = await s.as.provider.post('/fhir/DiagnosticReport', report(sr, ['q1', 'q2', 'q3']));
      expect(partial.status).toBe(422);
      expect(partial.body.issue[0].diagnostics).toContain("question 'q4'");
      const unknown = await s.as.provider.post('/fhir/DiagnosticReport', report(sr, ['q1', 'q2', 'q3', 'q4', 'q9']));
      expect(unknown.status).toBe(422);
      expect(unknown.body.issue[0].diagnostics).toContain("'q9'");
    });

    it('when the provider completes without linking the report, or with the wrong step, then 422; the treating team cannot write the report', async () => {
      const { task, serviceRequest: sr } = await newCase(s);
      await startWork(s, task.id!);
      const noReport = await changeTask(s.as.provider, task.id!, (t) => { t.status = 'completed'; t.businessStatus = step('report-issued'); });
      expect(noReport.status).toBe(422);
      expect(noReport.body.issue[0].expression).toEqual(['Task.output']);
      expect((await s.as.requester.post('/fhir/DiagnosticReport', report(sr))).status).toBe(403);
      const dr = await s.as.provider.post('/fhir/DiagnosticReport', report(sr));
      const wrongStep = await changeTask(s.as.provider, task.id!, (t) => {
        t.status = 'completed';
        t.output = [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${dr.body.id}` } }];
      });
      expect(wrongStep.status).toBe(422);
      expect(wrongStep.body.issue[0].expression).toEqual(['Task.businessStatus']);
    });

    it('when the treating team changes the opinion itself rather than marking it shared, then 403', async () => {
      const { task, serviceRequest: sr } = await newCase(s);
      await startWork(s, task.id!);
      const dr = await s.as.provider.post('/fhir/DiagnosticReport', report(sr));
      const res = await s.as.requester.put(`/fhir/DiagnosticReport/${dr.body.id}`, { ...dr.body, conclusion: 'Something else' });
      expect(res.status).toBe(403);
    });
  });

  describe('rule 6: transfer of care is never implied', () => {
    async function acceptedCase() {
      const c = await newCase(s);
      await startWork(s, c.task.id!);
      return c;
    }
    const offer = (esoTask: Task): Task => ({
      resourceType: 'Task', status: 'requested', intent: 'order',
      code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }, { system: `${ESO}/CodeSystem/eso`, code: 'transfer-offer' }] },
      partOf: [{ reference: `Task/${esoTask.id}` }], focus: esoTask.focus, for: esoTask.for, authoredOn: new Date().toISOString(),
      requester: esoTask.owner, owner: esoTask.requester,
      input: [{ type: { text: 'provider-agreement' }, valueBoolean: true }],
    });

    it('when a transfer is offered, then it is accepted only with both teams\' agreement and the family\'s consent, and the ESO Task and the child\'s care do not move', async () => {
      const { task } = await acceptedCase();
      const created = await s.as.provider.post('/fhir/Task', offer(task));
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      const early = await changeTask(s.as.requester, id, (t) => { t.status = 'received'; });
      expect(early.status).toBe(200);
      const teamOnly = await changeTask(s.as.requester, id, (t) => {
        t.status = 'accepted';
        t.input = [...t.input!, { type: { text: 'treating-team-agreement' }, valueBoolean: true }];
      });
      expect(teamOnly.status).toBe(422);
      expect(teamOnly.body.issue[0].diagnostics).toContain('family-consent');
      const all = await changeTask(s.as.requester, id, (t) => {
        t.status = 'accepted';
        t.input = [...t.input!, { type: { text: 'treating-team-agreement' }, valueBoolean: true }, { type: { text: 'family-consent' }, valueBoolean: true }];
      });
      expect(all.status).toBe(200);

      const esoTask = (await s.as.requester.get<Task>(`/fhir/Task/${task.id}`)).body;
      expect(esoTask.owner).toEqual(task.owner);
      const patient = (await s.as.requester.get<Patient>(`/fhir/${task.for!.reference}`)).body;
      expect(patient.managingOrganization?.reference).toBe(`Organization/${s.orgIds.RZ1}`);
      const texts = (await s.as.requester.get(`/eso/cases/${task.id}/timeline`)).body.events.map((e: { text: string }) => e.text);
      expect(texts).toContain("Paediatric Neurology, Northern Children's Trust offered to take over Alice's care. Care stays with Southern Children's Hospital NHS Foundation Trust unless both teams agree and the family consents");
    });

    it('when the provider records the treating team\'s agreement itself, or the treating team offers, then 403', async () => {
      const { task } = await acceptedCase();
      const created = await s.as.provider.post('/fhir/Task', offer(task));
      const forged = await changeTask(s.as.provider, created.body.id, (t) => { t.input = [...t.input!, { type: { text: 'treating-team-agreement' }, valueBoolean: true }]; });
      expect(forged.status).toBe(403);
      const { input: _i, ...bare } = offer(task);
      expect((await s.as.requester.post('/fhir/Task', bare)).status).toBe(403);
    });

    it('when the provider tries to take over the child\'s care directly, then 403', async () => {
      const { task } = await acceptedCase();
      const patient = (await s.as.provider.get<Patient>(`/fhir/${task.for!.reference}`)).body;
      const res = await s.as.provider.put(`/fhir/Patient/${patient.id}`, { ...patient, managingOrganization: { reference: `Organization/${s.orgIds.RZ2NP}` } });
      expect(res.status).toBe(403);
    });

    it('when a transfer is offered before the provider has accepted the ESO, then 422', async () => {
      const { task } = await newCase(s);
      const res = await s.as.provider.post('/fhir/Task', offer(task));
      expect(res.status).toBe(422);
    });
  });
});
