/**
 * Slow and dead peers, with the real server in-process (auth on, MLLP on, the outbox dispatcher
 * on with short timeouts and backoff):
 *
 * - EPRs (scripted MLLP peers) that never answer, answer after the answer timeout, answer slowly
 *   but in time, reset the connection, hang up, or are down and then come up. The message is
 *   retried with growing backoff (attempts grow, nextAttemptAt moves out by at least the backoff,
 *   lastError names the kind of failure), GET /admin/outbox reports each state, and once the EPR
 *   answers AA it is sent and never again. While an EPR hangs, the service goes on answering
 *   FHIR reads and searches, a new REF^I12 over MLLP, and another EPR's messages.
 * - A remote JWKS (a client's jwks_uri, the external issuer's JWKS URL) that accepts and never
 *   answers: the token request is refused with invalid_client after the timeout instead of
 *   hanging, external tokens are 401, other clients are served, and the JWKS is not asked again
 *   within the cooldown.
 *
 * Nothing here asserts how fast something happens: only that it completes (within generous
 * limits), and lower bounds the dispatcher must keep (a retry never comes before its backoff).
 */
import http from 'node:http';
import type net from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Task } from 'fhir/r4.js';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxView } from '../../../src/http/admin-routes.ts';
import { signClientAssertion } from '../../../src/auth/client-assertion.ts';
import { clientsFileIn, fhirFetch, getToken, postTokenRequest, registerClient } from '../../helpers/auth.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { changeTask, declaration, step, type Party } from '../eso/harness.ts';
import {
  closedPort, newCaseOverMllp, SAMPLES, startHl7Server, until,
  type Hl7Party, type Hl7Server, type SampleName,
} from '../hl7/harness.ts';
import { scriptedEpr, type EprStep } from '../../helpers/epr-stand-in.ts';

const ANSWER_TIMEOUT_MS = 1000;
const BACKOFF_BASE_MS = 300;
/** The dispatcher's jitter is ±20 %: no retry comes sooner than this share of its backoff. */
const LEAST = 0.8;
/** The least delay before attempt `attempts + 1` (the dispatcher's backoff, less the jitter). */
const leastBackoff = (attempts: number) => LEAST * BACKOFF_BASE_MS * 2 ** (attempts - 1);

