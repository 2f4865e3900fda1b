/**
 * Break-in attempts across organisations: RQ1 creates records with its own token, RJ7 tries to
 * reach them by id, version, history, search, _include, _revinclude, conditional create,
 * transaction and batch. Everything is 404 or silently absent, exactly as for an id that never existed.
 */
import type { Bundle, Resource } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fhirFetch } from '../../helpers/auth.ts';
import { backends } from '../../helpers/backends.ts';
import { A, B, startHarness, type Harness } from './harness.ts';

const MRN = 'https://example.org/Id/mrn';

describe.each(backends())('tenancy on %s', (backend) => {
  let h: Harness;
  let tokenA: string;
  let tokenB: string;
  let patientA: string;
  let conditionA: string;
  let patientB: string;

  async function create(token: string, resource: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Resource> {
    const res = await fhirFetch(token, `${h.fhir}/${resource.resourceType as string}`, { method: 'POST', json: resource, headers });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
    return (await res.json()) as Resource;
  }
  const get = async (token: string, path: string) => {
    const res = await fhirFetch(token, `${h.fhir}/${path}`);
    return { status: res.status, body: (await res.json()) as Bundle & { issue?: { code: string; diagnostics: string }[] } };
  };
  const ids = (b: Bundle) => (b.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);

  beforeAll(async () => {
    h = await startHarness(backend);
    [tokenA, tokenB] = await Promise.all([h.token(A.clientId), h.token(B.clientId)]);
    patientA = (await create(tokenA, { resourceType: 'Patient', identifier: [{ system: MRN, value: 'rq1-0001' }], gender: 'female', birthDate: '2015-03-01' })).id!;
    conditionA = (await create(tokenA, { resourceType: 'Condition', subject: { reference: `Patient/${patientA}` }, code: { text: 'test condition' } })).id!;
    patientB = (await create(tokenB, { resourceType: 'Patient', identifier: [{ system: MRN, value: 'rj7-0001' }], gender: 'male' })).id!;
  });
  afterAll(async () => { await h?.stop(); });

  it('when the owner reads its records, then they are there (the control)', async () => {
    expect((await get(tokenA, `Patient/${patientA}`)).status).toBe(200);
    expect(ids((await get(tokenA, `Patient?identifier=${MRN}|rq1-0001`)).body)).toEqual([`Patient/${patientA}`]);
  });

  it('when another organisation reads by id, then 404, exactly as for an id that never existed', async () => {
    const theirs = await get(tokenB, `Patient/${patientA}`);
    const nobody = await get(tokenB, 'Patient/00000000-0000-0000-0000-000000000000');
    expect([theirs.status, nobody.status]).toEqual([404, 404]);
    expect(theirs.body.issue?.[0].code).toBe(nobody.body.issue?.[0].code);
    expect(theirs.body.issue?.[0].diagnostics.replace(patientA, 'ID')).toBe(nobody.body.issue?.[0].diagnostics.replace('00000000-0000-0000-0000-000000000000', 'ID'));
  });

  it('when another organisation asks for a version or the history, then 404', async () => {
    expect((await get(tokenB, `Patient/${patientA}/_history/1`)).status).toBe(404);
    expect((await get(tokenB, `Patient/${patientA}/_history`)).status).toBe(404);
    expect((await get(tokenB, `Condition/${conditionA}/_history`)).status).toBe(404);
  });

  it('when another organisation searches by id, identifier or everything, then the records are absent and not counted', async () => {
    expect(ids((await get(tokenB, `Patient?_id=${patientA}`)).body)).toEqual([]);
    expect(ids((await get(tokenB, `Patient?identifier=${MRN}|rq1-0001`)).body)).toEqual([]);
    const all = await get(tokenB, 'Patient?_total=accurate');
    expect(ids(all.body)).toEqual([`Patient/${patientB}`]);
    expect(all.body.total).toBe(1);
    expect(ids((await get(tokenB, `Condition?patient=${patientA}`)).body)).toEqual([]);
    const post = await fhirFetch(tokenB, `${h.fhir}/Patient/_search`, { method: 'POST', body: new URLSearchParams({ _id: patientA }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(ids((await post.json()) as Bundle)).toEqual([]);
  });

  it('when another organisation writes a record about a child it cannot see, then 422 exactly as for a child that never existed, and nothing is stored', async () => {
    const write = (subject: string) => fhirFetch(tokenB, `${h.fhir}/Condition`, { method: 'POST', json: { resourceType: 'Condition', subject: { reference: subject }, code: { text: 'points elsewhere' } } });
    const theirs = await write(`Patient/${patientA}`);
    const nobody = await write('Patient/00000000-0000-0000-0000-000000000000');
    expect([theirs.status, nobody.status]).toEqual([422, 422]);
    const [t, n] = [(await theirs.json()) as { issue: { diagnostics: string }[] }, (await nobody.json()) as { issue: { diagnostics: string }[] }];
    expect(t.issue[0].diagnostics.replace(patientA, 'ID')).toBe(n.issue[0].diagnostics.replace('00000000-0000-0000-0000-000000000000', 'ID'));
    expect(ids((await get(tokenB, 'Condition?_total=accurate')).body)).toEqual([]);
    expect(ids((await get(tokenA, `Condition?patient=${patientA}`)).body)).toEqual([`Condition/${conditionA}`]);
  });

  it('when an organisation _revincludes its own patient, then only its own records come back', async () => {
    const res = await get(tokenA, `Patient?_id=${patientA}&_revinclude=Condition:patient`);
    expect(ids(res.body).sort()).toEqual([`Condition/${conditionA}`, `Patient/${patientA}`].sort());
    expect(ids((await get(tokenB, `Patient?_id=${patientB}&_revinclude=Condition:patient`)).body)).toEqual([`Patient/${patientB}`]);
  });

  it('when another organisation updates a record, then 405 as for an id that never existed, and the record is unchanged', async () => {
    const res = await fhirFetch(tokenB, `${h.fhir}/Patient/${patientA}`, { method: 'PUT', json: { resourceType: 'Patient', id: patientA, gender: 'other' } });
    expect(res.status).toBe(405);
    const never = await fhirFetch(tokenB, `${h.fhir}/Patient/never-existed`, { method: 'PUT', json: { resourceType: 'Patient', id: 'never-existed', gender: 'other' } });
    expect((await res.text()).replaceAll(patientA, 'never-existed')).toBe(await never.text());
    const now = await get(tokenA, `Patient/${patientA}`);
    expect((now.body as unknown as { gender: string; meta: { versionId: string } })).toMatchObject({ gender: 'female', meta: { versionId: '1' } });
  });

  it('when another organisation creates with If-None-Exist matching a record it cannot see, then it gets a new record, not the other', async () => {
    const res = await fhirFetch(tokenB, `${h.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [{ system: MRN, value: 'rq1-0001' }] }, headers: { 'if-none-exist': `identifier=${MRN}|rq1-0001` } });
    expect(res.status).toBe(201);
    expect(((await res.json()) as Resource).id).not.toBe(patientA);
  });

  it('when another organisation reads or writes a record inside a transaction, then the transaction is 404 (read) or 405 (write, as for an unknown id) and nothing is written', async () => {
    const read = await fhirFetch(tokenB, h.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: 'urn:uuid:7c8e2f64-0d7a-4a5e-9d0b-1f2d3c4b5a69', resource: { resourceType: 'Patient', gender: 'unknown' }, request: { method: 'POST', url: 'Patient' } },
      { request: { method: 'GET', url: `Patient/${patientA}` } },
    ] } });
    expect(read.status).toBe(404);
    const write = await fhirFetch(tokenB, h.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'transaction', entry: [
      { resource: { resourceType: 'Patient', id: patientA, gender: 'other' }, request: { method: 'PUT', url: `Patient/${patientA}` } },
    ] } });
    expect(write.status).toBe(405);
    expect((await get(tokenB, 'Patient?gender=unknown')).body.entry).toBeUndefined();
  });

  it('when another organisation reads a record inside a batch, then that entry is 404 and the others answer', async () => {
    const res = await fhirFetch(tokenB, h.fhir, { method: 'POST', json: { resourceType: 'Bundle', type: 'batch', entry: [
      { request: { method: 'GET', url: `Patient/${patientA}` } }, { request: { method: 'GET', url: `Patient/${patientB}` } },
      { request: { method: 'GET', url: `Condition?patient=${patientA}` } },
    ] } });
    const bundle = (await res.json()) as Bundle;
    expect(bundle.entry?.map((e) => e.response?.status)).toEqual(['404', '200', '200']);
    expect(ids(bundle.entry![2].resource as Bundle)).not.toContain(`Condition/${conditionA}`); // RJ7's own Condition on that patient may be there
  });

  // Guards a leak found while writing this suite: a uniqueness rule on NHS numbers across all
  // organisations answered 409 naming the other organisation's Patient id (an existence oracle).
  it('when another organisation creates a Patient with an NHS number it cannot see, then nothing reveals the other record', async () => {
    const nhs = { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9434765919' };
    await create(tokenA, { resourceType: 'Patient', identifier: [nhs] });
    const res = await fhirFetch(tokenB, `${h.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', identifier: [nhs] } });
    const text = await res.text();
    expect(text).not.toMatch(/Patient\/[0-9a-f-]{36}/);
    expect(res.status).toBe(201);
  });

  it('when each organisation reads the audit trail, then it sees only its own events', async () => {
    const trail = await get(await h.token(B.clientId, 'system/AuditEvent.rs'), 'AuditEvent?_count=500');
    expect(trail.status).toBe(200);
    const orgs = new Set((trail.body.entry ?? []).map((e) => JSON.stringify((e.resource as unknown as { agent: { who: { identifier?: { value: string } } }[] }).agent[1]?.who.identifier?.value)));
    expect([...orgs]).toEqual([JSON.stringify('RJ7')]);
  });
});
