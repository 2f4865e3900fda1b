/**
 * HL7 v2 end to end: the real server in-process (MLLP on a loopback ephemeral port, auth on),
 * one registered client per organisation of the samples, the requesters' entries admitting MLLP
 * connections from 127.0.0.1 (what lets a connection speak for their MSH-4), and the providers placed by the directory file under Trusts of their own so every
 * case is independent. Also: MLLP senders (Medplum's Hl7Client, and a raw socket), an EPR stand-in built
 * on Medplum's Hl7Connection, and row counts straight from storage for "nothing stored".
 * Task moves and reports come from the ESO harness (test/integration/eso/harness.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hl7Message } from '@medplum/core';
import { Hl7Client } from '@medplum/hl7';
import type { Bundle, Organization, ServiceRequest, Task } from 'fhir/r4.js';
import type { Backend } from '../../helpers/backends.ts';
import { clientsFileIn, registerClient, type ClientPrivateKey } from '../../helpers/auth.ts';
import { directoryFileIn, writeDirectory, type DirectoryEntry } from '../../helpers/directory.ts';
import { startTestServer, type TestServer } from '../../helpers/server.ts';
import { entries, party, type Party, type Reply } from '../eso/harness.ts';
import type { ResourceType, Storage } from '../../../src/storage/types.ts';
import { field, fixture, sample, setField } from '../../unit/hl7/samples.ts';

export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
export const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
/** Referral ids (RF1-6) are unique per sender: MSH-4 names their identifier system. */
export const requestSystem = (ods: string) => `https://fhir.eso-bridge.nhs.uk/Id/referral/${ods}`;

/** The three samples: who sends (MSH-4), to whom (PRD RT facility), and the ids in them. */
export const SAMPLES = {
  v251: { file: 'REF_I12-v251-inpatient-urgent', requester: 'RA7', provider: 'SGH01', controlId: 'RA7-000918273', requestId: 'RA7-ESO-0042', nhsNumber: '9000000009' },
  v24: { file: 'REF_I12-v24-outpatient-minimal', requester: 'RGT', provider: 'RJ101', controlId: 'RGT55120', requestId: 'RGT-2026-118', nhsNumber: '9876543210' },
  v23: { file: 'REF_I12-v23-enhanced-ack', requester: 'RTH', provider: 'RYJ01', controlId: 'RTH000777', requestId: 'RTH-EXT-9', nhsNumber: '9000000017' },
} as const;
export type SampleName = keyof typeof SAMPLES;

/** Requesting Trusts (top level) and provider sites, each under a Trust of its own. */
export const REQUESTERS = ['RA7', 'RGT', 'RTH'] as const;
export const PROVIDERS: Record<string, { trust: string; trustName: string; name: string; city: string }> = {
  SGH01: { trust: 'SGH', trustName: 'Scottish Children\'s Health Board', name: 'Paediatric Oncology, Royal Hospital for Children', city: 'Glasgow' },
  RJ101: { trust: 'RJ1', trustName: 'Guy\'s and St Thomas\' NHS Foundation Trust', name: 'Paediatric Rheumatology, Evelina London', city: 'London' },
  RYJ01: { trust: 'RYJ', trustName: 'Imperial College Healthcare NHS Trust', name: 'Paediatric Cardiology, St Mary\'s Hospital', city: 'London' },
};

/** A file of test/fixtures/hl7, as on the wire (segments separated by CR). */
export const hl7Fixture = (name: string): string => fixture(name.endsWith('.hl7') ? name : `${name}.hl7`);
export const sampleText = (name: SampleName): string => sample(SAMPLES[name].file);
// ER7 field helpers shared with the unit tests (MSH-n counted as in the standard).
export { field, setField };

export const segmentsOf = (text: string): string[] => text.split(/\r\n|\r|\n/).filter(Boolean);

let unique = 0;
/** An id no other test in this process uses (MSH-10 is at most 20 characters). */
export function uniqueId(prefix: string): string {
  return `${prefix}${(Date.now() % 1e8).toString(36)}${(++unique).toString(36)}`.toUpperCase().slice(0, 20);
}

/** The sample as a new message: its own MSH-10 and, unless `sameRequest`, its own RF1-6. */
export function freshSample(name: SampleName, opts: { sameRequest?: boolean; controlId?: string; enhanced?: boolean } = {}): { text: string; controlId: string; requestId: string } {
  const s = SAMPLES[name];
  const controlId = opts.controlId ?? uniqueId(s.requester);
  let text = setField(sampleText(name), 'MSH', 10, controlId);
  // The v2.5.1 sample asks for enhanced mode (MSH-15 AL, MSH-16 NE: a commit ACK only, HL7 v2.5.1 §2.9).
  // These scenarios are about what is stored, so they send it in original mode (both empty) and get
  // one AA/AE/AR; acknowledgement modes have tests of their own (ack-modes.test.ts, v2-receiver.test.ts).
  if (name === 'v251' && !opts.enhanced) text = setField(setField(text, 'MSH', 15, ''), 'MSH', 16, '');
  let requestId: string = s.requestId;
  if (!opts.sameRequest) {
    requestId = uniqueId(`${s.requester}-R`);
    const rf1 = field(text, 'RF1', 6)!;
    text = setField(text, 'RF1', 6, [requestId, ...rf1.split('^').slice(1)].join('^'));
  }
  return { text, controlId, requestId };
}

