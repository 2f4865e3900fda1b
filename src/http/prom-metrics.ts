/**
 * The Metrics interface (shared/metrics.ts) in Prometheus text format, with prom-client on a
 * registry of its own (no global state): HTTP, MLLP, tokens, database commits, the outbox (read
 * from storage at each scrape) and the process (CPU, memory, event loop lag, handles).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { boundedLabel, type Metrics } from '../shared/metrics.ts';
import type { OutboxMessage } from '../storage/types.ts';

export interface PromMetrics {
  metrics: Metrics;
  /** The exposition text and its content type. */
  scrape(): Promise<{ contentType: string; text: string }>;
}

/** How many pending messages a scrape reads at most; beyond that the depth reads as this cap. */
export const OUTBOX_SCAN_CAP = 2_000;

const METHODS = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$/;
const V2_TYPE = /^[A-Z0-9]{2,3}\^[A-Z0-9]{2,3}$/;
const ACK = /^(AA|AE|AR|CA|CE|CR)$/;
const OAUTH_ERROR = /^[a-z_]{1,40}$/;
const DESTINATION = /^mllp:[A-Z0-9]{3,10}$/;
const KIND = /^hl7v2:[A-Z0-9]{2,3}\^[A-Z0-9]{2,3}$/;

export function createPromMetrics(deps: { pendingOutbound: () => Promise<OutboxMessage[]> }): PromMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({ name: 'eso_http_requests_total', help: 'HTTP requests answered, by route template, method and status', labelNames: ['route', 'method', 'status'], registers: [registry] });
  const httpSeconds = new Histogram({ name: 'eso_http_request_duration_seconds', help: 'HTTP request latency, by route template and method', labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  const mllp = new Counter({ name: 'eso_mllp_messages_total', help: 'HL7 v2 messages received over MLLP, by message type (MSH-9) and ACK code', labelNames: ['type', 'ack'], registers: [registry] });
  const tokens = new Counter({ name: 'eso_tokens_issued_total', help: 'Access tokens issued by POST /auth/token', registers: [registry] });
  const refused = new Counter({ name: 'eso_tokens_refused_total', help: 'Token requests refused, by OAuth error code', labelNames: ['error'], registers: [registry] });
  const commitSeconds = new Histogram({ name: 'eso_db_commit_seconds', help: 'Database transaction latency, from start to acknowledged commit',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [registry] });
  const groupSize = new Histogram({ name: 'eso_db_commit_group_size', help: 'Transactions sharing one commit (SQLite group commit; 1 on PostgreSQL)',
    buckets: [1, 2, 4, 8, 16, 32, 64], registers: [registry] });
  new Gauge({ name: 'eso_outbox_depth', help: 'Outbound messages waiting to be sent (pending), by destination and kind', labelNames: ['destination', 'kind'], registers: [registry],
    async collect() { await outboxGauges(this, 'depth'); } });
  new Gauge({ name: 'eso_outbox_oldest_age_seconds', help: 'Age of the oldest pending outbound message, by destination and kind', labelNames: ['destination', 'kind'], registers: [registry],
    async collect() { await outboxGauges(this, 'age'); } });

  // Both outbox gauges read one scan per scrape (the two collect() calls run in the same scrape).
  let scan: Promise<Map<string, { destination: string; kind: string; depth: number; oldest: number }>> | undefined;
  async function outboxGauges(gauge: Gauge, what: 'depth' | 'age'): Promise<void> {
    scan ??= summarise().finally(() => setImmediate(() => { scan = undefined; }));
    gauge.reset();
    const now = Date.now();
    for (const s of (await scan).values()) {
      gauge.set({ destination: s.destination, kind: s.kind }, what === 'depth' ? s.depth : Math.max(0, (now - s.oldest) / 1000));
    }
  }
  async function summarise() {
    const out = new Map<string, { destination: string; kind: string; depth: number; oldest: number }>();
    for (const m of await deps.pendingOutbound()) {
      const destination = boundedLabel(m.destination, DESTINATION);
      const kind = boundedLabel(m.kind, KIND);
      const key = `${destination}\n${kind}`;
      const at = Date.parse(m.createdAt);
      const s = out.get(key) ?? { destination, kind, depth: 0, oldest: at };
      s.depth++;
      s.oldest = Math.min(s.oldest, at);
      out.set(key, s);
    }
    return out;
  }

  const metrics: Metrics = {
    httpRequest(route, method, status, seconds) {
      const m = boundedLabel(method, METHODS);
      httpRequests.inc({ route, method: m, status: String(status) });
      httpSeconds.observe({ route, method: m }, seconds);
    },
    mllpMessage(type, ack) { mllp.inc({ type: boundedLabel(type, V2_TYPE), ack: boundedLabel(ack, ACK) }); },
    tokenIssued() { tokens.inc(); },
    tokenRefused(error) { refused.inc({ error: boundedLabel(error, OAUTH_ERROR) }); },
    dbCommit(seconds, size) {
      commitSeconds.observe(seconds);
      groupSize.observe(size);
    },
  };
  return {
    metrics,
    async scrape() { return { contentType: registry.contentType, text: await registry.metrics() }; },
  };
}
