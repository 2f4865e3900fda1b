/**
 * POST /hl7/v2: the same receiver as MLLP over HTTP, with a real SMART token whose
 * organisation must be the message's MSH-4.
 */
import type { Bundle, ServiceRequest } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { entries } from '../eso/harness.ts';
import { field, freshSample, msa, requestSystem, startHl7Server, storedCounts, type Hl7Server } from './harness.ts';

const ER7 = 'x-application/hl7-v2+er7';

describe.each(backends())('HL7 v2 over POST /hl7/v2 on %s', (backend) => {
  let h: Hl7Server;
  beforeAll(async () => { h = await startHl7Server(backend, { MLLP_ENABLED: 'false' }); });
  afterAll(async () => { await h?.stop(); });

  it("when the requester posts a REF^I12 with its own token, then the body is the AA and the case is there", async () => {
    const { text, controlId, requestId } = freshSample('v251');
    const res = await h.as.RA7.post('/hl7/v2', text, { 'content-type': ER7, accept: ER7 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^x-application\/hl7-v2\+er7/);
    expect(msa(res.body)).toMatchObject({ code: 'AA', controlId });
    expect(field(res.body, 'MSH', 6)).toBe('RA7');
    const srs = entries<ServiceRequest>((await h.as.RA7.get<Bundle>(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`${requestSystem('RA7')}|${requestId}`)}`)).body, 'ServiceRequest');
    expect(srs).toHaveLength(1);
  });

  it("when MSH-4 is not the token's organisation, then the body is AR and nothing is stored", async () => {
    const { text, controlId } = freshSample('v251'); // MSH-4 RA7
    const before = await storedCounts(h.server.storage);
    const res = await h.as.RGT.post('/hl7/v2', text, { 'content-type': ER7 });
    expect(res.status).toBe(200);
    expect(msa(res.body)).toMatchObject({ code: 'AR', controlId });
    expect(field(res.body, 'ERR', 8)).toBe("Sending facility 'RA7' is not the organisation of the access token");
    expect(await storedCounts(h.server.storage)).toEqual(before);
  });

  it('when there is no token, then the answer is 401 and nothing is stored', async () => {
    const before = await storedCounts(h.server.storage);
    const res = await fetch(`${h.server.url}/hl7/v2`, { method: 'POST', headers: { 'content-type': ER7 }, body: freshSample('v251').text });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    expect(await storedCounts(h.server.storage)).toEqual(before);
  });
});
