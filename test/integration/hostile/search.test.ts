/**
 * Malformed search at the real service, on both backends, as a Trust's client with a real token: arbitrary names, modifiers, prefixes
 * and values, paging and sorting garbage, chains, repeats, `_include` nonsense, percent-encoding
 * garbage, prototype names, NUL characters and huge query strings, by GET and by POST _search,
 * with and without `Prefer: handling=strict`; and malformed paths. Never a 5xx or a hang; a 4xx
 * carries an OperationOutcome; a 200 is a searchset Bundle; searching stores nothing.
 */
import net from 'node:net';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConformance } from '../../../src/fhir/conformance.ts';
import { backends } from '../../helpers/backends.ts';
import type { TestServer } from '../../helpers/server.ts';
import { PROPERTY_TIMEOUT_MS, expectAlive, expectNoServerError, expectOperationOutcome, expectRefusal, nastyString, PROTOTYPE_KEYS, prototypeShape, expectNoPollution, sendAs, startWithOwnCase, StoredData, type Answer } from './hostile.ts';

vi.setConfig({ testTimeout: PROPERTY_TIMEOUT_MS });

const TYPES = ['Patient', 'RelatedPerson', 'Practitioner', 'PractitionerRole', 'Organization', 'ServiceRequest', 'Task', 'Consent', 'DiagnosticReport',
  'DocumentReference', 'Binary', 'Condition', 'Provenance', 'AuditEvent'];
