/**
 * The administered directory (DESIGN.md "Security model and trust boundaries"): where an
 * organisation sits decides independence, so only the operator's directory file places it.
 * Clients, with real tokens, try to add, squat, detach and move organisations; the file moves
 * them while the server runs; intake never invents an organisation.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Organization } from 'fhir/r4.js';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.ts';
import { startServer } from '../../../src/server.ts';
import { clientsFileIn, registerClient } from '../../helpers/auth.ts';
import { backendEnv, backends } from '../../helpers/backends.ts';
import { directoryFileIn, writeDirectory, type DirectoryEntry } from '../../helpers/directory.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { entries, party, requestInput, type Party } from '../eso/harness.ts';
import { field, freshSample, msa, storedCounts } from '../hl7/harness.ts';

const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const ER7 = 'x-application/hl7-v2+er7';

/** Two Trusts with a team each; RZ5TM is a team the operator has not placed yet. */
const DIRECTORY: DirectoryEntry[] = [
  { ods: 'RZ1NE', name: 'Neurology, Southern Children\'s Hospital', partOf: 'RZ1' }, // listed before its Trust on purpose
  { ods: 'RZ1', name: 'Southern Children\'s Hospital NHS Foundation Trust' },
  { ods: 'RZ2', name: 'Northern Children\'s Trust' },
  { ods: 'RZ2NP', name: 'Paediatric Neurology', partOf: 'RZ2' },
  { ods: 'RZ6TM', name: 'A team whose Trust nobody listed', partOf: 'RZ6' },
];
/** Organisations with a registered client (RA7 sends the HL7 v2 sample). */
const CLIENTS = ['RZ1', 'RZ1NE', 'RZ2', 'RZ2NP', 'RZ5TM', 'RZ9', 'RA7'];

