/**
 * Break-in across three Trusts, through the ways data is written: RQ1 asks RJ7 for an opinion on
 * a child; RXX, a third Trust with a registered client, knows the child's NHS number and tries
 * to reach, change or learn about RQ1's record of the child and family (issue: trust boundaries).
 * RJ7, the provider, tries to change what is not its own. Every refusal to a non-party is answered
 * exactly as for something that does not exist.
 */
import { readFileSync } from 'node:fs';
import type { Bundle, Consent, DocumentReference, Patient, Provenance, RelatedPerson, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch, registerClient } from '../../helpers/auth.ts';
import { backends } from '../../helpers/backends.ts';
import { A, B, startHarness, type Harness } from './harness.ts';

const C = { clientId: 'rxx-epr', organization: 'RXX' };
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const NOBODY = '00000000-0000-0000-0000-000000000000';

/** A valid NHS number (modulus 11) from nine digits. */
function nhsNumber(nine: string): string {
  const sum = [...nine].reduce((s, d, i) => s + Number(d) * (10 - i), 0);
  const check = 11 - (sum % 11);
  if (check === 10) return nhsNumber(String(Number(nine) + 1).padStart(9, '0'));
  return `${nine}${check === 11 ? 0 : check}`;
}

const full = JSON.parse(readFileSync(new URL('../../fixtures/eso-requests/full.json', import.meta.url), 'utf8')) as Record<string, unknown>;

/** The full ESO request (parents with parental responsibility, records, consent) as `requester`, to RJ7. */
function esoRequest(requester: string, requestId: string, nhs: string, changes: Record<string, unknown> = {}): Record<string, unknown> {
  const r = structuredClone(full) as { requestId: { value: string }; child: { nhsNumber: string }; requester: { organization: string }; provider: { organization: string } };
  r.requestId.value = requestId;
  r.child.nhsNumber = nhs;
  r.requester.organization = requester;
  r.provider.organization = B.organization;
  return { ...r, ...changes };
}

type Outcome = { issue?: { code: string; diagnostics?: string }[] };

