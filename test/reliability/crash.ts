/**
 * npm run test:crash [-- --kills N] [--backend sqlite|postgres|both] [--seed N] [--pair]
 * (--pair: the two-instance mode, crash-pair.ts)
 *
 * First kills the service three times while it starts on the empty database (loading, opening,
 * migrating). Then starts eso-bridge as a child process, drives writes over HTTP (POST /eso/requests, Task moves
 * that enqueue RRI^I12/ORU^R01) and MLLP (REF^I12), kills it with SIGKILL at seeded random points,
 * restarts it on the same data, and at the end checks from storage that every acknowledged write
 * (2xx, AA) is there exactly once, no partial transaction is visible (acknowledged or not), the
 * outbox resumed and delivered every message to the EPR stand-in (at least once, in order per
 * destination), and the database passes its integrity check. Exit 0 only when every check passes;
 * the last line is the verdict. The seed replays the kill points (delay after each round's first
 * acknowledged write) and the EPR outages; the workload's choices come from it too, but depend on
 * how the concurrent writers interleave.
 */
import { parseArgs } from 'node:util';
import type { Backend } from '../helpers/backends.ts';
import { postgresAvailable } from '../helpers/pg.ts';
import { closedPort, eprStandIn } from '../integration/hl7/harness.ts';
import { openStorage } from '../../src/storage/open.ts';
import { AuditTrail } from '../../src/audit/audit-trail.ts';
import { GroupCommit } from '../../src/audit/group-commit.ts';
import { loadConformance } from '../../src/fhir/conformance.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { startService, type ServiceProcess } from './service-process.ts';
import { runPair } from './crash-pair.ts';
import { createWorld } from './world.ts';
import { verify } from './crash-verify.ts';
import {
  clientOf, esoWriter, ESO_REQUESTER, Ledger, MLLP_SAMPLES, mllpWriter, moveWriter, nhsNumbers, rng, HTTP_TIMEOUT_MS, type Client, type RoundContext,
} from './crash-workload.ts';

const REQUESTERS = [ESO_REQUESTER, 'RA7', 'RGT', 'RTH'];
/** The kill comes this long (seeded) after the round's first acknowledged write (ms), so every round has writes in flight however slow the machine. */
const KILL_AFTER_MS: [number, number] = [0, 3500];
/** ... or this long after the start if nothing is acknowledged. */
const FIRST_ACK_TIMEOUT_MS = 15_000;
/** How long the final run may take to drain the outbox. */
const DRAIN_TIMEOUT_MS = 60_000;
const ESO_WRITERS = 2;
const MOVE_WRITERS = 8;

interface Options { kills: number; backends: Backend[]; seed: number; pair: boolean }

