/**
 * The HL7 v2 way out: when a case is accepted, rejected, completed or cancelled, the requesting
 * organisation's EPR (if it has an MLLP endpoint configured) gets an RRI^I12 and, with a report,
 * an ORU^R01. Messages are built here and put in the outbox inside the same transaction as the
 * state change, so they are sent if and only if the change commits (outbox-dispatcher.ts sends).
 * @see mappings/RRI_I12.from-fhir.json, mappings/ORU_R01.from-fhir.json
 */
import type { CaseEvent, CaseEventSink } from '../domain/ports.ts';
import { mllpDestination, type StorageTx } from '../storage/types.ts';
import { compareVersions, newControlId, type AckIdentity } from './ack.ts';
import { formatV2Timestamp, joinSegments, SegmentWriter } from './er7.ts';
import { silentLogger, type Hl7Logger } from './hl7-logger.ts';
import { loadOutboundMapping, type OutboundMapping } from './mapping-types.ts';
import { applyOutbound } from './mapping-writer.ts';

/** An EPR's MLLP endpoint (one per requesting organisation, by ODS code). */
export interface V2Endpoint {
  host: string;
  port: number;
  /** TLS to the EPR (system CAs). */
  tls?: boolean;
  /** MSH-5; MSH-6 is the organisation's ODS code. */
  application?: string;
  /** MSH-12; default 2.5.1. */
  version?: string;
  /** Which messages this EPR takes; default both. */
  messages?: ('RRI^I12' | 'ORU^R01')[];
}

/** Outbox destination key of an organisation's EPR: `mllp:<ODS>`. */
/** Outbox kind of a v2 message: `hl7v2:<type>`. */
export const outboxKind = (message: string): string => `hl7v2:${message}`;

export interface V2CaseEventSinkOptions {
  /** Our MSH-3/MSH-4; default ESO_BRIDGE / ESO. */
  facility?: AckIdentity;
  /** MSH-11 of what we send; default P. */
  processingId?: string;
  /** Mappings to use (tests); default RRI_I12 and ORU_R01 from mappings/. */
  mappings?: OutboundMapping[];
  logger?: Hl7Logger;
  now?: () => Date;
  newControlId?: () => string;
  /** Whether an organisation without an endpoint sends HL7 v2 (has MLLP client entries): its messages are then queued with no route, visible in /admin/outbox, instead of not made. */
  sendsHl7?: (ods: string) => Promise<boolean>;
}

/** Builds RRI^I12 / ORU^R01 for case events and enqueues them for the requester's EPR. */
export class V2CaseEventSink implements CaseEventSink {
  private readonly mappings: OutboundMapping[];
  private readonly endpoints: Record<string, V2Endpoint>;

  /** `endpoints` by requesting organisation ODS code (ESO_EPR_ENDPOINTS). */
  constructor(endpoints: Record<string, V2Endpoint>, private readonly o: V2CaseEventSinkOptions = {}) {
    this.endpoints = Object.fromEntries(Object.entries(endpoints).map(([k, v]) => [k.toUpperCase(), v]));
    this.mappings = o.mappings ?? [loadOutboundMapping('RRI_I12.from-fhir'), loadOutboundMapping('ORU_R01.from-fhir')];
  }

  /**
   * Called inside the state change's transaction. Does nothing when the requester has no
   * endpoint. A message that cannot be built throws, so the change does not commit without it.
   */
  async onCaseEvent(tx: StorageTx, event: CaseEvent): Promise<void> {
    const ods = event.requesterOds.toUpperCase();
    if (!this.endpoints[ods] && !(await this.o.sendsHl7?.(ods))) return;
    for (const m of this.build(event, this.endpoints[ods] ?? {})) {
      const id = await tx.enqueueOutbound(mllpDestination(ods), outboxKind(m.message), m.payload);
      (this.o.logger ?? silentLogger).info({ outboxId: id, message: m.message, destination: ods, event: event.kind, task: event.task.id }, 'hl7 message queued');
    }
  }

  /** The messages an event produces for its requester's endpoint (empty without one). */
  build(event: CaseEvent, unrouted?: Partial<V2Endpoint>): { message: string; payload: string }[] {
    const ods = event.requesterOds.toUpperCase();
    const endpoint = this.endpoints[ods] ?? (unrouted as V2Endpoint | undefined);
    if (!endpoint) return [];
    const out: { message: string; payload: string }[] = [];
    for (const mapping of this.mappings) {
      if (endpoint.messages && !endpoint.messages.includes(mapping.message as never)) continue;
      const body = applyOutbound(mapping, { ...event } as unknown as Record<string, unknown> & { kind: string });
      if (body.length === 0) continue;
      out.push({ message: mapping.message, payload: joinSegments([this.header(mapping, ods, endpoint), ...body]) });
    }
    return out;
  }

  private header(mapping: OutboundMapping, ods: string, endpoint: V2Endpoint): SegmentWriter {
    const version = endpoint.version ?? '2.5.1';
    const [type, trigger, structure] = mapping.messageType.split('^');
    const msh = new SegmentWriter('MSH')
      .set(3, this.o.facility?.application ?? 'ESO_BRIDGE')
      .set(4, this.o.facility?.facility ?? 'ESO')
      .set(5, endpoint.application)
      .set(6, ods)
      .set(7, formatV2Timestamp(this.o.now?.() ?? new Date()))
      .set(9, type)
      .set(9, trigger, 0, 2)
      .set(10, (this.o.newControlId ?? newControlId)())
      .set(11, this.o.processingId ?? 'P')
      .set(12, version);
    // The message structure component exists from v2.3.1 on.
    if (structure && compareVersions(version, '2.3.1') >= 0) msh.set(9, structure, 0, 3);
    return msh;
  }
}
