/**
 * What the clinician app refuses, each with the page a user would see: launches it cannot trust (unknown EHR,
 * no PKCE S256, a state from elsewhere, a code from another sign-in, a forged or expired id_token), writes it
 * cannot trust (no CSRF token, an ended session, a child whose NHS number is missing or does not match), and
 * family links that no longer open (revoked, too many wrong dates of birth). Driven by playwright-core's HTTP
 * client (cookies and redirects as a browser keeps them; no browser needed), against the same EHR stand-ins.
 */
import { request, type APIRequestContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHILD, NO_NHS_CHILD, OTHER_CHILD, startClinicianWorld, type ClinicianWorld } from '../helpers/clinician-world.ts';
import type { EhrStandIn } from '../helpers/ehr-stand-in.ts';

let world: ClinicianWorld;
const contexts: APIRequestContext[] = [];

/** A fresh browser-like client (its own cookies). */
async function agent(): Promise<APIRequestContext> {
  const c = await request.newContext();
  contexts.push(c);
  return c;
}

/** Signs in through the EHR (EHR launch on `patient`, or none) and returns the client and the home page. */
async function signIn(ehr: EhrStandIn, patient?: string): Promise<{ ua: APIRequestContext; html: string }> {
  const ua = await agent();
  const launch = `l-${Math.random().toString(36).slice(2)}`;
  if (patient) ehr.launches.set(launch, patient);
  const res = await ua.get(world.launchUrl(ehr, launch));
  expect(res.status()).toBe(200);
  return { ua, html: await res.text() };
}

const capOf = (link: string) => new URL(link).searchParams.get('link') ?? '';
const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';

/** The treating consultant, signed in on CHILD, sends a routine request through the form; returns them, the form page and the case's URL. */
async function newCase(): Promise<{ a: { ua: APIRequestContext; html: string }; form: string; caseUrl: string }> {
  const a = await signIn(world.treating, CHILD.id);
  const form = await (await a.ua.get(`${world.eso.url}/app/requests/new`)).text();
  const made = await a.ua.post(`${world.eso.url}/app/requests`, { form: { csrf: csrfOf(form), reason: 'Second look', q1: 'Is the plan right?', q1by: 'family',
    consultantName: 'Dr Sam Hughes', provider: 'RPVNP', urgency: 'routine' } });
  expect(await made.text()).toContain('The request was sent.');
  return { a, form, caseUrl: made.url().split('?')[0] };
}

/** Follows the launch redirects by hand until eso-bridge's callback; returns its code and state. */
async function codeFor(ua: APIRequestContext, ehr: EhrStandIn, patient: string): Promise<{ code: string; state: string }> {
  const launch = `l-${Math.random().toString(36).slice(2)}`;
  ehr.launches.set(launch, patient);
  let url = world.launchUrl(ehr, launch);
  for (let i = 0; i < 10; i++) {
    const res = await ua.get(url, { maxRedirects: 0 });
    const next = new URL(res.headers().location ?? '', url).toString();
    if (next.startsWith(`${world.eso.url}/app/callback`)) {
      const u = new URL(next);
      return { code: u.searchParams.get('code') ?? '', state: u.searchParams.get('state') ?? '' };
    }
    url = next;
  }
  throw new Error('the launch never reached the callback');
}

beforeAll(async () => {
  world = await startClinicianWorld({ ESO_APP_IDLE_SECONDS: '4' });
});

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.dispose()));
  await world?.stop();
});