function options(): Options {
  const { values } = parseArgs({
    options: { kills: { type: 'string', default: '20' }, backend: { type: 'string', default: 'both' }, seed: { type: 'string' }, pair: { type: 'boolean', default: false } },
    allowPositionals: false,
  });
  const kills = Number(values.kills);
  if (!Number.isInteger(kills) || kills < 1) throw new Error(`--kills must be a whole number of at least 1 (got ${values.kills})`);
  const backends: Backend[] = values.backend === 'both' ? ['sqlite', 'postgres'] : values.backend === 'sqlite' || values.backend === 'postgres' ? [values.backend] : [];
  if (!backends.length) throw new Error(`--backend must be sqlite, postgres or both (got ${values.backend})`);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a whole number (got ${values.seed})`);
  return { kills, backends, seed, pair: values.pair === true };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (o: Record<string, number | string>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';

/** Kills while starting, before the rounds: this long (seeded) after the spawn (ms). */
const START_KILLS = 3;
const START_KILL_MS = [300, 4000] as const;

/** Starts the service and SIGKILLs it `afterMs` later, whether or not it is listening by then. */
async function killDuringStart(env: Record<string, string>, afterMs: number): Promise<'before listening' | 'after listening'> {
  try {
    // startService SIGKILLs the child itself when it is not listening within the time limit.
    const svc = await startService(env, { timeoutMs: afterMs });
    await svc.kill();
    return 'after listening';
  } catch {
    await sleep(300); // the killed child releases its ports
    return 'before listening';
  }
}

interface BackendResult { backend: Backend; ok: boolean; summary: string }

async function runBackend(backend: Backend, kills: number, seed: number): Promise<BackendResult> {
  const started = Date.now();
  // Two streams: the kill points and EPR outages stay the same for a seed however the concurrent writers interleave.
  const random = rng(seed);
  const ledger = new Ledger(rng(seed ^ 0x5bd1e995));
  const problems: string[] = [];
  const world = await createWorld(backend);
  // One EPR stand-in for every requesting Trust, on a fixed port so it can be down for a while and come back.
  const epr = eprStandIn('AA');
  const eprPort = await closedPort();
  await epr.listen(eprPort);
  let eprUp = true;
  let eprOutages = 0;
  // Fixed ports: the clients (and their cached tokens: the signing keys live in the data dir) outlive the process.
  const httpPort = await closedPort();
  let mllpPort = await closedPort();
  while (mllpPort === httpPort || mllpPort === eprPort) mllpPort = await closedPort();
  const env = {
    ...world.env,
    PORT: String(httpPort),
    MLLP_PORT: String(mllpPort),
    ESO_OUTBOX_ENABLED: 'true',
    ESO_EPR_ENDPOINTS: REQUESTERS.map((ods) => `${ods}=127.0.0.1:${eprPort}`).join(','),
    ESO_OUTBOX_POLL_MS: '50',
    ESO_OUTBOX_CONNECT_TIMEOUT_MS: '500',
    ESO_OUTBOX_ANSWER_TIMEOUT_MS: '1000',
    ESO_OUTBOX_LEASE_MS: '2000',
    ESO_OUTBOX_BACKOFF_BASE_MS: '100',
    ESO_OUTBOX_BACKOFF_CAP_MS: '1000',
  };
  const restarts: number[] = [];
  const start = async (): Promise<ServiceProcess> => {
    const t = Date.now();
    const svc = await startService(env, { timeoutMs: 60_000 });
    restarts.push(Date.now() - t);
    return svc;
  };
  const nhsPool = nhsNumbers(6);
  let keep = false;
  let svc: ServiceProcess | undefined;
  let as: Record<string, Client> = {};
  try {
    log(`crash[${backend}]: ${kills} kills, seed ${seed}, data ${backend === 'postgres' ? world.env.DATABASE_URL : world.dataDir}`);
    // First, SIGKILLs while the service starts on the empty database (loading, opening, migrating):
    // a start cut short must leave a database the next start opens and migrates.
    const duringStart: string[] = [];
    for (let i = 0; i < START_KILLS; i++) {
      const after = Math.round(START_KILL_MS[0] + random() * (START_KILL_MS[1] - START_KILL_MS[0]));
      duringStart.push(`${after} ms: ${await killDuringStart(env, after)}`);
    }
    log(`crash[${backend}]: ${START_KILLS} kills while starting (${duringStart.join(', ')})`);
    for (let round = 1; round <= kills; round++) {
      // Now and then the EPR is down for a round: messages wait (backoff) and must go later.
      const wantUp = random() >= 0.15;
      if (wantUp !== eprUp) {
        if (wantUp) await epr.listen(eprPort); else { await epr.close(); eprOutages++; }
        eprUp = wantUp;
      }
      svc = await start();
      if (round === 1) {
        await world.setUpDirectory(svc.url);
        const url = svc.url;
        as = Object.fromEntries(Object.entries(world.parties(url)).map(([ods, p]) => [ods, clientOf(p, url)]));
      }
      let stopped = false;
      const ctx: RoundContext = { round, ledger, as, mllpPort: svc.mllpPort!, stopped: () => stopped, nhsPool };
      const firstAck = ledger.nextAck(FIRST_ACK_TIMEOUT_MS);
      const writers = [
        ...Array.from({ length: ESO_WRITERS }, () => esoWriter(ctx)),
        ...MLLP_SAMPLES.map((s) => mllpWriter(ctx, s)),
        ...Array.from({ length: MOVE_WRITERS }, () => moveWriter(ctx, problems)),
      ];
      const killAfter = Math.round(KILL_AFTER_MS[0] + random() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]));
      await firstAck;
      await sleep(killAfter);
      await svc.kill();
      stopped = true;
      await Promise.all(writers);
      ledger.afterKill();
      svc = undefined;
      log(`crash[${backend}]: kill ${round}/${kills} ${killAfter} ms after the first acknowledgement (restart ${restarts[restarts.length - 1]} ms, EPR ${eprUp ? 'up' : 'down'}); acknowledged so far: ${fmt(ledger.stats.acked)}`);
    }

    // The final run: the EPR is up, the outbox must drain (resume what the kills left pending or leased).
    if (!eprUp) { await epr.listen(eprPort); eprUp = true; }
    svc = await start();
    const pendingAt = async () => {
      let n = 0;
      for (const ods of REQUESTERS) {
        const res = await as[ods].call<{ messages: unknown[] }>('GET', '/admin/outbox?status=pending&limit=1000');
        if (res.status !== 200) throw new Error(`GET /admin/outbox as ${ods}: ${res.status}`);
        n += res.body.messages.length;
      }
      return n;
    };
    const pendingAtRestart = await pendingAt();
    const drainStart = Date.now();
    let pending = pendingAtRestart;
    while (pending > 0 && Date.now() - drainStart < DRAIN_TIMEOUT_MS) {
      await sleep(200);
      pending = await pendingAt();
    }
    const drainMs = Date.now() - drainStart;
    if (pending > 0) problems.push(`the outbox did not drain in ${DRAIN_TIMEOUT_MS} ms after the final restart: ${pending} pending`);
    await sleep(300); // a message in flight when the last row was marked has arrived by now
    const stopped = await Promise.race([svc.stop().then(() => true), sleep(30_000).then(() => false)]);
    if (!stopped) problems.push('the service did not stop within 30 s of SIGTERM');
    await svc.kill();
    svc = undefined;

    const storage = await openStorage({ databaseUrl: world.env.DATABASE_URL, dataDir: world.dataDir });
    let verdict;
    try {
      // What the next start would do first: store the audit journal's entries (committed, maybe not yet stored when killed).
      await new AuditTrail({ storage, commit: new GroupCommit(storage), baseUrl: () => 'http://eso.test', fhirBase: () => 'http://eso.test/fhir',
        searchParams: loadConformance().searchParams, log: createLogger('silent') }).close();
      verdict = await verify(storage, ledger, epr.received);
    } finally {
      await storage.close();
    }
    problems.push(...verdict.problems);

    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const sorted = [...restarts].sort((a, b) => a - b);
    log(`crash[${backend}]: kills ${kills}, seed ${seed}, ${secs} s`);
    log(`crash[${backend}]:   acknowledged writes: ${fmt(ledger.stats.acked)}`);
    log(`crash[${backend}]:   unacknowledged attempts (in flight at a kill): ${fmt(ledger.stats.unacked)}`);
    log(`crash[${backend}]:   answered but refused: ${fmt(ledger.refusals)}`);
    log(`crash[${backend}]:   storage: ${fmt(verdict.facts)}`);
    log(`crash[${backend}]:   outbox: ${pendingAtRestart} pending at the final restart, drained in ${drainMs} ms; EPR down for ${eprOutages} outage(s)`);
    log(`crash[${backend}]:   restart ms: min ${sorted[0]}, median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted[sorted.length - 1]} (${restarts.length} starts)`);
    for (const p of problems.slice(0, 50)) log(`crash[${backend}]:   PROBLEM ${p}`);
    if (problems.length > 50) log(`crash[${backend}]:   ... ${problems.length - 50} more problems`);
    const acked = Object.values(ledger.stats.acked).reduce((s, n) => s + n, 0);
    if (acked < kills) problems.push(`too few acknowledged writes to mean anything (${acked})`);
    keep = problems.length > 0;
    if (keep) log(`crash[${backend}]:   data kept for inspection: ${backend === 'postgres' ? world.env.DATABASE_URL : world.dataDir}`);
    const summary = `${backend}: ${problems.length ? `${problems.length} problem(s)` : 'ok'} (${kills} kills, ${acked} acknowledged writes, ${verdict.facts['outbox rows']} outbox rows, ${verdict.facts['duplicate receipts']} duplicate receipts)`;
    log(`crash[${backend}]: ${problems.length ? 'FAIL' : 'PASS'} ${summary}`);
    return { backend, ok: problems.length === 0, summary };
  } catch (e) {
    keep = true;
    const msg = e instanceof Error ? e.stack ?? e.message : String(e);
    log(`crash[${backend}]: ERROR ${msg}`);
    return { backend, ok: false, summary: `${backend}: error: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    if (svc) await svc.kill();
    await epr.close();
    if (!keep) await world.cleanup();
  }
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = options();
  } catch (e) {
    log(`crash: FAIL ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  const t0 = Date.now();
  log(`crash: seed ${o.seed} (replay with --seed ${o.seed}), ${o.kills} kills per backend, backends ${o.backends.join(', ')}; request timeout ${HTTP_TIMEOUT_MS} ms`);
  const results: BackendResult[] = [];
  for (const backend of o.backends) {
    if (backend === 'postgres' && !(await postgresAvailable())) {
      results.push({ backend, ok: false, summary: 'postgres: unreachable (TEST_POSTGRES_URL or 127.0.0.1:5432)' });
      log('crash[postgres]: FAIL PostgreSQL is unreachable');
      continue;
    }
    // --pair: two instances carrying cases to each other (issue 16), crash-pair.ts.
    results.push(o.pair ? { backend, ...(await runPair(backend, o.kills, o.seed, log)) } : await runBackend(backend, o.kills, o.seed));
  }
  const ok = results.every((r) => r.ok);
  log(`crash: ${ok ? 'PASS' : 'FAIL'} seed ${o.seed}, ${((Date.now() - t0) / 1000).toFixed(1)} s; ${results.map((r) => r.summary).join('; ')}`);
  return ok ? 0 : 1;
}

process.exit(await main());
