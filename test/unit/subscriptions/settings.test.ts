import type { Subscription } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { isOutcomeError } from '../../../src/shared/outcomes.ts';
import { endpointRefusal, parseAllowedOrigins, readSettings } from '../../../src/subscriptions/settings.ts';

const BP = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const TOPIC = 'https://fhir.eso-bridge.nhs.uk/SubscriptionTopic/task-status';
const ALLOWED = parseAllowedOrigins('RZ1=https://engine.rz1.nhs.uk|http://127.0.0.1:*, rz2=https://rz2.example');

const sub = (change: (s: any) => void = () => undefined): Subscription => {
  const s: any = { resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: TOPIC, channel: { type: 'rest-hook', endpoint: 'https://engine.rz1.nhs.uk/hook', payload: 'application/fhir+json' } };
  change(s);
  return s;
};

function refusal(s: Subscription, ods = 'RZ1'): { status: number; where: string[] | undefined } {
  try {
    readSettings(s, ods, ALLOWED);
  } catch (e) {
    if (isOutcomeError(e)) return { status: e.status, where: e.outcome.issue[0].expression };
    throw e;
  }
  throw new Error('accepted');
}

describe('readSettings (backport Subscription)', () => {
  it('when nothing is said, then id-only, a 10 s timeout, one event per notification and no heartbeat', () => {
    expect(readSettings(sub(), 'RZ1', ALLOWED)).toMatchObject({ content: 'id-only', timeoutSeconds: 10, maxCount: 1, heartbeatSeconds: undefined, filters: [], headers: [] });
  });

  it('when filters, headers, content, heartbeat and timeout are given, then they are read', () => {
    const s = readSettings(sub((x) => {
      x._criteria = { extension: [{ url: `${BP}/backport-filter-criteria`, valueString: 'Task?status=accepted&owner=Organization/abc' }] };
      x.channel.header = ['Authorization: Bearer t'];
      x.channel._payload = { extension: [{ url: `${BP}/backport-payload-content`, valueCode: 'full-resource' }] };
      x.channel.extension = [{ url: `${BP}/backport-heartbeat-period`, valueUnsignedInt: 60 }, { url: `${BP}/backport-timeout`, valueUnsignedInt: 5 }];
    }), 'RZ1', ALLOWED);
    expect(s).toMatchObject({ content: 'full-resource', heartbeatSeconds: 60, timeoutSeconds: 5, headers: [['Authorization', 'Bearer t']],
      filters: [{ param: 'status', value: 'accepted' }, { param: 'owner', value: 'Organization/abc' }] });
  });

  it('when a loopback endpoint on any port is allowed, then http is accepted there only', () => {
    expect(readSettings(sub((x) => { x.channel.endpoint = 'http://127.0.0.1:41234/hook'; }), 'RZ1', ALLOWED).endpoint).toBe('http://127.0.0.1:41234/hook');
    expect(refusal(sub((x) => { x.channel.endpoint = 'http://engine.rz1.nhs.uk/hook'; }))).toEqual({ status: 422, where: ['Subscription.channel.endpoint'] });
  });

  it.each([
    ['an unknown topic', (x: any) => { x.criteria = 'https://example.org/topic'; }, 422, 'Subscription.criteria'],
    ['a filter on another type', (x: any) => { x._criteria = { extension: [{ url: `${BP}/backport-filter-criteria`, valueString: 'Patient?name=x' }] }; }, 422, 'Subscription.criteria.extension[0]'],
    ['an unknown filter', (x: any) => { x._criteria = { extension: [{ url: `${BP}/backport-filter-criteria`, valueString: 'focus=ServiceRequest/1' }] }; }, 422, 'Subscription.criteria.extension[0]'],
    ['a channel type other than rest-hook', (x: any) => { x.channel.type = 'email'; }, 422, 'Subscription.channel.type'],
    ['a payload other than fhir+json', (x: any) => { x.channel.payload = 'application/json'; }, 422, 'Subscription.channel.payload'],
    ['credentials in the endpoint', (x: any) => { x.channel.endpoint = 'https://u:p@engine.rz1.nhs.uk/hook'; }, 422, 'Subscription.channel.endpoint'],
    ['an endpoint that is not a URL', (x: any) => { x.channel.endpoint = 'engine'; }, 400, 'Subscription.channel.endpoint'],
    ['a header with a line break', (x: any) => { x.channel.header = ['X-A: b\r\nX-B: c']; }, 400, 'Subscription.channel.header[0]'],
    ['a zero heartbeat', (x: any) => { x.channel.extension = [{ url: `${BP}/backport-heartbeat-period`, valueUnsignedInt: 0 }]; }, 422, 'Subscription.channel.extension(backport-heartbeat-period)'],
  ])('when the Subscription has %s, then it is refused', (_what, change, status, where) => {
    expect(refusal(sub(change))).toEqual({ status, where: [where] });
  });

  it('when the organisation has no allow-list or the origin is not on it, then it is refused', () => {
    expect(refusal(sub(), 'RZ9')).toEqual({ status: 422, where: ['Subscription.channel.endpoint'] });
    expect(refusal(sub(), 'RZ2')).toEqual({ status: 422, where: ['Subscription.channel.endpoint'] });
    expect(readSettings(sub((x) => { x.channel.endpoint = 'https://rz2.example/x'; }), 'rz2', ALLOWED).endpoint).toBe('https://rz2.example/x');
  });

  it('when the sender asks about an endpoint, then the same rule answers: allowed (any port where the list says *), or why not', () => {
    expect(endpointRefusal('https://engine.rz1.nhs.uk/hook', 'rz1', ALLOWED)).toBeUndefined();
    expect(endpointRefusal('http://127.0.0.1:41234/hook', 'RZ1', ALLOWED)).toBeUndefined();
    expect(endpointRefusal('https://engine.rz1.nhs.uk/hook', 'RZ1', parseAllowedOrigins('RZ1=https://other.rz1.nhs.uk')))
      .toBe("channel.endpoint origin https://engine.rz1.nhs.uk is not on this organisation's allow-list (ESO_SUBSCRIPTION_ORIGINS)");
    expect(endpointRefusal('https://rz2.example/x', 'RZ9', ALLOWED)).toMatch(/not on this organisation's allow-list/);
  });

  it('when the allow-list is malformed, then start-up is refused naming the entry', () => {
    expect(() => parseAllowedOrigins('https://no-ods.example')).toThrow("ESO_SUBSCRIPTION_ORIGINS: 'https://no-ods.example'");
  });
});
