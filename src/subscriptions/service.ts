/**
 * Subscriptions (FHIR R4 Subscriptions Backport IG 1.1, rest-hook) as the composition root wires
 * them: the write hook of Subscription resources, the sink that numbers events in the change's
 * transaction, the rest-hook sender the outbox dispatcher uses for `rest-hook*` destinations,
 * $status/$events, and heartbeats when a Subscription has been idle for its period.
 */
import type { Subscription } from 'fhir/r4.js';
import type { Actor } from '../domain/ports.ts';
import type { Repository } from '../fhir/repository.ts';
import type { SearchParameterRegistry } from '../fhir/search-params.ts';
import type { Logger } from '../shared/logger.ts';
import type { Storage } from '../storage/types.ts';
import { controlDestination, SubscriptionEventSink } from './events.ts';
import { subscriptionOperations } from './operations.ts';
import { RestHookSender, type ControlRecord, type SenderOptions } from './sender.ts';
import { parseAllowedOrigins, readSettings } from './settings.ts';
import { TOPICS } from './topics.ts';
import { subscriptionWriteHook } from './write-hook.ts';

export interface SubscriptionsOptions {
  storage: Storage;
  repoFor: (actor: Actor | undefined) => Repository;
  /** The FHIR base URL (…/fhir), known once HTTP listens. */
  base: () => string;
  log: Logger;
  maxFailures: number;
  /** The outbox claim's lease (ESO_OUTBOX_LEASE_MS). */
  leaseMs: number;
  backoff: { baseMs: number; capMs: number };
  /** How often idle Subscriptions are looked at for a heartbeat (ms). */
  heartbeatCheckMs?: number;
  /** Records each notification's disclosure before it is sent (sender.ts). */
  audit?: SenderOptions['audit'];
  /** ESO_SUBSCRIPTION_ORIGINS: asked again before every send. */
  allowedOrigins: string;
}

const HOLD_MS = 1000;

/** What a Subscription write and an event need, made before any repository (the repositories are made with them). */
export function subscriptionWrites(o: { searchParams: SearchParameterRegistry; base: () => string; /** ESO_SUBSCRIPTION_ORIGINS. */ allowedOrigins: string }) {
  return {
    hook: subscriptionWriteHook(parseAllowedOrigins(o.allowedOrigins)),
    sink: new SubscriptionEventSink({ searchParams: o.searchParams, baseUrl: o.base }),
  };
}

export function createSubscriptions(o: SubscriptionsOptions) {
  const lastActivity = new Map<string, number>();
  const sender = new RestHookSender({ storage: o.storage, repoFor: o.repoFor, base: o.base, log: o.log, maxFailures: o.maxFailures, holdMs: HOLD_MS, leaseMs: o.leaseMs,
    backoff: o.backoff, onActivity: (id) => lastActivity.set(id, Date.now()), audit: o.audit, allowedOrigins: parseAllowedOrigins(o.allowedOrigins) });
  let timer: NodeJS.Timeout | undefined;

  /** Queues a heartbeat for each active Subscription with a heartbeat period that has been idle that long. */
  async function heartbeats(): Promise<void> {
    const found = await o.storage.search({ type: 'Subscription', criteria: [{ kind: 'token', param: 'status', values: [{ code: 'active' }] }], count: 1000, offset: 0, total: 'none' });
    const now = Date.now();
    for (const { resource } of found.resources) {
      const id = resource.id as string;
      let period: number | undefined;
      try {
        period = readSettings(resource as Subscription, undefined, new Map()).heartbeatSeconds;
      } catch {
        continue;
      }
      if (!period) continue;
      const last = lastActivity.get(id);
      if (last === undefined) {
        lastActivity.set(id, now);
        continue;
      }
      if (now - last < period * 1000) continue;
      lastActivity.set(id, now);
      const control: ControlRecord = { subscription: id, type: 'heartbeat' };
      await o.storage.transaction((tx) => tx.enqueueOutbound(controlDestination(id), 'subscription-heartbeat', JSON.stringify(control)));
    }
  }

  return {
    topics: TOPICS.map((t) => t.url),
    documentation: `rest-hook, application/fhir+json, content empty, id-only (default) or full-resource. Topics and their filters (backport-filter-criteria): ${
      TOPICS.map((t) => `${t.url}: ${t.description} Filters on ${t.resourceType}: ${t.filters.join(', ')}.`).join(' ')}`,
    /** The outbox sender for `rest-hook:` and `rest-hook-ctl:` destinations. */
    send: sender.send.bind(sender),
    operations: subscriptionOperations(o.storage, o.base),
    startHeartbeats(): void {
      timer ??= setInterval(() => {
        heartbeats().catch((e: unknown) => o.log.warn({ err: e instanceof Error ? e.name : typeof e }, 'subscription heartbeat check failed'));
      }, o.heartbeatCheckMs ?? 1000);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type Subscriptions = ReturnType<typeof createSubscriptions>;
