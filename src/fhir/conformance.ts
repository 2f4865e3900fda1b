/**
 * The project's conformance data (profiles/) at boot: the validator for every write, the ESO
 * search parameters, the profiles for the CapabilityStatement, and the read-only
 * StructureDefinition / ValueSet / CodeSystem / SearchParameter endpoints.
 */
import type { Resource } from 'fhir/r4.js';
import { enforce } from './validate.ts';
import { SearchParameterRegistry } from './search-params.ts';
import { loadProfiles, validateResource, type ConformanceRegistry } from './validation/index.ts';

/** Read-only conformance resources (profiles/), served as their own types. */
export interface ConformanceSource {
  types: string[];
  read(type: string, id: string): Resource | undefined;
  list(type: string): Resource[];
}

export interface Conformance {
  registry: ConformanceRegistry;
  /** Validates a write: throws 400 (base R4) or 422 (ESO profile) with the issues. */
  validate: (resource: Resource) => void;
  /** supportedProfile by resource type. */
  profiles: Record<string, string[]>;
  source: ConformanceSource;
  /** The search parameters (base table + profiles/), built once here: the indexer, the parser and the CapabilityStatement read this one. */
  searchParams: SearchParameterRegistry;
}

const READ_ONLY_TYPES = ['StructureDefinition', 'ValueSet', 'CodeSystem', 'SearchParameter'];

export function loadConformance(dir?: string): Conformance {
  const registry = loadProfiles(dir);
  const searchParams = SearchParameterRegistry.build(registry.searchParameters);
  const profiles: Record<string, string[]> = {};
  for (const type of ['ServiceRequest', 'Task', 'Consent', 'DiagnosticReport']) {
    const p = registry.profileFor(type);
    if (p?.url) profiles[type] = [p.url];
  }
  const all: Resource[] = [...registry.structureDefinitions, ...registry.valueSets, ...registry.codeSystems, ...registry.searchParameters];
  const source: ConformanceSource = {
    types: READ_ONLY_TYPES,
    list: (type) => all.filter((r) => r.resourceType === type),
    read: (type, id) => all.find((r) => r.resourceType === type && r.id === id),
  };
  return { registry, validate: enforce((r) => validateResource(r, registry)), profiles, source, searchParams };
}
