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
 * The exit code is 0 only on PASS (1 on FAIL, 130 when interrupted); the last line is the verdict.
 * Every way out (PASS, FAIL, the watchdog, Ctrl-C) stops the service and removes its data directory
 * or database, then prints the verdict. Ctrl-C stops the load (the service, in the same process
 * group, gets the SIGINT too and stops by itself) and ends with `load: FAIL interrupted`.
 *
 * The workers are in test/reliability/load-workers.ts.
 */
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { registerClient } from '../helpers/auth.ts';
import type { Backend } from '../helpers/backends.ts';
import { closeConnections, connections, ledger, LOAD_CLIENTS, loadContext, runLoad, sleep, stats, stopLoad, type LoadKeys, type LoadOds, type WorkerKind } from './load-workers.ts';
import { machine, table } from './load-stats.ts';
import { verify } from './load-verify.ts';
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

const SHARES: Record<WorkerKind, number> = { eso: 0.3, poll: 0.25, update: 0.15, token: 0.1, mllp: 0.2 };

/** Largest remainder, at least one worker of each kind. */
function split(total: number): Record<WorkerKind, number> {
  const kinds = Object.keys(SHARES) as WorkerKind[];
  const n = Object.fromEntries(kinds.map((k) => [k, Math.max(1, Math.floor(total * SHARES[k]))])) as Record<WorkerKind, number>;
  const byRemainder = [...kinds].sort((a, b) => ((total * SHARES[b]) % 1) - ((total * SHARES[a]) % 1));
  for (let i = 0; Object.values(n).reduce((a, b) => a + b, 0) < total; i++) n[byRemainder[i % kinds.length]]++;
  return n;
}

// ---------------------------------------------------------------------------------------------
// State of a run, for every way out

let world: World | undefined;
let svc: ServiceProcess | undefined;
let logs: ReturnType<typeof watchLogs> | undefined;
/** Set on SIGINT. */
let interrupted = false;
/** Set when the service exits by itself during the run. */
let died: string | undefined;
/** Set once the harness stops the service itself (its exit is then expected). */
let stopping = false;
/** Set once a way out has been taken (the first one prints the verdict). */
let ending = false;
const failures: string[] = [];
const harnessErrors: string[] = [];

/** Thrown between set-up steps once interrupted. */
const halt = () => {
  if (interrupted) throw new Error('interrupted');
};

// ---------------------------------------------------------------------------------------------
// The run

