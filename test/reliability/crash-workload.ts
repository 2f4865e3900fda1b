/**
 * What the crash harness does to the service between kills, and what it remembers of it: ESO
 * requests (POST /eso/requests as RZ1), HL7 v2 REF^I12 referrals over MLLP (RA7, RGT, RTH), and
 * the provider's (or requester's) Task moves on cases made earlier, which enqueue RRI^I12/ORU^R01
 * for the requester's EPR. Every write is recorded as acknowledged only when its answer arrived
 * (2xx, AA); anything else (error, timeout, the connection dying with the process) is an
 * unacknowledged attempt, which may or may not have committed.
 */
import type { DiagnosticReport, ServiceRequest, Task } from 'fhir/r4.js';
import { declaration, report, requestInput, step, type Party } from '../integration/eso/harness.ts';
import { freshSample, requestSystem, SAMPLES, type SampleName } from '../integration/hl7/harness.ts';
import { MllpConnection } from './mllp-sender.ts';

export const HTTP_TIMEOUT_MS = 10_000;
export const MLLP_TIMEOUT_MS = 10_000;

/** A small seeded PRNG (mulberry32), so a seed replays the kill points and the workload's choices. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Valid NHS numbers (modulus 11 check digit) from `start` on. */
export function nhsNumbers(count: number, start = 943476500): string[] {
  const out: string[] = [];
  for (let base = start; out.length < count; base++) {
    const digits = String(base).padStart(9, '0');
    const sum = [...digits].reduce((s, d, i) => s + Number(d) * (10 - i), 0);
    const check = 11 - (sum % 11);
    if (check === 10) continue;
    out.push(digits + String(check === 11 ? 0 : check));
  }
  return out;
}

export interface Reply<T = any> { status: number; body: T; etag: string | null }

/** An organisation's HTTP client against one running service: every call under a timeout. */
export interface Client {
  ods: string;
  call<T = any>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply<T>>;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: timeout`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

export function clientOf(party: Party, url: string): Client {
  return {
    ods: party.ods,
    async call(method, path, body, headers = {}) {
      const token = await withTimeout(party.token(), HTTP_TIMEOUT_MS, 'token');
      const h: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${token}`, ...headers };
      if (body !== undefined) h['content-type'] = 'application/json';
      const init: RequestInit = { method, headers: h, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) };
      if (body !== undefined) init.body = JSON.stringify(body);
      const res = await fetch(`${url}${path}`, init);
      const text = await res.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* not JSON */ }
      return { status: res.status, body: parsed as never, etag: res.headers.get('etag') };
    },
  };
}

/** What a case is driven towards once it exists. */
export type Plan = 'complete' | 'reject' | 'cancel';

export const ESO_SYSTEM = requestInput().requestId.system as string;
export const ESO_REQUESTER = 'RZ1';
export const ESO_PROVIDER = 'RZ2NP';
export const MLLP_SAMPLES: SampleName[] = ['v251', 'v24', 'v23'];

/** One intake (an ESO request or a REF^I12), sent once and perhaps again after a restart. */
export interface Intake {
  via: 'eso' | 'mllp';
  requester: string;
  provider: string;
  /** The ServiceRequest/Task identifier: system and value. */
  system: string;
  requestId: string;
  /** The JSON body, or the ER7 text (sent again with the same MSH-10). */
  payload: unknown;
  controlId?: string;
  sample?: SampleName;
  /** Answered 2xx / AA (at least once). */
  acked: boolean;
  /** Will be sent again after the next restart (seeded choice when it was left unacknowledged). */
  retry: boolean;
  inFlight: boolean;
  sends: number;
  taskId?: string;
  srId?: string;
  plan: Plan;
  /** A move worker holds the case. */
  busy: boolean;
  done: boolean;
}

export interface AckedMove { taskId: string; from: Task['status']; to: Task['status']; version: number; by: string; round: number }

export interface Stats {
  acked: Record<string, number>;
  unacked: Record<string, number>;
  refused: Record<string, number>;
}

/** Everything the harness promised itself about one backend. */
export class Ledger {
  readonly intakes: Intake[] = [];
  readonly moves: AckedMove[] = [];
  /** DiagnosticReports answered 201. */
  readonly reports: string[] = [];
  readonly stats: Stats = { acked: {}, unacked: {}, refused: {} };
  readonly refusals: Record<string, number> = {};
  private acked: (() => void) | undefined;
  constructor(readonly random: () => number) {}

  count(kind: keyof Stats, what: string): void {
    this.stats[kind][what] = (this.stats[kind][what] ?? 0) + 1;
    if (kind === 'acked') this.acked?.();
  }

