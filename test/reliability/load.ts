/**
 * A bounded mixed load on loopback, then a check that every acknowledged write is stored exactly once.
 *
 *   npm run test:load [-- --seconds 60] [--concurrency 50] [--backend sqlite|postgres] [--timeout-ms 30000]
 *
 * The service runs as a child process (authentication on, MLLP on, outbox off) on a fresh SQLite data
 * directory or a fresh PostgreSQL database. For `--seconds`, `--concurrency` workers each loop on one
 * kind of work (shares of the concurrency):
 *
 *   30%  POST /eso/requests as the treating Trust (RZ1): new requests; now and then the same requestId
 *        again (must answer 200 with the same Task: an idempotent replay), or twice at once (one 201,
 *        one 200, one Task)
 *   25%  Task polling: GET /fhir/Task?owner=…&status=… as the provider, ?requester=… as the requester
 *   15%  Task updates: the provider (RZ2NP) moves the Tasks it was sent requested → received →
 *        accepted (with its declaration) → in-progress, each a read then a PUT with If-Match; some
 *        workers race another on the same Task, so 412/409 happen for real (counted as expected)
 *   10%  POST /auth/token with a freshly signed client assertion each time
 *   20%  HL7 v2 REF^I12 over MLLP, one persistent connection per worker, the three samples (original
 *        and enhanced acknowledgement modes); now and then a referral again (same RF1-6, new MSH-10)
 *
 * Every request has a client-side time limit (a hang is a 'timeout'). Then the load stops, in-flight
 * requests finish, and test/reliability/load-verify.ts checks, over HTTP as the parties of each case,
 * that what was acknowledged is stored exactly once. The table gives requests, per second, p50, p99
 * and outcomes by kind. PASS needs zero 5xx, zero network errors or timeouts, zero unexpected
 * answers (an ACK other than AA included), and zero lost, duplicated, partial or phantom writes.
 * The exit code is 0 only on PASS; the last line is the verdict.
 */
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Bundle, Organization, Task } from 'fhir/r4.js';
import { registerClient } from '../helpers/auth.ts';
import type { Backend } from '../helpers/backends.ts';
import { declaration, requestInput, step } from '../integration/eso/harness.ts';
import { freshSample, requestSystem, SAMPLES, setField, uniqueId, type SampleName } from '../integration/hl7/harness.ts';
import { NoAnswer, OrgClient, type Answer } from './load-client.ts';
import { MllpConnection } from './load-mllp.ts';
import { machine, Stat, table, type Outcome } from './load-stats.ts';
import { caseKey, verify, type CaseEntry, type Ledger, type TaskEntry } from './load-verify.ts';
import { startService, type ServiceProcess } from './service-process.ts';
import { createWorld, type World } from './world.ts';

// ---------------------------------------------------------------------------------------------
// Settings

const USAGE = 'npm run test:load [-- --seconds 60] [--concurrency 50] [--backend sqlite|postgres] [--timeout-ms 30000]';
const OPTIONS = {
  seconds: { type: 'string', default: '60' },
  concurrency: { type: 'string', default: '50' },
  backend: { type: 'string', default: 'sqlite' },
  'timeout-ms': { type: 'string', default: '30000' },
  help: { type: 'boolean', default: false },
} as const;
let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>;
try {
  parsed = parseArgs({ options: OPTIONS, strict: true });
} catch (e) {
  console.log(USAGE);
  console.log(`load: FAIL bad arguments: ${(e as Error).message}`);
  process.exit(2);
}
const args = parsed.values;
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const int = (name: string, raw: string, min: number): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.log(`load: FAIL bad argument: --${name} must be an integer ≥ ${min} (got '${raw}')`);
    process.exit(2);
  }
  return n;
};
const SECONDS = int('seconds', args.seconds, 1);
const CONCURRENCY = int('concurrency', args.concurrency, 5);
const TIMEOUT_MS = int('timeout-ms', args['timeout-ms'], 100);
if (args.backend !== 'sqlite' && args.backend !== 'postgres') {
  console.log(`load: FAIL bad argument: --backend must be sqlite or postgres (got '${args.backend}')`);
  process.exit(2);
}
const BACKEND = args.backend as Backend;
/** The whole run (set-up, load, drain, verification, shutdown) never takes longer than this. */
const WATCHDOG_MS = SECONDS * 1000 + 3 * TIMEOUT_MS + 10 * 60_000;

