/**
 * Hostile FHIR JSON at the real service (in-process, real HTTP on loopback, authentication on:
 * the requesting Trust's client with a real token, organisations from the directory file), on both backends:
 * arbitrary JSON with prototype keys, mutated valid resources (wrong types, bad references,
 * nesting), transaction and batch Bundles with hostile entries, ESO requests, deep nesting,
 * huge arrays, bodies over the limit, invalid JSON and wrong content types. Every answer is
 * a 4xx OperationOutcome or a legitimate success, never a 5xx or a hang; a refused input
 * leaves stored data as it was; Object.prototype stays clean; the service keeps answering.
 */
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { backends } from '../../helpers/backends.ts';
import { fixture, VALID_ESO_FIXTURES } from '../../helpers/cases.ts';
import type { TestServer } from '../../helpers/server.ts';
import { organizationId } from '../../helpers/directory.ts';
import { ORGS, fixture as requestFixture } from '../eso/harness.ts';
import {
  PROPERTY_TIMEOUT_MS, badReference, deepJson, expectAlive, expectEntriesWithoutServerError, expectNoPollution, expectNoServerError, expectRefusal,
  mutate, mutation, nastyJson, nastyKey, nastyString, PROTOTYPE_KEYS, prototypeShape, sendAs, startWithOwnCase, StoredData, type Answer,
} from './hostile.ts';

vi.setConfig({ testTimeout: PROPERTY_TIMEOUT_MS });

const TYPES = ['Patient', 'RelatedPerson', 'Practitioner', 'PractitionerRole', 'Organization', 'ServiceRequest', 'Task', 'Consent', 'DiagnosticReport',
  'DocumentReference', 'Binary', 'Condition', 'Provenance', 'AuditEvent'];
const typeName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TYPES) },
  { weight: 1, arbitrary: fc.constantFrom('Observation', 'Bundle', 'StructureDefinition', 'patient', 'Patient ', ...PROTOTYPE_KEYS.filter((k) => k !== '__proto__')) },
);
/** The single resources among the valid fixtures. */
const RESOURCES = VALID_ESO_FIXTURES.filter((n) => n !== 'transaction-new-case').map((n) => fixture<{ resourceType: string; id?: string }>(n));
const MB = 1024 * 1024;

