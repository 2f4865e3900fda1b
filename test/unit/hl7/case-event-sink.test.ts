import { Hl7Message } from '@medplum/core';
import { describe, expect, it } from 'vitest';
import type { CaseEvent } from '../../../src/domain/ports.ts';
import { mllpDestination } from '../../../src/storage/types.ts';
import { outboxKind, V2CaseEventSink, type V2Endpoint } from '../../../src/hl7/case-event-sink.ts';
import { loadOutboundMapping } from '../../../src/hl7/mapping-types.ts';
import { applyOutbound, evalPath, OutboundMappingError } from '../../../src/hl7/mapping-writer.ts';
import { V2Message } from '../../../src/hl7/v2-message.ts';
import { FakeStorage } from './fake-storage.ts';
import { field, fixture, fixtureJson } from './samples.ts';

const completed = fixtureJson('case-event-completed.json') as CaseEvent;
const rejected = fixtureJson('case-event-rejected.json') as CaseEvent;
const fixed = { now: () => new Date('2025-03-18T16:05:01Z'), newControlId: () => 'ESO1' };
const sink = (endpoints: Record<string, V2Endpoint> = { RA7: { host: '127.0.0.1', port: 1, application: 'CERNER' } }) => new V2CaseEventSink(endpoints, fixed);

describe('RRI^I12 / ORU^R01 builders (golden)', () => {
  it.each([
    ['a completed case', completed, ['RRI_I12.completed.hl7', 'ORU_R01.completed.hl7']],
    ['a rejected case', rejected, ['RRI_I12.rejected.hl7']],
  ])('when %s is sent, then the messages equal their fixtures', (_name, event, expected) => {
    const built = sink().build(event);
    expect(built.map((m) => `${m.payload}\r`)).toEqual(expected.map((f) => fixture(f)));
  });

  it('when the case is accepted, then RRI^I12 has RF1-1 A and no report segments', () => {
    const [rri] = sink().build({ ...rejected, kind: 'accepted' });
    expect(field(rri.payload, 'RF1', 1)).toBe('A^Accepted^HL70283');
    expect(rri.payload).not.toMatch(/\r(OBR|OBX|NTE)\|/);
  });

  it('when the case is cancelled, then RF1-1 is the local code C and the reason goes in NTE', () => {
    const [rri] = sink().build({ ...rejected, kind: 'cancelled' });
    expect(field(rri.payload, 'RF1', 1)).toBe('C^Cancelled^HL70283');
    expect(field(rri.payload, 'NTE', 3)).toContain('national centre');
  });

  it('when the EPR takes only RRI^I12, then no ORU^R01 is built', () => {
    expect(sink({ RA7: { host: 'h', port: 1, messages: ['RRI^I12'] } }).build(completed).map((m) => m.message)).toEqual(['RRI^I12']);
  });

  it('when the EPR speaks v2.3, then MSH-9 has no structure component', () => {
    const [rri] = sink({ RA7: { host: 'h', port: 1, version: '2.3' } }).build(rejected);
    expect(field(rri.payload, 'MSH', 9)).toBe('RRI^I12');
    expect(field(rri.payload, 'MSH', 12)).toBe('2.3');
  });

  it('when a built message is parsed by hl7v2 and by Medplum, then both read the same values back', () => {
    for (const m of sink().build(completed)) {
      const ours = V2Message.parse(m.payload);
      const theirs = Hl7Message.parse(m.payload);
      expect(ours.first('PID')!.get(3)).toBe('9000000009');
      expect(theirs.getSegment('PID')!.getComponent(3, 1)).toBe('9000000009');
      expect(theirs.getSegment('MSH')!.getField(10).toString()).toBe('ESO1');
    }
  });

  it("when the child has the sender's own identifiers, then PID-3 carries them all back, the NHS number first, each with its authority and type as sent", () => {
    for (const m of sink().build(completed)) {
      const pid3 = Hl7Message.parse(m.payload).getSegment('PID')!.getField(3);
      const reps = [0, 1, 2].map((i) => pid3.toString().split('~')[i]);
      expect(reps[0]).toBe('9000000009^^^NHS^NH');
      expect(reps[1]).toBe('RA7123456^^^RA7^MR');
      // A value holding a delimiter travels escaped; an OID authority goes in CX-4.2 with ISO.
      expect(reps[2]).toBe('E-77\\S\\1^^^&2.16.840.1.113883.3.7&ISO^PI');
      expect(V2Message.parse(m.payload).first('PID')!.reps(3).map((r) => r.get(1))).toEqual(['9000000009', 'RA7123456', 'E-77^1']);
    }
  });

  it('when a required value is missing (no NHS number), then building throws so the state change does not commit without its message', () => {
    const noNhs = { ...rejected, patient: { ...rejected.patient, identifier: [] } };
    expect(() => sink().build(noNhs)).toThrow(OutboundMappingError);
  });
});

describe('V2CaseEventSink.onCaseEvent', () => {
  it('when the requester has an endpoint, then each message is enqueued for mllp:<ODS> in the same transaction', async () => {
    const storage = new FakeStorage();
    await sink().onCaseEvent(storage.tx, completed);
    expect(storage.outbox.map((m) => [m.destination, m.kind])).toEqual([
      [mllpDestination('RA7'), outboxKind('RRI^I12')],
      [mllpDestination('RA7'), outboxKind('ORU^R01')],
    ]);
    expect(storage.outbox[0].payload.startsWith('MSH|^~\\&|ESO_BRIDGE|ESO|CERNER|RA7|')).toBe(true);
  });

  it('when the requester has no endpoint, then nothing is enqueued', async () => {
    const storage = new FakeStorage();
    await sink().onCaseEvent(storage.tx, { ...completed, requesterOds: 'RGT' });
    expect(storage.outbox).toEqual([]);
  });
});

describe('event paths (mapping-writer)', () => {
  const root = { a: [{ s: 'x', v: 1 }, { s: 'https://e.org/a.b', v: 2, d: '' }, { s: 'y', v: 3, d: 'z' }] };
  it.each([
    ['a[0].v', [1]],
    ['a[*].v', [1, 2, 3]],
    ['a[s=https://e.org/a.b].v', [2]],
    ['a[s!=https://e.org/a.b].v', [1, 3]],
    ['a[d].v', [3]],
    ['a.v', [1, 2, 3]],
    ['missing.x', []],
  ])('when %s is evaluated, then it yields %j', (path, expected) => {
    expect(evalPath(root, path)).toEqual(expected);
  });

  it('when the event kind is not one the mapping sends, then no segments are built', () => {
    expect(applyOutbound(loadOutboundMapping('ORU_R01.from-fhir'), { ...rejected })).toEqual([]);
  });
});
