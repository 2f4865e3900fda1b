/**
 * The FHIR REST core over real HTTP, driven by fhir-kit-client as an integration engine's Node
 * code would, on both backends, with authentication on: the requesting Trust's client (RA7) with
 * a real token, its providing Trust (RJ1) and a stranger (ZZ9) placed by the directory file.
 * Every resource returned is checked with @medplum/core.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Client as FhirClient } from 'fhir-kit-client';
import type { Bundle, Patient, Resource, Task } from 'fhir/r4.js';
import { backends } from '../../helpers/backends.ts';
import { expectValidR4 } from '../../helpers/r4.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { caseTransaction } from '../../helpers/cases.ts';
import { organizationId } from '../../helpers/directory.ts';

const REQUESTER = { clientId: 'ra7-epr', organization: 'RA7' };
const PROVIDER = { clientId: 'rj1-epr', organization: 'RJ1' };
const STRANGER = { clientId: 'zz9-epr', organization: 'ZZ9' };


/** A Patient with a local record number (NHS numbers are unique per Patient: the domain refuses duplicates). */
const patient = (family: string, mrn: string): Patient => ({
  resourceType: 'Patient', identifier: [{ system: 'https://trust.example.nhs.uk/mrn', value: `${mrn}-${Math.random().toString(36).slice(2, 8)}` }], name: [{ family, given: ['Noah'] }], birthDate: '2019-06-24',
});

async function statusOf(p: Promise<unknown>): Promise<{ status: number; data: Resource }> {
  try {
    await p;
    return { status: 200, data: undefined as never };
  } catch (e) {
    const r = (e as { response?: { status: number; data: Resource } }).response;
    if (!r) throw e;
    return r;
  }
}

