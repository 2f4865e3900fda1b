/**
 * The AuditEvent of one access, after IHE Basic Audit Log Patterns (BALP): type rest with the
 * interaction as subtype, the client and its organisation as agents, what was touched as
 * entities (references only), the request id, outcome 0/4/8. It never holds a token, a query
 * string, an NHS number or clinical text: only ids the caller already knows.
 * https://profiles.ihe.net/ITI/BALP/
 */
import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from 'fhir/r4.js';
import { ESO_BASE, Systems } from '../fhir/eso-urls.ts';
import type { Interaction } from '../fhir/interactions.ts';
import type { Caller } from '../shared/call-context.ts';

/** One audited access, written as an AuditEvent before the response leaves. */
export interface AuditRecord {
  interaction: Interaction | 'token' | 'operation';
  resourceType?: string;
  id?: string;
  status: number;
  /** Who called (the call context's caller); absent = unauthenticated or the system. */
  principal?: Caller;
  /** No principal because the caller was never authenticated (refused before or by authentication), not because the system acted. */
  unauthenticated?: boolean;
  requestId: string;
  /** Resources returned or written, as "Type/id". */
  entities?: string[];
  /** The caller's network address. */
  network?: string;
  /** A fixed, non-sensitive note (e.g. which check refused). */
  detail?: string;
  /** Overrides the outcome the status implies: an HL7 v2 AR/AE answered in an HTTP 200 is still a failure. */
  outcome?: AuditEvent['outcome'];
}

export const CLIENT_ID_SYSTEM = Systems.clientId;
const AUDIT_TYPE: Coding = { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' };
const RESTFUL = 'http://hl7.org/fhir/restful-interaction';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const BALP_ENTITY = 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType';
const REF_RE = /^[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9\-.]{1,64}$/;

const SUBTYPE: Record<AuditRecord['interaction'], Coding> = {
  read: { system: RESTFUL, code: 'read' }, vread: { system: RESTFUL, code: 'vread' }, history: { system: RESTFUL, code: 'history-instance' },
  search: { system: RESTFUL, code: 'search-type' }, create: { system: RESTFUL, code: 'create' }, update: { system: RESTFUL, code: 'update' },
  delete: { system: RESTFUL, code: 'delete' }, transaction: { system: RESTFUL, code: 'transaction' }, batch: { system: RESTFUL, code: 'batch' },
  capabilities: { system: RESTFUL, code: 'capabilities' }, operation: { system: RESTFUL, code: 'operation' },
  token: { system: `${ESO_BASE}/CodeSystem/audit-interaction`, code: 'token', display: 'Access token request' },
};

const ACTION: Record<AuditRecord['interaction'], AuditEvent['action']> = {
  read: 'R', vread: 'R', history: 'R', capabilities: 'R', search: 'E', create: 'C', update: 'U', delete: 'D',
  transaction: 'E', batch: 'E', operation: 'E', token: 'E',
};

/** 0 success, 4 minor failure (refused, 4xx), 8 serious failure (5xx). */
export function outcomeOf(status: number): AuditEvent['outcome'] {
  return status < 400 ? '0' : status < 500 ? '4' : '8';
}

function agents(r: AuditRecord): AuditEventAgent[] {
  const network = r.network ? { address: r.network.slice(0, 64), type: '2' as const } : undefined;
  const roleCoding = { system: DCM, code: '110153', display: 'Source Role ID' };
  if (!r.principal) {
    return [{ type: { coding: [roleCoding] }, who: { display: r.status === 401 || r.unauthenticated ? 'unauthenticated' : 'system' }, requestor: true, ...(network ? { network } : {}) }];
  }
  return [
    { type: { coding: [roleCoding] }, who: { identifier: { system: CLIENT_ID_SYSTEM, value: r.principal.clientId } }, requestor: true, ...(network ? { network } : {}) },
    { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleClass', code: 'PROV', display: 'healthcare provider' }] },
      who: { identifier: { system: Systems.odsCode, value: r.principal.organization } }, requestor: false },
    ...(r.principal.clinician ? [clinicianAgent(r.principal.clinician)] : []),
  ];
}

/** The person acting through the clinician app: the human requestor, by EHR identity (GMC number where known). */
function clinicianAgent(c: NonNullable<Caller['clinician']>): AuditEventAgent {
  return {
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' }], text: 'clinician' },
    who: { identifier: c.gmc ? { system: Systems.gmcNumber, value: c.gmc } : { system: 'urn:ietf:rfc:3986', value: c.fhirUser }, display: c.display ?? c.fhirUser },
    altId: c.fhirUser.slice(0, 256), requestor: true,
  };
}

function entities(r: AuditRecord): AuditEventEntity[] {
  const refs = new Set(r.entities ?? []);
  // A refused read still names its target (the caller sent that id; nothing new is revealed).
  if (!refs.size && r.resourceType && r.id) refs.add(`${r.resourceType}/${r.id}`);
  const out: AuditEventEntity[] = [...refs].filter((ref) => REF_RE.test(ref)).map((ref) => ({ what: { reference: ref } }));
  out.push({ what: { identifier: { value: r.requestId } }, type: { system: BALP_ENTITY, code: 'XrequestId', display: 'X-Request-Id' } });
  return out;
}

/** Builds the AuditEvent; `observer` names this server (its base URL). */
export function buildAuditEvent(r: AuditRecord, observer: string, recorded = new Date()): AuditEvent {
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    type: AUDIT_TYPE,
    subtype: [SUBTYPE[r.interaction]],
    action: ACTION[r.interaction],
    recorded: recorded.toISOString(),
    outcome: r.outcome ?? outcomeOf(r.status),
    outcomeDesc: r.detail ? `HTTP ${r.status}: ${r.detail}` : `HTTP ${r.status}`,
    agent: agents(r),
    source: { site: observer, observer: { display: 'eso-bridge', identifier: { value: observer } },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] },
    entity: entities(r),
  };
  return event;
}