const SHARES = { eso: 0.3, poll: 0.25, update: 0.15, token: 0.1, mllp: 0.2 } as const;
type WorkerKind = keyof typeof SHARES;

/** Largest remainder, at least one worker of each kind. */
function split(total: number): Record<WorkerKind, number> {
  const kinds = Object.keys(SHARES) as WorkerKind[];
  const n = Object.fromEntries(kinds.map((k) => [k, Math.max(1, Math.floor(total * SHARES[k]))])) as Record<WorkerKind, number>;
  const byRemainder = [...kinds].sort((a, b) => ((total * SHARES[b]) % 1) - ((total * SHARES[a]) % 1));
  for (let i = 0; Object.values(n).reduce((a, b) => a + b, 0) < total; i++) n[byRemainder[i % kinds.length]]++;
  return n;
}

/** Valid NHS numbers (modulus 11) for the ESO requests' children: several cases per child, concurrently. */
function nhsNumbers(count: number): string[] {
  const out: string[] = [];
  for (let base = 943_476_000; out.length < count; base += 37) {
    const digits = String(base).split('').map(Number);
    const check = 11 - (digits.reduce((a, d, i) => a + d * (10 - i), 0) % 11);
    if (check === 10) continue;
    out.push(`${base}${check === 11 ? 0 : check}`);
  }
  return out;
}
const CHILDREN = nhsNumbers(8);

const LOAD_CLIENTS = { RZ1: 'load-rz1', RZ2NP: 'load-rz2np', RA7: 'load-ra7', RGT: 'load-rgt', RTH: 'load-rth' } as const;
type LoadOds = keyof typeof LOAD_CLIENTS;

// ---------------------------------------------------------------------------------------------
// State of a run

const stats = {
  esoNew: new Stat('eso new'),
  esoReplay: new Stat('eso replay'),
  esoTwin: new Stat('eso twin'),
  poll: new Stat('task poll'),
  taskRead: new Stat('task read'),
  taskUpdate: new Stat('task update'),
  token: new Stat('token'),
  mllp: new Stat('mllp referral'),
  mllpReplay: new Stat('mllp replay'),
};
const ledger: Ledger = { cases: new Map(), tasks: new Map(), children: new Map(), problems: [] };
/** Inputs of acknowledged ESO requests, for replays. */
const esoInputs = new Map<string, any>();
const esoAcked: string[] = [];
/** AA'd referrals, for replays. */
const mllpAcked: { key: string; text: string; sender: string }[] = [];
/** New Tasks waiting for the provider, and those being moved now (which racers join). */
const freshTasks: string[] = [];
const movingTasks = new Set<string>();
const harnessErrors: string[] = [];
/** The running service, for the watchdog. */
let service: ServiceProcess | undefined;

let stopAt = Number.POSITIVE_INFINITY;
/** Token answers the clients' caches get are counted only during the load (not at set-up or verification). */
let counting = false;
let interrupted = false;
/** Set when the service exits by itself during the run. */
let died: string | undefined;
const running = () => !interrupted && performance.now() < stopAt;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];

type Judge = (a: Answer) => [Outcome, string];
const statusIs = (...ok: number[]): Judge => (a) => (ok.includes(a.status) ? ['ok', String(a.status)] : ['error', `HTTP ${a.status}`]);

/** Runs one request, counts it in `stat`; undefined when there was no answer. */
async function measured(stat: Stat, run: () => Promise<Answer>, judge: Judge): Promise<Answer | undefined> {
  let a: Answer;
  try {
    a = await run();
  } catch (e) {
    if (e instanceof NoAnswer) stat.record('error', e.label, undefined, e.kind === 'timeout' ? e.detail : undefined);
    else stat.record('error', 'client error', undefined, (e as Error).message);
    await sleep(50); // no tight loop against a refusing service
    return undefined;
  }
  const [outcome, what] = judge(a);
  stat.record(outcome, what, a.ms, outcome === 'error' ? JSON.stringify(a.body) : undefined);
  return a;
}