describe.each(backends())('FHIR REST on %s', (backend) => {
  let server: TestServer;
  let client: InstanceType<typeof FhirClient>;
  /** Organization ids by ODS code. */
  const orgId: Record<string, string> = {};
  /** A raw request as `who` (the requester's client unless named). */
  const raw = async (path: string, init: RequestInit = {}, who = REQUESTER.clientId) =>
    fetch(`${server.fhir}${path}`, { ...init, headers: { ...(await server.clients[who].headers()), ...(init.headers as Record<string, string> | undefined) } });

  beforeAll(async () => {
    // Index the R4 definitions now: indexing blocks this process, the in-process server included, for
    // seconds, and a kept-alive socket whose timer ran out meanwhile resets the next request (ECONNRESET).
    expectValidR4({ resourceType: 'Patient' });
    server = await startTestServer(backend, {}, {
      client: REQUESTER,
      clients: [PROVIDER, STRANGER],
      directory: [{ ods: 'RA7', name: 'Requesting Trust' }, { ods: 'RJ1', name: 'Providing Trust' }],
    });
    client = new FhirClient({ baseUrl: server.fhir });
    for (const ods of ['RA7', 'RJ1', 'ZZ9']) orgId[ods] = await organizationId(server.fhir, ods, await server.authHeaders());
  });
  // The token is cached by the server helper and fetched again before it expires.
  beforeEach(async () => { client.bearerToken = await server.token(); });
  afterAll(async () => server.stop());

  it('when a Patient is created, then it gets a server id, version 1, Location and ETag, and belongs to the writer\'s organisation', async () => {
    const res = await raw('/Patient', { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ ...patient('Evans', '9000000009'), id: 'client-chosen' }) });
    expect(res.status).toBe(201);
    const body = (await res.json()) as unknown as Patient;
    expectValidR4(body);
    expect(body.id).not.toBe('client-chosen');
    expect(body.meta?.versionId).toBe('1');
    expect(res.headers.get('etag')).toBe('W/"1"');
    expect(res.headers.get('location')).toBe(`${server.fhir}/Patient/${body.id}/_history/1`);
    expect(body.managingOrganization?.reference).toBe(`Organization/${orgId.RA7}`);
    const read = (await client.read({ resourceType: 'Patient', id: body.id! })) as unknown as Patient;
    expectValidR4(read);
    expect(read.name?.[0].family).toBe('Evans');
    // Another organisation is told nothing: the same 404 as an id that never existed.
    const stranger = await raw(`/Patient/${body.id}`, {}, STRANGER.clientId);
    expect(stranger.status).toBe(404);
    const never = '00000000-0000-4000-8000-000000000000';
    expect((await stranger.text()).replaceAll(body.id!, never)).toBe(await (await raw(`/Patient/${never}`, {}, STRANGER.clientId)).text());
  });

  it('when If-None-Exist matches one resource, then it is returned with 200; two matches are 412', async () => {
    const body = JSON.stringify({ ...patient('Hughes', 'x'), identifier: [{ system: 'https://trust.example.nhs.uk/mrn', value: 'HUGHES-1' }] });
    const headers = { 'content-type': 'application/fhir+json', 'if-none-exist': 'identifier=https://trust.example.nhs.uk/mrn|HUGHES-1' };
    const first = await raw('/Patient', { method: 'POST', headers, body });
    const second = await raw('/Patient', { method: 'POST', headers, body });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(((await second.json()) as Patient).id).toBe(((await first.json()) as Patient).id);
    await client.create({ resourceType: 'Patient', body: JSON.parse(body) });
    const third = await raw('/Patient', { method: 'POST', headers, body });
    expect(third.status).toBe(412);
  });

  it('when updated with a current If-Match, then version 2; with a stale one, then 412 and nothing changes', async () => {
    const created = (await client.create({ resourceType: 'Patient', body: { ...patient('Price', '9000000017') } })) as unknown as Patient;
    const put = (body: Patient, etag: string) => raw(`/Patient/${created.id}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json', 'if-match': etag }, body: JSON.stringify(body) });
    const ok = await put({ ...created, gender: 'male' }, 'W/"1"');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('etag')).toBe('W/"2"');
    const stale = await put({ ...created, gender: 'female' }, 'W/"1"');
    expect(stale.status).toBe(412);
    expect(((await stale.json()) as Resource).resourceType).toBe('OperationOutcome');
    const now = (await client.read({ resourceType: 'Patient', id: created.id! })) as unknown as Patient;
    expect(now.gender).toBe('male');
    const v1 = (await client.vread({ resourceType: 'Patient', id: created.id!, version: '1' })) as unknown as Patient;
    expect(v1.gender).toBeUndefined();
    const history = (await client.history({ resourceType: 'Patient', id: created.id! })) as unknown as Bundle;
    expectValidR4(history);
    expect(history.entry?.map((e) => e.resource?.meta?.versionId)).toEqual(['2', '1']);
  });

  it('when an update names an id that differs from the URL, then 400', async () => {
    const created = (await client.create({ resourceType: 'Patient', body: { ...patient('Mismatch', '9000000009') } })) as unknown as Patient;
    const res = await raw(`/Patient/${created.id}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ ...created, id: 'other' }) });
    expect(res.status).toBe(400);
  });

  it('when searching with _count, then next and previous links page through every match once', async () => {
    for (let i = 0; i < 5; i++) await client.create({ resourceType: 'Patient', body: { ...patient(`Pager${i}`, '9000000009'), name: [{ family: 'Pagerfamily' }] } });
    const seen: string[] = [];
    let page = (await client.search({ resourceType: 'Patient', searchParams: { family: 'pagerfam', _count: '2', _total: 'accurate' } })) as unknown as Bundle;
    expectValidR4(page);
    expect(page.total).toBe(5);
    // The stranger's count leaves them out.
    const theirs = await raw('/Patient?family=pagerfam&_total=accurate', {}, STRANGER.clientId);
    expect(((await theirs.json()) as Bundle).total).toBe(0);
    for (;;) {
      seen.push(...(page.entry ?? []).map((e) => e.resource!.id!));
      const next = client.nextPage({ bundle: page as never });
      if (!next) break;
      page = (await next) as unknown as Bundle;
    }
    expect(new Set(seen).size).toBe(5);
    expect(page.link?.some((l) => l.relation === 'previous')).toBe(true);
  });

  it('when sorting by -_lastUpdated, then newest comes first', async () => {
    const a = (await client.create({ resourceType: 'Patient', body: { ...patient('Sorta', '9000000009') } })) as unknown as Patient;
    const b = (await client.create({ resourceType: 'Patient', body: { ...patient('Sortb', '9000000009') } })) as unknown as Patient;
    const asc = (await client.search({ resourceType: 'Patient', searchParams: { name: 'sort', _sort: '_lastUpdated' } })) as unknown as Bundle;
    const desc = (await client.search({ resourceType: 'Patient', searchParams: { name: 'sort', _sort: '-_lastUpdated' } })) as unknown as Bundle;
    expect(asc.entry?.map((e) => e.resource?.id)).toEqual([a.id, b.id]);
    expect(desc.entry?.map((e) => e.resource?.id)).toEqual([b.id, a.id]);
  });

  it('when searching by _lastUpdated and birthdate prefixes, then the ranges are honoured', async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    const p = (await client.create({ resourceType: 'Patient', body: { ...patient('Datey', '9000000009'), birthDate: '2012-01-02' } })) as unknown as Patient;
    const q = async (params: Record<string, string>) => ((await client.search({ resourceType: 'Patient', searchParams: { family: 'datey', ...params } })) as unknown as Bundle).entry?.length ?? 0;
    expect(await q({ _lastUpdated: `gt${before}` })).toBe(1);
    expect(await q({ _lastUpdated: `lt${before}` })).toBe(0);
    expect(await q({ birthdate: '2012-01' })).toBe(1);
    expect(await q({ birthdate: 'ge2012-01-03' })).toBe(0);
    expect(await q({ birthdate: 'le2012-01-02' })).toBe(1);
    expect(await q({ _id: p.id! })).toBe(1);
  });

  it('when POSTing to _search, then the form parameters search like GET', async () => {
    await client.create({ resourceType: 'Patient', body: { ...patient('Formsearch', '9000000009') } });
    const res = await raw('/Patient/_search', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'family=formsearch' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as unknown as Bundle).entry?.length).toBe(1);
  });

  it('when an unknown parameter is sent, then it is ignored and left out of self; under handling=strict it is 400', async () => {
    const lenient = await raw('/Patient?family=evans&bogus=1');
    const bundle = (await lenient.json()) as unknown as Bundle;
    expect(bundle.link?.find((l) => l.relation === 'self')?.url).not.toContain('bogus');
    const strict = await raw('/Patient?bogus=1', { headers: { prefer: 'handling=strict' } });
    expect(strict.status).toBe(400);
    const oo = (await strict.json()) as { issue: { expression?: string[] }[] };
    expect(oo.issue[0].expression).toEqual(['bogus']);
  });

  it('when a search value is malformed, then 400 with the parameter as expression', async () => {
    for (const q of ['_lastUpdated=notadate', '_count=-1', '_count=abc', '_sort=organization', 'birthdate=2012-13']) {
      const res = await raw(`/Patient?${q}`);
      expect(res.status, q).toBe(400);
    }
  });

  it('when Tasks are searched with _include and _revinclude, then focus and patient come along', async () => {
    const resp = (await client.transaction({ body: caseTransaction(orgId.RA7, orgId.RJ1) as never })) as unknown as Bundle;
    expectValidR4(resp);
    const byType = (t: string) => resp.entry!.find((e) => e.resource?.resourceType === t)!.resource!;
    const taskId = byType('Task').id!;
    const srId = byType('ServiceRequest').id!;
    const patientId = byType('Patient').id!;
    expect((byType('Task') as Task).focus?.reference).toBe(`ServiceRequest/${srId}`);
    const found = (await client.search({ resourceType: 'Task', searchParams: { _id: taskId, _include: ['Task:focus', 'Task:patient'] as never } })) as unknown as Bundle;
    expectValidR4(found);
    expect(found.entry?.map((e) => `${e.search?.mode}:${e.resource?.resourceType}`).sort()).toEqual(['include:Patient', 'include:ServiceRequest', 'match:Task']);
    const rev = (await client.search({ resourceType: 'ServiceRequest', searchParams: { _id: srId, _revinclude: 'Task:focus', _include: 'ServiceRequest:patient' } })) as unknown as Bundle;
    expect(rev.entry?.map((e) => e.resource?.resourceType).sort()).toEqual(['Patient', 'ServiceRequest', 'Task']);
    const byFocus = (await client.search({ resourceType: 'Task', searchParams: { focus: `ServiceRequest/${srId}`, patient: patientId, status: 'requested', owner: `Organization/${orgId.RJ1}` } })) as unknown as Bundle;
    expect(byFocus.entry?.length).toBe(1);
    // Tenancy: the provider (the Task's owner) sees the case; an organisation with no part in it does not.
    expect((await raw(`/Task/${taskId}`, {}, PROVIDER.clientId)).status).toBe(200);
    expect((await raw(`/Task/${taskId}`, {}, STRANGER.clientId)).status).toBe(404);
    const strangers = (await (await raw(`/Task?_id=${taskId}&_include=Task:focus&_include=Task:patient`, {}, STRANGER.clientId)).json()) as Bundle;
    expect(strangers.entry ?? []).toEqual([]);
  });

  it('when one entry of a transaction fails, then nothing of it is stored and the error points at the entry', async () => {
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [
      { resource: { ...patient('Atomic', '9000000009') }, request: { method: 'POST', url: 'Patient' } },
      { resource: { resourceType: 'Patient', id: 'does-not-exist' }, request: { method: 'PUT', url: 'Patient/does-not-exist' } },
    ] };
    const res = await raw('', { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(bundle) });
    expect(res.status).toBe(405); // a PUT to an id that does not exist: ids are the server's (updateCreate false)
    const oo = (await res.json()) as { issue: { diagnostics: string }[] };
    expect(oo.issue[0].diagnostics).toMatch(/^Entry 1/);
    const after = (await client.search({ resourceType: 'Patient', searchParams: { family: 'atomic', _total: 'accurate' } })) as unknown as Bundle;
    expect(after.total).toBe(0);
  });

  it('when a batch has a bad entry, then the others still succeed and the bad one carries its outcome', async () => {
    const bundle = { resourceType: 'Bundle', type: 'batch', entry: [
      { resource: { ...patient('Batchy', '9000000009') }, request: { method: 'POST', url: 'Patient' } },
      { request: { method: 'GET', url: 'Patient/nope' } },
    ] };
    const res = (await client.batch({ body: bundle as never })) as unknown as Bundle;
    expectValidR4(res);
    expect(res.entry?.map((e) => e.response?.status)).toEqual(['201', '404']);
  });

  it('when DELETE is attempted, then 405 and the record stays (PATCH: patch.test.ts)', async () => {
    const p = (await client.create({ resourceType: 'Patient', body: { ...patient('Keep', '9000000009') } })) as unknown as Patient;
    expect((await raw(`/Patient/${p.id}`, { method: 'DELETE' })).status).toBe(405);
    expect(((await client.read({ resourceType: 'Patient', id: p.id! })) as unknown as Patient).id).toBe(p.id);
  });

  it('when the input is wrong in shape, then the right 4xx OperationOutcome comes back', async () => {
    const post = (path: string, body: string, type = 'application/fhir+json') => raw(path, { method: 'POST', headers: { 'content-type': type }, body });
    expect((await post('/Patient', '{not json')).status).toBe(400);
    expect((await post('/Patient', '<Patient/>', 'application/fhir+xml')).status).toBe(415);
    expect((await post('/Patient', JSON.stringify({ resourceType: 'Task' }))).status).toBe(400);
    expect((await post('/Spaceship', JSON.stringify({ resourceType: 'Spaceship' }))).status).toBe(404);
    expect((await raw('/Patient/not_a_valid_id!')).status).toBe(404);
    expect((await raw('/Patient/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    const big = await post('/Patient', JSON.stringify({ resourceType: 'Patient', text: 'x'.repeat(6 * 1024 * 1024) }));
    expect(big.status).toBe(413);
    const oo = (await big.json()) as Resource;
    expect(oo.resourceType).toBe('OperationOutcome');
  });

  it('when _format or Accept asks for XML, then 406; JSON variants are honoured', async () => {
    expect((await raw('/metadata?_format=xml')).status).toBe(406);
    expect((await raw('/metadata', { headers: { accept: 'application/fhir+xml' } })).status).toBe(406);
    expect((await raw('/metadata', { headers: { accept: 'application/json' } })).headers.get('content-type')).toContain('application/json');
    expect((await raw('/metadata?_format=json')).headers.get('content-type')).toContain('application/fhir+json');
  });

  it('when Prefer asks for minimal or OperationOutcome, then the body follows it', async () => {
    const post = (prefer: string) => raw('/Patient', { method: 'POST', headers: { 'content-type': 'application/fhir+json', prefer }, body: JSON.stringify(patient('Prefer', '9000000009')) });
    const minimal = await post('return=minimal');
    expect(minimal.status).toBe(201);
    expect(await minimal.text()).toBe('');
    expect(minimal.headers.get('location')).toContain('/Patient/');
    const oo = await post('return=OperationOutcome');
    expect(((await oo.json()) as Resource).resourceType).toBe('OperationOutcome');
  });

  it('when metadata is read, then the CapabilityStatement lists the types and search parameters really served', async () => {
    const cs = (await client.capabilityStatement()) as unknown as { resourceType: string; rest: { resource: { type: string; searchParam?: { name: string }[] }[] }[] };
    expectValidR4(cs as never);
    const task = cs.rest[0].resource.find((r) => r.type === 'Task');
    expect(task?.searchParam?.map((s) => s.name)).toEqual(expect.arrayContaining(['owner', 'status', 'focus', 'patient', 'authored-on', '_lastUpdated']));
    expect(cs.rest[0].resource.map((r) => r.type)).toEqual(expect.arrayContaining(['Patient', 'Task', 'ServiceRequest', 'Consent', 'DiagnosticReport', 'AuditEvent', 'Binary']));
  });

  it('when an unknown path or type is read, then 404 OperationOutcome', async () => {
    const r = await statusOf(client.read({ resourceType: 'Spaceship', id: '1' }));
    expect(r.status).toBe(404);
  });
});
