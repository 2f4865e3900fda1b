/**
 * Shared by the hostile-input suites: HTTP with a client-side timeout (a hang fails the test
 * instead of stalling it), also as a client with a real token (`sendAs`), what a refusal must
 * look like (a 4xx OperationOutcome without internals), a fingerprint of stored data (to prove a
 * refused input changed nothing), the "still alive" probe, and generators of hostile values for
 * fast-check, and the service with a case of the client's own that the FHIR JSON and search
 * suites start.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { RESOURCE_TYPES } from '../../../src/fhir/search-params.ts';
import type { ResourceType, Storage } from '../../../src/storage/types.ts';
import type { Backend } from '../../helpers/backends.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { esoDirectoryEntries, ORGS, fixture as requestFixture } from '../eso/harness.ts';

/** Longest any one request may take before the test calls it a hang. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Per property test: its runs are quick, but a loaded CI machine must not turn them into a failure. */
export const PROPERTY_TIMEOUT_MS = 90_000;

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

/** fetch with a timeout; the body is read whole and parsed when it is JSON. */
export async function send(url: string, init: RequestInit = {}, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * `send` as a client: its authorization header (a test server's `authHeaders`) goes on every
 * request. The token is real, so a 401 means the test lost its authentication (and every
 * property would pass on refusals alone): that fails at once.
 */
export function sendAs(authHeaders: () => Promise<Record<string, string>>) {
  return async (url: string, init: RequestInit = {}, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Answer> => {
    const a = await send(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), ...(await authHeaders()) } }, timeoutMs);
    expect(a.status, `a real token was refused: ${a.text.slice(0, 300)}`).not.toBe(401);
    return a;
  };
}

/** Text that would mean internals leaked: a stack frame, a runtime error class, a source path. */
const INTERNALS = /\bat [^\n]*:\d+:\d+|node:internal|\/src\/[a-z]|\.ts:\d+|\b(TypeError|RangeError|ReferenceError|SyntaxError)\b/;

/** A FHIR error answer: an OperationOutcome whose first issue has a severity and a code, and no internals. */
export function expectOperationOutcome(a: Answer): void {
  expect(a.headers.get('content-type') ?? '', `content type of ${a.status}`).toMatch(/json/);
  expect(a.json?.resourceType, `body of ${a.status}: ${a.text.slice(0, 300)}`).toBe('OperationOutcome');
  expect(Array.isArray(a.json.issue) && a.json.issue.length > 0).toBe(true);
  expect(['fatal', 'error', 'warning', 'information']).toContain(a.json.issue[0].severity);
  expect(typeof a.json.issue[0].code).toBe('string');
  expect(a.text).not.toMatch(INTERNALS);
}

/** A refusal: a 4xx with an OperationOutcome. */
export function expectRefusal(a: Answer): void {
  expect(a.status, a.text.slice(0, 300)).toBeGreaterThanOrEqual(400);
  expect(a.status, a.text.slice(0, 300)).toBeLessThan(500);
  expectOperationOutcome(a);
}

/** Never a 5xx; an error answer is an OperationOutcome. */
export function expectNoServerError(a: Answer): void {
  expect(a.status, a.text.slice(0, 300)).toBeLessThan(500);
  if (a.status >= 400) expectOperationOutcome(a);
}

/** The entries of a batch/transaction-response: none may be a 5xx, each error carries an OperationOutcome. */
export function expectEntriesWithoutServerError(bundle: any): void {
  for (const e of bundle?.entry ?? []) {
    const status = Number(String(e?.response?.status ?? '').slice(0, 3));
    expect(status, JSON.stringify(e).slice(0, 300)).toBeLessThan(500);
    if (status >= 400) expect(e.response.outcome?.resourceType).toBe('OperationOutcome');
  }
}

/** Every type but AuditEvent (refusals are audited, by design). */
const TRACKED = RESOURCE_TYPES.filter((t) => t !== 'AuditEvent') as ResourceType[];