// ---------------------------------------------------------------------------------------------
// The workers

interface Ctx {
  clients: Record<LoadOds, OrgClient>;
  orgIds: Record<string, string>;
  mllpPort: number;
}

function esoEntry(input: any): CaseEntry {
  const key = caseKey(input.requestId.system, input.requestId.value);
  let entry = ledger.cases.get(key);
  if (!entry) ledger.cases.set(key, entry = { via: 'eso', system: input.requestId.system, value: input.requestId.value, requester: 'RZ1', acked: false });
  return entry;
}

/** Notes an answered (201/200) ESO request; two answers for one requestId must name one case. */
function esoAnswered(input: any, a: Answer, first: boolean): void {
  const entry = esoEntry(input);
  const key = caseKey(entry.system, entry.value);
  const taskId = a.body?.task?.id as string | undefined;
  const srId = a.body?.serviceRequest?.id as string | undefined;
  if (!taskId || !srId) {
    ledger.problems.push({ kind: 'lost', detail: `ESO ${key}: HTTP ${a.status} without task and serviceRequest` });
    return;
  }
  if (entry.taskId && (entry.taskId !== taskId || entry.serviceRequestId !== srId)) {
    ledger.problems.push({ kind: 'duplicated', detail: `ESO ${key}: answered Task/${entry.taskId} and later Task/${taskId}` });
    return;
  }
  if (!entry.taskId) {
    entry.taskId = taskId;
    entry.serviceRequestId = srId;
    ledger.children.set(input.child.nhsNumber, 'RZ1');
    esoInputs.set(key, input);
    esoAcked.push(key);
    freshTasks.push(taskId);
  }
  entry.acked = true;
  if (first && a.status !== 201) ledger.problems.push({ kind: 'lost', detail: `ESO ${key}: a new requestId answered ${a.status}` });
}

async function esoWorker(ctx: Ctx): Promise<void> {
  const rz1 = ctx.clients.RZ1;
  while (running()) {
    const r = Math.random();
    if (r < 0.08 && esoAcked.length) {
      // The same request again: 200, created false, the same case.
      const input = esoInputs.get(pick(esoAcked));
      const a = await measured(stats.esoReplay, () => rz1.post('/eso/requests', input), (x) =>
        x.status === 200 && x.body?.created === false ? ['expected', 'replay 200'] : x.status === 201 ? ['error', 'HTTP 201 (a second case)'] : ['error', `HTTP ${x.status}`]);
      if (a && (a.status === 200 || a.status === 201)) esoAnswered(input, a, false);
    } else if (r < 0.12) {
      // The same new request twice at once: exactly one 201 and one 200, one case.
      const input = requestInput((x) => { x.child.nhsNumber = pick(CHILDREN); });
      esoEntry(input);
      const judge: Judge = (x) => (x.status === 201 ? ['ok', '201'] : x.status === 200 ? ['expected', 'replay 200'] : ['error', `HTTP ${x.status}`]);
      const answers = await Promise.all([0, 1].map(() => measured(stats.esoTwin, () => rz1.post('/eso/requests', input), judge)));
      const ok = answers.filter((a): a is Answer => !!a && (a.status === 201 || a.status === 200));
      for (const a of ok) esoAnswered(input, a, false);
      const created = ok.filter((a) => a.status === 201).length;
      if (created > 1) ledger.problems.push({ kind: 'duplicated', detail: `ESO ${input.requestId.value}: two concurrent POSTs both answered 201` });
      if (ok.length === 2 && created === 0) ledger.problems.push({ kind: 'lost', detail: `ESO ${input.requestId.value}: two concurrent POSTs of a new request, neither answered 201` });
    } else {
      const input = requestInput((x) => { x.child.nhsNumber = pick(CHILDREN); });
      esoEntry(input);
      const a = await measured(stats.esoNew, () => rz1.post('/eso/requests', input), (x) =>
        x.status === 201 && x.body?.created === true ? ['ok', '201'] : ['error', `HTTP ${x.status}`]);
      if (a && (a.status === 201 || a.status === 200)) esoAnswered(input, a, true);
    }
  }
}

