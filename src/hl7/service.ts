/**
 * HL7 v2 as the composition root sees it: the case-event sink the domain writes return messages
 * through, the receiver shared by MLLP and POST /hl7/v2, the MLLP listener and the outbox dispatcher.
 */
import { readFileSync } from 'node:fs';
import { admitsConnection, type MllpBinding } from '../auth/mllp-binding.ts';
import type { Config } from '../config/schema.ts';
import type { AmendEsoRequest, CancelEsoRequest, SubmitEsoRequest } from '../domain/ports.ts';
import { noMetrics, type Metrics } from '../shared/metrics.ts';
import type { Storage } from '../storage/types.ts';
import { V2CaseEventSink } from './case-event-sink.ts';
import { parseAllowedSenders, parseEprEndpoints, senderAllowList } from './hl7-config.ts';
import type { Hl7Logger } from './hl7-logger.ts';
import { createMllpServer } from './mllp-server.ts';
import { OutboxDispatcher, type OutboxDispatcherOptions } from './outbox-dispatcher.ts';
import { createV2Receiver, type SenderRefusal, type V2Receiver } from './v2-receiver.ts';

export const OUR_IDENTITY = { application: 'ESO_BRIDGE', facility: 'ESO' };

/** What the receiver needs from the composition root to authenticate MLLP senders. */
export interface MllpSenders {
  /** What the client entries of this organisation (ODS code) say about its MLLP connections. */
  bindingsOf: (ods: string) => MllpBinding[] | Promise<MllpBinding[]>;
  /** Records a refused sender (the AuditEvent). */
  onRefused?: (refusal: SenderRefusal) => Promise<void>;
}

export interface Hl7Service {
  sink: V2CaseEventSink;
  /** The receiver shared by MLLP and POST /hl7/v2 (made before anything listens). */
  receiver(submit: SubmitEsoRequest, senders: MllpSenders, cases?: { amend?: AmendEsoRequest; cancel?: CancelEsoRequest }): V2Receiver;
  /**
   * Starts the MLLP listener (if enabled) for the receiver, and the outbox dispatcher (if enabled) with
   * the senders of the other destination kinds (subscriptions' rest-hooks, federation).
   */
  start(receiver: V2Receiver, senders?: OutboxDispatcherOptions['senders']): Promise<{ mllpPort?: number }>;
  stop(): Promise<void>;
}

/** Optional hooks from the composition root. */
export interface Hl7ServiceHooks {
  metrics?: Metrics;
  /** Whether an organisation sends HL7 v2 (has MLLP client entries): without an EPR endpoint its return messages are queued with no route. */
  sendsHl7?: (ods: string) => Promise<boolean>;
}

export function createHl7Service(config: Config, storage: Storage, logger: Hl7Logger, hooks: Hl7ServiceHooks = {}): Hl7Service {
  const endpoints = parseEprEndpoints(config.eprEndpoints);
  const allowed = parseAllowedSenders(config.mllpAllowedSenders);
  if (config.mllpTlsCa && !(config.mllpTlsKey && config.mllpTlsCert)) throw new Error('MLLP_TLS_CA needs MLLP_TLS_KEY and MLLP_TLS_CERT (client certificates are asked for over TLS only)');
  const sink = new V2CaseEventSink(endpoints, { facility: OUR_IDENTITY, logger, sendsHl7: hooks.sendsHl7 });
  const metrics = hooks.metrics ?? noMetrics;
  let dispatcher: OutboxDispatcher | undefined;
  let mllp: ReturnType<typeof createMllpServer> | undefined;
  let unsubscribe: (() => void) | undefined;
  return {
    sink,
    receiver(submit, senders, cases) {
      return createV2Receiver({
        storage, submit, amend: cases?.amend, cancel: cases?.cancel, facility: OUR_IDENTITY, logger, isSenderAllowed: senderAllowList(allowed), onRefused: senders.onRefused,
        legacyAckSenders: parseAllowedSenders(config.hl7LegacyAckSenders),
        legacyAck: async (ods) => (await senders.bindingsOf(ods)).some((b) => b.ackMode === 'legacy'),
        admitsConnection: async (ods, connection) => connection !== undefined && admitsConnection(await senders.bindingsOf(ods), connection),
      });
    },
    async start(receiver, senders) {
      let mllpPort: number | undefined;
      if (config.mllpEnabled) {
        const tls = config.mllpTlsKey && config.mllpTlsCert
          ? { key: readFileSync(config.mllpTlsKey), cert: readFileSync(config.mllpTlsCert), ca: config.mllpTlsCa ? readFileSync(config.mllpTlsCa) : undefined }
          : undefined;
        mllp = createMllpServer({ host: config.mllpHost, port: config.mllpPort, tls, maxMessageBytes: config.mllpMaxMessageBytes, idleTimeoutMs: config.mllpIdleTimeoutMs,
          handler: (text, connection, raw) => counted(metrics, text, receiver.handleFrames(raw, { connection })),
          rejectOversize: (head, max) => countedNow(metrics, head, receiver.rejectOversize(head, max)), logger });
        mllpPort = (await mllp.listen()).port;
      }
      if (config.outboxEnabled) {
        const started = new OutboxDispatcher({
          storage, endpoints, logger, pollMs: config.outboxPollMs, leaseMs: config.outboxLeaseMs,
          connectTimeoutMs: config.outboxConnectTimeoutMs, answerTimeoutMs: config.outboxAnswerTimeoutMs,
          backoff: { baseMs: config.outboxBackoffBaseMs, capMs: config.outboxBackoffCapMs }, senders,
        });
        dispatcher = started;
        started.start();
        unsubscribe = storage.onOutboundCommitted(() => started.nudge());
      }
      return { mllpPort };
    },
    async stop() {
      unsubscribe?.();
      await mllp?.close();
      await dispatcher?.stop();
    },
  };
}

/** MSH-9 (type^trigger) of a message, or undefined: read from the first line with its own separators. */
function messageType(text: string): string | undefined {
  if (!text.startsWith('MSH') || text.length < 8) return undefined;
  const fields = text.split(/\r|\n/, 1)[0].split(text[3]);
  const [type, trigger] = (fields[8] ?? '').split(text[4]);
  return type && trigger ? `${type}^${trigger}` : undefined;
}

/** MSA-1 of an ACK. */
const ackCode = (ack: string): string => ack.split(/\r|\n/).find((l) => l.startsWith('MSA'))?.split(ack[3])[1] ?? 'none';

/** Counts a received message by type and by the code of each ACK it got (labels are bounded in the metrics). */
function countedNow(metrics: Metrics, text: string, ack: string): string {
  metrics.mllpMessage(messageType(text) ?? 'other', ackCode(ack));
  return ack;
}

async function counted(metrics: Metrics, text: string, answer: Promise<string | string[]>): Promise<string | string[]> {
  const out = await answer;
  for (const a of Array.isArray(out) ? out : [out]) countedNow(metrics, text, a);
  return out;
}