/**
 * What is stored, read as the system: per type, how many resources and when the newest was
 * written (a create changes the count, an update the time; the newest's id is not used: one
 * transaction writes several of a type at the same instant, in no defined order).
 */
export async function fingerprint(storage: Storage): Promise<Record<string, string>> {
  const rows = await Promise.all(TRACKED.map(async (type) => {
    const r = await storage.search({ type, criteria: [], count: 1, offset: 0, total: 'accurate', sort: [{ kind: 'lastUpdated', descending: true }] });
    const newest = r.resources[0];
    return [type, `${r.total}${newest ? ` newest at ${newest.lastUpdated}` : ''}`] as const;
  }));
  return Object.fromEntries(rows);
}

/**
 * Tracks stored data across a sequence of requests (nothing else writes meanwhile): each
 * `check` compares with the previous one, and must find it unchanged when `refused`.
 */
export class StoredData {
  private last: Record<string, string> | undefined;

  constructor(private readonly storage: () => Storage) {}

  /** Takes the reference fingerprint (at the start of a test). */
  async reset(): Promise<void> {
    this.last = await fingerprint(this.storage());
  }

  /** After one request: unchanged when it was refused; the new state is the next reference. */
  async check(refused: boolean, what = ''): Promise<void> {
    const now = await fingerprint(this.storage());
    if (refused) expect(now, `stored data changed by a refused request ${what}`.trim()).toEqual(this.last);
    this.last = now;
  }
}

/** The service still answers: GET /fhir/metadata is a CapabilityStatement. */
export async function expectAlive(baseUrl: string): Promise<void> {
  const a = await send(`${baseUrl}/fhir/metadata`, { headers: { accept: 'application/fhir+json' } });
  expect(a.status).toBe(200);
  expect(a.json?.resourceType).toBe('CapabilityStatement');
}

/**
 * The service the FHIR JSON and search suites attack: the organisations of the request fixtures
 * placed by the operator, the client acting for the requesting Trust (RZ1), and one case of its
 * own (the full request fixture, `label` in its requestId) whose Task, ServiceRequest and child
 * it sees.
 */
export async function startWithOwnCase(backend: Backend, label: string): Promise<{ server: TestServer; ids: { Task: string; ServiceRequest: string; Patient: string } }> {
  const server = await startTestServer(backend, {}, { client: { clientId: 'rz1-epr', organization: ORGS.requester }, directory: esoDirectoryEntries() });
  const request = requestFixture<any>('full.json');
  request.requestId.value = `${label}-${backend}-${process.pid}-${Date.now()}`;
  const created = await sendAs(() => server.authHeaders())(`${server.url}/eso/requests`, { method: 'POST', body: JSON.stringify(request), headers: { 'content-type': 'application/json' } });
  expect(created.status, created.text).toBe(201);
  return {
    server,
    ids: { Task: created.json.task.id, ServiceRequest: created.json.serviceRequest.id, Patient: created.json.serviceRequest.subject.reference.split('/')[1] },
  };
}

/** The own property names of the built-in prototypes a pollution would touch. */
export function prototypeShape(): string {
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype]
    .map((p) => Object.getOwnPropertyNames(p).sort().join(',')).join('|');
}