describe('launches the app refuses', { timeout: 60_000 }, () => {
  it('when an EHR that is not registered launches the app, then a page says so and nothing is signed in', async () => {
    const ua = await agent();
    const res = await ua.get(`${world.eso.url}/app/launch?iss=${encodeURIComponent('https://ehr.example.org/fhir')}&launch=x`);
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain('is not registered with eso-bridge');
    expect(res.headers()['set-cookie'] ?? '').not.toContain('eso_app=');
  });

  it('when the app sends the clinician to the EHR, then the request carries PKCE S256, a state, a nonce and aud = iss', async () => {
    const ua = await agent();
    const res = await ua.get(world.launchUrl(world.treating, 'x'), { maxRedirects: 0 });
    const to = new URL(res.headers().location ?? '');
    expect(to.searchParams.get('code_challenge_method')).toBe('S256');
    expect(to.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(to.searchParams.get('aud')).toBe(world.treating.iss);
    expect(res.headers()['set-cookie']).toMatch(/HttpOnly; SameSite=Lax/);
  });

  it('when the EHR does not offer PKCE with S256, then the app does not launch against it', async () => {
    world.provider.tamper = 'no-s256';
    try {
      const res = await (await agent()).get(world.launchUrl(world.provider, 'x'));
      expect(res.status()).toBe(502);
      expect(await res.text()).toContain('does not offer PKCE with S256');
    } finally {
      world.provider.tamper = undefined;
    }
  });

  it('when the callback carries a state the app never issued, then the sign-in is refused', async () => {
    const res = await (await agent()).get(`${world.eso.url}/app/callback?code=abc&state=made-up`);
    expect(res.status()).toBe(400);
    expect(await res.text()).toContain('does not belong to a sign-in started in this browser');
  });

  it('when a real state is brought back in another browser, then the sign-in is refused', async () => {
    const { code, state } = await codeFor(await agent(), world.treating, CHILD.id);
    const res = await (await agent()).get(`${world.eso.url}/app/callback?code=${code}&state=${state}`);
    expect(res.status()).toBe(400);
  });

  it('when a code issued to another sign-in is slipped into this one, then the EHR refuses it (the PKCE verifier does not match) and so does the app', async () => {
    const { code: stolen } = await codeFor(await agent(), world.treating, CHILD.id);
    const victim = await agent();
    const { state } = await codeFor(victim, world.treating, CHILD.id);
    const res = await victim.get(`${world.eso.url}/app/callback?code=${stolen}&state=${state}`);
    expect(res.status()).toBe(401);
    expect(await res.text()).toContain('The EHR refused to complete the sign-in');
  });

  it('when the callback names another authorization server than the one asked (RFC 9207 iss), then the sign-in is refused', async () => {
    const ua = await agent();
    const { code, state } = await codeFor(ua, world.treating, CHILD.id);
    const res = await ua.get(`${world.eso.url}/app/callback?code=${code}&state=${state}&iss=${encodeURIComponent('https://evil.example/oidc')}`);
    expect(res.status()).toBe(400);
    expect(await res.text()).toContain('different sign-in server');
  });

  for (const tamper of ['forge-id-token', 'expired-id-token'] as const) {
    it(`when the EHR's id_token is ${tamper === 'forge-id-token' ? 'signed by a key not in its JWKS' : 'expired'}, then the sign-in is refused`, async () => {
      world.treating.tamper = tamper;
      try {
        world.treating.launches.set('t', CHILD.id);
        const res = await (await agent()).get(world.launchUrl(world.treating, 't'));
        expect(res.status()).toBe(401);
        expect(await res.text()).toContain('could not be verified');
      } finally {
        world.treating.tamper = undefined;
      }
    });
  }
});

describe('writes the app refuses', { timeout: 60_000 }, () => {
  it('when a form is posted without the session\'s CSRF token, then nothing is done', async () => {
    const { ua } = await signIn(world.treating, CHILD.id);
    const res = await ua.post(`${world.eso.url}/app/requests`, { form: { reason: 'x', q1: 'y', provider: 'RPVNP' } });
    expect(res.status()).toBe(403);
    expect(await res.text()).toContain('security token is missing or wrong');
  });

  it('when the session was signed out, or left unused past the idle time, then pages ask to sign in again', async () => {
    const a = await signIn(world.treating, CHILD.id);
    const out = await a.ua.post(`${world.eso.url}/app/sign-out`, { form: { csrf: csrfOf(a.html) } });
    expect(await out.text()).toContain('You have signed out');
    expect((await a.ua.get(`${world.eso.url}/app`)).status()).toBe(401);
    const b = await signIn(world.treating, CHILD.id);
    const lastUse = Date.now();
    // Any request would restart the idle clock: watch our own clock past ESO_APP_IDLE_SECONDS (4), then ask once.
    await expect.poll(() => Date.now() - lastUse > 4500, { timeout: 10_000, interval: 250 }).toBe(true);
    const idle = await b.ua.get(`${world.eso.url}/app`);
    expect(idle.status()).toBe(401);
    expect(await idle.text()).toContain('Your session has ended');
  });

  it('when the EHR\'s patient has no NHS number, then starting a request is blocked with a plain message', async () => {
    const { ua, html } = await signIn(world.treating, NO_NHS_CHILD.id);
    expect(html).toContain('no valid NHS number');
    const res = await ua.post(`${world.eso.url}/app/requests`, { form: { csrf: csrfOf(html), reason: 'x', q1: 'y', provider: 'RPVNP' } });
    expect(res.status()).toBe(409);
    expect(await res.text()).toContain('no valid NHS number');
  });

  it('when the case is for a different child from the EHR\'s (NHS numbers differ), then it cannot be changed', async () => {
    const { a, form, caseUrl } = await newCase();
    const b = await signIn(world.treating, OTHER_CHILD.id);
    const page = await (await b.ua.get(caseUrl)).text();
    expect(page).toContain('the NHS numbers do not match');
    const res = await b.ua.post(`${caseUrl}/cancel`, { form: { csrf: csrfOf(b.html), reason: 'x' } });
    expect(res.status()).toBe(409);
    // The owner of the case can still cancel it: the block was the mismatch, not the case.
    const ok = await a.ua.post(`${caseUrl}/cancel`, { form: { csrf: csrfOf(form), reason: 'No longer needed' } });
    expect(await ok.text()).toContain('The request was cancelled.');
  });
});

describe('provider moves the rules refuse', { timeout: 60_000 }, () => {
  it('when the provider declines without a reason, then the rule refuses it, and with one the case is declined', async () => {
    const { a, form, caseUrl } = await newCase();
    const p = await signIn(world.provider);
    const refused = await p.ua.post(`${caseUrl}/decline`, { form: { csrf: csrfOf(p.html), reason: '' } });
    expect(refused.status()).toBe(422);
    expect(await refused.text()).toContain('A provider that declines says why');
    const ok = await p.ua.post(`${caseUrl}/decline`, { form: { csrf: csrfOf(p.html), reason: 'We do not see children under 12.' } });
    expect(await ok.text()).toContain('You declined the request.');
    // The case is closed now: any further move is refused by the Task state table.
    const wrongSide = await a.ua.post(`${caseUrl}/receive`, { form: { csrf: csrfOf(form) } });
    expect(wrongSide.status()).toBe(409);
  });
});

describe('family links that no longer open', { timeout: 60_000 }, () => {
  it('when a link is revoked, or the date of birth is wrong too often, then the page shows nothing of the case', async () => {
    const { a, form, caseUrl } = await newCase();
    const linkOf = async () => /class="copy">([^<]+)</.exec(await (await a.ua.post(`${caseUrl}/family-links`, { form: { csrf: csrfOf(form) } })).text())?.[1] ?? '';
    const family = await agent();

    const revoked = await linkOf();
    expect((await family.get(revoked)).status()).toBe(200);
    const page = await (await a.ua.get(caseUrl)).text();
    const hash = /name="link" value="([^"]+)"/.exec(page)?.[1] ?? '';
    expect(await (await a.ua.post(`${caseUrl}/family-links/revoke`, { form: { csrf: csrfOf(form), link: hash } })).text()).toContain('The family link was revoked.');
    const closed = await family.get(revoked);
    expect(closed.status()).toBe(404);
    expect(await closed.text()).toContain('expired or been switched off');

    const locked = await linkOf();
    for (let i = 0; i < 4; i++) expect((await family.post(`${world.eso.url}/family`, { form: { link: capOf(locked), dob: '2000-01-01' } })).status()).toBe(403);
    expect((await family.post(`${world.eso.url}/family`, { form: { link: capOf(locked), dob: '2000-01-01' } })).status()).toBe(429);
    const right = await family.post(`${world.eso.url}/family`, { form: { link: capOf(locked), dob: CHILD.birthDate } });
    expect(right.status()).toBe(429);
    expect(await right.text()).not.toContain('Amira');
  });
});
