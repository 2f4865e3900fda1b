/**
 * Who is calling, as one typed value built once at the edge (HTTP: http/request-context.ts and the
 * bearer authentication; HL7 v2: the receiver, from the connection or the token) and handed down,
 * never re-derived from casts. The case-access chain, scopes and audit all read it.
 */

/** A registered client acting for exactly one organisation (docs/DESIGN.md "Security model"). */
export interface Caller {
  clientId: string;
  /** ODS code of the organisation the caller acts for. */
  organization: string;
  /** Granted SMART scopes (v2 form, e.g. system/Task.rs). */
  scopes: string[];
  /** The clinician, when a person acts through the clinician app (SMART App Launch). */
  clinician?: Clinician;
}

/** A person acting through the clinician app: who their EHR says they are (Provenance, AuditEvent). */
export interface Clinician {
  /** The EHR's fhirUser: the absolute URL of their Practitioner (or Person) resource. */
  fhirUser: string;
  /** Their name as the EHR gives it. */
  display?: string;
  /** Their GMC number, where the EHR's Practitioner carries one. */
  gmc?: string;
}

export interface CallContext {
  /** One per request or message: in logs, AuditEvents and error answers. */
  requestId: string;
  /** undefined = the system: the server's own work, or ESO_AUTH_DISABLED on a developer's machine. */
  caller?: Caller;
  /** The peer's network address, for the audit trail. */
  network?: string;
}
