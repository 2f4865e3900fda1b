/**
 * PATCH (JSON Patch and FHIRPath Patch) through the same validation, rules, If-Match and audit as
 * PUT; `_summary` and `_elements` on read and search with the SUBSETTED tag. Both backends,
 * authentication on; @medplum/core checks every answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, Bundle, Parameters, Patient } from 'fhir/r4.js';
import { backends } from '../../helpers/backends.ts';
import { expectValidR4 } from '../../helpers/r4.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const OWNER = { clientId: 'ra7-epr', organization: 'RA7' };
const OTHER = { clientId: 'rj1-epr', organization: 'RJ1' };
const MRN = 'https://trust.example.nhs.uk/mrn';
const SUBSETTED = (r: { meta?: { tag?: { code?: string }[] } }) => r.meta?.tag?.some((t) => t.code === 'SUBSETTED') ?? false;
const patient = (family: string): Patient => ({
  resourceType: 'Patient', identifier: [{ system: MRN, value: `${family}-${Math.random().toString(36).slice(2, 8)}` }], name: [{ family, given: ['Noah'] }],
  birthDate: '2019-06-24', gender: 'male', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Noah</div>' },
});
const fhirPathPatch = (...ops: Record<string, unknown>[]): Parameters => ({
  resourceType: 'Parameters',
  parameter: ops.map((o) => ({ name: 'operation', part: Object.entries(o).map(([name, v]) => (name === 'value' ? { name, ...(v as object) } : { name, [typeof v === 'number' ? 'valueInteger' : name === 'type' ? 'valueCode' : 'valueString']: v })) })) as never,
});

describe.each(backends())('PATCH, _summary and _elements on %s', (backend) => {
  let server: TestServer;
  const raw = async (path: string, init: RequestInit = {}, who = OWNER.clientId) =>
    fetch(`${server.fhir}${path}`, { ...init, headers: { ...(await server.clients[who].headers()), ...(init.headers as Record<string, string> | undefined) } });
  const create = async (p: Patient) => (await (await raw('/Patient', { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(p) })).json()) as Patient;
  const jsonPatch = (id: string, ops: unknown, headers: Record<string, string> = {}, who = OWNER.clientId) =>
    raw(`/Patient/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/json-patch+json', ...headers }, body: JSON.stringify(ops) }, who);
  const pathPatch = (id: string, body: Parameters) => raw(`/Patient/${id}`, { method: 'PATCH', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    // Index the R4 definitions first: indexing blocks the process (the in-process server too) and a kept-alive socket may reset meanwhile.
    expectValidR4({ resourceType: 'Patient' });
    server = await startTestServer(backend, {}, { client: OWNER, clients: [OTHER], directory: [{ ods: 'RA7', name: 'Requesting Trust' }, { ods: 'RJ1', name: 'Providing Trust' }] });
  });
  afterAll(async () => server.stop());

  it('when a JSON Patch is sent, then it is applied as a new version, honouring If-Match, and audited as an update', async () => {
    const p = await create(patient('Patchy'));
    const res = await jsonPatch(p.id!, [{ op: 'replace', path: '/gender', value: 'female' }, { op: 'add', path: '/name/0/given/-', value: 'Rose' }], { 'if-match': 'W/"1"' });
    expect(res.status).toBe(200);
    const patched = (await res.json()) as Patient;
    expectValidR4(patched);
    expect(patched.gender).toBe('female');
    expect(patched.name?.[0].given).toEqual(['Noah', 'Rose']);
    expect(patched.meta?.versionId).toBe('2');
    expect(res.headers.get('etag')).toBe('W/"2"');
    expect((await jsonPatch(p.id!, [{ op: 'replace', path: '/gender', value: 'male' }], { 'if-match': 'W/"1"' })).status).toBe(412);
    const audit = (await (await raw(`/AuditEvent?entity=Patient/${p.id}&subtype=update`)).json()) as Bundle;
    expect(audit.entry?.map((e) => (e.resource as AuditEvent).subtype?.[0].code)).toContain('update');
  });

  it('when a JSON Patch is malformed, fails a test, breaks validation, changes the id, or comes from another organisation, then it is refused and nothing changes', async () => {
    const p = await create(patient('Refused'));
    expect((await jsonPatch(p.id!, { op: 'replace' })).status).toBe(400);
    expect((await jsonPatch(p.id!, [{ op: 'jump', path: '/gender' }])).status).toBe(400);
    expect((await jsonPatch(p.id!, [{ op: 'test', path: '/gender', value: 'female' }, { op: 'replace', path: '/gender', value: 'other' }])).status).toBe(422);
    expect((await jsonPatch(p.id!, [{ op: 'replace', path: '/gender', value: 'sometimes' }])).status).toBe(400);
    expect((await jsonPatch(p.id!, [{ op: 'replace', path: '/id', value: 'other' }])).status).toBe(400);
    expect((await jsonPatch(p.id!, [{ op: 'replace', path: '/gender', value: 'female' }], {}, OTHER.clientId)).status).toBe(404);
    expect((await raw(`/Patient/${p.id}`, { method: 'PATCH', headers: { 'content-type': 'text/plain' }, body: 'x' })).status).toBe(415);
    const now = (await (await raw(`/Patient/${p.id}`)).json()) as Patient;
    expect(now.meta?.versionId).toBe('1');
    expect(now.gender).toBe('male');
  });

  it('when a FHIRPath Patch is sent, then add, insert, replace, move and delete apply; a path it cannot evaluate is 422', async () => {
    const p = await create(patient('Pathy'));
    const res = await pathPatch(p.id!, fhirPathPatch(
      { type: 'replace', path: 'Patient.gender', value: { valueCode: 'female' } },
      { type: 'add', path: 'Patient', name: 'telecom', value: { valueContactPoint: { system: 'phone', value: '0300 000 0001' } } },
      { type: 'insert', path: 'Patient.telecom', index: 0, value: { valueContactPoint: { system: 'email', value: 'a@example.org' } } },
      { type: 'move', path: 'Patient.telecom', source: 1, destination: 0 },
      { type: 'delete', path: 'Patient.birthDate' },
    ));
    expect(res.status).toBe(200);
    const patched = (await res.json()) as Patient;
    expectValidR4(patched);
    expect(patched.gender).toBe('female');
    expect(patched.telecom?.map((t) => t.system)).toEqual(['phone', 'email']);
    expect(patched.birthDate).toBeUndefined();
    expect((await pathPatch(p.id!, fhirPathPatch({ type: 'replace', path: "Patient.name.where(use='official').family", value: { valueString: 'X' } }))).status).toBe(422);
    expect((await pathPatch(p.id!, fhirPathPatch({ type: 'replace', path: 'Patient.maritalStatus', value: { valueString: 'X' } }))).status).toBe(422);
    expect((await pathPatch(p.id!, fhirPathPatch({ type: 'explode', path: 'Patient.gender' }))).status).toBe(422);
  });

  it('when _summary or _elements is asked on a read or a search, then only those elements come back, tagged SUBSETTED, still valid R4', async () => {
    const p = await create(patient('Summary'));
    const read = async (q: string) => (await (await raw(`/Patient/${p.id}?${q}`)).json()) as Patient;
    const summary = await read('_summary=true');
    expectValidR4(summary);
    expect(SUBSETTED(summary)).toBe(true);
    expect(summary.name?.[0].family).toBe('Summary');
    expect(summary.text).toBeUndefined();
    const text = await read('_summary=text');
    expect(Object.keys(text).sort()).toEqual(['id', 'meta', 'resourceType', 'text']);
    const data = await read('_summary=data');
    expect(data.text).toBeUndefined();
    expect(data.gender).toBe('male');
    expect(SUBSETTED(data)).toBe(true);
    const whole = await read('_summary=false');
    expect(whole.text).toBeDefined();
    expect(SUBSETTED(whole)).toBe(false);
    const elements = await read('_elements=gender,birthDate');
    expect(Object.keys(elements).sort()).toEqual(['birthDate', 'gender', 'id', 'meta', 'resourceType']);
    expect(SUBSETTED(elements)).toBe(true);
    const bundle = (await (await raw(`/Patient?_id=${p.id}&_elements=gender`)).json()) as Bundle;
    expectValidR4(bundle);
    expect(Object.keys(bundle.entry![0].resource!).sort()).toEqual(['gender', 'id', 'meta', 'resourceType']);
    expect(bundle.link?.[0].url).toContain('_elements=gender');
    for (const q of ['_summary=maybe', '_elements=name.family', '_summary=true&_summary=false']) expect((await raw(`/Patient/${p.id}?${q}`)).status, q).toBe(400);
  });
});
