/**
 * Canonical URLs of the project's own conformance resources (profiles/), and the
 * UK Core identifier systems. One place, so profiles, domain and mappings agree.
 */
export const ESO_BASE = 'https://fhir.eso-bridge.nhs.uk';

export const Systems = {
  nhsNumber: 'https://fhir.nhs.uk/Id/nhs-number',
  odsCode: 'https://fhir.nhs.uk/Id/ods-organization-code',
  gmcNumber: 'https://fhir.hl7.org.uk/Id/gmc-number',
  loinc: 'http://loinc.org',
  /** A registered client's id, naming the software that acted (Provenance, AuditEvent). */
  clientId: `${ESO_BASE}/Id/client-id`,
  /** ESO request identifiers minted by requesters (POST /eso/requests requestId.system is free; this is the default). */
  esoRequestId: `${ESO_BASE}/Id/eso-request`,
  /** The project's CodeSystem: service code, businessStatus, question askers, review kinds, ... */
  esoCodes: `${ESO_BASE}/CodeSystem/eso`,
  taskCode: 'http://hl7.org/fhir/CodeSystem/task-code',
  consentScope: 'http://terminology.hl7.org/CodeSystem/consentscope',
  consentCategory: 'http://loinc.org',
  v2RelationshipTable0063: 'http://terminology.hl7.org/CodeSystem/v2-0063',
  roleCode: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode',
} as const;

export const Extensions = {
  /** ServiceRequest: one question put to the provider (complex: text + askedBy). */
  question: `${ESO_BASE}/StructureDefinition/eso-question`,
  /** DiagnosticReport: one answer (complex: question id/linkId + text). */
  answer: `${ESO_BASE}/StructureDefinition/eso-answer`,
  /** ServiceRequest: the family statement about the child (the child behind the numbers). */
  familyStatement: `${ESO_BASE}/StructureDefinition/eso-family-statement`,
  /** Task: provider's independence and no-conflict-of-interest declaration. */
  independenceDeclaration: `${ESO_BASE}/StructureDefinition/eso-independence-declaration`,
  /** Task: differences in law or ethical norms declared by a provider outside the UK. */
  legalEthicalDifferences: `${ESO_BASE}/StructureDefinition/eso-legal-ethical-differences`,
  /** ServiceRequest/Task: kind of review (visit, outpatient, records-only). */
  reviewKind: `${ESO_BASE}/StructureDefinition/eso-review-kind`,
  /** DiagnosticReport: report shared with the family. */
  sharedWithFamily: `${ESO_BASE}/StructureDefinition/eso-shared-with-family`,
} as const;

export const Profiles = {
  serviceRequest: `${ESO_BASE}/StructureDefinition/eso-servicerequest`,
  task: `${ESO_BASE}/StructureDefinition/eso-task`,
  consent: `${ESO_BASE}/StructureDefinition/eso-consent`,
  diagnosticReport: `${ESO_BASE}/StructureDefinition/eso-diagnosticreport`,
} as const;

/** LOINC 47040-1 "Confirmatory consultation note": the ESO report's code. */
export const REPORT_LOINC = '47040-1';
