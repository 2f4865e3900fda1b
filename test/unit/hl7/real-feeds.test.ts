/**
 * HL7 v2 as NHS Trust feeds send it: fixtures of our own shaped like a v2.3 PAS (CP1252), a v2.4 ED
 * system (8859/1), a v2.7 engine template and a v2.8 engine batch, read as bytes the way MLLP and
 * POST /hl7/v2 get them. Golden tests of the ESO request each makes (field by field), and the
 * refusals each variant must get (AE/AR naming the segment and field).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import type { EsoRequestInput } from '../../../src/domain/eso-request-input.ts';
import type { Actor, IntakeResult, SubmitEsoRequest } from '../../../src/domain/ports.ts';
import { decodeV2, encodeV2 } from '../../../src/hl7/charset.ts';
import { refI12ToRequest } from '../../../src/hl7/ref-i12-to-request.ts';
import { createV2Receiver, type V2ReceiverOptions } from '../../../src/hl7/v2-receiver.ts';
import { V2Message } from '../../../src/hl7/v2-message.ts';
import { FakeStorage } from './fake-storage.ts';
import { field, fixtureJson, setField } from './samples.ts';

const bytes = (name: string) => readFileSync(new URL(`../../fixtures/hl7/${name}.hl7`, import.meta.url));
const PAS = 'REF_I12-v23-pas-cp1252', ED = 'REF_I12-v24-ed-latin1', ENGINE = 'REF_I12-v27-engine-template';

function mapBytes(data: Buffer): ReturnType<typeof refI12ToRequest> {
  const d = decodeV2(data);
  if (!d.ok) throw new Error(`not decoded: ${d.reason}`);
  return refI12ToRequest(V2Message.parse(d.text, { charset: d.charset }));
}
const mapped = (name: string) => {
  const r = mapBytes(bytes(name));
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.input;
};
const issuesOf = (text: string) => {
  const r = refI12ToRequest(V2Message.parse(text));
  return r.ok ? [] : r.issues;
};
/** A fixture as text, decoded in its own set (for variants made by editing fields). */
const text = (name: string) => {
  const d = decodeV2(bytes(name));
  if (!d.ok) throw new Error('not decoded');
  return d.text;
};

function setup(overrides: Partial<V2ReceiverOptions> = {}) {
  const calls: { input: EsoRequestInput; actor: Actor | undefined }[] = [];
  const submit = vi.fn<SubmitEsoRequest>(async (input, actor) => {
    calls.push({ input: input as EsoRequestInput, actor });
    return { created: true } as IntakeResult;
  });
  let n = 0;
  const receiver = createV2Receiver({
    storage: new FakeStorage(), submit, admitsConnection: () => true, isSenderAllowed: () => true,
    facility: { application: 'ESO_BRIDGE', facility: 'ESO' }, now: () => new Date('2026-11-24T02:00:01Z'), newControlId: () => `ACK${++n}`,
    ...overrides,
  });
  return { receiver, calls, submit };
}
const msaOf = (ack: string) => ({ code: field(ack, 'MSA', 1), controlId: field(ack, 'MSA', 2), text: field(ack, 'MSA', 3) });
const errOf = (ack: string) => ack.split('\r').filter((l) => l.startsWith('ERR'));

