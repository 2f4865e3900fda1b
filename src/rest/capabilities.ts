/**
 * The CapabilityStatement, generated from what is really implemented: the resource types and
 * search parameters of the registry (fhir/search-params.ts + profiles/), the interactions of rest/router.ts, the ESO
 * profiles loaded from profiles/, and the security block the auth layer supplies.
 */
import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestSecurity } from 'fhir/r4.js';
import { SERVER_WRITTEN } from '../domain/access/server-written.ts';
import { RESOURCE_TYPES, type SearchParameterRegistry } from '../fhir/search-params.ts';

export interface CapabilityInputs {
  baseUrl: string;
  /** The server's search parameters (the same registry the repository indexes and searches with). */
  searchParams: SearchParameterRegistry;
  /** Profile canonical URLs by resource type (supportedProfile). */
  profiles?: Record<string, string[]>;
  security?: CapabilityStatementRestSecurity;
  readOnlyTypes?: string[];
  version: string;
  /** Canonical URLs of the subscription topics offered (Subscriptions Backport IG), listed on Subscription. */
  subscriptionTopics?: string[];
  /** What the topics are and the filters each takes, in words (R4 has no SubscriptionTopic resource to say it). */
  subscriptionDocumentation?: string;
}

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport';

const INCLUDES: Record<string, string[]> = {
  Task: ['Task:focus', 'Task:patient', 'Task:owner', 'Task:requester'],
  ServiceRequest: ['ServiceRequest:patient', 'ServiceRequest:performer', 'ServiceRequest:requester'],
  DiagnosticReport: ['DiagnosticReport:based-on', 'DiagnosticReport:patient'],
  Consent: ['Consent:patient', 'Consent:actor'],
};
const REVINCLUDES: Record<string, string[]> = {
  ServiceRequest: ['Task:focus', 'DiagnosticReport:based-on', 'Provenance:target'],
  Task: ['Provenance:target'],
  Patient: ['Task:patient', 'ServiceRequest:patient'],
};

type TypeInteraction = 'read' | 'vread' | 'update' | 'patch' | 'history-instance' | 'create' | 'search-type';
const READS: TypeInteraction[] = ['read', 'vread', 'history-instance', 'search-type'];
/** Organizations are administered (domain/rules/organization-entry.ts): a client updates its own entry, never creates one. */
const ADMINISTERED = new Set(['Organization']);

/**
 * What a client may do with `type`: every type is read and searched; the server-written ones
 * (domain/access/server-written.ts) are never written by a client; an Organization is never created.
 * test/integration/rest/capability-truth.test.ts walks this against the running server.
 */
export function clientInteractions(type: string): TypeInteraction[] {
  if (SERVER_WRITTEN.has(type)) return READS;
  if (ADMINISTERED.has(type)) return [...READS, 'update', 'patch'];
  return [...READS, 'create', 'update', 'patch'];
}

const VALIDATE = 'http://hl7.org/fhir/OperationDefinition/Resource-validate';
const EVERYTHING = 'https://fhir.eso-bridge.nhs.uk/OperationDefinition/Task-everything';

export function buildCapabilityStatement(inp: CapabilityInputs): CapabilityStatement {
  type RType = CapabilityStatementRestResource['type'];
  const resource = RESOURCE_TYPES.map((type): CapabilityStatementRestResource => {
    const interactions = clientInteractions(type);
    const writes = interactions.includes('create') || interactions.includes('update');
    return {
    type: type as RType,
    ...(inp.profiles?.[type] ? { supportedProfile: inp.profiles[type] } : {}),
    interaction: interactions.map((code) => ({ code })),
    versioning: 'versioned-update',
    readHistory: true,
    // A PUT to an id that does not exist is 405: ids are the server's.
    updateCreate: false,
    conditionalCreate: interactions.includes('create'),
    // PUT {type}?search: 0 matches create, 1 updates, several 412.
    conditionalUpdate: interactions.includes('create') && interactions.includes('update'),
    conditionalRead: 'full-support',
    conditionalDelete: 'not-supported',
    ...(writes || type === 'Task' ? { operation: [
      ...(writes ? [{ name: 'validate', definition: VALIDATE }] : []),
      ...(type === 'Task' ? [{ name: 'everything', definition: EVERYTHING, documentation: 'The case: the Task, its ServiceRequest, Patient, RelatedPersons, Consents, shared records, reports and Provenance the caller may see, paged.' }] : []),
    ] } : {}),
    ...(INCLUDES[type] ? { searchInclude: INCLUDES[type] } : {}),
    ...(REVINCLUDES[type] ? { searchRevInclude: REVINCLUDES[type] } : {}),
    searchParam: [
      { name: '_id', type: 'token' as const },
      { name: '_lastUpdated', type: 'date' as const },
      ...inp.searchParams.paramsOf(type).map((d) => ({ name: d.code, type: d.type, ...(d.documentation ? { documentation: d.documentation } : {}) })),
    ],
    };
  });
  const subscription = resource.find((r) => r.type === 'Subscription');
  if (subscription && inp.subscriptionTopics) {
    subscription.extension = inp.subscriptionTopics.map((url) => ({ url: `${BACKPORT}/StructureDefinition/capabilitystatement-subscriptiontopic-canonical`, valueCanonical: url }));
    subscription.supportedProfile = [`${BACKPORT}/StructureDefinition/backport-subscription`];
    if (inp.subscriptionDocumentation) subscription.documentation = inp.subscriptionDocumentation;
    subscription.operation = [...(subscription.operation ?? []),
      { name: 'status', definition: `${BACKPORT}/OperationDefinition/backport-subscription-status` },
      { name: 'events', definition: `${BACKPORT}/OperationDefinition/backport-subscription-events` }];
  }
  for (const type of inp.readOnlyTypes ?? []) resource.push({ type: type as RType, interaction: [{ code: 'read' }, { code: 'search-type' }] });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString().slice(0, 10),
    kind: 'instance',
    software: { name: 'eso-bridge', version: inp.version },
    implementation: { description: 'eso-bridge: external second opinions for children', url: `${inp.baseUrl}/fhir` },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [{
      mode: 'server',
      ...(inp.security ? { security: inp.security } : {}),
      resource,
      interaction: [{ code: 'transaction' }, { code: 'batch' }],
      // Trust-to-Trust messages from a peer eso-bridge (docs/FEDERATION.md).
      operation: [{ name: 'process-message', definition: 'http://hl7.org/fhir/OperationDefinition/MessageHeader-process-message',
        documentation: 'FHIR messages (BaRS-shaped) from a peer eso-bridge: events of https://fhir.eso-bridge.nhs.uk/CodeSystem/eso-message-event; X-Request-ID and X-Correlation-ID headers; needs system/ServiceRequest.c and system/Task.u' }],
    }],
  };
}
