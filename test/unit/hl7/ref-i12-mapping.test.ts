import { describe, expect, it } from 'vitest';
import { EsoRequestInput } from '../../../src/domain/eso-request-input.ts';
import { refI12ToRequest } from '../../../src/hl7/ref-i12-to-request.ts';
import { V2Message } from '../../../src/hl7/v2-message.ts';
import { addSegments, dropSegments, fixture, fixtureJson, sample, setField } from './samples.ts';

const map = (text: string) => refI12ToRequest(V2Message.parse(text));
const issues = (text: string) => {
  const r = map(text);
  if (r.ok) throw new Error('expected issues');
  return r.issues;
};
const input = (text: string) => {
  const r = map(text);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.input;
};
const v251 = sample('REF_I12-v251-inpatient-urgent');

describe('REF^I12 → EsoRequestInput (golden, mappings/REF_I12.to-request.json)', () => {
  it.each([
    ['the v2.5.1 inpatient urgent sample', () => v251, 'REF_I12-v251-inpatient-urgent.request.json'],
    ['the v2.4 outpatient minimal sample (PRD-4 corrected)', () => fixture('REF_I12-v24-outpatient-minimal.prd4-fixed.hl7'), 'REF_I12-v24-outpatient-minimal.prd4-fixed.request.json'],
    ['the v2.3 enhanced-ack sample (PRD-4 corrected)', () => fixture('REF_I12-v23-enhanced-ack.prd4-fixed.hl7'), 'REF_I12-v23-enhanced-ack.prd4-fixed.request.json'],
  ])('when %s is mapped, then it equals its fixture, which the domain schema accepts', (_name, text, expected) => {
    const want = fixtureJson(expected);
    expect(EsoRequestInput.parse(want)).toEqual(want);
    expect(input(text())).toEqual(want);
  });

  it.each(['REF_I12-v24-outpatient-minimal', 'REF_I12-v23-enhanced-ack'] as const)(
    'when the shared %s sample is mapped as sent (facility shifted to PRD-5.4), then it maps like the corrected one',
    (name) => {
      expect(input(sample(name))).toEqual(fixtureJson(`${name}.prd4-fixed.request.json`));
    },
  );

  it('when PRD-4.4 and PRD-5.4 are both empty, then the referred-to facility is reported missing at PRD-4.4', () => {
    const text = sample('REF_I12-v24-outpatient-minimal').replace('|||^^^RJ101', '|||');
    expect(issues(text)).toEqual([expect.objectContaining({ code: 101, location: { segment: 'PRD', sequence: 2, field: 4, component: 4, subComponent: 1 } })]);
  });
});

