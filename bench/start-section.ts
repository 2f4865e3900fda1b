/**
 * Start to ready and idle memory of the service as operators run it: `npm start` (scripts/start.mjs,
 * which imports the compiled dist/main.js in-process) on an existing database. The bench runs
 * `npm run build` once, starts the service once to create and migrate the database, stops it, then
 * times `runs` starts: spawn → first 200 from GET /readyz (polled every 10 ms). The same is timed
 * for `node scripts/start.mjs` without npm, for what npm itself adds. After the last start the
 * service idles ~3 s and the RSS of the node process that listens (VmRSS in /proc/<pid>/status) is
 * read. Both aims (1 s, 120 MB) are absolute: there is no ceiling for them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { type Backend, scratch } from './backend.ts';
import { record } from './report.ts';

const root = new URL('..', import.meta.url).pathname;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const addr = srv.address();
  await new Promise((r) => srv.close(r));
  return typeof addr === 'object' && addr ? addr.port : 0;
}

/** The pids below `pid` (itself first), from /proc/<pid>/task/<pid>/children. */
function tree(pid: number): number[] {
  let kids: number[] = [];
  try { kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { /* gone */ }
  return [pid, ...kids.flatMap(tree)];
}

/** The node process running scripts/start.mjs (npm start spawns it, possibly through sh). */
function serverPid(pid: number): number | undefined {
  return tree(pid).find((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('scripts/start.mjs') && readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'node'; } catch { return false; } });
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

interface Started { child: ChildProcess; ms: number; stop: () => Promise<void> }

async function start(command: string[], env: Record<string, string>, port: number): Promise<Started> {
  const t0 = performance.now();
  // Own process group, so the stop reaches npm's child too.
  const child = spawn(command[0], command.slice(1), { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) { try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* gone */ } }
    const kill = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 10_000);
    await exited;
    clearTimeout(kill);
  };
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command.join(' ')} exited ${child.exitCode}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
    if (performance.now() - t0 > 60_000) { await stop(); throw new Error(`${command.join(' ')}: not ready after 60 s`); }
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.status === 200) return { child, ms: performance.now() - t0, stop };
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchStartSection(backends: Backend[], runs = 3): Promise<void> {
  console.log(`\n== start: \`npm start\` (compiled dist/) to the first 200 from /readyz on an existing database, median of ${runs}; RSS of the server process after ~3 s idle`);
  const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('npm run build failed');
  for (const backend of backends) {
    const s = await scratch(backend, 'eso-bench-start-');
    try {
      const port = await freePort();
      const env = { ...s.env, HOST: '127.0.0.1', PORT: String(port), MLLP_PORT: '0', LOG_LEVEL: 'warn', ESO_OUTBOX_ENABLED: 'false' };
      const first = await start(['npm', 'start', '--silent'], env, port); // creates and migrates the database
      await first.stop();
      const npmTimes: number[] = [];
      const nodeTimes: number[] = [];
      let rss = Number.NaN;
      for (let i = 0; i < runs; i++) {
        const n = await start([process.execPath, join(root, 'scripts', 'start.mjs')], env, port);
        nodeTimes.push(n.ms);
        await n.stop();
        const st = await start(['npm', 'start', '--silent'], env, port);
        npmTimes.push(st.ms);
        if (i === runs - 1) {
          await new Promise((r) => setTimeout(r, 3000));
          const pid = serverPid(st.child.pid!);
          rss = pid ? rssMb(pid) : Number.NaN;
        }
        await st.stop();
      }
      console.log(`  [${backend}] npm start: ${npmTimes.map((t) => t.toFixed(0)).join(', ')} ms; node scripts/start.mjs: ${nodeTimes.map((t) => t.toFixed(0)).join(', ')} ms`);
      record({ name: 'start to ready (npm start, existing database)', backend, value: median(npmTimes) / 1000, unit: 's', aim: { kind: 'max', value: 1 },
        note: `median of ${runs}; node scripts/start.mjs without npm: ${(median(nodeTimes) / 1000).toFixed(2)} s` });
      record({ name: 'idle memory of the service process (RSS)', backend, value: rss, unit: 'MB', aim: { kind: 'max', value: 120 }, note: 'VmRSS of the node process that listens, ~3 s after ready' });
    } finally {
      await s.cleanup();
    }
  }
}