describe('golden: what each feed makes, field by field', () => {
  it('when a v2.3 PAS sends CP1252 with the NHS number only in PID-2 (spaced), then every value is read in CP1252 and kept', () => {
    const input = mapped(PAS);
    expect(input).toEqual(fixtureJson(`${PAS}.request.json`));
    expect(input.child.nhsNumber).toBe('9000000025');
    expect(input.child.name).toEqual({ family: 'O\u2019BRIEN', given: ['SI\u00c2N', 'ELEN'], prefix: ['MISS'] });
    expect(input.child.identifiers).toEqual([
      { system: 'https://fhir.eso-bridge.nhs.uk/Id/local-patient-identifier/RTH', value: 'T1234567', type: 'PI', assigner: 'RTH' },
      { system: 'https://fhir.eso-bridge.nhs.uk/Id/local-patient-identifier/RTH', value: 'M998877', type: 'MR', assigner: 'RTH' },
    ]);
    expect(input.requester.consultant.name).toEqual({ family: 'O\u2019SULLIVAN', given: ['M\u00c1IRE'], prefix: ['DR'] });
    // NK1 1: free text "Grandmother" → UNK with the words; NK1 2: null name, skipped; NK1 3: father.
    expect(input.parents).toHaveLength(2);
    expect(input.parents[0]).toMatchObject({ name: { family: 'O\u2019BRIEN', given: ['DEIRDRE'] }, relationship: 'UNK', relationshipText: 'Grandmother', parentalResponsibility: false });
    expect(input.parents[1]).toMatchObject({ name: { family: 'O\u2019BRIEN', given: ['CIAR\u00c1N'] }, relationship: 'FTH', parentalResponsibility: true });
    expect(input.consent?.givenBy).toEqual({ parent: 1 });
    expect(input.questions).toEqual([{ text: 'would Si\u00e2n benefit from a biologic now rather than later?', askedBy: 'family' }]);
    expect(input.urgency).toBe('routine');
    expect(input.reviewKind).toBe('outpatient');
    expect(input.dueDate).toBe('2027-01-10');
  });

  it('when a v2.4 ED system sends 8859/1 with a spaced NHS number (type NHS) and a PDF, then the name, relationship and document are whole', () => {
    const input = mapped(ED);
    expect(input).toEqual(fixtureJson(`${ED}.request.json`));
    expect(input.child.nhsNumber).toBe('9434765919');
    expect(input.child.name).toEqual({ family: 'B\u00c9LANGER', given: ['ZO\u00cb'], prefix: ['MISS'] });
    expect(input.child.identifiers?.map((i) => [i.system.split('/').pop(), i.value, i.type])).toEqual([
      ['nhs-number', '9434765919', 'NHS'], ['RGT', 'ED-441-2', 'VN'], ['RGT', '50012345', 'MR'],
    ]);
    expect(input.parents[0]).toMatchObject({ relationship: 'UNK', relationshipText: 'Step-parent', parentalResponsibility: false });
    expect(input.records).toEqual([{ title: 'ED attendance summary', contentType: 'application/pdf', data: 'JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK' }]);
    expect(Buffer.from(input.records[0].data!, 'base64').subarray(0, 5).toString()).toBe('%PDF-');
    expect(input.urgency).toBe('urgent');
    expect(input.questions[0].text).toContain('Zo\u00eb');
  });

  it('when a v2.7 engine template sends three names and two identifiers among fields the mapping does not read, then the legal name comes first and every other is kept with its use', () => {
    const input = mapped(ENGINE);
    expect(input).toEqual(fixtureJson(`${ENGINE}.request.json`));
    expect(input.child.nhsNumber).toBe('9000000033');
    expect(input.child.name).toEqual({ family: 'SMITH-JONES', given: ['OLIVIA', 'ROSE'], prefix: ['MISS'] });
    expect(input.child.otherNames).toEqual([
      { family: 'SMITH', given: ['OLIVIA'], use: 'usual' },
      { family: 'SMITH-JONES', given: ['LIV'], use: 'nickname' },
    ]);
    expect(input.child.identifiers).toEqual([
      { system: 'https://fhir.eso-bridge.nhs.uk/Id/local-patient-identifier/RA7', value: 'RA7654321', type: 'MR', assigner: 'RA7' },
      { system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000033', type: 'NH' },
    ]);
    expect(input.questions.map((q) => q.askedBy)).toEqual(['treating-team', 'young-person']);
    expect(input.requestId).toEqual({ system: 'https://fhir.eso-bridge.nhs.uk/Id/referral/RA7', value: 'RA7-ESO-0043' });
  });
});

describe('NHS number however a PAS writes it', () => {
  const base = text(ENGINE);
  it.each([
    ['type NHS with authority NHS', '9000000033^^^NHS^NHS'],
    ['type NhsNumber with the OID', '9000000033^^^&2.16.840.1.113883.2.1.4.1&ISO^NhsNumber'],
    ['with spaces', '900 000 0033^^^NHS^NH'],
    ['type NH and no authority', '9000000033^^^^NH'],
    ['after a local MRN', 'X1^^^RA7^MR~9000000033^^^NHS^NH'],
  ])('when PID-3 carries it %s, then it is the child\'s NHS number', (_n, pid3) => {
    const r = refI12ToRequest(V2Message.parse(setField(base, 'PID', 3, pid3)));
    expect(r.ok && r.input.child.nhsNumber).toBe('9000000033');
  });

  it('when PID-3 has none and PID-19 has it (a v2.3 PAS), then PID-19 is used', () => {
    const r = refI12ToRequest(V2Message.parse(setField(setField(base, 'PID', 3, 'X1^^^RA7^MR'), 'PID', 19, '9000000033')));
    expect(r.ok && r.input.child.nhsNumber).toBe('9000000033');
  });

  it('when the NHS number has a wrong check digit, then AE 102 points at the PID-3 repetition it came from', () => {
    const [issue] = issuesOf(setField(base, 'PID', 3, 'X1^^^RA7^MR~9000000034^^^NHS^NH'));
    expect(issue).toMatchObject({ code: 102, location: { segment: 'PID', field: 3, repetition: 2, component: 1 } });
    expect(issue.text).toContain('check digit');
  });

  it('when PID-2 holds a bad check digit (v2.3), then the AE points at PID-2', () => {
    const [issue] = issuesOf(setField(setField(base, 'PID', 3, 'X1^^^RA7^MR'), 'PID', 2, '900 000 0034'));
    expect(issue).toMatchObject({ code: 102, location: { segment: 'PID', field: 2 } });
  });
});

describe('next of kin', () => {
  const base = text(ENGINE);
  it('when an NK1 names an unlisted relationship code, then it is kept as UNK with its text and the referral is accepted', () => {
    const r = refI12ToRequest(V2Message.parse(setField(base, 'NK1', 3, 'ZZGM^Great-grandmother^L')));
    expect(r.ok && r.input.parents[0]).toMatchObject({ relationship: 'UNK', relationshipText: 'Great-grandmother', parentalResponsibility: false });
  });

  it('when the only NK1 with parental responsibility has a null name, then AE 101 names that NK1-2', () => {
    const [issue] = issuesOf(setField(base, 'NK1', 2, '""'));
    expect(issue).toMatchObject({ code: 101, location: { segment: 'NK1', sequence: 1, field: 2 } });
    expect(issue.text).toContain('parental responsibility');
  });
});

describe('attachments', () => {
  const base = text(ED);
  const withObx = (obx5: string, type = 'ED') => setField(setField(base, 'OBX', 5, obx5), 'OBX', 2, type);
  it.each([
    ['the data is one component early (ED-1 left out)', 'AP^pdf^Base64^JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK', 102, 'out of place'],
    ['the base64 is broken', '^AP^pdf^Base64^JVBERi0x!!LjQKJcfs', 102, 'base64'],
    ['the base64 is cut short', '^AP^pdf^Base64^JVBERi0xL', 102, 'base64'],
    ['the encoding is unknown', '^AP^pdf^UUENCODE^JVBERi0xLjQK', 103, 'UUENCODE'],
    ['the type of data is unknown', '^ZZ^pdf^Base64^JVBERi0xLjQK', 103, 'ZZ'],
    ['the data is empty', '^AP^pdf^Base64^', 101, 'empty'],
  ])('when %s, then AE naming the OBX, never an AA without the document', (_n, obx5, code, words) => {
    const [issue] = issuesOf(withObx(obx5));
    expect(issue).toMatchObject({ code, location: { segment: 'OBX', sequence: 1, field: 5 } });
    expect(issue.text).toContain(words);
  });

  it('when an RP pointer is not a URL, then AE naming the OBX', () => {
    const [issue] = issuesOf(withObx('DOC-991^EDMS^AP^pdf', 'RP'));
    expect(issue).toMatchObject({ code: 102, location: { segment: 'OBX', field: 5 } });
  });
});

describe('character sets', () => {
  it.each([
    ['ASCII', 'ASCII', 'PRICE'],
    ['8859/1', '8859/1', 'B\u00c9LANGER'],
    ['8859/15 (the euro sign)', '8859/15', 'SCH\u0152N \u20ac'],
    ['UTF-8', 'UNICODE UTF-8', '\u0141UKASZ'],
    ['CP1252', 'CP1252', 'O\u2019BRIEN \u2013 \u0160'],
  ])('when MSH-18 is %s, then the bytes are read in it', (_n, set, family) => {
    const msg = setField(setField(text(ENGINE), 'MSH', 18, set), 'PID', 5, `${family}^OLIVIA^^^^^L`);
    const r = mapBytes(encodeV2(msg));
    expect(r.ok && r.input.child.name.family).toBe(family);
  });

  it('when a byte is not valid in the declared set, then AE 102 names the segment and field and nothing is submitted', async () => {
    const { receiver, submit } = setup();
    const bad = Buffer.concat([Buffer.from(text(ENGINE).replace('SMITH-JONES^OLIVIA^ROSE', 'SMITH-JONES^OLIV').replace('|UNICODE UTF-8|', '|ASCII|'), 'latin1')]);
    const at = bad.indexOf('OLIV');
    bad[at + 3] = 0xe9; // é in Latin-1, not ASCII
    const frames = await receiver.handleFrames(bad);
    // The engine template asks for both ACKs (AL/AL): CA, then the application's AE.
    expect(frames.map((f) => msaOf(f).code)).toEqual(['CA', 'AE']);
    const ack = frames[1];
    expect(errOf(ack)[0]).toContain('PID^1^5^1^2');
    expect(msaOf(ack).text).toContain('PID-5');
    expect(submit).not.toHaveBeenCalled();
  });

  it('when UTF-8 is declared and CP1252 bytes are sent, then AE, never U+FFFD stored', async () => {
    const { receiver, submit } = setup();
    const cp = bytes(PAS);
    const asUtf8 = Buffer.from(cp.toString('latin1').replace('|CP1252', '|UNICODE UTF-8'), 'latin1');
    const ack = await receiver.handle(asUtf8);
    expect(msaOf(ack).code).toBe('AE');
    expect(errOf(ack)[0]).toMatch(/^ERR\|PRD\^1\^2/); // v2.3: ERR-1
    expect(submit).not.toHaveBeenCalled();
  });

  it('when MSH-18 names a set we do not read, then AE 103 at MSH-18', async () => {
    const { receiver } = setup();
    const ack = await receiver.handle(Buffer.from(setField(text(ENGINE), 'MSH', 18, 'ISO IR87'), 'utf8'));
    expect(msaOf(ack).code).toBe('AE');
    expect(errOf(ack)[0]).toContain('MSH^1^18');
  });

  it('when a Content-Type charset is given, then it wins over MSH-18', async () => {
    const { receiver, calls } = setup();
    const msg = setField(setField(text(ENGINE), 'MSH', 18, 'UNICODE UTF-8'), 'PID', 5, 'M\u00dcLLER^OLIVIA^^^^^L');
    await receiver.handle(Buffer.from(msg, 'latin1'), { charset: 'iso-8859-1' });
    expect(calls[0].input.child.name.family).toBe('M\u00dcLLER');
  });

  it('when \\X..\\ escapes carry 8859/1 bytes, then they decode in 8859/1 (not as UTF-8); a delimiter stays a delimiter character', () => {
    const msg = setField(setField(text(ENGINE), 'MSH', 18, '8859/1'), 'PID', 5, 'B\\XC9\\LANGER\\X7C\\X^ZO\\XCB\\^^^^^L');
    const r = mapBytes(encodeV2(msg));
    expect(r.ok && r.input.child.name).toMatchObject({ family: 'B\u00c9LANGER|X', given: ['ZO\u00cb'] });
  });

  it('when a \\X..\\ escape is not valid UTF-8 in a UTF-8 message, then AE naming the field', async () => {
    const { receiver } = setup();
    const ack = await receiver.handle(setField(text(ENGINE), 'PID', 5, 'B\\XC9\\LANGER^ZOE^^^^^L'));
    expect(msaOf(ack).code).toBe('AE');
    expect(errOf(ack)[0]).toContain('PID^1^5');
  });
});

describe('versions, separators, batches', () => {
  it.each(['2.3', '2.3.1', '2.4', '2.5', '2.5.1', '2.6', '2.7', '2.7.1', '2.8'])('when the engine template says version %s, then it is accepted', async (v) => {
    const { receiver, submit } = setup();
    const [ack] = await receiver.handleFrames(setField(setField(setField(text(ENGINE), 'MSH', 12, v), 'MSH', 15, ''), 'MSH', 16, ''));
    expect(msaOf(ack).code).toBe('AA');
    expect(submit).toHaveBeenCalledTimes(1);
  });

  it('when a message arrives with its CRs removed (curl --data), then AR says the segment separators are missing', async () => {
    const { receiver } = setup();
    const ack = await receiver.handle(text(ED).replace(/\r/g, ''));
    expect(msaOf(ack)).toMatchObject({ code: 'AR', controlId: 'EDIS-55120-7' });
    expect(ack).toContain('segment separators');
    expect(ack).not.toContain('Version');
  });

  it('when an FHS/BHS batch of two arrives, then each is processed and answered in one batch, each ACK carrying its own MSH-10', async () => {
    const { receiver, submit } = setup();
    const [answer] = await receiver.handleFrames(bytes('REF_I12-v28-batch'));
    const lines = answer.split('\r');
    expect(lines.map((l) => l.slice(0, 3))).toEqual(['FHS', 'BHS', 'MSH', 'MSA', 'MSH', 'MSA', 'ERR', 'BTS', 'FTS']);
    expect(lines[1].split('|')[11]).toBe('RGT-BATCH-0091');
    const msas = lines.filter((l) => l.startsWith('MSA')).map((l) => l.split('|').slice(1, 3));
    expect(msas).toEqual([['AA', 'RGTB0091-1'], ['AE', 'RGTB0091-2']]);
    expect(lines.find((l) => l.startsWith('ERR'))).toContain('PID^1^3');
    expect(lines.find((l) => l.startsWith('BTS'))).toBe('BTS|2');
    expect(submit).toHaveBeenCalledTimes(1);
  });

  it('when a batch holds no message, then one AR whose MSA-2 is the batch control id', async () => {
    const { receiver } = setup();
    const ack = await receiver.handle('BHS|^~\\&|ENSEMBLE|RGT|ESO_BRIDGE|ESO|20261124020000||||RGT-BATCH-0092\rBTS|0\r');
    expect(ack.split('\r').map((l) => l.slice(0, 3))).toEqual(['BHS', 'MSH', 'MSA', 'ERR', 'BTS']);
    expect(msaOf(ack.split('\r').slice(1).join('\r'))).toMatchObject({ code: 'AR', controlId: 'RGT-BATCH-0092' });
  });
});
