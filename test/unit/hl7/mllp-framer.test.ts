import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, frameMessage, MllpFramer, type FramerEvent } from '../../../src/hl7/mllp-framer.ts';

const VT = '\x0b', END = '\x1c\r';
const frames = (events: FramerEvent[]) => events.filter((e) => e.type === 'frame').map((e) => (e as { data: Buffer }).data.toString('utf8'));
const push = (f: MllpFramer, ...chunks: string[]) => chunks.flatMap((c) => f.push(Buffer.from(c, 'latin1')));

describe('MLLP framer', () => {
  it('when one whole frame arrives, then it yields that message', () => {
    const f = new MllpFramer({ maxMessageBytes: 100 });
    expect(frames(push(f, `${VT}MSH|a${END}`))).toEqual(['MSH|a']);
    expect(f.inFrame).toBe(false);
  });

  it('when a frame is split across reads (even inside the end block), then it is reassembled', () => {
    const f = new MllpFramer({ maxMessageBytes: 100 });
    expect(push(f, VT, 'MSH|', 'abc')).toEqual([]);
    expect(f.inFrame).toBe(true);
    expect(frames(push(f, 'def\x1c'))).toEqual(['MSH|abcdef']);
    expect(push(f, '\r')).toEqual([]); // the CR after FS in the next read is not garbage
  });

  it('when several frames come in one read, then all are yielded in order', () => {
    const f = new MllpFramer({ maxMessageBytes: 100 });
    expect(frames(push(f, `${VT}one${END}${VT}two${END}${VT}thr`, `ee${END}`))).toEqual(['one', 'two', 'three']);
  });

  it('when bytes arrive outside a frame, then they are reported as garbage and the next frame still parses', () => {
    const f = new MllpFramer({ maxMessageBytes: 100 });
    const events = push(f, `junk!${VT}ok${END}\r\n`);
    expect(events[0]).toEqual({ type: 'garbage', bytes: 5 });
    expect(frames(events)).toEqual(['ok']);
    expect(events).toHaveLength(2); // CR/LF between frames is tolerated silently
  });

  it('when a start block comes before the end of a frame, then the partial frame is reported truncated and the new one parses', () => {
    const f = new MllpFramer({ maxMessageBytes: 100 });
    const events = push(f, `${VT}lost${VT}kept${END}`);
    expect(events[0]).toEqual({ type: 'truncated', bytes: 4 });
    expect(frames(events)).toEqual(['kept']);
  });

  it('when a frame passes the maximum size, then it is reported once with its head, skipped, and the next frame parses', () => {
    const f = new MllpFramer({ maxMessageBytes: 10, headBytes: 4 });
    const events = push(f, `${VT}MSH|0123`, '456789', 'abcdef', `ghi${END}${VT}small${END}`);
    const over = events.filter((e) => e.type === 'oversize');
    expect(over).toHaveLength(1);
    expect((over[0] as { head: Buffer }).head.toString()).toBe('MSH|');
    expect(frames(events)).toEqual(['small']);
  });

  it('when a frame is exactly the maximum size, then it is accepted', () => {
    const f = new MllpFramer({ maxMessageBytes: 5 });
    expect(frames(push(f, `${VT}12345${END}`))).toEqual(['12345']);
  });

  it('when the FS is not followed by CR, then the frame is still accepted (lenient end block)', () => {
    const f = new MllpFramer({ maxMessageBytes: 100 });
    expect(frames(push(f, `${VT}a\x1c${VT}b${END}`))).toEqual(['a', 'b']);
  });

  it('when a message is framed and decoded, then it round-trips with a CR-terminated last segment', () => {
    const f = new MllpFramer({ maxMessageBytes: 1000 });
    const text = 'MSH|^~\\&|A|B\rPID|1||Zoë';
    const [data] = f.push(frameMessage(text)).map((e) => (e as { data: Buffer }).data);
    expect(decodeFrame(data)).toBe(`${text}\r`);
  });

  it('when MSH-18 says 8859/1, then the frame is decoded as Latin-1', () => {
    const bytes = Buffer.from('MSH|^~\\&|A|B|C|D|||ADT^A01|1|P|2.4||||||8859/1\rPID|1||Zo\xeb', 'latin1');
    expect(decodeFrame(bytes)).toContain('Zoë');
  });

  describe('properties', () => {
    const message = fc.string({ unit: fc.constantFrom(...'MSH|^~\\&ABC123\r'.split('')), minLength: 0, maxLength: 50 });

    it('when any bytes at all are pushed in any chunks, then push never throws and memory stays bounded', () => {
      fc.assert(
        fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }), fc.integer({ min: 1, max: 64 }), (chunks, max) => {
          const f = new MllpFramer({ maxMessageBytes: max });
          for (const c of chunks) {
            for (const e of f.push(Buffer.from(c))) {
              if (e.type === 'frame') expect(e.data.length).toBeLessThanOrEqual(max);
              else expect(['garbage', 'truncated', 'oversize']).toContain(e.type);
            }
          }
        }),
      );
    });

    it('when valid frames are cut at arbitrary points, then exactly the same messages come out', () => {
      fc.assert(
        fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (messages, cuts) => {
          const wire = Buffer.concat(messages.map((m) => Buffer.concat([Buffer.from([0x0b]), Buffer.from(m, 'latin1'), Buffer.from([0x1c, 0x0d])])));
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const f = new MllpFramer({ maxMessageBytes: 1000 });
          const out: string[] = [];
          let prev = 0;
          for (const p of [...points, wire.length]) {
            out.push(...frames(f.push(wire.subarray(prev, p))));
            prev = p;
          }
          expect(out).toEqual(messages);
        }),
      );
    });

    it('when valid frames are mutated (bytes inserted, dropped, replaced), then push never throws and good frames after a clean boundary survive', () => {
      fc.assert(
        fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('insert', 'drop', 'replace')), { maxLength: 6 }), (messages, mutations) => {
          const bytes = Array.from(Buffer.concat(messages.map((m) => frameMessage(m))));
          for (const [at, value, op] of mutations) {
            const i = at % (bytes.length + 1);
            if (op === 'insert') bytes.splice(i, 0, value);
            else if (op === 'drop') bytes.splice(i, 1);
            else bytes[i] = value;
          }
          const f = new MllpFramer({ maxMessageBytes: 1000 });
          const events = f.push(Buffer.from(bytes));
          // A trailing clean frame is always recovered, whatever came before it.
          const tail = f.push(frameMessage('MSH|tail'));
          expect(Array.isArray(events)).toBe(true);
          expect(frames(tail)).toContain('MSH|tail\r');
        }),
      );
    });
  });
});
