/**
 * Subscriptions for integration engines (FHIR R4 Subscriptions Backport IG 1.1, rest-hook), end to
 * end: real HTTP with real tokens of the case's parties, a real subscriber endpoint on loopback,
 * the outbox dispatcher delivering. Both backends.
 */
import type { Bundle, CapabilityStatement, Consent, OperationOutcome, Parameters, Subscription, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { changeTask, entries, newCase, report, startEsoServer, startWork, step, type EsoServer, type Party } from '../eso/harness.ts';
import { eventsOf, eventually, param, startReceiver, type Receiver } from './receiver.ts';

const TOPIC = 'https://fhir.eso-bridge.nhs.uk/SubscriptionTopic';
const BP = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

interface SubOptions { filters?: string[]; content?: string; heartbeat?: number; timeout?: number; headers?: string[]; type?: string; payload?: string }

function subscription(endpoint: string, topic: string, o: SubOptions = {}): Subscription {
  const ext = [
    ...(o.heartbeat ? [{ url: `${BP}/backport-heartbeat-period`, valueUnsignedInt: o.heartbeat }] : []),
    ...(o.timeout ? [{ url: `${BP}/backport-timeout`, valueUnsignedInt: o.timeout }] : []),
  ];
  return {
    resourceType: 'Subscription', status: 'requested', reason: 'integration engine', criteria: `${TOPIC}/${topic}`,
    ...(o.filters ? { _criteria: { extension: o.filters.map((f) => ({ url: `${BP}/backport-filter-criteria`, valueString: f })) } } : {}),
    channel: {
      type: (o.type ?? 'rest-hook') as Subscription['channel']['type'], endpoint, payload: o.payload ?? 'application/fhir+json',
      _payload: { extension: [{ url: `${BP}/backport-payload-content`, valueCode: o.content ?? 'id-only' }] },
      ...(o.headers ? { header: o.headers } : {}),
      ...(ext.length ? { extension: ext } : {}),
    },
  } as Subscription;
}

const ENV = {
  ESO_OUTBOX_ENABLED: 'true', ESO_OUTBOX_POLL_MS: '50', ESO_OUTBOX_BACKOFF_BASE_MS: '50', ESO_OUTBOX_BACKOFF_CAP_MS: '200',
  ESO_SUBSCRIPTION_MAX_FAILURES: '3',
  // The provider's and requester's engines, and a third Trust's; the provider's Trust (RZ2) has no allow-list.
  ESO_SUBSCRIPTION_ORIGINS: 'RZ2NP=http://127.0.0.1:*,RZ1=http://127.0.0.1:*,RZ9=http://127.0.0.1:*',
};

async function subscribe(who: Party, body: Subscription): Promise<Subscription> {
  const res = await who.post('/fhir/Subscription', body);
  if (res.status !== 201) throw new Error(`subscribe: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const statusOf = async (who: Party, id: string): Promise<Parameters> => {
  const res = await who.get<Bundle>(`/fhir/Subscription/${id}/$status`);
  expect(res.status).toBe(200);
  return res.body.entry![0].resource as Parameters;
};

describe.each(backends())('subscriptions (rest-hook) on %s', (backend) => {
  let s: EsoServer;
  let hook: Receiver;
  beforeAll(async () => {
    s = await startEsoServer(backend, ENV);
    hook = await startReceiver(3000);
  });
  afterAll(async () => {
    await hook?.close();
    await s?.stop();
  });

  const notifications = (id: string) => hook.received.filter((r) => param(r.status, 'subscription')?.valueReference?.reference?.endsWith(`/Subscription/${id}`));
  const eventNotes = (id: string) => notifications(id).filter((r) => param(r.status, 'type')?.valueCode === 'event-notification');

  it('when the CapabilityStatement is read, then it lists the three topics on Subscription', async () => {
    const cs = (await s.as.provider.get<CapabilityStatement>('/fhir/metadata')).body;
    const sub = cs.rest![0].resource!.find((r) => r.type === 'Subscription')!;
    expect(sub.extension!.map((e) => e.valueCanonical)).toEqual([`${TOPIC}/task-status`, `${TOPIC}/report-issued`, `${TOPIC}/consent-change`]);
    expect(sub.operation!.map((o) => o.name)).toEqual(expect.arrayContaining(['status', 'events']));
    expect(sub.documentation).toContain('Filters on Task: owner, requester, status, business-status');
  });

  it('when a Subscription asks for what is not offered, then 4xx with an OperationOutcome naming where', async () => {
    const cases: [Subscription, number, string][] = [
      [subscription(hook.url, 'nothing-such'), 422, 'Subscription.criteria'],
      [subscription(hook.url, 'task-status', { filters: ['Task?colour=blue'] }), 422, 'Subscription.criteria.extension[0]'],
      [subscription(hook.url, 'task-status', { filters: ['Consent?status=active'] }), 422, 'Subscription.criteria.extension[0]'],
      [subscription(hook.url, 'task-status', { type: 'websocket' }), 422, 'Subscription.channel.type'],
      [subscription(hook.url, 'task-status', { payload: 'application/fhir+xml' }), 422, 'Subscription.channel.payload'],
      [subscription(hook.url, 'task-status', { content: 'everything' }), 422, 'Subscription.channel.payload.extension'],
      [subscription('http://engine.example.org/hook', 'task-status'), 422, 'Subscription.channel.endpoint'],
      [subscription('https://engine.example.org/hook', 'task-status'), 422, 'Subscription.channel.endpoint'], // not on RZ2NP's allow-list
      [subscription(hook.url, 'task-status', { timeout: 600 }), 422, 'Subscription.channel.extension(backport-timeout)'],
      [{ ...subscription(hook.url, 'task-status'), status: 'active' }, 422, 'Subscription.status'],
    ];
    for (const [body, status, where] of cases) {
      const res = await s.as.provider.post<OperationOutcome>('/fhir/Subscription', body);
      expect({ status: res.status, where: res.body.issue?.[0]?.expression }).toEqual({ status, where: [where] });
    }
    // An organisation with no allow-list may not subscribe at all.
    const trust = await s.as.providerTrust.post<OperationOutcome>('/fhir/Subscription', subscription(hook.url, 'task-status'));
    expect(trust.status).toBe(422);
  });

  it('when a subscriber subscribes, then a handshake makes it active; only its own organisation reads or finds it', async () => {
    const sub = await subscribe(s.as.provider, subscription(hook.url, 'task-status', { headers: ['Authorization: Bearer engine-secret'] }));
    expect(sub.status).toBe('requested');
    const shake = await eventually(() => notifications(sub.id!).find((n) => param(n.status, 'type')?.valueCode === 'handshake'), 'handshake');
    expect(shake.headers.authorization).toBe('Bearer engine-secret');
    expect(shake.headers['content-type']).toBe('application/fhir+json');
    expect(shake.bundle.type).toBe('history');
    await eventually(async () => (await s.as.provider.get<Subscription>(`/fhir/Subscription/${sub.id}`)).body.status === 'active', 'active');
    expect((await s.as.stranger.get(`/fhir/Subscription/${sub.id}`)).status).toBe(404);
    expect((await s.as.stranger.get(`/fhir/Subscription/${sub.id}/$status`)).status).toBe(404);
    expect((await s.as.stranger.get(`/fhir/Subscription/${sub.id}/$events`)).status).toBe(404);
    // Nor may another organisation change it: answered as for an id that does not exist.
    const unknown = await s.as.stranger.put('/fhir/Subscription/no-such-id', { ...sub, id: 'no-such-id', status: 'requested' });
    const theirs = await s.as.stranger.put(`/fhir/Subscription/${sub.id}`, { ...sub, status: 'requested' });
    expect(theirs.status).toBe(unknown.status);
    expect(theirs.status).toBeGreaterThanOrEqual(400);
    expect(entries((await s.as.stranger.get<Bundle>('/fhir/Subscription')).body).map((r) => r.id)).not.toContain(sub.id);
    expect(entries((await s.as.provider.get<Bundle>('/fhir/Subscription?status=active')).body).map((r) => r.id)).toContain(sub.id);
    // The server's statuses are not the client's to set.
    const current = (await s.as.provider.get<Subscription>(`/fhir/Subscription/${sub.id}`)).body;
    expect((await s.as.provider.put(`/fhir/Subscription/${sub.id}`, { ...current, status: 'error' })).status).toBe(422);
  });

  it('when Tasks change, then each subscriber of a party is told in order with numbers; filters hold; a third Trust hears nothing', async () => {
    const all = await subscribe(s.as.provider, subscription(hook.url, 'task-status'));
    const accepted = await subscribe(s.as.provider, subscription(hook.url, 'task-status', { filters: ['Task?status=accepted'], content: 'full-resource' }));
    const stranger = await subscribe(s.as.stranger, subscription(hook.url, 'task-status', { content: 'full-resource' }));
    const ours = await subscribe(s.as.provider, subscription(hook.url, 'task-status', { filters: [`Task?owner=Organization/${s.orgIds.RZ2NP}&business-status=received`] }));
    const others = await subscribe(s.as.provider, subscription(hook.url, 'task-status', { filters: [`Task?owner=Organization/${s.orgIds.RZ1}`] }));
    for (const sub of [all, accepted, stranger]) await eventually(async () => (await s.as.provider.get<Subscription>(`/fhir/Subscription/${sub.id}`)).body.status === 'active' || (await s.as.stranger.get<Subscription>(`/fhir/Subscription/${sub.id}`)).body.status === 'active', 'active');
    const { task } = await newCase(s);
    await startWork(s, task.id!); // received, accepted, in-progress
    const got = await eventually(() => (eventNotes(all.id!).length >= 4 ? eventNotes(all.id!) : undefined), 'four Task events');
    const events = got.flatMap((n) => eventsOf(n.status));
    expect(events.map((e) => e.number)).toEqual([1, 2, 3, 4]);
    expect(events.every((e) => e.focus?.endsWith(`/Task/${task.id}`))).toBe(true);
    expect(got.every((n) => n.bundle.entry!.length === 1)).toBe(true); // id-only: no resources
    const full = await eventually(() => eventNotes(accepted.id!)[0], 'the accepted event');
    expect(eventsOf(full.status).map((e) => e.number)).toEqual([1]);
    // Full-resource carries the Task as the subscriber may read it now (it has moved on since).
    expect(full.bundle.entry![1].resource).toMatchObject({ resourceType: 'Task', id: task.id });
    // Each notification is a disclosure to the subscriber's organisation: an AuditEvent names it and what it carried.
    const audits = (await s.server.storage.search({ type: 'AuditEvent', criteria: [], count: 5000, offset: 0, total: 'none' })).resources.map((r) => JSON.stringify(r.resource));
    expect(audits.some((a) => a.includes('subscription-event-notification') && a.includes(`Task/${task.id}`) && a.includes('"RZ2NP"'))).toBe(true);
    expect(param((await statusOf(s.as.provider, accepted.id!)), 'events-since-subscription-start')?.valueString).toBe('1');
    // Filters by owner reference and business-status token: ours hears the move to received, the other owner's nothing.
    expect(param(await statusOf(s.as.provider, ours.id!), 'events-since-subscription-start')?.valueString).toBe('1');
    expect(param(await statusOf(s.as.provider, others.id!), 'events-since-subscription-start')?.valueString).toBe('0');
    // The third Trust's subscription made no event of another Trust's case.
    expect(param(await statusOf(s.as.stranger, stranger.id!), 'events-since-subscription-start')?.valueString).toBe('0');
    expect(eventNotes(stranger.id!)).toEqual([]);
    // $events replays by number range, as the subscriber may read things now.
    const replay = (await s.as.provider.get<Bundle>(`/fhir/Subscription/${all.id}/$events?eventsSinceNumber=2&eventsUntilNumber=3&content=full-resource`)).body;
    expect(eventsOf(replay.entry![0].resource as Parameters).map((e) => e.number)).toEqual([2, 3]);
    expect(param(replay.entry![0].resource as Parameters, 'type')?.valueCode).toBe('query-event');
    expect(entries<Task>(replay, 'Task').map((t) => t.id)).toEqual([task.id]);
    expect((await s.as.provider.get(`/fhir/Subscription/${all.id}/$events?eventsSinceNumber=two`)).status).toBe(400);
  });

  it('when a report is issued and a consent withdrawn, then the requester is told with the resources it may read, and no shared record travels', async () => {
    const reports = await subscribe(s.as.requester, subscription(hook.url, 'report-issued', { content: 'full-resource' }));
    const consents = await subscribe(s.as.requester, subscription(hook.url, 'consent-change', { content: 'full-resource' }));
    const providerConsents = await subscribe(s.as.provider, subscription(hook.url, 'consent-change', { content: 'id-only' }));
    const { task, serviceRequest } = await newCase(s);
    await startWork(s, task.id!);
    const dr = await s.as.provider.post('/fhir/DiagnosticReport', report(serviceRequest));
    expect(dr.status).toBe(201);
    const issued = await eventually(() => eventNotes(reports.id!)[0], 'report event');
    expect(issued.bundle.entry![1].resource).toMatchObject({ resourceType: 'DiagnosticReport', id: dr.body.id, status: 'final' });
    const consent = entries<Consent>((await s.as.requester.get<Bundle>(`/fhir/Consent?data=ServiceRequest/${serviceRequest.id}`)).body)[0];
    const withdrawn = await s.as.requester.put(`/fhir/Consent/${consent.id}`, { ...consent, status: 'inactive' });
    expect(withdrawn.status).toBe(200);
    const told = await eventually(() => eventNotes(consents.id!).find((n) => (n.bundle.entry?.[1]?.resource as Consent | undefined)?.status === 'inactive'), 'withdrawal event');
    expect(told.bundle.entry!.slice(1).map((e) => e.resource!.resourceType)).toEqual(['Consent']);
    await eventually(() => eventNotes(providerConsents.id!).length > 0 || undefined, 'provider told of the consent');
    for (const n of hook.received) expect(n.bundle.entry!.some((e) => ['DocumentReference', 'Binary'].includes(e.resource?.resourceType ?? ''))).toBe(false);
  });

  it('when the endpoint is slow, down or failing, then the Subscription goes to error with the count, events are kept, and re-activation delivers them in order', async () => {
    const sub = await subscribe(s.as.provider, subscription(hook.url, 'task-status', { timeout: 1 }));
    await eventually(async () => (await s.as.provider.get<Subscription>(`/fhir/Subscription/${sub.id}`)).body.status === 'active', 'active');
    hook.behaviour = 'slow';
    const { task } = await newCase(s); // event 1: the receiver answers too late
    await eventually(() => hook.refused >= 1 || undefined, 'a slow answer');
    hook.behaviour = 'error-500';
    await eventually(() => hook.refused >= 2 || undefined, 'a 500');
    hook.behaviour = 'drop';
    const inError = await eventually(async () => {
      const st = await statusOf(s.as.provider, sub.id!);
      return param(st, 'status')?.valueCode === 'error' ? st : undefined;
    }, 'error status');
    expect(param(inError, 'error')?.valueCodeableConcept?.text).toMatch(/^3 failed deliveries in a row; last: /);
    // More changes while in error: numbered and kept.
    const moves: ((t: Task) => void)[] = [(t) => { t.status = 'received'; t.businessStatus = step('received'); }];
    for (const m of moves) expect((await changeTask(s.as.provider, task.id!, m)).status).toBe(200);
    expect(param(await statusOf(s.as.provider, sub.id!), 'events-since-subscription-start')?.valueString).toBe('2');
    // $events fills the gap meanwhile.
    const gap = (await s.as.provider.get<Bundle>(`/fhir/Subscription/${sub.id}/$events?eventsSinceNumber=1`)).body;
    expect(eventsOf(gap.entry![0].resource as Parameters).map((e) => e.number)).toEqual([1, 2]);
    // The subscriber re-activates: a handshake, then the backlog in order.
    hook.behaviour = 'ok';
    const current = (await s.as.provider.get<Subscription>(`/fhir/Subscription/${sub.id}`)).body;
    expect((await s.as.provider.put(`/fhir/Subscription/${sub.id}`, { ...current, status: 'requested' })).status).toBe(200);
    const delivered = await eventually(() => (eventNotes(sub.id!).length >= 2 ? eventNotes(sub.id!) : undefined), 'backlog');
    expect(delivered.flatMap((n) => eventsOf(n.status).map((e) => e.number))).toEqual([1, 2]);
    const after = await statusOf(s.as.provider, sub.id!);
    expect(param(after, 'status')?.valueCode).toBe('active');
    expect(param(after, 'error')).toBeUndefined();
  });

  it('when a Subscription with a heartbeat period is idle, then heartbeats arrive', async () => {
    const sub = await subscribe(s.as.requester, subscription(hook.url, 'report-issued', { heartbeat: 1, content: 'empty' }));
    const beat = await eventually(() => notifications(sub.id!).find((n) => param(n.status, 'type')?.valueCode === 'heartbeat'), 'heartbeat', 100, 100);
    expect(param(beat.status, 'events-since-subscription-start')?.valueString).toBe('0');
  });
});
