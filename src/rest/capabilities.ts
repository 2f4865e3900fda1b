/**
 * The CapabilityStatement, generated from what is really implemented: the resource types and
 * search parameters of the registry (fhir/search-params.ts + profiles/), the interactions of rest/router.ts, the ESO
 * profiles loaded from profiles/, and the security block the auth layer supplies.
 */
import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestSecurity } from 'fhir/r4.js';
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
}

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

export function buildCapabilityStatement(inp: CapabilityInputs): CapabilityStatement {
  type RType = CapabilityStatementRestResource['type'];
  const resource = RESOURCE_TYPES.map((type): CapabilityStatementRestResource => ({
    type: type as RType,
    ...(inp.profiles?.[type] ? { supportedProfile: inp.profiles[type] } : {}),
    interaction: (['read', 'vread', 'update', 'history-instance', 'create', 'search-type'] as const).map((code) => ({ code })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: false,
    conditionalCreate: true,
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    ...(INCLUDES[type] ? { searchInclude: INCLUDES[type] } : {}),
    ...(REVINCLUDES[type] ? { searchRevInclude: REVINCLUDES[type] } : {}),
    searchParam: [
      { name: '_id', type: 'token' as const },
      { name: '_lastUpdated', type: 'date' as const },
      ...inp.searchParams.paramsOf(type).map((d) => ({ name: d.code, type: d.type, ...(d.documentation ? { documentation: d.documentation } : {}) })),
    ],
  }));
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
    }],
  };
}
