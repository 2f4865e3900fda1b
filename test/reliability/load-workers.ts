/**
 * The workers of the load (test/reliability/load.ts), each looping on one kind of work until the
 * load stops, and what they share: the figures (`stats`) and the ledger of acknowledged writes that
 * test/reliability/load-verify.ts checks afterwards.
 */
import { performance } from 'node:perf_hooks';
import type { Bundle, Organization, Task } from 'fhir/r4.js';
import type { registerClient } from '../helpers/auth.ts';
import { declaration, requestInput, step } from '../integration/eso/harness.ts';
import { freshSample, requestSystem, SAMPLES, setField, uniqueId, type SampleName } from '../integration/hl7/harness.ts';
import { NoAnswer, OrgClient, type Answer } from './load-client.ts';
import { MllpConnection } from './mllp-sender.ts';
import { Stat, type Outcome } from './load-stats.ts';
import { caseKey, type CaseEntry, type Ledger, type TaskEntry } from './load-verify.ts';

export type WorkerKind = 'eso' | 'poll' | 'update' | 'token' | 'mllp';

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

/** The load's own clients (their own keys, so every request can have its own time limit). */
export const LOAD_CLIENTS = { RZ1: 'load-rz1', RZ2NP: 'load-rz2np', RA7: 'load-ra7', RGT: 'load-rgt', RTH: 'load-rth' } as const;
export type LoadOds = keyof typeof LOAD_CLIENTS;
export type LoadKeys = Record<LoadOds, Awaited<ReturnType<typeof registerClient>>>;

// ---------------------------------------------------------------------------------------------
// State of a run

export const stats = {
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
export const ledger: Ledger = { cases: new Map(), tasks: new Map(), children: new Map(), problems: [] };
/** Inputs of acknowledged ESO requests, for replays. */
const esoInputs = new Map<string, any>();
const esoAcked: string[] = [];
/** AA'd referrals, for replays. */
const mllpAcked: { key: string; text: string; sender: string }[] = [];
/** New Tasks waiting for the provider, and those being moved now (which racers join). */
const freshTasks: string[] = [];
const movingTasks = new Set<string>();

/** The MLLP workers' connections (one each). */
export const connections: MllpConnection[] = [];
export const closeConnections = () => Promise.all(connections.map((c) => c.close().catch(() => undefined)));

let stopAt = Number.POSITIVE_INFINITY;
let stopped = false;
/** Token answers the clients' caches get are counted only during the load (not at set-up or verification). */
let counting = false;
/** The workers stop after their request in flight (an interrupt, a service that died, the way out). */
export const stopLoad = () => { stopped = true; };
const running = () => !stopped && performance.now() < stopAt;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
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

export interface Ctx {
  clients: Record<LoadOds, OrgClient>;
  orgIds: Record<string, string>;
  mllpPort: number;
  timeoutMs: number;
}

async function orgId(client: OrgClient, ods: string): Promise<string> {
  const a = await client.get(`/fhir/Organization?identifier=${encodeURIComponent(`https://fhir.nhs.uk/Id/ods-organization-code|${ods}`)}`);
  const org = (a.body as Bundle)?.entry?.[0]?.resource as Organization | undefined;
  if (a.status !== 200 || !org?.id) throw new Error(`Organization ${ods}: HTTP ${a.status}`);
  return org.id;
}

/** The load's clients against the service at `url`, and the two organisations the workers name. */
export async function loadContext(keys: LoadKeys, url: string, mllpPort: number, timeoutMs: number): Promise<Ctx> {
  const onTokenAnswer = (a: Answer | NoAnswer) => {
    if (!counting) return;
    if (a instanceof NoAnswer) stats.token.record('error', a.label, undefined, a.kind === 'timeout' ? a.detail : undefined);
    else stats.token.record(a.status === 200 ? 'ok' : 'error', `HTTP ${a.status}`, a.ms);
  };
  const clients = Object.fromEntries((Object.entries(LOAD_CLIENTS) as [LoadOds, string][]).map(([ods, clientId]) =>
    [ods, new OrgClient(ods, clientId, keys[ods], url, timeoutMs, onTokenAnswer)])) as Record<LoadOds, OrgClient>;
  return { clients, orgIds: { RZ1: await orgId(clients.RZ1, 'RZ1'), RZ2NP: await orgId(clients.RZ2NP, 'RZ2NP') }, mllpPort, timeoutMs };
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

async function mllpWorker(ctx: Ctx, n: number): Promise<void> {
  const conn = new MllpConnection(ctx.mllpPort, ctx.timeoutMs);
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

/** Runs `counts` workers of each kind for `seconds` (or until stopLoad()); resolves once each has finished its request in flight. */
export async function runLoad(ctx: Ctx, counts: Record<WorkerKind, number>, seconds: number, onError: (kind: WorkerKind, e: unknown) => void): Promise<void> {
  const run: Record<WorkerKind, (i: number) => Promise<void>> = {
    eso: () => esoWorker(ctx), poll: (i) => pollWorker(ctx, i), update: () => updateWorker(ctx), token: (i) => tokenWorker(ctx, i), mllp: (i) => mllpWorker(ctx, i),
  };
  stopAt = performance.now() + seconds * 1000;
  counting = true;
  const tasks: Promise<void>[] = [];
  for (const kind of Object.keys(run) as WorkerKind[]) {
    for (let i = 0; i < counts[kind]; i++) tasks.push(run[kind](i).catch((e: unknown) => onError(kind, e)));
  }
  await Promise.all(tasks);
  counting = false;
}
