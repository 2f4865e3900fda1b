/**
 * Feeds as Trusts send them, end to end over MLLP with independent clients: Medplum's Hl7Client
 * and node-hl7-client (another MLLP implementation), plus a raw socket for bytes in CP1252 and
 * 8859/1. What is stored is read back through FHIR as the requester.
 */
import { readFileSync } from 'node:fs';
import type { Bundle, Patient, RelatedPerson, ServiceRequest } from 'fhir/r4.js';
import { Client, Message } from 'node-hl7-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { entries } from '../eso/harness.ts';
import { field, rawMllp, requestSystem, sendWithMedplum, setField, startHl7Server, uniqueId, type Hl7Server } from './harness.ts';

const fixtureBytes = (name: string) => readFileSync(new URL(`../../fixtures/hl7/${name}.hl7`, import.meta.url));
/** The fixture with its own MSH-10 and RF1-6, re-encoded in its own set (Latin-1 bytes keep each byte). */
function fresh(name: string, fields: Record<string, string> = {}): { bytes: Buffer; controlId: string; requestId: string } {
  const raw = fixtureBytes(name).toString('latin1');
  const controlId = uniqueId('F');
  const requestId = uniqueId('R');
  let text = setField(raw, 'MSH', 10, controlId);
  text = setField(text, 'RF1', 6, requestId);
  for (const [k, v] of Object.entries(fields)) text = setField(text, k.slice(0, 3), Number(k.slice(4)), v);
  return { bytes: Buffer.from(text, 'latin1'), controlId, requestId };
}

/** Sends one message with node-hl7-client and resolves with the first answer's text. */
async function sendWithNodeHl7Client(port: number, text: string): Promise<string> {
  const client = new Client({ host: '127.0.0.1' });
  let resolve!: (s: string) => void;
  const answer = new Promise<string>((r) => { resolve = r; });
  const conn = client.createConnection({ port, waitAck: true, maxConnectionAttempts: 3 } as never, async (res) => { resolve(res.getMessage().toString()); });
  try {
    await conn.sendMessage(new Message({ text }));
    return await Promise.race([answer, new Promise<string>((_, rej) => setTimeout(() => rej(new Error('no answer')), 15_000))]);
  } finally {
    await conn.close();
    client.closeAll();
  }
}

