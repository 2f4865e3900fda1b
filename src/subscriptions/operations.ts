/**
 * $status and $events on a Subscription (Subscriptions Backport IG 1.1), answered for the caller's
 * own Subscriptions only (its Repository: another organisation's is 404). $events replays the
 * numbered events kept in the outbox by number range, built as the caller may read things now.
 * https://hl7.org/fhir/uv/subscriptions-backport/STU1.1/OperationDefinition-backport-subscription-status.html
 * https://hl7.org/fhir/uv/subscriptions-backport/STU1.1/OperationDefinition-backport-subscription-events.html
 */
import type { Bundle, ParametersParameter, Resource, Subscription } from 'fhir/r4.js';
import type { Repository } from '../fhir/repository.ts';
import { badRequest } from '../shared/outcomes.ts';
import type { Storage } from '../storage/types.ts';
import { eventDestination, sequenceName, type EventRecord } from './events.ts';
import { notificationBundle, subscriptionStatus } from './notification.ts';
import { readSettings, type PayloadContent } from './settings.ts';

/** Most events one $events answer carries; ask again from the next number for more. */
export const MAX_EVENTS_PER_PAGE = 100;

type Query = Record<string, string[]>;

const one = (q: Query, name: string): string | undefined => {
  const v = q[name];
  if (v && v.length > 1) throw badRequest(`${name} may be given once`, name);
  return v?.[0];
};

function number(q: Query, name: string): number | undefined {
  const v = one(q, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v)) throw badRequest(`${name} must be an event number`, name);
  return Number(v);
}

export function subscriptionOperations(storage: Pick<Storage, 'currentSequence' | 'listOutbound'>, base: () => string) {
  const errorParams = (sub: Subscription): ParametersParameter[] => {
    const failures = Number(sub.extension?.find((e) => e.url.endsWith('/subscription-delivery-failures'))?.valueUnsignedInt ?? 0);
    return sub.error || failures
      ? [{ name: 'error', valueCodeableConcept: { text: `${failures} failed deliveries in a row${sub.error ? `; last: ${sub.error}` : ''}` } }]
      : [];
  };

  async function status(id: string, _q: Query, repo: Repository): Promise<Resource> {
    const sub = (await repo.read<Subscription>('Subscription', id)).resource;
    const eventsSinceStart = await storage.currentSequence(sequenceName(id));
    const bundle: Bundle = {
      resourceType: 'Bundle', type: 'searchset', total: 1,
      entry: [{ resource: subscriptionStatus({ base: base(), subscription: sub, type: 'query-status', eventsSinceStart, extra: errorParams(sub) }), search: { mode: 'match' } }],
    };
    return bundle;
  }

  async function events(id: string, q: Query, repo: Repository): Promise<Resource> {
    const sub = (await repo.read<Subscription>('Subscription', id)).resource;
    const since = number(q, 'eventsSinceNumber') ?? 1;
    const until = number(q, 'eventsUntilNumber') ?? Number.MAX_SAFE_INTEGER;
    const asked = one(q, 'content');
    if (asked !== undefined && !['empty', 'id-only', 'full-resource'].includes(asked)) throw badRequest(`content must be empty, id-only or full-resource`, 'content');
    const content = (asked ?? readSettings(sub, undefined, new Map()).content) as PayloadContent;
    const eventsSinceStart = await storage.currentSequence(sequenceName(id));
    // Events are outbox rows of this subscription's destination, in number order (sent or not).
    const rows = await storage.listOutbound({ destination: eventDestination(id), limit: Math.min(eventsSinceStart, until) + 1 });
    const found = rows.map((r) => JSON.parse(r.payload) as EventRecord).filter((e) => e.number >= since && e.number <= until).slice(0, MAX_EVENTS_PER_PAGE);
    return notificationBundle({ base: base(), subscription: sub, type: 'query-event', eventsSinceStart }, found, content, repo);
  }

  return { 'Subscription/$status': status, 'Subscription/$events': events };
}
