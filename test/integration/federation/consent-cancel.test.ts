/**
 * Issue 16: what the requester withdraws travels too. Consent withdrawn at A: B's copies of the
 * records are unreadable to the provider from its next request. A cancellation at A is confirmed by
 * B (its 2xx), with its AuditEvent at A, and refused by B once the provider has started: A shows that message failed.
 */
import type { AuditEvent, Bundle, Consent, DocumentReference, RelatedPerson, ServiceRequest, Task } from 'fhir/r4.js';
import { organizationId } from '../../helpers/directory.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { changeTask, declaration, requestInput, step } from '../eso/harness.ts';
import { eventually, startPair, taskByRequestId, type Pair } from './pair.ts';
import { startRelay } from './relay.ts';

describe.each(backends())('Trust to Trust: consent withdrawal and cancellation (two %s databases)', (backend) => {
  let p: Pair;
  beforeAll(async () => { p = await startPair(backend); }, 60_000);
  afterAll(async () => { await p?.stop(); });

  async function caseAtBoth() {
    const input = requestInput();
    const made = await p.requester.post('/eso/requests', input);
    expect(made.status).toBe(201);
    const bTask = await eventually('the case at B', () => taskByRequestId(p.provider, input.requestId.value));
    return { input, aTask: made.body.task as Task, aSr: made.body.serviceRequest as ServiceRequest, bTask };
  }

  it('when the family withdraws consent at A, then B\'s copies of the records are unreadable to the provider on its next request', async () => {
    const { aSr, bTask } = await caseAtBoth();
    const bSrId = bTask.focus!.reference!.split('/')[1];
    const docs = async () => (await p.provider.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${bSrId}`)).body.entry ?? [];
    const before = await docs();
    expect(before.length).toBeGreaterThan(0);
    const docId = (before[0].resource as DocumentReference).id;
    expect((await p.provider.get(`/fhir/DocumentReference/${docId}`)).status).toBe(200);

    const consents = await p.requester.get<Bundle>(`/fhir/Consent?patient=${aSr.subject!.reference}`);
    const consent = (consents.body.entry ?? []).map((e: { resource?: unknown }) => e.resource as Consent).find((c: Consent) => c.status === 'active')!;
    const res = await p.requester.put(`/fhir/Consent/${consent.id}`, { ...consent, status: 'inactive' }, { 'content-type': 'application/fhir+json' });
    expect(res.status).toBe(200);

    await eventually('records hidden at B', async () => ((await docs()).length === 0 ? true : undefined));
    expect((await p.provider.get(`/fhir/DocumentReference/${docId}`)).status).toBe(404);
    // Kept for the audit trail: the requester's copy at B (RZ1's record there) still holds it.
    expect((await p.aAtB.get(`/fhir/DocumentReference/${docId}`)).status).toBe(200);
  }, 60_000);

  it('when A cancels before the work starts, then it is a request: A\'s Task waits until B has cancelled its copy, then both are cancelled, with one cancel message and nothing echoed back', async () => {
    const { aTask, bTask } = await caseAtBoth();
    // Cancelling outright is refused: the provider works at another Trust, so a cancel is a request it confirms.
    const outright = await changeTask(p.requester, aTask.id!, (t) => { t.status = 'cancelled'; t.businessStatus = step('withdrawn'); });
    expect(outright.status).toBe(409);
    expect(JSON.stringify(outright.body)).toMatch(/cancel-requested/);
    expect((await p.requester.get<Task>(`/fhir/Task/${aTask.id}`)).body.status).toBe('requested');
    // The request: businessStatus cancel-requested, the reason in statusReason; the status stays until B confirms.
    const asked = await changeTask(p.requester, aTask.id!, (t) => { t.businessStatus = step('cancel-requested'); t.statusReason = { text: 'The family chose another provider' }; });
    expect(asked.status).toBe(200);
    expect((asked.body as Task).status).toBe('requested');
    const bDone = await eventually('B cancelled', async () => {
      const t = (await p.provider.get<Task>(`/fhir/Task/${bTask.id}`)).body;
      return t.status === 'cancelled' ? t : undefined;
    });
    expect(bDone.statusReason?.text).toBe('The family chose another provider');
    const aDone = await eventually('A cancelled once B confirmed', async () => {
      const t = (await p.requester.get<Task>(`/fhir/Task/${aTask.id}`)).body;
      return t.status === 'cancelled' ? t : undefined;
    });
    expect(aDone.businessStatus?.coding?.[0].code).toBe('withdrawn');
    expect(aDone.statusReason?.text).toBe('The family chose another provider');
    // One cancel message, sent; nothing echoed back to B by the confirmation.
    const cancels = (await p.a.server.storage.listOutbound({})).filter((m) => m.kind === 'fhir-message:eso-cancel');
    expect(cancels.map((m) => m.status)).toEqual(['sent']);
    // The confirmation left one AuditEvent at A, which RZ1 reads: its Task, the Trust that confirmed, the message's X-Request-ID.
    const audits = (await p.requester.get<Bundle>(`/fhir/AuditEvent?entity=Task/${aTask.id}&_count=100`)).body.entry ?? [];
    const confirmed = audits.map((e: { resource?: unknown }) => e.resource as AuditEvent).filter((e: AuditEvent) => e.outcomeDesc === 'HTTP 200: fhir-message-eso-cancel-confirmed (by RZ2)');
    expect(confirmed).toHaveLength(1);
    expect(confirmed[0].entity?.map((x) => x.what?.reference ?? x.what?.identifier?.value)).toEqual([`Task/${aTask.id}`, (JSON.parse(cancels[0].payload) as { requestId: string }).requestId]);
  }, 60_000);

  it('when A asks to cancel after B has started (B\'s news not yet at A), then B refuses, A shows the request failed with B\'s reason, and A\'s Task is not cancelled: it follows B', async () => {
    // B's messages to A are held up (A is "down" for B), so A still thinks the case is only accepted.
    const toA = await startRelay(p.a.server.url);
    await p.link({ b: [{ organizations: ['RZ1'], base: toA.fhir, client_id: 'eso-b', key_file: 'key-at-a.json' }] });
    try {
      const { aTask, bTask } = await caseAtBoth();
      for (const move of [
        (t: Task) => { t.status = 'received'; t.businessStatus = step('received'); },
        (t: Task) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; },
      ]) expect((await changeTask(p.provider, bTask.id!, move)).status).toBe(200);
      await eventually('A accepted', async () => ((await p.requester.get<Task>(`/fhir/Task/${aTask.id}`)).body.status === 'accepted' ? true : undefined));
      toA.setRule(() => 'down');
      expect((await changeTask(p.provider, bTask.id!, (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); })).status).toBe(200);
      expect((await changeTask(p.requester, aTask.id!, (t) => { t.businessStatus = step('cancel-requested'); })).status).toBe(200);
      const failed = await eventually('cancel failed at A', async () => (await p.a.server.storage.listOutbound({ status: 'failed' })).find((m) => m.kind === 'fhir-message:eso-cancel'));
      expect(failed.lastError).toMatch(/HTTP 409: .*cannot be cancelled: the provider has started work/);
      expect((await p.provider.get<Task>(`/fhir/Task/${bTask.id}`)).body.status).toBe('in-progress');
      expect((await p.requester.get<Task>(`/fhir/Task/${aTask.id}`)).body.status).toBe('accepted');
      // B's news arrives: A's Task follows the provider (a case never ends up cancelled at one Trust and in progress at the other).
      toA.setRule(() => 'pass');
      const followed = await eventually('A in progress', async () => {
        const t = (await p.requester.get<Task>(`/fhir/Task/${aTask.id}`)).body;
        return t.status === 'in-progress' ? t : undefined;
      });
      expect(followed.businessStatus?.coding?.[0].code).toBe('records-review');
    } finally {
      await p.link();
      await toA.close();
    }
  }, 90_000);

  it('when consent is given at A after the request, and a record attached later, then B\'s provider reads the records under its own copy of the Consent', async () => {
    const input = requestInput((r) => { delete r.consent; });
    const made = await p.requester.post('/eso/requests', input);
    expect(made.status).toBe(201);
    const aSr = made.body.serviceRequest as ServiceRequest;
    const bTask = await eventually('the case at B', () => taskByRequestId(p.provider, input.requestId.value));
    const docsAtB = async () => ((await p.provider.get<Bundle>(`/fhir/DocumentReference?related=${bTask.focus!.reference}`)).body.entry ?? [])
      .map((e: { resource?: unknown }) => (e.resource as DocumentReference).description);
    expect(await docsAtB()).toEqual([]);

    // A parent with parental responsibility consents at A (FHIR), naming the provider.
    const headers = { authorization: `Bearer ${await p.requester.token()}` };
    const parents = (await p.requester.get<Bundle>(`/fhir/RelatedPerson?patient=${aSr.subject!.reference}`)).body.entry ?? [];
    const parent = parents.map((e: { resource?: unknown }) => e.resource as RelatedPerson).find((rp: RelatedPerson) => JSON.stringify(rp.relationship).includes('RESPRSN'))!;
    const now = new Date().toISOString();
    const consent: Consent = {
      resourceType: 'Consent', status: 'active', scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }], patient: aSr.subject, dateTime: now,
      performer: [{ reference: `RelatedPerson/${parent.id}` }], organization: [{ reference: `Organization/${await organizationId(p.a.server.fhir, 'RZ1', headers)}` }],
      provision: { type: 'permit', period: { start: now, end: new Date(Date.now() + 90 * 86_400_000).toISOString() },
        actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { reference: `Organization/${await organizationId(p.a.server.fhir, 'RZ2NP', headers)}` } }],
        data: [{ meaning: 'related', reference: { reference: `ServiceRequest/${aSr.id}` } }] },
    };
    expect((await p.requester.post('/fhir/Consent', consent, { 'content-type': 'application/fhir+json' })).status).toBe(201);
    await eventually('records at B', async () => ((await docsAtB()).length === input.records.length ? true : undefined));

    // A record attached later (FHIR, related to the request) travels when it is attached.
    const doc: DocumentReference = {
      resourceType: 'DocumentReference', status: 'current', subject: aSr.subject, description: 'MRI report, later',
      content: [{ attachment: { contentType: 'text/plain', data: Buffer.from('MRI: no change').toString('base64'), title: 'MRI report, later' } }],
      context: { related: [{ reference: `ServiceRequest/${aSr.id}` }] },
    };
    expect((await p.requester.post('/fhir/DocumentReference', doc, { 'content-type': 'application/fhir+json' })).status).toBe(201);
    await eventually('the later record at B', async () => ((await docsAtB()).includes('MRI report, later') ? true : undefined));
  }, 60_000);
});
