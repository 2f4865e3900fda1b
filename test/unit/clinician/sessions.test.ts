/** The app's sessions and cookies: what the browser is given, and when a session or a launch stops counting. */
import { describe, expect, it } from 'vitest';
import { isLoopbackHttp } from '../../../src/clinician/routes.ts';
import { cookie, SessionStore } from '../../../src/clinician/sessions.ts';
import type { PendingLaunch } from '../../../src/clinician/smart-client.ts';

const ehr = { iss: 'https://ehr/fhir', clientId: 'c', auth: 'none' as const, organization: 'RTT' };
const session = { ehr, accessToken: 'secret', clinician: { fhirUser: 'https://ehr/fhir/Practitioner/p' }, organizationName: 'RTT' };

describe('the app session cookie', () => {
  it('when the app is served over https or on another host, then the cookie is Secure; on plain http loopback it is not', () => {
    expect(isLoopbackHttp('https://eso.nhs.uk')).toBe(false);
    expect(isLoopbackHttp('http://eso.internal:8080')).toBe(false);
    expect(isLoopbackHttp('http://127.0.0.1:8080')).toBe(true);
    expect(cookie('eso_app', 'id', { secure: true })).toBe('eso_app=id; Path=/app; HttpOnly; SameSite=Lax; Secure');
    expect(cookie('eso_app', 'id', { secure: false })).not.toContain('Secure');
  });
});

describe('SessionStore', () => {
  it('when a session is used within the idle time, then it lives on; after it, it is gone for good', () => {
    let now = 0;
    const store = new SessionStore(1000, () => now);
    const s = store.create(session);
    now = 900;
    expect(store.touch(s.id)).toBe(s);
    now = 1800;
    expect(store.touch(s.id)).toBe(s);
    now = 2801;
    expect(store.touch(s.id)).toBeUndefined();
    now = 2802;
    expect(store.touch(s.id)).toBeUndefined();
  });

  it('when a launch comes back, then it counts once, only in the browser that started it, and only for 10 minutes', () => {
    let now = 0;
    const store = new SessionStore(1000, () => now);
    const pending = (state: string): PendingLaunch => ({ iss: 'x', state, nonce: 'n', codeVerifier: 'v', browserKey: `key-${state}`, meta: {} as PendingLaunch['meta'], createdAt: now });
    store.addPending(pending('a'));
    expect(store.takePending('a', 'key-other')).toBeUndefined();
    expect(store.takePending('a', 'key-a')?.state).toBe('a');
    expect(store.takePending('a', 'key-a')).toBeUndefined();
    store.addPending(pending('b'));
    now = 10 * 60_000 + 1;
    expect(store.takePending('b', 'key-b')).toBeUndefined();
  });
});
