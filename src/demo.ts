/**
 * `npm run demo`: walks one external second opinion from request to report against a running
 * server (`npm start`, same environment: ESO_BASE_URL or http://HOST:PORT), as two Trusts would,
 * and prints the family's timeline. Right after `npm start`, with nothing else:
 * - with authentication on, it uses the clients of RZ1 and RZ2NP in ESO_CLIENTS_FILE (or
 *   ESO_DATA_DIR/clients.json) with their keys in keys/ beside it, and registers `rz1-epr` and
 *   `rz2np-epr` there when there are none (as `npm run cli -- client add` does), saying so;
 * - it places its organisations (test/fixtures/eso-requests/organisations.json) in the directory
 *   file (ESO_DIRECTORY_FILE or ESO_DATA_DIR/directory.json) as `npm run cli -- org add` does, and
 *   waits until the server has applied it.
 * The request is test/fixtures/eso-requests/full.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Bundle, DiagnosticReport, Extension, Organization, ServiceRequest, Task } from 'fhir/r4.js';
import { signClientAssertion, tokenRequestBody } from './auth/client-assertion.ts';
import { addClient } from './auth/client-admin.ts';
import { addOrganization, listOrganizations, moveOrganization } from './auth/directory-admin.ts';
import type { DirectoryEntry } from './auth/directory-file.ts';
import { isUnreachable, localServerUrl, unreachableMessage } from './config/local-url.ts';
import { EXIT } from './config/start-failure.ts';
import { Extensions, Profiles, REPORT_LOINC, Systems } from './fhir/eso-urls.ts';
import { runAppDemo } from './demo-app.ts';
import { projectUrl } from './shared/project-root.ts';

const BASE = localServerUrl(process.env);
const DATA_DIR = process.env.ESO_DATA_DIR ?? './data';
const CLIENTS_FILE = process.env.ESO_CLIENTS_FILE ?? join(DATA_DIR, 'clients.json');
const DIRECTORY_FILE = process.env.ESO_DIRECTORY_FILE ?? join(DATA_DIR, 'directory.json');
const FIXTURES = projectUrl('test', 'fixtures', 'eso-requests/');
const REQUESTER = 'RZ1';
const PROVIDER = 'RZ2NP';

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as T;
const say = (line: string) => process.stdout.write(`${line}\n`);

class DemoError extends Error {}

/** Whether the server wants tokens: it advertises SMART and refuses an anonymous read. */
async function tokensNeeded(): Promise<boolean> {
  const smart = await fetch(`${BASE}/fhir/.well-known/smart-configuration`);
  if (smart.status !== 200) return false;
  const probe = await fetch(`${BASE}/fhir/Organization?_count=1`);
  return probe.status === 401;
}

/** The registered client of `ods` and its private key (as `npm run cli -- client add` writes them). */
function clientFor(ods: string): { clientId: string; key: Record<string, unknown> } | undefined {
  if (!existsSync(CLIENTS_FILE)) return undefined;
  const clients = (JSON.parse(readFileSync(CLIENTS_FILE, 'utf8')) as { clients: { client_id: string; organization: string }[] }).clients;
  for (const c of clients.filter((x) => x.organization === ods)) {
    const keyFile = join(dirname(CLIENTS_FILE), 'keys', `${c.client_id}.private.jwk.json`);
    if (existsSync(keyFile)) return { clientId: c.client_id, key: JSON.parse(readFileSync(keyFile, 'utf8')) };
  }
  return undefined;
}

const tokens = new Map<string, { token: string; until: number }>();
let needTokens: boolean | undefined;

/** The demo's client id for an organisation, as README.md and docs/WORKFLOW.md name them. */
export const demoClientId = (ods: string): string => `${ods.toLowerCase()}-epr`;

/** The client of `ods`, registering `<ods>-epr` with a new key pair when none is registered. */
async function ensureClient(ods: string): Promise<{ clientId: string; key: Record<string, unknown>; registered: boolean }> {
  const found = clientFor(ods);
  if (found) return { ...found, registered: false };
  const clientId = demoClientId(ods);
  const keyOut = join(dirname(CLIENTS_FILE), 'keys', `${clientId}.private.jwk.json`);
  try {
    await addClient(CLIENTS_FILE, { clientId, organization: ods, keyOut });
  } catch (e) {
    throw new DemoError(`Could not register ${clientId} for ${ods} in ${CLIENTS_FILE}: ${(e as Error).message}`);
  }
  say(`  registered client ${clientId} for ${ods} in ${CLIENTS_FILE} (private key ${keyOut})`);
  return { clientId, key: JSON.parse(readFileSync(keyOut, 'utf8')) as Record<string, unknown>, registered: true };
}

