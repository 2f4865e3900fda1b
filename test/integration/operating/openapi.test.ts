/**
 * GET /openapi.json is a valid OpenAPI 3.1 document (checked by @seriousme/openapi-schema-validator
 * against the official schema), and real responses of every non-FHIR endpoint match it (their
 * bodies validated with Ajv against the document's own response schemas). The landing page too.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signClientAssertion, tokenRequestBody } from '../../../src/auth/client-assertion.ts';
import { LANDING_CSP } from '../../../src/http/landing-page.ts';
import { registerClient } from '../../helpers/auth.ts';
import { newCase, requestInput, startEsoServer, type EsoServer } from '../eso/harness.ts';

type Doc = { openapi: string; paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>; components: { schemas: Record<string, unknown> } };

let s: EsoServer;
let doc: Doc;
let ajv: Ajv2020;

beforeAll(async () => {
  s = await startEsoServer('sqlite');
  const res = await fetch(`${s.server.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Doc;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'openapi', components: doc.components } as object);
});
afterAll(async () => { await s?.stop(); });

/** Asserts that `body` is what the document says `method path` answers with `status` in `type`. */
function conforms(path: string, method: string, status: number, type: string, body: unknown): void {
  const op = doc.paths[path]?.[method];
  expect(op, `${method} ${path} is described`).toBeDefined();
  const response = op.responses[String(status)];
  expect(response, `${method} ${path} ${status} is described`).toBeDefined();
  const media = response.content?.[type.split(';')[0].trim()];
  expect(media, `${method} ${path} ${status} ${type} is described`).toBeDefined();
  const schema = JSON.parse(JSON.stringify(media!.schema).replaceAll('"#/components/', '"openapi#/components/'));
  const validate = ajv.compile(schema as object);
  expect(validate(body), `${method} ${path} ${status}: ${ajv.errorsText(validate.errors)}`).toBe(true);
}

async function call(path: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; type: string; body: unknown }> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('authorization', `Bearer ${init.token}`);
  const res = await fetch(`${s.server.url}${path}`, { ...init, headers });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, body: /json/.test(type) ? JSON.parse(text) : text };
}

describe('GET /openapi.json', () => {
  it('when fetched without a token, then it is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('when the ESO request is described, then its body is the project\'s own request schema', () => {
    const own = JSON.parse(readFileSync(new URL('../../../docs/eso-request.schema.json', import.meta.url), 'utf8')) as { properties: unknown; required: unknown };
    const described = doc.components.schemas.EsoRequest as { properties: unknown; required: unknown };
    expect(described.properties).toEqual(own.properties);
    expect(described.required).toEqual(own.required);
  });

  it('when it is read, then it describes every non-FHIR endpoint and no FHIR one', () => {
    expect(Object.keys(doc.paths).sort()).toEqual(['/admin/outbox', '/auth/jwks', '/auth/token', '/eso/cases/{taskId}/timeline', '/eso/overdue', '/eso/requests', '/healthz', '/hl7/v2', '/metrics', '/openapi.json', '/readyz']);
  });
});

