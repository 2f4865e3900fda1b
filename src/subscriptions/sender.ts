/**
 * The rest-hook delivery of the outbox (the dispatcher picks this sender by destination kind):
 * handshakes and heartbeats on `rest-hook-ctl:<id>`, numbered events on `rest-hook:<id>`, one in
 * flight per subscription, in number order. An event is sent only to an active Subscription; while
 * it is requested, in error or off the event waits (pending) and keeps its place, so re-activation
 * delivers the backlog in order. A failed send is retried with backoff for as long as the
 * Subscription is active; after `maxFailures` in a row the Subscription goes to `error`. The endpoint
 * allow-list is asked again before every send: an origin the operator has removed since the
 * Subscription was made gets nothing, and the Subscription goes to `error` saying why.
 */
import type { Subscription } from 'fhir/r4.js';
import type { Actor } from '../domain/ports.ts';
import type { Repository } from '../fhir/repository.ts';
import type { Logger } from '../shared/logger.ts';
import type { OutboxMessage, Storage } from '../storage/types.ts';
import { sequenceName, type EventRecord } from './events.ts';
import { notificationBundle, type NotificationType } from './notification.ts';
import { endpointRefusal, EXT, readSettings, type SubscriptionSettings } from './settings.ts';

export type MarkResult = Parameters<Storage['markOutbound']>[1];

export interface SenderOptions {
  storage: Storage;
  repoFor: (actor: Actor | undefined) => Repository;
  /** The FHIR base URL (…/fhir). */
  base: () => string;
  log: Logger;
  /** Failed event deliveries in a row that put a Subscription in error. */
  maxFailures: number;
  /** How long an event waits before looking again at a Subscription that is not active (ms). */
  holdMs: number;
  /** ESO_SUBSCRIPTION_ORIGINS as configured now (settings.ts parseAllowedOrigins). */
  allowedOrigins: Map<string, string[]>;
  /** Backoff after a failed delivery: base * 2^(failures-1), capped. */
  backoff: { baseMs: number; capMs: number };
  /** The outbox claim's lease (ms): a send is cut off before it runs out, so no other instance sends the same event meanwhile. */
  leaseMs: number;
  /** Told after every delivery attempt to a subscription (heartbeats count idle time from it). */
  onActivity?: (subscriptionId: string) => void;
  /**
   * Records the disclosure (an AuditEvent) before the notification leaves, as every read is recorded
   * before its answer: the subscriber's organisation and what the notification names or carries.
   */
  audit?: (disclosure: NotificationDisclosure) => Promise<void>;
}

/** What a notification discloses, for the audit trail. */
export interface NotificationDisclosure { organization: string; subscription: string; type: NotificationType; entities: string[] }

/** What a control row carries (handshake, heartbeat). */
export interface ControlRecord { subscription: string; type: 'handshake' | 'heartbeat' }

const later = (ms: number) => new Date(Date.now() + ms).toISOString();

export class RestHookSender {
  constructor(private readonly o: SenderOptions) {}

  /** Sends one claimed outbox row; never throws. */
  async send(msg: OutboxMessage, signal: AbortSignal): Promise<MarkResult> {
    try {
      const record = JSON.parse(msg.payload) as (EventRecord | ControlRecord) & { subscription: string };
      const stored = await this.o.storage.readResource('Subscription', record.subscription);
      if (!stored) return { status: 'failed', error: 'the Subscription no longer exists' };
      const sub = stored.resource as Subscription;
      const owner = (await this.o.storage.accessOf('Subscription', record.subscription))[0];
      if (!owner) return { status: 'failed', error: 'the Subscription has no organisation' };
      const settings = readSettings(sub, undefined, new Map());
      const refused = endpointRefusal(settings.endpoint, owner, this.o.allowedOrigins);
      if (refused && (sub.status === 'active' || sub.status === 'requested')) return await this.notAllowed(sub, settings, owner, refused, 'type' in record);
      if ('type' in record) return await this.control(record.type, sub, settings, owner, signal);
      return await this.event(record as EventRecord, sub, settings, owner, signal);
    } catch (e) {
      return { status: 'pending', error: e instanceof Error ? e.message.slice(0, 300) : 'delivery failed', nextAttemptAt: later(this.o.holdMs) };
    }
  }

  private async control(type: ControlRecord['type'], sub: Subscription, settings: SubscriptionSettings, owner: string, signal: AbortSignal): Promise<MarkResult> {
    // A handshake is for a Subscription still waiting for one; a heartbeat for an active one.
    if ((type === 'handshake' && sub.status !== 'requested') || (type === 'heartbeat' && sub.status !== 'active')) return { status: 'sent', error: 'not needed any more' };
    const error = await this.post(type, sub, settings, owner, [], signal);
    if (type === 'handshake') {
      await this.setStatus(sub.id as string, error ? { status: 'error', error } : { status: 'active', error: undefined, failures: 0 }, 'requested');
      return error ? { status: 'failed', error } : { status: 'sent' };
    }
    return error ? { status: 'failed', error } : { status: 'sent' };
  }

