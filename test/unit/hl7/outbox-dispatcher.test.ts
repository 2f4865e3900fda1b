import { Hl7Message } from '@medplum/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { CaseEvent } from '../../../src/domain/ports.ts';
import { V2CaseEventSink } from '../../../src/hl7/case-event-sink.ts';
import { backoffMs, OutboxDispatcher, type OutboxDispatcherOptions } from '../../../src/hl7/outbox-dispatcher.ts';
import { FakeStorage } from './fake-storage.ts';
import { fixtureJson } from './samples.ts';
import { eprStandIn, type EprBehaviour } from '../../helpers/epr-stand-in.ts';

type Behaviour = EprBehaviour;

/** The shared EPR stand-in, listening on a free loopback port. */
async function startEpr(behaviour: () => Behaviour) {
  const epr = eprStandIn(behaviour, 'Unknown patient');
  const port = await epr.listen();
  return { port, received: epr.received, close: epr.close };
}

const completed = fixtureJson('case-event-completed.json') as CaseEvent;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(behaviour: () => Behaviour, o: Partial<OutboxDispatcherOptions> = {}) {
  const epr = await startEpr(behaviour);
  const storage = new FakeStorage();
  const endpoints = { RA7: { host: '127.0.0.1', port: epr.port, messages: ['RRI^I12' as const] } };
  await new V2CaseEventSink(endpoints).onCaseEvent(storage.tx, completed);
  const dispatcher = new OutboxDispatcher({ storage, endpoints, pollMs: 10, connectTimeoutMs: 300, answerTimeoutMs: 300, leaseMs: 5000, backoff: { baseMs: 60_000, jitter: 0 }, ...o });
  cleanups.push(epr.close, () => dispatcher.stop());
  dispatcher.start();
  const marked = async (n = 1) => {
    const end = Date.now() + 5000;
    while (storage.marks.length < n) {
      if (Date.now() > end) throw new Error('no outcome recorded');
      await new Promise((r) => setTimeout(r, 5));
    }
    return storage.marks[n - 1].result;
  };
  return { epr, storage, dispatcher, marked };
}

