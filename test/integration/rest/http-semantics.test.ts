/**
 * HTTP as FHIR clients and integration engines expect it, on both backends with authentication on:
 * paging that ends, HEAD, 405 with Allow, no create on PUT, conditional read and update, $validate,
 * string/token modifiers and _sort. fhir-kit-client pages as a client would; @medplum/core checks every answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client as FhirClient } from 'fhir-kit-client';
import type { Bundle, OperationOutcome, Patient } from 'fhir/r4.js';
import { backends } from '../../helpers/backends.ts';
import { expectValidR4 } from '../../helpers/r4.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const OWNER = { clientId: 'ra7-epr', organization: 'RA7' };
const STRANGER = { clientId: 'zz9-epr', organization: 'ZZ9' };
const MRN = 'https://trust.example.nhs.uk/mrn';
const run = Math.random().toString(36).slice(2, 8);

const patient = (family: string, mrn: string, extra: Partial<Patient> = {}): Patient => ({
  resourceType: 'Patient', identifier: [{ system: MRN, value: `${mrn}-${run}` }], name: [{ family, given: ['Noah'] }], birthDate: '2019-06-24', ...extra,
});

describe.each(backends())('FHIR HTTP semantics on %s', (backend) => {
  let server: TestServer;
  const raw = async (path: string, init: RequestInit = {}, who = OWNER.clientId) =>
    fetch(`${server.fhir}${path}`, { ...init, headers: { ...(await server.clients[who].headers()), ...(init.headers as Record<string, string> | undefined) } });
  const post = async (p: Patient) => {
    const res = await raw('/Patient', { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(p) });
    expect(res.status).toBe(201);
    return (await res.json()) as Patient;
  };

  beforeAll(async () => {
    // Index the R4 definitions first: indexing blocks the process (the in-process server too) and a kept-alive socket may reset meanwhile.
    expectValidR4({ resourceType: 'Patient' });
    server = await startTestServer(backend, {}, { client: OWNER, clients: [STRANGER], directory: [{ ods: 'RA7', name: 'Requesting Trust' }] });
    for (const [i, family] of ['Zephyr', 'Adams', 'Morgan', 'Ádler'].entries()) {
      await post(patient(family, `sem${i}`, { gender: i % 2 ? 'female' : 'male', birthDate: '2011-01-01' }));
    }
  });
  afterAll(async () => server.stop());

  it('when _count=0 or _summary=count, then the total comes with no next link, and fhir-kit-client paging stops at the last page', async () => {
    for (const q of ['_count=0&_total=accurate', '_summary=count']) {
      const bundle = (await (await raw(`/Patient?identifier=${MRN}|&${q}`)).json()) as Bundle;
      expectValidR4(bundle);
      expect(bundle.total, q).toBeGreaterThanOrEqual(4);
      expect(bundle.entry, q).toBeUndefined();
      expect(bundle.link?.map((l) => l.relation), q).toEqual(['self']);
    }
    const client = new FhirClient({ baseUrl: server.fhir, bearerToken: await server.token() });
    let page = (await client.search({ resourceType: 'Patient', searchParams: { _count: '1', _sort: 'family' } })) as unknown as Bundle;
    const seen: string[] = [];
    for (let i = 0; page && i < 50; i++) {
      seen.push(...(page.entry ?? []).map((e) => e.resource!.id!));
      page = (await client.nextPage({ bundle: { ...page } as never })) as unknown as Bundle;
    }
    expect(seen.length).toBe(new Set(seen).size);
    expect(seen.length).toBe(4);
  });

  it('when a search does not ask for a total, then the searchset has none (no count of every match); _total=accurate or estimate gives it, on each page', async () => {
    const q = `/Patient?identifier=${MRN}|&_count=2`;
    const plain = (await (await raw(q)).json()) as Bundle;
    expectValidR4(plain);
    expect(plain).not.toHaveProperty('total');
    expect(plain.entry).toHaveLength(2);
    expect((await (await raw(`${q}&_total=none`)).json()) as Bundle).not.toHaveProperty('total');
    for (const t of ['accurate', 'estimate']) {
      const counted = (await (await raw(`${q}&_total=${t}`)).json()) as Bundle;
      expect(counted.total, t).toBeGreaterThanOrEqual(4);
      const next = counted.link?.find((l) => l.relation === 'next')?.url;
      expect(next, t).toContain(`_total=${t}`);
      expect(((await (await raw(next!.slice(server.fhir.length))).json()) as Bundle).total, t).toBe(counted.total);
    }
  });

  it('when HEAD asks for a read or a search, then it gets the GET headers and no body', async () => {
    const p = await post(patient('Head', 'head'));
    const get = await raw(`/Patient/${p.id}`);
    const head = await raw(`/Patient/${p.id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(get.headers.get('etag'));
    expect(head.headers.get('content-type')).toBe(get.headers.get('content-type'));
    expect(await head.text()).toBe('');
    const search = await raw('/Patient?family=head', { method: 'HEAD' });
    expect(search.status).toBe(200);
    expect(await search.text()).toBe('');
    expect((await raw('/Patient/00000000-0000-4000-8000-000000000000', { method: 'HEAD' })).status).toBe(404);
  });

  it('when a method is not allowed, then 405 says which are, in Allow', async () => {
    const p = await post(patient('Allow', 'allow'));
    const cases: [string, string, string][] = [
      [`/Patient/${p.id}`, 'DELETE', 'GET, HEAD, PUT, PATCH'], ['/Patient', 'DELETE', 'GET, HEAD, POST, PUT'],
      [`/Patient/${p.id}/_history`, 'POST', 'GET, HEAD'], ['/metadata', 'POST', 'GET, HEAD'], ['/Patient/_search', 'GET', 'POST'],
    ];
    for (const [path, method, allow] of cases) {
      const res = await raw(path, { method, headers: { 'content-type': 'application/fhir+json' }, body: method === 'GET' ? undefined : '{}' });
      expect(res.status, `${method} ${path}`).toBe(405);
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect(((await res.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
    }
  });

  it('when PUT names an id that does not exist, then 405 (ids are the server\'s), the same as an id another organisation holds', async () => {
    const mine = await post(patient('Mine', 'mine'));
    const put = (id: string, who: string) => raw(`/Patient/${id}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ ...patient('X', 'x'), id }) }, who);
    const fresh = await put('client-chosen-1', STRANGER.clientId);
    expect(fresh.status).toBe(405);
    const hidden = await put(mine.id!, STRANGER.clientId);
    expect(hidden.status).toBe(405);
    expect((await hidden.text()).replaceAll(mine.id!, 'client-chosen-1')).toBe(await (await put('client-chosen-1', STRANGER.clientId)).text());
    expect((await raw(`/Patient/${mine.id}`)).status).toBe(200);
  });

  it('when a read carries If-None-Match or If-Modified-Since with Cache-Control: no-cache, then the current copy is 304, an old one 200', async () => {
    const p = await post(patient('Cache', 'cache'));
    const first = await raw(`/Patient/${p.id}`);
    const etag = first.headers.get('etag')!;
    const lastModified = first.headers.get('last-modified')!;
    const nm = await raw(`/Patient/${p.id}`, { headers: { 'if-none-match': etag, 'cache-control': 'no-cache' } });
    expect(nm.status).toBe(304);
    expect(nm.headers.get('etag')).toBe(etag);
    expect(await nm.text()).toBe('');
    expect((await raw(`/Patient/${p.id}`, { headers: { 'if-modified-since': lastModified, 'cache-control': 'no-cache' } })).status).toBe(304);
    expect((await raw(`/Patient/${p.id}`, { headers: { 'if-none-match': 'W/"99"' } })).status).toBe(200);
    expect((await raw(`/Patient/${p.id}`, { headers: { 'if-modified-since': 'Mon, 01 Jan 2001 00:00:00 GMT' } })).status).toBe(200);
  });

  it('when PUT {type}?search matches nothing, then it creates; one match, it updates; two, 412; no criteria, 400', async () => {
    const put = (q: string, body: Patient) => raw(`/Patient?${q}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
    const created = await put(`identifier=${MRN}|cond-${run}`, patient('Cond', 'cond'));
    expect(created.status).toBe(201);
    const first = (await created.json()) as Patient;
    const updated = await put(`identifier=${MRN}|cond-${run}`, patient('Conditional', 'cond'));
    expect(updated.status).toBe(200);
    const second = (await updated.json()) as Patient;
    expectValidR4(second);
    expect(second.id).toBe(first.id);
    expect(second.meta?.versionId).toBe('2');
    await post(patient('Twin', 'twin-a', { gender: 'other' }));
    await post(patient('Twin', 'twin-b', { gender: 'other' }));
    expect((await put('family=twin', patient('Twin', 'twin-c'))).status).toBe(412);
    expect((await put('_count=5', patient('None', 'none'))).status).toBe(400);
    expect((await put('nonsense=1', patient('None', 'none'))).status).toBe(400);
  });

  it('when $validate is posted, then the write\'s validation answers as an OperationOutcome and nothing is stored', async () => {
    const count = async () => ((await (await raw('/Patient?_summary=count')).json()) as Bundle).total;
    const before = await count();
    const ok = await raw('/Patient/$validate', { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(patient('Valid', 'v')) });
    expect(ok.status).toBe(200);
    const okOutcome = (await ok.json()) as OperationOutcome;
    expectValidR4(okOutcome);
    expect(okOutcome.issue.every((i) => i.severity === 'information')).toBe(true);
    const bad = await raw('/Patient/$validate', { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ ...patient('Bad', 'b'), gender: 'sometimes' }) });
    expect(bad.status).toBe(200);
    expect(((await bad.json()) as OperationOutcome).issue.some((i) => i.severity === 'error')).toBe(true);
    expect((await raw('/Patient/$validate', { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Task' }) })).status).toBe(400);
    expect((await raw('/AuditEvent/$validate', { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'AuditEvent' }) })).status).toBe(403);
    expect(await count()).toBe(before);
  });

  it('when string :contains/:exact, token :not and _sort are used, then they select and order as R4 says; unknown modifiers and sort keys are 400', async () => {
    const families = async (q: string) => ((await (await raw(`/Patient?birthdate=2011-01-01&${q}`)).json()) as Bundle).entry?.map((e) => (e.resource as Patient).name![0].family) ?? [];
    expect(await families('family:contains=organ')).toEqual(['Morgan']);
    expect(await families('family:contains=DLER')).toEqual(['Ádler']);
    expect(await families('family:exact=adams')).toEqual(['Adams']);
    expect(await families('family:exact=adam')).toEqual([]);
    expect((await families('gender:not=male')).sort()).toEqual(['Adams', 'Ádler']);
    const sorted = await families('_sort=family');
    expect(sorted).toEqual(['Adams', 'Ádler', 'Morgan', 'Zephyr']);
    expect(await families('_sort=-family')).toEqual([...sorted].reverse());
    // female before male, then family descending (accents ignored: adler after adams).
    expect(await families('_sort=gender,-family')).toEqual(['Ádler', 'Adams', 'Zephyr', 'Morgan']);
    for (const q of ['family:near=x', 'gender:contains=m', '_sort=organization', '_sort=nonsense', '_summary=maybe']) {
      expect((await raw(`/Patient?${q}`)).status, q).toBe(400);
    }
  });
});
