/** The ESO conformance resources are served read-only from profiles/, and the CapabilityStatement names the profiles. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, CapabilityStatement, StructureDefinition } from 'fhir/r4.js';
import { expectValidR4 } from '../../helpers/r4.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

describe('conformance resources', () => {
  let server: TestServer;
  beforeAll(async () => {
    // Index the R4 definitions before any request: indexing blocks the in-process server too (see rest.test.ts).
    expectValidR4({ resourceType: 'Patient' });
    server = await startTestServer('sqlite');
  });
  afterAll(async () => server.stop());
  const get = async <T>(path: string) => { const r = await fetch(`${server.fhir}${path}`, { headers: await server.authHeaders() }); return { status: r.status, body: (await r.json()) as T }; };

  it('when metadata is read, then each ESO resource type lists its profile in supportedProfile', async () => {
    const cs = (await get<CapabilityStatement>('/metadata')).body;
    const profileOf = (type: string) => cs.rest?.[0].resource?.find((r) => r.type === type)?.supportedProfile;
    expect(profileOf('Task')).toEqual(['https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-task']);
    expect(profileOf('ServiceRequest')).toEqual(['https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-servicerequest']);
    expect(profileOf('Consent')).toEqual(['https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-consent']);
    expect(profileOf('DiagnosticReport')).toEqual(['https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-diagnosticreport']);
    expect(cs.rest?.[0].resource?.find((r) => r.type === 'Task')?.searchParam?.map((p) => p.name)).toEqual(expect.arrayContaining(['due', 'business-status']));
  });

  it('when the profiles are listed and read, then they come from profiles/ and are valid R4', async () => {
    const list = await get<Bundle>('/StructureDefinition');
    expect(list.status).toBe(200);
    expect(list.body.entry?.map((e) => e.resource?.id)).toEqual(expect.arrayContaining(['eso-task', 'eso-question', 'eso-independence-declaration']));
    const task = await get<StructureDefinition>('/StructureDefinition/eso-task');
    expectValidR4(task.body);
    expect(task.body.url).toBe('https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-task');
    for (const path of ['/ValueSet/eso-business-status', '/CodeSystem/eso', '/SearchParameter/eso-due']) expect((await get(path)).status, path).toBe(200);
    const byUrl = await get<Bundle>('/ValueSet?url=https://fhir.eso-bridge.nhs.uk/ValueSet/eso-review-kind');
    expect(byUrl.body.entry).toHaveLength(1);
  });

  it('when a conformance resource is written or is unknown, then 405 or 404', async () => {
    const put = await fetch(`${server.fhir}/CodeSystem/eso`, { method: 'PUT', headers: { ...(await server.authHeaders()), 'content-type': 'application/fhir+json' }, body: '{"resourceType":"CodeSystem","id":"eso","status":"draft","content":"complete"}' });
    expect(put.status).toBe(405);
    expect((await get('/StructureDefinition/not-there')).status).toBe(404);
  });
});
