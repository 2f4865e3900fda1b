import type { Resource, Subscription, Task } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { domainHook } from '../../../src/domain/hooks.ts';
import { loadConformance } from '../../../src/fhir/conformance.ts';
import type { Repository } from '../../../src/fhir/repository.ts';
import type { SearchQuery, SearchResult, StorageTx } from '../../../src/storage/types.ts';
import { SubscriptionEventSink } from '../../../src/subscriptions/events.ts';

const TOPIC = 'https://fhir.eso-bridge.nhs.uk/SubscriptionTopic/task-status';
const { searchParams } = loadConformance();

const subscription = (id: string): Subscription => ({ resourceType: 'Subscription', id, status: 'active', reason: 'x', criteria: TOPIC, channel: { type: 'rest-hook', endpoint: 'https://engine.rz1.nhs.uk/hook', payload: 'application/fhir+json' } });
const task = (id: string, status: Task['status']): Task => ({ resourceType: 'Task', id, status, intent: 'order', meta: { lastUpdated: '2026-01-01T00:00:00Z' } });

/** A transaction over a list of stored Subscriptions (every one granted to RZ1, as is every Task): counts its searches, keeps its outbox rows. */
function fakeTx(stored: Subscription[]) {
  const searches: SearchQuery[] = [];
  const outbox: string[] = [];
  let seq = 0;
  const tx = {
    search: async (q: SearchQuery): Promise<SearchResult> => {
      searches.push(q);
      return { resources: stored.map((resource) => ({ resource: resource as Resource, versionId: 1, lastUpdated: '2026-01-01T00:00:00Z' })), hasMore: false } as SearchResult;
    },
    accessOf: async () => ['RZ1'],
    nextSequence: async () => ++seq,
    enqueueOutbound: async (destination: string) => { outbox.push(destination); },
  } as unknown as StorageTx;
  return { tx, searches, outbox };
}

describe('SubscriptionEventSink: the collecting Subscriptions of a topic, per transaction', () => {
  const sink = () => new SubscriptionEventSink({ searchParams, baseUrl: () => 'https://eso.example/fhir' });

  it('when two Tasks change in one transaction, then the Subscriptions of their topic are searched once and each change is an event', async () => {
    const s = sink();
    const { tx, searches, outbox } = fakeTx([subscription('s1')]);
    await s.onResourceChange(tx, { resource: task('t1', 'requested') });
    await s.onResourceChange(tx, { resource: task('t2', 'requested') });
    expect(searches).toHaveLength(1);
    expect(outbox).toEqual(['rest-hook:s1', 'rest-hook:s1']);
  });

  it('when a Subscription is written between two changes, then the second change searches again and finds it', async () => {
    const s = sink();
    const stored = [subscription('s1')];
    const { tx, searches, outbox } = fakeTx(stored);
    await s.onResourceChange(tx, { resource: task('t1', 'requested') });
    stored.push(subscription('s2'));
    await s.onResourceChange(tx, { resource: subscription('s2') });
    await s.onResourceChange(tx, { resource: task('t2', 'requested') });
    expect(searches).toHaveLength(2);
    expect(outbox).toEqual(['rest-hook:s1', 'rest-hook:s1', 'rest-hook:s2']);
  });

  it('when the next transaction changes a Task, then it searches again (what another instance committed meanwhile is found)', async () => {
    const s = sink();
    const first = fakeTx([subscription('s1')]);
    await s.onResourceChange(first.tx, { resource: task('t1', 'requested') });
    const second = fakeTx([subscription('s1'), subscription('s3')]);
    await s.onResourceChange(second.tx, { resource: task('t2', 'requested') });
    expect(second.searches).toHaveLength(1);
    expect(second.outbox).toEqual(['rest-hook:s1', 'rest-hook:s3']);
  });

  it('when a Subscription is written, then the domain hook tells the sink (so the transaction searches again)', async () => {
    const told: string[] = [];
    const hook = domainHook(undefined, { onResourceChange: async (_tx, c) => { told.push(c.resource.resourceType); } });
    const { tx } = fakeTx([]);
    await hook.afterWrite!({ resource: subscription('s2'), versionId: 1, lastUpdated: '2026-01-01T00:00:00Z' }, undefined, {} as Repository, tx);
    expect(told).toEqual(['Subscription']);
  });
});