/** Asks for a token; a client registered a moment ago is retried until the server has re-read the clients file. */
async function fetchToken(ods: string, client: { clientId: string; key: Record<string, unknown>; registered: boolean }): Promise<{ access_token: string; expires_in?: number }> {
  const tokenUrl = `${BASE}/auth/token`;
  for (let attempt = 0; ; attempt++) {
    const assertion = await signClientAssertion(client.key, { clientId: client.clientId, tokenUrl });
    const res = await fetch(tokenUrl, { method: 'POST', body: tokenRequestBody(assertion, 'system/*.cruds') });
    const body = (await res.json()) as { access_token?: string; expires_in?: number; error?: string };
    if (body.access_token) return { access_token: body.access_token, expires_in: body.expires_in };
    if (!client.registered || attempt >= 50) {
      throw new DemoError(`No token for ${ods} (${client.clientId}): ${res.status} ${body.error ?? ''}. Is the server using ${CLIENTS_FILE}? Start both with the same ESO_DATA_DIR (or ESO_CLIENTS_FILE).`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Request headers acting for `ods`: a SMART Backend Services token when the server wants one. Swap this to use another way. */
export async function authHeaders(ods: string): Promise<Record<string, string>> {
  needTokens ??= await tokensNeeded();
  if (!needTokens) return {};
  const cached = tokens.get(ods);
  if (cached && cached.until > Date.now()) return { authorization: `Bearer ${cached.token}` };
  const body = await fetchToken(ods, await ensureClient(ods));
  tokens.set(ods, { token: body.access_token, until: Date.now() + ((body.expires_in ?? 60) - 10) * 1000 });
  return { authorization: `Bearer ${body.access_token}` };
}

async function call<T>(ods: string, method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ status: number; body: T; etag: string | null }> {
  const headers: Record<string, string> = { accept: 'application/json', ...(await authHeaders(ods)), ...extra };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const parsed = (await res.json()) as T & { issue?: { diagnostics?: string }[] };
  if (res.status >= 300) throw new DemoError(`${method} ${path} as ${ods}: ${res.status} ${parsed.issue?.[0]?.diagnostics ?? ''}`);
  return { status: res.status, body: parsed, etag: res.headers.get('etag') };
}

/** organisations.json as directory entries: ODS code, name and place (partOf). */
function demoDirectory(): DirectoryEntry[] {
  const orgs = (fixture<Bundle>('organisations.json').entry ?? []).map((e) => ({ urn: e.fullUrl!, org: e.resource as Organization }));
  const odsByUrn = new Map(orgs.map(({ urn, org }) => [urn, org.identifier![0].value!]));
  return orgs.map(({ org }) => ({ ods: org.identifier![0].value!, name: org.name!, ...(org.partOf ? { partOf: odsByUrn.get(org.partOf.reference!)! } : {}) }));
}

/** The ODS code of each demo organisation's stored parent (null = top level), undefined for one not stored yet. */
async function storedPlaces(wanted: DirectoryEntry[]): Promise<Map<string, string | null | undefined>> {
  const found = new Map<string, Organization>();
  for (const e of wanted) {
    const res = await call<Bundle>(REQUESTER, 'GET', `/fhir/Organization?identifier=${encodeURIComponent(`${Systems.odsCode}|${e.ods}`)}`);
    const org = res.body.entry?.[0]?.resource as Organization | undefined;
    if (org) found.set(e.ods, org);
  }
  const odsById = new Map([...found].map(([ods, o]) => [`Organization/${o.id}`, ods]));
  return new Map(wanted.map((e) => {
    const org = found.get(e.ods);
    return [e.ods, org ? (org.partOf ? odsById.get(org.partOf.reference ?? '') ?? '?' : null) : undefined];
  }));
}

/**
 * The directory is administered: the demo's organisations go into the directory file (as
 * `npm run cli -- org add/move` would put them), and the server applies the file when it changes.
 */
async function setUpOrganisations(): Promise<void> {
  const wanted = demoDirectory();
  const listed = new Map((await listOrganizations(DIRECTORY_FILE)).map((e) => [e.ods, e]));
  for (const e of wanted) {
    const had = listed.get(e.ods);
    if (!had) await addOrganization(DIRECTORY_FILE, e);
    else if (had.partOf !== e.partOf) await moveOrganization(DIRECTORY_FILE, e.ods, e.partOf);
    say(`  ${e.ods.padEnd(6)} ${e.name}${e.partOf ? `, part of ${e.partOf}` : ''}`);
  }
  for (let i = 0; i < 100; i++) {
    const places = await storedPlaces(wanted);
    if (wanted.every((e) => places.get(e.ods) === (e.partOf ?? null))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new DemoError(`The server has not applied ${DIRECTORY_FILE}: start it with the same ESO_DATA_DIR (or ESO_DIRECTORY_FILE) as the demo`);
}

/** Reads the Task, changes it, writes it back with If-Match (as a real client would). */
async function moveTask(ods: string, id: string, change: (t: Task) => void, what: string): Promise<void> {
  const current = await call<Task>(ods, 'GET', `/fhir/Task/${id}`);
  change(current.body);
  await call(ods, 'PUT', `/fhir/Task/${id}`, current.body, { 'if-match': current.etag ?? '' });
  say(`  ${ods.padEnd(6)} ${what}`);
}

const step = (code: string) => ({ coding: [{ system: Systems.esoCodes, code }] });

function answers(sr: ServiceRequest): Extension[] {
  return (sr.extension ?? []).filter((e) => e.url === Extensions.question).map((q) => ({
    url: Extensions.answer,
    extension: [
      { url: 'question', valueString: q.extension!.find((x) => x.url === 'linkId')!.valueString! },
      { url: 'text', valueString: `On "${q.extension!.find((x) => x.url === 'text')!.valueString}": yes, for the reasons in the report.` },
    ],
  }));
}

async function main(): Promise<void> {
  say(`eso-bridge demo against ${BASE}`);
  if (await tokensNeeded()) {
    needTokens = true;
    say('\n0. The two Trusts\' systems (SMART Backend Services clients)');
    for (const ods of [REQUESTER, PROVIDER]) await authHeaders(ods);
    say(`  ${REQUESTER} and ${PROVIDER} have their tokens`);
  } else needTokens = false;
  say('\n1. The organisation directory');
  await setUpOrganisations();

  say('\n2. Southern Children\'s Hospital asks for a second opinion (POST /eso/requests)');
  const request = fixture<Record<string, any>>('full.json');
  request.requestId.value = `DEMO-${Date.now()}`;
  const created = await call<{ task: Task; serviceRequest: ServiceRequest }>(REQUESTER, 'POST', '/eso/requests', request);
  const { task, serviceRequest: sr } = created.body;
  say(`  Task/${task.id} (${task.status}, due ${task.restriction?.period?.end ?? 'no date'})`);

  say('\n3. Northern Children\'s Trust takes it on');
  await moveTask(PROVIDER, task.id!, (t) => { t.status = 'received'; t.businessStatus = step('received'); }, 'received the request');
  await moveTask(PROVIDER, task.id!, (t) => {
    t.status = 'accepted';
    t.businessStatus = step('accepted');
    t.extension = [...(t.extension ?? []), { url: Extensions.independenceDeclaration, extension: [
      { url: 'independent', valueBoolean: true }, { url: 'noConflictOfInterest', valueBoolean: true },
      { url: 'professionalBody', valueString: 'Royal College of Paediatrics and Child Health' }] }];
  }, 'declared independence and no conflict of interest, and accepted');
  await moveTask(PROVIDER, task.id!, (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); }, 'started reviewing the records');
  const docs = await call<Bundle>(PROVIDER, 'GET', `/fhir/DocumentReference?related=ServiceRequest/${sr.id}`);
  say(`  ${PROVIDER.padEnd(6)} can read ${docs.body.entry?.length ?? 0} records, under the family's consent`);

  say('\n4. The opinion comes back');
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport', meta: { profile: [Profiles.diagnosticReport] }, extension: answers(sr),
    basedOn: [{ reference: `ServiceRequest/${sr.id}` }], status: 'final',
    code: { coding: [{ system: Systems.loinc, code: REPORT_LOINC, display: 'Confirmatory consultation note' }] },
    subject: sr.subject, issued: new Date().toISOString(), conclusion: 'The diagnosis is right and the plan is reasonable.',
    presentedForm: [{ contentType: 'text/plain', title: 'External second opinion report', data: Buffer.from('External second opinion report (demo)').toString('base64') }],
  };
  const dr = await call<DiagnosticReport>(PROVIDER, 'POST', '/fhir/DiagnosticReport', report);
  say(`  ${PROVIDER.padEnd(6)} wrote DiagnosticReport/${dr.body.id}, answering every question`);
  await moveTask(PROVIDER, task.id!, (t) => {
    t.status = 'completed';
    t.businessStatus = step('report-issued');
    t.output = [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${dr.body.id}` } }];
  }, 'completed the case with the report');
  await moveTask(REQUESTER, task.id!, (t) => { t.businessStatus = step('discussed-with-family'); }, 'went through the opinion with the family');
  await call(REQUESTER, 'PUT', `/fhir/DiagnosticReport/${dr.body.id}`, {
    ...dr.body, extension: [...(dr.body.extension ?? []), { url: Extensions.sharedWithFamily, valueDateTime: new Date().toISOString() }],
  });
  say(`  ${REQUESTER.padEnd(6)} shared the report with the family`);

  say(`\n5. The family's timeline (${BASE}/eso/cases/${task.id}/timeline, also as a web page)`);
  const timeline = await call<{ events: { at: string; text: string; by?: string }[] }>(REQUESTER, 'GET', `/eso/cases/${task.id}/timeline`);
  for (const e of timeline.body.events) say(`  ${e.at.slice(0, 19).replace('T', ' ')}  ${e.text}${e.by ? `  (${e.by})` : ''}`);
  if (process.argv.includes('--app')) await runAppDemo(BASE, DATA_DIR, say);
  else say('\nThe clinician app (SMART App Launch) against an EHR stand-in: npm run demo -- --app');
}

main().catch((e: unknown) => {
  if (isUnreachable(e)) {
    process.stderr.write(`\ndemo stopped: ${unreachableMessage(BASE)}\n`);
    process.exit(EXIT.unavailable);
  }
  process.stderr.write(`\ndemo stopped: ${e instanceof DemoError ? e.message : String((e as Error)?.message ?? e)}\n`);
  process.exit(e instanceof DemoError ? EXIT.config : EXIT.runtime);
});