async function pollWorker(ctx: Ctx, n: number): Promise<void> {
  const asProvider = `/fhir/Task?owner=${encodeURIComponent(`Organization/${ctx.orgIds.RZ2NP}`)}&status=requested,received,accepted&_count=20&_sort=-_lastUpdated`;
  const asRequester = `/fhir/Task?requester=${encodeURIComponent(`Organization/${ctx.orgIds.RZ1}`)}&status=requested,received,accepted,in-progress&_count=20`;
  const isBundle: Judge = (a) => (a.status === 200 && (a.body as Bundle)?.resourceType === 'Bundle' ? ['ok', '200'] : ['error', `HTTP ${a.status}`]);
  for (let i = n; running(); i++) {
    if (i % 2 === 0) await measured(stats.poll, () => ctx.clients.RZ2NP.get(asProvider), isBundle);
    else await measured(stats.poll, () => ctx.clients.RZ1.get(asRequester), isBundle);
  }
}

const MOVES: Record<string, (t: Task) => void> = {
  requested: (t) => { t.status = 'received'; t.businessStatus = step('received'); },
  received: (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; },
  accepted: (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); },
};

/** One move of the Task from what it is now: 'moved', 'conflict', 'done' (nothing left) or 'error'. */
async function moveOnce(ctx: Ctx, id: string): Promise<'moved' | 'conflict' | 'done' | 'error'> {
  const provider = ctx.clients.RZ2NP;
  const got = await measured(stats.taskRead, () => provider.get(`/fhir/Task/${id}`), statusIs(200));
  if (got?.status !== 200) return 'error';
  const task = got.body as Task;
  const move = MOVES[task.status];
  if (!move) return 'done';
  const from = Number(task.meta?.versionId);
  const next = structuredClone(task);
  move(next);
  let entry = ledger.tasks.get(id);
  if (!entry) ledger.tasks.set(id, entry = { id, updates: [], unanswered: 0 } satisfies TaskEntry);
  const put = await measured(stats.taskUpdate, () => provider.put(`/fhir/Task/${id}`, next, { 'if-match': `W/"${from}"` }), (a) =>
    a.status === 200 ? ['ok', '200'] : a.status === 412 || a.status === 409 ? ['expected', `HTTP ${a.status} (race)`] : ['error', `HTTP ${a.status}`]);
  if (!put) {
    entry.unanswered++;
    return 'error';
  }
  if (put.status === 412 || put.status === 409) return 'conflict';
  if (put.status !== 200) return 'error';
  const to = Number((put.body as Task)?.meta?.versionId);
  const etag = put.headers.get('etag');
  if (etag !== `W/"${to}"`) ledger.problems.push({ kind: 'lost update', detail: `Task/${id}: PUT answered version ${to} with ETag ${etag}` });
  entry.updates.push({ from, to, status: next.status });
  return 'moved';
}

async function updateWorker(ctx: Ctx): Promise<void> {
  while (running()) {
    // A third of the time, join a Task another worker is moving: both read, both PUT, one wins.
    if (movingTasks.size && Math.random() < 0.33) {
      await moveOnce(ctx, pick([...movingTasks]));
      continue;
    }
    const id = freshTasks.shift();
    if (!id) {
      await sleep(20);
      continue;
    }
    movingTasks.add(id);
    try {
      for (let attempt = 0; attempt < 10 && running(); attempt++) {
        const r = await moveOnce(ctx, id);
        if (r === 'done' || r === 'error') break;
      }
    } finally {
      movingTasks.delete(id);
    }
  }
}

async function tokenWorker(ctx: Ctx, n: number): Promise<void> {
  const all = Object.values(ctx.clients);
  for (let i = n; running(); i++) {
    await measured(stats.token, () => all[i % all.length].requestToken('system/Task.rs'), (a) =>
      a.status === 200 && typeof a.body?.access_token === 'string' ? ['ok', '200'] : ['error', `HTTP ${a.status}`]);
  }
}

