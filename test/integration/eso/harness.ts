/**
 * The real server in-process with authentication on, one registered client per organisation
 * (real keys, real tokens through POST /auth/token), and the organisation directory of
 * test/fixtures/eso-requests/organisations.json (Trusts, teams with partOf, one provider abroad):
 * placed by the operator's directory file, each organisation then adding its own address.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, DiagnosticReport, Extension, Organization, Resource, ServiceRequest, Task } from 'fhir/r4.js';
import type { Backend } from '../../helpers/backends.ts';
import { clientsFileIn, getToken, registerClient, type ClientPrivateKey } from '../../helpers/auth.ts';
import { directoryFileIn, writeDirectory, type DirectoryEntry } from '../../helpers/directory.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';

const FIXTURES = new URL('../../fixtures/eso-requests/', import.meta.url);
export const fixture = <T = Record<string, unknown>>(name: string): T => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as T;

const ESO = 'https://fhir.eso-bridge.nhs.uk';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';

/** Who acts in the tests, by role in the case. */
export const ORGS = {
  requester: 'RZ1', // Southern Children's Hospital (the treating Trust)
  sameTrust: 'RZ1NE', // a team inside the treating Trust: never independent
  provider: 'RZ2NP', // Paediatric Neurology, Northern Children's Trust
  providerTrust: 'RZ2', // its Trust
  abroad: 'FRNCK', // a provider outside the UK
  stranger: 'RZ9', // an organisation with no part in any case
} as const;
export type Role = keyof typeof ORGS;

export interface Reply<T = any> { status: number; body: T; headers: Headers }

export interface Party {
  ods: string;
  get<T = any>(path: string, headers?: Record<string, string>): Promise<Reply<T>>;
  post<T = any>(path: string, body: unknown, headers?: Record<string, string>): Promise<Reply<T>>;
  put<T = any>(path: string, body: unknown, headers?: Record<string, string>): Promise<Reply<T>>;
  /** A token of the default scope (cached), or a fresh one of `scope`. */
  token(scope?: string): Promise<string>;
}

export interface EsoServer {
  server: TestServer;
  as: Record<Role, Party>;
  /** Organization ids by ODS code. */
  orgIds: Record<string, string>;
  stop(): Promise<void>;
}

/** An organisation's client over real HTTP with real tokens (a string body is sent as is: ER7, forms). */
export function party(server: Pick<TestServer, 'url'>, ods: string, clientId: string, key: ClientPrivateKey): Party {
  let cached: { token: string; until: number } | undefined;
  const token = async () => {
    if (!cached || cached.until < Date.now()) cached = { token: await getToken(server.url, clientId, key), until: Date.now() + 120_000 };
    return cached.token;
  };
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const h: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${await token()}`, ...headers };
    if (body !== undefined) h['content-type'] ??= 'application/json';
    const res = await fetch(`${server.url}${path}`, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* HTML, ER7 or empty */ }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    ods,
    get: (path, headers) => call('GET', path, undefined, headers),
    post: (path, body, headers) => call('POST', path, body, headers),
    put: (path, body, headers) => call('PUT', path, body, headers),
    token: (scope) => (scope ? getToken(server.url, clientId, key, scope) : token()),
  };
}

const fixtureOrgs = () => (fixture<Bundle>('organisations.json').entry ?? []).map((e) => ({ fullUrl: e.fullUrl!, org: e.resource as Organization }));
const odsOf = (org: Organization) => org.identifier![0].value!;

/** organisations.json as the operator's directory file says it: ODS code, name and place. */
export function esoDirectoryEntries(): DirectoryEntry[] {
  const orgs = fixtureOrgs();
  const byUrn = new Map(orgs.map(({ fullUrl, org }) => [fullUrl, odsOf(org)]));
  return orgs.map(({ org }) => ({ ods: odsOf(org), name: org.name!, ...(org.partOf ? { partOf: byUrn.get(org.partOf.reference!)! } : {}) }));
}

/**
 * With the directory file in place, each organisation adds its own address (what tells a provider
 * abroad): an organisation keeps only its own entry's contact details.
 */
export async function setUpDirectory(parties: Record<Role, Party>): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const { org } of fixtureOrgs()) {
    const ods = odsOf(org);
    const as = Object.values(parties).find((p) => p.ods === ods) ?? parties.requester;
    const found = await as.get<Bundle>(`/fhir/Organization?identifier=${encodeURIComponent(`${ODS}|${ods}`)}`);
    const existing = found.body.entry?.[0]?.resource as Organization | undefined;
    if (!existing) throw new Error(`organisation ${ods} is not in the directory`);
    ids[ods] = existing.id!;
    if (as.ods !== ods || !org.address) continue;
    const res = await as.put(`/fhir/Organization/${existing.id}`, { ...existing, address: org.address });
    if (res.status >= 300) throw new Error(`organisation ${ods}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return ids;
}

