/**
 * REF^I12 over MLLP into the real server (real storage, domain and tokens): each sample becomes
 * exactly one case, read back through FHIR as the requesting organisation; duplicates, repeated
 * referrals, bad content and senders that may not send. HL7 v2.5.1 sections 2.9, 2.10, 11.5.
 */
import type { AuditEvent, Bundle, Condition, Consent, DocumentReference, Patient, RelatedPerson, ServiceRequest, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { entries, type Party } from '../eso/harness.ts';
import {
  field, frame, freshSample, msa, NHS_SYSTEM, rawMllp, requestSystem, SAMPLES, sampleText, segmentsOf, sendWithMedplum, setField, startHl7Server,
  storedCounts, type Hl7Server, type SampleName,
} from './harness.ts';

const QUESTION = 'https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-question';
const FAMILY_STATEMENT = 'https://fhir.eso-bridge.nhs.uk/StructureDefinition/eso-family-statement';

/** What each sample should become. */
interface Expected {
  questions: string[];
  parents: string[];
  records: string[];
  diagnoses: string[];
  priority: string;
  /** Who gave consent: the first parent with parental responsibility, else the young person. */
  consentBy: 'RelatedPerson' | 'Patient';
  familyStatement?: RegExp;
}
const EXPECTED: Record<SampleName, Expected> = {
  v251: {
    questions: [
      'is proton beam therapy an option for Noah, and where?',
      'is the current plan of focal radiotherapy after second-look surgery reasonable?',
      'what would your team do, with risks, benefits and burden of care?',
    ],
    parents: ['CARYS EVANS', 'GARETH EVANS'],
    records: ['application/pdf'],
    diagnoses: ['C71.6', 'G91.1'],
    priority: 'asap',
    consentBy: 'RelatedPerson',
    familyStatement: /^Noah loves football/,
  },
  v24: { questions: ['is the diagnosis of juvenile dermatomyositis right?'], parents: [], records: [], diagnoses: [], priority: 'routine', consentBy: 'Patient' },
  v23: { questions: ['is early complete repair preferable to a shunt in this case?'], parents: ['AMBER PRICE'], records: [], diagnoses: ['Q21.3'], priority: 'stat', consentBy: 'RelatedPerson' },
};

const diff = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));

