import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import type { EsoRequestInput } from '../../../src/domain/eso-request-input.ts';
import type { Actor, IntakeResult, SubmitEsoRequest } from '../../../src/domain/ports.ts';
import { ACK_KEY_SCOPE, createV2Receiver, type V2ReceiverOptions } from '../../../src/hl7/v2-receiver.ts';
import { badRequest, conflict, serverError, unprocessable } from '../../../src/shared/outcomes.ts';
import { FakeStorage } from './fake-storage.ts';
import { field, fixture, sample, setField } from './samples.ts';

const v251 = sample('REF_I12-v251-inpatient-urgent');
const v23 = fixture('REF_I12-v23-enhanced-ack.prd4-fixed.hl7');
const v24 = fixture('REF_I12-v24-outpatient-minimal.prd4-fixed.hl7');

function setup(overrides: Partial<V2ReceiverOptions> = {}) {
  const storage = new FakeStorage();
  const calls: { input: EsoRequestInput; actor: Actor | undefined }[] = [];
  // Like the real intake: `within` runs in the intake's transaction (the receiver keeps its ACK there).
  const submit = vi.fn<SubmitEsoRequest>(async (input, actor, opts) => {
    calls.push({ input: input as EsoRequestInput, actor });
    const result = { created: calls.length === 1 } as IntakeResult;
    await storage.transaction(async (tx) => { await opts?.within?.(tx, result); });
    return result;
  });
  let n = 0;
  const receiver = createV2Receiver({
    storage,
    submit,
    admitsConnection: () => true,
    isSenderAllowed: (ods) => ['RA7', 'RGT', 'RTH'].includes(ods),
    facility: { application: 'ESO_BRIDGE', facility: 'ESO' },
    now: () => new Date('2026-11-21T14:30:06Z'),
    newControlId: () => `ACK${++n}`,
    ...overrides,
  });
  return { storage, submit, calls, receiver };
}

const msa = (ack: string) => field(ack, 'MSA', 1);
const errs = (ack: string) => ack.split('\r').filter((l) => l.startsWith('ERR'));

