/**
 * The rules from the guidance, each with its negative test, whichever way the write arrives
 * (POST /eso/requests, FHIR REST, FHIR transaction). Rules 1-3: independence, the provider's
 * declaration, consent.
 */
import { readFileSync } from 'node:fs';
import type { Bundle, Consent, DocumentReference, RelatedPerson, ServiceRequest, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { changeTask, declaration, entries, newCase, requestInput, startEsoServer, step, type EsoServer } from './harness.ts';

const LEGAL = 'https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-legal-ethical-differences';

/** test/fixtures/eso/transaction-new-case.json pointed at this directory's organisations. */
function transaction(s: EsoServer, providerOds: string, change: (b: Bundle) => void = () => undefined): Bundle {
  const text = readFileSync(new URL('../../fixtures/eso/transaction-new-case.json', import.meta.url), 'utf8')
    .replaceAll('Organization/treating-trust-1', `Organization/${s.orgIds.RZ1}`)
    .replaceAll('PractitionerRole/named-consultant-1', `Organization/${s.orgIds.RZ1}`)
    .replaceAll('Organization/provider-team-1', `Organization/${s.orgIds[providerOds]}`)
    .replaceAll('9000000009', '9449305552')
    .replaceAll('REQ-2025-0001', `TX-${Date.now()}-${Math.random()}`)
    .replaceAll('RelatedPerson/parent-1', 'urn:uuid:0b0c4a0e-4a5f-4c1e-9d65-1f6d9d1f0a01');
  const bundle = JSON.parse(text) as Bundle;
  change(bundle);
  return bundle;
}

describe.each(backends())('ESO rules 1-3 on %s', (backend) => {
  let s: EsoServer;
  beforeAll(async () => { s = await startEsoServer(backend); });
  afterAll(async () => { await s?.stop(); });

  describe('rule 1: the provider is at a separate Trust or Health Board', () => {
    it('when a FHIR transaction names a provider inside the requesting Trust, then 422 and nothing of the Bundle is written', async () => {
      const bundle = transaction(s, 'RZ1NE');
      const res = await s.as.requester.post('/fhir', bundle);
      expect(res.status).toBe(422);
      expect(res.body.issue[0].diagnostics).toContain('separate Trust or Health Board');
      expect(entries((await s.as.requester.get<Bundle>('/fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9449305552')).body)).toHaveLength(0);
    });

    it('when the same transaction names an independent provider, then it goes through the same rules and the provider sees the case', async () => {
      const res = await s.as.requester.post('/fhir', transaction(s, 'RZ2NP', (b) => { delete (b.entry![2].resource as Task).restriction; }));
      expect(res.status).toBe(200);
      const task = res.body.entry[2].resource as Task;
      expect(task.restriction?.period?.end).toBe(new Date(Date.parse('2025-03-04T10:15:00Z') + 14 * 86_400_000).toISOString());
      expect((await s.as.provider.get(`/fhir/Task/${task.id}`)).status).toBe(200);
      expect(entries((await s.as.provider.get<Bundle>(`/fhir/Provenance?target=Task/${task.id}`)).body)).toHaveLength(1);
    });

    it('when the requester tries to hand the case to another organisation, then 422', async () => {
      const { task } = await newCase(s);
      const res = await changeTask(s.as.requester, task.id!, (t) => { t.owner = { reference: `Organization/${s.orgIds.RZ2}` }; });
      expect(res.status).toBe(422);
      expect(res.body.issue[0].diagnostics).toContain('handing a case to another organisation');
    });
  });

  describe("rule 2: accepting needs the provider's declaration", () => {
    it('when the provider accepts without declaring independence and no conflict of interest, then 422', async () => {
      const { task } = await newCase(s);
      expect((await changeTask(s.as.provider, task.id!, (t) => { t.status = 'received'; t.businessStatus = step('received'); })).status).toBe(200);
      const bare = await changeTask(s.as.provider, task.id!, (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); });
      expect(bare.status).toBe(422);
      const conflicted = await changeTask(s.as.provider, task.id!, (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [declaration(true, false)]; });
      expect(conflicted.status).toBe(422);
      expect(conflicted.body.issue[0].diagnostics).toContain('no conflict of interest');
    });

    it('when a provider outside the UK accepts without stating differences in law or ethics, then 422; with them, 200', async () => {
      const { task } = await newCase(s, (r) => { r.provider.organization = 'FRNCK'; delete r.provider.specialist; });
      expect((await changeTask(s.as.abroad, task.id!, (t) => { t.status = 'received'; t.businessStatus = step('received'); })).status).toBe(200);
      const silent = await changeTask(s.as.abroad, task.id!, (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [declaration()]; });
      expect(silent.status).toBe(422);
      expect(silent.body.issue[0].diagnostics).toContain('law or ethical norms');
      const open = await changeTask(s.as.abroad, task.id!, (t) => {
        t.status = 'accepted';
        t.businessStatus = step('accepted');
        t.extension = [declaration(), { url: LEGAL, valueString: 'French law on withdrawal of treatment differs; the UK courts decide.' }];
      });
      expect(open.status).toBe(200);
    });
  });

  describe('rule 3: records reach the provider only under consent', () => {
    it('when consent is recorded from a relative without parental responsibility, then 422', async () => {
      const { serviceRequest: sr } = await newCase(s);
      const consent = entries<Consent>((await s.as.requester.get<Bundle>(`/fhir/Consent?data=ServiceRequest/${sr.id}`)).body)[0];
      const aunt: RelatedPerson = { resourceType: 'RelatedPerson', patient: sr.subject, relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0063', code: 'EXF' }] }], name: [{ family: 'Evans', given: ['Bethan'] }] };
      const rp = await s.as.requester.post('/fhir/RelatedPerson', aunt);
      expect(rp.status).toBe(201);
      const { id: _id, meta: _meta, ...rest } = consent;
      const res = await s.as.requester.post('/fhir/Consent', { ...rest, performer: [{ reference: `RelatedPerson/${rp.body.id}` }] });
      expect(res.status).toBe(422);
      expect(res.body.issue[0].expression).toEqual(['Consent.performer']);
    });

    it('when the young person consents, then the consent is accepted', async () => {
      const res = await s.as.requester.post('/eso/requests', requestInput((r) => { r.consent.givenBy = { youngPerson: true }; }));
      expect(res.status).toBe(201);
      const sr = res.body.serviceRequest as ServiceRequest;
      // Accepted: an active Consent given by the young person (the Patient), and the records reach the provider under it.
      const consents = entries<Consent>((await s.as.requester.get<Bundle>(`/fhir/Consent?data=ServiceRequest/${sr.id}`)).body);
      expect(consents).toHaveLength(1);
      expect(consents[0].status).toBe('active');
      expect(consents[0].performer).toEqual([{ reference: sr.subject.reference }]);
      expect(sr.subject.reference).toMatch(/^Patient\//);
      expect(entries<DocumentReference>((await s.as.provider.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${sr.id}`)).body)).toHaveLength(2);
    });

    it('when the provider records or changes a consent itself, then 403', async () => {
      const { serviceRequest: sr } = await newCase(s);
      const consent = entries<Consent>((await s.as.provider.get<Bundle>(`/fhir/Consent?data=ServiceRequest/${sr.id}`)).body)[0];
      const res = await s.as.provider.put(`/fhir/Consent/${consent.id}`, { ...consent, provision: { ...consent.provision, period: { start: '2026-01-01T00:00:00Z', end: '2040-01-01T00:00:00Z' } } });
      expect(res.status).toBe(403);
    });

    it('when the consent period has ended, then the provider no longer sees the records', async () => {
      const { serviceRequest: sr } = await newCase(s, (r) => { r.consent.dateTime = '2020-01-01T00:00:00Z'; r.consent.until = '2021-01-01T00:00:00Z'; });
      expect(entries<DocumentReference>((await s.as.provider.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${sr.id}`)).body)).toHaveLength(0);
      expect(entries<DocumentReference>((await s.as.requester.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${sr.id}`)).body)).toHaveLength(2);
    });

    it('when a withdrawn consent is set active again, then 422: consent is given anew', async () => {
      const { serviceRequest: sr } = await newCase(s);
      const consent = entries<Consent>((await s.as.requester.get<Bundle>(`/fhir/Consent?data=ServiceRequest/${sr.id}`)).body)[0];
      const off = await s.as.requester.put(`/fhir/Consent/${consent.id}`, { ...consent, status: 'inactive' });
      expect(off.status).toBe(200);
      const on = await s.as.requester.put(`/fhir/Consent/${consent.id}`, { ...off.body, status: 'active' });
      expect(on.status).toBe(422);
    });

    it('when the case waits for consent, then the provider sees the request but no records until the consent is recorded', async () => {
      const input = requestInput((r) => { delete r.consent; });
      const res = await s.as.requester.post('/eso/requests', input);
      expect(res.body.task.businessStatus.coding[0].code).toBe('awaiting-consent');
      const sr = res.body.serviceRequest;
      expect(entries((await s.as.provider.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${sr.id}`)).body)).toHaveLength(0);
      const patient = sr.subject;
      const consent: Consent = {
        resourceType: 'Consent', status: 'active',
        scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
        category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
        patient, dateTime: new Date().toISOString(), performer: [patient], organization: [{ reference: `Organization/${s.orgIds.RZ1}` }],
        policyRule: { text: 'Consent to share records for an external second opinion' },
        provision: { type: 'permit', period: { start: '2026-01-01T00:00:00Z', end: '2036-01-01T00:00:00Z' },
          actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { reference: `Organization/${s.orgIds.RZ2NP}` } }],
          data: [{ meaning: 'related', reference: { reference: `ServiceRequest/${sr.id}` } }] },
      };
      expect((await s.as.requester.post('/fhir/Consent', consent)).status).toBe(201);
      expect(entries((await s.as.provider.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${sr.id}`)).body)).toHaveLength(2);
      const sent = await changeTask(s.as.requester, res.body.task.id, (t) => { t.businessStatus = step('records-shared'); });
      expect(sent.status).toBe(200);
    });
  });
});
