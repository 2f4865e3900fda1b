/** What the subscription crash and multi-instance tests share: the service's environment, the subscriber, a burst of cases, the checks. */
import type { Bundle, Parameters, Subscription } from 'fhir/r4.js';
import { expect } from 'vitest';
import { requestInput, type Party } from '../eso/harness.ts';
import type { World } from '../../reliability/world.ts';
import { eventsOf, eventually, param, type Receiver } from './receiver.ts';

export const REQUESTER = 'RZ1';
export const PROVIDER = 'RZ2NP';
const TOPIC = 'https://fhir.eso-bridge.nhs.uk/SubscriptionTopic/task-status';
const BP = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

export const envFor = (world: World) => ({
  ...world.env, MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'true', ESO_OUTBOX_POLL_MS: '20',
  // A lease just above the subscriber's 2 s timeout, so a send cut off by the kill is taken over soon after restart.
  ESO_OUTBOX_CONNECT_TIMEOUT_MS: '1000', ESO_OUTBOX_ANSWER_TIMEOUT_MS: '1500', ESO_OUTBOX_LEASE_MS: '3000',
  ESO_OUTBOX_BACKOFF_BASE_MS: '50', ESO_OUTBOX_BACKOFF_CAP_MS: '200', ESO_SUBSCRIPTION_ORIGINS: `${PROVIDER}=http://127.0.0.1:*`,
});

export async function subscribe(provider: Party, endpoint: string): Promise<string> {
  const res = await provider.post<Subscription>('/fhir/Subscription', {
    resourceType: 'Subscription', status: 'requested', reason: 'engine', criteria: TOPIC,
    channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json', extension: [{ url: `${BP}/backport-timeout`, valueUnsignedInt: 2 }] },
  });
  if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${JSON.stringify(res.body)}`);
  const id = res.body.id!;
  await eventually(async () => (await provider.get<Subscription>(`/fhir/Subscription/${id}`)).body.status === 'active', 'active');
  return id;
}

/** Creates cases from `writers` concurrent loops until `stop()`; the Task ids acknowledged (201). */
export function burst(requester: () => Party, writers = 3) {
  const acknowledged: string[] = [];
  const refused: string[] = [];
  let stopped = false;
  const loops = Array.from({ length: writers }, async () => {
    while (!stopped) {
      try {
        const res = await requester().post('/eso/requests', requestInput());
        if (res.status === 201) acknowledged.push(res.body.task.id);
        else if (refused.length < 5) refused.push(`${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
      } catch {
        await new Promise((r) => setTimeout(r, 20)); // the service is down: try again
      }
    }
  });
  return { acknowledged, refused, async stop() { stopped = true; await Promise.all(loops); } };
}

/** The subscription's events by number, through $events (pages of 100). */
export async function allEvents(provider: Party, id: string): Promise<{ number: number; focus?: string }[]> {
  const out: { number: number; focus?: string }[] = [];
  for (let since = 1; ; since += 100) {
    const res = await provider.get<Bundle>(`/fhir/Subscription/${id}/$events?eventsSinceNumber=${since}`);
    const page = eventsOf(res.body.entry![0].resource as Parameters);
    out.push(...page);
    if (page.length < 100) return out;
  }
}

/** Checks what the receiver got against the events: each at least once, same focus, first receipts in order. */
export function checkDelivery(hook: Receiver, id: string, events: { number: number; focus?: string }[], exactlyOnce: boolean): void {
  const received = hook.received.filter((r) => param(r.status, 'type')?.valueCode === 'event-notification'
    && param(r.status, 'subscription')?.valueReference?.reference?.endsWith(`/Subscription/${id}`)).flatMap((r) => eventsOf(r.status));
  const firsts: number[] = [];
  for (const e of received) {
    // Each instance names the focus with its own base URL: the resource is what must agree.
    const tail = (f?: string) => f?.split('/fhir/')[1];
    expect(tail(e.focus), `event ${e.number} repeated with another focus`).toBe(tail(events[e.number - 1].focus));
    if (!firsts.includes(e.number)) firsts.push(e.number);
  }
  expect(firsts).toEqual(events.map((e) => e.number));
  if (exactlyOnce) expect(received.length).toBe(events.length);
}