describe('v2 receiver: accepted messages', () => {
  it('when a valid REF^I12 arrives, then intake runs as the sending organisation and only then AA is returned and stored', async () => {
    const { receiver, calls, storage } = setup();
    const ack = await receiver.handle(v251);
    expect(msa(ack)).toBe('AA');
    expect(field(ack, 'MSA', 2)).toBe('RA7-000918273');
    expect(calls).toHaveLength(1);
    expect(calls[0].actor).toEqual({ organization: 'RA7', agent: 'mllp' });
    expect(calls[0].input.requestId.value).toBe('RA7-ESO-0042');
    expect(storage.keys.get(`${ACK_KEY_SCOPE}/RA7|RA7-000918273`)).toBe(ack);
  });

  it('when the same MSH-10 comes again from the same sender, then the same ACK comes back and intake is not called again', async () => {
    const { receiver, submit } = setup();
    const first = await receiver.handle(v251);
    const second = await receiver.handle(v251);
    expect(second).toBe(first);
    expect(submit).toHaveBeenCalledTimes(1);
  });

  it('when another sender reuses the control id, then it is a different message', async () => {
    const { receiver, submit } = setup();
    await receiver.handle(v251);
    const other = setField(setField(v251, 'MSH', 4, 'RGT'), 'RF1', 6, 'RGT-1');
    expect(msa(await receiver.handle(other))).toBe('AA');
    expect(submit).toHaveBeenCalledTimes(2);
  });

  it('when MSH-15 AL and MSH-16 NE (the v2.5.1 sample), then over MLLP enhanced mode: one commit ACK CA and no application ACK (HL7 v2.5.1 §2.9)', async () => {
    const { receiver } = setup();
    const frames = await receiver.handleFrames(v251);
    expect(frames.map(msa)).toEqual(['CA']);
    expect(field(frames[0], 'MSA', 2)).toBe('RA7-000918273');
  });

  it('when MSH-15 AL and MSH-16 NE but the content is refused, then the commit ACK is CE with the ERR (a CA would hide the refusal)', async () => {
    const { receiver, submit } = setup();
    const frames = await receiver.handleFrames(setField(v251, 'PID', 7, ''));
    expect(frames.map(msa)).toEqual(['CE']);
    expect(errs(frames[0])[0]).toContain('PID^1^7');
    expect(submit).not.toHaveBeenCalled();
  });

  it('when MSH-15 and MSH-16 are both empty, then original mode: one AA', async () => {
    const { receiver } = setup();
    const frames = await receiver.handleFrames(setField(setField(v251, 'MSH', 15, ''), 'MSH', 16, ''));
    expect(frames.map(msa)).toEqual(['AA']);
  });

  it('when MSH-15 is NE and MSH-16 AL, then enhanced mode: no commit ACK, the application ACK AA', async () => {
    const { receiver } = setup();
    const frames = await receiver.handleFrames(setField(setField(v251, 'MSH', 15, 'NE'), 'MSH', 16, 'AL'));
    expect(frames.map(msa)).toEqual(['AA']);
    expect(field(frames[0], 'MSH', 15)).toBe('NE');
  });

  it('when MSH-15 and MSH-16 are both NE, then enhanced mode asks for nothing and nothing is sent (the referral is still taken)', async () => {
    const { receiver, submit } = setup();
    const frames = await receiver.handleFrames(setField(setField(v251, 'MSH', 15, 'NE'), 'MSH', 16, 'NE'));
    expect(frames).toEqual([]);
    expect(submit).toHaveBeenCalledTimes(1);
  });

  it('when the sender is listed in legacyAckSenders, then MSH-15 AL / MSH-16 NE gets one original-mode AA, as before', async () => {
    const { receiver } = setup({ legacyAckSenders: new Set(['RA7']) });
    expect((await receiver.handleFrames(v251)).map(msa)).toEqual(['AA']);
    expect((await receiver.handleFrames(setField(v23, 'MSH', 10, 'RTH-LEGACY'))).map(msa)).toEqual(['CA', 'AA']);
  });

  it("when the sender's client entry asks for the legacy ack mode, then MSH-15 AL / MSH-16 NE gets one original-mode AA, and other senders keep HL7 v2.5.1 §2.9", async () => {
    let legacy = true;
    const { receiver } = setup({ legacyAck: (ods) => legacy && ods === 'RA7' });
    expect((await receiver.handleFrames(v251)).map(msa)).toEqual(['AA']);
    expect((await receiver.handleFrames(setField(setField(v251, 'MSH', 10, 'RA7-X2'), 'MSH', 4, 'RGT'))).map(msa)).toEqual(['CA']);
    // The entry changed back: the next message follows §2.9 again (enhanced: a commit ACK only, MSH-16 NE).
    legacy = false;
    expect((await receiver.handleFrames(setField(v251, 'MSH', 10, 'RA7-X3'))).map(msa)).toEqual(['CA']);
  });

  it("when the sender's ack mode cannot be looked up, then the message is still answered (§2.9)", async () => {
    const { receiver } = setup({ legacyAck: () => { throw new Error('clients file unreadable'); } });
    expect((await receiver.handleFrames(v251)).map(msa)).toEqual(['CA']);
  });

  it('when MSH-15/16 ask for enhanced mode (AL/AL), then over MLLP a commit ACK CA comes first, then the application ACK AA', async () => {
    const { receiver } = setup();
    const frames = await receiver.handleFrames(v23);
    expect(frames.map(msa)).toEqual(['CA', 'AA']);
    expect(frames.map((f) => field(f, 'MSA', 2))).toEqual(['RTH000777', 'RTH000777']);
    expect(field(frames[0], 'MSH', 10)).not.toBe(field(frames[1], 'MSH', 10));
  });

  it('when enhanced mode asks for the application ACK on error only (AL/ER) and all is well, then only CA is sent', async () => {
    const { receiver } = setup();
    expect((await receiver.handleFrames(setField(v23, 'MSH', 16, 'ER'))).map(msa)).toEqual(['CA']);
  });

  it('when an enhanced-mode duplicate arrives, then CA and the stored AA are sent again', async () => {
    const { receiver, submit } = setup();
    const [, aa] = await receiver.handleFrames(v23);
    const again = await receiver.handleFrames(v23);
    expect(again.map(msa)).toEqual(['CA', 'AA']);
    expect(again[1]).toBe(aa);
    expect(submit).toHaveBeenCalledTimes(1);
  });

  it('when an ACK arrives over MLLP, then nothing is sent back (no ACK of ACKs)', async () => {
    const { receiver } = setup();
    expect(await receiver.handleFrames('MSH|^~\\&|EPR|RA7|ESO_BRIDGE|ESO|20261121||ACK^I12^ACK|X|P|2.5.1\rMSA|AA|ESO1')).toEqual([]);
  });

  it('when the HTTP route gives the token organisation and it matches MSH-4, then the agent is the client id', async () => {
    const { receiver, calls } = setup({ admitsConnection: () => false, isSenderAllowed: () => false });
    expect(msa(await receiver.handle(v251, { authenticatedOrg: 'RA7', agent: 'client-123' }))).toBe('AA');
    expect(calls[0].actor).toEqual({ organization: 'RA7', agent: 'client-123' });
  });
});

