/**
 * The audit trail over real HTTP: every read, search, create, update, token and refusal leaves
 * an AuditEvent, committed before the answer; none holds a token or an NHS number; an
 * organisation reads its own; if the record cannot be written the request fails.
 */
import type { AuditEvent, Bundle, Resource } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../../../src/storage/types.ts';
import { fhirFetch } from '../../helpers/auth.ts';
import { expectValidR4 } from '../../helpers/r4.ts';
import { A, B, NARROW, startHarness, type Harness } from './harness.ts';

let h: Harness;
let tokenA: string;
let tokenB: string;

/** All AuditEvents, straight from storage (as the system: what an auditor would see). */
async function allEvents(): Promise<AuditEvent[]> {
  const r = await h.server.storage.search({ type: 'AuditEvent', criteria: [], count: 5000, offset: 0, total: 'none' });
  return r.resources.map((x) => x.resource as AuditEvent);
}

/** The events of one request (its X-Request-Id). */
async function eventsOf(requestId: string): Promise<AuditEvent[]> {
  return (await allEvents()).filter((e) => e.entity?.some((x) => x.what?.identifier?.value === requestId));
}

const rid = (name: string) => `${name}-${Math.random().toString(36).slice(2)}`;

beforeAll(async () => {
  h = await startHarness();
  [tokenA, tokenB] = await Promise.all([h.token(A.clientId), h.token(B.clientId)]);
});
afterAll(async () => { await h?.stop(); });

describe('audit trail', () => {
  it('when a client creates, reads, updates and searches, then each leaves one AuditEvent before the answer', async () => {
    const ids = { create: rid('c'), read: rid('r'), update: rid('u'), search: rid('s') };
    const created = (await (await fhirFetch(tokenA, `${h.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient', gender: 'female' }, headers: { 'x-request-id': ids.create } })).json()) as Resource;
    await fhirFetch(tokenA, `${h.fhir}/Patient/${created.id}`, { headers: { 'x-request-id': ids.read } });
    await fhirFetch(tokenA, `${h.fhir}/Patient/${created.id}`, { method: 'PUT', json: { resourceType: 'Patient', id: created.id, gender: 'other' }, headers: { 'x-request-id': ids.update } });
    await fhirFetch(tokenA, `${h.fhir}/Patient?_id=${created.id}`, { headers: { 'x-request-id': ids.search } });
    for (const [interaction, code, action] of [['create', 'create', 'C'], ['read', 'read', 'R'], ['update', 'update', 'U'], ['search', 'search-type', 'E']] as const) {
      const events = await eventsOf(ids[interaction]);
      expect(events, interaction).toHaveLength(1);
      const e = events[0];
      expectValidR4(e);
      expect(e.type.code).toBe('rest');
      expect(e.subtype?.[0].code).toBe(code);
      expect([e.action, e.outcome]).toEqual([action, '0']);
      expect(e.agent[0].who?.identifier?.value).toBe(A.clientId);
      expect(e.agent[1].who?.identifier?.value).toBe('RQ1');
      expect(e.entity?.map((x) => x.what?.reference)).toContain(`Patient/${created.id}`);
    }
  });

  it('when a token is issued or refused, then it is audited without the token', async () => {
    const events = (await allEvents()).filter((e) => e.subtype?.[0].code === 'token');
    expect(events.some((e) => e.outcome === '0' && e.agent[0].who?.identifier?.value === A.clientId)).toBe(true);
    const refused = await fetch(`${h.url}/auth/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }), headers: { 'x-request-id': 'tok-refused-1' } });
    expect(refused.status).toBe(401);
    const [e] = await eventsOf('tok-refused-1');
    expect(e).toMatchObject({ outcome: '4', outcomeDesc: 'HTTP 401: invalid_client: no client authentication included' });
  });

  it('when requests are refused with 401, 403 and 404, then each refusal is audited', async () => {
    await fhirFetch(undefined, `${h.fhir}/Patient`, { headers: { 'x-request-id': 'refused-401' } });
    const narrow = await h.token(NARROW.clientId, 'system/Task.rs');
    await fhirFetch(narrow, `${h.fhir}/Patient`, { headers: { 'x-request-id': 'refused-403' } });
    const theirs = (await (await fhirFetch(tokenA, `${h.fhir}/Patient`, { method: 'POST', json: { resourceType: 'Patient' } })).json()) as Resource;
    await fhirFetch(tokenB, `${h.fhir}/Patient/${theirs.id}`, { headers: { 'x-request-id': 'refused-404' } });
    const [e401] = await eventsOf('refused-401');
    expect(e401).toMatchObject({ outcome: '4', outcomeDesc: 'HTTP 401: no token', agent: [{ who: { display: 'unauthenticated' } }] });
    const [e403] = await eventsOf('refused-403');
    expect(e403).toMatchObject({ outcome: '4', outcomeDesc: 'HTTP 403' });
    expect(e403.agent[0].who?.identifier?.value).toBe(NARROW.clientId);
    const [e404] = await eventsOf('refused-404');
    expect(e404).toMatchObject({ outcome: '4', outcomeDesc: 'HTTP 404', subtype: [{ code: 'read' }] });
    expect(e404.agent[1].who?.identifier?.value).toBe('RJ7');
    expect(e404.entity?.[0].what?.reference).toBe(`Patient/${theirs.id}`);
    // The probing organisation sees its own refusal; the owner does not see it in its trail.
    const ofB = (await (await fhirFetch(tokenB, `${h.fhir}/AuditEvent?entity=Patient/${theirs.id}`)).json()) as Bundle;
    expect(ofB.entry?.length).toBe(1);
  });

  it('when a body is refused before its token is looked at, then the AuditEvent names an unauthenticated caller, not the system', async () => {
    const bad = await fhirFetch(undefined, `${h.fhir}/Patient`, { method: 'POST', headers: { 'x-request-id': 'refused-400', 'content-type': 'application/fhir+json' }, body: '{"resourceType": "Patient",' });
    expect(bad.status).toBe(400);
    const [e400] = await eventsOf('refused-400');
    expect(e400).toMatchObject({ outcome: '4', outcomeDesc: 'HTTP 400', agent: [{ who: { display: 'unauthenticated' } }] });
  });

  it('when anything is audited, then no AuditEvent holds a token, an assertion or an NHS number', async () => {
    await fhirFetch(tokenA, `${h.fhir}/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919`);
    const text = JSON.stringify(await allEvents());
    expect(text).not.toContain(tokenA.split('.')[2]);
    expect(text).not.toContain(tokenB.split('.')[2]);
    expect(text).not.toContain('9434765919');
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('when fifty reads arrive at once, then all succeed and each has its AuditEvent', async () => {
    const before = (await allEvents()).length;
    const results = await Promise.all(Array.from({ length: 50 }, () => fhirFetch(tokenA, `${h.fhir}/Patient?_count=1`)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect((await allEvents()).length - before).toBe(50);
  });

  it('when the AuditEvent cannot be written, then the request fails with 500', async () => {
    const storage = h.server.storage as Storage & { transaction: Storage['transaction'] };
    const original = storage.transaction;
    storage.transaction = () => Promise.reject(new Error('disk full'));
    try {
      const res = await fhirFetch(tokenA, `${h.fhir}/Patient?_count=1`);
      expect(res.status).toBe(500);
      expect(JSON.stringify(await res.json())).not.toContain('disk full');
    } finally {
      storage.transaction = original;
    }
  });
});