describe('outbox dispatcher', () => {
  it('when a message is committed while the dispatcher is claiming (not asleep), then its nudge is kept and the message goes at once, not at the next poll', async () => {
    const epr = await startEpr(() => 'AA');
    const storage = new FakeStorage();
    const endpoints = { RA7: { host: '127.0.0.1', port: epr.port, messages: ['RRI^I12' as const] } };
    // The poll is ten minutes: only a nudge can make this send happen within the test.
    const dispatcher = new OutboxDispatcher({ storage, endpoints, pollMs: 600_000, connectTimeoutMs: 300, answerTimeoutMs: 300, leaseMs: 5000, backoff: { baseMs: 60_000, jitter: 0 } });
    const claim = storage.claimOutbound;
    let first = true;
    storage.claimOutbound = async (now, leaseMs) => {
      if (!first) return claim(now, leaseMs);
      first = false;
      // The message commits, and its nudge arrives, while this first claim (which saw nothing) is still running.
      await new V2CaseEventSink(endpoints).onCaseEvent(storage.tx, completed);
      dispatcher.nudge();
      return null;
    };
    cleanups.push(epr.close, () => dispatcher.stop());
    dispatcher.start();
    const end = Date.now() + 5000;
    while (storage.marks.length < 1 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(storage.marks[0]?.result).toEqual({ status: 'sent' });
  });

  it.each(['AA', 'CA', 'slow'] as const)('when the EPR answers %s, then the message is marked sent', async (b) => {
    const { marked, epr } = await setup(() => b);
    expect(await marked()).toEqual({ status: 'sent' });
    expect(Hl7Message.parse(epr.received[0]).getSegment('MSH')!.getField(9).toString()).toBe('RRI^I12^RRI_I12');
  });

  it.each(['AE', 'AR'] as const)('when the EPR answers %s, then the message is marked failed with its text, and not retried', async (b) => {
    const { marked, storage } = await setup(() => b);
    expect(await marked()).toEqual({ status: 'failed', error: `${b}: Unknown patient` });
    await new Promise((r) => setTimeout(r, 100));
    expect(storage.marks).toHaveLength(1);
  });

  it.each([
    ['never answers', 'silent', 'answer-timeout'],
    ['resets the connection', 'reset', 'connection-error'],
    ['hangs up without answering', 'hangup', 'closed'],
  ] as const)('when the EPR %s, then the message goes back to pending with a backoff', async (_name, b, error) => {
    const { marked } = await setup(() => b);
    const result = await marked();
    expect(result.status).toBe('pending');
    expect(result.error).toContain(error);
    expect(Date.parse(result.nextAttemptAt!) - Date.now()).toBeGreaterThan(50_000);
  });

  it('when the EPR answers something that is not an ACK, then it is recorded as failed', async () => {
    const { marked } = await setup(() => 'garbage');
    expect(await marked()).toMatchObject({ status: 'failed' });
  });

  it('when nothing listens on the EPR port, then the message goes back to pending', async () => {
    const { marked, epr } = await setup(() => 'AA', { endpoints: { RA7: { host: '127.0.0.1', port: 1 } } });
    expect((await marked()).status).toBe('pending');
    expect(epr.received).toHaveLength(0);
  });

  it('when a transient failure is followed by a working EPR, then the retry is sent', async () => {
    const answers: Behaviour[] = ['silent', 'AA'];
    const { marked, storage } = await setup(() => answers.shift() ?? 'AA', { backoff: { baseMs: 10, jitter: 0 } });
    expect((await marked(1)).status).toBe('pending');
    expect(await marked(2)).toEqual({ status: 'sent' });
    expect(storage.outbox[0].attempts).toBe(2);
  });

  it('when the storage fails to claim, then the loop keeps going and delivers once it recovers', async () => {
    const epr = await startEpr(() => 'AA');
    const storage = new FakeStorage();
    const endpoints = { RA7: { host: '127.0.0.1', port: epr.port, messages: ['RRI^I12' as const] } };
    await new V2CaseEventSink(endpoints).onCaseEvent(storage.tx, completed);
    storage.failing = true;
    const dispatcher = new OutboxDispatcher({ storage, endpoints, pollMs: 5 });
    cleanups.push(epr.close, () => dispatcher.stop());
    dispatcher.start();
    await new Promise((r) => setTimeout(r, 80));
    storage.failing = false;
    const end = Date.now() + 5000;
    while (storage.marks.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(storage.marks[0]?.result).toEqual({ status: 'sent' });
  });

  it('when idle with a long poll interval, then nudge() delivers at once', async () => {
    const epr = await startEpr(() => 'AA');
    const storage = new FakeStorage();
    const endpoints = { RA7: { host: '127.0.0.1', port: epr.port, messages: ['RRI^I12' as const] } };
    const dispatcher = new OutboxDispatcher({ storage, endpoints, pollMs: 60_000 });
    cleanups.push(epr.close, () => dispatcher.stop());
    dispatcher.start();
    await new Promise((r) => setTimeout(r, 20));
    await new V2CaseEventSink(endpoints).onCaseEvent(storage.tx, completed);
    dispatcher.nudge();
    const end = Date.now() + 2000;
    while (storage.marks.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(storage.marks[0]?.result).toEqual({ status: 'sent' });
  });

  it('when the destination has no endpoint any more, then it is recorded as failed', async () => {
    const storage = new FakeStorage();
    await storage.tx.enqueueOutbound('mllp:RGT', 'hl7v2:RRI^I12', 'MSH|^~\\&|A');
    const dispatcher = new OutboxDispatcher({ storage, endpoints: {}, pollMs: 5 });
    cleanups.push(() => dispatcher.stop());
    dispatcher.start();
    const end = Date.now() + 2000;
    while (storage.marks.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(storage.marks[0]?.result).toEqual({ status: 'failed', error: 'no route: no MLLP endpoint configured for mllp:RGT (ESO_EPR_ENDPOINTS)' });
  });

  it('when the timeouts are not shorter than the lease, then the dispatcher refuses to start', () => {
    expect(() => new OutboxDispatcher({ storage: new FakeStorage(), endpoints: {}, leaseMs: 1000, answerTimeoutMs: 1000 })).toThrow(/lease/);
  });
});

describe('backoff', () => {
  it('when attempts grow, then the delay doubles up to the cap', () => {
    const o = { baseMs: 1000, capMs: 10_000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffMs(a, o))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('when jitter is set, then the delay stays within ± jitter', () => {
    for (const r of [0, 0.5, 0.999]) {
      const d = backoffMs(3, { baseMs: 1000, jitter: 0.2 }, () => r);
      expect(d).toBeGreaterThanOrEqual(3200);
      expect(d).toBeLessThanOrEqual(4800);
    }
  });
});

describe('OutboxDispatcher: senders of other destination kinds', () => {
  it('when a destination has a sender for its kind, then that sender delivers it and its outcome is recorded; a pending one gets the backoff', async () => {
    const storage = new FakeStorage();
    await storage.tx.enqueueOutbound('rest-hook:sub-1', 'subscription-event', '{"n":1}');
    await storage.tx.enqueueOutbound('rest-hook:sub-2', 'subscription-event', '{"n":1}');
    const seen: string[] = [];
    const dispatcher = new OutboxDispatcher({
      storage, endpoints: {}, pollMs: 10, leaseMs: 60_000, backoff: { baseMs: 60_000, jitter: 0 },
      senders: { 'rest-hook': async (msg) => {
        seen.push(msg.destination);
        return msg.destination.endsWith('1') ? { status: 'sent' } : { status: 'pending', error: 'the endpoint answered 500' };
      } },
    });
    dispatcher.start();
    cleanups.push(() => dispatcher.stop());
    const end = Date.now() + 5000;
    while (storage.marks.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    expect(seen.sort()).toEqual(['rest-hook:sub-1', 'rest-hook:sub-2']);
    expect(storage.marks.find((m) => m.id === 1)!.result).toEqual({ status: 'sent' });
    const pending = storage.marks.find((m) => m.id === 2)!.result;
    expect(pending).toMatchObject({ status: 'pending', error: 'the endpoint answered 500' });
    expect(Date.parse(pending.nextAttemptAt!) - Date.now()).toBeGreaterThan(30_000);
  });
});