const SAMPLE_NAMES = Object.keys(SAMPLES) as SampleName[];

async function mllpWorker(ctx: Ctx, n: number, connections: MllpConnection[]): Promise<void> {
  const conn = new MllpConnection(ctx.mllpPort, TIMEOUT_MS);
  connections.push(conn);
  for (let i = n; running(); i++) {
    let text: string;
    let controlId: string;
    let key: string;
    let sender: string;
    let nhs: string;
    const replay = Math.random() < 0.07 && mllpAcked.length > 0;
    if (replay) {
      const prev = pick(mllpAcked);
      controlId = uniqueId(prev.sender);
      text = setField(prev.text, 'MSH', 10, controlId);
      key = prev.key;
      sender = prev.sender;
      nhs = '';
    } else {
      const name = SAMPLE_NAMES[i % SAMPLE_NAMES.length];
      const s = freshSample(name);
      // The v2.5.1 sample asks for a commit ACK only (MSH-16 NE); ask for the application ACK too.
      text = name === 'v251' ? setField(s.text, 'MSH', 16, 'AL') : s.text;
      controlId = s.controlId;
      sender = SAMPLES[name].requester;
      nhs = SAMPLES[name].nhsNumber;
      key = caseKey(requestSystem(sender), s.requestId);
      if (!ledger.cases.has(key)) ledger.cases.set(key, { via: 'mllp', system: requestSystem(sender), value: s.requestId, requester: sender, acked: false });
    }
    const stat = replay ? stats.mllpReplay : stats.mllp;
    try {
      const a = await conn.send(text, controlId);
      stat.record(a.code === 'AA' ? 'ok' : 'error', `ACK ${a.code || '(none)'}`, a.ms, a.text);
      if (a.code === 'AA') {
        ledger.cases.get(key)!.acked = true;
        if (!replay) {
          mllpAcked.push({ key, text, sender });
          ledger.children.set(nhs, sender);
        }
      }
    } catch (e) {
      if (e instanceof NoAnswer) stat.record('error', e.label, undefined, e.kind === 'timeout' ? e.detail : undefined);
      else stat.record('error', 'client error', undefined, (e as Error).message);
      await sleep(50);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The run

/** Counts the service's error and fatal log lines (pino JSON on stdout). */
function watchLogs(svc: ServiceProcess): { errors: () => number; samples: string[] } {
  let errors = 0;
  const samples: string[] = [];
  let partial = '';
  svc.child.stdout!.on('data', (d) => {
    const lines = (partial + String(d)).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!/"level":(50|60)/.test(line)) continue;
      errors++;
      if (samples.length < 5) {
        try {
          const j = JSON.parse(line) as { msg?: string; err?: { message?: string } };
          samples.push(`${j.msg ?? ''}${j.err?.message ? `: ${j.err.message}` : ''}`.slice(0, 300));
        } catch {
          samples.push(line.slice(0, 300));
        }
      }
    }
  });
  return { errors: () => errors, samples };
}

async function orgId(client: OrgClient, ods: string): Promise<string> {
  const a = await client.get(`/fhir/Organization?identifier=${encodeURIComponent(`https://fhir.nhs.uk/Id/ods-organization-code|${ods}`)}`);
  const org = (a.body as Bundle)?.entry?.[0]?.resource as Organization | undefined;
  if (a.status !== 200 || !org?.id) throw new Error(`Organization ${ods}: HTTP ${a.status}`);
  return org.id;
}

async function main(): Promise<boolean> {
  const workers = split(CONCURRENCY);
  console.log(`load: ${SECONDS} s at concurrency ${CONCURRENCY} on ${BACKEND} (timeout ${TIMEOUT_MS} ms per request)`);
  console.log(`workers: ${Object.entries(workers).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`machine at start: ${machine()}`);

  let world: World | undefined;
  let svc: ServiceProcess | undefined;
  const connections: MllpConnection[] = [];
  const failures: string[] = [];
  let verdictDetail = '';
  let logs: ReturnType<typeof watchLogs> | undefined;
  let stopService = () => {};
  try {
    world = await createWorld(BACKEND);
    // The load's own clients (its own keys, so every request can have its own time limit).
    const clientsDir = dirname(world.env.ESO_CLIENTS_FILE);
    const keys = {} as Record<LoadOds, Awaited<ReturnType<typeof registerClient>>>;
    // One at a time: each registration rewrites the clients file.
    for (const [ods, clientId] of Object.entries(LOAD_CLIENTS) as [LoadOds, string][]) keys[ods] = await registerClient(clientsDir, { clientId, organization: ods });
    svc = service = await startService(world.env);
    logs = watchLogs(svc);
    let stopping = false;
    void svc.exited.then((code) => {
      if (stopping) return;
      died = `the service exited by itself (code ${code}, signal ${svc?.child.signalCode ?? 'none'})`;
      interrupted = true;
      console.log(`\n${died}: stopping the load`);
    });
    stopService = () => { stopping = true; };
    if (!svc.mllpPort) throw new Error('the service started without its MLLP listener');
    await world.setUpDirectory(svc.url);
    const url = svc.url;
    const clients = Object.fromEntries((Object.entries(LOAD_CLIENTS) as [LoadOds, string][]).map(([ods, clientId]) =>
      [ods, new OrgClient(ods, clientId, keys[ods], url, TIMEOUT_MS, (a) => {
        if (!counting) return;
        if (a instanceof NoAnswer) stats.token.record('error', a.label, undefined, a.kind === 'timeout' ? a.detail : undefined);
        else stats.token.record(a.status === 200 ? 'ok' : 'error', `HTTP ${a.status}`, a.ms);
      })])) as Record<LoadOds, OrgClient>;
    const ctx: Ctx = { clients, orgIds: { RZ1: await orgId(clients.RZ1, 'RZ1'), RZ2NP: await orgId(clients.RZ2NP, 'RZ2NP') }, mllpPort: svc.mllpPort };
    console.log(`service: pid ${svc.pid}, ${url}, MLLP port ${svc.mllpPort}`);

    // The timed phase.
    const started = performance.now();
    stopAt = started + SECONDS * 1000;
    counting = true;
    const guard = (name: string, run: () => Promise<void>) => run().catch((e: unknown) => { harnessErrors.push(`${name}: ${(e as Error)?.stack ?? String(e)}`); });
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < workers.eso; i++) tasks.push(guard('eso', () => esoWorker(ctx)));
    for (let i = 0; i < workers.poll; i++) tasks.push(guard('poll', () => pollWorker(ctx, i)));
    for (let i = 0; i < workers.update; i++) tasks.push(guard('update', () => updateWorker(ctx)));
    for (let i = 0; i < workers.token; i++) tasks.push(guard('token', () => tokenWorker(ctx, i)));
    for (let i = 0; i < workers.mllp; i++) tasks.push(guard('mllp', () => mllpWorker(ctx, i, connections)));
    const progress = setInterval(() => {
      const n = Object.values(stats).reduce((a, s) => a + s.requests, 0);
      const errs = Object.values(stats).reduce((a, s) => a + s.errorCount, 0);
      console.log(`  ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s  ${n} requests, ${errs} errors`);
    }, 10_000);
    await Promise.all(tasks); // each worker stops at stopAt and finishes its request in flight
    clearInterval(progress);
    const elapsed = (performance.now() - started) / 1000;
    counting = false;
    const total = Object.values(stats).reduce((a, s) => a + s.requests, 0);
    await Promise.all(connections.map((c) => c.close()));
    const noAnswers = Object.values(stats).reduce((a, s) => a + [...s.errors.keys()].filter((k) => k === 'timeout' || k.startsWith('network')).reduce((x, k) => x + s.errors.get(k)!, 0), 0);
    // A request that timed out on our side may still be committing on the service's.
    if (noAnswers) await sleep(Math.min(TIMEOUT_MS, 10_000));

    console.log(`\nload phase: ${elapsed.toFixed(1)} s`);
    console.log(table(Object.values(stats), elapsed));
    for (const s of Object.values(stats)) for (const line of s.samples) console.log(`  ${s.name}: ${line}`);
    console.log(`MLLP connections opened: ${connections.reduce((a, c) => a + c.connects, 0)} for ${connections.length} workers`);
    console.log(`machine after load: ${machine()}`);

    // The check (against a running service only).
    if (died) failures.push(died);
    else if (interrupted) failures.push('interrupted');
    else {
      const v0 = performance.now();
      const result = await verify(ledger, clients, clients.RZ2NP);
      console.log(`\nverification (${((performance.now() - v0) / 1000).toFixed(1)} s):`);
      for (const line of result.summary) console.log(`  ${line}`);
      const byKind = new Map<string, number>();
      for (const p of result.problems) byKind.set(p.kind, (byKind.get(p.kind) ?? 0) + 1);
      for (const p of result.problems.slice(0, 20)) console.log(`  ${p.kind}: ${p.detail}`);
      if (result.problems.length > 20) console.log(`  … and ${result.problems.length - 20} more`);
      for (const [k, n] of byKind) failures.push(`${n} ${k}`);
      if (!result.problems.length) console.log('  every acknowledged write is stored exactly once');
    }

    if (died && !failures.includes(died)) failures.push(died); // during the verification

    // The bar.
    const count = (pred: (k: string) => boolean) => Object.values(stats).reduce((a, s) => a + [...s.errors.entries()].filter(([k]) => pred(k)).reduce((x, [, v]) => x + v, 0), 0);
    const fiveXX = count((k) => /^HTTP 5\d\d/.test(k));
    const timeouts = count((k) => k === 'timeout');
    const network = count((k) => k.startsWith('network'));
    const other = Object.values(stats).reduce((a, s) => a + s.errorCount, 0) - fiveXX - timeouts - network;
    if (fiveXX) failures.push(`${fiveXX} 5xx`);
    if (timeouts) failures.push(`${timeouts} timeouts`);
    if (network) failures.push(`${network} network errors`);
    if (other) failures.push(`${other} unexpected answers`);
    const acked = [...ledger.cases.values()].filter((c) => c.acked).length;
    const updates = [...ledger.tasks.values()].reduce((a, t) => a + t.updates.length, 0);
    verdictDetail = `${SECONDS} s at concurrency ${CONCURRENCY} on ${BACKEND}: ${total} requests (${(total / elapsed).toFixed(1)}/s), ${acked} cases and ${updates} Task updates acknowledged`;
  } catch (e) {
    failures.push(`harness: ${(e as Error)?.message ?? String(e)}`);
    console.error((e as Error)?.stack ?? e);
  } finally {
    for (const c of connections) await c.close().catch(() => undefined);
    stopService();
    if (svc && !died) {
      const stopped = await Promise.race([svc.stop().then(() => true), sleep(20_000).then(() => false)]);
      if (!stopped) {
        failures.push('the service did not stop within 20 s of SIGTERM');
        await svc.kill();
      }
      const code = await svc.exited;
      console.log(`service stopped (SIGTERM): exit code ${code}`);
      if (stopped && code !== 0) failures.push(`the service exited ${code} on SIGTERM`);
    }
    if (logs) {
      console.log(`service log: ${logs.errors()} error lines${logs.samples.length ? `, e.g.\n${logs.samples.map((s) => `  ${s}`).join('\n')}` : ''}`);
    }
    await world?.cleanup().catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
  }
  for (const h of harnessErrors) { console.error(h); failures.push('harness error'); }
  console.log(`machine at end: ${machine()}`);
  const ok = failures.length === 0;
  console.log(ok ? `load: PASS ${verdictDetail}, every one stored exactly once; zero 5xx, timeouts and network errors`
    : `load: FAIL ${verdictDetail ? `${verdictDetail}; ` : ''}${failures.join(', ')}`);
  return ok;
}

process.once('SIGINT', () => {
  interrupted = true;
  console.log('\ninterrupted: stopping the load');
});
const watchdog = setTimeout(() => {
  console.log(`load: FAIL the run did not finish within ${(WATCHDOG_MS / 1000).toFixed(0)} s`);
  service?.child.kill('SIGKILL');
  process.exit(1);
}, WATCHDOG_MS);
const ok = await main();
clearTimeout(watchdog);
process.exit(ok ? 0 : 1);
