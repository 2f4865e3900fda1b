/** Shared bench plumbing: child-process servers, autocannon runs, and figure formatting. */
import { fork, type ChildProcess } from 'node:child_process';
import autocannon from 'autocannon';

export interface Figure { rps: number; p50: number; p99: number; errors: number; non2xx: number }

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

export async function load(opts: autocannon.Options): Promise<Figure> {
  const r = await autocannon({ connections: 32, duration: 5, ...opts });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx };
}

export const fmt = (f: Figure) => `${f.rps.toFixed(0).padStart(6)} req/s  p50 ${String(f.p50).padStart(4)} ms  p99 ${String(f.p99).padStart(4)} ms${f.errors || f.non2xx ? `  errors ${f.errors} non-2xx ${f.non2xx}` : ''}`;
export const ratio = (a: Figure, b: Figure) => `${((a.rps / b.rps) * 100).toFixed(0)}% of ceiling`;
