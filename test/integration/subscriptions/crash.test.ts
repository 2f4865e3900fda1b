/**
 * Nothing lost, nothing renumbered: the service as a child process (as in production) is killed
 * with SIGKILL during a burst of new cases (each a Task event for the provider's Subscription),
 * restarted on the same data, and afterwards every Task has exactly one event number, numbers run
 * 1..N without a gap, and the subscriber's loopback endpoint received every number at least once
 * (a repeat carries the same number and focus), first receipts in number order. Both backends.
 */
import type { Bundle, Parameters, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { startService, type ServiceProcess } from '../../reliability/service-process.ts';
import { createWorld, type World } from '../../reliability/world.ts';
import { allEvents, burst, checkDelivery, envFor, PROVIDER, REQUESTER, subscribe } from './process-harness.ts';
import { eventsOf, eventually, param, startReceiver, type Receiver } from './receiver.ts';

describe.each(backends())('subscription events across a SIGKILL on %s', (backend) => {
  let world: World;
  let hook: Receiver;
  let service: ServiceProcess | undefined;
  beforeAll(async () => {
    world = await createWorld(backend);
    hook = await startReceiver();
  }, 60_000);
  afterAll(async () => {
    await service?.stop();
    await hook?.close();
    await world?.cleanup();
  });

  it('when the service is killed during a burst of Task changes, then every Task has one event number, gap-free, each delivered at least once in order', async () => {
    const env = envFor(world);
    service = await startService(env);
    await world.setUpDirectory(service.url);
    let parties = world.parties(service.url);
    const id = await subscribe(parties[PROVIDER], hook.url);
    const load = burst(() => parties[REQUESTER]);
    await eventually(() => load.acknowledged.length >= 4 || undefined, 'some cases acknowledged', 1200, 25);
    await service.kill();
    service = await startService(env);
    parties = world.parties(service.url);
    const before = load.acknowledged.length;
    await eventually(() => load.acknowledged.length >= before + 3 || undefined, 'cases after the restart', 1200, 25);
    await load.stop();

    const provider = parties[PROVIDER];
    const tasks = (await provider.get<Bundle>('/fhir/Task?_count=200')).body.entry!.map((e) => (e.resource as Task).id!);
    for (const t of load.acknowledged) expect(tasks).toContain(t);
    const events = await allEvents(provider, id);
    expect(events.map((e) => e.number)).toEqual(events.map((_, i) => i + 1));
    // Each Task (every create that committed, acknowledged or not) has exactly one event.
    expect(events.map((e) => e.focus!.split('/').pop()).sort()).toEqual([...tasks].sort());
    await eventually(async () => {
      const st = (await provider.get<Bundle>(`/fhir/Subscription/${id}/$status`)).body.entry![0].resource as Parameters;
      return param(st, 'events-since-subscription-start')?.valueString === String(events.length) || undefined;
    }, 'status counts every event');
    await eventually(() => new Set(hook.received.flatMap((r) => eventsOf(r.status).map((e) => e.number))).size >= events.length || undefined, 'every event delivered', 400, 50);
    checkDelivery(hook, id, events, false);
  }, 90_000);
});