const OUTBOX_ENV = {
  ESO_OUTBOX_ENABLED: 'true',
  ESO_OUTBOX_POLL_MS: '50',
  ESO_OUTBOX_CONNECT_TIMEOUT_MS: '500',
  ESO_OUTBOX_ANSWER_TIMEOUT_MS: String(ANSWER_TIMEOUT_MS),
  ESO_OUTBOX_LEASE_MS: '5000',
  ESO_OUTBOX_BACKOFF_BASE_MS: String(BACKOFF_BASE_MS),
  ESO_OUTBOX_BACKOFF_CAP_MS: '6400',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The dispatcher's handling of slow peers does not depend on the backend (PostgreSQL's outbox is
// exercised by multi-instance.test.ts and outbox-lease.test.ts): SQLite keeps this file short.
describe.each(['sqlite'] as const)('slow and dead EPRs on %s', (backend) => {
  let h: Hl7Server;
  // One scripted EPR per requesting organisation; RTH's is down until a test brings it up.
  const epr = { RA7: scriptedEpr(), RGT: scriptedEpr(), RTH: scriptedEpr() };
  let rthPort = 0;

  beforeAll(async () => {
    const [ra7, rgt] = [await epr.RA7.listen(), await epr.RGT.listen()];
    rthPort = await closedPort();
    h = await startHl7Server(backend, { ...OUTBOX_ENV, ESO_EPR_ENDPOINTS: `RA7=127.0.0.1:${ra7},RGT=127.0.0.1:${rgt},RTH=127.0.0.1:${rthPort}` });
  });
  afterAll(async () => {
    await h?.stop();
    await Promise.all(Object.values(epr).map((e) => e.close()));
  });

  async function move(who: Party, taskId: string, change: (t: Task) => void): Promise<void> {
    const r = await changeTask(who, taskId, change);
    if (r.status !== 200) throw new Error(`move: ${r.status} ${JSON.stringify(r.body)}`);
  }

  /** The provider receives and accepts: the accepted RRI^I12 is queued for the requester's EPR. */
  async function accept(who: Party, taskId: string): Promise<void> {
    await move(who, taskId, (t) => { t.status = 'received'; t.businessStatus = step('received'); });
    await move(who, taskId, (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; });
  }

  /** GET /admin/outbox as `who` (its own EPR's messages only). */
  async function outbox(who: Hl7Party): Promise<OutboxView[]> {
    const res = await who.get<{ messages: OutboxView[] }>('/admin/outbox?limit=1000');
    expect(res.status).toBe(200);
    return res.body.messages;
  }

  /** A new case of `sample`, accepted by its provider; the id of the message queued for the requester's EPR. */
  async function queueAccepted(sample: SampleName): Promise<{ id: number; task: Task }> {
    const requester = h.as[SAMPLES[sample].requester];
    const before = Math.max(0, ...(await outbox(requester)).map((m) => m.id));
    const { task } = await newCaseOverMllp(h, sample);
    await accept(h.as[SAMPLES[sample].provider], task.id!);
    const queued = (await outbox(requester)).filter((m) => m.id > before);
    expect(queued.map((m) => m.kind)).toEqual(['hl7v2:RRI^I12']);
    return { id: queued[0].id, task };
  }

  /**
   * Watches message `id` through GET /admin/outbox until it has been seen pending after failed
   * attempts with `distinct` different attempt counts; returns those states, one per attempt count.
   */
  async function failedStates(who: Hl7Party, id: number, distinct = 2): Promise<OutboxView[]> {
    const seen = new Map<number, OutboxView>();
    await until(async () => {
      const asked = Date.now();
      const m = (await outbox(who)).find((x) => x.id === id)!;
      expect(m.status).toBe('pending');
      // While an attempt is in flight the row already counts it but still shows the previous
      // attempt's error and (past) nextAttemptAt; a nextAttemptAt still ahead is the state after
      // the failed attempt `attempts`. (Missing one only means waiting for the next.)
      if (m.lastError !== null && Date.parse(m.nextAttemptAt) > asked && !seen.has(m.attempts)) seen.set(m.attempts, m);
      return seen.size >= distinct;
    }, 20_000, `${distinct} failed attempts of message ${id}`);
    return [...seen.values()];
  }

  /** The retry schedule as the outbox shows it: attempts grow and nextAttemptAt moves out by at least the backoff. */
  function expectBackoff(states: OutboxView[], error: RegExp): void {
    for (const s of states) {
      expect(s).toMatchObject({ status: 'pending', sentAt: null });
      expect(s.lastError).toMatch(error);
    }
    const first = states[0];
    expect(Date.parse(first.nextAttemptAt) - Date.parse(first.createdAt)).toBeGreaterThanOrEqual(leastBackoff(first.attempts));
    for (let i = 1; i < states.length; i++) {
      expect(states[i].attempts).toBeGreaterThan(states[i - 1].attempts);
      // The later attempt was made no sooner than the earlier nextAttemptAt, then waited its own backoff.
      expect(Date.parse(states[i].nextAttemptAt) - Date.parse(states[i - 1].nextAttemptAt)).toBeGreaterThanOrEqual(leastBackoff(states[i].attempts));
    }
  }

  /** Waits for message `id` to be sent; then checks nothing more reaches `at` for a while. */
  async function sentOnce(who: Hl7Party, id: number, at: ReturnType<typeof scriptedEpr>): Promise<OutboxView> {
    let m: OutboxView | undefined;
    await until(async () => (m = (await outbox(who)).find((x) => x.id === id))?.status === 'sent', 20_000, `message ${id} sent`);
    const count = at.received.length;
    await sleep(4 * Number(OUTBOX_ENV.ESO_OUTBOX_POLL_MS) + 300);
    expect(at.received).toHaveLength(count);
    expect(m).toMatchObject({ status: 'sent', lastError: null });
    expect(Date.parse(m!.sentAt!)).toBeGreaterThanOrEqual(Date.parse(m!.createdAt));
    return m!;
  }

  /** Every delivery attempt reached the EPR as the same message (same MSH-10), at least the backoff apart. */
  function expectResends(at: ReturnType<typeof scriptedEpr>, attempts: number): void {
    expect(at.received).toHaveLength(attempts);
    expect(new Set(at.received.map((r) => r.controlId)).size).toBe(1);
    for (let i = 1; i < at.received.length; i++) {
      expect(at.received[i].at - at.received[i - 1].at).toBeGreaterThanOrEqual(leastBackoff(i));
    }
  }

  it('when the EPR never answers, then the message is retried with growing backoff as answer-timeout, the service meanwhile serves FHIR, MLLP and other EPRs, and the message is sent once when the EPR answers AA', async () => {
    let up = false;
    epr.RA7.script(() => (up ? { ack: 'AA' } : 'silent'));
    epr.RGT.script(() => ({ ack: 'AA' }));
    const ra7 = h.as.RA7;
    const { id, task } = await queueAccepted('v251');
    await until(() => epr.RA7.received.length >= 1, 15_000, 'the first attempt at the silent EPR');

    // While RA7's EPR hangs: reads, searches, the outbox, a new referral over MLLP, and RGT's EPR.
    const [read, search, outboxNow, other] = await Promise.all([
      ra7.get<Task>(`/fhir/Task/${task.id}`),
      ra7.get<Bundle>('/fhir/Task?status=accepted&_count=5'),
      outbox(ra7),
      queueAccepted('v24'),
    ]);
    expect(read.status).toBe(200);
    expect(read.body.status).toBe('accepted');
    expect(search.status).toBe(200);
    expect(search.body.resourceType).toBe('Bundle');
    expect(outboxNow.find((m) => m.id === id)?.status).toBe('pending');
    await sentOnce(h.as.RGT, other.id, epr.RGT);
    expect(epr.RGT.received).toHaveLength(1);
    expect((await outbox(ra7)).find((m) => m.id === id)?.status).toBe('pending');

    const states = await failedStates(ra7, id);
    expectBackoff(states, /^answer-timeout$/);
    up = true;
    const sent = await sentOnce(ra7, id, epr.RA7);
    expect(sent.attempts).toBeGreaterThan(states.at(-1)!.attempts);
    expectResends(epr.RA7, sent.attempts);
  }, 40_000);

  it('when the EPR answers only after the answer timeout, then the late answer does not count: the message is retried as answer-timeout and sent once an answer comes in time', async () => {
    let up = false;
    epr.RA7.script(() => (up ? { ack: 'AA' } : { ack: 'AA', afterMs: ANSWER_TIMEOUT_MS * 2 }));
    const { id } = await queueAccepted('v251');
    const states = await failedStates(h.as.RA7, id);
    expectBackoff(states, /^answer-timeout$/);
    up = true;
    const sent = await sentOnce(h.as.RA7, id, epr.RA7);
    expectResends(epr.RA7, sent.attempts);
  }, 40_000);

  it('when the EPR answers slowly but within the answer timeout, then the message is sent at the first attempt', async () => {
    epr.RA7.script(() => ({ ack: 'AA', afterMs: ANSWER_TIMEOUT_MS / 5 }));
    const { id } = await queueAccepted('v251');
    const sent = await sentOnce(h.as.RA7, id, epr.RA7);
    expect(sent.attempts).toBe(1);
    expect(epr.RA7.received).toHaveLength(1);
  });

  it.each([
    ['resets the connection', 'reset', /^connection-error: ECONNRESET$/],
    ['closes the connection without answering', 'hangup', /^(closed|connection-error: ECONNRESET)$/],
  ] as const)('when the EPR %s, then the message is retried with growing backoff, named in lastError, and sent once the EPR answers AA', async (_name, failing, error) => {
    let up = false;
    epr.RA7.script((): EprStep => (up ? { ack: 'AA' } : failing));
    const { id } = await queueAccepted('v251');
    const states = await failedStates(h.as.RA7, id);
    expectBackoff(states, error);
    up = true;
    const sent = await sentOnce(h.as.RA7, id, epr.RA7);
    expectResends(epr.RA7, sent.attempts);
  }, 30_000);

  it('when the EPR is down and then comes up, then the message is retried as connection-error: ECONNREFUSED and sent exactly once after it comes up', async () => {
    epr.RTH.script(() => ({ ack: 'AA' }));
    const { id } = await queueAccepted('v23');
    const states = await failedStates(h.as.RTH, id);
    expectBackoff(states, /^connection-error: ECONNREFUSED$/);
    expect(epr.RTH.received).toHaveLength(0);
    await epr.RTH.listen(rthPort);
    const sent = await sentOnce(h.as.RTH, id, epr.RTH);
    expect(sent.attempts).toBeGreaterThan(states.at(-1)!.attempts);
    expect(epr.RTH.received).toHaveLength(1);
  }, 30_000);
});

describe('a remote JWKS that accepts connections and never answers', () => {
  const GATEWAY = 'https://gateway.example.nhs.uk';
  const TIMEOUT_MS = 800;
  const OWN = { clientId: 'rq1-epr', organization: 'RQ1' };
  const REMOTE = { clientId: 'rq1-remote-keys', organization: 'RQ1' };
  let server: TestServer;
  let clientsDir = '';
  let ownKey: JWK;
  let hanging: http.Server;
  let port = 0;
  /** The paths asked of the hanging JWKS server, in order. */
  const asked: string[] = [];
  let remoteKey: JWK;
  let gateway: { privateKey: CryptoKey; kid: string };

  beforeAll(async () => {
    hanging = http.createServer((req) => { asked.push(req.url ?? ''); });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', () => resolve()));
    port = (hanging.address() as net.AddressInfo).port;
    // RQ1's usual client (registered keys), and one registered by its jwks_uri on the hanging server.
    clientsDir = mkdtempSync(join(tmpdir(), 'eso-rel-jwks-'));
    ownKey = await registerClient(clientsDir, OWN);
    const { privateKey } = await generateKeyPair('ES384', { extractable: true });
    remoteKey = { ...(await exportJWK(privateKey)), kid: 'remote-1', alg: 'ES384' };
    const file = clientsFileIn(clientsDir);
    const json = JSON.parse(readFileSync(file, 'utf8')) as { clients: unknown[] };
    json.clients.push({ client_id: REMOTE.clientId, organization: REMOTE.organization, scopes: ['system/*.rs'], jwks_uri: `http://127.0.0.1:${port}/client/jwks` });
    writeFileSync(file, JSON.stringify(json, null, 2));
    server = await startTestServer('sqlite', {
      ESO_AUTH_DISABLED: 'false', ESO_CLIENTS_FILE: file,
      ESO_EXTERNAL_ISSUER: GATEWAY, ESO_EXTERNAL_JWKS_URL: `http://127.0.0.1:${port}/gateway/jwks`, ESO_EXTERNAL_ODS_CLAIM: 'ods',
      ESO_JWKS_TIMEOUT_MS: String(TIMEOUT_MS), ESO_JWKS_COOLDOWN_MS: '600000',
    });
    const rs = await generateKeyPair('RS512');
    gateway = { privateKey: rs.privateKey, kid: 'gw-1' };
  });
  afterAll(async () => {
    await server?.stop();
    hanging?.closeAllConnections();
    await new Promise<void>((resolve) => (hanging ? hanging.close(() => resolve()) : resolve()));
    rmSync(clientsDir, { recursive: true, force: true });
  });

  const remoteTokenRequest = async () => postTokenRequest(server.url, await signClientAssertion(remoteKey, { clientId: REMOTE.clientId, tokenUrl: `${server.url}/auth/token` }));

  async function gatewayToken(n: number): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ iss: GATEWAY, aud: server.fhir, client_id: 'gw-app', ods: 'RQ1', scope: 'system/Patient.rs', iat: now, exp: now + 120, jti: `gw-${n}` })
      .setProtectedHeader({ alg: 'RS512', kid: gateway.kid }).sign(gateway.privateKey);
  }

  it("when a client's jwks_uri hangs, then its token request answers invalid_client after the timeout, while other clients get tokens and are served; within the cooldown it is not fetched again", async () => {
    const started = Date.now();
    const [refused, served] = await Promise.all([
      remoteTokenRequest(),
      (async () => {
        const token = await getToken(server.url, OWN.clientId, ownKey, 'system/Patient.rs');
        return fhirFetch(token, `${server.fhir}/Patient?_count=1`);
      })(),
    ]);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    expect(refused.body.access_token).toBeUndefined();
    // It waited for the JWKS (no sooner than the timeout) and then answered rather than hanging.
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(served.status).toBe(200);
    expect(asked.filter((p) => p === '/client/jwks')).toHaveLength(1);

    // Again, within the cooldown: refused without another fetch.
    const again = await remoteTokenRequest();
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
    expect(asked.filter((p) => p === '/client/jwks')).toHaveLength(1);
  }, 20_000);

  it("when the external issuer's JWKS hangs, then its tokens are 401 after the timeout, our own tokens are served meanwhile, and within the cooldown the JWKS is not fetched again", async () => {
    const own = await getToken(server.url, OWN.clientId, ownKey, 'system/Patient.rs');
    const [external, mine] = await Promise.all([
      fhirFetch(await gatewayToken(1), `${server.fhir}/Patient?_count=1`),
      fhirFetch(own, `${server.fhir}/Patient?_count=1`),
    ]);
    expect(external.status).toBe(401);
    expect(external.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(mine.status).toBe(200);
    expect(asked.filter((p) => p === '/gateway/jwks')).toHaveLength(1);

    for (const n of [2, 3, 4]) expect((await fhirFetch(await gatewayToken(n), `${server.fhir}/Patient?_count=1`)).status).toBe(401);
    expect((await fhirFetch(own, `${server.fhir}/Patient?_count=1`)).status).toBe(200);
    expect(asked.filter((p) => p === '/gateway/jwks')).toHaveLength(1);
  }, 20_000);
});
