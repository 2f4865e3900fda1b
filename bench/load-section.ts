/**
 * The `test:load` row: the same mixed load (test/reliability/load.ts) for `seconds` on SQLite and
 * then on PostgreSQL, each in its own process as `npm run test:load -- --seconds N --backend X`
 * runs it; the throughput is the 'all' row's per-second figure of its table. SQLite's figure is
 * the ceiling of PostgreSQL's (aim: PostgreSQL ≥ SQLite, a ratio ≥ 1).
 */
import { spawn } from 'node:child_process';
import type { Backend } from './backend.ts';
import { record, skipped } from './report.ts';

const root = new URL('..', import.meta.url).pathname;

async function loadRun(backend: Backend, seconds: number): Promise<{ perSecond: number; verdict: string }> {
  const child = spawn('npm', ['run', 'test:load', '--silent', '--', '--seconds', String(seconds), '--backend', backend], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  await new Promise((r) => child.once('exit', r));
  const all = /^all\s+(\d+)\s+([\d.]+)/m.exec(out);
  const verdict = out.trim().split('\n').pop() ?? '';
  if (!all) throw new Error(`no 'all' row in its output (last line: ${verdict})`);
  return { perSecond: Number(all[2]), verdict };
}

export async function benchLoadSection(seconds: number, backends: Backend[]): Promise<void> {
  console.log(`\n== test:load: the reliability load mix for ${seconds} s on SQLite, then on PostgreSQL (npm run test:load -- --seconds ${seconds} --backend …)`);
  if (!backends.includes('postgres')) { skipped('test:load PostgreSQL vs SQLite', '', 'PostgreSQL not in this run'); return; }
  try {
    const sqlite = await loadRun('sqlite', seconds);
    console.log(`  sqlite   ${sqlite.perSecond} req/s  (${sqlite.verdict})`);
    const pg = await loadRun('postgres', seconds);
    console.log(`  postgres ${pg.perSecond} req/s  (${pg.verdict})`);
    record({ name: 'test:load on PostgreSQL vs SQLite (same mix)', backend: 'postgres', value: pg.perSecond, unit: 'req/s',
      ceiling: { value: sqlite.perSecond, unit: 'req/s', what: 'the same mix on SQLite' }, aim: { kind: 'ratio', value: 1 },
      note: /PASS/.test(sqlite.verdict) && /PASS/.test(pg.verdict) ? undefined : `verdicts: sqlite '${sqlite.verdict}', postgres '${pg.verdict}'` });
  } catch (e) {
    skipped('test:load PostgreSQL vs SQLite', '', (e as Error).message);
  }
}
