/** Shared bench plumbing: child-process servers, autocannon runs, figure formatting, and CPU time from /proc. */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';

export interface Figure {
  rps: number; p50: number; p99: number; errors: number; non2xx: number;
  /** CPU (user + system) the server process used per answered request, µs, from /proc. */
  cpuUs?: number;
  /** The same for the local PostgreSQL server's processes, when asked for. */
  pgCpuUs?: number;
}

/** Whose CPU a load measures: the server's process, and PostgreSQL's when the server uses it. */
export interface Watched { pid?: number; postgres?: boolean }

export async function startChild(script: string, env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(script, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port));
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
  return { child, port };
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}

export async function load(opts: autocannon.Options, watched: Watched = {}): Promise<Figure> {
  const before = { server: cpuMsOf(watched.pid), pg: watched.postgres ? postgresCpuMs() : undefined };
  const r = await autocannon({ connections: 32, duration: 5, ...opts });
  const after = { server: cpuMsOf(watched.pid), pg: watched.postgres ? postgresCpuMs() : undefined };
  const answered = r.requests.total;
  const perRequest = (a?: number, b?: number) => (a !== undefined && b !== undefined && answered ? ((b - a) * 1000) / answered : undefined);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx,
    cpuUs: perRequest(before.server, after.server), pgCpuUs: perRequest(before.pg, after.pg) };
}

/** 'CPU 350 µs/req' (and PostgreSQL's), or empty where /proc is not there. */
export const cpuText = (f: Figure) => (f.cpuUs === undefined ? '' : `CPU ${perReq(f.cpuUs)}${f.pgCpuUs === undefined ? '' : ` + PostgreSQL ${perReq(f.pgCpuUs)}`}`);
/** µs per request, in ms from 10 ms up (a peer that answered a handful of slow searches). */
const perReq = (us: number) => (us >= 10_000 ? `${(us / 1000).toFixed(0)} ms/req` : `${us.toFixed(0)} µs/req`);

export const fmt = (f: Figure) => `${f.rps.toFixed(0).padStart(6)} req/s  p50 ${String(f.p50).padStart(4)} ms  p99 ${String(f.p99).padStart(4)} ms${f.cpuUs === undefined ? '' : `  ${cpuText(f)}`}${f.errors || f.non2xx ? `  errors ${f.errors} non-2xx ${f.non2xx}` : ''}`;
export const ratio = (a: Figure, b: Figure) => `${((a.rps / b.rps) * 100).toFixed(0)}% of ceiling`;

/** CPU time (user + system, ms) a process has used, from /proc (Linux); undefined where there is no /proc. */
export function cpuMsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms (USER_HZ 100)
  } catch {
    return undefined;
  }
}

/** CPU time (ms) used by every process named postgres on this machine (the local server's backends). */
export function postgresCpuMs(): number | undefined {
  try {
    let total = 0;
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'postgres') total += cpuMsOf(Number(d)) ?? 0;
      } catch { /* gone meanwhile */ }
    }
    return total;
  } catch {
    return undefined;
  }
}