export interface Hl7Server {
  server: TestServer;
  /** 0 when MLLP_ENABLED=false. */
  mllpPort: number;
  /** A Party (the ESO harness's shape) per organisation, by ODS code, with a real token. */
  as: Record<string, Hl7Party>;
  /** Organization ids by ODS code. */
  orgIds: Record<string, string>;
  stop(): Promise<void>;
}

/** A party of the ESO harness (it can also ask for a token of another scope). */
export type Hl7Party = Party;

const partyFor = party;

/** The directory file's part: each provider site under a Trust of its own. */
export function hl7DirectoryEntries(): DirectoryEntry[] {
  return Object.entries(PROVIDERS).flatMap(([ods, p]) => [{ ods: p.trust, name: p.trustName }, { ods, name: p.name, partOf: p.trust }]);
}

/** With the directory file in place, each provider site adds its own address (its own entry's contact details). */
export async function setUpHl7Directory(as: Record<string, Hl7Party>): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  const find = async (who: Party, ods: string) =>
    ((await who.get<Bundle>(`/fhir/Organization?identifier=${encodeURIComponent(`${ODS_SYSTEM}|${ods}`)}`)).body.entry?.[0]?.resource as Organization | undefined);
  const must = (r: Reply, what: string) => {
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Organization;
  };
  for (const ods of REQUESTERS) ids[ods] = (await find(as[ods], ods))!.id!;
  for (const [ods, p] of Object.entries(PROVIDERS)) {
    const who = as[ods];
    ids[p.trust] = (await find(who, p.trust))!.id!;
    const existing = (await find(who, ods))!;
    const site: Organization = { ...existing, address: [{ city: p.city, country: 'GB' }] };
    ids[ods] = must(await who.put(`/fhir/Organization/${existing.id}`, site), `site ${ods}`).id!;
  }
  return ids;
}

/** The address the harness's MLLP senders connect from, and that the requesters' client entries list. */
export const SENDER_ADDRESS = '127.0.0.1';
/** Each requester's client entry admits MLLP connections from SENDER_ADDRESS. */
export const DEFAULT_MLLP: Record<string, MllpRegistration> = Object.fromEntries(REQUESTERS.map((ods) => [ods, { addresses: [SENDER_ADDRESS] }]));
export type MllpRegistration = { addresses?: string[]; certificateSha256?: string };

/**
 * The server with authentication on and MLLP on an ephemeral loopback port. `env` adds or
 * overrides settings (ESO_EPR_ENDPOINTS, MLLP_ALLOWED_SENDERS, MLLP_MAX_MESSAGE_BYTES, ...);
 * `mllp` is what each organisation's client entry says about its MLLP connections (by ODS code).
 */
