/**
 * Two eso-bridge instances on loopback, each with its own database, carrying cases between them:
 * A serves the requesting Trust (RZ1), B the provider's (RZ2 and its team RZ2NP). Each registers the
 * other as an ordinary client acting for its Trust (real keys, real tokens) and names it in its peers
 * file (ESO_PEERS_FILE). A's EPR (RZ1) is an MLLP stand-in that records the return messages.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, DiagnosticReport, Resource, ServiceRequest, Task } from 'fhir/r4.js';
import type { Backend } from '../../helpers/backends.ts';
import { clientsFileIn, registerClient } from '../../helpers/auth.ts';
import { directoryFileIn, writeDirectory } from '../../helpers/directory.ts';
import { eprStandIn } from '../../helpers/epr-stand-in.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { changeTask, declaration, esoDirectoryEntries, party, report, step, type Party } from '../eso/harness.ts';

export interface Instance {
  server: TestServer;
  dir: string;
  peersFile: string;
  /** The private keys of the clients registered here, by client id. */
  keys: Record<string, Awaited<ReturnType<typeof registerClient>>>;
}

export interface Pair {
  a: Instance;
  b: Instance;
  /** RZ1's EPR at A, its treating team at A, the provider team RZ2NP at B, a stranger at B. */
  requester: Party;
  provider: Party;
  stranger: Party;
  /** B's client at A (acting for RZ2) and A's client at B (acting for RZ1), as a test can use them directly. */
  bAtA: Party;
  aAtB: Party;
  epr: ReturnType<typeof eprStandIn>;
  /** Writes A's and B's peers files: each names the other (or `override` entries); resolves once both instances use them. */
  link(override?: { a?: unknown[]; b?: unknown[] }): Promise<void>;
  stop(): Promise<void>;
}

/** How often an instance looks at its peers file at the most (PeerRegistry's default). */
const PEERS_RECHECK_MS = 1000;

export const FAST_OUTBOX = { ESO_OUTBOX_ENABLED: 'true', ESO_OUTBOX_POLL_MS: '50', ESO_OUTBOX_BACKOFF_BASE_MS: '100', ESO_OUTBOX_BACKOFF_CAP_MS: '500', MLLP_ENABLED: 'false' };

/** A directory with an instance's clients file (real keys), directory file and peers file path, and the env naming them. */
export async function prepareInstance(clients: { clientId: string; organization: string }[]) {
  const dir = mkdtempSync(join(tmpdir(), 'eso-fed-'));
  const keys: Record<string, Awaited<ReturnType<typeof registerClient>>> = {};
  for (const c of clients) keys[c.clientId] = await registerClient(dir, c);
  const directory = await writeDirectory(directoryFileIn(dir), esoDirectoryEntries());
  const peersFile = join(dir, 'peers.json');
  const env = { ...FAST_OUTBOX, ESO_AUTH_DISABLED: 'false', ESO_CLIENTS_FILE: clientsFileIn(dir), ESO_DIRECTORY_FILE: directory, ESO_PEERS_FILE: peersFile };
  return { dir, keys, peersFile, env };
}

async function instance(backend: Backend, clients: { clientId: string; organization: string }[], env: Record<string, string> = {}) {
  const prepared = await prepareInstance(clients);
  const server = await startTestServer(backend, { ...prepared.env, ...env });
  return { ...prepared, server };
}