/** Nothing reached Object.prototype from a parsed body. */
export function expectNoPollution(before: string): void {
  expect(prototypeShape()).toBe(before);
  const probe = {} as Record<string, unknown>;
  for (const k of ['polluted', 'isAdmin', 'x', 'resourceType', 'admin']) expect(probe[k], k).toBeUndefined();
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

/** Keys an attacker sends to reach the prototype chain or confuse a lookup table. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'isPrototypeOf'];

/** Strings that break naive handling: empty, control characters, lone surrogates, quotes, path tricks, long. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 3, arbitrary: fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff', '\uffff', '\u202e', '\r\n', '"\'<>&', '%zz', '%00', '../../etc/passwd',
    '${jndi:ldap://x}', '{{7*7}}', "' OR 1=1 --", 'Patient/../../x', 'http://evil/', 'NaN', '-1', '1e309', '0x10', ...PROTOTYPE_KEYS) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => 'x'.repeat(n * 4000)) },
);

/** Any JSON scalar, including the awkward numbers JSON can carry. */
export const nastyScalar: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.constantFrom(null, true, false, 0, -0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.1, Number.MIN_VALUE),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** Object keys: FHIR element names, prototype keys, `_` siblings, and anything. */
export const nastyKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...PROTOTYPE_KEYS),
  fc.constantFrom('resourceType', 'id', 'meta', 'text', 'extension', 'modifierExtension', 'contained', 'identifier', 'name', 'reference', 'subject', 'status',
    'url', 'valueString', 'valueReference', '_status', '_name', 'entry', 'request', 'resource', 'fullUrl', 'requestId', 'child', 'value', 'system'),
  fc.string({ maxLength: 12 }),
);

/** Arbitrary JSON with hostile keys and values, a few levels deep. */
export const nastyJson: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nastyScalar,
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(nastyKey, tie('node'), { maxKeys: 5 }),
  ),
})).node;

/** JSON text nested `depth` levels deep, as arrays or objects. */
export function deepJson(depth: number, kind: 'array' | 'object', leaf = '1'): string {
  return kind === 'array' ? `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
}

/** References that must never resolve to, or be stored as, a real link. */
export const badReference: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('Patient/../../x', 'Patient/', '/Patient/1', 'Patient//1', 'http://evil/', 'http://evil/fhir/Patient/1', 'javascript:alert(1)', '#missing',
    'urn:uuid:00000000-0000-0000-0000-000000000000', 'urn:uuid:nowhere', 'Unknown/1', 'patient/1', 'Patient/1/_history/x', 'Patient/%2e%2e', 'Patient/a b',
    'Patient/__proto__', '__proto__/x', 'file:///etc/passwd', `Patient/${'a'.repeat(65)}`, 'Patient/\u0000', 'ServiceRequest/00000000-0000-4000-8000-000000000000'),
  fc.string({ maxLength: 20 }).map((s) => `Patient/${s}`),
  nastyString,
);

/** A path inside a JSON value: a list of keys/indexes that exist there. */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out);
  return out;
}

/** One change to a valid document: replace a value, add a hostile key, or drop a key. */
export type Mutation = { at: number; op: 'replace' | 'add' | 'drop' | 'wrap' | 'reference'; key: string; value: unknown };

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('replace', 'add', 'drop', 'wrap', 'reference'),
  key: nastyKey,
  value: nastyJson,
});

/** Applies mutations to a copy of `doc` (paths chosen among those that exist at each step). */
export function mutate<T>(doc: T, mutations: Mutation[], reference?: string): T {
  const root = { doc: structuredClone(doc) } as { doc: any };
  for (const m of mutations) {
    const all = paths(root.doc, ['doc']);
    const path = all[m.at % all.length];
    const parentPath = path.slice(0, -1);
    const last = path[path.length - 1];
    let parent: any = root;
    for (const p of parentPath) parent = parent[p];
    const target = parent[last];
    switch (m.op) {
      case 'replace': parent[last] = m.value; break;
      case 'wrap': parent[last] = [[{ [m.key]: target }]]; break;
      case 'reference': parent[last] = { reference: reference ?? 'Patient/../../x' }; break;
      case 'drop':
        if (path.length > 1) {
          if (Array.isArray(parent)) parent.splice(Number(last), 1);
          else delete parent[last];
        }
        break;
      case 'add':
        if (target && typeof target === 'object' && !Array.isArray(target)) Object.defineProperty(target, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
        else if (Array.isArray(target)) target.push(m.value);
        else parent[last] = { [m.key]: m.value };
        break;
    }
  }
  return root.doc as T;
}