describe.each(backends())('HL7 v2 REF^I12 over MLLP on %s', (backend) => {
  let h: Hl7Server;
  beforeAll(async () => { h = await startHl7Server(backend); });
  afterAll(async () => { await h?.stop(); });

  /** The case of `requestId`, read through FHIR with the requesting organisation's token. */
  async function readCase(name: SampleName, requestId: string) {
    const who = h.as[SAMPLES[name].requester];
    const srs = entries<ServiceRequest>((await who.get<Bundle>(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`${requestSystem(SAMPLES[name].requester)}|${requestId}`)}`)).body, 'ServiceRequest');
    const sr = srs[0];
    const tasks = sr ? entries<Task>((await who.get<Bundle>(`/fhir/Task?focus=ServiceRequest/${sr.id}`)).body, 'Task') : [];
    return { srs, sr, tasks, who };
  }

  /** The HL7 intake AuditEvents naming `taskId`, as `who` sees them (reads of it are audited too: left out). */
  async function intakeAudits(who: Party, taskId: string): Promise<AuditEvent[]> {
    const all = entries<AuditEvent>((await who.get<Bundle>(`/fhir/AuditEvent?entity=Task/${taskId}&_count=100`)).body, 'AuditEvent');
    return all.filter((a) => a.outcomeDesc?.endsWith(': hl7v2-ref-i12'));
  }

  it.each(['v251', 'v24'] as const)("when the %s sample arrives through Medplum's Hl7Client, then it gets AA after commit and becomes exactly one case the requester can read", async (name) => {
    const s = SAMPLES[name];
    const before = await storedCounts(h.server.storage);
    const ack = await sendWithMedplum(h.mllpPort, freshSample(name, { sameRequest: true, controlId: s.controlId }).text);
    expect(msa(ack)).toMatchObject({ code: 'AA', controlId: s.controlId });
    expect(field(ack, 'MSH', 5)).toBe(field(sampleText(name), 'MSH', 3));
    expect(field(ack, 'MSH', 6)).toBe(s.requester);
    await expectOneCase(name, s.requestId, before);
  });

  it('when the v2.3 sample asks for enhanced mode, then a commit ACK (CA) comes first and the application ACK (AA) after, and the case is stored once', async () => {
    const s = SAMPLES.v23;
    const before = await storedCounts(h.server.storage);
    // A raw socket: Medplum's Hl7Connection would read both frames as one message.
    const peer = await rawMllp(h.mllpPort);
    try {
      await peer.write(frame(freshSample('v23', { sameRequest: true, controlId: s.controlId }).text));
      const [commit, app] = await peer.waitFor(2);
      expect(msa(commit)).toMatchObject({ code: 'CA', controlId: s.controlId });
      expect(msa(app)).toMatchObject({ code: 'AA', controlId: s.controlId });
      // The ACKs do not ask for acknowledgement themselves.
      expect([field(commit, 'MSH', 15), field(commit, 'MSH', 16)]).toEqual(['NE', 'NE']);
      expect(field(app, 'MSH', 12)).toBe('2.3');
    } finally {
      await peer.close();
    }
    await expectOneCase('v23', s.requestId, before);
  });

  async function expectOneCase(name: SampleName, requestId: string, before: Record<string, number>) {
    const s = SAMPLES[name];
    const e = EXPECTED[name];
    const { srs, sr, tasks, who } = await readCase(name, requestId);
    expect(srs).toHaveLength(1);
    expect(tasks).toHaveLength(1);
    const task = tasks[0];
    expect(task.status).toBe('requested');
    expect(task.owner?.reference).toBe(`Organization/${h.orgIds[s.provider]}`);
    expect(task.requester?.reference).toBe(`Organization/${h.orgIds[s.requester]}`);
    expect(sr.priority).toBe(e.priority);
    const questions = (sr.extension ?? []).filter((x) => x.url === QUESTION).map((q) => q.extension!.find((x) => x.url === 'text')!.valueString);
    expect(questions).toEqual(e.questions);
    const statement = sr.extension?.find((x) => x.url === FAMILY_STATEMENT)?.valueString;
    if (e.familyStatement) expect(statement).toMatch(e.familyStatement);
    else expect(statement).toBeUndefined();

    const patients = entries<Patient>((await who.get<Bundle>(`/fhir/Patient?identifier=${encodeURIComponent(`${NHS_SYSTEM}|${s.nhsNumber}`)}`)).body, 'Patient');
    expect(patients).toHaveLength(1);
    expect(sr.subject.reference).toBe(`Patient/${patients[0].id}`);
    const family = entries<RelatedPerson>((await who.get<Bundle>(`/fhir/RelatedPerson?patient=Patient/${patients[0].id}`)).body, 'RelatedPerson');
    expect(family.map((p) => `${p.name?.[0].given?.[0]} ${p.name?.[0].family}`.toUpperCase()).sort()).toEqual(e.parents);
    const docs = entries<DocumentReference>((await who.get<Bundle>(`/fhir/DocumentReference?related=ServiceRequest/${sr.id}`)).body, 'DocumentReference');
    expect(docs.map((d) => d.content[0].attachment.contentType)).toEqual(e.records);
    const conditions: Condition[] = [];
    for (const ref of sr.reasonReference ?? []) {
      const r = await who.get<Condition>(`/fhir/${ref.reference}`);
      expect(r.status).toBe(200);
      conditions.push(r.body);
    }
    expect(conditions.map((c) => c.code?.coding?.[0].code).sort()).toEqual(e.diagnoses);
    const consents = entries<Consent>((await who.get<Bundle>(`/fhir/Consent?data=ServiceRequest/${sr.id}`)).body, 'Consent');
    expect(consents).toHaveLength(1);
    expect(consents[0].performer?.[0].reference).toMatch(new RegExp(`^${e.consentBy}/`));
    expect(consents[0].provision?.actor?.[0].reference.reference).toBe(`Organization/${h.orgIds[s.provider]}`);

    // The intake is audited as the sending organisation, over MLLP, without the NHS number.
    const audits = await intakeAudits(who, task.id!);
    expect(audits.map((a) => a.outcomeDesc)).toEqual(['HTTP 201: hl7v2-ref-i12']);
    expect(audits[0].agent.map((a) => a.who?.identifier?.value)).toEqual(['mllp', s.requester]);
    expect(audits[0].entity?.map((x) => x.what?.reference).filter(Boolean)).toEqual([`Task/${task.id}`, `ServiceRequest/${sr.id}`]);
    expect(JSON.stringify(audits)).not.toContain(s.nhsNumber);

    // Exactly once, counted in storage as the system (nothing the requester cannot see either).
    const added = diff(await storedCounts(h.server.storage), before);
    expect(added).toMatchObject({
      Task: 1, ServiceRequest: 1, Patient: 1, Consent: 1, Organization: 0,
      RelatedPerson: e.parents.length, DocumentReference: e.records.length, Binary: e.records.length, Condition: e.diagnoses.length,
    });
  }

  it('when the same MSH-10 arrives again, then the very same ACK comes back and nothing new is stored', async () => {
    const { text, controlId, requestId } = freshSample('v251');
    const first = await sendWithMedplum(h.mllpPort, text);
    expect(msa(first)).toMatchObject({ code: 'AA', controlId });
    const before = await storedCounts(h.server.storage);
    const again = await sendWithMedplum(h.mllpPort, text);
    expect(again).toBe(first);
    expect(await storedCounts(h.server.storage)).toEqual(before);
    // Answered from the stored ACK: intake did not run again, so there is no second intake AuditEvent.
    const { tasks } = await readCase('v251', requestId);
    expect((await intakeAudits(h.as.RA7, tasks[0].id!)).map((a) => a.outcomeDesc)).toEqual(['HTTP 201: hl7v2-ref-i12']);
  });

  it('when the same referral (RF1-6) comes again with a new MSH-10, then it gets AA and there is still one case', async () => {
    const original = freshSample('v251');
    expect(msa(await sendWithMedplum(h.mllpPort, original.text)).code).toBe('AA');
    const before = await storedCounts(h.server.storage);
    const resent = setField(original.text, 'MSH', 10, `${original.controlId.slice(0, 18)}-2`);
    const ack = await sendWithMedplum(h.mllpPort, resent);
    expect(msa(ack)).toMatchObject({ code: 'AA', controlId: `${original.controlId.slice(0, 18)}-2` });
    const { srs, tasks } = await readCase('v251', original.requestId);
    expect(srs).toHaveLength(1);
    expect(tasks).toHaveLength(1);
    expect(await storedCounts(h.server.storage)).toEqual(before);
    // Intake ran again and found the case: audited as a replay (200), not a creation.
    expect((await intakeAudits(h.as.RA7, tasks[0].id!)).map((a) => a.outcomeDesc).sort()).toEqual(['HTTP 200: hl7v2-ref-i12', 'HTTP 201: hl7v2-ref-i12']);
  });

  it('when the same message arrives on two connections at once, then both get the same AA and there is one case', async () => {
    const { text, controlId, requestId } = freshSample('v251');
    const before = await storedCounts(h.server.storage);
    const [a, b] = await Promise.all([sendWithMedplum(h.mllpPort, text), sendWithMedplum(h.mllpPort, text)]);
    expect(msa(a)).toMatchObject({ code: 'AA', controlId });
    expect(b).toBe(a);
    const { srs, tasks } = await readCase('v251', requestId);
    expect([srs.length, tasks.length]).toEqual([1, 1]);
    expect(diff(await storedCounts(h.server.storage), before)).toMatchObject({ Task: 1, ServiceRequest: 1, Condition: 2, DocumentReference: 1, Patient: 0 });
  });

  it("when another Trust sends a referral id RA7 already used, then both are separate cases: referral ids are unique per sender", async () => {
    const first = freshSample('v251');
    expect(msa(await sendWithMedplum(h.mllpPort, first.text)).code).toBe('AA');
    const theirs = freshSample('v24');
    const same = setField(theirs.text, 'RF1', 6, first.requestId);
    const before = await storedCounts(h.server.storage);
    const ack = await sendWithMedplum(h.mllpPort, same);
    expect(msa(ack)).toMatchObject({ code: 'AA', controlId: theirs.controlId });
    expect(diff(await storedCounts(h.server.storage), before)).toMatchObject({ Task: 1, ServiceRequest: 1 });
    const { tasks } = await readCase('v251', first.requestId);
    expect(tasks.map((t) => t.requester?.reference)).toEqual([`Organization/${h.orgIds.RA7}`]);
  });

  it('when the NHS number fails its check digit, then the answer is AE with an ERR at PID-3 that does not quote the number, and nothing is stored', async () => {
    const { text, controlId } = freshSample('v251');
    const bad = text.replace('9000000009^', '9000000008^');
    const before = await storedCounts(h.server.storage);
    const ack = await sendWithMedplum(h.mllpPort, bad);
    expect(msa(ack)).toMatchObject({ code: 'AE', controlId });
    const err = segmentsOf(ack).filter((l) => l.startsWith('ERR|'));
    expect(err).toHaveLength(1);
    expect(field(ack, 'ERR', 2)).toMatch(/^PID\^1\^3/);
    expect(field(ack, 'ERR', 3)).toBe('102^Data type error^HL70357');
    expect(field(ack, 'ERR', 8)).toMatch(/check digit/);
    expect(ack).not.toContain('9000000008');
    expect(await storedCounts(h.server.storage)).toEqual(before);
  });

  it('when the referred-to facility is not in the directory, then the answer is AE pointing at the PRD and nothing is stored', async () => {
    const { text, controlId } = freshSample('v251');
    const unknown = text.replace('^^^SGH01|', '^^^ZZ999|');
    expect(unknown).not.toBe(text);
    const before = await storedCounts(h.server.storage);
    const ack = await sendWithMedplum(h.mllpPort, unknown);
    expect(msa(ack)).toMatchObject({ code: 'AE', controlId });
    expect(field(ack, 'ERR', 2)).toMatch(/^PRD\^2\^4/);
    expect(field(ack, 'ERR', 8)).toMatch(/unknown provider organisation.*ZZ999/);
    expect(await storedCounts(h.server.storage)).toEqual(before);
  });

  it('when MSH-4 names an organisation with no registered client, then the answer is AR and nothing is stored', async () => {
    const { text, controlId } = freshSample('v251');
    const before = await storedCounts(h.server.storage);
    const ack = await sendWithMedplum(h.mllpPort, setField(text, 'MSH', 4, 'RZZ'));
    expect(msa(ack)).toMatchObject({ code: 'AR', controlId });
    expect(field(ack, 'ERR', 2)).toMatch(/^MSH\^1\^4/);
    // Registered or not, the answer is the same: an unauthenticated peer learns nothing about who is registered.
    expect(field(ack, 'ERR', 8)).toBe("This connection is not registered for sending facility 'RZZ'");
    expect(await storedCounts(h.server.storage)).toEqual(before);
  });
});

describe('HL7 v2 over MLLP with MLLP_ALLOWED_SENDERS', () => {
  let h: Hl7Server;
  beforeAll(async () => { h = await startHl7Server('sqlite', { MLLP_ALLOWED_SENDERS: 'RA7' }); });
  afterAll(async () => { await h?.stop(); });

  it('when the list names only RA7, then RGT gets AR although its client entry admits the connection, and RA7 still gets AA', async () => {
    const before = await storedCounts(h.server.storage);
    const rgt = await sendWithMedplum(h.mllpPort, freshSample('v24').text);
    expect(msa(rgt).code).toBe('AR');
    // v2.4: the text is in MSA-3, the location in ERR-1 (ELD).
    expect(msa(rgt).text).toBe("Sending facility 'RGT' may not send on this interface");
    expect(field(rgt, 'ERR', 1)).toBe('MSH^1^4^207&Application internal error&HL70357');
    expect(await storedCounts(h.server.storage)).toEqual(before);
    expect(msa(await sendWithMedplum(h.mllpPort, freshSample('v251').text)).code).toBe('AA');
  });
});