export async function startPair(backend: Backend = 'sqlite'): Promise<Pair> {
  const epr = eprStandIn('AA');
  const eprPort = await epr.listen();
  const a = await instance(backend, [{ clientId: 'rz1-epr', organization: 'RZ1' }, { clientId: 'eso-b', organization: 'RZ2' }], { ESO_EPR_ENDPOINTS: `RZ1=127.0.0.1:${eprPort}` });
  const b = await instance(backend, [{ clientId: 'rz2np-epr', organization: 'RZ2NP' }, { clientId: 'eso-a', organization: 'RZ1' }, { clientId: 'rz9-epr', organization: 'RZ9' }]);
  // Each instance signs its assertions with the key it has at the other.
  await writeFile(join(a.dir, 'key-at-b.json'), JSON.stringify(b.keys['eso-a']), { mode: 0o600 });
  await writeFile(join(b.dir, 'key-at-a.json'), JSON.stringify(a.keys['eso-b']), { mode: 0o600 });
  const pair: Pair = {
    a, b, epr,
    requester: party(a.server, 'RZ1', 'rz1-epr', a.keys['rz1-epr']),
    bAtA: party(a.server, 'RZ2', 'eso-b', a.keys['eso-b']),
    provider: party(b.server, 'RZ2NP', 'rz2np-epr', b.keys['rz2np-epr']),
    aAtB: party(b.server, 'RZ1', 'eso-a', b.keys['eso-a']),
    stranger: party(b.server, 'RZ9', 'rz9-epr', b.keys['rz9-epr']),
    async link(override = {}) {
      await writeFile(a.peersFile, JSON.stringify({ peers: override.a ?? [{ organizations: ['RZ2'], base: b.server.fhir, client_id: 'eso-a', key_file: 'key-at-b.json' }] }));
      await writeFile(b.peersFile, JSON.stringify({ peers: override.b ?? [{ organizations: ['RZ1'], base: a.server.fhir, client_id: 'eso-b', key_file: 'key-at-a.json' }] }));
      // An instance looks at its peers file at most once a second (federation/peers.ts).
      await new Promise((r) => setTimeout(r, PEERS_RECHECK_MS + 100));
    },
    async stop() {
      await Promise.allSettled([a.server.stop(), b.server.stop(), epr.close()]);
      rmSync(a.dir, { recursive: true, force: true });
      rmSync(b.dir, { recursive: true, force: true });
    },
  };
  await pair.link();
  return pair;
}

/** Polls `probe` until it returns something (not undefined), or fails after `timeoutMs` naming `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The party's Task for a request identifier (its own copy), if it has one. */
export async function taskByRequestId(who: Party, value: string): Promise<Task | undefined> {
  const res = await who.get<Bundle>(`/fhir/Task?identifier=${encodeURIComponent(value)}`);
  return (res.body.entry ?? []).map((e: { resource?: Resource }) => e.resource as Task).find((t: Task) => t.identifier?.some((i) => i.value === value));
}

/** The provider's first moves at its own instance: received, accepted with the declaration, in progress. */
export const PROVIDER_MOVES: ((t: Task) => void)[] = [
  (t) => { t.status = 'received'; t.businessStatus = step('received'); },
  (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; },
  (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); },
];

/** Makes the first `n` provider moves on the provider's copy (each must succeed). */
export async function providerMoves(provider: Party, taskId: string, n = PROVIDER_MOVES.length): Promise<void> {
  for (const move of PROVIDER_MOVES.slice(0, n)) {
    const r = await changeTask(provider, taskId, move);
    if (r.status !== 200) throw new Error(`provider move: ${r.status} ${JSON.stringify(r.body)}`);
  }
}

/** The provider writes its report on its copy of the case and completes the Task with it. */
export async function completeWithReport(provider: Party, task: Task): Promise<DiagnosticReport> {
  const sr = (await provider.get<ServiceRequest>(`/fhir/${task.focus!.reference}`)).body;
  const dr = await provider.post<DiagnosticReport>('/fhir/DiagnosticReport', report(sr), { 'content-type': 'application/fhir+json' });
  if (dr.status !== 201) throw new Error(`report: ${dr.status} ${JSON.stringify(dr.body)}`);
  const done = await changeTask(provider, task.id!, (t) => {
    t.status = 'completed'; t.businessStatus = step('report-issued');
    t.output = [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${dr.body.id}` } }];
  });
  if (done.status !== 200) throw new Error(`complete: ${done.status} ${JSON.stringify(done.body)}`);
  return dr.body;
}

/** The party's Task once it has `status` (polled). */
export function whenStatus(who: Party, taskId: string, status: Task['status']): Promise<Task> {
  return eventually(`Task/${taskId} ${status}`, async () => {
    const t = (await who.get<Task>(`/fhir/Task/${taskId}`)).body;
    return t.status === status ? t : undefined;
  });
}