describe.each(backends())('the administered directory on %s', (backend) => {
  let server: TestServer;
  let dir: string;
  const as: Record<string, Party> = {};

  const find = async (ods: string): Promise<Organization | undefined> =>
    entries<Organization>((await as.RZ9.get<Bundle>(`/fhir/Organization?identifier=${encodeURIComponent(`${ODS}|${ods}`)}`)).body)[0];
  const idOf = async (ods: string) => (await find(ods))!.id!;
  const parentOf = async (ods: string) => {
    const ref = (await find(ods))?.partOf?.reference;
    const parent = ref ? (await as.RZ9.get<Organization>(`/fhir/${ref}`)).body : undefined;
    return parent?.identifier?.[0]?.value;
  };
  /** Polls (bounded) until the stored directory shows the change; no timing is asserted. */
  const eventually = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 150 && !(await check()); i++) await new Promise((r) => setTimeout(r, 100));
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'eso-directory-'));
    const keys: Record<string, JWK> = {};
    for (const ods of CLIENTS) keys[ods] = await registerClient(dir, { clientId: `${ods.toLowerCase()}-client`, organization: ods }); // one at a time: each rewrites the file
    await writeDirectory(directoryFileIn(dir), DIRECTORY);
    server = await startTestServer(backend, { ESO_AUTH_DISABLED: 'false', ESO_CLIENTS_FILE: clientsFileIn(dir), ESO_DIRECTORY_FILE: directoryFileIn(dir) });
    for (const ods of CLIENTS) as[ods] = party(server, ods, `${ods.toLowerCase()}-client`, keys[ods]);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the server starts, then the directory file places the organisations (children listed before parents too) and a client\'s own is top level', async () => {
    expect(await parentOf('RZ1NE')).toBe('RZ1');
    expect(await parentOf('RZ2NP')).toBe('RZ2');
    expect((await find('RZ1NE'))?.name).toBe('Neurology, Southern Children\'s Hospital');
    expect(await find('RZ9')).toMatchObject({ active: true });
    expect(await parentOf('RZ9')).toBeUndefined();
  });

  it('when an entry\'s parent is neither listed nor a client\'s organisation, then the entry is not applied (never placed at the top)', async () => {
    expect(await find('RZ6TM')).toBeUndefined();
    expect(await find('RZ6')).toBeUndefined();
  });

  it('when a client POSTs an Organization, then 403 names the operator\'s way and nothing is stored', async () => {
    const org = { resourceType: 'Organization', name: 'A new team', identifier: [{ system: ODS, value: 'RZ2NX' }], partOf: { reference: `Organization/${await idOf('RZ2')}` } };
    const res = await as.RZ2.post('/fhir/Organization', org);
    expect(res.status).toBe(403);
    expect(res.body.issue[0].diagnostics).toBe('organisations are added by the operator: directory file or npm run cli -- org add');
    expect(await find('RZ2NX')).toBeUndefined();
  });

  it('when a team\'s client removes its own partOf, then 403 naming Organization.partOf and it stays under its Trust', async () => {
    const { partOf: _p, ...detached } = (await find('RZ1NE'))!;
    const res = await as.RZ1NE.put(`/fhir/Organization/${detached.id}`, detached);
    expect(res.status).toBe(403);
    expect(res.body.issue[0].expression).toEqual(['Organization.partOf']);
    expect(await parentOf('RZ1NE')).toBe('RZ1');
  });

  it('when a Trust\'s client detaches its team or moves it to another Trust, then 403 and the team stays put', async () => {
    const team = (await find('RZ1NE'))!;
    const { partOf: _p, ...detached } = team;
    expect((await as.RZ1.put(`/fhir/Organization/${team.id}`, detached)).status).toBe(403);
    expect((await as.RZ1.put(`/fhir/Organization/${team.id}`, { ...team, partOf: { reference: `Organization/${await idOf('RZ2')}` } })).status).toBe(403);
    expect((await as.RZ1.put(`/fhir/Organization/${team.id}`, { ...team, name: 'Renamed by the Trust' })).status).toBe(403);
    expect(await parentOf('RZ1NE')).toBe('RZ1');
    expect((await find('RZ1NE'))?.name).toBe(team.name);
  });

  it('when a client changes its own entry\'s active flag or type, then 403 naming the element', async () => {
    const own = (await find('RZ9'))!;
    const inactive = await as.RZ9.put(`/fhir/Organization/${own.id}`, { ...own, active: false });
    expect([inactive.status, inactive.body.issue[0].expression]).toEqual([403, ['Organization.active']]);
    const typed = await as.RZ9.put(`/fhir/Organization/${own.id}`, { ...own, type: [{ text: 'Trust' }] });
    expect([typed.status, typed.body.issue[0].expression]).toEqual([403, ['Organization.type']]);
  });

  it('when a client changes its own name and telecom, then they are saved', async () => {
    const own = (await find('RZ9'))!;
    const res = await as.RZ9.put(`/fhir/Organization/${own.id}`, { ...own, name: 'Western Children\'s Hospital', telecom: [{ system: 'phone', value: '0117 496 0999' }] });
    expect(res.status).toBe(200);
    expect(await find('RZ9')).toMatchObject({ name: 'Western Children\'s Hospital', telecom: [{ system: 'phone', value: '0117 496 0999' }] });
  });

  it('when a client tries to squat the Organization of a code not yet registered, then 403; once that code\'s client is registered, its Organization is top level', async () => {
    const squat = { resourceType: 'Organization', name: 'Squatted', identifier: [{ system: ODS, value: 'RZ8' }] };
    expect((await as.RZ1.post('/fhir/Organization', squat)).status).toBe(403);
    expect(await find('RZ8')).toBeUndefined();
    const key = await registerClient(dir, { clientId: 'rz8-client', organization: 'RZ8' });
    as.RZ8 = party(server, 'RZ8', 'rz8-client', key);
    // A token request re-reads the clients file (at most once a second): ask until it is known.
    let token: string | undefined;
    for (let i = 0; i < 50 && !token; i++) token = await as.RZ8.token().catch(async () => { await new Promise((r) => setTimeout(r, 100)); return undefined; });
    expect(token).toBeDefined();
    expect(await find('RZ8')).toMatchObject({ name: 'RZ8' });
    expect(await parentOf('RZ8')).toBeUndefined();
  });

  it('when a request is made between a team and another Trust\'s team, then it is accepted: they are independent (the control)', async () => {
    const res = await as.RZ5TM.post('/eso/requests', requestInput((r) => { r.requester.organization = 'RZ5TM'; }));
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });

  it('when the operator edits the file while the server runs, then the team moves under its Trust, and a request between two teams of one Trust is 422', async () => {
    expect(await parentOf('RZ5TM')).toBeUndefined();
    await writeDirectory(directoryFileIn(dir), [...DIRECTORY, { ods: 'RZ5TM', name: 'Paediatric Epilepsy', partOf: 'RZ2' }]);
    await eventually(async () => (await parentOf('RZ5TM')) === 'RZ2');
    expect(await parentOf('RZ5TM')).toBe('RZ2');
    expect((await find('RZ5TM'))?.name).toBe('Paediatric Epilepsy');

    const res = await as.RZ5TM.post('/eso/requests', requestInput((r) => { r.requester.organization = 'RZ5TM'; }));
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['provider.organization']);
    expect(res.body.issue[0].diagnostics).toMatch(/separate Trust or Health Board/);
  });

  it('when an ESO request names a provider that is not in the directory, then 422 at provider.organization and no Organization is made', async () => {
    const res = await as.RZ1.post('/eso/requests', requestInput((r) => { r.provider.organization = 'RZ7XX'; }));
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['provider.organization']);
    expect(await find('RZ7XX')).toBeUndefined();
  });

  it('when an ESO request names a requester that is not in the directory, then 422 at requester.organization and no Organization is made', async () => {
    const res = await as.RZ1.post('/eso/requests', requestInput((r) => { r.requester.organization = 'RZ1XX'; }));
    expect(res.status).toBe(422);
    expect(res.body.issue[0].expression).toEqual(['requester.organization']);
    expect(await find('RZ1XX')).toBeUndefined();
  });

  it('when a REF^I12 over POST /hl7/v2 refers to a facility not in the directory, then AE with the ERR at the PRD and nothing is stored', async () => {
    const { text, controlId } = freshSample('v251'); // RA7 refers to SGH01, which no one listed
    await as.RA7.token();
    const before = await storedCounts(server.storage);
    const res = await as.RA7.post('/hl7/v2', text, { 'content-type': ER7, accept: ER7 });
    expect(msa(res.body)).toMatchObject({ code: 'AE', controlId });
    expect(field(res.body, 'ERR', 2)).toMatch(/^PRD\^2\^4/);
    expect(field(res.body, 'ERR', 8)).toMatch(/unknown provider organisation.*SGH01/);
    expect(await storedCounts(server.storage)).toEqual(before);
  });
});

