/**
 * The project's conformance resources (profiles/*.json), loaded once at boot. Loading fails
 * fast on data the validator could not use: a duplicate URL, a ValueSet it cannot expand,
 * a required binding or extension profile that points nowhere.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CapabilityStatement, CodeSystem, CodeSystemConcept, SearchParameter, StructureDefinition, ValueSet } from 'fhir/r4.js';
import { Profiles } from '../eso-urls.ts';
import { projectPath } from '../../shared/project-root.ts';
import { type BaseTable, defaultBaseTable, loadBaseTable } from './base-table.ts';

export type ConformanceResource = StructureDefinition | ValueSet | CodeSystem | SearchParameter | CapabilityStatement;

export interface ConformanceRegistry {
  structureDefinitions: StructureDefinition[];
  valueSets: ValueSet[];
  codeSystems: CodeSystem[];
  searchParameters: SearchParameter[];
  capabilityStatement?: CapabilityStatement;
  /** The base R4 element table (profiles/r4-base/elements.json). */
  base: BaseTable;
  /** A resource by canonical URL (a `|version` suffix is ignored). */
  byUrl(url: string): ConformanceResource | undefined;
  /** The ESO profile for ServiceRequest, Task, Consent or DiagnosticReport; undefined for other types. */
  profileFor(resourceType: string): StructureDefinition | undefined;
  /** `system|code` entries of a ValueSet; throws for a ValueSet not in profiles/. */
  expandValueSet(url: string): ReadonlySet<string>;
}

/** The ESO profile that always applies to each type (these types exist in this service only for ESO). */
const PROFILE_BY_TYPE: Readonly<Record<string, string>> = {
  ServiceRequest: Profiles.serviceRequest,
  Task: Profiles.task,
  Consent: Profiles.consent,
  DiagnosticReport: Profiles.diagnosticReport,
};

export const DEFAULT_PROFILES_DIR = projectPath('profiles');

function stripVersion(url: string): string {
  return url.split('|')[0] ?? url;
}

function flatten(concepts: CodeSystemConcept[] | undefined, into: string[] = []): string[] {
  for (const c of concepts ?? []) {
    into.push(c.code);
    flatten(c.concept, into);
  }
  return into;
}

/** Expands a ValueSet whose compose includes explicit concept lists or whole complete CodeSystems. */
function expand(vs: ValueSet, codeSystems: Map<string, CodeSystem>): Set<string> {
  const out = new Set<string>();
  if (vs.compose?.exclude?.length) throw new Error(`ValueSet ${vs.url}: compose.exclude is not supported`);
  for (const inc of vs.compose?.include ?? []) {
    if (!inc.system || inc.filter?.length || inc.valueSet?.length) {
      throw new Error(`ValueSet ${vs.url}: only includes of a system (whole, or a concept list) are supported`);
    }
    let codes: string[];
    if (inc.concept?.length) {
      codes = inc.concept.map((c) => c.code);
    } else {
      const cs = codeSystems.get(inc.system);
      if (cs?.content !== 'complete') throw new Error(`ValueSet ${vs.url}: CodeSystem ${inc.system} is not in profiles/ as complete`);
      codes = flatten(cs.concept);
    }
    for (const code of codes) out.add(`${inc.system}|${code}`);
  }
  return out;
}

/** Required bindings and extension profiles referenced by a StructureDefinition. */
function references(sd: StructureDefinition): { valueSets: string[]; profiles: string[] } {
  const elements = sd.differential?.element ?? [];
  return {
    valueSets: elements.filter((e) => e.binding?.strength === 'required' && e.binding.valueSet).map((e) => stripVersion(e.binding?.valueSet ?? '')),
    profiles: elements.flatMap((e) => (e.type ?? []).filter((t) => t.code === 'Extension').flatMap((t) => t.profile ?? [])),
  };
}

/**
 * Reads every JSON file directly in `dir` (profiles/r4-base/ is read separately as the base table).
 * Synchronous: it runs once at boot, before the server listens.
 */
export function loadProfiles(dir: string = DEFAULT_PROFILES_DIR): ConformanceRegistry {
  const byUrl = new Map<string, ConformanceResource>();
  const registry = {
    structureDefinitions: [] as StructureDefinition[],
    valueSets: [] as ValueSet[],
    codeSystems: [] as CodeSystem[],
    searchParameters: [] as SearchParameter[],
    capabilityStatement: undefined as CapabilityStatement | undefined,
  };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const resource = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ConformanceResource;
    switch (resource.resourceType) {
      case 'StructureDefinition': registry.structureDefinitions.push(resource); break;
      case 'ValueSet': registry.valueSets.push(resource); break;
      case 'CodeSystem': registry.codeSystems.push(resource); break;
      case 'SearchParameter': registry.searchParameters.push(resource); break;
      case 'CapabilityStatement': registry.capabilityStatement = resource; break;
      default: throw new Error(`${file}: unexpected resourceType ${String((resource as { resourceType?: unknown }).resourceType)}`);
    }
    if (resource.url) {
      if (byUrl.has(resource.url)) throw new Error(`${file}: duplicate canonical URL ${resource.url}`);
      byUrl.set(resource.url, resource);
    }
  }

  const codeSystems = new Map(registry.codeSystems.flatMap((cs) => (cs.url ? [[cs.url, cs] as const] : [])));
  const expansions = new Map(registry.valueSets.map((vs) => [vs.url ?? '', expand(vs, codeSystems)]));
  for (const sd of registry.structureDefinitions) {
    const refs = references(sd);
    for (const url of refs.valueSets) if (!expansions.has(url)) throw new Error(`${sd.url}: required binding to unknown ValueSet ${url}`);
    for (const url of refs.profiles) if (!byUrl.has(url)) throw new Error(`${sd.url}: unknown extension profile ${url}`);
  }

  for (const url of Object.values(PROFILE_BY_TYPE)) {
    if (byUrl.get(url)?.resourceType !== 'StructureDefinition') throw new Error(`${dir}: the ESO profile ${url} is missing`);
  }

  const basePath = join(dir, 'r4-base', 'elements.json');
  return {
    ...registry,
    base: existsSync(basePath) ? loadBaseTable(basePath) : defaultBaseTable(),
    byUrl: (url) => byUrl.get(stripVersion(url)),
    profileFor: (resourceType) => {
      const url = Object.prototype.hasOwnProperty.call(PROFILE_BY_TYPE, resourceType) ? PROFILE_BY_TYPE[resourceType] : undefined;
      const sd = url ? byUrl.get(url) : undefined;
      return sd?.resourceType === 'StructureDefinition' ? sd : undefined;
    },
    expandValueSet: (url) => {
      const expansion = expansions.get(stripVersion(url));
      if (!expansion) throw new Error(`ValueSet ${url} is not in profiles/`);
      return expansion;
    },
  };
}
