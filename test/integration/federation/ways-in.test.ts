/**
 * Issue 16: a request reaches the provider's instance whichever way it came in at the requester's:
 * HL7 v2 REF^I12 (over HTTP) and a FHIR transaction, as the JSON API does in whole-case.test.ts.
 */
import type { Bundle, ServiceRequest, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseTransaction } from '../../helpers/cases.ts';
import { organizationId } from '../../helpers/directory.ts';
import { field, freshSample, msa, segmentsOf, setField, uniqueId } from '../hl7/harness.ts';
import { eventually, startPair, taskByRequestId, type Pair } from './pair.ts';

describe('Trust to Trust: every way in at A', () => {
  let p: Pair;
  beforeAll(async () => { p = await startPair(); }, 60_000);
  afterAll(async () => { await p?.stop(); });

  it('when RZ1\'s EPR sends a REF^I12, then B has the case with its questions', async () => {
    const sample = freshSample('v251');
    const text = sample.text.replaceAll('RA7', 'RZ1').replaceAll('SGH01', 'RZ2NP');
    const res = await p.requester.post('/hl7/v2', text, { 'content-type': 'x-application/hl7-v2+er7' });
    expect(msa(res.body).code).toBe('AA');
    const requestId = sample.requestId.replaceAll('RA7', 'RZ1');
    const bTask = await eventually('the case at B', () => taskByRequestId(p.provider, requestId));
    const bSr = (await p.provider.get<ServiceRequest>(`/fhir/${bTask.focus!.reference}`)).body;
    const aSr = (await p.requester.get<Bundle>(`/fhir/ServiceRequest?identifier=${encodeURIComponent(requestId)}`)).body.entry![0].resource as ServiceRequest;
    expect(bSr.extension?.filter((e) => e.url.endsWith('/eso-question')).length).toBe(aSr.extension?.filter((e) => e.url.endsWith('/eso-question')).length);
    expect(bTask.owner).toMatchObject({ reference: `Organization/${await organizationId(p.b.server.fhir, 'RZ2NP', await p.provider.token().then((t) => ({ authorization: `Bearer ${t}` })))}` });
    expect(field(res.body, 'MSA', 2)).toBe(sample.controlId.replaceAll('RA7', 'RZ1'));
  }, 60_000);

  it('when RZ1 posts a FHIR transaction, then B has the case, waiting for consent as at A', async () => {
    const headers = { authorization: `Bearer ${await p.requester.token()}` };
    const bundle = caseTransaction(await organizationId(p.a.server.fhir, 'RZ1', headers), await organizationId(p.a.server.fhir, 'RZ2NP', headers));
    // The named consultant the request names, written in the same transaction (the fixture only points at one).
    bundle.entry!.push(...[
      { fullUrl: 'urn:uuid:5d1c0c1e-0000-4000-8000-000000000001', resource: { resourceType: 'Practitioner', name: [{ family: 'Brown', given: ['Ada'], prefix: ['Dr'] }] }, request: { method: 'POST', url: 'Practitioner' } },
      { fullUrl: 'urn:uuid:5d1c0c1e-0000-4000-8000-000000000002', resource: { resourceType: 'PractitionerRole', practitioner: { reference: 'urn:uuid:5d1c0c1e-0000-4000-8000-000000000001' }, organization: { reference: `Organization/${await organizationId(p.a.server.fhir, 'RZ1', headers)}` }, code: [{ text: 'Named consultant' }] }, request: { method: 'POST', url: 'PractitionerRole' } },
    ] as Bundle['entry'] & object);
    const text = JSON.stringify(bundle).replaceAll('PractitionerRole/named-consultant-1', 'urn:uuid:5d1c0c1e-0000-4000-8000-000000000002');
    const res = await p.requester.post('/fhir', JSON.parse(text), { 'content-type': 'application/fhir+json' });
    expect(res.status).toBe(200);
    const sr = (bundle.entry ?? []).find((e) => e.resource?.resourceType === 'ServiceRequest')!.resource as ServiceRequest;
    const requestId = sr.identifier![0].value!;
    const bTask = await eventually('the case at B', async () => {
      const failed = (await p.a.server.storage.listOutbound({ status: 'failed' }))[0];
      if (failed) throw new Error(`refused: ${failed.lastError}`);
      return taskByRequestId(p.provider, requestId);
    });
    expect(bTask.status).toBe('requested');
    expect(bTask.businessStatus?.coding?.[0].code).toBe('awaiting-consent');
  }, 60_000);

  it('when RZ1\'s EPR sends REF^I14 for a case at B, then AA and A\'s Task waits (cancel requested) until B has cancelled, then A\'s is cancelled too', async () => {
    const sample = freshSample('v251');
    const requestId = sample.requestId.replaceAll('RA7', 'RZ1');
    expect(msa((await p.requester.post('/hl7/v2', sample.text.replaceAll('RA7', 'RZ1').replaceAll('SGH01', 'RZ2NP'), { 'content-type': 'x-application/hl7-v2+er7' })).body).code).toBe('AA');
    const bTask = await eventually('the case at B', () => taskByRequestId(p.provider, requestId));
    let i14 = setField(setField(freshSample('v251', { controlId: uniqueId('RZ1E') }).text, 'MSH', 9, 'REF^I14^REF_I12'), 'MSH', 4, 'RZ1');
    i14 = setField(i14, 'RF1', 6, `${requestId}^^RZ1`);
    i14 = segmentsOf(i14).filter((seg) => !seg.startsWith('NTE')).concat('NTE|1|P|The family chose to stay with the local team').join('\r');
    expect(msa((await p.requester.post('/hl7/v2', i14, { 'content-type': 'x-application/hl7-v2+er7' })).body).code).toBe('AA');
    await eventually('B cancelled', async () => ((await p.provider.get<Task>(`/fhir/Task/${bTask.id}`)).body.status === 'cancelled' ? true : undefined));
    const done = await eventually('A cancelled', async () => {
      const t = await taskByRequestId(p.requester, requestId);
      return t?.status === 'cancelled' ? t : undefined;
    });
    expect(done.businessStatus?.coding?.[0].code).toBe('withdrawn');
    // Its history: the request (status unchanged, cancel-requested), then the move B's confirmation made.
    const history = ((await p.requester.get<Bundle>(`/fhir/Task/${done.id}/_history`)).body.entry ?? []).map((e: { resource?: unknown }) => e.resource as Task).reverse();
    const steps = history.map((t: Task) => `${t.status}/${t.businessStatus?.coding?.[0].code}`);
    expect(steps.slice(-2)).toEqual(['requested/cancel-requested', 'cancelled/withdrawn']);
  }, 60_000);
});
