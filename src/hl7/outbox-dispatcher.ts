/**
 * Sends the HL7 v2 outbox: claim the next due message, send it over MLLP to its EPR, record the
 * outcome. AA/CA → sent; AE/AR/CE/CR → failed (recorded with the ACK's text, visible in
 * listOutbound, not retried: resending the same content gets the same answer); no answer,
 * timeout or connection error → pending again after an exponential backoff with a cap and jitter.
 * The claim is a lease, so several instances on one PostgreSQL never send one message twice at
 * once; the send timeouts are kept below the lease, and an outcome is recorded only while the
 * lease is still held (a sender that stalled past it cannot undo the next claim's delivery).
 */
import type { OutboxMessage, Storage } from '../storage/types.ts';
import type { V2Endpoint } from './case-event-sink.ts';
import { readHeader } from './er7.ts';
import { silentLogger, type Hl7Logger } from './hl7-logger.ts';
import { sendMllpMessage, type MllpClientOptions } from './mllp-client.ts';

export interface OutboxDispatcherOptions {
  storage: Pick<Storage, 'claimOutbound'> & { markOutbound(...args: Parameters<Storage['markOutbound']>): Promise<boolean | void> };
  /** EPR endpoints by ODS code (the same map as V2CaseEventSink's). */
  endpoints: Record<string, V2Endpoint>;
  /** Idle poll interval; default 200 ms. */
  pollMs?: number;
  /** Claim lease; default 60 s; must exceed connect + answer timeouts. */
  leaseMs?: number;
  connectTimeoutMs?: number;
  answerTimeoutMs?: number;
  /** Backoff after a transient failure: base * 2^(attempts-1), capped, ± jitter; defaults 1 s, 5 min, 0.2. */
  backoff?: { baseMs?: number; capMs?: number; jitter?: number };
  logger?: Hl7Logger;
  now?: () => Date;
  random?: () => number;
  /** Replaces the MLLP send (tests); `signal` aborts when the dispatcher stops. */
  send?: (endpoint: V2Endpoint, payload: string, timeouts: Pick<MllpClientOptions, 'connectTimeoutMs' | 'answerTimeoutMs'>, signal?: AbortSignal) => Promise<string>;
  /**
   * Senders of other destination kinds (the part of the destination before ':', e.g. `rest-hook`):
   * each answers the outcome to record (pending with its own nextAttemptAt, or the backoff here).
   */
  senders?: Record<string, (msg: OutboxMessage, signal: AbortSignal) => Promise<Parameters<Storage['markOutbound']>[1]>>;
}

