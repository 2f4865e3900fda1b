/**
 * MLLP throughput: REF^I12 messages (the v2.5.1 sample, each with its own MSH-10 and RF1-6) sent
 * over N connections, one message in flight per connection, to a server made with
 * createMllpServer. bareMllpCeiling() measures the same with a handler that ACKs without
 * processing, so a run can compare intake against the transport's own ceiling on the same machine.
 * Called from bench/run.ts; prints nothing itself.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { buildAck } from '../src/hl7/ack.ts';
import { readHeader } from '../src/hl7/er7.ts';
import { MllpClient } from '../src/hl7/mllp-client.ts';
import { createMllpServer } from '../src/hl7/mllp-server.ts';

export interface MllpBenchOptions {
  /** What the server does with each message (e.g. a V2Receiver's handleFrames). */
  handler: (text: string) => Promise<string | string[]>;
  seconds: number;
  connections: number;
}

export interface MllpBenchResult {
  messagesPerSecond: number;
  p50ms: number;
  p99ms: number;
}

const TEMPLATE = readFileSync(new URL('../test/fixtures/hl7/REF_I12-v251-inpatient-urgent.hl7', import.meta.url), 'utf8');

/**
 * A valid NHS number (mod-11 check digit) of its own for each `n` below 1,000,000, in the 99x test
 * range: the last of the nine digits is the first of 0-9 whose check digit is not 10 (one of any ten is).
 */
export function benchNhsNumber(n: number): string {
  for (let j = 0; ; j++) {
    const nine = String(990_000_000 + 10 * (n % 1_000_000) + j);
    const sum = [...nine].reduce((acc, d, i) => acc + Number(d) * (10 - i), 0);
    const check = (11 - (sum % 11)) % 11;
    if (check !== 10) return `${nine}${check}`;
  }
}

/**
 * The sample with MSH-10 and RF1-6 replaced, so every message is a new request, and MSH-15/16
 * emptied (original acknowledgement mode: one AA, sent after the commit; the sample asks for
 * enhanced mode, whose answer is a CA). With `child`, the referral is about a child of its own:
 * PID-3 carries that child's NHS number and hospital number.
 */
export function benchMessage(id: string, child?: number): string {
  return TEMPLATE.split('\r')
    .map((line) => {
      const f = line.split('|');
      if (f[0] === 'MSH') {
        f[9] = id;
        if (f.length > 14) f[14] = '';
        if (f.length > 15) f[15] = '';
      }
      else if (f[0] === 'RF1') f[6] = `${id}^^RA7`;
      else if (f[0] === 'PID' && child !== undefined) f[3] = `${benchNhsNumber(child)}^^^NHS&2.16.840.1.113883.2.1.4.1&ISO^NH~RA7C${child}^^^RA7^MR`;
      else return line;
      return f.join('|');
    })
    .join('\r');
}

/** Drives `connections` clients for `seconds` against a fresh loopback server running `handler`. */
export async function benchMllp({ handler, seconds, connections }: MllpBenchOptions): Promise<MllpBenchResult> {
  const server = createMllpServer({ host: '127.0.0.1', port: 0, maxMessageBytes: 1 << 20, idleTimeoutMs: 60_000, handler });
  const { port } = await server.listen();
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`.toUpperCase();
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const clients = Array.from({ length: connections }, () => new MllpClient({ host: '127.0.0.1', port, answerTimeoutMs: 30_000 }));
  const started = performance.now();
  try {
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = 0; performance.now() < deadline; i++) {
          const t0 = performance.now();
          const ack = await client.send(benchMessage(`B${run}${c}-${i}`.slice(0, 20)));
          latencies.push(performance.now() - t0);
          if (!/\rMSA\|(AA|CA)\|/.test(ack)) throw new Error(`bench message refused: ${ack.split('\r')[1] ?? ''}`);
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  }
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]);
  return { messagesPerSecond: Math.round(latencies.length / elapsed), p50ms: round(pct(0.5)), p99ms: round(pct(0.99)) };
}

/** The transport's ceiling: same traffic, a handler that only builds an AA. */
export function bareMllpCeiling({ seconds, connections }: Omit<MllpBenchOptions, 'handler'>): Promise<MllpBenchResult> {
  const ours = { application: 'ESO_BRIDGE', facility: 'ESO' };
  return benchMllp({ seconds, connections, handler: async (text) => buildAck({ received: readHeader(text), code: 'AA', ours }) });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
