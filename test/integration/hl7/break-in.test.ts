/**
 * The trust boundaries through HL7 v2 (issue: trust boundaries, finding 1): a Trust referring a
 * child another Trust has already referred gets a record of the child of its own, over HTTP and
 * over MLLP, and nothing in its ACK tells it that the other Trust knows the child.
 */
import type { Bundle, Patient, RelatedPerson, ServiceRequest } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { entries } from '../eso/harness.ts';
import { freshSample, msa, NHS_SYSTEM, rawMllp, requestSystem, SAMPLES, setField, startHl7Server, type Hl7Server } from './harness.ts';

const ER7 = 'x-application/hl7-v2+er7';
const CHILD = SAMPLES.v251.nhsNumber;

describe.each(backends())('trust boundaries over HL7 v2 on %s', (backend) => {
  let h: Hl7Server;
  let patientRa7: Patient;
  let familyVersions: string[];

  const patientOf = async (ods: string, requestId: string): Promise<string> => {
    const srs = entries<ServiceRequest>((await h.as[ods].get<Bundle>(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`${requestSystem(ods)}|${requestId}`)}`)).body, 'ServiceRequest');
    expect(srs).toHaveLength(1);
    return srs[0].subject.reference!;
  };
  /** RGT's minimal referral, about `nhs`. */
  const rgtReferral = (nhs: string) => {
    const s = freshSample('v24');
    return { ...s, text: setField(s.text, 'PID', 3, `${nhs}^^^NHS^NH`) };
  };

  beforeAll(async () => {
    h = await startHl7Server(backend);
    const { text, requestId } = freshSample('v251');
    const res = await h.as.RA7.post('/hl7/v2', text, { 'content-type': ER7 });
    expect(msa(res.body as string).code).toBe('AA');
    patientRa7 = (await h.as.RA7.get<Patient>(`/fhir/${await patientOf('RA7', requestId)}`)).body;
    familyVersions = entries<RelatedPerson>((await h.as.RA7.get<Bundle>(`/fhir/RelatedPerson?patient=Patient/${patientRa7.id}`)).body, 'RelatedPerson').map((r) => `${r.id}/${r.meta?.versionId}`);
    expect(familyVersions.length).toBeGreaterThan(0);
  });
  afterAll(async () => { await h?.stop(); });

  it('when another Trust refers the same child over HTTP, then its ACK is as for a child nobody knows, and its case has a record of its own', async () => {
    const known = rgtReferral(CHILD);
    const unknown = rgtReferral('9434765919');
    const [a, b] = [await h.as.RGT.post('/hl7/v2', known.text, { 'content-type': ER7 }), await h.as.RGT.post('/hl7/v2', unknown.text, { 'content-type': ER7 })];
    expect([a.status, msa(a.body as string).code]).toEqual([b.status, msa(b.body as string).code]);
    expect(msa(a.body as string).code).toBe('AA');
    const own = await patientOf('RGT', known.requestId);
    expect(own).not.toBe(`Patient/${patientRa7.id}`);
    expect((await h.as.RGT.get(`/fhir/Patient/${patientRa7.id}`)).status).toBe(404);
    const found = entries<Patient>((await h.as.RGT.get<Bundle>(`/fhir/Patient?identifier=${encodeURIComponent(`${NHS_SYSTEM}|${CHILD}`)}`)).body, 'Patient');
    expect(found.map((p) => `Patient/${p.id}`)).toEqual([own]);
  });

  it('when another Trust refers the same child over MLLP, then it gets its own record and the first Trust\'s family is untouched', async () => {
    const s = freshSample('v23');
    const text = setField(s.text, 'PID', 3, `${CHILD}^^^NHS^NH`);
    const peer = await rawMllp(h.mllpPort);
    try {
      await peer.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(`${text}\r`), Buffer.from([0x1c, 0x0d])]));
      const answers = await peer.waitFor(2); // enhanced mode: the commit ACK, then the application ACK
      expect(answers.map((a) => msa(a).code)).toContain('AA');
    } finally {
      await peer.close();
    }
    expect(await patientOf('RTH', s.requestId)).not.toBe(`Patient/${patientRa7.id}`);
    const now = entries<RelatedPerson>((await h.as.RA7.get<Bundle>(`/fhir/RelatedPerson?patient=Patient/${patientRa7.id}`)).body, 'RelatedPerson').map((r) => `${r.id}/${r.meta?.versionId}`);
    expect(now).toEqual(familyVersions);
    expect((await h.as.RA7.get<Patient>(`/fhir/Patient/${patientRa7.id}`)).body.meta?.versionId).toBe(patientRa7.meta?.versionId);
  });
});
