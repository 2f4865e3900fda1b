/**
 * MLLP framing on real sockets against the real server: how the bytes arrive must not matter
 * (several frames in one write, one frame over several writes), and nothing a peer sends (an
 * oversize message, bytes outside frames, broken frames) stops the next good message being
 * answered. HL7 v2.5.1 Appendix C (MLLP). Storage plays no part here: SQLite only.
 */
import type { Bundle } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entries } from '../eso/harness.ts';
import { field, frame, freshSample, msa, rawMllp, requestSystem, startHl7Server, storedCounts, type Hl7Server } from './harness.ts';

const MAX = 8192;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('MLLP framing on real sockets', () => {
  let h: Hl7Server;
  beforeAll(async () => { h = await startHl7Server('sqlite', { MLLP_MAX_MESSAGE_BYTES: String(MAX) }); });
  afterAll(async () => { await h?.stop(); });

  const caseCount = async (requestId: string) =>
    entries((await h.as.RA7.get<Bundle>(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`${requestSystem('RA7')}|${requestId}`)}`)).body, 'ServiceRequest').length;

  it('when two messages come in one write, then each gets its own AA, in order, and both cases exist', async () => {
    const [a, b] = [freshSample('v251'), freshSample('v251')];
    const peer = await rawMllp(h.mllpPort);
    try {
      await peer.write(Buffer.concat([frame(a.text), frame(b.text)]));
      const answers = await peer.waitFor(2);
      expect(answers.map(msa)).toMatchObject([{ code: 'AA', controlId: a.controlId }, { code: 'AA', controlId: b.controlId }]);
    } finally {
      await peer.close();
    }
    expect([await caseCount(a.requestId), await caseCount(b.requestId)]).toEqual([1, 1]);
  });

  it('when one message comes in three writes with pauses (the last holding only the final CR), then it gets one AA', async () => {
    const m = freshSample('v251');
    const bytes = frame(m.text);
    const peer = await rawMllp(h.mllpPort);
    try {
      await peer.write(bytes.subarray(0, 10)); // inside MSH
      await pause(100);
      await peer.write(bytes.subarray(10, bytes.length - 1)); // up to the end block's 0x1C
      await pause(100);
      await peer.write(bytes.subarray(bytes.length - 1)); // the trailing 0x0D
      expect((await peer.waitFor(1)).map(msa)).toMatchObject([{ code: 'AA', controlId: m.controlId }]);
      await pause(200);
      expect(peer.answers).toHaveLength(1);
    } finally {
      await peer.close();
    }
    expect(await caseCount(m.requestId)).toBe(1);
  });

  it('when a message is over MLLP_MAX_MESSAGE_BYTES, then it gets AR naming it, nothing is stored, and the same connection still takes the next message', async () => {
    const big = freshSample('v251');
    // A discharge summary far larger than the limit, as an EPR might attach one.
    const oversize = big.text.replace(/(\|\^application\^pdf\^Base64\^)[A-Za-z0-9+/=]+/, `$1${'QUJD'.repeat(MAX)}`);
    expect(Buffer.byteLength(oversize)).toBeGreaterThan(4 * MAX);
    const before = await storedCounts(h.server.storage);
    const peer = await rawMllp(h.mllpPort);
    try {
      await peer.write(frame(oversize));
      const [reject] = await peer.waitFor(1);
      expect(msa(reject)).toMatchObject({ code: 'AR', controlId: big.controlId, text: `The message exceeds the maximum size of ${MAX} bytes` });
      expect(field(reject, 'MSH', 6)).toBe('RA7');
      expect(await storedCounts(h.server.storage)).toEqual(before);

      const next = freshSample('v251');
      await peer.write(frame(next.text));
      const answers = await peer.waitFor(2);
      expect(msa(answers[1])).toMatchObject({ code: 'AA', controlId: next.controlId });
      expect(peer.isClosed()).toBe(false);
    } finally {
      await peer.close();
    }
  });

  it('when bytes come outside any frame, then they are skipped without an answer and the next message on the connection gets AA', async () => {
    const garbage = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nHost: eso\r\n\r\n'),
      Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 256).filter((b) => b !== 0x0b && b !== 0x1c)),
    ]);
    const peer = await rawMllp(h.mllpPort);
    try {
      await peer.write(garbage);
      await pause(100);
      const m = freshSample('v251');
      await peer.write(frame(m.text));
      expect((await peer.waitFor(1)).map(msa)).toMatchObject([{ code: 'AA', controlId: m.controlId }]);
      await pause(200);
      expect(peer.answers).toHaveLength(1);
    } finally {
      await peer.close();
    }
  });

  it('when a frame holds no HL7 and another is cut short by a new start block, then the first gets AR, the cut one nothing, and the complete one AA', async () => {
    const cut = freshSample('v251');
    const whole = freshSample('v251');
    const peer = await rawMllp(h.mllpPort);
    try {
      await peer.write(Buffer.concat([
        Buffer.from([0x0b]), Buffer.from('\x00\xff not hl7 at all'), Buffer.from([0x1c, 0x0d]),
        frame(cut.text).subarray(0, 200), // no end block: lost when the next frame starts
        frame(whole.text),
      ]));
      const answers = await peer.waitFor(2);
      expect(msa(answers[0])).toMatchObject({ code: 'AR', text: 'Not an HL7 v2 message: the first segment must be MSH' });
      expect(msa(answers[1])).toMatchObject({ code: 'AA', controlId: whole.controlId });
      await pause(200);
      expect(peer.answers).toHaveLength(2);
    } finally {
      await peer.close();
    }
    expect(await caseCount(cut.requestId)).toBe(0);
  });

  it('when a peer hangs up in the middle of a frame, then the server carries on and a new connection gets AA', async () => {
    const half = await rawMllp(h.mllpPort);
    await half.write(frame(freshSample('v251').text).subarray(0, 300));
    half.socket.destroy();
    await pause(50);
    const peer = await rawMllp(h.mllpPort);
    try {
      const m = freshSample('v251');
      await peer.write(frame(m.text));
      expect((await peer.waitFor(1)).map(msa)).toMatchObject([{ code: 'AA', controlId: m.controlId }]);
    } finally {
      await peer.close();
    }
  });
});