describe('real responses match the document', () => {
  it('when an ESO request is made, replayed, refused and read back, then each answer is as described', async () => {
    const token = await s.as.requester.token();
    const input = requestInput();
    const created = await call('/eso/requests', { method: 'POST', token, headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
    expect(created.status).toBe(201);
    conforms('/eso/requests', 'post', 201, created.type, created.body);
    const replay = await call('/eso/requests', { method: 'POST', token, headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
    expect(replay.status).toBe(200);
    conforms('/eso/requests', 'post', 200, replay.type, replay.body);
    const bad = await call('/eso/requests', { method: 'POST', token, headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(bad.status).toBe(415);
    conforms('/eso/requests', 'post', 415, bad.type, bad.body);
    const unprocessable = await call('/eso/requests', { method: 'POST', token, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requestId: 5 }) });
    expect([400, 422]).toContain(unprocessable.status);
    conforms('/eso/requests', 'post', unprocessable.status, unprocessable.type, unprocessable.body);
    const taskId = (created.body as { task: { id: string } }).task.id;
    const timeline = await call(`/eso/cases/${taskId}/timeline`, { token, headers: { accept: 'application/json' } });
    expect(timeline.status).toBe(200);
    conforms('/eso/cases/{taskId}/timeline', 'get', 200, timeline.type, timeline.body);
    const missing = await call('/eso/cases/no-such-task/timeline', { token });
    expect(missing.status).toBe(404);
    conforms('/eso/cases/{taskId}/timeline', 'get', 404, missing.type, missing.body);
    const overdue = await call('/eso/overdue', { token });
    expect(overdue.status).toBe(200);
    conforms('/eso/overdue', 'get', 200, overdue.type, overdue.body);
  });

  it('when tokens, keys, the outbox, health and refusals are asked for, then each answer is as described', async () => {
    await newCase(s);
    const token = await s.as.requester.token();
    const jwks = await call('/auth/jwks');
    conforms('/auth/jwks', 'get', 200, jwks.type, jwks.body);
    const refused = await call('/auth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    expect([400, 401]).toContain(refused.status);
    conforms('/auth/token', 'post', refused.status, refused.type, refused.body);
    const outbox = await call('/admin/outbox', { token });
    expect(outbox.status).toBe(200);
    conforms('/admin/outbox', 'get', 200, outbox.type, outbox.body);
    const badLimit = await call('/admin/outbox?limit=0', { token });
    expect(badLimit.status).toBe(400);
    conforms('/admin/outbox', 'get', 400, badLimit.type, badLimit.body);
    const noToken = await call('/admin/outbox');
    expect(noToken.status).toBe(401);
    conforms('/admin/outbox', 'get', 401, noToken.type, noToken.body);
    for (const p of ['/healthz', '/readyz']) {
      const r = await call(p);
      conforms(p, 'get', 200, r.type, r.body);
    }
    const metrics = await call('/metrics', { token });
    expect(metrics.status).toBe(403);
    conforms('/metrics', 'get', 403, metrics.type, metrics.body);
  });

  it('when a token is issued, then the real answer is as described', async () => {
    const key = await registerClient(dirname(s.server.env.ESO_CLIENTS_FILE), { clientId: 'openapi-check', organization: 'RZ1' });
    const tokenUrl = `${s.server.url}/auth/token`;
    // The clients file is re-read at most once a second: ask until the new client is known (bounded), each time with a new assertion.
    let issued = { status: 0 } as Awaited<ReturnType<typeof call>>;
    for (let i = 0; i < 40 && issued.status !== 200; i++) {
      if (i) await new Promise((r) => setTimeout(r, 250));
      const assertion = await signClientAssertion(key, { clientId: 'openapi-check', tokenUrl });
      issued = await call('/auth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: tokenRequestBody(assertion, 'system/Task.rs').toString() });
    }
    expect(issued.status).toBe(200);
    conforms('/auth/token', 'post', 200, issued.type, issued.body);
  });
});

describe('GET /', () => {
  it('when a browser opens the root without a token, then it gets a page naming the server, its version and the links, under a strict CSP', async () => {
    const res = await fetch(`${s.server.url}/`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toBe(LANDING_CSP);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('script-src');
    const html = await res.text();
    expect(html).not.toMatch(/<script|\son[a-z]+=/i);
    expect(html).toContain('eso-bridge');
    expect(html).toContain('0.1.0');
    for (const path of ['/fhir/metadata', '/fhir/.well-known/smart-configuration', '/openapi.json', '/healthz', '/readyz']) {
      expect(html).toContain(`href="${s.server.url}${path}"`);
      expect((await fetch(`${s.server.url}${path}`)).status, path).toBe(200);
    }
  });

  it('when the page is read, then it holds nothing private: no organisation, client or count', async () => {
    const html = await (await fetch(`${s.server.url}/`)).text();
    for (const secret of ['RZ1', 'RZ2', 'client', 'clients.json', s.server.dataDir]) expect(html).not.toContain(secret);
  });
});