/** Counts the service's error and fatal log lines (pino JSON on stdout). */
function watchLogs(proc: ServiceProcess): { errors: () => number; samples: string[] } {
  let errors = 0;
  const samples: string[] = [];
  let partial = '';
  proc.child.stdout!.on('data', (d) => {
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

let tornDown: Promise<void> | undefined;
/** Stops the load and the service, removes the data directory or database: once, whichever way out comes first. */
function tearDown(): Promise<void> {
  tornDown ??= (async () => {
    stopping = true;
    stopLoad();
    await closeConnections();
    if (svc && !died) {
      const stopped = await Promise.race([svc.stop().then(() => true), sleep(20_000).then(() => false)]);
      if (!stopped) {
        failures.push('the service did not stop within 20 s of SIGTERM');
        await svc.kill();
      }
      const code = await svc.exited;
      console.log(`service stopped${svc.child.signalCode === 'SIGKILL' ? ' (SIGKILL)' : interrupted ? '' : ' (SIGTERM)'}: exit code ${code}`);
      if (stopped && code !== 0) failures.push(`the service exited ${code} on SIGTERM`);
    }
    if (logs) {
      console.log(`service log: ${logs.errors()} error lines${logs.samples.length ? `, e.g.\n${logs.samples.map((s) => `  ${s}`).join('\n')}` : ''}`);
    }
    await world?.cleanup().catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
  })();
  return tornDown;
}

/** The verdict line, and the exit. */
function end(code: number, verdict: string): never {
  console.log(`machine at end: ${machine()}`);
  console.log(verdict);
  process.exit(code);
}

/** A way out when the run does not finish by itself: kill the service, clean up (at most a minute), FAIL. */
async function forceEnd(reason: string, code: number): Promise<void> {
  if (ending) return;
  ending = true;
  console.log(`\n${reason}: killing the service and cleaning up`);
  stopping = true;
  svc?.child.kill('SIGKILL');
  await Promise.race([tearDown(), sleep(60_000)]);
  end(code, `load: FAIL ${reason}`);
}

async function main(): Promise<void> {
  const workers = split(CONCURRENCY);
  console.log(`load: ${SECONDS} s at concurrency ${CONCURRENCY} on ${BACKEND} (timeout ${TIMEOUT_MS} ms per request)`);
  console.log(`workers: ${Object.entries(workers).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(`machine at start: ${machine()}`);

  let verdictDetail = '';
  try {
    world = await createWorld(BACKEND);
    halt();
    // The load's own clients (its own keys, so every request can have its own time limit).
    const clientsDir = dirname(world.env.ESO_CLIENTS_FILE);
    const keys = {} as LoadKeys;
    // One at a time: each registration rewrites the clients file.
    for (const [ods, clientId] of Object.entries(LOAD_CLIENTS) as [LoadOds, string][]) keys[ods] = await registerClient(clientsDir, { clientId, organization: ods });
    halt();
    const s = svc = await startService(world.env);
    logs = watchLogs(s);
    void s.exited.then((code) => {
      if (stopping || interrupted) return; // a Ctrl-C reaches the service too: it stops by itself
      died = `the service exited by itself (code ${code}, signal ${s.child.signalCode ?? 'none'})`;
      stopLoad();
      console.log(`\n${died}: stopping the load`);
    });
    if (!s.mllpPort) throw new Error('the service started without its MLLP listener');
    halt();
    await world.setUpDirectory(s.url);
    const ctx = await loadContext(keys, s.url, s.mllpPort, TIMEOUT_MS);
    halt();
    console.log(`service: pid ${s.pid}, ${s.url}, MLLP port ${s.mllpPort}`);

    // The timed phase.
    const started = performance.now();
    const progress = setInterval(() => {
      const n = Object.values(stats).reduce((a, st) => a + st.requests, 0);
      const errs = Object.values(stats).reduce((a, st) => a + st.errorCount, 0);
      console.log(`  ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s  ${n} requests, ${errs} errors`);
    }, 10_000);
    // Each worker stops at the end (or on a stop) and finishes its request in flight.
    await runLoad(ctx, workers, SECONDS, (kind, e) => { harnessErrors.push(`${kind}: ${(e as Error)?.stack ?? String(e)}`); });
    clearInterval(progress);
    const elapsed = (performance.now() - started) / 1000;
    const total = Object.values(stats).reduce((a, st) => a + st.requests, 0);
    await closeConnections();
    const noAnswers = Object.values(stats).reduce((a, st) => a + [...st.errors.keys()].filter((k) => k === 'timeout' || k.startsWith('network')).reduce((x, k) => x + st.errors.get(k)!, 0), 0);
    // A request that timed out on our side may still be committing on the service's.
    if (noAnswers && !interrupted && !died) await sleep(Math.min(TIMEOUT_MS, 10_000));

    console.log(`\nload phase: ${elapsed.toFixed(1)} s`);
    console.log(table(Object.values(stats), elapsed));
    for (const st of Object.values(stats)) for (const line of st.samples) console.log(`  ${st.name}: ${line}`);
    console.log(`MLLP connections opened: ${connections.reduce((a, c) => a + c.connects, 0)} for ${connections.length} workers`);
    console.log(`machine after load: ${machine()}`);

    // The check (against a running service only).
    if (died) failures.push(died);
    else if (!interrupted) {
      const v0 = performance.now();
      const result = await verify(ledger, ctx.clients, ctx.clients.RZ2NP);
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
    if (!interrupted) {
      failures.push(`harness: ${(e as Error)?.message ?? String(e)}`);
      console.error((e as Error)?.stack ?? e);
    }
  } finally {
    await tearDown();
  }
  if (ending) return; // the watchdog got there first and gives the verdict
  ending = true;
  for (const h of harnessErrors) { console.error(h); failures.push('harness error'); }
  if (interrupted) end(130, 'load: FAIL interrupted');
  end(failures.length ? 1 : 0, failures.length ? `load: FAIL ${verdictDetail ? `${verdictDetail}; ` : ''}${failures.join(', ')}`
    : `load: PASS ${verdictDetail}, every one stored exactly once; zero 5xx, timeouts and network errors`);
}

process.on('SIGINT', () => {
  if (interrupted) return; // npm and tsx pass the terminal's SIGINT on: once is enough
  interrupted = true;
  stopLoad();
  console.log('\ninterrupted: stopping the load');
  // Requests in flight end within their time limit; if the run still hangs, force the way out.
  setTimeout(() => void forceEnd('interrupted', 130), TIMEOUT_MS + 10_000);
});
setTimeout(() => void forceEnd(`the run did not finish within ${(WATCHDOG_MS / 1000).toFixed(0)} s`, 1), WATCHDOG_MS);
await main();
