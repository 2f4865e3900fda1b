/**
 * Scopes on the ways in that are not FHIR REST: POST /eso/requests and POST /hl7/v2 need create
 * on ServiceRequest and Task, the timeline Task read, the overdue list Task search. A refusal
 * is 403 with an OperationOutcome and stores nothing. Every AR/AE answered on POST /hl7/v2
 * leaves an AuditEvent (failure, the client and organisation, MSH-10; never the message).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent, Bundle, OperationOutcome } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientsFileIn, registerClient } from '../../helpers/auth.ts';
import { backends } from '../../helpers/backends.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { party, requestInput, type Party } from '../eso/harness.ts';
import { freshSample, msa, requestSystem, setField, storedCounts } from '../hl7/harness.ts';

const ER7 = 'x-application/hl7-v2+er7';
const ORG_ONLY = 'system/Organization.rs';
const INTAKE_ONLY = 'system/ServiceRequest.c system/Task.c';
const INTAKE_NEEDS = 'needs system/ServiceRequest.c and system/Task.c';

interface Answer { status: number; body: any }

describe.each(backends())('scopes of /eso/* and /hl7/v2 on %s', (backend) => {
  let server: TestServer;
  let clientsDir: string;
  /** RA7 (the v2.5.1 sample's sender) with system/*.cruds, for the checks. */
  let ra7: Party;
  /** Tokens of RA7's client (allowed system/*.cruds) narrowed to one scope each. */
  const tokens: Record<string, string> = {};
  let caseTaskId: string;

  async function call(scope: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${server.url}${path}`, { method, body, headers: { authorization: `Bearer ${tokens[scope]}`, accept: 'application/json', ...headers } });
    const text = await res.text();
    try { return { status: res.status, body: JSON.parse(text) }; } catch { return { status: res.status, body: text }; }
  }
  /** An ESO request from RA7 to SGH01 (independent of each other in the harness's directory). */
  const esoRequest = () => requestInput((r) => { r.requester.organization = 'RA7'; r.provider.organization = 'SGH01'; });
  const tasksWithIdentifier = async (system: string, value: string) =>
    ((await ra7.get<Bundle>(`/fhir/Task?identifier=${encodeURIComponent(`${system}|${value}`)}`)).body.entry ?? []);
  const expectRefused = (a: Answer, needs: string) => {
    expect(a.status, JSON.stringify(a.body)).toBe(403);
    const oo = a.body as OperationOutcome;
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue[0].code).toBe('forbidden');
    expect(oo.issue[0].diagnostics).toContain(needs);
  };

  beforeAll(async () => {
    // Two top-level organisations (made from the clients list), so RA7 -> SGH01 is independent.
    clientsDir = mkdtempSync(join(tmpdir(), 'eso-scopes-clients-'));
    const key = await registerClient(clientsDir, { clientId: 'ra7-client', organization: 'RA7' });
    await registerClient(clientsDir, { clientId: 'sgh01-client', organization: 'SGH01' });
    server = await startTestServer(backend, { ESO_AUTH_DISABLED: 'false', ESO_CLIENTS_FILE: clientsFileIn(clientsDir) });
    ra7 = party(server, 'RA7', 'ra7-client', key);
    for (const scope of [ORG_ONLY, INTAKE_ONLY, 'system/Task.rs', 'system/*.cruds']) tokens[scope] = await ra7.token(scope);
    const created = await call('system/*.cruds', 'POST', '/eso/requests', JSON.stringify(esoRequest()), { 'content-type': 'application/json' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    caseTaskId = created.body.task.id;
  });
  afterAll(async () => {
    await server?.stop();
    if (clientsDir) rmSync(clientsDir, { recursive: true, force: true });
  });

  describe('when a client may only read Organizations', () => {
    it('then POST /eso/requests is 403 naming the scopes it needs, and no case is stored', async () => {
      const input = esoRequest();
      expectRefused(await call(ORG_ONLY, 'POST', '/eso/requests', JSON.stringify(input), { 'content-type': 'application/json' }), INTAKE_NEEDS);
      expect(await tasksWithIdentifier(input.requestId.system, input.requestId.value)).toEqual([]);
    });

    it('then the timeline of a case of its own organisation is 403 (needs Task read)', async () => {
      expectRefused(await call(ORG_ONLY, 'GET', `/eso/cases/${caseTaskId}/timeline`), 'needs system/Task.r');
    });

    it('then the overdue list is 403 (needs Task search)', async () => {
      expectRefused(await call(ORG_ONLY, 'GET', '/eso/overdue'), 'needs system/Task.s');
    });

    it('then POST /hl7/v2 is 403 with an OperationOutcome (not an HL7 ACK), and nothing is stored', async () => {
      const before = await storedCounts(server.storage);
      const { text, requestId } = freshSample('v251');
      expectRefused(await call(ORG_ONLY, 'POST', '/hl7/v2', text, { 'content-type': ER7 }), INTAKE_NEEDS);
      expect(await tasksWithIdentifier(requestSystem('RA7'), requestId)).toEqual([]);
      expect(await storedCounts(server.storage)).toEqual(before);
    });
  });

  describe('when a client may create ServiceRequests and Tasks but read nothing', () => {
    it('then it may submit over /eso/requests', async () => {
      const input = esoRequest();
      const res = await call(INTAKE_ONLY, 'POST', '/eso/requests', JSON.stringify(input), { 'content-type': 'application/json' });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(await tasksWithIdentifier(input.requestId.system, input.requestId.value)).toHaveLength(1);
    });

    it('then it may submit over /hl7/v2 (AA)', async () => {
      const { text, controlId } = freshSample('v251');
      const res = await call(INTAKE_ONLY, 'POST', '/hl7/v2', text, { 'content-type': ER7 });
      expect(res.status).toBe(200);
      expect(msa(res.body as string)).toMatchObject({ code: 'AA', controlId });
    });

    it('then it may not read the timeline', async () => {
      expectRefused(await call(INTAKE_ONLY, 'GET', `/eso/cases/${caseTaskId}/timeline`), 'needs system/Task.r');
    });
  });

  describe('when a client may read and search Tasks', () => {
    it('then it reads the timeline and the overdue list', async () => {
      expect((await call('system/Task.rs', 'GET', `/eso/cases/${caseTaskId}/timeline`)).status).toBe(200);
      const overdue = await call('system/Task.rs', 'GET', '/eso/overdue');
      expect([overdue.status, overdue.body.resourceType]).toEqual([200, 'Bundle']);
    });

    it('then it may not submit', async () => {
      expectRefused(await call('system/Task.rs', 'POST', '/eso/requests', JSON.stringify(esoRequest()), { 'content-type': 'application/json' }), INTAKE_NEEDS);
    });
  });

  describe('when POST /hl7/v2 answers AR', () => {
    /** The AuditEvents of one request (its X-Request-Id), read as the system. */
    async function eventsOf(requestId: string): Promise<AuditEvent[]> {
      const r = await server.storage.search({ type: 'AuditEvent', criteria: [], count: 5000, offset: 0, total: 'none' });
      return r.resources.map((x) => x.resource as AuditEvent).filter((e) => e.entity?.some((x) => x.what?.identifier?.value === requestId));
    }
    const expectAudited = (events: AuditEvent[], controlId: string, ack: string) => {
      expect(events).toHaveLength(1);
      const [e] = events;
      expect(e.outcome).toBe('4');
      expect(e.outcomeDesc).toContain(`AR, MSH-10 ${controlId}`);
      expect(e.agent.map((a) => a.who?.identifier?.value)).toEqual(['ra7-client', 'RA7']);
      // Nothing of the message: no NHS number, no refusal text quoting its fields.
      const json = JSON.stringify(e);
      expect(json).not.toContain('9000000009');
      expect(json).not.toContain(msa(ack).text);
    };

    it('for a message type other than REF^I12, then an AuditEvent records the failure with MSH-10', async () => {
      const { text, controlId } = freshSample('v251');
      const adt = setField(text, 'MSH', 9, 'ADT^A01');
      const requestId = `ar-type-${controlId}`;
      const res = await call('system/*.cruds', 'POST', '/hl7/v2', adt, { 'content-type': ER7, 'x-request-id': requestId });
      expect(msa(res.body as string)).toMatchObject({ code: 'AR', controlId });
      expectAudited(await eventsOf(requestId), controlId, res.body as string);
    });

    it("for an MSH-4 that is not the token's organisation, then an AuditEvent names the client and its organisation", async () => {
      const { text, controlId } = freshSample('v251');
      const other = setField(text, 'MSH', 4, 'RGT');
      const requestId = `ar-org-${controlId}`;
      const res = await call('system/*.cruds', 'POST', '/hl7/v2', other, { 'content-type': ER7, 'x-request-id': requestId });
      expect(msa(res.body as string)).toMatchObject({ code: 'AR', controlId });
      expectAudited(await eventsOf(requestId), controlId, res.body as string);
    });
  });

  it('when the CapabilityStatement is read, then its security description names the scopes of /eso/* and /hl7/v2', async () => {
    const cs = await (await fetch(`${server.url}/fhir/metadata`)).json() as { rest: { security?: { description?: string } }[] };
    const text = cs.rest[0].security?.description ?? '';
    expect(text).toContain('POST /eso/requests needs system/ServiceRequest.c and system/Task.c');
    expect(text).toContain('POST /hl7/v2 needs system/ServiceRequest.c and system/Task.c');
    expect(text).toContain('GET /eso/cases/{id}/timeline needs system/Task.r');
    expect(text).toContain('GET /eso/overdue needs system/Task.s');
  });
});
