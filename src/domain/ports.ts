/**
 * What the ESO domain offers to the ways in (JSON API, FHIR, HL7 v2) and what it needs
 * from the ways out (HL7 v2 outbox, later federation). Implemented by domain/ and hl7/.
 */
import type { DiagnosticReport, Patient, Resource, ServiceRequest, Task } from 'fhir/r4.js';
import type { CallContext, Clinician } from '../shared/call-context.ts';
import type { StorageTx } from '../storage/types.ts';
import type { EsoRequestInput, EsoRequestInputRaw } from './eso-request-input.ts';
import type { Reader } from './reader.ts';

/** Who is acting: the organisation (ODS code) a client or message acts for, and the agent. */
export interface Actor {
  /** ODS code of the organisation the caller acts for. */
  organization: string;
  /** Client id, or 'mllp' for HL7 v2 over MLLP, for Provenance/AuditEvent. */
  agent: string;
  /** The person, when a clinician acts through the clinician app: named in every Provenance beside the organisation. */
  clinician?: Clinician;
}

/** The domain's view of a call: the organisation its caller acts for (undefined = the system). */
export function actorOfCall(call: CallContext): Actor | undefined {
  const c = call.caller;
  return c ? { organization: c.organization, agent: c.clientId, ...(c.clinician ? { clinician: c.clinician } : {}) } : undefined;
}

export interface IntakeResult {
  /** false when the same request identifier was already received (idempotent replay). */
  created: boolean;
  task: Task;
  serviceRequest: ServiceRequest;
}

/**
 * The one intake function every way in calls (POST /eso/requests, REF^I12). Throws an
 * OperationOutcomeError: 400 for a malformed request (expression = JSON path), 422 for a broken
 * rule, 409 for a requestId another organisation already uses. `actor` undefined = the system
 * (auth disabled): the requester organisation is not checked against the caller.
 * A FHIR transaction Bundle does not call it but meets the same rules in the WriteHooks.
 */
export interface SubmitOptions {
  /** Runs inside the intake's transaction, after the case is found or made (e.g. its AuditEvent): both commit or neither. */
  within?: (tx: StorageTx, result: IntakeResult) => Promise<void>;
}

export type SubmitEsoRequest = (input: EsoRequestInputRaw | EsoRequestInput, actor: Actor | undefined, opts?: SubmitOptions) => Promise<IntakeResult>;

/** The requester's own case, found by the identifier it sent (its requestId). */
export interface RequestRef {
  /** ODS code of the requesting organisation: only its own cases are found. */
  requesterOds: string;
  system: string;
  value: string;
}

export interface AmendResult extends IntakeResult {
  /** What changed, in plain words (empty when the amendment changed nothing). */
  changed: string[];
}

/**
 * Amends the requester's open case (REF^I13): the due date, urgency, questions, reason, family
 * statement and records, while the rules allow (not once the case is closed). 404 for a case that
 * is not the caller's, 409 for a closed one. Through the caller's repository, like intake.
 */
export type AmendEsoRequest = (input: EsoRequestInputRaw | EsoRequestInput, actor: Actor | undefined, opts?: SubmitOptions) => Promise<AmendResult>;

/**
 * Cancels the requester's case (REF^I14): the requester's own move (Task → cancelled,
 * businessStatus withdrawn), refused (409) once the work has started. 404 for a case that is not the caller's.
 */
export type CancelEsoRequest = (ref: RequestRef & { reason?: string }, actor: Actor | undefined, opts?: SubmitOptions) => Promise<IntakeResult>;

/** A case changed state: the sink may enqueue outbound messages in the same transaction. */
export interface CaseEvent {
  kind: 'accepted' | 'rejected' | 'completed' | 'cancelled';
  task: Task;
  serviceRequest: ServiceRequest;
  patient: Patient;
  report?: DiagnosticReport;
  /** ODS code of the requesting organisation (the destination of return messages). */
  requesterOds: string;
  /** ODS code of the provider organisation. */
  providerOds: string;
}

export interface CaseEventSink {
  /** Called inside the transaction that makes the state change, before it commits. */
  onCaseEvent(tx: StorageTx, event: CaseEvent): Promise<void>;
}

/** A Task, DiagnosticReport or Consent was written (subscriptions decide which topics it is an event of). */
export interface ResourceChange {
  resource: Resource;
  /** The version before this write; undefined on create. */
  previous?: Resource;
}

export interface ResourceChangeSink {
  /** Called inside the transaction of the write, after the grants and the case events. */
  onResourceChange(tx: StorageTx, change: ResourceChange): Promise<void>;
}

/**
 * Where the provider of a case works: true when another eso-bridge instance serves it (Trust to Trust,
 * docs/FEDERATION.md). Then a requester's cancel is a request the provider confirms: the requester
 * sets businessStatus `cancel-requested`, and only the confirmation (written by the server when the
 * provider's instance has cancelled) moves the Task to `cancelled`. Implemented by federation/.
 */
export type RemoteProvider = (task: Task, reader: Reader) => Promise<boolean>;