  /**
   * The endpoint's origin is no longer allowed: nothing is sent, the Subscription goes to `error` with the
   * reason (Backport IG: the subscriber re-activates it once the operator allows the origin again) and an
   * event keeps its place; the log names the Subscription and the origin, never what the notification holds.
   */
  private async notAllowed(sub: Subscription, settings: SubscriptionSettings, owner: string, refused: string, control: boolean): Promise<MarkResult> {
    const error = `Notifications stopped: ${refused}. Once it is allowed again, set status to requested`;
    await this.setStatus(sub.id as string, { status: 'error', error, failures: settings.failures }, sub.status);
    this.o.log.warn({ subscription: sub.id, organization: owner, origin: new URL(settings.endpoint).origin }, 'rest-hook endpoint no longer allowed: Subscription set to error, nothing sent');
    return control ? { status: 'failed', error } : { status: 'pending', error: `waiting: ${error}`, nextAttemptAt: later(this.o.holdMs) };
  }

  private async event(event: EventRecord, sub: Subscription, settings: SubscriptionSettings, owner: string, signal: AbortSignal): Promise<MarkResult> {
    if (sub.status !== 'active') return { status: 'pending', error: `waiting: the Subscription is ${sub.status}`, nextAttemptAt: later(this.o.holdMs) };
    const error = await this.post('event-notification', sub, settings, owner, [event], signal);
    if (!error) {
      if (settings.failures > 0) await this.setStatus(sub.id as string, { status: 'active', error: undefined, failures: 0 }, 'active');
      return { status: 'sent' };
    }
    const failures = settings.failures + 1;
    const toError = failures >= this.o.maxFailures;
    await this.setStatus(sub.id as string, { status: toError ? 'error' : 'active', error, failures }, 'active');
    const wait = Math.min(this.o.backoff.capMs, this.o.backoff.baseMs * 2 ** Math.min(20, failures - 1));
    return { status: 'pending', error, nextAttemptAt: later(toError ? this.o.holdMs : wait) };
  }

  /** POSTs the notification; the error text, or undefined on a 2xx. */
  private async post(type: NotificationType, sub: Subscription, settings: SubscriptionSettings, owner: string, events: EventRecord[], signal: AbortSignal): Promise<string | undefined> {
    const repo = this.o.repoFor({ organization: owner, agent: 'subscription-notification' });
    const eventsSinceStart = await this.o.storage.currentSequence(sequenceName(sub.id as string));
    const bundle = await notificationBundle({ base: this.o.base(), subscription: sub, type, eventsSinceStart }, events, settings.content, repo);
    const entities = (bundle.entry ?? []).map((e) => e.resource).filter((r) => r && r.resourceType !== 'Parameters').map((r) => `${r!.resourceType}/${r!.id}`);
    // Handshakes and heartbeats name no case: only event notifications disclose anything.
    if (type === 'event-notification') await this.o.audit?.({ organization: owner, subscription: sub.id as string, type, entities });
    const started = Date.now();
    try {
      const res = await fetch(settings.endpoint, {
        method: 'POST',
        headers: { ...Object.fromEntries(settings.headers), 'content-type': 'application/fhir+json' },
        body: JSON.stringify(bundle),
        signal: AbortSignal.any([signal, AbortSignal.timeout(Math.min(settings.timeoutSeconds * 1000, this.o.leaseMs - 1000))]),
        redirect: 'error',
      });
      await res.arrayBuffer().catch(() => undefined);
      this.o.log.info({ subscription: sub.id, type, status: res.status, ms: Date.now() - started }, 'rest-hook notification');
      return res.ok ? undefined : `the endpoint answered ${res.status}`;
    } catch (e) {
      const error = signal.aborted ? 'stopped while sending' : e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${settings.timeoutSeconds} s` : 'the endpoint could not be reached';
      this.o.log.warn({ subscription: sub.id, type, error, ms: Date.now() - started }, 'rest-hook notification failed');
      return error;
    } finally {
      this.o.onActivity?.(sub.id as string);
    }
  }

  /** The server's own write of status, error and failure count; only while the status is still `expected`. */
  private async setStatus(id: string, next: { status: Subscription['status']; error: string | undefined; failures?: number }, expected: Subscription['status']): Promise<void> {
    const system = this.o.repoFor(undefined);
    await system.inTx(async (repo, tx) => {
      await tx.lock(`resource:Subscription/${id}`);
      const current = (await repo.read<Subscription>('Subscription', id)).resource;
      if (current.status !== expected) return; // the subscriber changed it meanwhile: theirs stands
      const updated: Subscription = { ...current, status: next.status };
      if (next.error) updated.error = next.error;
      else delete updated.error;
      const failures = next.failures ?? 0;
      updated.extension = [...(current.extension ?? []).filter((e) => e.url !== EXT.failures), ...(failures ? [{ url: EXT.failures, valueUnsignedInt: failures }] : [])];
      if (!updated.extension.length) delete updated.extension;
      await repo.update(updated);
    });
  }
}
