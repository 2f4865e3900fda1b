/**
 * Issue 16: one case carried between two eso-bridge instances (each with its own database). The
 * request made at A's JSON API arrives at B as B's own copy with the records the Consent covers;
 * the provider's moves at B come back to A, whose Task follows them, and A's EPR gets its return
 * messages exactly once.
 */
import type { AuditEvent, Bundle, DiagnosticReport, Provenance, ServiceRequest, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { changeTask, requestInput, step } from '../eso/harness.ts';
import { completeWithReport, eventually, providerMoves, startPair, taskByRequestId, whenStatus, type Pair } from './pair.ts';

describe.each(backends())('Trust to Trust: the whole case (two %s databases)', (backend) => {
  let p: Pair;
  beforeAll(async () => { p = await startPair(backend); }, 60_000);
  afterAll(async () => { await p?.stop(); });

  it('when A asks, B accepts, works and reports, then A\'s Task is completed with the report and A\'s EPR gets each return message once', async () => {
    const input = requestInput();
    const made = await p.requester.post('/eso/requests', input);
    expect(made.status).toBe(201);
    const aTask = made.body.task as Task;

    // B's own copy, found by the request identifier, with the records the Consent covers.
    const bTask = await eventually('the case at B', () => taskByRequestId(p.provider, input.requestId.value));
    expect(bTask.status).toBe('requested');
    expect(bTask.id).not.toBe(aTask.id);
    const bSr = (await p.provider.get<ServiceRequest>(`/fhir/ServiceRequest/${bTask.focus!.reference!.split('/')[1]}`)).body;
    const docs = await p.provider.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${bSr.id}`);
    expect(docs.body.entry?.length).toBe(input.records.length);

    // The provider's moves at B.
    await providerMoves(p.provider, bTask.id!);
    await whenStatus(p.requester, aTask.id!, 'in-progress');
    await completeWithReport(p.provider, bTask);
    const done = await whenStatus(p.requester, aTask.id!, 'completed');
    const aReport = (await p.requester.get<DiagnosticReport>(`/fhir/${done.output![0].valueReference!.reference}`)).body;
    expect(aReport.basedOn?.[0].reference).toBe(`ServiceRequest/${aTask.focus!.reference!.split('/')[1]}`);
    expect(aReport.conclusion).toBe('The diagnosis is right; the plan is reasonable.');
    expect(aReport.extension?.length).toBe(input.questions.length);

    // Provenance at A names who acted (B's client) and at which Trust (RZ2, for the provider team).
    const prov = await p.requester.get<Bundle>(`/fhir/Provenance?target=Task/${aTask.id}`);
    const last = (prov.body.entry ?? []).map((e: { resource?: unknown }) => e.resource as Provenance).find((x: Provenance) => x.activity?.coding?.some((c) => c.code === 'completed') || x.target[0].reference?.endsWith(`/_history/${done.meta!.versionId}`));
    expect(JSON.stringify(last?.agent)).toContain('eso-b');
    expect(JSON.stringify(last?.agent)).toContain('RZ2');

    // A's EPR: RRI^I12 for the acceptance and the completion, ORU^R01 with the report, each once.
    await eventually('ORU at the EPR', async () => (p.epr.received.some((m) => m.includes('ORU^R01')) ? true : undefined));
    await eventually('A\'s outbox drained', async () => ((await p.a.server.storage.listOutbound({ status: 'pending' })).length === 0 ? true : undefined));
    const types = p.epr.received.map((m) => m.split('\r')[0].split('|')[8]);
    expect(types.filter((t) => t.startsWith('ORU^R01'))).toHaveLength(1);
    expect(types.filter((t) => t.startsWith('RRI^I12'))).toHaveLength(2);
  }, 90_000);

  it('when A sends a request to B, then A\'s audit trail records the disclosure to B\'s Trust before it left: the message id and every record it carried', async () => {
    const input = requestInput();
    const made = await p.requester.post('/eso/requests', input);
    expect(made.status).toBe(201);
    const aTask = made.body.task as Task;
    await eventually('the case at B', () => taskByRequestId(p.provider, input.requestId.value));
    const sent = await eventually('the disclosure audited at A', async () => {
      const events = (await p.a.server.storage.search({ type: 'AuditEvent', criteria: [{ kind: 'reference', param: 'entity', values: [`Task/${aTask.id}`] }], count: 100, offset: 0, total: 'none' }))
        .resources.map((r) => r.resource as AuditEvent);
      return events.find((e) => e.outcomeDesc?.includes('fhir-message-sent-eso-request'));
    });
    const entities = (sent.entity ?? []).map((e) => e.what?.reference);
    expect(entities.filter((r) => r?.startsWith('DocumentReference/'))).toHaveLength(input.records.length);
    expect(JSON.stringify(sent.agent)).toContain('RZ2');
  }, 60_000);

  it('when B declines with a reason, then A\'s Task is rejected with B\'s reason and A\'s EPR hears of it once', async () => {
    const input = requestInput();
    const made = await p.requester.post('/eso/requests', input);
    const aTask = made.body.task as Task;
    const bTask = await eventually('the case at B', () => taskByRequestId(p.provider, input.requestId.value));
    const before = p.epr.received.length;
    expect((await changeTask(p.provider, bTask.id!, (t) => {
      t.status = 'rejected'; t.businessStatus = step('declined'); t.statusReason = { text: 'Outside our specialty: please ask a neuro-oncology team' };
    })).status).toBe(200);
    const rejected = await whenStatus(p.requester, aTask.id!, 'rejected');
    expect(rejected.statusReason?.text).toBe('Outside our specialty: please ask a neuro-oncology team');
    expect(rejected.businessStatus?.coding?.[0].code).toBe('declined');
    await eventually('RRI at the EPR', async () => (p.epr.received.length > before ? true : undefined));
    await eventually('A\'s outbox drained', async () => ((await p.a.server.storage.listOutbound({ status: 'pending' })).length === 0 ? true : undefined));
    expect(p.epr.received.slice(before).map((m) => m.split('\r')[0].split('|')[8])).toEqual([expect.stringMatching(/^RRI\^I12/)]);
  }, 60_000);
});