export async function startEsoServer(backend: Backend = 'sqlite', env: Record<string, string> = {}): Promise<EsoServer> {
  const clientsDir = mkdtempSync(join(tmpdir(), 'eso-clients-'));
  const keys: Partial<Record<Role, ClientPrivateKey>> = {};
  for (const [role, ods] of Object.entries(ORGS) as [Role, string][]) {
    keys[role] = await registerClient(clientsDir, { clientId: `${ods.toLowerCase()}-client`, organization: ods });
  }
  const directory = await writeDirectory(directoryFileIn(clientsDir), esoDirectoryEntries());
  const server = await startTestServer(backend, { ...env, ESO_AUTH_DISABLED: 'false', ESO_CLIENTS_FILE: clientsFileIn(clientsDir), ESO_DIRECTORY_FILE: directory });
  const as = Object.fromEntries((Object.entries(ORGS) as [Role, string][]).map(([role, ods]) => [role, party(server, ods, `${ods.toLowerCase()}-client`, keys[role]!)])) as Record<Role, Party>;
  const orgIds = await setUpDirectory(as);
  return { server, as, orgIds, async stop() { await server.stop(); rmSync(clientsDir, { recursive: true, force: true }); } };
}

let counter = 0;
/** The full example request with a fresh requestId (and any changes). */
export function requestInput(change: (r: any) => void = () => undefined): any {
  const r = fixture<any>('full.json');
  r.requestId.value = `T-${process.pid}-${Date.now()}-${++counter}`;
  change(r);
  return r;
}

/** POST /eso/requests as the requester; the new case's Task and ServiceRequest. */
export async function newCase(s: EsoServer, change?: (r: any) => void): Promise<{ task: Task; serviceRequest: ServiceRequest }> {
  const res = await s.as.requester.post('/eso/requests', requestInput(change));
  if (res.status !== 201) throw new Error(`new case: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Reads the Task, applies `change`, and PUTs it back with If-Match, as `who`. */
export async function changeTask(who: Party, taskId: string, change: (t: Task) => void): Promise<Reply> {
  const current = await who.get<Task>(`/fhir/Task/${taskId}`);
  if (current.status !== 200) return current;
  const next = structuredClone(current.body);
  change(next);
  return who.put(`/fhir/Task/${taskId}`, next, { 'if-match': current.headers.get('etag') ?? '' });
}

export const step = (code: string) => ({ coding: [{ system: `${ESO}/CodeSystem/eso`, code }] });

/** The provider's independence and no-conflict declaration. */
export function declaration(independent = true, noConflict = true): Extension {
  return {
    url: `${ESO}/StructureDefinition/eso-independence-declaration`,
    extension: [
      { url: 'independent', valueBoolean: independent },
      { url: 'noConflictOfInterest', valueBoolean: noConflict },
      { url: 'professionalBody', valueString: 'Royal College of Paediatrics and Child Health' },
    ],
  };
}

/** Moves a case from requested to in-progress as the provider (each step must succeed). */
export async function startWork(s: EsoServer, taskId: string, provider: Party = s.as.provider): Promise<void> {
  const moves: ((t: Task) => void)[] = [
    (t) => { t.status = 'received'; t.businessStatus = step('received'); },
    (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; },
    (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); },
  ];
  for (const m of moves) {
    const r = await changeTask(provider, taskId, m);
    if (r.status !== 200) throw new Error(`move: ${r.status} ${JSON.stringify(r.body)}`);
  }
}

/** An issued report answering the request's questions (all of them unless `linkIds` is given). */
export function report(sr: ServiceRequest, linkIds?: string[]): DiagnosticReport {
  const questions = (sr.extension ?? []).filter((e) => e.url.endsWith('/eso-question'))
    .map((q) => q.extension!.find((x) => x.url === 'linkId')!.valueString!);
  return {
    resourceType: 'DiagnosticReport',
    extension: (linkIds ?? questions).map((linkId) => ({
      url: `${ESO}/StructureDefinition/eso-answer`,
      extension: [{ url: 'question', valueString: linkId }, { url: 'text', valueString: `Answer to ${linkId}: yes, with reasons.` }],
    })),
    basedOn: [{ reference: `ServiceRequest/${sr.id}` }],
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '47040-1', display: 'Confirmatory consultation note' }] },
    subject: sr.subject,
    issued: new Date().toISOString(),
    conclusion: 'The diagnosis is right; the plan is reasonable.',
    presentedForm: [{ contentType: 'text/plain', data: Buffer.from('External second opinion report').toString('base64') }],
  };
}

/** The resources of a Bundle, by type. */
export function entries<T extends Resource = Resource>(b: Bundle, type?: string): T[] {
  return (b.entry ?? []).map((e) => e.resource as T).filter((r) => !type || r?.resourceType === type);
}