describe('v2 receiver: rejected (AR) and errored (AE) messages', () => {
  it.each([
    ['the version is 2.9', setField(v251, 'MSH', 12, '2.9'), '203', 'MSH^1^12'],
    ['the message type is ADT', setField(v251, 'MSH', 9, 'ADT^A01^ADT_A01'), '200', 'MSH^1^9^1^1'],
    ['the event is I13', setField(v251, 'MSH', 9, 'REF^I13^REF_I12'), '201', 'MSH^1^9^1^2'],
    ['the processing id is T (not configured)', setField(v251, 'MSH', 11, 'T'), '202', 'MSH^1^11'],
    ['the processing id is D', setField(v251, 'MSH', 11, 'D'), '202', 'MSH^1^11'],
    ['MSH-10 is empty', setField(v251, 'MSH', 10, ''), '101', 'MSH^1^10'],
    ['MSH-4 is empty', setField(v251, 'MSH', 4, ''), '101', 'MSH^1^4'],
    ['the sender is not allowed', setField(v251, 'MSH', 4, 'XYZ'), '207', 'MSH^1^4'],
  ])('when %s, then AR with that 0357 code and location, and nothing is submitted', async (_name, text, code, location) => {
    const { receiver, submit } = setup();
    const ack = await receiver.handle(text);
    expect(msa(ack)).toBe('AR');
    const [err] = errs(ack);
    expect(err.split('|')[2].startsWith(location)).toBe(true);
    expect(err.split('|')[3].split('^')[0]).toBe(code);
    expect(submit).not.toHaveBeenCalled();
  });

  it('when processing id T is configured as accepted, then a T message is processed', async () => {
    const { receiver } = setup({ acceptProcessingIds: ['P', 'T'] });
    expect(msa(await receiver.handle(setField(v251, 'MSH', 11, 'T')))).toBe('AA');
  });

  it('when the token organisation differs from MSH-4, then AR', async () => {
    const { receiver, submit } = setup();
    expect(msa(await receiver.handle(v251, { authenticatedOrg: 'RGT' }))).toBe('AR');
    expect(submit).not.toHaveBeenCalled();
  });

  it('when the text is not HL7 at all, then AR with code 100 and an empty MSA-2', async () => {
    const { receiver } = setup();
    const ack = await receiver.handle('GET / HTTP/1.1');
    expect(msa(ack)).toBe('AR');
    expect(field(ack, 'MSA', 2)).toBe('');
    expect(errs(ack)[0]).toContain('100^Segment sequence error');
  });

  it.each([
    ['PID-3 is missing', setField(v251, 'PID', 3, ''), 'PID^1^3', '101'],
    ['the NHS number check digit is wrong', setField(v251, 'PID', 3, '9000000008^^^NHS^NH'), 'PID^1^3', '102'],
    ['RF1 is missing', v251.replace(/RF1\|[^\r]*\r/, ''), 'RF1^1', '100'],
    ['RF1-10 is not S', setField(v251, 'RF1', 10, 'R'), 'RF1^1^10', '103'],
  ])('when %s, then AE with ERR at that location and code, and nothing is submitted', async (_name, text, location, code) => {
    const { receiver, submit, storage } = setup();
    const ack = await receiver.handle(text);
    expect(msa(ack)).toBe('AE');
    expect(errs(ack)[0].split('|')[2].startsWith(location)).toBe(true);
    expect(errs(ack)[0].split('|')[3].split('^')[0]).toBe(code);
    expect(submit).not.toHaveBeenCalled();
    expect(storage.keys.size).toBe(0);
  });

  it('when a v2.4 message has a content error, then the ERR uses ERR-1 (v2.4 layout)', async () => {
    const { receiver } = setup();
    const ack = await receiver.handle(setField(v24, 'PID', 3, ''));
    expect(errs(ack)).toEqual(['ERR|PID^1^3^101&Required field missing&HL70357']);
  });

  it('when intake refuses (422, unknown referred-to organisation), then AE carries its diagnostics, located at PRD-4', async () => {
    const { receiver, storage } = setup({ submit: async () => Promise.reject(unprocessable('Unknown provider organisation SGH01', 'provider.organization')) });
    const ack = await receiver.handle(v251);
    expect(msa(ack)).toBe('AE');
    expect(field(ack, 'MSA', 3)).toBe('Unknown provider organisation SGH01');
    expect(errs(ack)).toEqual(['ERR||PRD^2^4^1^4^1|207^Application internal error^HL70357|E|business-rule|||Unknown provider organisation SGH01']);
    expect(storage.keys.size).toBe(0);
  });

  it.each([
    ['400 with a JSON-path expression', badRequest('child.nhsNumber is already registered to another child', '$.child.nhsNumber'), '102', 'PID^1^3^1^1'],
    ['409 (requestId used by another organisation)', conflict('requestId RA7-ESO-0042 is used by another organisation', 'requestId'), '205', 'RF1^1^6'],
  ])('when intake answers %s, then AE with the mapped 0357 code, located in the message', async (_name, error, code, location) => {
    const { receiver } = setup({ submit: async () => Promise.reject(error) });
    const [err] = errs(await receiver.handle(v251));
    expect(err.split('|')[3].split('^')[0]).toBe(code);
    expect(err.split('|')[2].startsWith(location)).toBe(true);
  });

  it('when intake fails unexpectedly, then AE 207 without internals, and the message is not remembered (a resend is processed)', async () => {
    const submit = vi.fn<SubmitEsoRequest>().mockRejectedValueOnce(new Error('SQLITE_BUSY at /srv/db.sqlite')).mockRejectedValueOnce(serverError('req-1'));
    const { receiver, storage } = setup({ submit });
    for (const _ of [1, 2]) {
      const ack = await receiver.handle(v251);
      expect(msa(ack)).toBe('AE');
      expect(ack).not.toContain('SQLITE');
      expect(ack).not.toContain('req-1');
      expect(errs(ack)[0]).toContain('207^Application internal error');
    }
    expect(storage.keys.size).toBe(0);
    expect(submit).toHaveBeenCalledTimes(2);
  });

  it('when the database is down before processing, then AE 207 (and CE in enhanced mode, so the sender resends)', async () => {
    const { receiver, storage, submit } = setup();
    storage.failing = true;
    expect(msa(await receiver.handle(v251))).toBe('AE');
    expect((await receiver.handleFrames(v23)).map(msa)).toEqual(['CE']);
    expect(submit).not.toHaveBeenCalled();
  });

  it('when the connection is not admitted for MSH-4, then AR 207 at MSH-4 saying so, the refusal is reported without the message, and nothing is submitted', async () => {
    const refusals: unknown[] = [];
    const seen: unknown[] = [];
    const { receiver, submit } = setup({
      admitsConnection: (ods, connection) => { seen.push([ods, connection]); return false; },
      onRefused: (r) => { refusals.push(r); },
    });
    const connection = { remoteAddress: '127.0.0.9' };
    const ack = await receiver.handle(v251, { connection });
    expect(msa(ack)).toBe('AR');
    expect(errs(ack)[0]).toContain("This connection is not registered for sending facility 'RA7'");
    expect(field(ack, 'ERR', 2)).toMatch(/^MSH\^1\^4/);
    expect(seen).toEqual([['RA7', connection]]);
    expect(refusals).toEqual([{ sender: 'RA7', controlId: 'RA7-000918273', reason: 'connection-not-registered', connection }]);
    expect(submit).not.toHaveBeenCalled();
  });

  it('when the connection is admitted but MLLP_ALLOWED_SENDERS leaves the sender out, then AR and the refusal is reported', async () => {
    const refusals: { reason: string }[] = [];
    const { receiver, submit } = setup({ isSenderAllowed: () => false, onRefused: (r) => { refusals.push(r); } });
    expect(msa(await receiver.handle(v251, { connection: { remoteAddress: '127.0.0.1' } }))).toBe('AR');
    expect(refusals.map((r) => r.reason)).toEqual(['sender-not-allowed']);
    expect(submit).not.toHaveBeenCalled();
  });

  it('when a refused connection repeats the control id of an accepted message, then it gets AR, not the stored AA', async () => {
    let admit = true;
    const { receiver } = setup({ admitsConnection: () => admit });
    expect(msa(await receiver.handle(v251))).toBe('AA');
    admit = false;
    expect(msa(await receiver.handle(v251))).toBe('AR');
  });

  it('when the sender check itself fails, then AE 207', async () => {
    const { receiver } = setup({ isSenderAllowed: async () => Promise.reject(new Error('registry down')) });
    expect(msa(await receiver.handle(v251))).toBe('AE');
  });

  it('when an enhanced-mode message is rejected, then only CR is sent (it was never processed)', async () => {
    const { receiver } = setup();
    expect((await receiver.handleFrames(setField(v23, 'MSH', 12, '2.2'))).map(msa)).toEqual(['CR']);
  });

  it('when an enhanced-mode message has a content error, then CA then AE', async () => {
    const { receiver } = setup();
    expect((await receiver.handleFrames(setField(v23, 'PID', 3, ''))).map(msa)).toEqual(['CA', 'AE']);
  });

  it('when an oversize message is refused, then AR (CR in enhanced mode) echoes its control id from the first bytes', () => {
    const { receiver } = setup();
    expect(msa(receiver.rejectOversize(v251.slice(0, 200), 1000))).toBe('CR');
    const ack = receiver.rejectOversize(setField(setField(v251, 'MSH', 15, ''), 'MSH', 16, '').slice(0, 200), 1000);
    expect(msa(ack)).toBe('AR');
    expect(field(ack, 'MSA', 2)).toBe('RA7-000918273');
    expect(ack).toContain('maximum size of 1000 bytes');
  });
});

