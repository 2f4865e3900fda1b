/**
 * Two eso-bridge processes on one PostgreSQL, both with the outbox dispatcher on, share the
 * delivery of one Subscription's events: each event is delivered once, by one of them, in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { startService, type ServiceProcess } from '../../reliability/service-process.ts';
import { createWorld, type World } from '../../reliability/world.ts';
import { allEvents, burst, checkDelivery, envFor, PROVIDER, REQUESTER, subscribe } from './process-harness.ts';
import { eventsOf, eventually, startReceiver, type Receiver } from './receiver.ts';

describe.runIf(backends().includes('postgres'))('subscription delivery by two instances on one PostgreSQL', () => {
  let world: World;
  let hook: Receiver;
  const instances: ServiceProcess[] = [];
  beforeAll(async () => {
    world = await createWorld('postgres');
    hook = await startReceiver();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await hook?.close();
    await world?.cleanup();
  });

  it('when cases are made through both instances, then each event is delivered once, by one of them, in order', async () => {
    const env = envFor(world);
    instances.push(await startService(env));
    const [second] = await Promise.all([startService(env), world.setUpDirectory(instances[0].url)]);
    instances.push(second);
    const at = instances.map((i) => world.parties(i.url));
    const id = await subscribe(at[0][PROVIDER], hook.url);
    let n = 0;
    const load = burst(() => at[n++ % 2][REQUESTER], 4);
    await eventually(() => load.acknowledged.length >= 10 || undefined, 'cases through both', 1200, 25).catch((e: Error) => {
      throw new Error(`${e.message}; refused: ${load.refused.join('; ')}`);
    });
    await load.stop();
    const events = await allEvents(at[1][PROVIDER], id);
    expect(events.map((e) => e.number)).toEqual(events.map((_, i) => i + 1));
    expect(events.length).toBe(load.acknowledged.length);
    await eventually(() => new Set(hook.received.flatMap((r) => eventsOf(r.status).map((e) => e.number))).size >= events.length || undefined, 'every event delivered', 400, 50);
    checkDelivery(hook, id, events, true);
  }, 90_000);
});
