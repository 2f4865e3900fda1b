/**
 * A FHIR write in anything but JSON is 415 naming the type it got, as /eso/requests does; a form
 * is still how `POST /fhir/<type>/_search` takes its parameters.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

let server: TestServer;
beforeAll(async () => { server = await startTestServer('sqlite'); });
afterAll(async () => { await server?.stop(); });

const patient = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Form' }] });

describe('POST and PUT under /fhir', () => {
  it.each([
    ['POST', '/Patient', 'application/x-www-form-urlencoded'],
    ['PUT', '/Patient/form1', 'application/x-www-form-urlencoded'],
    ['POST', '', 'application/x-www-form-urlencoded'],
    ['POST', '/Patient', 'text/plain'],
    ['POST', '/Patient', 'application/fhir+xml'],
  ])('when %s %s is sent as %s, then it is 415 naming that type and nothing is stored', async (method, path, type) => {
    const init: RequestInit = { method, body: patient, headers: { ...(await server.authHeaders()), 'content-type': type } };
    const res = await fetch(`${server.fhir}${path}`, init);
    expect(res.status).toBe(415);
    const outcome = (await res.json()) as { resourceType: string; issue: { code: string; diagnostics: string }[] };
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].code).toBe('not-supported');
    expect(outcome.issue[0].diagnostics).toContain(`not '${type}'`);
    const search = await fetch(`${server.fhir}/Patient?family=Form`, { headers: await server.authHeaders() });
    expect(((await search.json()) as { entry?: unknown[] }).entry ?? []).toEqual([]);
  });

  it('when a write has no content type, then it is 415 saying none was given', async () => {
    const res = await fetch(`${server.fhir}/Patient`, { method: 'POST', headers: await server.authHeaders() });
    expect(res.status).toBe(415);
    expect(((await res.json()) as { issue: { diagnostics: string }[] }).issue[0].diagnostics).toContain("not 'none'");
  });

  it('when a search is posted as a form, then it is answered as a search', async () => {
    const res = await fetch(`${server.fhir}/Patient/_search`, { method: 'POST', body: 'family=Form', headers: { ...(await server.authHeaders()), 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { resourceType: string }).resourceType).toBe('Bundle');
  });
});