const RESULT_PARAMS = ['_count', '_offset', '_sort', '_total', '_include', '_revinclude', '_format', '_pretty', '_summary', '_elements', '_id', '_lastUpdated'];
const SEARCH_PARAMS = loadConformance().searchParams;
const KNOWN = [...new Set(TYPES.flatMap((t) => SEARCH_PARAMS.paramsOf(t).map((d) => d.code)))];
const PREFIXES = ['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'sa', 'eb', 'ap', 'xx', ''];

/** Percent-encodes the UTF-8 bytes of `s` (a lone surrogate becomes U+FFFD, as on the wire). */
const pct = (s: string): string => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`)).join('');

/** Percent-encodes everything, or only what would break the request line, or breaks escapes on purpose. */
const encodeSloppily = (s: string, mode: number): string => {
  if (mode === 0) return pct(s);
  if (mode === 1) return s.replace(/[#&=%\s\u0000-\u001f\u007f-\uffff]/g, (c) => pct(c));
  return pct(s).replace(/%2[05]/g, (m) => (m === '%25' ? '%' : '%zz'));
};

/** Below Node's 16 KB header limit (which answers 431 before the service runs: tested on its own). */
const MAX_QUERY = 12_000;

const paramName: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...KNOWN, ...RESULT_PARAMS) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...KNOWN, '_id'), fc.oneof(fc.constantFrom('exact', 'contains', 'missing', 'not', 'text', 'above', 'below', 'in', 'of-type', 'identifier', 'Patient', '', ...PROTOTYPE_KEYS), nastyString)).map(([n, m]) => `${n}:${m}`) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('subject', 'patient', 'focus', 'owner', 'based-on'), fc.constantFrom('name', 'identifier', 'Patient.name', 'status', 'x.y.z')).map(([a, b]) => `${a}.${b}`) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS, '_has:Task:focus:status', '_has', '_query', '_filter', '_content', '_text', '_list', '_type', '') },
  { weight: 1, arbitrary: nastyString },
);

const paramValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...PREFIXES), fc.constantFrom('2026', '2026-13-01', '2026-02-30', '2026-01-01T25:61:61Z', '0000', '9999-12-31T23:59:59.999999999+14:00', '-2026', '2026-01-01T00:00', '1e9', 'now', '')).map(([p, d]) => `${p}${d}`) },
  { weight: 2, arbitrary: fc.constantFrom('-1', '0', '1e9', '1000000000', '99999999999999999999', '1.5', '0x10', 'NaN', ' 5', '5 ', '+5', 'Infinity', '_lastUpdated', '-_lastUpdated', '__proto__',
    'accurate', 'estimate', 'count', 'true', 'Patient:organization', 'Task:focus', 'Task:patient', '*', 'Task:*', ':', 'Patient:', ':name', 'Task:focus:ServiceRequest', 'Bundle:entry',
    'Patient/../../x', 'Patient/', 'http://evil/fhir/Patient/1', 'a|b|c', '|', '|x', 'x|', ',', ',,,', 'a,,b', '\u0000', 'a\u0000b', 'Patient/\u0000', '%', '%zz', '%00', '%ED%A0%80', '\ud800') },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 8 }), { maxLength: 20 }).map((a) => a.join(',')) },
  { weight: 3, arbitrary: nastyString },
);

/** A query string built by hand, as a hostile client would send it (not always well-formed). */
const queryString: fc.Arbitrary<string> = fc.tuple(
  fc.array(fc.tuple(paramName, paramValue, fc.nat(2)), { maxLength: 8 }),
  fc.constantFrom('&', '&', '&&', ';', '&=&'),
).map(([pairs, sep]) => pairs.map(([n, v, mode]) => `${encodeSloppily(n, mode)}=${encodeSloppily(v, mode)}`).join(sep).slice(0, MAX_QUERY));

describe.each(backends())('hostile search on %s', (backend) => {
  let server: TestServer;
  let pristine: string;
  const stored = new StoredData(() => server.storage);
  /** Fewer runs on PostgreSQL: the properties are the same, its own risks (NUL, planner cost) are in the examples. */
  const runs = (n: number) => (backend === 'postgres' ? Math.ceil(n / 2) : n);
  /** As the requesting Trust's client (RZ1), with its token. */
  const send = sendAs(() => server.authHeaders());

  beforeAll(async () => {
    const started = await startWithOwnCase(backend, 'HOSTILE-SEARCH');
    server = started.server;
    // The searches below run where tenancy lets the client see a case: its own.
    const own = await send(`${server.fhir}/Task?_id=${started.ids.Task}&_include=Task:patient`, { headers: { accept: 'application/fhir+json' } });
    expect(own.json?.entry?.map((e: any) => e.resource.resourceType).sort()).toEqual(['Patient', 'Task']);
    pristine = prototypeShape();
  }, 60_000);
  afterAll(async () => server?.stop());
  beforeEach(async () => stored.reset());
  afterEach(async () => {
    await expectAlive(server.url);
    expectNoPollution(pristine);
  });

  /** A search answer: never a 5xx; a 4xx is an OperationOutcome; a 200 is a searchset of resources; nothing stored. */
  async function expectSearchAnswer(a: Answer, type: string): Promise<void> {
    expectNoServerError(a);
    if (a.status === 200) {
      expect(a.json?.resourceType, a.text.slice(0, 200)).toBe('Bundle');
      expect(a.json.type).toBe('searchset');
      for (const e of a.json.entry ?? []) {
        expect(typeof e.resource?.resourceType).toBe('string');
        if (e.search?.mode === 'match') expect(e.resource.resourceType).toBe(type);
      }
      for (const l of a.json.link ?? []) expect(() => new URL(l.url)).not.toThrow();
    } else {
      expect(a.status, a.text.slice(0, 300)).toBeGreaterThanOrEqual(400);
    }
    await stored.check(true);
  }

  const headersFor = (strict: boolean): Record<string, string> => ({ accept: 'application/fhir+json', ...(strict ? { prefer: 'handling=strict' } : {}) });

  it('when a GET search carries arbitrary names, modifiers, prefixes and values, then the answer is a searchset or a 4xx OperationOutcome, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TYPES), queryString, fc.boolean(), async (type, qs, strict) => {
        const a = await send(`${server.fhir}/${type}?${qs}`, { headers: headersFor(strict) });
        await expectSearchAnswer(a, type);
      }),
      {
        numRuns: runs(100),
        examples: [
          ['Patient', '__proto__=x', false], ['Patient', 'constructor=x', true], ['Task', 'toString=1&hasOwnProperty=2', false],
          ['Patient', '_revinclude=__proto__:x', false], ['Patient', '_revinclude=toString:x', true], ['Patient', '_format=constructor', false],
          ['Patient', 'name=a%00b', false], ['Task', '_id=a%00b', false], ['Patient', 'identifier=%00|x', false], ['Task', 'owner=Organization/x%00', false],
          ['Patient', '_count=-1', false], ['Patient', '_count=1e9', false], ['Patient', '_sort=__proto__', false], ['Task', 'focus.subject.name=x', true],
        ],
      },
    );
  });

  it('when POST _search carries the same garbage as a form, then the answer is a searchset or a 4xx OperationOutcome, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TYPES), queryString, queryString, fc.boolean(), async (type, inUrl, inBody, strict) => {
        const a = await send(`${server.fhir}/${type}/_search?${inUrl}`, { method: 'POST', body: inBody, headers: { ...headersFor(strict), 'content-type': 'application/x-www-form-urlencoded' } });
        await expectSearchAnswer(a, type);
      }),
      { numRuns: runs(50), examples: [['Patient', '', '__proto__=x&constructor=y', false], ['Task', 'toString=1', 'valueOf=2', true]] },
    );
  });

  it('when a parameter is repeated many times or the query string is long, then the answer is never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('Patient', 'Task', 'ServiceRequest'), paramName, paramValue, fc.integer({ min: 2, max: 400 }), fc.boolean(), async (type, name, value, times, strict) => {
        const pair = `${pct(name)}=${pct(value)}`;
        const qs = Array.from({ length: times }, () => pair).join('&').slice(0, MAX_QUERY);
        const a = await send(`${server.fhir}/${type}?${qs}`, { headers: headersFor(strict) });
        await expectSearchAnswer(a, type);
      }),
      { numRuns: runs(30) },
    );
  });

  it('when the path is malformed (unknown types, bad ids, bad versions, odd segments), then the answer is a 4xx OperationOutcome', async () => {
    const segment = fc.oneof(fc.constantFrom(...TYPES, '_history', '_search', 'metadata', '..', '.', '%2e%2e', '%2F', '%zz', '%00', '%ED%A0%80', 'Observation', ...PROTOTYPE_KEYS,
      'a'.repeat(65), '1', '0', '-1', '99999999999', '$everything', '$validate'), fc.string({ unit: fc.constantFrom(...'abcXYZ019-._~!$&\'()*+,;=:@%'.split('')), maxLength: 12 }));
    await fc.assert(
      fc.asyncProperty(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.constantFrom('GET', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'), async (segments, method) => {
        const path = segments.join('/');
        const a = await send(`${server.fhir}/${path}`, { method, headers: { accept: 'application/fhir+json' } });
        expect(a.status, a.text.slice(0, 300)).toBeLessThan(500);
        if (a.status >= 400 && method !== 'HEAD') expectOperationOutcome(a);
        await stored.check(true);
      }),
      { numRuns: runs(60), examples: [[['__proto__'], 'GET'], [['Patient', '__proto__', '_history'], 'GET'], [['StructureDefinition', 'constructor'], 'GET'], [['Patient', '%zz'], 'GET']] },
    );
  });

  it('when the query string is larger than the HTTP parser takes, then the service refuses it with a 4xx and keeps answering', async () => {
    const a = await send(`${server.fhir}/Patient?name=${'x'.repeat(20_000)}`, { headers: { accept: 'application/fhir+json' } });
    // Node's HTTP parser refuses it (16 KB of headers) before Express runs; still an OperationOutcome.
    expect(a.status).toBe(431);
    expectOperationOutcome(a);
    await stored.check(true);
  });

  it('when the request is not HTTP at all, then the answer is a 400 OperationOutcome and the connection closes', async () => {
    const { hostname: host, port } = new URL(server.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host, port: Number(port) }, () => socket.write('GARBAGE \u0001 / NOT-HTTP\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => { text += String(d); });
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer')));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as { resourceType: string; issue: { code: string }[] };
    expect(body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'invalid' }] });
    await expectAlive(server.url);
  });

  it('when a search ANDs hundreds of parameters or ORs tens of thousands of values, then it is refused with 400 too-costly before any query runs (no hang)', async () => {
    const cases: [string, RequestInit][] = [
      // Each parameter is a join: 200 took over a minute on PostgreSQL before the cap.
      [`${server.fhir}/Patient?${Array.from({ length: 200 }, () => 'identifier=x').join('&')}`, {}],
      [`${server.fhir}/Task?${Array.from({ length: 21 }, (_, i) => `status=s${i}`).join('&')}`, {}],
      // Each value is a bound parameter: 70,000 passed SQLite's and PostgreSQL's limits (a 500) before the cap.
      [`${server.fhir}/Patient/_search`, { method: 'POST', body: `_id=${Array.from({ length: 70_000 }, (_, i) => `v${i}`).join(',')}` }],
      [`${server.fhir}/Patient/_search`, { method: 'POST', body: `identifier=${Array.from({ length: 1001 }, (_, i) => `s|v${i}`).join(',')}` }],
      [`${server.fhir}/Patient/_search`, { method: 'POST', body: `name=${Array.from({ length: 40_000 }, (_, i) => `v${i}`).join(',')}` }],
    ];
    for (const [url, init] of cases) {
      const a = await send(url, { ...init, headers: { accept: 'application/fhir+json', 'content-type': 'application/x-www-form-urlencoded' } });
      expectRefusal(a);
      expect(a.status).toBe(400);
      expect(a.json.issue[0].code).toBe('too-costly');
    }
    // At the limits, a search still runs.
    const atLimit = await send(`${server.fhir}/Patient?${Array.from({ length: 20 }, (_, i) => `identifier=x${i}`).join('&')}`, { headers: { accept: 'application/fhir+json' } });
    expect(atLimit.status).toBe(200);
    await stored.check(true);
  });

  it('when `_format` names a member of Object.prototype, then the answer is 406 with an OperationOutcome (not a 200 of application/octet-stream)', async () => {
    for (const format of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const a = await send(`${server.fhir}/Task?_format=${format}`, { headers: { accept: 'application/fhir+json' } });
      expect(a.status, format).toBe(406);
      expectOperationOutcome(a);
    }
    await stored.check(true);
  });

  it('when `_count`, `_offset`, `_sort` or `_total` are out of range, then the answer is 400 with an OperationOutcome', async () => {
    for (const qs of ['_count=-1', '_count=1e9', '_count=1001', '_count=abc', '_count=', '_offset=-5', '_offset=1000001', '_sort=organization', '_sort=__proto__', '_total=maybe', '_lastUpdated=gt2026-13-45']) {
      const a = await send(`${server.fhir}/Task?${qs}`, { headers: { accept: 'application/fhir+json' } });
      expectRefusal(a);
      expect(a.status, qs).toBe(400);
    }
    await stored.check(true);
  });
});
