/**
 * End to end over real HTTP with real tokens: a case from request to a completed report, and a
 * case through consent withdrawal and cancellation. DESIGN.md "The process" and "Task states".
 */
import type { Bundle, Consent, DocumentReference, Provenance, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { expectValidR4 } from '../../helpers/r4.ts';
import { changeTask, entries, newCase, report, startEsoServer, startWork, step, type EsoServer } from './harness.ts';

const PROVIDER = "Paediatric Neurology, Northern Children's Trust";

describe.each(backends())('ESO workflow on %s', (backend) => {
  let s: EsoServer;
  beforeAll(async () => { s = await startEsoServer(backend); });
  afterAll(async () => { await s?.stop(); });

  it('when a case goes from request to a completed report, then every step is recorded and the timeline tells the family the story', async () => {
    const { task, serviceRequest: sr } = await newCase(s);
    await startWork(s, task.id!);

    const dr = await s.as.provider.post('/fhir/DiagnosticReport', report(sr));
    expect(dr.status).toBe(201);
    const done = await changeTask(s.as.provider, task.id!, (t) => {
      t.status = 'completed';
      t.businessStatus = step('report-issued');
      t.output = [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${dr.body.id}` } }];
    });
    expect(done.status).toBe(200);
    expectValidR4(done.body);
    const finished = await s.as.requester.get(`/fhir/ServiceRequest/${sr.id}`);
    expect(finished.body.status).toBe('completed'); // the request follows its Task to the end

    // The treating team goes through the opinion with the family and records that it shared the report.
    expect((await changeTask(s.as.requester, task.id!, (t) => { t.businessStatus = step('discussed-with-family'); })).status).toBe(200);
    const shared = { ...dr.body, extension: [...dr.body.extension, { url: 'https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-shared-with-family', valueDateTime: new Date().toISOString() }] };
    expect((await s.as.requester.put(`/fhir/DiagnosticReport/${dr.body.id}`, shared)).status).toBe(200);

    // Who, for which organisation, when and why: one Provenance per Task version, seen by both parties.
    const provs = entries<Provenance>((await s.as.requester.get<Bundle>(`/fhir/Provenance?target=Task/${task.id}&_count=50`)).body);
    expect(provs.map((p) => p.target[0].reference).sort()).toEqual([1, 2, 3, 4, 5, 6].map((n) => `Task/${task.id}/_history/${n}`).sort());
    const received = provs.find((p) => p.target[0].reference === `Task/${task.id}/_history/2`)!;
    expect(received.activity?.text).toBe('status requested -> received');
    expect(received.agent[0].who.identifier?.value).toBe('RZ2NP');
    expect(received.agent[0].onBehalfOf?.display).toBe(PROVIDER);
    expect(entries((await s.as.provider.get<Bundle>(`/fhir/Provenance?target=Task/${task.id}&_count=50`)).body)).toHaveLength(6);
    provs.forEach((p) => expectValidR4(p));

    const timeline = await s.as.requester.get(`/eso/cases/${task.id}/timeline`);
    expect(timeline.status).toBe(200);
    expect(timeline.body.events.map((e: { text: string }) => e.text)).toEqual([
      `Request sent to Dr Brown at ${PROVIDER}`,
      "Records shared with consent from Alice's mother",
      `${PROVIDER} received the request`,
      `${PROVIDER} agreed to give a second opinion, and declared that they are independent of Alice's team`,
      "Work on the second opinion started. The specialists are reviewing Alice's records",
      'Opinion received',
      'The treating team went through the opinion with the family',
      'The opinion was shared with the family',
    ]);
    expect(timeline.body.events[2].by).toBe(PROVIDER);

    const html = await s.as.requester.get(`/eso/cases/${task.id}/timeline`, { accept: 'text/html' });
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.body).toContain('<h1>Second opinion for Alice</h1>');
    expect(html.body).toContain('Records shared with consent from Alice&#39;s mother');
  });

  it('when consent is withdrawn and the request cancelled, then records stop reaching the provider at once and the timeline says so', async () => {
    const { task, serviceRequest: sr } = await newCase(s);
    const docs = entries<DocumentReference>((await s.as.provider.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${sr.id}`)).body);
    expect(docs).toHaveLength(2);
    const binary = docs.map((d) => d.content[0].attachment.url).find((u) => u?.startsWith('Binary/'))!;
    expect((await s.as.provider.get(`/fhir/${binary}`)).status).toBe(200);

    const consents = entries<Consent>((await s.as.requester.get<Bundle>(`/fhir/Consent?data=ServiceRequest/${sr.id}`)).body);
    expect(consents).toHaveLength(1);
    const withdrawn = await s.as.requester.put(`/fhir/Consent/${consents[0].id}`, { ...consents[0], status: 'inactive' });
    expect(withdrawn.status).toBe(200);

    // The very next request: the provider no longer sees the records; the treating Trust still does.
    expect((await s.as.provider.get(`/fhir/DocumentReference/${docs[0].id}`)).status).toBe(404);
    expect((await s.as.provider.get(`/fhir/${binary}`)).status).toBe(404);
    expect(entries((await s.as.provider.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${sr.id}`)).body)).toHaveLength(0);
    expect(entries((await s.as.requester.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${sr.id}`)).body)).toHaveLength(2);

    const cancelled = await changeTask(s.as.requester, task.id!, (t) => {
      t.status = 'cancelled';
      t.businessStatus = step('withdrawn');
      t.statusReason = { text: 'The family have decided not to go ahead' };
    });
    expect(cancelled.status).toBe(200);
    expect((await s.as.requester.get(`/fhir/ServiceRequest/${sr.id}`)).body.status).toBe('revoked');
    const late = await changeTask(s.as.provider, task.id!, (t) => { t.status = 'received'; t.businessStatus = step('received'); });
    expect(late.status).toBe(409);
    expect(late.body.issue[0].diagnostics).toContain("is 'cancelled' and cannot move to 'received'");

    const texts = (await s.as.provider.get(`/eso/cases/${task.id}/timeline`)).body.events.map((e: { text: string }) => e.text);
    expect(texts).toEqual([
      `Request sent to Dr Brown at ${PROVIDER}`,
      "Records shared with consent from Alice's mother",
      `Consent withdrawn: Alice's records are no longer shared with ${PROVIDER}`,
      'The request for a second opinion was withdrawn. Reason: The family have decided not to go ahead',
    ]);
  });

  it('when an organisation with no part in the case asks for it, then it gets 404, never a hint that the case exists', async () => {
    const { task, serviceRequest: sr } = await newCase(s);
    expect((await s.as.stranger.get(`/fhir/Task/${task.id}`)).status).toBe(404);
    expect((await s.as.stranger.get(`/fhir/ServiceRequest/${sr.id}`)).status).toBe(404);
    expect((await s.as.stranger.get(`/eso/cases/${task.id}/timeline`)).status).toBe(404);
    expect(entries((await s.as.stranger.get<Bundle>(`/fhir/Provenance?target=Task/${task.id}`)).body)).toHaveLength(0);
    expect(entries((await s.as.stranger.get<Bundle>(`/fhir/Task?_id=${task.id}`)).body)).toHaveLength(0);
    // The provider's Trust is not the provider team: it sees nothing unless granted.
    expect((await s.as.provider.get<Task>(`/fhir/Task/${task.id}`)).status).toBe(200);
  });
});