describe.each(backends())('HL7 v2 feeds as Trusts send them, over MLLP on %s', (backend) => {
  let h: Hl7Server;
  beforeAll(async () => { h = await startHl7Server(backend); });
  afterAll(async () => { await h?.stop(); });

  async function patientOf(requester: string, requestId: string): Promise<{ patient: Patient; parents: RelatedPerson[] }> {
    const who = h.as[requester];
    const sr = entries<ServiceRequest>((await who.get<Bundle>(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`${requestSystem(requester)}|${requestId}`)}`)).body, 'ServiceRequest')[0];
    const patient = (await who.get<Patient>(`/fhir/${sr.subject!.reference}`)).body;
    const parents = entries<RelatedPerson>((await who.get<Bundle>(`/fhir/RelatedPerson?patient=Patient/${patient.id}`)).body, 'RelatedPerson');
    return { patient, parents };
  }

  it('when a v2.7 engine template (AL/AL) comes through node-hl7-client, then the commit ACK is CA and every identifier and name is on the Patient, legal first', async () => {
    const m = fresh('REF_I12-v27-engine-template');
    const first = await sendWithNodeHl7Client(h.mllpPort, m.bytes.toString('utf8'));
    expect(field(first, 'MSA', 1)).toBe('CA');
    expect(field(first, 'MSA', 2)).toBe(m.controlId);
    const { patient } = await patientOf('RA7', m.requestId);
    expect(patient.name?.map((n) => [n.use, n.family, n.given?.join(' ')])).toEqual([
      ['official', 'SMITH-JONES', 'OLIVIA ROSE'], ['usual', 'SMITH', 'OLIVIA'], ['nickname', 'SMITH-JONES', 'LIV'],
    ]);
    expect(patient.identifier?.map((i) => [i.system, i.value, i.type?.coding?.[0]?.code])).toEqual([
      ['https://fhir.nhs.uk/Id/nhs-number', '9000000033', undefined],
      ['https://fhir.eso-bridge.nhs.uk/Id/local-patient-identifier/RA7', 'RA7654321', 'MR'],
    ]);
  });

  it('when a v2.4 ED system sends 8859/1 bytes in original mode through a raw socket, then one AA and the accented names are stored whole', async () => {
    const m = fresh('REF_I12-v24-ed-latin1');
    const peer = await rawMllp(h.mllpPort);
    await peer.write(Buffer.concat([Buffer.from([0x0b]), m.bytes, Buffer.from([0x1c, 0x0d])]));
    const [ack] = await peer.waitFor(1);
    await peer.close();
    expect(field(ack, 'MSA', 1)).toBe('AA');
    const { patient, parents } = await patientOf('RGT', m.requestId);
    expect(patient.name?.[0]).toMatchObject({ family: 'B\u00c9LANGER', given: ['ZO\u00cb'] });
    const step = parents.find((p) => p.name?.[0]?.given?.[0] === 'AM\u00c9LIE');
    expect(step?.relationship?.[0]).toMatchObject({ coding: [{ code: 'UNK' }], text: 'Step-parent' });
  });

  it('when a v2.3 PAS sends CP1252 through a raw socket, then the curly apostrophe is stored as sent, and the same bytes declared UTF-8 get AE and store nothing', async () => {
    const m = fresh('REF_I12-v23-pas-cp1252');
    const peer = await rawMllp(h.mllpPort);
    await peer.write(Buffer.concat([Buffer.from([0x0b]), m.bytes, Buffer.from([0x1c, 0x0d])]));
    const [ack] = await peer.waitFor(1);
    expect(field(ack, 'MSA', 1)).toBe('AA');
    const { patient } = await patientOf('RTH', m.requestId);
    expect(patient.name?.[0]?.family).toBe('O\u2019BRIEN');
    const wrong = fresh('REF_I12-v23-pas-cp1252', { 'MSH-18': 'UNICODE UTF-8' });
    await peer.write(Buffer.concat([Buffer.from([0x0b]), wrong.bytes, Buffer.from([0x1c, 0x0d])]));
    const ae = (await peer.waitFor(2))[1];
    await peer.close();
    expect(field(ae, 'MSA', 1)).toBe('AE');
    const srs = await h.as.RTH.get<Bundle>(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`${requestSystem('RTH')}|${wrong.requestId}`)}`);
    expect(srs.body.entry ?? []).toHaveLength(0);
  });

  it('when Medplum\'s Hl7Client sends the v2.5.1 sample as sent (MSH-15 AL, MSH-16 NE), then the answer is the commit ACK CA (enhanced mode)', async () => {
    const text = setField(setField(setField(readFileSync(new URL('../../fixtures/hl7/REF_I12-v251-inpatient-urgent.hl7', import.meta.url), 'utf8'), 'MSH', 10, uniqueId('M')), 'RF1', 6, uniqueId('R')), 'MSH', 15, 'AL');
    const ack = await sendWithMedplum(h.mllpPort, text);
    expect(field(ack, 'MSA', 1)).toBe('CA');
  });

  it('when an FHS/BHS batch of two comes on one frame, then one batch answer: AA for the good one, AE at PID-3 for the bad check digit', async () => {
    const raw = fixtureBytes('REF_I12-v28-batch').toString('utf8').replace(/RGT-B-50(\d)/g, (_m, d) => `${uniqueId('B')}${d}`).replace(/RGTB0091-(\d)/g, (_m, d) => `${uniqueId('C')}${d}`);
    const peer = await rawMllp(h.mllpPort);
    await peer.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(raw, 'utf8'), Buffer.from([0x1c, 0x0d])]));
    const [answer] = await peer.waitFor(1);
    await peer.close();
    const msas = answer.split('\r').filter((l) => l.startsWith('MSA')).map((l) => l.split('|')[1]);
    expect(answer.startsWith('FHS|')).toBe(true);
    expect(msas).toEqual(['AA', 'AE']);
    expect(answer).toContain('BTS|2');
  });
});