  /** Resolves at the next acknowledged write (or after `ms`): the service is up and writing. */
  nextAck(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.acked = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.acked = done;
    });
  }

  refusal(what: string, status: number | string, detail = ''): void {
    const k = `${what} ${status}${detail ? ` ${detail}` : ''}`.slice(0, 160);
    this.refusals[k] = (this.refusals[k] ?? 0) + 1;
    this.count('refused', what);
  }

  plan(): Plan {
    const r = this.random();
    return r < 0.7 ? 'complete' : r < 0.85 ? 'reject' : 'cancel';
  }

  /** After a kill: which unacknowledged intakes a client would send again (about half). */
  afterKill(): void {
    for (const i of this.intakes) {
      i.inFlight = false;
      i.busy = false;
      if (!i.acked) i.retry = this.random() < 0.5;
    }
  }

  /** Acknowledged cases not yet at the end of their plan. */
  openCases(): number {
    return this.intakes.filter((i) => i.acked && !i.done).length;
  }

  retryable(via: Intake['via'], requester: string): Intake | undefined {
    return this.intakes.find((i) => i.via === via && i.requester === requester && !i.acked && i.retry && !i.inFlight);
  }
}

export interface RoundContext {
  round: number;
  ledger: Ledger;
  as: Record<string, Client>;
  mllpPort: number;
  stopped: () => boolean;
  nhsPool: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** New intakes wait while this many cases are open, so the rounds move cases (and fill the outbox) too. */
const MAX_OPEN_CASES = 24;

/** Waits while enough cases are open; false when the round ended meanwhile. */
async function room(ctx: RoundContext): Promise<boolean> {
  while (!ctx.stopped() && ctx.ledger.openCases() >= MAX_OPEN_CASES) await sleep(25);
  return !ctx.stopped();
}

/** POST /eso/requests as RZ1: new requests, and now and then one left unacknowledged by a kill. */
export async function esoWriter(ctx: RoundContext): Promise<void> {
  const { ledger } = ctx;
  while (await room(ctx)) {
    let intake = ledger.random() < 0.4 ? ledger.retryable('eso', ESO_REQUESTER) : undefined;
    if (!intake) {
      const nhs = ctx.nhsPool[Math.floor(ledger.random() * ctx.nhsPool.length)];
      const payload = requestInput((r) => { r.child.nhsNumber = nhs; });
      intake = {
        via: 'eso', requester: ESO_REQUESTER, provider: ESO_PROVIDER, system: ESO_SYSTEM, requestId: payload.requestId.value,
        payload, acked: false, retry: false, inFlight: false, sends: 0, plan: ledger.plan(), busy: false, done: false,
      };
      ledger.intakes.push(intake);
    }
    intake.inFlight = true;
    intake.sends++;
    try {
      const res = await ctx.as[ESO_REQUESTER].call<{ task: Task; serviceRequest: ServiceRequest }>('POST', '/eso/requests', intake.payload);
      if (res.status === 200 || res.status === 201) {
        if (!intake.acked) ledger.count('acked', intake.sends > 1 ? 'eso-request (resent)' : 'eso-request');
        intake.acked = true;
        intake.taskId = res.body.task.id;
        intake.srId = res.body.serviceRequest.id;
      } else {
        ledger.refusal('eso-request', res.status, JSON.stringify(res.body).slice(0, 120));
      }
    } catch {
      ledger.count('unacked', 'eso-request');
      return; // the service is gone (or stuck): this writer is done for the round
    } finally {
      intake.inFlight = false;
    }
  }
}

/** REF^I12 over one MLLP connection per sender; an unacknowledged message is resent with the same MSH-10. */
export async function mllpWriter(ctx: RoundContext, sample: SampleName): Promise<void> {
  const { ledger } = ctx;
  const s = SAMPLES[sample];
  const peer = new MllpConnection(ctx.mllpPort, MLLP_TIMEOUT_MS);
  try {
    while (await room(ctx)) {
      let intake = ledger.random() < 0.4 ? ledger.retryable('mllp', s.requester) : undefined;
      if (!intake) {
        const fresh = freshSample(sample);
        intake = {
          via: 'mllp', requester: s.requester, provider: s.provider, system: requestSystem(s.requester), requestId: fresh.requestId,
          payload: fresh.text, controlId: fresh.controlId, sample, acked: false, retry: false, inFlight: false, sends: 0,
          plan: ledger.plan(), busy: false, done: false,
        };
        ledger.intakes.push(intake);
      }
      intake.inFlight = true;
      intake.sends++;
      try {
        const { code, ack } = await peer.send(intake.payload as string, intake.controlId!);
        if (code === 'AA') {
          if (!intake.acked) ledger.count('acked', intake.sends > 1 ? 'ref-i12 (resent)' : 'ref-i12');
          intake.acked = true;
        } else {
          ledger.refusal('ref-i12', code, ack.split('\r').find((l) => l.startsWith('MSA|')) ?? '');
        }
      } catch {
        ledger.count('unacked', 'ref-i12');
        return;
      } finally {
        intake.inFlight = false;
      }
    }
  } finally {
    await peer.close();
  }
}

/** The next move of a case in `status` under `plan`: who makes it and how. */
function nextMove(plan: Plan, status: Task['status']): { to: Task['status']; side: 'provider' | 'requester'; change: (t: Task) => void } | undefined {
  switch (status) {
    case 'requested':
      return { to: 'received', side: 'provider', change: (t) => { t.status = 'received'; t.businessStatus = step('received'); } };
    case 'received':
      if (plan === 'reject') return { to: 'rejected', side: 'provider', change: (t) => { t.status = 'rejected'; t.businessStatus = step('declined'); t.statusReason = { text: 'Outside our expertise' }; } };
      if (plan === 'cancel') return { to: 'cancelled', side: 'requester', change: (t) => { t.status = 'cancelled'; t.businessStatus = step('withdrawn'); t.statusReason = { text: 'The family withdrew the request' }; } };
      return { to: 'accepted', side: 'provider', change: (t) => { t.status = 'accepted'; t.businessStatus = step('accepted'); t.extension = [...(t.extension ?? []), declaration()]; } };
    case 'accepted':
      return { to: 'in-progress', side: 'provider', change: (t) => { t.status = 'in-progress'; t.businessStatus = step('records-review'); } };
    case 'in-progress':
      return { to: 'completed', side: 'provider', change: (t) => { t.status = 'completed'; t.businessStatus = step('report-issued'); } };
    default:
      return undefined;
  }
}

/** Finds the Task of an acknowledged REF^I12 (the ACK does not name it). */
async function resolveCase(ctx: RoundContext, c: Intake): Promise<void> {
  if (c.taskId && c.srId) return;
  const who = ctx.as[c.requester];
  const srs = await who.call('GET', `/fhir/ServiceRequest?identifier=${encodeURIComponent(`${c.system}|${c.requestId}`)}`);
  if (srs.status !== 200) throw new Error(`search ${srs.status}`);
  const sr = srs.body?.entry?.[0]?.resource as ServiceRequest | undefined;
  if (!sr) throw new Error(`acknowledged intake ${c.system}|${c.requestId} not found`);
  const tasks = await who.call('GET', `/fhir/Task?focus=${encodeURIComponent(`ServiceRequest/${sr.id}`)}`);
  if (tasks.status !== 200) throw new Error(`search ${tasks.status}`);
  const task = tasks.body?.entry?.[0]?.resource as Task | undefined;
  if (!task) throw new Error(`acknowledged intake ${c.system}|${c.requestId}: no Task`);
  c.srId = sr.id;
  c.taskId = task.id;
}

/** Moves acknowledged cases one step at a time (each case held by one worker at a time). */
export async function moveWriter(ctx: RoundContext, problems: string[]): Promise<void> {
  const { ledger } = ctx;
  while (!ctx.stopped()) {
    const open = ledger.intakes.filter((i) => i.acked && !i.busy && !i.done);
    if (open.length === 0) {
      await sleep(50);
      continue;
    }
    const c = open[Math.floor(ledger.random() * open.length)];
    c.busy = true;
    try {
      await resolveCase(ctx, c);
      const provider = ctx.as[c.provider];
      const current = await provider.call<Task>('GET', `/fhir/Task/${c.taskId}`);
      if (current.status !== 200) {
        ledger.refusal('task-read', current.status);
        continue;
      }
      const from = current.body.status;
      const move = nextMove(c.plan, from);
      if (!move) {
        c.done = true;
        continue;
      }
      const who = move.side === 'provider' ? provider : ctx.as[c.requester];
      let etag = current.etag ?? '';
      let base = current.body;
      if (move.side === 'requester') {
        const mine = await who.call<Task>('GET', `/fhir/Task/${c.taskId}`);
        if (mine.status !== 200 || mine.body.status !== from) continue;
        etag = mine.etag ?? '';
        base = mine.body;
      }
      const next = structuredClone(base);
      move.change(next);
      if (move.to === 'completed') {
        // The opinion first (its own write; an unacknowledged one leaves an unused report, which is fine).
        const sr = await provider.call<ServiceRequest>('GET', `/fhir/ServiceRequest/${c.srId}`);
        if (sr.status !== 200) { ledger.refusal('sr-read', sr.status); continue; }
        const dr = await provider.call<DiagnosticReport>('POST', '/fhir/DiagnosticReport', report(sr.body));
        if (dr.status !== 201) { ledger.refusal('report', dr.status, JSON.stringify(dr.body).slice(0, 120)); continue; }
        ledger.count('acked', 'report');
        ledger.reports.push(dr.body.id!);
        next.output = [{ type: { text: 'ESO report' }, valueReference: { reference: `DiagnosticReport/${dr.body.id}` } }];
      }
      const res = await who.call<Task>('PUT', `/fhir/Task/${c.taskId}`, next, { 'if-match': etag });
      if (res.status === 200) {
        const version = Number(res.body.meta?.versionId);
        if (!Number.isInteger(version)) problems.push(`PUT Task/${c.taskId} answered 200 without meta.versionId`);
        ledger.moves.push({ taskId: c.taskId!, from, to: move.to, version, by: who.ods, round: ctx.round });
        ledger.count('acked', `task ${move.to}`);
      } else {
        ledger.refusal(`task ${move.to}`, res.status, JSON.stringify(res.body).slice(0, 160));
      }
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      if (msg.startsWith('acknowledged intake')) problems.push(`round ${ctx.round}: ${msg}`);
      else ledger.count('unacked', 'task step');
      return;
    } finally {
      c.busy = false;
    }
  }
}
