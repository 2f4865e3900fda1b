/**
 * `npm run bench -- --only mllp`: REF^I12 messages per second acknowledged AA (sent only after
 * intake has committed) through the real server, eso-bridge on each backend in a child process
 * (bench/eso-mllp-server.ts), over 1 and over 8 connections, one message in flight per
 * connection. Each figure is printed beside bareMllpCeiling (bench/mllp.ts) measured in the same
 * run with the same traffic. Every message has its own MSH-10 and RF1-6 (benchMessage), so each
 * is a new case; only AA answers count, and everything else is reported by kind. Over 8
 * connections it runs twice: every referral about the sample's one child (the worst case: intakes
 * for one child are serialised by its lock), and every referral about a child of its own (PID-3
 * with its own NHS number: a new Patient and family each time, as a Trust's feed mostly is).
 */
import { performance } from 'node:perf_hooks';
import { MllpClient, MllpClientError } from '../src/hl7/mllp-client.ts';
import { type Backend, scratch } from './backend.ts';
import { cpuMsOf, postgresCpuMs, startChild, stopChild } from './harness.ts';
import { bareMllpCeiling, benchMessage, type MllpBenchResult } from './mllp.ts';
import { record, skipped } from './report.ts';

const here = (f: string) => new URL(f, import.meta.url).pathname;

interface Drive extends MllpBenchResult {
  accepted: number;
  /** Answers other than AA, and send failures, counted by kind. */
  errors: Record<string, number>;
  /** The MSA and ERR segments of the first answer other than AA. */
  sample?: string;
}

/** The kind of a non-AA answer: its MSA-1 and, when present, its table 0357 code (ERR-3 or ERR-1). */
function kindOf(ack: string): string {
  const lines = ack.split(/\r\n|\r|\n/);
  const msa = lines.find((l) => l.startsWith('MSA|'))?.split('|') ?? [];
  const err = lines.find((l) => l.startsWith('ERR|'))?.split('|') ?? [];
  const code = err[3]?.split('^')[0] || err[1]?.split('^')[3]?.split('&')[0];
  return `${msa[1] || 'no MSA'}${code ? ` ${code}` : ''}`;
}

/** `connections` clients, each sending one message at a time to 127.0.0.1:`port` until `seconds` have passed. */
async function drive(port: number, seconds: number, connections: number, tag: string, children?: { next: number }): Promise<Drive> {
  const run = `${tag}${(Date.now() % 36 ** 5).toString(36)}`.toUpperCase();
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let sample: string | undefined;
  const clients = Array.from({ length: connections }, () => new MllpClient({ host: '127.0.0.1', port, answerTimeoutMs: 30_000 }));
  const started = performance.now();
  const deadline = started + seconds * 1000;
  try {
    await Promise.all(clients.map(async (client, c) => {
      for (let i = 0; performance.now() < deadline; i++) {
        // Well under 20 characters (MSH-10 is ST(20) up to v2.4): tag and run (at most 6), connection (1), counter.
        const id = `${run}${c.toString(36)}${i.toString(36)}`.toUpperCase();
        const t0 = performance.now();
        try {
          const ack = await client.send(benchMessage(id, children ? children.next++ : undefined));
          if (/\rMSA\|AA\|/.test(ack)) latencies.push(performance.now() - t0);
          else {
            errors[kindOf(ack)] = (errors[kindOf(ack)] ?? 0) + 1;
            sample ??= ack.split(/\r\n|\r|\n/).filter((l) => /^(MSA|ERR)\|/.test(l)).join(' ');
          }
        } catch (e) {
          const kind = e instanceof MllpClientError ? e.code : e instanceof Error ? e.name : 'error';
          errors[kind] = (errors[kind] ?? 0) + 1;
        }
      }
    }));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] * 100) / 100 : 0);
  return { messagesPerSecond: Math.round(latencies.length / elapsed), p50ms: pct(0.5), p99ms: pct(0.99), accepted: latencies.length, errors, sample };
}