describe('REF^I12 content errors (table 0357 code and location)', () => {
  it.each([
    ['PID-3 is empty', setField(v251, 'PID', 3, ''), 101, { segment: 'PID', sequence: 1, field: 3, component: 1 }],
    ['PID-3 has no NHS repetition', setField(v251, 'PID', 3, 'RA7123456^^^RA7^MR'), 101, { segment: 'PID', sequence: 1, field: 3, component: 1 }],
    ['the NHS number check digit is wrong', setField(v251, 'PID', 3, '9000000008^^^NHS^NH'), 102, { segment: 'PID', sequence: 1, field: 3, repetition: 1, component: 1 }],
    ['the NHS number is not ten digits', setField(v251, 'PID', 3, '90000^^^NHS^NH'), 102, { segment: 'PID', sequence: 1, field: 3, repetition: 1, component: 1 }],
    ['RF1 is missing', dropSegments(v251, 'RF1'), 100, { segment: 'RF1', sequence: 1 }],
    ['PID is missing', dropSegments(v251, 'PID'), 100, { segment: 'PID', sequence: 1 }],
    ['RF1-10 is P, not S', setField(v251, 'RF1', 10, 'P^Patient preference^HL70336'), 103, { segment: 'RF1', sequence: 1, field: 10, repetition: 1, component: 1 }],
    ['RF1-10 is empty', setField(v251, 'RF1', 10, ''), 101, { segment: 'RF1', sequence: 1, field: 10, component: 1 }],
    ['RF1-6 (the referral id) is empty', setField(v251, 'RF1', 6, ''), 101, { segment: 'RF1', sequence: 1, field: 6, component: 1 }],
    ['RF1-2 is a priority not in table 0280', setField(v251, 'RF1', 2, 'Z'), 103, { segment: 'RF1', sequence: 1, field: 2, repetition: 1, component: 1 }],
    ['the birth date has month precision only', setField(v251, 'PID', 7, '201906'), 102, { segment: 'PID', sequence: 1, field: 7, repetition: 1 }],
    ['the birth date is not a date', setField(v251, 'PID', 7, '20190231'), 102, { segment: 'PID', sequence: 1, field: 7, repetition: 1 }],
    ['there is no question (no NTE)', dropSegments(v251, 'NTE'), 100, { segment: 'NTE', sequence: 1 }],
    ['the referring PRD is missing', setField(v251, 'PRD', 1, 'XX'), 100, { segment: 'PRD', sequence: 1 }],
    ['a parent has no name', setField(v251, 'NK1', 2, ''), 101, { segment: 'NK1', sequence: 1, field: 2, component: 1 }],
    ['an ED record is not base64', setField(v251, 'OBX', 5, '^application^pdf^Base64^not*base64!'), 102, { segment: 'OBX', sequence: 1, field: 5, repetition: 1 }],
  ])('when %s, then the issue has that code and location', (_name, text, code, location) => {
    expect(issues(text)).toContainEqual(expect.objectContaining({ code, location }));
  });

  it('when the consultant GMC number is malformed, then the schema error points at PRD-7 of the referring PRD', () => {
    const bad = setField(v251, 'PRD', 7, '12^GMC');
    expect(issues(bad)).toEqual([expect.objectContaining({ code: 102, text: expect.stringContaining('requester.consultant.gmc'), location: { segment: 'PRD', sequence: 1, field: 7, repetition: 1, component: 1 } })]);
  });
});

