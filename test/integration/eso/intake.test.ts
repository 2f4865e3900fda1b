/**
 * POST /eso/requests (issue 3 "Asking for an ESO"): what one request creates, idempotency
 * (also concurrent), and every refusal with its status and expression.
 */
import type { Bundle, Consent, Patient, PractitionerRole, RelatedPerson, ServiceRequest, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { expectValidR4 } from '../../helpers/r4.ts';
import { entries, fixture, newCase, requestInput, startEsoServer, type EsoServer } from './harness.ts';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

describe.each(backends())('POST /eso/requests on %s', (backend) => {
  let s: EsoServer;
  beforeAll(async () => { s = await startEsoServer(backend); });
  afterAll(async () => { await s?.stop(); });

  it('when the full example is sent, then 201 creates the case with a Location of the Task, and every resource is valid R4', async () => {
    const input = requestInput();
    const res = await s.as.requester.post('/eso/requests', input);
    expect(res.status).toBe(201);
    const { task, serviceRequest } = res.body as { task: Task; serviceRequest: ServiceRequest };
    expect(res.headers.get('location')).toBe(`${s.server.url}/fhir/Task/${task.id}`);
    expect(task).toMatchObject({ status: 'requested', intent: 'order', priority: 'urgent', businessStatus: { coding: [{ code: 'request-sent' }] } });
    expect(task.focus?.reference).toBe(`ServiceRequest/${serviceRequest.id}`);
    expect(task.owner?.reference).toBe(`Organization/${s.orgIds.RZ2NP}`);
    expect(task.requester?.reference).toBe(`Organization/${s.orgIds.RZ1}`);
    // Urgent: due 14 days after authoredOn.
    expect(Date.parse(task.restriction!.period!.end!) - Date.parse(task.authoredOn!)).toBe(14 * 86_400_000);
    expect(serviceRequest.identifier).toEqual([input.requestId]);
    expect(serviceRequest.extension!.filter((e) => e.url.endsWith('eso-question'))).toHaveLength(4);
    expect(serviceRequest.note?.[0].text).toBe(input.clinicalSummary);
    [task, serviceRequest].forEach((r) => expectValidR4(r));

    const patient = entries<Patient>((await s.as.provider.get<Bundle>(`/fhir/Patient?identifier=${NHS}|${input.child.nhsNumber}`)).body)[0];
    expect(patient.managingOrganization?.reference).toBe(`Organization/${s.orgIds.RZ1}`);
    const parents = entries<RelatedPerson>((await s.as.provider.get<Bundle>(`/fhir/RelatedPerson?patient=Patient/${patient.id}`)).body);
    expect(parents.map((p) => p.relationship?.map((r) => r.coding?.[0].code))).toContainEqual(['MTH', 'MTH', 'RESPRSN']);
    const consent = entries<Consent>((await s.as.provider.get<Bundle>(`/fhir/Consent?data=ServiceRequest/${serviceRequest.id}`)).body)[0];
    expect(consent.performer?.[0].reference).toMatch(/^RelatedPerson\//);
    expect(consent.provision?.actor?.[0]).toMatchObject({ role: { coding: [{ code: 'IRCP' }] }, reference: { reference: `Organization/${s.orgIds.RZ2NP}` } });
    const role = (await s.as.provider.get<PractitionerRole>(`/fhir/${serviceRequest.performer![1].reference}`)).body;
    expect(role.organization?.reference).toBe(`Organization/${s.orgIds.RZ2NP}`);
    [patient, ...parents, consent].forEach((r) => expectValidR4(r));
  });

  it('when the same requestId is sent again, also concurrently, then the same case comes back with 200 and nothing is duplicated', async () => {
    const input = requestInput();
    const replies = await Promise.all(Array.from({ length: 6 }, () => s.as.requester.post('/eso/requests', input)));
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
    expect(new Set(replies.map((r) => r.body.task.id)).size).toBe(1);
    const again = await s.as.requester.post('/eso/requests', input);
    expect(again.status).toBe(200);
    expect(again.body.task.id).toBe(replies[0].body.task.id);
    const srs = entries((await s.as.requester.get<Bundle>(`/fhir/ServiceRequest?identifier=${input.requestId.system}|${input.requestId.value}`)).body);
    expect(srs).toHaveLength(1);
  });

  it('when different requests for one child arrive concurrently, then each creates its case and there is still one Patient for the NHS number', async () => {
    const nhsNumber = '9876543210';
    const replies = await Promise.all([0, 1, 2].map(() => s.as.requester.post('/eso/requests', requestInput((r) => { r.child.nhsNumber = nhsNumber; }))));
    // Three requestIds: three new cases (a failed POST would leave the single Patient unproven).
    expect(replies.map((r) => r.status), JSON.stringify(replies.map((r) => r.body)).slice(0, 500)).toEqual([201, 201, 201]);
    const tasks = replies.map((r) => r.body.task as Task);
    expect(new Set(tasks.map((t) => t.id)).size).toBe(3);
    const patients = entries<Patient>((await s.as.requester.get<Bundle>(`/fhir/Patient?identifier=${NHS}|${nhsNumber}`)).body);
    expect(patients).toHaveLength(1);
    for (const t of tasks) expect(t.for?.reference).toBe(`Patient/${patients[0].id}`);
  });

  it('when requests for different children name one consultant not yet known, concurrently, then there is one Practitioner and one role for that GMC number', async () => {
    const gmc = '7654321';
    const replies = await Promise.all(['9434765919', '9434765870', '9434765862'].map((nhsNumber) => s.as.requester.post('/eso/requests', requestInput((r) => {
      r.child.nhsNumber = nhsNumber;
      r.requester.consultant.gmc = gmc;
    }))));
    expect(replies.map((r) => r.status), JSON.stringify(replies.map((r) => r.body)).slice(0, 500)).toEqual([201, 201, 201]);
    const practitioners = entries((await s.as.requester.get<Bundle>(`/fhir/Practitioner?identifier=https://fhir.hl7.org.uk/Id/gmc-number|${gmc}`)).body);
    expect(practitioners).toHaveLength(1);
    const roles = entries<PractitionerRole>((await s.as.requester.get<Bundle>(`/fhir/PractitionerRole?practitioner=Practitioner/${practitioners[0].id}`)).body);
    expect(roles).toHaveLength(1);
  });

  it('when fields are malformed, then 400 names each bad field by its JSON path', async () => {
    const res = await s.as.requester.post('/eso/requests', fixture('invalid-fields.json'));
    expect(res.status).toBe(400);
    const expressions = res.body.issue.map((i: { expression: string[] }) => i.expression[0]);
    expect(expressions).toEqual(expect.arrayContaining(['child.nhsNumber', 'questions[1].askedBy']));
  });

  it('when the NHS number fails its check digit, then 422 points at child.nhsNumber', async () => {
    const res = await s.as.requester.post('/eso/requests', requestInput((r) => { r.child.nhsNumber = '9434765918'; }));
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['child.nhsNumber']);
  });

  it('when the provider organisation is not in the directory, then 422 "unknown provider organisation"', async () => {
    const res = await s.as.requester.post('/eso/requests', requestInput((r) => { r.provider.organization = 'NOPE1'; }));
    expect(res.status).toBe(422);
    expect(res.body.issue[0].diagnostics).toContain('unknown provider organisation');
    expect(res.body.issue[0].expression).toEqual(['provider.organization']);
  });

  it('when the requester organisation is not the caller (nor one of its sites), then 422 and nothing is written', async () => {
    const input = requestInput((r) => { r.requester.organization = 'RZ2'; r.provider.organization = 'RZ1NE'; });
    const res = await s.as.requester.post('/eso/requests', input);
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['requester.organization']);
    expect(entries((await s.as.providerTrust.get<Bundle>(`/fhir/ServiceRequest?identifier=${input.requestId.system}|${input.requestId.value}`)).body)).toHaveLength(0);
  });

  it('when a Trust asks on behalf of one of its teams, then the team is the requester', async () => {
    const res = await s.as.requester.post('/eso/requests', requestInput((r) => { r.requester.organization = 'RZ1NE'; }));
    expect(res.status).toBe(201);
    expect(res.body.task.requester.reference).toBe(`Organization/${s.orgIds.RZ1NE}`);
  });

  it('when the provider belongs to the same Trust as the requester, then 422 says it must be a separate Trust', async () => {
    const res = await s.as.requester.post('/eso/requests', requestInput((r) => { r.provider.organization = 'RZ1NE'; }));
    expect(res.status).toBe(422);
    expect(res.body.issue[0].diagnostics).toContain('separate Trust or Health Board');
  });

  it('when consent comes from a parent without parental responsibility, then 422', async () => {
    const res = await s.as.requester.post('/eso/requests', requestInput((r) => { r.parents[1].parentalResponsibility = false; r.consent.givenBy = { parent: 1 }; }));
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['consent.givenBy.parent']);
  });

  it('when another organisation reuses a requestId, then it gets a new case of its own and nothing of the other is revealed', async () => {
    const { task } = await newCase(s);
    const input = { ...requestInput(), requestId: task.identifier![0] };
    input.requester.organization = 'RZ2';
    input.provider.organization = 'RZ1NE';
    const res = await s.as.providerTrust.post('/eso/requests', input);
    // A requestId is the requesting organisation's own: another's never changes the answer (no oracle).
    expect([res.status, res.body.created]).toEqual([201, true]);
    expect(res.body.task.id).not.toBe(task.id);
    expect(JSON.stringify(res.body)).not.toContain(task.id);
  });

  it('when no consent is given yet, then the case waits with businessStatus awaiting-consent and no Consent', async () => {
    const input = fixture<any>('minimal-awaiting-consent.json');
    input.requestId.value = `MIN-${Date.now()}`;
    const res = await s.as.requester.post('/eso/requests', input);
    expect(res.status).toBe(201);
    expect(res.body.task.businessStatus.coding[0].code).toBe('awaiting-consent');
    expect(res.body.task.restriction).toBeUndefined();
    expect(entries((await s.as.requester.get<Bundle>(`/fhir/Consent?data=ServiceRequest/${res.body.serviceRequest.id}`)).body)).toHaveLength(0);
  });

  it('when the body is not JSON, then 415', async () => {
    const res = await s.as.requester.post('/eso/requests', 'x', { 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
  });
});
