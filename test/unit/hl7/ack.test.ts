import { describe, expect, it } from 'vitest';
import { buildAck, compareVersions, newControlId } from '../../../src/hl7/ack.ts';
import { escapeEr7, readHeader, SegmentWriter, unescapeEr7 } from '../../../src/hl7/er7.ts';
import { sample } from './samples.ts';

const ours = { application: 'ESO_BRIDGE', facility: 'ESO' };
const now = new Date('2026-11-21T14:30:06Z');
const lines = (ack: string) => ack.split('\r');

describe('ACK builder', () => {
  it('when a v2.5.1 message is accepted in original mode, then MSH swaps sender and receiver, keeps MSH-11/12, and MSA-2 is the received MSH-10', () => {
    const ack = buildAck({ received: readHeader(sample('REF_I12-v251-inpatient-urgent')), code: 'AA', ours, now, controlId: 'ESO1' });
    expect(lines(ack)).toEqual([
      'MSH|^~\\&|ESO_BRIDGE|ESO|CERNER|RA7|20261121143006+0000||ACK^I12^ACK|ESO1|P|2.5.1||||||UNICODE UTF-8',
      'MSA|AA|RA7-000918273',
    ]);
  });

  it('when a v2.3 message is acknowledged, then MSH-9 has no structure component (it exists from v2.3.1)', () => {
    const ack = buildAck({ received: readHeader(sample('REF_I12-v23-enhanced-ack')), code: 'CA', ours, now, controlId: 'ESO2', enhanced: true });
    expect(lines(ack)).toEqual(['MSH|^~\\&|ESO_BRIDGE|ESO|PAS|RTH|20261121143006+0000||ACK^I12|ESO2|P|2.3|||NE|NE', 'MSA|CA|RTH000777']);
  });

  it('when a v2.5.1 message has content errors, then each error is an ERR with location (ERL), 0357 code, severity and text', () => {
    const ack = buildAck({
      received: readHeader(sample('REF_I12-v251-inpatient-urgent')),
      code: 'AE',
      ours,
      now,
      controlId: 'ESO3',
      errors: [
        { code: 102, text: 'PID-3: the NHS number check digit is wrong', location: { segment: 'PID', sequence: 1, field: 3, repetition: 1, component: 1 } },
        { code: 204, text: 'Unknown organisation SGH99', applicationCode: 'not-found', location: { segment: 'PRD', sequence: 2, field: 4, component: 4 } },
      ],
    });
    expect(lines(ack).slice(1)).toEqual([
      'MSA|AE|RA7-000918273|PID-3: the NHS number check digit is wrong',
      'ERR||PID^1^3^1^1|102^Data type error^HL70357|E||||PID-3: the NHS number check digit is wrong',
      'ERR||PRD^2^4^1^4|204^Unknown key identifier^HL70357|E|not-found|||Unknown organisation SGH99',
    ]);
  });

  it('when a v2.4 message has content errors, then they go in ERR-1 (ELD) repetitions: segment^sequence^field^code&text&HL70357', () => {
    const ack = buildAck({
      received: readHeader(sample('REF_I12-v24-outpatient-minimal')),
      code: 'AE',
      ours,
      now,
      controlId: 'ESO4',
      errors: [
        { code: 101, text: 'PID-3 is required', location: { segment: 'PID', sequence: 1, field: 3 } },
        { code: 100, text: 'RF1 is missing', location: { segment: 'RF1', sequence: 1 } },
      ],
    });
    expect(lines(ack)).toEqual([
      'MSH|^~\\&|ESO_BRIDGE|ESO|EPR|RGT|20261121143006+0000||ACK^I12^ACK|ESO4|P|2.4',
      'MSA|AE|RGT55120|PID-3 is required',
      'ERR|PID^1^3^101&Required field missing&HL70357~RF1^1^^100&Segment sequence error&HL70357',
    ]);
  });

  it('when there was no readable MSH, then the ACK still has our header and an empty MSA-2', () => {
    const ack = buildAck({ received: undefined, code: 'AR', ours, now, controlId: 'ESO5', errors: [{ code: 100, text: 'no MSH' }] });
    expect(lines(ack)).toEqual(['MSH|^~\\&|ESO_BRIDGE|ESO|||20261121143006+0000||ACK^^ACK|ESO5|P|2.5.1', 'MSA|AR||no MSH', 'ERR|||100^Segment sequence error^HL70357|E||||no MSH']);
  });

  it('when error text contains delimiters, then it is escaped, and MSA-3 is cut to 80 characters', () => {
    const text = `a|b^c~d\\e&f ${'x'.repeat(100)}`;
    const ack = buildAck({ received: readHeader(sample('REF_I12-v251-inpatient-urgent')), code: 'AE', ours, now, controlId: 'E', errors: [{ code: 207, text }] });
    const msa3 = lines(ack)[1].split('|').slice(3).join('|');
    expect(msa3.startsWith('a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f')).toBe(true);
    expect(unescapeEr7(msa3).length).toBe(80);
  });

  it('when sending application/facility have components, then they are echoed verbatim into MSH-5/6', () => {
    const received = readHeader('MSH|^~\\&|EPR^1.2.3^ISO|RA7^^L|ESO_BRIDGE|ESO|20261121||REF^I12|X1|P^T|2.5');
    const ack = buildAck({ received, code: 'AA', ours, now, controlId: 'E' });
    expect(lines(ack)[0]).toBe('MSH|^~\\&|ESO_BRIDGE|ESO|EPR^1.2.3^ISO|RA7^^L|20261121143006+0000||ACK^I12^ACK|E|P^T|2.5');
  });
});

describe('ER7 helpers', () => {
  it('when a value is escaped and unescaped, then it round-trips', () => {
    const v = 'a|b^c~d\\e&f';
    expect(unescapeEr7(escapeEr7(v))).toBe(v);
  });

  it('when a segment has gaps and trailing empties, then trailing delimiters are dropped', () => {
    expect(new SegmentWriter('OBX').set(1, '1').set(5, 'x', 0, 3).toString()).toBe('OBX|1||||^^x');
  });

  it('when the text is not an HL7 message, then readHeader returns undefined', () => {
    expect(readHeader('hello')).toBeUndefined();
    expect(readHeader('MSH')).toBeUndefined();
    expect(readHeader('MSH|^^^^|')).toBeUndefined();
  });

  it('when control ids are generated, then they fit MSH-10 (20 characters) and differ', () => {
    const ids = new Set(Array.from({ length: 1000 }, newControlId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id.length).toBeLessThanOrEqual(20);
  });

  it('when versions are compared, then 2.3.1 sorts between 2.3 and 2.4', () => {
    expect(compareVersions('2.3', '2.3.1')).toBeLessThan(0);
    expect(compareVersions('2.4', '2.3.1')).toBeGreaterThan(0);
    expect(compareVersions('2.5.1', '2.5.1')).toBe(0);
  });
});