describe.each(backends())('hostile FHIR JSON on %s', (backend) => {
  let server: TestServer;
  let pristine: string;
  /** Ids of a stored case (the targets of hostile updates). */
  const ids: Record<string, string> = {};
  let requestCounter = 0;
  const stored = new StoredData(() => server.storage);
  /** Fewer runs on PostgreSQL: the properties are the same, its own risks (NUL, locks) are in the examples. */
  const runs = (n: number) => (backend === 'postgres' ? Math.ceil(n / 2) : n);

  /** As the requesting Trust's client (RZ1), with its token. */
  const request = async (method: string, path: string, body: string | undefined, headers: Record<string, string> = {}): Promise<Answer> =>
    sendAs(() => server.authHeaders())(`${server.url}${path}`, { method, body, headers: { accept: 'application/fhir+json', 'content-type': 'application/fhir+json', ...headers } });

  /** Sends one hostile request: never a 5xx; an error is an OperationOutcome; a refusal stores nothing. */
  async function hostile(method: string, path: string, body: string | undefined, headers: Record<string, string> = {}): Promise<Answer> {
    const a = await request(method, path, body, headers);
    expectNoServerError(a);
    await stored.check(a.status >= 400);
    return a;
  }

  /** A success must be what was asked for. */
  const expectCreatedOrUpdated = (a: Answer, type: string) => {
    if (a.status >= 300) return;
    expect([200, 201]).toContain(a.status);
    expect(a.json?.resourceType).toBe(type);
    expect(typeof a.json?.id).toBe('string');
  };

  beforeAll(async () => {
    const started = await startWithOwnCase(backend, 'HOSTILE');
    server = started.server;
    Object.assign(ids, started.ids);
    // The child's record is the requester's.
    const child = await request('GET', `/fhir/Patient/${ids.Patient}`, undefined);
    expect(child.json?.managingOrganization?.reference).toBe(`Organization/${await organizationId(server.fhir, ORGS.requester, await server.authHeaders())}`);
    pristine = prototypeShape();
  }, 60_000);
  afterAll(async () => server?.stop());
  beforeEach(async () => stored.reset());
  afterEach(async () => {
    await expectAlive(server.url);
    expectNoPollution(pristine);
  });

  function freshRequest(): any {
    const r = requestFixture<any>('full.json');
    r.requestId.value = `HOSTILE-${backend}-${process.pid}-${Date.now()}-${++requestCounter}`;
    return r;
  }

  it('when arbitrary JSON with hostile keys is POSTed as a resource, then it is refused with an OperationOutcome or created as that type, and a refusal stores nothing', async () => {
    const body = fc.oneof(
      nastyJson,
      fc.tuple(typeName, fc.dictionary(nastyKey, nastyJson, { maxKeys: 6 })).map(([t, rest]) => ({ ...rest, resourceType: t })),
    );
    await fc.assert(
      fc.asyncProperty(typeName, body, async (type, json) => {
        const a = await hostile('POST', `/fhir/${encodeURIComponent(type)}`, JSON.stringify(json) ?? 'null');
        expectCreatedOrUpdated(a, type);
      }),
      {
        numRuns: runs(80),
        examples: [
          ['Patient', JSON.parse('{"resourceType":"Patient","__proto__":{"polluted":true},"name":[{"__proto__":{"isAdmin":true},"family":"A"}]}')],
          ['Patient', { resourceType: 'Patient', constructor: { prototype: { polluted: true } } }],
          ['constructor', { resourceType: 'constructor' }],
          ['Observation', { resourceType: 'Observation', status: 'final', code: { text: 'x' } }],
          ['Patient', { resourceType: 'Patient', name: 'not an array', birthDate: 20160512, active: 'yes', gender: { code: 'female' } }],
        ],
      },
    );
  });

  it('when a valid resource is mutated (wrong types, hostile keys, bad references, extra nesting) and created or updated, then the answer is a 4xx OperationOutcome or a success of that type, and a refusal stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...RESOURCES), fc.array(mutation, { minLength: 1, maxLength: 4 }), badReference, fc.boolean(), async (resource, mutations, ref, update) => {
        const target = ids[resource.resourceType];
        const doc = mutate({ ...resource, id: update && target ? target : resource.id }, mutations, ref);
        const a = update && target
          ? await hostile('PUT', `/fhir/${resource.resourceType}/${target}`, JSON.stringify(doc))
          : await hostile('POST', `/fhir/${resource.resourceType}`, JSON.stringify(doc));
        expectCreatedOrUpdated(a, resource.resourceType);
      }),
      { numRuns: runs(60) },
    );
  });

  it('when a resource carries a reference that resolves nowhere or outside this server, then the answer is never a 5xx and a refusal stores nothing', async () => {
    const carriers: ((ref: string) => { type: string; body: unknown })[] = [
      (ref) => ({ type: 'Patient', body: { resourceType: 'Patient', managingOrganization: { reference: ref } } }),
      (ref) => ({ type: 'Patient', body: { resourceType: 'Patient', generalPractitioner: [{ reference: ref }], contained: [{ resourceType: 'Organization', id: 'o1', name: 'x' }] } }),
      (ref) => ({ type: 'Condition', body: { resourceType: 'Condition', subject: { reference: ref }, code: { text: 'x' } } }),
      (ref) => ({ type: 'Task', body: { ...RESOURCES.find((r) => r.resourceType === 'Task'), focus: { reference: ref } } }),
      (ref) => ({ type: 'ServiceRequest', body: { ...RESOURCES.find((r) => r.resourceType === 'ServiceRequest'), subject: { reference: ref } } }),
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...carriers), badReference, async (carrier, ref) => {
        const { type, body } = carrier(ref);
        const a = await hostile('POST', `/fhir/${type}`, JSON.stringify(body));
        expectCreatedOrUpdated(a, type);
      }),
      { numRuns: runs(40) },
    );
  });

  it('when a transaction or batch Bundle carries hostile entries, then it is refused with an OperationOutcome or answered entry by entry without a 5xx, and a refused transaction stores nothing', async () => {
    const entry = fc.record({
      fullUrl: fc.option(fc.oneof(nastyString, fc.constant('urn:uuid:3a6c1b4e-0000-4000-8000-000000000001'), fc.uuid().map((u) => `urn:uuid:${u}`)), { nil: undefined }),
      request: fc.option(fc.record({
        method: fc.oneof(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'get', 'toString', '__proto__'), nastyString),
        url: fc.oneof(fc.constantFrom('Patient', 'Patient/_search', '', '/', 'metadata', '_history', 'Patient?name=%zz', 'Patient?constructor=1', `Task/${'x'.repeat(70)}`,
          'Patient/../../etc', '?', 'Patient?_count=-1', 'http://evil/fhir/Patient', 'Bundle'), typeName, nastyString),
        ifNoneExist: fc.option(fc.oneof(nastyString, fc.constantFrom('__proto__=x', 'identifier=a|b&constructor=1', '_count=1e9')), { nil: undefined }),
        ifMatch: fc.option(fc.oneof(nastyString, fc.constantFrom('W/"1"', 'W/"99999999999999999999"', 'W/"-1"')), { nil: undefined }),
      }), { nil: undefined, freq: 6 }),
      resource: fc.option(fc.oneof(nastyJson, fc.constantFrom(...RESOURCES), fc.tuple(fc.constantFrom(...RESOURCES), fc.array(mutation, { maxLength: 3 })).map(([r, m]) => mutate(r, m))), { nil: undefined }),
    }, { requiredKeys: [] });
    const bundle = fc.record({
      resourceType: fc.oneof({ weight: 6, arbitrary: fc.constant('Bundle') }, { weight: 1, arbitrary: nastyString }),
      type: fc.oneof({ weight: 3, arbitrary: fc.constantFrom('transaction', 'batch') }, { weight: 1, arbitrary: fc.oneof(fc.constantFrom('searchset', 'collection', 'toString'), nastyString) }),
      entry: fc.oneof({ weight: 6, arbitrary: fc.array(entry, { maxLength: 5 }) }, { weight: 1, arbitrary: nastyJson }),
    }, { requiredKeys: ['resourceType'] });
    await fc.assert(
      fc.asyncProperty(bundle, async (b) => {
        const a = await request('POST', '/fhir', JSON.stringify(b));
        expectNoServerError(a);
        if (a.status === 200) {
          expect(['transaction-response', 'batch-response']).toContain(a.json.type);
          expectEntriesWithoutServerError(a.json);
        }
        const refused = a.status >= 400 || (a.json?.type === 'batch-response' && (a.json.entry ?? []).every((e: any) => Number(e.response?.status) >= 400));
        await stored.check(refused);
      }),
      {
        numRuns: runs(60),
        examples: [
          [{ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'GET', url: 'Patient?constructor=1' } }] }],
          [{ resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Patient?__proto__=x&toString=1' } }] }],
          [{ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'Patient', ifNoneExist: 'hasOwnProperty=1' }, resource: { resourceType: 'Patient' } }] }],
          [{ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'toString', url: 'Patient' } }, { request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient' } }] }],
        ],
      },
    );
  });

  it('when the ESO request API gets arbitrary JSON or a mutated valid request, then the answer is a 4xx OperationOutcome or the case, and a refusal stores nothing', async () => {
    const body = fc.oneof(
      nastyJson,
      fc.array(mutation, { minLength: 1, maxLength: 4 }).map((m) => mutate(freshRequest(), m)),
      fc.record({ path: fc.constantFrom('requestId.value', 'requestId.system', 'child.nhsNumber', 'child.name.family', 'provider.organization', 'requester.organization'), value: nastyString })
        .map(({ path, value }) => {
          const r = freshRequest();
          const keys = path.split('.');
          let o = r;
          for (const k of keys.slice(0, -1)) o = o[k];
          o[keys[keys.length - 1]] = value;
          return r;
        }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (json) => {
        const a = await hostile('POST', '/eso/requests', JSON.stringify(json) ?? 'null', { 'content-type': 'application/json', accept: 'application/json' });
        if (a.status < 300) {
          expect(typeof a.json?.created).toBe('boolean');
          expect(a.json?.task?.resourceType).toBe('Task');
        }
      }),
      {
        numRuns: runs(60),
        examples: [
          [JSON.parse('{"__proto__":{"polluted":true},"requestId":{"__proto__":null}}')],
          [{ ...freshRequest(), requestId: { system: 'urn:x', value: 'a\u0000b' } }],
          [{ ...freshRequest(), constructor: { prototype: { polluted: true } } }],
        ],
      },
    );
  });

  it('when the body is not valid JSON, then every JSON endpoint answers 400 with an OperationOutcome and stores nothing', async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.constantFrom('{', '{"resourceType":"Patient"', "{'resourceType':'Patient'}", '{"a":1,}', '[1,2', '{"resourceType":"Patient"}}', 'undefined', 'NaN',
        '{"resourceType":"Patient","id":01}', '\uFEFF{"resourceType":"Patient"}x', '{"a":"\\u00"}', '{"a":"\\x41"}', '\u0000'),
    ).filter((t) => { try { JSON.parse(t); return false; } catch { return true; } });
    const target = fc.constantFrom(['POST', '/fhir/Patient'], ['PUT', '/fhir/Patient/x1'], ['POST', '/fhir'], ['POST', '/eso/requests'], ['POST', '/fhir/Task']);
    await fc.assert(
      fc.asyncProperty(text, target, async (body, [method, path]) => {
        expectRefusal(await hostile(method, path, body));
      }),
      { numRuns: runs(40) },
    );
  });

  it('when the content type is not FHIR JSON, then a write is refused with a 4xx OperationOutcome and nothing is stored', async () => {
    const contentType = fc.oneof(
      fc.constantFrom('text/plain', 'application/xml', 'application/fhir+xml', 'text/html', 'multipart/form-data; boundary=x', 'application/octet-stream',
        'application/json; charset=utf-16', 'application/json; charset=latin9', 'application/fhir+json; charset=koi8-r', 'application/jsonx', 'json', '*/*',
        'x-application/hl7-v2+er7', 'application/x-www-form-urlencoded'),
      fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz/+;=- 0123456789'.split('')), maxLength: 40 }),
    ).filter((t) => !/^\s*application\/(fhir\+)?json\s*(;\s*charset=utf-8\s*)?$/i.test(t));
    const body = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Content' }] });
    await fc.assert(
      fc.asyncProperty(contentType, fc.constantFrom(['POST', '/fhir/Patient'], ['PUT', '/fhir/Patient/x1'], ['POST', '/fhir'], ['POST', '/eso/requests']), async (type, [method, path]) => {
        const a = await hostile(method, path, body, { 'content-type': type });
        expectRefusal(a);
      }),
      { numRuns: runs(40) },
    );
  });

  it('when Accept, Prefer, If-Match or If-None-Exist carry garbage, then a write is never a 5xx and a refusal stores nothing', async () => {
    const header = fc.string({ unit: fc.constantFrom(...'abcWXYZ/"*=;,|&?_-. 0123456789%'.split('')), maxLength: 60 });
    const named = fc.oneof(
      fc.tuple(fc.constant('accept'), fc.oneof(header, fc.constantFrom('application/fhir+xml', 'application/xml', 'text/turtle', '*/*;q=0'))),
      fc.tuple(fc.constant('prefer'), fc.oneof(header, fc.constantFrom('return=OperationOutcome', 'handling=strict', 'return=minimal, respond-async'))),
      fc.tuple(fc.constant('if-match'), fc.oneof(header, fc.constantFrom('W/"99999999999999999999"', 'W/"-1"', '*', 'W/""'))),
      fc.tuple(fc.constant('if-none-exist'), fc.oneof(header, fc.constantFrom(...PROTOTYPE_KEYS.map((k) => `${k}=1`), 'identifier=%zz', '_count=-1', 'name=a&name=b'))),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(named, { minLength: 1, maxLength: 3 }), fc.boolean(), async (headers, update) => {
        const doc = update ? { resourceType: 'Patient', id: 'no-such-patient', name: [{ family: 'Header' }] } : { resourceType: 'Patient', identifier: [{ system: 'urn:hostile', value: 'never-stored' }] };
        const a = await hostile(update ? 'PUT' : 'POST', update ? '/fhir/Patient/no-such-patient' : '/fhir/Patient', JSON.stringify(doc), Object.fromEntries(headers));
        if (update) expect(a.status).toBeGreaterThanOrEqual(400);
      }),
      {
        numRuns: runs(40),
        examples: [[[['if-none-exist', '__proto__=x']], false], [[['if-none-exist', 'constructor=1']], false], [[['if-none-exist', 'toString=1']], false]],
      },
    );
  });

  describe('when the body is extreme', () => {
    const patient = (inner: string) => `{"resourceType":"Patient","extension":[${inner}]}`;
    const URN = 'urn:uuid:6f1c2d3e-0000-4000-8000-00000000dee9';
    /** A transaction whose one entry (a new or updated Patient) carries `inner` deep inside; built as text, never walked here. */
    const deepEntry = (method: 'POST' | 'PUT', inner: string) => `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"${URN}",`
      + `"request":{"method":"${method}","url":"Patient${method === 'PUT' ? '/deep-1' : ''}"},"resource":{"resourceType":"Patient",${method === 'PUT' ? '"id":"deep-1",' : ''}"extension":[${inner}]}}]}`;
    const cases: [string, string, string, () => string, number?][] = [
      ['10,000 nested arrays as the whole body', 'POST', '/fhir/Patient', () => deepJson(10_000, 'array')],
      ['10,000 nested objects as the whole body', 'POST', '/fhir/Patient', () => deepJson(10_000, 'object')],
      ['10,000 nested arrays inside an extension', 'POST', '/fhir/Patient', () => patient(deepJson(10_000, 'array'))],
      ['10,000 nested objects inside an extension', 'POST', '/fhir/Patient', () => patient(deepJson(10_000, 'object', '{"url":"http://x","valueString":"a"}'))],
      ['5,000 nested extensions', 'POST', '/fhir/Patient', () => patient(`${'{"url":"http://x","extension":['.repeat(5000)}{"url":"http://x","valueString":"a"}${']}'.repeat(5000)}`)],
      ['3,000 nested contained resources', 'POST', '/fhir/Patient', () => `${'{"resourceType":"Patient","contained":['.repeat(3000)}{"resourceType":"Patient"}${']}'.repeat(3000)}`],
      ['a 200,000-entry array', 'POST', '/fhir/Patient', () => JSON.stringify({ resourceType: 'Patient', name: Array.from({ length: 200_000 }, () => ({ family: 'x' })) })],
      ['a 100,000-key object', 'POST', '/fhir/Patient', () => JSON.stringify(Object.fromEntries([['resourceType', 'Patient'], ...Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i])]))],
      ['10,000 nested arrays in a transaction', 'POST', '/fhir', () => `{"resourceType":"Bundle","type":"transaction","entry":${deepJson(10_000, 'array')}}`],
      ['a transaction entry whose resource nests 10,000 objects', 'POST', '/fhir', () => deepEntry('POST', deepJson(10_000, 'object', `{"reference":"${URN}"}`))],
      ['a transaction entry whose resource nests 10,000 arrays', 'POST', '/fhir', () => deepEntry('POST', deepJson(10_000, 'array', `{"reference":"${URN}"}`))],
      ['a transaction update whose resource nests 10,000 objects', 'POST', '/fhir', () => deepEntry('PUT', deepJson(10_000, 'object'))],
      ['2,000 transaction entries', 'POST', '/fhir', () => JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 2000 }, () => ({ request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient' } })) })],
      ['10,000 nested objects as an ESO request', 'POST', '/eso/requests', () => deepJson(10_000, 'object')],
      ['an ESO request with a 200,000-entry array', 'POST', '/eso/requests', () => JSON.stringify({ ...requestFixture('full.json'), records: Array.from({ length: 200_000 }, () => ({ title: 'x', contentType: 'text/plain', data: 'QQ==' })) })],
      ['a 10 MB Patient', 'POST', '/fhir/Patient', () => JSON.stringify({ resourceType: 'Patient', name: [{ family: 'x'.repeat(10 * MB) }] }), 413],
      ['a 10 MB update', 'PUT', '/fhir/Patient/x1', () => JSON.stringify({ resourceType: 'Patient', id: 'x1', name: [{ family: 'x'.repeat(10 * MB) }] }), 413],
      ['a 10 MB transaction', 'POST', '/fhir', () => JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'Binary' }, resource: { resourceType: 'Binary', contentType: 'text/plain', data: 'QUJD'.repeat(2.5 * MB) } }] }), 413],
      ['a 10 MB ESO request', 'POST', '/eso/requests', () => JSON.stringify({ ...requestFixture('full.json'), records: [{ title: 'big', contentType: 'text/plain', data: 'QUJD'.repeat(2.5 * MB) }] }), 413],
      ['10 MB of whitespace', 'POST', '/fhir/Patient', () => ' '.repeat(10 * MB), 413],
    ];
    it.each(cases)('when %s is sent, then the answer is a 4xx OperationOutcome and nothing is stored', async (_what, method, path, body, status) => {
      const a = await hostile(method, path, body(), path === '/eso/requests' ? { 'content-type': 'application/json' } : {});
      expectRefusal(a);
      if (status) expect(a.status).toBe(status);
    });
  });
});
