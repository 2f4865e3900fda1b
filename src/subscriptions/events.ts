/**
 * Where subscription events are made: inside the transaction of the change that causes them
 * (domain/hooks.ts calls `onResourceChange` after a Task, DiagnosticReport or Consent is written).
 * Each matching Subscription of an organisation that may see the changed resource gets the next
 * number of its own counter and an outbox row, so a crash either keeps both the change and its
 * numbered event or neither, and numbers are gap-free per subscription.
 */
import type { Resource, Subscription } from 'fhir/r4.js';
import type { ResourceChange, ResourceChangeSink } from '../domain/ports.ts';
import { extractIndex, normaliseString, referenceKey, type SearchParameterRegistry } from '../fhir/search-params.ts';
import type { IndexRow, ResourceType, StorageTx } from '../storage/types.ts';
import { readSettings, type Filter } from './settings.ts';
import { TOPICS } from './topics.ts';

/** Outbox destinations: numbered events (one order per subscription), and handshakes/heartbeats. */
export const eventDestination = (subscriptionId: string) => `rest-hook:${subscriptionId}`;
export const controlDestination = (subscriptionId: string) => `rest-hook-ctl:${subscriptionId}`;
export const sequenceName = (subscriptionId: string) => `subscription:${subscriptionId}`;

/** One numbered event, as kept in the outbox (and replayed by $events). */
export interface EventRecord {
  subscription: string;
  topic: string;
  number: number;
  /** When the change was made (ISO instant). */
  timestamp: string;
  /** "Type/id" of the changed resource. */
  focus: string;
}

/** Subscriptions that still collect events: waiting for the handshake, active, or failing. */
const COLLECTING = [{ code: 'requested' }, { code: 'active' }, { code: 'error' }];
/** A bound on subscriptions read per change; more would mean a misbehaving subscriber. */
const MAX_SUBSCRIPTIONS_PER_TOPIC = 1000;

function matches(filter: Filter, rows: IndexRow[], baseUrl: string): boolean {
  return rows.some((r) => {
    if (r.param !== filter.param) return false;
    if (r.system !== null && filter.value.includes('|')) {
      const [sys, code] = filter.value.split('|');
      return (sys === '' || sys === r.system) && code === r.value;
    }
    if (r.value === filter.value) return true;
    return r.value !== null && r.value === referenceKey(filter.value, baseUrl);
  });
}

export class SubscriptionEventSink implements ResourceChangeSink {
  constructor(private readonly o: { searchParams: SearchParameterRegistry; baseUrl: () => string }) {}

  async onResourceChange(tx: StorageTx, change: ResourceChange): Promise<void> {
    const { resource, previous } = change;
    const topics = TOPICS.filter((t) => t.resourceType === resource.resourceType && t.triggers(resource, previous));
    if (!topics.length) return;
    let seenBy: string[] | undefined;
    let rows: IndexRow[] | undefined;
    for (const topic of topics) {
      const found = await tx.search({
        type: 'Subscription', count: MAX_SUBSCRIPTIONS_PER_TOPIC, offset: 0, total: 'none', sort: [{ kind: 'id', descending: false }],
        criteria: [{ kind: 'string', param: 'criteria', values: [normaliseString(topic.url)], exact: true }, { kind: 'token', param: 'status', values: COLLECTING }],
      });
      for (const { resource: sub } of found.resources) {
        // Tenancy: only a subscriber whose organisation may see this resource is told of it.
        seenBy ??= await tx.accessOf(resource.resourceType as ResourceType, resource.id as string);
        const owners = await tx.accessOf('Subscription', sub.id as string);
        if (!owners.some((o) => seenBy!.includes(o))) continue;
        let filters: Filter[];
        try {
          filters = readSettings(sub as Subscription, undefined, new Map()).filters;
        } catch {
          continue; // stored before a rule changed: it collects nothing until its owner fixes it
        }
        rows ??= extractIndex(resource, this.o.searchParams, this.o.baseUrl());
        if (!filters.every((f) => matches(f, rows!, this.o.baseUrl()))) continue;
        await this.record(tx, sub, topic.url, resource);
      }
    }
  }

  private async record(tx: StorageTx, sub: Resource, topic: string, focus: Resource): Promise<void> {
    const id = sub.id as string;
    const number = await tx.nextSequence(sequenceName(id));
    const event: EventRecord = { subscription: id, topic, number, timestamp: focus.meta?.lastUpdated ?? new Date().toISOString(), focus: `${focus.resourceType}/${focus.id}` };
    await tx.enqueueOutbound(eventDestination(id), 'subscription-event', JSON.stringify(event));
  }
}
