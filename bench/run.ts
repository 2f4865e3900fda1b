/**
 * `npm run bench`: every figure beside a ceiling measured in the same run (or, where the aim is
 * absolute, beside that aim), then a markdown summary table of all rows.
 *   core    create/read/search Patient on eso-bridge vs a bare Express ceiling, with the Medplum
 *           router (MemoryRepository behind Express) as the peer, on each backend
 *   scale   Task?owner=&status= median at 10,000 and --tasks stored Tasks (SQLite; default 100,000,
 *           the aim is for 1,000,000: --tasks 1000000 seeds it in minutes)
 *   auth    token endpoint rate vs raw jose ES384 verify, and a read with vs without a token
 *   mllp    REF^I12 acknowledged AA after commit, 1 and 8 connections, vs a bare MLLP ACK server, on each backend
 *   start   `npm start` to ready on an existing database, and idle RSS, on each backend (absolute aims)
 *   load    `npm run test:load` on PostgreSQL vs SQLite (the same mix, --load-seconds each)
 * Options: --only core,scale,auth,mllp,start,load   --backend sqlite|postgres|both (default: both
 * when PostgreSQL answers at 127.0.0.1:5432)   --tasks 100000   --seconds 5   --load-seconds 10
 */
import { loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { benchAuthSection } from './auth-section.ts';
import { chooseBackends } from './backend.ts';
import { benchCore } from './core.ts';
import { benchLoadSection } from './load-section.ts';
import { benchMllpSection } from './mllp-section.ts';
import { skipped, summary } from './report.ts';
import { benchScale } from './scale.ts';
import { benchStartSection } from './start-section.ts';

const { values } = parseArgs({ options: {
  only: { type: 'string' }, tasks: { type: 'string' }, seconds: { type: 'string' }, backend: { type: 'string' }, 'load-seconds': { type: 'string' },
} });
const only = new Set((values.only ?? 'core,scale,auth,mllp,start,load').split(','));
const seconds = Number(values.seconds ?? 5);
const { backends, note } = await chooseBackends(values.backend);

const started = Date.now();
console.log(`eso-bridge bench — ${new Date().toISOString()} — ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`backends: ${note}`);
const sections: [string, () => Promise<void>][] = [
  ['core', () => benchCore(seconds, backends)],
  ['scale', () => benchScale(Number(values.tasks ?? 100_000))],
  ['auth', () => benchAuthSection(seconds)],
  ['mllp', () => benchMllpSection(seconds, backends)],
  ['start', () => benchStartSection(backends)],
  ['load', () => benchLoadSection(Number(values['load-seconds'] ?? 10), backends)],
];
for (const [name, section] of sections) {
  if (!only.has(name)) continue;
  // A section that fails is reported and the run goes on, so the summary still comes out.
  try { await section(); } catch (e) { skipped(`section ${name}`, '', (e as Error).message); }
}
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
console.log(`\n## Summary (npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''})\n`);
console.log(summary());