/** 'server 10.2 ms CPU per referral' (and PostgreSQL's), from /proc; empty where there is none or nothing was accepted. */
function cpuPerReferral(before: { server?: number; pg?: number }, after: { server?: number; pg?: number }, accepted: number): string {
  if (!accepted || before.server === undefined || after.server === undefined) return '';
  const per = (a: number, b: number) => ((b - a) / accepted).toFixed(1);
  const pg = before.pg !== undefined && after.pg !== undefined ? `, PostgreSQL ${per(before.pg, after.pg)} ms` : '';
  return `CPU per referral: server ${per(before.server, after.server)} ms${pg}`;
}

/** The issue's aim, msg/s; the server's one main thread then has 1000 / AIM ms of CPU per referral. */
const AIM = 300;

const fmt = (r: MllpBenchResult) => `${String(r.messagesPerSecond).padStart(6)} msg/s  p50 ${r.p50ms.toFixed(1).padStart(6)} ms  p99 ${r.p99ms.toFixed(1).padStart(6)} ms`;
const errorsText = (e: Record<string, number>) => {
  const kinds = Object.entries(e);
  return kinds.length ? `errors: ${kinds.map(([k, n]) => `${k} ×${n}`).join(', ')}` : 'errors: none';
};

export async function benchMllpSection(seconds: number, backends: Backend[]): Promise<void> {
  console.log(`\n== mllp: REF^I12 (v2.5.1 sample, 1.7 kB) acknowledged AA after commit, eso-bridge on ${backends.join(', ')} (child process) vs a bare MLLP ACK server (in process), one message in flight per connection`);
  for (const backend of backends) {
    const s = await scratch(backend, 'eso-bench-mllp-');
    try {
      const eso = await startChild(here('./eso-mllp-server.ts'), s.env);
      try {
        // Warm-up: loads the mapping, compiles the hot paths, creates the child's Patient and family once.
        const warm = await drive(eso.port, 1, 1, 'W');
        if (warm.accepted === 0) {
          skipped('REF^I12 over MLLP, AA after commit, 8 connections', backend, `the server accepted nothing during warm-up, ${errorsText(warm.errors)}; first answer: ${warm.sample ?? '?'}`);
          continue;
        }
        // The sample's one child (intakes for one child wait for each other), then a child of its own per referral.
        const children = { next: 0 };
        for (const [connections, distinct] of [[1, false], [8, false], [8, true]] as const) {
          const ceiling = await bareMllpCeiling({ seconds, connections });
          // CPU per referral moves far less with the machine's other load than msg/s does.
          const before = { server: cpuMsOf(eso.child.pid), pg: backend === 'postgres' ? postgresCpuMs() : undefined };
          const r = await drive(eso.port, seconds, connections, distinct ? 'C' : connections === 1 ? 'A' : 'B', distinct ? children : undefined);
          const cpu = cpuPerReferral(before, { server: cpuMsOf(eso.child.pid), pg: backend === 'postgres' ? postgresCpuMs() : undefined }, r.accepted);
          const label = distinct ? 'a child each' : 'one child  ';
          console.log(`  ceiling ${String(connections).padStart(2)} conn                          ${fmt(ceiling)}`);
          console.log(`  REF^I12 ${String(connections).padStart(2)} conn, ${label} [${backend.padEnd(8)}] ${fmt(r)}  (AA ${r.accepted}; ${errorsText(r.errors)}${cpu ? `; ${cpu}` : ''})`);
          if (connections === 8) {
            record({
              name: `REF^I12 over MLLP, AA after commit, 8 connections${distinct ? ', a child per referral' : ''}`, backend, value: r.messagesPerSecond, unit: 'msg/s',
              ceiling: { value: ceiling.messagesPerSecond, unit: 'msg/s', what: 'bare ACK server' },
              aim: { kind: 'min', value: AIM }, note: [cpu, cpu ? `${AIM} msg/s leaves one core ${(1000 / AIM).toFixed(1)} ms per referral` : '',
                Object.keys(r.errors).length ? errorsText(r.errors) : ''].filter(Boolean).join('; ') || undefined,
            });
          }
        }
      } finally {
        await stopChild(eso.child);
      }
    } finally {
      await s.cleanup();
    }
  }
}
