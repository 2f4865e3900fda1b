/**
 * Notification Bundles (Subscriptions Backport IG 1.1, R4): a `history` Bundle whose first entry is
 * the SubscriptionStatus Parameters, then, for full-resource, the focus resources. What a
 * notification names or carries is read through a Repository acting for the subscriber's
 * organisation at the moment it is built, so tenancy and the consent gate hold now, not as they
 * were when the event was made: a focus the subscriber may not read is left out (id-only too).
 * https://hl7.org/fhir/uv/subscriptions-backport/STU1.1/notifications.html
 */
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource, Subscription } from 'fhir/r4.js';
import { randomUUID } from 'node:crypto';
import type { Repository } from '../fhir/repository.ts';
import { isOutcomeError } from '../shared/outcomes.ts';
import type { EventRecord } from './events.ts';
import type { PayloadContent } from './settings.ts';
import { BACKPORT } from './topics.ts';

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

export interface StatusInputs {
  /** The FHIR base URL (…/fhir). */
  base: string;
  subscription: Subscription;
  type: NotificationType;
  eventsSinceStart: number;
  /** Extra parameters (error), after the standard ones. */
  extra?: ParametersParameter[];
}

export function subscriptionStatus(s: StatusInputs, events: { event: EventRecord; focus?: string }[] = []): Parameters {
  const parameter: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: `${s.base}/Subscription/${s.subscription.id}` } },
    { name: 'topic', valueCanonical: s.subscription.criteria },
    { name: 'status', valueCode: s.subscription.status },
    { name: 'type', valueCode: s.type },
    { name: 'events-since-subscription-start', valueString: String(s.eventsSinceStart) },
    ...events.map(({ event, focus }): ParametersParameter => ({
      name: 'notification-event',
      part: [
        { name: 'event-number', valueString: String(event.number) },
        { name: 'timestamp', valueInstant: event.timestamp },
        ...(focus ? [{ name: 'focus', valueReference: { reference: focus } }] : []),
      ],
    })),
    ...(s.extra ?? []),
  ];
  return { resourceType: 'Parameters', meta: { profile: [`${BACKPORT}/StructureDefinition/backport-subscription-status-r4`] }, parameter };
}

/** The focus as the subscriber's organisation may read it now; undefined when it may not (never a hint why). */
async function readable(repo: Repository, focus: string): Promise<Resource | undefined> {
  const [type, id] = focus.split('/');
  try {
    return (await repo.read(type, id)).resource;
  } catch (e) {
    if (isOutcomeError(e) && e.status === 404) return undefined;
    throw e;
  }
}

/** A notification (or $events answer) Bundle for `events`, built as `repo` (the subscriber) sees things now. */
export async function notificationBundle(s: StatusInputs, events: EventRecord[], content: PayloadContent, repo: Repository): Promise<Bundle> {
  const named: { event: EventRecord; focus?: string }[] = [];
  const resources: BundleEntry[] = [];
  for (const event of events) {
    const found = content === 'empty' ? undefined : await readable(repo, event.focus);
    named.push({ event, focus: found ? `${s.base}/${event.focus}` : undefined });
    if (found && content === 'full-resource' && !resources.some((r) => r.fullUrl === `${s.base}/${event.focus}`)) {
      resources.push({ fullUrl: `${s.base}/${event.focus}`, resource: found, request: { method: 'PUT', url: event.focus }, response: { status: '200' } });
    }
  }
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${randomUUID()}`, resource: subscriptionStatus(s, named),
        request: { method: 'GET', url: `Subscription/${s.subscription.id}/$status` }, response: { status: '200' } },
      ...resources,
    ],
  };
}
