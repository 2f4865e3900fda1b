/**
 * HL7 v2 as the composition root sees it: the case-event sink the domain writes return messages
 * through, the receiver shared by MLLP and POST /hl7/v2, the MLLP listener and the outbox dispatcher.
 */
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.ts';
import type { SubmitEsoRequest } from '../domain/ports.ts';
import type { Storage } from '../storage/types.ts';
import { V2CaseEventSink } from './case-event-sink.ts';
import { parseAllowedSenders, parseEprEndpoints, senderPolicy } from './hl7-config.ts';
import type { Hl7Logger } from './hl7-logger.ts';
import { createMllpServer } from './mllp-server.ts';
import { OutboxDispatcher } from './outbox-dispatcher.ts';
import { createV2Receiver, type V2Receiver } from './v2-receiver.ts';

export const OUR_IDENTITY = { application: 'ESO_BRIDGE', facility: 'ESO' };

export interface Hl7Service {
  sink: V2CaseEventSink;
  /** Starts the receiver, the MLLP listener (if enabled) and the dispatcher (if enabled). */
  start(submit: SubmitEsoRequest, isRegistered: (ods: string) => boolean): Promise<{ receiver: V2Receiver; mllpPort?: number }>;
  stop(): Promise<void>;
}

export function createHl7Service(config: Config, storage: Storage, logger: Hl7Logger): Hl7Service {
  const endpoints = parseEprEndpoints(config.eprEndpoints);
  const allowed = parseAllowedSenders(config.mllpAllowedSenders);
  const sink = new V2CaseEventSink(endpoints, { facility: OUR_IDENTITY, logger });
  const dispatcher = new OutboxDispatcher({
    storage, endpoints, logger, pollMs: config.outboxPollMs, leaseMs: config.outboxLeaseMs,
    connectTimeoutMs: config.outboxConnectTimeoutMs, answerTimeoutMs: config.outboxAnswerTimeoutMs,
    backoff: { baseMs: config.outboxBackoffBaseMs, capMs: config.outboxBackoffCapMs },
  });
  let mllp: ReturnType<typeof createMllpServer> | undefined;
  let unsubscribe: (() => void) | undefined;
  return {
    sink,
    async start(submit, isRegistered) {
      const receiver = createV2Receiver({ storage, submit, facility: OUR_IDENTITY, logger, isSenderAllowed: senderPolicy(allowed, isRegistered) });
      let mllpPort: number | undefined;
      if (config.mllpEnabled) {
        const tls = config.mllpTlsKey && config.mllpTlsCert ? { key: readFileSync(config.mllpTlsKey), cert: readFileSync(config.mllpTlsCert) } : undefined;
        mllp = createMllpServer({ host: config.mllpHost, port: config.mllpPort, tls, maxMessageBytes: config.mllpMaxMessageBytes, idleTimeoutMs: config.mllpIdleTimeoutMs,
          handler: (text) => receiver.handleFrames(text), rejectOversize: receiver.rejectOversize, logger });
        mllpPort = (await mllp.listen()).port;
      }
      if (config.outboxEnabled) {
        dispatcher.start();
        unsubscribe = storage.onOutboundCommitted(() => dispatcher.nudge());
      }
      return { receiver, mllpPort };
    },
    async stop() {
      unsubscribe?.();
      await mllp?.close();
      await dispatcher.stop();
    },
  };
}
