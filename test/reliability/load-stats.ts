/**
 * Figures of the load (test/reliability/load.ts): per kind of request, how many, how fast, and
 * what went wrong, by kind of outcome. An outcome is `ok`, `expected` (an answer the load
 * provokes on purpose and the service must give: a lost If-Match race, an idempotent replay) or
 * an `error` (a 5xx, an ACK other than AA, a network error, a timeout, an answer that should not
 * have come). Only errors fail the run.
 */
import os from 'node:os';

export type Outcome = 'ok' | 'expected' | 'error';

export class Stat {
  readonly latencies: number[] = [];
  ok = 0;
  readonly expected = new Map<string, number>();
  readonly errors = new Map<string, number>();
  /** The first few error details, for the report. */
  readonly samples: string[] = [];

  constructor(readonly name: string) {}

  get requests(): number {
    return this.ok + sum(this.expected) + sum(this.errors);
  }

  get errorCount(): number {
    return sum(this.errors);
  }

  /** Counts one request; `ms` when it got an answer (timeouts and network errors have none). */
  record(outcome: Outcome, what: string, ms?: number, detail?: string): void {
    if (ms !== undefined) this.latencies.push(ms);
    if (outcome === 'ok') this.ok++;
    else bump(outcome === 'expected' ? this.expected : this.errors, what);
    if (outcome === 'error' && this.samples.length < 3) this.samples.push(`${what}${detail ? `: ${detail.slice(0, 300)}` : ''}`);
  }
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** The q-th quantile (0..1) of `sorted` (nearest rank); NaN when empty. */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const fmtMs = (n: number) => (Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(1) : n.toFixed(0));
const fmtMap = (m: Map<string, number>) => (m.size ? [...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') : '-');

/** The table: one row per kind, then all kinds together. */
export function table(stats: Stat[], seconds: number): string {
  const all = new Stat('all');
  for (const s of stats) {
    all.latencies.push(...s.latencies);
    all.ok += s.ok;
    for (const [k, v] of s.expected) all.expected.set(k, (all.expected.get(k) ?? 0) + v);
    for (const [k, v] of s.errors) all.errors.set(k, (all.errors.get(k) ?? 0) + v);
  }
  const head = ['kind', 'requests', 'per s', 'p50 ms', 'p99 ms', 'ok', 'expected', 'errors'];
  const rows = [...stats, all].map((s) => {
    const sorted = [...s.latencies].sort((a, b) => a - b);
    return [s.name, String(s.requests), (s.requests / seconds).toFixed(1), fmtMs(quantile(sorted, 0.5)), fmtMs(quantile(sorted, 0.99)), String(s.ok), fmtMap(s.expected), fmtMap(s.errors)];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i >= 6 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.slice(0, -1).map(line), line(widths.map((w) => '-'.repeat(w))), line(rows[rows.length - 1])].join('\n');
}

/** The machine: load averages and cores (the load generator and the service share them). */
export function machine(): string {
  const [a, b, c] = os.loadavg();
  return `loadavg ${a.toFixed(2)} ${b.toFixed(2)} ${c.toFixed(2)}, ${os.cpus().length} cores (${os.availableParallelism()} available)`;
}