describe('a directory file that does not parse', () => {
  const startWith = async (content: string) => {
    const b = await backendEnv('sqlite');
    const file = directoryFileIn(b.dataDir);
    writeFileSync(file, content);
    try {
      const s = await startServer(loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MLLP_ENABLED: 'false', ESO_OUTBOX_ENABLED: 'false', ...b.env, ESO_DIRECTORY_FILE: file }));
      await s.close();
      return undefined;
    } catch (e) {
      return (e as Error).message;
    } finally {
      await b.cleanup();
    }
  };

  it('when an entry is malformed at start, then the start fails naming the entry and field', async () => {
    expect(await startWith(JSON.stringify({ organizations: [{ ods: 'RZ2', name: 'Northern' }, { ods: 'RZ2NP', partOf: 'RZ2' }] }))).toMatch(/Invalid directory file: organizations\.1\.name/);
  });

  it('when partOf goes round in a cycle, then the start fails naming the cycle', async () => {
    expect(await startWith(JSON.stringify({ organizations: [{ ods: 'RZ2', name: 'a', partOf: 'RZ2NP' }, { ods: 'RZ2NP', name: 'b', partOf: 'RZ2' }] }))).toMatch(/partOf cycle RZ2 -> RZ2NP -> RZ2/);
  });

  it('when it is not JSON, then the start fails', async () => {
    expect(await startWith('{"organizations": [')).toMatch(/JSON/);
  });
});
