/**
 * Provenance of every Task change (docs/DESIGN.md "Every transition records who, when and why"):
 * target = the Task version, agent = the acting organisation (with the case party it acted for)
 * and the client software, activity = the transition, reason = the statusReason.
 * https://hl7.org/fhir/R4/provenance.html
 */
import type { CodeableConcept, Organization, Provenance, ProvenanceAgent, Reference, Task } from 'fhir/r4.js';
import type { Clinician } from '../shared/call-context.ts';
import { gmcIdentifier, odsCodeOf, odsIdentifier } from '../fhir/uk-core.ts';
import type { StoredResource } from '../storage/types.ts';
import { DataOperation, ProvenanceParticipantType, Systems } from './codes.ts';
import type { Actor } from './ports.ts';

/** A Reference to an organisation carrying its ODS code, so it reads without resolving. */
export function orgReference(org: Organization | undefined, ods?: string): Reference {
  const code = org ? odsCodeOf(org) : ods;
  const ref: Reference = {};
  if (org?.id) ref.reference = `Organization/${org.id}`;
  if (code) ref.identifier = odsIdentifier(code);
  ref.display = org?.name ?? code ?? 'unknown organisation';
  return ref;
}

/** Plain words for a change, e.g. "status requested -> received". */
export function activityText(previous: Task | undefined, next: Task): string {
  if (!previous) return `created (status ${next.status})`;
  if (previous.status !== next.status) return `status ${previous.status} -> ${next.status}`;
  return 'updated';
}

function reasonOf(task: Task): CodeableConcept[] | undefined {
  const r = task.statusReason;
  if (!r?.text && !r?.coding?.length) return undefined;
  return [r];
}

export interface ProvenanceInput {
  stored: StoredResource<Task>;
  previous?: Task;
  actor?: Actor;
  /** The acting organisation as found in the directory (may be absent). */
  actorOrg?: Organization;
  /** The case party (requester or owner organisation) the actor acted for. */
  onBehalfOf?: Organization;
}

/** The person who acted through the clinician app: a performer, by their EHR identity (and GMC number where known). */
function clinicianAgent(c: Clinician): ProvenanceAgent {
  return {
    type: { coding: [{ system: ProvenanceParticipantType, code: 'performer', display: 'Performer' }] },
    who: { identifier: c.gmc ? gmcIdentifier(c.gmc) : { system: 'urn:ietf:rfc:3986', value: c.fhirUser }, display: c.display ?? c.fhirUser },
  };
}

/** The Provenance of one Task version. */
export function taskProvenance(p: ProvenanceInput): Provenance {
  const task = p.stored.resource;
  const author = { type: { coding: [{ system: ProvenanceParticipantType, code: 'author', display: 'Author' }] } };
  const agent: Provenance['agent'] = p.actor
    ? [
        { ...author, who: orgReference(p.actorOrg, p.actor.organization), ...(p.onBehalfOf ? { onBehalfOf: orgReference(p.onBehalfOf) } : {}) },
        { type: { coding: [{ system: ProvenanceParticipantType, code: 'assembler', display: 'Assembler' }] },
          who: { identifier: { system: Systems.clientId, value: p.actor.agent }, display: p.actor.agent } },
        ...(p.actor.clinician ? [clinicianAgent(p.actor.clinician)] : []),
      ]
    : [{ ...author, who: { display: 'eso-bridge (system)' } }];
  const prov: Provenance = {
    resourceType: 'Provenance',
    target: [{ reference: `Task/${task.id}/_history/${p.stored.versionId}` }],
    recorded: p.stored.lastUpdated,
    activity: {
      coding: [{ system: DataOperation, code: p.previous ? 'UPDATE' : 'CREATE', display: p.previous ? 'revise' : 'create' }],
      text: activityText(p.previous, task),
    },
    agent,
  };
  const reason = reasonOf(task);
  if (reason && p.previous?.status !== task.status) prov.reason = reason;
  return prov;
}