export async function startHl7Server(backend: Backend, env: Record<string, string> = {}, mllp: Record<string, MllpRegistration> = DEFAULT_MLLP): Promise<Hl7Server> {
  const clientsDir = mkdtempSync(join(tmpdir(), 'eso-hl7-clients-'));
  const keys: Record<string, ClientPrivateKey> = {};
  for (const ods of [...REQUESTERS, ...Object.keys(PROVIDERS)]) {
    keys[ods] = await registerClient(clientsDir, { clientId: `${ods.toLowerCase()}-client`, organization: ods, mllp: mllp[ods] });
  }
  const directory = await writeDirectory(directoryFileIn(clientsDir), hl7DirectoryEntries());
  const server = await startTestServer(backend, {
    ESO_AUTH_DISABLED: 'false', ESO_CLIENTS_FILE: clientsFileIn(clientsDir), ESO_DIRECTORY_FILE: directory,
    MLLP_ENABLED: 'true', MLLP_PORT: '0', MLLP_HOST: '127.0.0.1', ...env,
  });
  try {
    if (!server.mllpPort && server.env.MLLP_ENABLED === 'true') throw new Error('MLLP listener did not start');
    const as = Object.fromEntries(Object.entries(keys).map(([ods, key]) => [ods, partyFor(server, ods, `${ods.toLowerCase()}-client`, key)]));
    const orgIds = await setUpHl7Directory(as);
    return {
      server, mllpPort: server.mllpPort ?? 0, as, orgIds,
      async stop() {
        await server.stop();
        rmSync(clientsDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await server.stop();
    rmSync(clientsDir, { recursive: true, force: true });
    throw e;
  }
}

/** Sends one message with Medplum's Hl7Client (an independent MLLP peer) and returns the ACK text. */
export async function sendWithMedplum(port: number, text: string): Promise<string> {
  const client = new Hl7Client({ host: '127.0.0.1', port });
  try {
    const ack = await client.sendAndWait(Hl7Message.parse(text), { timeoutMs: 15_000 });
    return ack.toString();
  } finally {
    await client.close();
  }
}

/** MLLP frames, our own minimal parser (independent of src/hl7/mllp-framer.ts). */
export const frame = (text: string): Buffer => Buffer.concat([Buffer.from([0x0b]), Buffer.from(text.endsWith('\r') ? text : `${text}\r`, 'utf8'), Buffer.from([0x1c, 0x0d])]);

/** Where a raw peer connects from, and (with `tls`) its TLS options: client certificate, CA of the server's. */
export interface RawPeerOptions {
  localAddress?: string;
  tls?: tls.ConnectionOptions;
}

/**
 * A raw TCP (or TLS) peer that collects every answer frame, for the cases Hl7Connection cannot see
 * (several frames in one read), and for choosing the source address and the client certificate.
 */
export async function rawMllp(port: number, opts: RawPeerOptions = {}) {
  const socket = opts.tls
    // tls.connect hands localAddress to net.connect (its type does not list it).
    ? tls.connect({ host: '127.0.0.1', port, ...opts.tls, ...({ localAddress: opts.localAddress } as tls.ConnectionOptions) })
    : net.connect({ host: '127.0.0.1', port, localAddress: opts.localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  let buffer = Buffer.alloc(0);
  const answers: string[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      const start = buffer.indexOf(0x0b);
      const end = start < 0 ? -1 : buffer.indexOf(0x1c, start);
      if (end < 0) break;
      answers.push(buffer.subarray(start + 1, end).toString('utf8'));
      buffer = buffer.subarray(buffer[end + 1] === 0x0d ? end + 2 : end + 1);
    }
  });
  socket.on('close', () => { closed = true; });
  socket.on('error', () => undefined);
  return {
    socket,
    answers,
    isClosed: () => closed,
    write: (bytes: Buffer | string) => new Promise<void>((resolve, reject) => socket.write(bytes, (e) => (e ? reject(e) : resolve()))),
    /** Waits until `n` answers have arrived (or throws after `ms`). */
    async waitFor(n: number, ms = 15_000): Promise<string[]> {
      await until(() => answers.length >= n || closed, ms, `${n} answer(s)`);
      if (answers.length < n) throw new Error(`connection closed after ${answers.length} of ${n} answer(s)`);
      return answers.slice(0, n);
    },
    close: () => new Promise<void>((resolve) => {
      if (closed) return resolve();
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    }),
  };
}

/** Polls `check` every 20 ms until it holds; throws naming `what` after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const msa = (ack: string): { code: string; controlId: string; text: string } => {
  const f = segmentsOf(ack).find((l) => l.startsWith('MSA|'))?.split('|') ?? [];
  return { code: f[1] ?? '', controlId: f[2] ?? '', text: f[3] ?? '' };
};

const COUNTED: ResourceType[] = ['Patient', 'RelatedPerson', 'ServiceRequest', 'Task', 'Condition', 'DocumentReference', 'Binary', 'Consent', 'Practitioner', 'PractitionerRole', 'Organization'];

/** How many of each clinical resource type are stored, read as the system (no tenancy). */
export async function storedCounts(storage: Storage): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const type of COUNTED) out[type] = (await storage.search({ type, criteria: [], count: 0, offset: 0, total: 'accurate' })).total ?? -1;
  return out;
}

export { eprStandIn, type EprBehaviour } from '../../helpers/epr-stand-in.ts';

/** A loopback port that was free a moment ago (nothing listens on it now). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/**
 * Sends the sample (fresh ids) over MLLP (v2.3 raw, to see its CA then AA; the others with
 * Medplum's client), requires AA, and returns the case as its requester sees it.
 */
export async function newCaseOverMllp(h: Hl7Server, name: SampleName): Promise<{ task: Task; sr: ServiceRequest; requestId: string }> {
  const { text, requestId } = freshSample(name);
  let codes: string[];
  if (name === 'v23') {
    const peer = await rawMllp(h.mllpPort);
    await peer.write(frame(text));
    codes = (await peer.waitFor(2)).map((a) => msa(a).code);
    await peer.close();
  } else {
    codes = [msa(await sendWithMedplum(h.mllpPort, text)).code];
  }
  if (codes.at(-1) !== 'AA' || (name === 'v23' && codes[0] !== 'CA')) throw new Error(`new case over MLLP answered ${codes.join(', ')}`);
  const who = h.as[SAMPLES[name].requester];
  const sr = entries<ServiceRequest>((await who.get<Bundle>(`/fhir/ServiceRequest?identifier=${encodeURIComponent(`${requestSystem(SAMPLES[name].requester)}|${requestId}`)}`)).body, 'ServiceRequest')[0];
  const task = entries<Task>((await who.get<Bundle>(`/fhir/Task?focus=ServiceRequest/${sr.id}`)).body, 'Task')[0];
  if (!sr || !task) throw new Error('new case over MLLP: its ServiceRequest or Task is not there');
  return { task, sr, requestId };
}