/** The delay before attempt `attempts + 1`. Exported for tests. */
export function backoffMs(attempts: number, o: { baseMs?: number; capMs?: number; jitter?: number } = {}, random: () => number = Math.random): number {
  const base = o.baseMs ?? 1000, cap = o.capMs ?? 300_000, jitter = o.jitter ?? 0.2;
  const raw = Math.min(cap, base * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  return Math.max(0, Math.round(raw * (1 - jitter + 2 * jitter * random())));
}

/** Polls the outbox and sends HL7 v2 messages to EPRs. start() once; stop() waits for the send in progress. */
export class OutboxDispatcher {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** A nudge that came while the loop was not asleep (claiming or sending): the next sleep is skipped. */
  private nudged = false;
  /** Aborts the send in progress (stop() does not wait out an EPR that does not answer). */
  private sending: AbortController | undefined;
  private readonly log: Hl7Logger;
  private readonly endpoints: Record<string, V2Endpoint>;

  constructor(private readonly o: OutboxDispatcherOptions) {
    this.log = o.logger ?? silentLogger;
    this.endpoints = Object.fromEntries(Object.entries(o.endpoints).map(([k, v]) => [k.toUpperCase(), v]));
    const lease = o.leaseMs ?? 60_000;
    if ((o.connectTimeoutMs ?? 5000) + (o.answerTimeoutMs ?? 30_000) >= lease) throw new Error('OutboxDispatcher: connect + answer timeouts must be shorter than the lease');
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops polling and gives up the send in progress, if any: that message is recorded as pending
   * and due at once, so another instance takes it over now (the EPR may then see it twice, with
   * the same MSH-10). Resolves when it is recorded.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.sending?.abort();
    this.nudge();
    await this.loop;
  }

  /** Wakes the loop now (after something was enqueued) instead of at the next poll. */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let msg: OutboxMessage | null = null;
      // Nudges from here on are for messages this claim may not see yet (committed after it started).
      this.nudged = false;
      try {
        msg = await this.o.storage.claimOutbound(this.now().toISOString(), this.o.leaseMs ?? 60_000);
      } catch (e) {
        this.log.error({ err: e instanceof Error ? e.name : typeof e }, 'outbox claim failed');
        await this.sleep((this.o.pollMs ?? 200) * 10);
        continue;
      }
      if (!msg) {
        await this.sleep(this.o.pollMs ?? 200);
        continue;
      }
      await this.deliver(msg);
    }
  }

  /** Sends one claimed message and records the result. Never throws. */
  private async deliver(msg: OutboxMessage): Promise<void> {
    const started = Date.now();
    const log = { outboxId: msg.id, destination: msg.destination, kind: msg.kind, attempt: msg.attempts };
    let result: Parameters<Storage['markOutbound']>[1];
    const endpoint = msg.destination.startsWith('mllp:') ? this.endpoints[msg.destination.slice(5).toUpperCase()] : undefined;
    const later = (ms: number) => new Date(this.now().getTime() + ms).toISOString();
    const other = this.o.senders?.[msg.destination.slice(0, msg.destination.indexOf(':'))];
    if (other) {
      const sending = new AbortController();
      this.sending = sending;
      try {
        result = await other(msg, sending.signal);
      } catch (e) {
        result = { status: 'pending', error: e instanceof Error ? e.message : 'send failed' };
      } finally {
        this.sending = undefined;
      }
      if (sending.signal.aborted && result.status === 'pending') result = { status: 'pending', error: 'stopped while sending: handed back', nextAttemptAt: later(0) };
      if (result.status === 'pending') result.nextAttemptAt ??= later(backoffMs(msg.attempts, this.o.backoff, this.o.random));
    } else if (!msg.destination.startsWith('mllp:')) {
      // Another way out's message (claimOutbound cannot filter by destination yet): hand it back
      // a little later, so this loop does not spin on it.
      result = { status: 'pending', error: msg.lastError ?? undefined, nextAttemptAt: later(5000) };
    } else if (!endpoint) {
      // Its endpoint was removed from the configuration: recorded, visible, not retried.
      result = { status: 'failed', error: `no route: no MLLP endpoint configured for ${msg.destination} (ESO_EPR_ENDPOINTS)` };
    } else {
      const sending = new AbortController();
      this.sending = sending;
      try {
        const answer = await (this.o.send ?? defaultSend)(endpoint, msg.payload, { connectTimeoutMs: this.o.connectTimeoutMs ?? 5000, answerTimeoutMs: this.o.answerTimeoutMs ?? 30_000 }, sending.signal);
        result = judge(answer);
      } catch (e) {
        result = sending.signal.aborted
          ? { status: 'pending', error: 'stopped while sending: handed back', nextAttemptAt: later(0) }
          : { status: 'pending', error: e instanceof Error ? e.message : 'send failed' };
      } finally {
        this.sending = undefined;
      }
      if (result.status === 'pending') result.nextAttemptAt ??= later(backoffMs(msg.attempts, this.o.backoff, this.o.random));
    }
    try {
      if ((await this.o.storage.markOutbound(msg.id, result, msg.leaseUntil)) === false) {
        // Our lease ran out during the send and another claim holds the message: its outcome counts.
        this.log.warn({ ...log, status: result.status }, 'outbox outcome not recorded: the lease had run out');
        return;
      }
    } catch (e) {
      // The lease runs out and the message is claimed again: the EPR may see it twice (same MSH-10).
      this.log.error({ ...log, err: e instanceof Error ? e.name : typeof e }, 'outbox mark failed');
    }
    const level = result.status === 'sent' ? 'info' : 'warn';
    this.log[level]({ ...log, status: result.status, ms: Date.now() - started }, 'outbox message processed');
  }

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  private sleep(ms: number): Promise<void> {
    if (this.nudged) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    }).then(() => {
      this.wake = undefined;
    });
  }
}

function defaultSend(endpoint: V2Endpoint, payload: string, timeouts: Pick<MllpClientOptions, 'connectTimeoutMs' | 'answerTimeoutMs'>, signal?: AbortSignal): Promise<string> {
  return sendMllpMessage({ host: endpoint.host, port: endpoint.port, tls: endpoint.tls, ...timeouts, message: payload, signal });
}

/**
 * AA/CA: delivered. AE/AR/CR: refused, recorded with MSA-3 / ERR-8 text. CE (commit error: the
 * peer could not store it) is transient: retried. An answer without a known code is recorded as failed.
 */
function judge(answer: string): Parameters<Storage['markOutbound']>[1] {
  const h = readHeader(answer);
  const lines = answer.split(/\r\n|\r|\n/);
  const field = (seg: string, n: number) => {
    const line = lines.find((l) => l.startsWith(seg));
    return line?.split(h?.separators.field ?? '|')[n]?.split(h?.separators.component ?? '^')[0];
  };
  const code = (field('MSA', 1) ?? '').toUpperCase();
  if (code === 'AA' || code === 'CA') return { status: 'sent' };
  const text = field('MSA', 3) || field('ERR', 8) || '';
  const error = `${code || 'answer without MSA'}${text ? `: ${text}` : ''}`.slice(0, 500);
  return { status: code === 'CE' ? 'pending' : 'failed', error };
}