describe.each(backends())('break-in across three Trusts on %s', (backend) => {
  let h: Harness;
  const tokens: Record<string, string> = {};
  const child = nhsNumber('943476591');
  const other = nhsNumber('401023213');
  let taskA: Task;
  let patientA: string;
  let motherA: RelatedPerson;
  let consentA: Consent;
  let docsA: string[];

  const as = (who: { clientId: string }) => tokens[who.clientId];
  const submit = async (who: { clientId: string }, body: unknown) => {
    const res = await fetch(`${h.url}/eso/requests`, { method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${as(who)}`, 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as { created?: boolean; task: Task } & Outcome };
  };
  const get = async <T = Bundle>(who: { clientId: string }, path: string) => {
    const res = await fhirFetch(as(who), `${h.fhir}/${path}`);
    return { status: res.status, body: (await res.json()) as T & Outcome };
  };
  const write = async (who: { clientId: string }, method: 'POST' | 'PUT', path: string, json: unknown) => {
    const res = await fhirFetch(as(who), `${h.fhir}/${path}`, { method, json });
    return { status: res.status, body: (await res.json()) as Outcome & { id?: string } };
  };
  const ids = (b: Bundle) => (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
  /** An answer with the ids taken out, to compare "theirs" with "nobody's". */
  const shape = (r: { status: number; body: Outcome }, ...idsOut: string[]) => ({
    status: r.status,
    issue: (r.body.issue ?? []).map((i) => ({ code: i.code, diagnostics: idsOut.reduce((d, id) => d.replaceAll(id, 'ID'), i.diagnostics ?? '') })),
  });

  beforeAll(async () => {
    h = await startHarness(backend);
    h.keys[C.clientId] = await registerClient(h.clientsDir, C);
    await h.restart(); // the third Trust's client and organisation, read at start
    for (const who of [A, B, C]) tokens[who.clientId] = await h.token(who.clientId);
    const made = await submit(A, esoRequest(A.organization, 'RQ1-ESO-1', child));
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    taskA = made.body.task;
    patientA = taskA.for!.reference!.split('/')[1];
    const family = await get(A, `RelatedPerson?patient=Patient/${patientA}`);
    motherA = family.body.entry!.map((e) => e.resource as RelatedPerson).find((rp) => rp.name?.[0]?.given?.[0] === 'Carys')!;
    consentA = (await get(A, `Consent?patient=Patient/${patientA}`)).body.entry![0].resource as Consent;
    docsA = ids((await get(A, `DocumentReference?related=${taskA.focus!.reference}`)).body);
    expect(docsA).toHaveLength(2);
  });
  afterAll(async () => { await h?.stop(); });

  describe('when a third Trust sends a request for a child another Trust already has a case for', () => {
    let taskC: Task;
    beforeAll(async () => {
      const known = await submit(C, esoRequest(C.organization, 'RXX-ESO-1', child, { parents: [], consent: undefined, records: [] }));
      const unknown = await submit(C, esoRequest(C.organization, 'RXX-ESO-2', other, { parents: [], consent: undefined, records: [] }));
      // Nothing in the answer tells RXX that RQ1 knows the child.
      expect([known.status, known.body.created]).toEqual([unknown.status, unknown.body.created]);
      expect([known.status, known.body.created]).toEqual([201, true]);
      taskC = known.body.task;
    });

    it('then the new case points at its own record of the child, not the other Trust\'s', () => {
      expect(taskC.for?.reference).not.toBe(`Patient/${patientA}`);
    });

    it('then it cannot read the other Trust\'s record of the child, its versions or the family', async () => {
      expect((await get(C, `Patient/${patientA}`)).status).toBe(404);
      expect((await get(C, `Patient/${patientA}/_history/1`)).status).toBe(404);
      const found = await get(C, `Patient?identifier=${NHS}|${child}`);
      expect(ids(found.body)).toEqual([taskC.for!.reference]);
      expect(ids((await get(C, `RelatedPerson?patient=Patient/${patientA}`)).body)).toEqual([]);
      expect(ids((await get(C, `RelatedPerson/${motherA.id}`)).body)).toEqual([]);
      expect((await get(C, `RelatedPerson/${motherA.id}`)).status).toBe(404);
    });

    it('then its own record is managed by itself and the provider sees each Trust\'s record for its own case', async () => {
      const own = await get<Patient>(C, taskC.for!.reference!);
      expect(own.status).toBe(200);
      const bySeen = ids((await get(B, `Patient?identifier=${NHS}|${child}`)).body).sort();
      expect(bySeen).toEqual([`Patient/${patientA}`, taskC.for!.reference].sort());
    });

    it('then resubmitting with a parent of the same name leaves the other Trust\'s family untouched', async () => {
      const mother = { name: { family: 'Evans', given: ['Carys'] }, relationship: 'MTH', parentalResponsibility: false };
      const res = await submit(C, esoRequest(C.organization, 'RXX-ESO-3', child, { parents: [mother], consent: undefined, records: [] }));
      expect(res.status).toBe(201);
      const still = await get<RelatedPerson>(A, `RelatedPerson/${motherA.id}`);
      expect(still.body.meta?.versionId).toBe(motherA.meta?.versionId);
      expect(JSON.stringify(still.body.relationship)).toContain('RESPRSN');
    });

    it('then it uses a requestId the other Trust uses as freely as an unused one (no clash, no hint)', async () => {
      const same = await submit(C, esoRequest(C.organization, 'RQ1-ESO-1', other, { parents: [], consent: undefined, records: [] }));
      const fresh = await submit(C, esoRequest(C.organization, 'RXX-ESO-FRESH', other, { parents: [], consent: undefined, records: [] }));
      expect([same.status, same.body.created]).toEqual([201, true]);
      expect([fresh.status, fresh.body.created]).toEqual([201, true]);
      expect(same.body.task.id).not.toBe(taskA.id);
    });
  });

  describe('when a third Trust writes into another Trust\'s case by reference', () => {
    it('then a record about the other Trust\'s child, attached to its request, is refused exactly as one about nobody', async () => {
      const doc = (patient: string, sr: string): DocumentReference => ({
        resourceType: 'DocumentReference', status: 'current', subject: { reference: `Patient/${patient}` },
        content: [{ attachment: { contentType: 'text/plain', data: 'aGVsbG8=' } }], context: { related: [{ reference: `ServiceRequest/${sr}` }] },
      });
      const srA = taskA.focus!.reference!.split('/')[1];
      const theirs = await write(C, 'POST', 'DocumentReference', doc(patientA, srA));
      const nobody = await write(C, 'POST', 'DocumentReference', doc(NOBODY, NOBODY));
      expect(theirs.status).toBe(422);
      expect(shape(theirs, patientA, srA)).toEqual(shape(nobody, NOBODY));
      expect(ids((await get(A, `DocumentReference?related=${taskA.focus!.reference}`)).body).sort()).toEqual([...docsA].sort());
    });

    it('then a parent with parental responsibility for the other Trust\'s child is refused, also inside a transaction', async () => {
      const rp = (patient: string): RelatedPerson => ({
        resourceType: 'RelatedPerson', active: true, patient: { reference: `Patient/${patient}` }, name: [{ family: 'Intruder' }],
        relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'RESPRSN' }] }],
      });
      const theirs = await write(C, 'POST', 'RelatedPerson', rp(patientA));
      const nobody = await write(C, 'POST', 'RelatedPerson', rp(NOBODY));
      expect(shape(theirs, patientA)).toEqual(shape(nobody, NOBODY));
      expect(theirs.status).toBe(422);
      const tx = await fhirFetch(as(C), h.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: rp(patientA), request: { method: 'POST', url: 'RelatedPerson' } }] } });
      expect(tx.status).toBe(422);
      expect(ids((await get(A, `RelatedPerson?patient=Patient/${patientA}`)).body)).toHaveLength(2);
      expect(ids((await get(C, 'RelatedPerson?name=Intruder')).body)).toEqual([]);
    });

    it('then a Provenance on the other Trust\'s Task is refused, and the timeline is unchanged', async () => {
      const before = await fetch(`${h.url}/eso/cases/${taskA.id}/timeline`, { headers: { authorization: `Bearer ${as(A)}` } }).then((r) => r.json()) as { events: unknown[] };
      const prov: Provenance = { resourceType: 'Provenance', target: [{ reference: `Task/${taskA.id}` }], recorded: new Date().toISOString(), agent: [{ who: { display: 'forged' } }] };
      expect((await write(C, 'POST', 'Provenance', prov)).status).toBe(403);
      const after = await fetch(`${h.url}/eso/cases/${taskA.id}/timeline`, { headers: { authorization: `Bearer ${as(A)}` } }).then((r) => r.json()) as { events: unknown[] };
      expect(after.events).toEqual(before.events);
    });

    it('then a report or Task pointing at the other Trust\'s request is answered exactly as one pointing at nothing', async () => {
      const srA = taskA.focus!.reference!.split('/')[1];
      const report = (sr: string) => ({
        resourceType: 'DiagnosticReport', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '47040-1' }] },
        subject: { reference: `Patient/${patientA}` }, basedOn: [{ reference: `ServiceRequest/${sr}` }],
      });
      expect(shape(await write(C, 'POST', 'DiagnosticReport', report(srA)), patientA, srA)).toEqual(shape(await write(C, 'POST', 'DiagnosticReport', report(NOBODY)), patientA, NOBODY));
      const task = (sr: string) => ({ ...taskA, id: undefined, meta: undefined, focus: { reference: `ServiceRequest/${sr}` } });
      const theirs = await write(C, 'POST', 'Task', task(srA));
      expect(theirs.status).toBeGreaterThanOrEqual(400);
      expect(shape(theirs, srA)).toEqual(shape(await write(C, 'POST', 'Task', task(NOBODY)), NOBODY));
    });
  });

  describe('when a party writes what is not its own', () => {
    it('then the provider cannot change the requester\'s record of the child or the family', async () => {
      const patient = (await get<Patient>(B, `Patient/${patientA}`)).body;
      expect((await write(B, 'PUT', `Patient/${patientA}`, { ...patient, gender: 'other' })).status).toBe(403);
      expect((await write(B, 'PUT', `RelatedPerson/${motherA.id}`, { ...motherA, relationship: [{ text: 'Neighbour' }] })).status).toBe(403);
      expect((await get<Patient>(A, `Patient/${patientA}`)).body.meta?.versionId).toBe(patient.meta?.versionId);
    });

    it('then no party can forge or rewrite a Provenance', async () => {
      const server = (await get(A, `Provenance?target=Task/${taskA.id}`)).body.entry![0].resource as Provenance;
      expect((await write(B, 'PUT', `Provenance/${server.id}`, { ...server, agent: [{ who: { display: 'someone else' } }] })).status).toBe(403);
      expect((await write(A, 'PUT', `Provenance/${server.id}`, { ...server, agent: [{ who: { display: 'someone else' } }] })).status).toBe(403);
      const forged: Provenance = { resourceType: 'Provenance', target: [{ reference: `Task/${taskA.id}` }], recorded: new Date().toISOString(), agent: [{ who: { reference: `Organization/${server.agent[0].onBehalfOf?.reference?.split('/')[1] ?? NOBODY}` } }] };
      expect((await write(B, 'POST', 'Provenance', forged)).status).toBe(403);
    });
  });

  describe('when the family\'s consent is withdrawn after its consenter no longer validates', () => {
    it('then the withdrawal is accepted and the provider stops reading the records at once', async () => {
      expect((await get(B, docsA[0])).status).toBe(200);
      // The requesting Trust records that the mother no longer holds parental responsibility.
      const mother = (await get<RelatedPerson>(A, `RelatedPerson/${motherA.id}`)).body;
      const changed = await write(A, 'PUT', `RelatedPerson/${motherA.id}`, { ...mother, relationship: [{ text: 'Mother' }] });
      expect(changed.status).toBe(200);
      const consent = (await get<Consent>(A, `Consent/${consentA.id}`)).body;
      const withdrawn = await write(A, 'PUT', `Consent/${consentA.id}`, { ...consent, status: 'inactive' });
      expect(withdrawn.status, JSON.stringify(withdrawn.body)).toBe(200);
      for (const doc of docsA) expect((await get(B, doc)).status).toBe(404);
    });

    it('then a refusal can still be recorded as a new Consent, and the provider is not the one to record it', async () => {
      const consent = (await get<Consent>(A, `Consent/${consentA.id}`)).body;
      const refusal = { ...consent, id: undefined, meta: undefined, status: 'rejected' };
      const recorded = await write(A, 'POST', 'Consent', refusal);
      expect(recorded.status, JSON.stringify(recorded.body)).toBe(201);
      expect((await write(B, 'POST', 'Consent', refusal)).status).toBe(403);
    });

    it('then counts do not count what the provider cannot read', async () => {
      const counted = await get(B, 'DocumentReference?_total=accurate');
      expect(counted.body.total).toBe(ids(counted.body).length);
      expect(counted.body.total).toBe(0);
      expect((await get(B, 'DocumentReference?_summary=count')).body.total).toBe(0);
      expect((await get(B, 'Binary?_summary=count')).body.total).toBe(0);
      expect((await get(A, 'DocumentReference?_summary=count')).body.total).toBe(2);
    });
  });
});
