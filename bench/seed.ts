/** Seeds N Tasks straight through the storage layer, in large transactions (bench only). */
import type { Task } from 'fhir/r4.js';
import { extractIndex, SearchParameterRegistry } from '../src/fhir/search-params.ts';
import type { Storage } from '../src/storage/types.ts';

export const OWNERS = 200;
/** The base table is enough for the Task fields seeded here. */
const SEARCH_PARAMS = SearchParameterRegistry.build();
const STATUSES: Task['status'][] = ['requested', 'received', 'accepted', 'in-progress', 'completed', 'completed', 'completed', 'cancelled', 'rejected', 'on-hold'];

export function benchTask(i: number): Task {
  return {
    resourceType: 'Task', status: STATUSES[Math.imul(i, 2654435761) >>> 28 > 9 ? (Math.imul(i, 2654435761) >>> 28) - 6 : Math.imul(i, 2654435761) >>> 28], intent: 'order',
    code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill' }] },
    identifier: [{ system: 'https://bench.example/task', value: `t${i}` }],
    focus: { reference: `ServiceRequest/sr-${i}` }, for: { reference: `Patient/p-${i % 50_000}` },
    requester: { reference: `Organization/req-${(i * 7) % OWNERS}` }, owner: { reference: `Organization/org-${i % OWNERS}` },
    authoredOn: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(), priority: i % 10 === 0 ? 'urgent' : 'routine',
  };
}

/** Inserts tasks [from, to) in transactions of `batch`; returns rows per second. */
export async function seedTasks(storage: Storage, from: number, to: number, batch = 5000, progress?: (n: number) => void): Promise<number> {
  const start = Date.now();
  for (let i = from; i < to; i += batch) {
    const end = Math.min(to, i + batch);
    await storage.transaction(async (tx) => {
      for (let j = i; j < end; j++) {
        const t = benchTask(j);
        await tx.insertResource(t, extractIndex(t, SEARCH_PARAMS));
      }
    });
    progress?.(end);
  }
  return (to - from) / ((Date.now() - start) / 1000);
}
