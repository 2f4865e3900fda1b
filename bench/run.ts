/**
 * `npm run bench`: every figure beside a ceiling measured in the same run.
 *   core    create/read/search on eso-bridge vs a bare Express endpoint (SQLite)
 *   scale   owner+status search latency at 10,000 and 1,000,000 stored Tasks
 *   auth    token endpoint rate, and a read with vs without a token
 *   mllp    REF^I12 acknowledged AA after commit, 1 and 8 connections, vs a bare MLLP ACK server
 * Options: --only core,scale,auth,mllp   --tasks 1000000   --seconds 5
 */
import { loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { benchAuthSection } from './auth-section.ts';
import { benchCore } from './core.ts';
import { benchMllpSection } from './mllp-section.ts';
import { benchScale } from './scale.ts';

const { values } = parseArgs({ options: { only: { type: 'string' }, tasks: { type: 'string' }, seconds: { type: 'string' } } });
const only = new Set((values.only ?? 'core,scale,auth,mllp').split(','));
const seconds = Number(values.seconds ?? 5);

console.log(`eso-bridge bench — ${new Date().toISOString()} — ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
if (only.has('core')) await benchCore(seconds);
if (only.has('scale')) await benchScale(Number(values.tasks ?? 1_000_000));
if (only.has('auth')) await benchAuthSection(seconds);
if (only.has('mllp')) await benchMllpSection(seconds);
console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