describe('v2 receiver: robustness', () => {
  it('when the sample is mutated at random (characters inserted, dropped, replaced), then every answer is one well-formed ACK', async () => {
    const { receiver } = setup();
    const alphabet = fc.constantFrom(...'|^~\\&\r\n\x00\x0bAZ09 .-+'.split(''));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(), alphabet, fc.constantFrom('insert', 'drop', 'replace')), { maxLength: 8 }), async (mutations) => {
        const chars = [...v251];
        for (const [at, ch, op] of mutations) {
          const i = at % (chars.length + 1);
          if (op === 'insert') chars.splice(i, 0, ch);
          else if (op === 'drop') chars.splice(i, 1);
          else chars[i] = ch;
        }
        const ack = await receiver.handle(chars.join(''));
        expect(ack.startsWith('MSH|^~\\&|ESO_BRIDGE|ESO|')).toBe(true);
        expect(['AA', 'AE', 'AR']).toContain(msa(ack));
      }),
      { numRuns: 300 },
    );
  });

  it('when arbitrary text arrives, then the answer is an ACK, never an exception', async () => {
    const { receiver } = setup();
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.string().map((t) => `MSH|^~\\&|${t}`)), async (text) => {
        expect(['AA', 'AE', 'AR']).toContain(msa(await receiver.handle(text)));
      }),
      { numRuns: 300 },
    );
  });
});