describe('REF^I12 field rows (one row per mapped behaviour: adding a field adds a row here)', () => {
  const rows: [string, string, (i: EsoRequestInput) => unknown, unknown][] = [
    ['NHS number with a plain NHS assigning authority', setField(v251, 'PID', 3, 'X1^^^RA7^MR~9000000009^^^NHS^NH'), (i) => i.child.nhsNumber, '9000000009'],
    ['NHS number identified by the OID only', setField(v251, 'PID', 3, '9000000009^^^&2.16.840.1.113883.2.1.4.1&ISO^NH'), (i) => i.child.nhsNumber, '9000000009'],
    ['urgency U → urgent', setField(v251, 'RF1', 2, 'U'), (i) => i.urgency, 'urgent'],
    ['urgency R → routine', setField(v251, 'RF1', 2, 'R'), (i) => i.urgency, 'routine'],
    ['urgency missing → routine', setField(v251, 'RF1', 2, ''), (i) => i.urgency, 'routine'],
    ['gender F', setField(v251, 'PID', 8, 'F'), (i) => i.child.gender, 'female'],
    ['grandparent has no parental responsibility', setField(v251, 'NK1', 3, 'GRP^Grandparent^HL70063'), (i) => i.parents[0].parentalResponsibility, false],
    ['guardian has parental responsibility', setField(v251, 'NK1', 3, 'GRD'), (i) => i.parents[0].parentalResponsibility, true],
    ['consent from the first parent with responsibility', setField(v251, 'NK1', 3, 'GRP'), (i) => i.consent!.givenBy, { parent: 1 }],
    ['consent from the young person when no parent has responsibility', setField(setField(v251, 'NK1', 3, 'GRP'), 'NK1', 3, 'SIB', 2), (i) => i.consent!.givenBy, { youngPerson: true }],
    ['consent until RF1-8 when sent', v251, (i) => i.consent!.until, '2026-12-05'],
    ['consent until MSH-7 + 90 days without RF1-8', setField(v251, 'RF1', 8, ''), (i) => i.consent!.until, '2027-02-19'],
    ['MSH-7 without an offset is London time (BST in summer)', setField(v251, 'MSH', 7, '20260701120000'), (i) => i.consent!.dateTime, '2026-07-01T12:00:00+01:00'],
    ['MSH-7 with an offset keeps it', setField(v251, 'MSH', 7, '20260701120000-0500'), (i) => i.consent!.dateTime, '2026-07-01T12:00:00-05:00'],
    ['Young person question prefix', setField(v251, 'NTE', 3, 'Young person question: can I keep playing football?'), (i) => i.questions[0], { text: 'can I keep playing football?', askedBy: 'young-person' }],
    ['question without a prefix is the treating team\'s', setField(v251, 'NTE', 3, 'Is surgery still an option?'), (i) => i.questions[0], { text: 'Is surgery still an option?', askedBy: 'treating-team' }],
    ['NTE after an OBX is a note on it, not a question', addSegments(dropSegments(v251, 'NTE'), 'OBX|3|TX|X^Y^L||text||||||F', 'NTE|1||Note on the result', 'PV1|1|I', 'NTE|1||Team question: real one?'), (i) => i.questions.map((q) => q.text), ['real one?']],
    ['reason text without DG1 is the fixed text', dropSegments(v251, 'DG1'), (i) => i.reason, { text: 'Second opinion referral' }],
    ['diagnosis in a local coding system keeps its text but no coding', setField(dropSegments(v251, 'DG1'), 'PID', 1, '1').replace('PV1|', 'DG1|1||X1^Local thing^L\rPV1|'), (i) => i.reason, { text: 'Local thing' }],
    ['record by reference (OBX RP)', addSegments(v251, 'OBX|3|RP|IMG^MRI head^L||https://pacs.example.nhs.uk/study/1^PACS^image^DICOM||||||F'), (i) => i.records[1], { url: 'https://pacs.example.nhs.uk/study/1', title: 'MRI head', contentType: 'image/dicom' }],
    ['ED with v2 type codes (table 0191 IM, 0291 JPEG)', setField(v251, 'OBX', 5, '^IM^JPEG^Base64^AAAA'), (i) => i.records[0].contentType, 'image/jpeg'],
    ['ED sent as hex', setField(v251, 'OBX', 5, '^application^pdf^Hex^48656c6c6f'), (i) => i.records[0].data, Buffer.from('Hello').toString('base64')],
    ['ED without a subtype', setField(v251, 'OBX', 5, '^application^^Base64^AAAA'), (i) => i.records[0].contentType, 'application/octet-stream'],
    ['family statement over several lines', setField(v251, 'OBX', 5, 'Line one\\.br\\Line two', 2), (i) => i.familyStatement, 'Line one\nLine two'],
    ['referral category O → outpatient review', setField(v251, 'RF1', 5, 'O'), (i) => i.reviewKind, 'outpatient'],
    ['no RT specialist name → no specialist', setField(v251, 'PRD', 2, '', 2), (i) => i.provider, { organization: 'SGH01' }],
    ['e-mail in PRD-5', setField(v251, 'PRD', 5, '^NET^Internet^anjali.patel@nhs.net', 1), (i) => i.requester.consultant.telecom, [{ system: 'email', value: 'anjali.patel@nhs.net' }]],
    ['escaped separators in a name', setField(v251, 'PID', 5, 'O\\S\\NEILL^NOAH'), (i) => i.child.name.family, 'O^NEILL'],
    ['LF line endings (HTTP clients)', v251.replace(/\r/g, '\n'), (i) => i.requestId.value, 'RA7-ESO-0042'],
  ];
  it.each(rows)('when %s, then the target has the expected value', (_name, text, pick, expected) => {
    expect(pick(input(text))).toEqual(expected);
  });
});
